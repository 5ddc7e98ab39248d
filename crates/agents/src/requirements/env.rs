//! Where each environment variable the app reads will get its value: the port the runner
//! assigns, a service the DB agent starts, a secret generated once, a default from the code or
//! the example file, or the user. Credentials for other people's services (Stripe, AWS, any
//! `*_API_KEY`) are never invented: the user provides them.

use std::collections::BTreeMap;

use crate::detection::providers::services::service_for_env_name;
use crate::plan::{EnvRequirement, EnvSource, Evidence, Framework, Project, ServiceKind};

/// The environment a project needs, sorted by name.
pub fn for_project(project: &Project) -> Vec<EnvRequirement> {
    let mut out: BTreeMap<String, EnvRequirement> = BTreeMap::new();
    for var in &project.env_vars {
        let source = classify(project, &var.name, var.default.as_deref());
        out.insert(var.name.clone(), EnvRequirement { name: var.name.clone(), source, evidence: var.evidence.clone() });
    }
    for port in &project.ports {
        if let Some(name) = &port.env_var {
            let entry = out.entry(name.clone()).or_insert_with(|| EnvRequirement {
                name: name.clone(),
                source: EnvSource::Port,
                evidence: Vec::new(),
            });
            entry.source = EnvSource::Port;
            for e in &port.evidence {
                if !entry.evidence.contains(e) {
                    entry.evidence.push(e.clone());
                }
            }
        }
    }
    for (name, service, evidence) in implicit(project, &out) {
        out.entry(name.clone()).or_insert(EnvRequirement {
            name,
            source: EnvSource::Service { service },
            evidence: vec![evidence],
        });
    }
    out.into_values()
        .map(|mut e| {
            e.evidence.sort();
            e
        })
        .collect()
}

fn classify(project: &Project, name: &str, default: Option<&str>) -> EnvSource {
    let upper = name.to_ascii_uppercase();
    if upper == "PORT" || project.ports.iter().any(|p| p.env_var.as_deref() == Some(name)) {
        return EnvSource::Port;
    }
    if let Some(service) = service_of(project, &upper) {
        return EnvSource::Service { service };
    }
    if own_port_variable(project).as_deref() == Some(name) {
        return EnvSource::Port;
    }
    if is_third_party(&upper) {
        return EnvSource::User;
    }
    if is_app_secret(&upper) {
        return EnvSource::GeneratedSecret;
    }
    if let Some(value) = default {
        return EnvSource::Default { value: value.to_owned() };
    }
    match conventional_default(&upper) {
        Some(value) => EnvSource::Default { value: value.to_owned() },
        None => EnvSource::User,
    }
}

/// The detected service a variable points at: the one whose finding names it, else the one
/// its name says (`REDIS_URL`, `PGHOST`), else for generic database names (`DATABASE_URL`,
/// `DB_HOST`) the project's only SQL database.
fn service_of(project: &Project, upper: &str) -> Option<ServiceKind> {
    if let Some(s) =
        project.services.iter().find(|s| s.env_var.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(upper)))
    {
        return Some(s.service);
    }
    let has = |k: ServiceKind| project.services.iter().any(|s| s.service == k);
    if let Some(kind) = pg_name(upper).or_else(|| service_for_env_name(upper).filter(|_| is_address_part(upper))) {
        return has(kind).then_some(kind);
    }
    if is_sql_name(upper) {
        let sql: Vec<ServiceKind> = project
            .services
            .iter()
            .map(|s| s.service)
            .filter(|k| matches!(k, ServiceKind::Postgres | ServiceKind::Mysql | ServiceKind::Mariadb))
            .collect();
        if let [only] = sql[..] {
            return Some(only);
        }
    }
    None
}

