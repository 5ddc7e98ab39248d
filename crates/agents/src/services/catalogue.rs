//! The service catalogue: how each backing service runs as a container.
//!
//! One TOML file per service in `templates/services/`, embedded in the binary so an installed
//! repo-run has them. Strings may use placeholders: `{user}`, `{password}`, `{db}` (from
//! `[credentials]`), `{host_port}` (in `url` only) and `{name}` (in `create_database` only).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

use crate::plan::ServiceKind;

/// The embedded files: (service, file name, text).
const FILES: &[(ServiceKind, &str, &str)] = &[
    (ServiceKind::Postgres, "postgres.toml", include_str!("../../../../templates/services/postgres.toml")),
    (ServiceKind::Mysql, "mysql.toml", include_str!("../../../../templates/services/mysql.toml")),
    (ServiceKind::Mariadb, "mariadb.toml", include_str!("../../../../templates/services/mariadb.toml")),
    (ServiceKind::Redis, "redis.toml", include_str!("../../../../templates/services/redis.toml")),
    (ServiceKind::Mongodb, "mongodb.toml", include_str!("../../../../templates/services/mongodb.toml")),
    (ServiceKind::Rabbitmq, "rabbitmq.toml", include_str!("../../../../templates/services/rabbitmq.toml")),
];

/// How one service runs: parsed and checked once from its catalogue file.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    /// `templates/services/<file>`, for messages.
    pub file: String,
    /// The official image, used unless the service's override variable names another.
    pub image: String,
    pub container_port: u16,
    pub volume_path: String,
    pub url: String,
    /// The variables an app usually reads this service's URL from, most common first.
    pub url_env: Vec<String>,
    pub credentials: Option<Credentials>,
    pub env: BTreeMap<String, String>,
    pub readiness: Readiness,
    /// A command run in the container to create a database if it is missing.
    pub create_database: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub db: String,
}

#[derive(Debug, Clone)]
pub struct Readiness {
    pub probe: Probe,
    pub timeout: Duration,
}

/// What proves a service ready.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A command run inside the container: ready when it exits 0 and prints `expect` (if set).
    Exec { command: Vec<String>, expect: Option<String> },
    /// A line in the container's log since its start, seen `times` times.
    Log { line: String, times: usize },
}

