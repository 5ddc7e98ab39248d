//! Environment variables the DB agent reads, in one place.

use crate::plan::ServiceKind;

use super::RunningService;

/// Where the Docker daemon listens (bollard's default connection honours it).
pub const DOCKER_HOST: &str = "DOCKER_HOST";

/// Per-service image overrides, for machines that cannot pull the official images.
pub const REPO_RUN_POSTGRES_IMAGE: &str = "REPO_RUN_POSTGRES_IMAGE";
pub const REPO_RUN_MYSQL_IMAGE: &str = "REPO_RUN_MYSQL_IMAGE";
pub const REPO_RUN_MARIADB_IMAGE: &str = "REPO_RUN_MARIADB_IMAGE";
pub const REPO_RUN_REDIS_IMAGE: &str = "REPO_RUN_REDIS_IMAGE";
pub const REPO_RUN_MONGODB_IMAGE: &str = "REPO_RUN_MONGODB_IMAGE";
pub const REPO_RUN_RABBITMQ_IMAGE: &str = "REPO_RUN_RABBITMQ_IMAGE";
pub const REPO_RUN_MEMCACHED_IMAGE: &str = "REPO_RUN_MEMCACHED_IMAGE";
pub const REPO_RUN_ELASTICSEARCH_IMAGE: &str = "REPO_RUN_ELASTICSEARCH_IMAGE";
pub const REPO_RUN_KAFKA_IMAGE: &str = "REPO_RUN_KAFKA_IMAGE";
pub const REPO_RUN_MINIO_IMAGE: &str = "REPO_RUN_MINIO_IMAGE";

/// The variable that overrides the image of `kind`.
pub fn image_override(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Postgres => REPO_RUN_POSTGRES_IMAGE,
        ServiceKind::Mysql => REPO_RUN_MYSQL_IMAGE,
        ServiceKind::Mariadb => REPO_RUN_MARIADB_IMAGE,
        ServiceKind::Redis => REPO_RUN_REDIS_IMAGE,
        ServiceKind::Mongodb => REPO_RUN_MONGODB_IMAGE,
        ServiceKind::Rabbitmq => REPO_RUN_RABBITMQ_IMAGE,
        ServiceKind::Memcached => REPO_RUN_MEMCACHED_IMAGE,
        ServiceKind::Elasticsearch => REPO_RUN_ELASTICSEARCH_IMAGE,
        ServiceKind::Kafka => REPO_RUN_KAFKA_IMAGE,
        ServiceKind::Minio => REPO_RUN_MINIO_IMAGE,
    }
}

/// The value of `var` for an app using `service`: the part of the service's URL that the
/// variable's name asks for (`POSTGRES_HOST`, `DB_PORT`, `PGUSER`, `REDIS_PASSWORD`,
/// `POSTGRES_DB`, `REDIS_ADDR`), else the whole URL (`DATABASE_URL`, `REDIS_URI`).
/// Parts are decoded (`p%40ss` → `p@ss`); a part the URL lacks is empty, except a Redis
/// database number, which is `0`.
pub fn value_for(var: &str, service: &RunningService) -> String {
    let Some(url) = UrlParts::parse(&service.url) else { return service.url.clone() };
    match part_named(var) {
        Part::Url => service.url.clone(),
        Part::Host => url.host,
        Part::Port => url.port.map_or_else(|| service.host_port.to_string(), |p| p.to_string()),
        Part::Address => format!("{}:{}", url.host, url.port.unwrap_or(service.host_port)),
        Part::User => url.user,
        Part::Password => url.password,
        Part::Database if url.database.is_empty() && service.kind == ServiceKind::Redis => "0".into(),
        Part::Database => url.database,
    }
}

/// Whether `var` names a database rather than a whole URL (`POSTGRES_DB`, `DB_NAME`, `PGDATABASE`).
pub fn names_database(var: &str) -> bool {
    part_named(var) == Part::Database
}

/// Which part of a URL a variable's name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Url,
    Host,
    Port,
    /// `host:port`, as Go clients read `REDIS_ADDR`.
    Address,
    User,
    Password,
    Database,
}

fn part_named(var: &str) -> Part {
    let upper = var.to_ascii_uppercase();
    // libpq's own names carry no underscore.
    let libpq = match upper.as_str() {
        "PGHOST" => Some(Part::Host),
        "PGPORT" => Some(Part::Port),
        "PGUSER" => Some(Part::User),
        "PGPASSWORD" => Some(Part::Password),
        "PGDATABASE" => Some(Part::Database),
        _ => None,
    };
    if let Some(part) = libpq {
        return part;
    }
    if upper.ends_with("_HOST_NAME") {
        return Part::Host;
    }
    let Some((_, suffix)) = upper.rsplit_once('_') else { return Part::Url };
    match suffix {
        "HOST" | "HOSTNAME" | "SERVER" => Part::Host,
        "PORT" => Part::Port,
        "ADDR" | "ADDRESS" => Part::Address,
        "USER" | "USERNAME" => Part::User,
        "PASSWORD" | "PASS" | "PASSWD" | "PWD" => Part::Password,
        "DB" | "NAME" | "DATABASE" | "DBNAME" => Part::Database,
        _ => Part::Url,
    }
}