/// The variable an app with no port finding reads its own port from, by name: the only
/// `*_PORT` variable it reads (`WS_PORT`, `HTTP_PORT`, `API_PORT`) that is not another
/// server's (`REDIS_PORT`, `DB_PORT`, `SMTP_PORT`). Two such names are ambiguous: none is.
fn own_port_variable(project: &Project) -> Option<String> {
    if !project.ports.is_empty() || project.env_vars.iter().any(|v| v.name.eq_ignore_ascii_case("PORT")) {
        return None;
    }
    const OTHER_SERVERS: &[&str] = &[
        "DB_",
        "DATABASE_",
        "SMTP_",
        "MAIL_",
        "EMAIL_",
        "IMAP_",
        "POP3_",
        "LDAP_",
        "PROXY_",
        "UPSTREAM_",
        "BACKEND_",
        "STATSD_",
        "SENTRY_",
        "ELASTIC",
        "KAFKA_",
        "NATS_",
        "MQTT_",
        "MINIO_",
        "S3_",
        "CLICKHOUSE_",
        "INFLUX",
    ];
    let candidates: Vec<&str> = project
        .env_vars
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| {
            let upper = n.to_ascii_uppercase();
            upper.ends_with("_PORT")
                && service_for_env_name(&upper).is_none()
                && !upper.starts_with("PG")
                && !OTHER_SERVERS.iter().any(|p| upper.starts_with(p))
        })
        .collect();
    match candidates[..] {
        [only] => Some(only.to_owned()),
        _ => None,
    }
}

/// libpq's own variables.
fn pg_name(upper: &str) -> Option<ServiceKind> {
    ["PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"]
        .contains(&upper)
        .then_some(ServiceKind::Postgres)
}

/// Whether the name is an address or a credential of a service (`_URL`, `_HOST`, `_PASSWORD`),
/// not a tuning knob (`REDIS_TTL`, `DB_POOL_SIZE`).
fn is_address_part(upper: &str) -> bool {
    const PARTS: &[&str] = &[
        "URL", "URI", "DSN", "HOST", "HOSTNAME", "SERVER", "ADDR", "ADDRESS", "PORT", "USER", "USERNAME", "PASSWORD",
        "PASS", "NAME", "DATABASE", "DB",
    ];
    upper.rsplit('_').next().is_some_and(|last| PARTS.contains(&last)) && upper.contains('_')
}

/// Generic names for the SQL database (`DATABASE_URL`, `DB_HOST`, `SPRING_DATASOURCE_URL`).
fn is_sql_name(upper: &str) -> bool {
    let generic = ["DATABASE_", "DB_", "SPRING_DATASOURCE_", "JDBC_DATABASE_"].iter().any(|p| upper.starts_with(p))
        || upper.ends_with("_DATABASE_URL")
        || upper.ends_with("_DB_URL")
        || upper == "SQLALCHEMY_DATABASE_URI";
    generic && is_address_part(upper)
}

/// Credentials issued by someone else's service: only the user has them. (Setup asks too,
/// before it generates a value for a secret-looking name.) `upper` is the upper-cased name.
pub(crate) fn is_third_party(upper: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "STRIPE_",
        "AWS_",
        "GITHUB_",
        "GITLAB_",
        "GOOGLE_",
        "GCP_",
        "AZURE_",
        "SLACK_",
        "TWILIO_",
        "SENDGRID_",
        "MAILGUN_",
        "POSTMARK_",
        "RESEND_",
        "OPENAI_",
        "ANTHROPIC_",
        "SENTRY_",
        "FIREBASE_",
        "AUTH0_",
        "OKTA_",
        "CLERK_",
        "DISCORD_",
        "FACEBOOK_",
        "TWITTER_",
        "PAYPAL_",
        "CLOUDINARY_",
        "ALGOLIA_",
        "PUSHER_",
        "MAPBOX_",
        "SUPABASE_",
        "VERCEL_",
        "HEROKU_",
        "DATADOG_",
        "DD_",
        "NEW_RELIC_",
        "SHOPIFY_",
        "HUBSPOT_",
        "MAILCHIMP_",
        "PLAID_",
        "SQUARE_",
        "BRAINTREE_",
        "CLOUDFLARE_",
        "DIGITALOCEAN_",
        "DO_",
        "S3_",
        "SMTP_",
        "MAIL_",
        "RECAPTCHA_",
        "HCAPTCHA_",
        "HF_",
        "HUGGINGFACE_",
        "COHERE_",
        "MISTRAL_",
        "GROQ_",
        "REPLICATE_",
        "PINECONE_",
    ];
    const SUFFIXES: &[&str] = &[
        "_API_KEY",
        "_APIKEY",
        "_TOKEN",
        "_ACCESS_KEY",
        "_ACCESS_KEY_ID",
        "_SECRET_ACCESS_KEY",
        "_CLIENT_ID",
        "_CLIENT_SECRET",
        "_WEBHOOK_SECRET",
        "_ACCOUNT_SID",
        "_PUBLISHABLE_KEY",
        "_PRIVATE_KEY",
        "_DSN",
    ];
    upper == "API_KEY"
        || upper == "RAILS_MASTER_KEY"
        || SUFFIXES.iter().any(|s| upper.ends_with(s))
        || PREFIXES.iter().any(|p| upper.starts_with(p)) && is_credential(upper)
}