/// A catalogue file that does not parse or names an unknown placeholder; names file and key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {message}")]
pub struct CatalogueError {
    pub file: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    image: String,
    container_port: u16,
    volume_path: String,
    url: String,
    url_env: Vec<String>,
    credentials: Option<Credentials>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    readiness: ReadinessFile,
    create_database: Option<ExecFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadinessFile {
    exec: Option<Vec<String>>,
    expect: Option<String>,
    log: Option<String>,
    times: Option<usize>,
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecFile {
    exec: Vec<String>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The catalogue entry of `kind`, or why there is none.
pub fn get(kind: ServiceKind) -> Result<&'static ServiceDef, CatalogueError> {
    static PARSED: OnceLock<Vec<(ServiceKind, Result<ServiceDef, CatalogueError>)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| FILES.iter().map(|&(kind, file, text)| (kind, parse(file, text))).collect());
    match parsed.iter().find(|(k, _)| *k == kind) {
        Some((_, Ok(def))) => Ok(def),
        Some((_, Err(e))) => Err(e.clone()),
        None => Err(CatalogueError {
            file: format!("templates/services/{kind}.toml"),
            message: format!("no catalogue entry: repo-run cannot run {kind} as a container yet"),
        }),
    }
}

/// The services the catalogue knows.
pub fn kinds() -> impl Iterator<Item = ServiceKind> {
    FILES.iter().map(|&(kind, _, _)| kind)
}

/// Parses and checks one catalogue file.
pub fn parse(file: &str, text: &str) -> Result<ServiceDef, CatalogueError> {
    let file = format!("templates/services/{file}");
    let error = |message: String| CatalogueError { file: file.clone(), message };
    let raw: ServiceFile = toml::from_str(text).map_err(|e| error(e.to_string().trim_end().to_owned()))?;

    let probe = match (raw.readiness.exec, raw.readiness.log) {
        (Some(command), None) if !command.is_empty() => Probe::Exec { command, expect: raw.readiness.expect },
        (None, Some(line)) if raw.readiness.expect.is_none() => {
            Probe::Log { line, times: raw.readiness.times.unwrap_or(1) }
        }
        (None, Some(_)) => return Err(error("`readiness.expect` applies to `readiness.exec` only".into())),
        _ => return Err(error("`readiness` needs exactly one of `exec` (a non-empty command) or `log`".into())),
    };
    let create_database = raw.create_database.map(|c| c.exec);
    if create_database.as_ref().is_some_and(Vec::is_empty) {
        return Err(error("`create_database.exec` is empty".into()));
    }

    // Every placeholder must be one the place it appears in can fill.
    let with_credentials: &[&str] = if raw.credentials.is_some() { &["user", "password", "db"] } else { &[] };
    let mut checks: Vec<(String, &str, Vec<&str>)> =
        vec![("url".into(), &raw.url, [with_credentials, &["host_port"]].concat())];
    checks.extend(raw.env.iter().map(|(k, v)| (format!("env.{k}"), v.as_str(), with_credentials.to_vec())));
    if let Probe::Exec { command, .. } = &probe {
        checks.extend(command.iter().map(|a| ("readiness.exec".into(), a.as_str(), with_credentials.to_vec())));
    }
    for arg in create_database.iter().flatten() {
        checks.push(("create_database.exec".into(), arg, [with_credentials, &["name"]].concat()));
    }
    for (key, value, allowed) in &checks {
        if let Some(unknown) = placeholders(value).find(|p| !allowed.contains(p)) {
            return Err(error(format!("`{key}` uses the placeholder `{{{unknown}}}`, which is not available there")));
        }
    }

    Ok(ServiceDef {
        file,
        image: raw.image,
        container_port: raw.container_port,
        volume_path: raw.volume_path,
        url: raw.url,
        url_env: raw.url_env,
        credentials: raw.credentials,
        env: raw.env,
        readiness: Readiness {
            probe,
            timeout: raw.readiness.timeout_secs.map_or(DEFAULT_TIMEOUT, Duration::from_secs),
        },
        create_database,
    })
}

/// The names inside `{…}` in a template.
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// Values for the placeholders of one running service.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    pub credentials: Option<&'a Credentials>,
    /// The database the app asked for, in place of `credentials.db`.
    pub db: Option<&'a str>,
    pub host_port: Option<u16>,
    pub name: Option<&'a str>,
}