/// The parts of `scheme://[user[:password]@]host[:port][/database][?query][#fragment]`, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlParts {
    pub scheme: String,
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: Option<u16>,
    pub database: String,
}

impl UrlParts {
    /// `None` when `url` has no `scheme://` or its port is not a number.
    pub fn parse(url: &str) -> Option<UrlParts> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        // The password may itself contain `@` when not encoded: the host follows the last one.
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            // An IPv6 literal: `[::1]:5432`.
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        let port = match port.filter(|p| !p.is_empty()) {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        Some(UrlParts {
            scheme: scheme.to_owned(),
            user: percent_decode(user),
            password: percent_decode(password),
            host: percent_decode(host),
            port,
            database: percent_decode(path.trim_end_matches('/')),
        })
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(kind: ServiceKind, url: &str, host_port: u16) -> RunningService {
        RunningService {
            kind,
            container: "c".into(),
            image: "i".into(),
            host_port,
            url: url.into(),
            url_env: Vec::new(),
            ready_after: std::time::Duration::ZERO,
            reused: false,
        }
    }

    #[test]
    fn parts_follow_the_variable_name() {
        let pg = running(
            ServiceKind::Postgres,
            "postgres://repo_run:s%40cr%3At@127.0.0.1:54321/shop?sslmode=disable",
            54321,
        );
        let value = |var| value_for(var, &pg);
        assert_eq!(value("DATABASE_URL"), pg.url);
        assert_eq!(value("POSTGRES_HOST"), "127.0.0.1");
        assert_eq!(value("DB_HOST"), "127.0.0.1");
        assert_eq!(value("POSTGRES_PORT"), "54321");
        assert_eq!(value("POSTGRES_USER"), "repo_run");
        assert_eq!(value("DB_USERNAME"), "repo_run");
        assert_eq!(value("POSTGRES_PASSWORD"), "s@cr:t");
        assert_eq!(value("DB_PASS"), "s@cr:t");
        assert_eq!(value("POSTGRES_DB"), "shop");
        assert_eq!(value("DB_NAME"), "shop");
        assert_eq!(value("DB_DATABASE"), "shop");
        assert_eq!(value("PGHOST"), "127.0.0.1");
        assert_eq!(value("PGPORT"), "54321");
        assert_eq!(value("PGUSER"), "repo_run");
        assert_eq!(value("PGPASSWORD"), "s@cr:t");
        assert_eq!(value("PGDATABASE"), "shop");
        assert_eq!(value("DB_ADDR"), "127.0.0.1:54321");
        assert_eq!(value("DB_HOST_NAME"), "127.0.0.1");
        // Anything else gets the URL.
        assert_eq!(value("PG_DSN"), pg.url);
        assert_eq!(value("DATABASE"), pg.url);
        assert!(names_database("DB_NAME") && names_database("PGDATABASE") && !names_database("DATABASE_URL"));
    }

    #[test]
    fn redis_parts_without_credentials() {
        let rd = running(ServiceKind::Redis, "redis://127.0.0.1:6380", 6380);
        assert_eq!(value_for("REDIS_URL", &rd), "redis://127.0.0.1:6380");
        assert_eq!(value_for("REDIS_HOST", &rd), "127.0.0.1");
        assert_eq!(value_for("REDIS_PORT", &rd), "6380");
        assert_eq!(value_for("REDIS_ADDR", &rd), "127.0.0.1:6380");
        assert_eq!(value_for("REDIS_PASSWORD", &rd), "");
        assert_eq!(value_for("REDIS_DB", &rd), "0");
    }

    #[test]
    fn urls_are_parsed_carefully() {
        let p = UrlParts::parse("amqp://u:p@127.0.0.1:5672/%2F").unwrap();
        assert_eq!((p.scheme.as_str(), p.database.as_str(), p.port), ("amqp", "/", Some(5672)));
        // An unencoded `@` in the password: the host follows the last one.
        let p = UrlParts::parse("mysql://root:a@b@db.local/app#frag").unwrap();
        assert_eq!((p.user.as_str(), p.password.as_str(), p.host.as_str(), p.port), ("root", "a@b", "db.local", None));
        assert_eq!(p.database, "app");
        let p = UrlParts::parse("postgres://[::1]:5433/x").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", Some(5433)));
        // Malformed escapes stay as written; a non-numeric port is not a URL we can split.
        assert_eq!(UrlParts::parse("postgres://u:100%@h/db").unwrap().password, "100%");
        assert_eq!(UrlParts::parse("postgres://u:%zz@h/db").unwrap().password, "%zz");
        assert_eq!(UrlParts::parse("postgres://h:port/db"), None);
        assert_eq!(UrlParts::parse("not a url"), None);
    }

    #[test]
    fn override_names_follow_the_service_name() {
        for &kind in ServiceKind::ALL {
            assert_eq!(image_override(kind), format!("REPO_RUN_{}_IMAGE", kind.as_str().to_uppercase()));
        }
    }
}