/// Whether a name holds a credential rather than a setting (`STRIPE_KEY`, not `AWS_REGION`).
fn is_credential(upper: &str) -> bool {
    let parts: Vec<&str> = upper.split('_').collect();
    parts
        .iter()
        .any(|p| ["KEY", "SECRET", "TOKEN", "PASSWORD", "PASS", "SID", "DSN", "CREDENTIALS", "APIKEY"].contains(p))
        || parts.last() == Some(&"ID")
}

/// Secrets the app itself owns (session signing, JWT, framework keys): any random value works
/// for a local run, so one is generated once and kept in `.env`.
fn is_app_secret(upper: &str) -> bool {
    const NAMES: &[&str] = &[
        "SECRET_KEY",
        "SECRET_KEY_BASE",
        "SESSION_SECRET",
        "SESSION_KEY",
        "JWT_SECRET",
        "JWT_SECRET_KEY",
        "APP_KEY",
        "APP_SECRET",
        "COOKIE_SECRET",
        "NEXTAUTH_SECRET",
        "AUTH_SECRET",
        "ENCRYPTION_KEY",
        "SIGNING_KEY",
    ];
    NAMES.contains(&upper)
        || upper.ends_with("_SECRET")
        || upper.ends_with("_SECRET_KEY")
        || upper.ends_with("_SECRET_KEY_BASE")
        || upper.starts_with("SECRET_")
}

/// Values every framework documents for a local run, used when neither code nor example
/// gives one.
fn conventional_default(upper: &str) -> Option<&'static str> {
    Some(match upper {
        "NODE_ENV" | "RAILS_ENV" | "RACK_ENV" => "development",
        _ => return None,
    })
}