impl Vars<'_> {
    /// Fills the placeholders (all were checked at parse time to be fillable where they appear).
    pub fn expand(&self, template: &str) -> String {
        let mut out = template.to_owned();
        if let Some(c) = self.credentials {
            out = out.replace("{user}", &c.user).replace("{password}", &c.password);
            out = out.replace("{db}", self.db.unwrap_or(&c.db));
        }
        if let Some(port) = self.host_port {
            out = out.replace("{host_port}", &port.to_string());
        }
        if let Some(name) = self.name {
            out = out.replace("{name}", name);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_parses() {
        for kind in kinds() {
            let def = get(kind).unwrap_or_else(|e| panic!("{e}"));
            assert!(def.container_port > 0, "{kind}");
            assert!(!def.url_env.is_empty(), "{kind}");
            assert!(def.volume_path.starts_with('/'), "{kind}");
        }
        let required = [
            ServiceKind::Postgres,
            ServiceKind::Mysql,
            ServiceKind::Mariadb,
            ServiceKind::Redis,
            ServiceKind::Mongodb,
            ServiceKind::Rabbitmq,
        ];
        for kind in required {
            assert!(kinds().any(|k| k == kind), "{kind} is missing from the catalogue");
        }
    }

    #[test]
    fn postgres_entry_matches_the_official_image() {
        let def = get(ServiceKind::Postgres).unwrap();
        assert_eq!(def.image, "postgres:16");
        assert_eq!(def.container_port, 5432);
        assert_eq!(def.url_env[0], "DATABASE_URL");
        let creds = def.credentials.as_ref().unwrap();
        let vars = Vars { credentials: Some(creds), db: Some("shop"), host_port: Some(15432), name: None };
        assert_eq!(vars.expand(&def.url), "postgres://repo_run:repo_run@127.0.0.1:15432/shop");
        assert_eq!(vars.expand(&def.env["POSTGRES_DB"]), "shop");
        let Probe::Exec { command, .. } = &def.readiness.probe else { panic!("postgres probes by exec") };
        assert_eq!(command[..3], ["pg_isready", "-h", "127.0.0.1"]);
        assert!(def.create_database.is_some());
    }

    #[test]
    fn redis_has_no_credentials_and_expects_pong() {
        let def = get(ServiceKind::Redis).unwrap();
        assert!(def.credentials.is_none());
        let vars = Vars { host_port: Some(6380), ..Vars::default() };
        assert_eq!(vars.expand(&def.url), "redis://127.0.0.1:6380");
        assert!(matches!(&def.readiness.probe, Probe::Exec { expect: Some(e), .. } if e == "PONG"));
    }

    #[test]
    fn kinds_without_an_entry_are_an_error_naming_the_file() {
        let err = get(ServiceKind::Kafka).unwrap_err();
        assert_eq!(err.file, "templates/services/kafka.toml");
        assert!(err.message.contains("no catalogue entry"), "{err}");
    }

    const MINIMAL: &str = r#"
image = "x:1"
container_port = 1
volume_path = "/data"
url = "x://127.0.0.1:{host_port}"
url_env = ["X_URL"]
[readiness]
log = "ready"
times = 2
"#;

    #[test]
    fn log_probe_parses() {
        let def = parse("x.toml", MINIMAL).unwrap();
        assert!(matches!(def.readiness.probe, Probe::Log { ref line, times: 2 } if line == "ready"));
        assert_eq!(def.readiness.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn missing_key_names_file_and_key() {
        let err = parse("x.toml", &MINIMAL.replace("container_port = 1\n", "")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("templates/services/x.toml: "), "{text}");
        assert!(text.contains("container_port"), "{text}");
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let err = parse("x.toml", &MINIMAL.replace("container_port = 1", "container_port = \"one\"")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("x.toml") && text.contains("line 3") && text.contains("container_port"), "{text}");
    }

    #[test]
    fn unknown_placeholder_names_the_key() {
        let err = parse("x.toml", &MINIMAL.replace("{host_port}", "{port}")).unwrap_err();
        assert!(err.to_string().contains("`url` uses the placeholder `{port}`"), "{err}");
        // Credentials placeholders need a [credentials] table.
        let err = parse("x.toml", &MINIMAL.replace("x://", "x://{user}@")).unwrap_err();
        assert!(err.message.contains("{user}"), "{err}");
    }

    #[test]
    fn readiness_needs_exactly_one_probe() {
        let both = MINIMAL.replace("log = \"ready\"", "log = \"ready\"\nexec = [\"true\"]");
        assert!(parse("x.toml", &both).unwrap_err().message.contains("exactly one"));
        let neither = MINIMAL.replace("log = \"ready\"\n", "");
        assert!(parse("x.toml", &neither).unwrap_err().message.contains("exactly one"));
    }

    #[test]
    fn unknown_key_is_rejected() {
        let err = parse("x.toml", &format!("{MINIMAL}healthcheck = true\n")).unwrap_err();
        assert!(err.message.contains("healthcheck"), "{err}");
    }
}