/// Service addresses the app reads without naming them in code we scan: Rails and Prisma,
/// sqlx and diesel, dj-database-url read `DATABASE_URL`; Spring Boot binds
/// `SPRING_DATASOURCE_*`; Rails and Sidekiq read `REDIS_URL`. Only for services that have no
/// variable yet.
fn implicit(project: &Project, known: &BTreeMap<String, EnvRequirement>) -> Vec<(String, ServiceKind, Evidence)> {
    let mut out = Vec::new();
    let served = |k: ServiceKind| known.values().any(|e| e.source == EnvSource::Service { service: k });
    let dep = |eco: &str, names: &[&str]| {
        project
            .dependencies
            .iter()
            .find(|d| d.ecosystem == eco && names.contains(&d.name.as_str()))
            .map(|d| d.evidence.clone())
    };
    let framework =
        |f: Framework| project.frameworks.iter().find(|x| x.value == f).and_then(|x| x.evidence.first().cloned());
    let implicit_rule = |e: Evidence, what: &str| Evidence::new(e.file, e.line, format!("requirements.env.{what}"));
    for s in &project.services {
        if served(s.service) {
            continue;
        }
        if let Some(name) = &s.env_var {
            if !known.contains_key(name) {
                let e = s.evidence.first().cloned().unwrap_or_else(|| Evidence::new(&project.path, None, ""));
                out.push((name.clone(), s.service, implicit_rule(e, "service-var")));
            }
            continue;
        }
        let sql = matches!(s.service, ServiceKind::Postgres | ServiceKind::Mysql | ServiceKind::Mariadb);
        if sql {
            let reader = framework(Framework::Rails)
                .or_else(|| dep("python", &["dj-database-url", "django-environ", "environs"]))
                .or_else(|| dep("rust", &["sqlx", "diesel"]))
                .or_else(|| dep("node", &["prisma", "@prisma/client"]));
            if let Some(e) = reader {
                out.push(("DATABASE_URL".into(), s.service, implicit_rule(e, "database-url")));
            } else if let Some(e) = framework(Framework::SpringBoot) {
                for part in ["URL", "USERNAME", "PASSWORD"] {
                    out.push((
                        format!("SPRING_DATASOURCE_{part}"),
                        s.service,
                        implicit_rule(e.clone(), "spring-datasource"),
                    ));
                }
            }
        } else if s.service == ServiceKind::Redis {
            if let Some(e) = framework(Framework::Rails).or_else(|| dep("ruby", &["sidekiq"])) {
                out.push(("REDIS_URL".into(), s.service, implicit_rule(e, "redis-url")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Dependency, EnvVarFinding, Finding, PortFinding, ServiceFinding};
    use crate::requirements::testing::project;

    fn ev(file: &str, line: u32) -> Evidence {
        Evidence::new(file, Some(line), "code.javascript.env")
    }

    fn with_vars(vars: &[(&str, Option<&str>)], services: &[(ServiceKind, Option<&str>)]) -> Project {
        let mut p = project(".");
        for (i, (name, default)) in vars.iter().enumerate() {
            p.env_vars.push(EnvVarFinding {
                name: (*name).into(),
                default: default.map(str::to_owned),
                evidence: vec![ev("src/app.js", i as u32 + 1)],
            });
        }
        for (service, env_var) in services {
            p.services.push(ServiceFinding {
                service: *service,
                env_var: env_var.map(str::to_owned),
                evidence: vec![ev("package.json", 5)],
            });
        }
        p
    }

    fn source_of(p: &Project, name: &str) -> EnvSource {
        for_project(p).into_iter().find(|e| e.name == name).unwrap_or_else(|| panic!("no {name}")).source
    }

    fn svc(k: ServiceKind) -> EnvSource {
        EnvSource::Service { service: k }
    }

    #[test]
    fn port() {
        let mut p = with_vars(&[("PORT", Some("3000")), ("HTTP_PORT", None)], &[]);
        p.ports.push(PortFinding {
            port: 8080,
            env_var: Some("HTTP_PORT".into()),
            evidence: vec![ev("src/app.js", 9)],
        });
        p.ports.push(PortFinding {
            port: 9090,
            env_var: Some("METRICS_PORT".into()),
            evidence: vec![ev("src/m.js", 2)],
        });
        assert_eq!(source_of(&p, "PORT"), EnvSource::Port);
        assert_eq!(source_of(&p, "HTTP_PORT"), EnvSource::Port);
        // A port variable only the port finding names is still provided.
        assert_eq!(source_of(&p, "METRICS_PORT"), EnvSource::Port);
    }

    #[test]
    fn the_only_port_variable_of_an_app_with_no_port_finding_is_its_port() {
        let p = with_vars(&[("WS_PORT", Some("9898")), ("REDIS_PORT", None), ("SMTP_PORT", None)], &[]);
        assert_eq!(source_of(&p, "WS_PORT"), EnvSource::Port);
        assert_eq!(source_of(&p, "REDIS_PORT"), EnvSource::User, "another server's");
        assert_eq!(source_of(&p, "SMTP_PORT"), EnvSource::User);
        // Two candidates: the rules cannot tell which (the model may).
        let p = with_vars(&[("WS_PORT", None), ("METRICS_PORT", None)], &[]);
        assert_eq!(source_of(&p, "WS_PORT"), EnvSource::User);
        // The app reads PORT: that is its port, not this one.
        let p = with_vars(&[("PORT", None), ("ADMIN_PORT", Some("9000"))], &[]);
        assert_eq!(source_of(&p, "ADMIN_PORT"), EnvSource::Default { value: "9000".into() });
    }

    #[test]
    fn services_by_name() {
        let p = with_vars(
            &[
                ("REDIS_URL", Some("redis://localhost:6379")),
                ("MONGO_URI", None),
                ("PGHOST", None),
                ("REDIS_TTL", Some("60")),
            ],
            &[(ServiceKind::Redis, None), (ServiceKind::Mongodb, None), (ServiceKind::Postgres, None)],
        );
        assert_eq!(source_of(&p, "REDIS_URL"), svc(ServiceKind::Redis));
        assert_eq!(source_of(&p, "MONGO_URI"), svc(ServiceKind::Mongodb));
        assert_eq!(source_of(&p, "PGHOST"), svc(ServiceKind::Postgres));
        assert_eq!(source_of(&p, "REDIS_TTL"), EnvSource::Default { value: "60".into() });
    }

    #[test]
    fn a_service_that_was_not_detected_is_not_assumed() {
        let p = with_vars(&[("REDIS_URL", Some("redis://localhost")), ("MONGO_URL", None)], &[]);
        assert_eq!(source_of(&p, "REDIS_URL"), EnvSource::Default { value: "redis://localhost".into() });
        assert_eq!(source_of(&p, "MONGO_URL"), EnvSource::User);
    }

    #[test]
    fn database_url_is_the_only_sql_service() {
        let p = with_vars(
            &[("DATABASE_URL", None), ("DB_HOST", Some("localhost")), ("DB_POOL_SIZE", Some("5"))],
            &[(ServiceKind::Postgres, None), (ServiceKind::Redis, None)],
        );
        assert_eq!(source_of(&p, "DATABASE_URL"), svc(ServiceKind::Postgres));
        assert_eq!(source_of(&p, "DB_HOST"), svc(ServiceKind::Postgres));
        assert_eq!(source_of(&p, "DB_POOL_SIZE"), EnvSource::Default { value: "5".into() });
        // Two SQL databases: ambiguous, unless a finding names the variable.
        let two = [(ServiceKind::Postgres, None), (ServiceKind::Mysql, Some("DATABASE_URL"))];
        assert_eq!(source_of(&with_vars(&[("DATABASE_URL", None)], &two), "DATABASE_URL"), svc(ServiceKind::Mysql));
        let two = [(ServiceKind::Postgres, None), (ServiceKind::Mysql, None)];
        assert_eq!(source_of(&with_vars(&[("DATABASE_URL", None)], &two), "DATABASE_URL"), EnvSource::User);
    }

    #[test]
    fn app_secrets_are_generated() {
        for name in [
            "SECRET_KEY",
            "SECRET_KEY_BASE",
            "SESSION_SECRET",
            "JWT_SECRET",
            "APP_KEY",
            "COOKIE_SECRET",
            "NEXTAUTH_SECRET",
            "DJANGO_SECRET_KEY",
            "CSRF_SECRET",
        ] {
            let p = with_vars(&[(name, Some("changeme"))], &[]);
            assert_eq!(source_of(&p, name), EnvSource::GeneratedSecret, "{name}");
        }
    }

    #[test]
    fn third_party_credentials_come_from_the_user() {
        for name in [
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "AWS_SECRET_ACCESS_KEY",
            "STRIPE_KEY",
            "SMTP_PASSWORD",
            "OPENAI_API_KEY",
            "SENDGRID_API_KEY",
            "GITHUB_CLIENT_SECRET",
            "SLACK_BOT_TOKEN",
            "API_KEY",
            "SENTRY_DSN",
            "RAILS_MASTER_KEY",
        ] {
            let p = with_vars(&[(name, Some("sk_test_placeholder"))], &[]);
            assert_eq!(source_of(&p, name), EnvSource::User, "{name}");
        }
    }

    #[test]
    fn defaults_and_the_rest() {
        let p = with_vars(
            &[("LOG_LEVEL", Some("info")), ("FEATURE_X", None), ("NODE_ENV", None), ("EMPTY", Some(""))],
            &[],
        );
        assert_eq!(source_of(&p, "LOG_LEVEL"), EnvSource::Default { value: "info".into() });
        assert_eq!(source_of(&p, "FEATURE_X"), EnvSource::User);
        assert_eq!(source_of(&p, "NODE_ENV"), EnvSource::Default { value: "development".into() });
        assert_eq!(source_of(&p, "EMPTY"), EnvSource::Default { value: String::new() });
        // Settings of third-party services are not credentials: their defaults are kept.
        let p = with_vars(&[("AWS_REGION", Some("us-east-1")), ("MAIL_HOST", Some("localhost"))], &[]);
        assert_eq!(source_of(&p, "AWS_REGION"), EnvSource::Default { value: "us-east-1".into() });
        assert_eq!(source_of(&p, "MAIL_HOST"), EnvSource::Default { value: "localhost".into() });
    }

    #[test]
    fn evidence_is_kept_and_output_sorted() {
        let p = with_vars(&[("ZED", None), ("ALPHA", None)], &[]);
        let env = for_project(&p);
        assert_eq!(env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["ALPHA", "ZED"]);
        assert_eq!(env[0].evidence, [ev("src/app.js", 2)]);
    }

    fn dep(eco: &'static str, name: &str) -> Dependency {
        Dependency {
            ecosystem: eco,
            name: name.into(),
            version: None,
            dev: false,
            evidence: Evidence::new("manifest", Some(3), "x"),
        }
    }

    #[test]
    fn implicit_database_url() {
        let mut p = with_vars(&[], &[(ServiceKind::Postgres, None)]);
        assert!(for_project(&p).is_empty(), "nothing says which variable");
        p.dependencies.push(dep("python", "dj-database-url"));
        let env = for_project(&p);
        assert_eq!(env.len(), 1);
        assert_eq!((env[0].name.as_str(), &env[0].source), ("DATABASE_URL", &svc(ServiceKind::Postgres)));
        assert_eq!(env[0].evidence[0].rule, "requirements.env.database-url");
        // Read explicitly already: nothing implicit is added.
        let mut p = with_vars(&[("PG_URL", None)], &[(ServiceKind::Postgres, Some("PG_URL"))]);
        p.dependencies.push(dep("rust", "sqlx"));
        assert_eq!(for_project(&p).iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["PG_URL"]);
    }

    #[test]
    fn implicit_rails_and_spring() {
        let mut p = with_vars(&[], &[(ServiceKind::Postgres, None), (ServiceKind::Redis, None)]);
        p.frameworks.push(Finding {
            value: Framework::Rails,
            evidence: vec![Evidence::new("Gemfile", Some(4), "ruby.framework.rails")],
        });
        let names: Vec<_> = for_project(&p).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["DATABASE_URL", "REDIS_URL"]);
        let mut p = with_vars(&[], &[(ServiceKind::Mysql, None)]);
        p.frameworks.push(Finding {
            value: Framework::SpringBoot,
            evidence: vec![Evidence::new("pom.xml", Some(9), "java.framework.spring-boot")],
        });
        let names: Vec<_> = for_project(&p).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["SPRING_DATASOURCE_PASSWORD", "SPRING_DATASOURCE_URL", "SPRING_DATASOURCE_USERNAME"]);
    }

    #[test]
    fn a_service_variable_from_the_finding_is_provided() {
        let p = with_vars(&[], &[(ServiceKind::Mongodb, Some("MONGODB_URI"))]);
        let env = for_project(&p);
        assert_eq!((env[0].name.as_str(), &env[0].source), ("MONGODB_URI", &svc(ServiceKind::Mongodb)));
    }
}
