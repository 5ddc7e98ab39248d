//! Which dependencies, images and environment variable names mean which backing service.
//! Shared by every provider so that `pg` in package.json and `psycopg` in requirements.txt
//! lead to the same `postgres` service.

use crate::plan::ServiceKind;

/// The service a dependency of the given ecosystem needs. `ecosystem` is the provider id
/// (`node`, `python`, `ruby`, `php`, `java`, `go`, `rust`).
pub fn service_for_dependency(ecosystem: &str, name: &str) -> Option<ServiceKind> {
    use ServiceKind::*;
    let name = name.to_ascii_lowercase();
    let n = name.as_str();
    Some(match (ecosystem, n) {
        ("node", "pg" | "postgres" | "pg-promise" | "@neondatabase/serverless" | "@vercel/postgres") => Postgres,
        ("node", "mysql" | "mysql2") => Mysql,
        ("node", "mariadb") => Mariadb,
        ("node", "redis" | "ioredis" | "@redis/client" | "bull" | "bullmq") => Redis,
        ("node", "mongodb" | "mongoose") => Mongodb,
        ("node", "amqplib" | "amqp-connection-manager") => Rabbitmq,
        ("node", "memjs" | "memcached") => Memcached,
        ("python", "psycopg" | "psycopg2" | "psycopg2-binary" | "psycopg-binary" | "asyncpg" | "pg8000") => Postgres,
        ("python", "mysqlclient" | "pymysql" | "mysql-connector-python" | "aiomysql") => Mysql,
        ("python", "mariadb") => Mariadb,
        ("python", "redis" | "aioredis" | "django-redis" | "rq" | "hiredis") => Redis,
        ("python", "pymongo" | "motor" | "mongoengine" | "beanie") => Mongodb,
        ("python", "pika" | "aio-pika") => Rabbitmq,
        ("python", "pymemcache" | "python-memcached" | "pylibmc") => Memcached,
        ("python", "elasticsearch") => Elasticsearch,
        ("ruby", "pg") => Postgres,
        ("ruby", "mysql2" | "trilogy") => Mysql,
        ("ruby", "redis" | "sidekiq" | "resque") => Redis,
        ("ruby", "mongoid" | "mongo") => Mongodb,
        ("ruby", "bunny" | "sneakers") => Rabbitmq,
        ("ruby", "dalli") => Memcached,
        ("php", "predis/predis") => Redis,
        ("php", "mongodb/mongodb") => Mongodb,
        ("php", "php-amqplib/php-amqplib") => Rabbitmq,
        ("java", "org.postgresql:postgresql") => Postgres,
        ("java", "com.mysql:mysql-connector-j" | "mysql:mysql-connector-java") => Mysql,
        ("java", "org.mariadb.jdbc:mariadb-java-client") => Mariadb,
        (
            "java",
            "org.springframework.boot:spring-boot-starter-data-redis"
            | "redis.clients:jedis"
            | "io.lettuce:lettuce-core",
        ) => Redis,
        ("java", "org.springframework.boot:spring-boot-starter-data-mongodb" | "org.mongodb:mongodb-driver-sync") => {
            Mongodb
        }
        ("java", "org.springframework.boot:spring-boot-starter-amqp" | "com.rabbitmq:amqp-client") => Rabbitmq,
        (
            "go",
            "github.com/lib/pq"
            | "github.com/jackc/pgx"
            | "github.com/jackc/pgx/v4"
            | "github.com/jackc/pgx/v5"
            | "gorm.io/driver/postgres",
        ) => Postgres,
        ("go", "github.com/go-sql-driver/mysql" | "gorm.io/driver/mysql") => Mysql,
        (
            "go",
            "github.com/redis/go-redis/v9"
            | "github.com/go-redis/redis/v8"
            | "github.com/go-redis/redis"
            | "github.com/gomodule/redigo",
        ) => Redis,
        ("go", "go.mongodb.org/mongo-driver" | "go.mongodb.org/mongo-driver/v2") => Mongodb,
        ("go", "github.com/rabbitmq/amqp091-go" | "github.com/streadway/amqp") => Rabbitmq,
        ("rust", "tokio-postgres" | "postgres" | "deadpool-postgres" | "bb8-postgres") => Postgres,
        ("rust", "mysql" | "mysql_async") => Mysql,
        ("rust", "redis" | "deadpool-redis" | "bb8-redis" | "fred") => Redis,
        ("rust", "mongodb") => Mongodb,
        ("rust", "lapin") => Rabbitmq,
        _ => return None,
    })
}

/// The service a container image name stands for (`postgres:16-alpine`, `bitnami/redis`).
pub fn service_for_image(image: &str) -> Option<ServiceKind> {
    use ServiceKind::*;
    let repo = image.split(['@']).next()?;
    let repo = repo.rsplit_once(':').map_or(repo, |(r, tag)| if tag.contains('/') { repo } else { r });
    let last = repo.rsplit('/').next()?.to_ascii_lowercase();
    Some(match last.as_str() {
        "postgres" | "postgresql" | "postgis" | "timescaledb" | "pgvector" => Postgres,
        "mysql" | "mysql-server" | "percona-server" => Mysql,
        "mariadb" => Mariadb,
        "redis" | "redis-stack" | "redis-stack-server" | "valkey" | "keydb" => Redis,
        "mongo" | "mongodb" | "mongodb-community-server" => Mongodb,
        "rabbitmq" => Rabbitmq,
        "memcached" => Memcached,
        "elasticsearch" | "opensearch" => Elasticsearch,
        "kafka" | "cp-kafka" | "redpanda" => Kafka,
        "minio" => Minio,
        _ => return None,
    })
}

/// The service a URL's scheme names (`postgres://…`, `redis://…`), for env example values.
pub fn service_for_url(url: &str) -> Option<ServiceKind> {
    use ServiceKind::*;
    let scheme = url.trim().trim_matches(['"', '\'']).split_once("://")?.0.to_ascii_lowercase();
    let base = scheme.split('+').next().unwrap_or(&scheme);
    Some(match base {
        "postgres" | "postgresql" => Postgres,
        "mysql" => Mysql,
        "mariadb" => Mariadb,
        "redis" | "rediss" => Redis,
        "mongodb" => Mongodb,
        "amqp" | "amqps" => Rabbitmq,
        "memcached" => Memcached,
        _ => return None,
    })
}

/// The service an environment variable name points at (`REDIS_URL`, `PGHOST`, `MONGO_URI`).
pub fn service_for_env_name(name: &str) -> Option<ServiceKind> {
    use ServiceKind::*;
    let n = name.to_ascii_uppercase();
    let has = |p: &str| n.starts_with(p) || n.contains(&format!("_{p}"));
    Some(
        if has("POSTGRES")
            || has("PG") && (n.starts_with("PGHOST") || n.starts_with("PGDATABASE") || n.starts_with("PGUSER"))
        {
            Postgres
        } else if has("MYSQL") {
            Mysql
        } else if has("MARIADB") {
            Mariadb
        } else if has("REDIS") {
            Redis
        } else if has("MONGO") {
            Mongodb
        } else if has("RABBITMQ") || has("AMQP") {
            Rabbitmq
        } else if has("MEMCACHE") {
            Memcached
        } else {
            return None;
        },
    )
}

/// Among the env vars the code reads, the one that carries a service's address: one named for
/// the service (`REDIS_URL`), else `DATABASE_URL` for the SQL databases that read it by convention.
pub fn env_var_for_service<'a>(service: ServiceKind, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let names: Vec<&str> = names.collect();
    let sql = matches!(service, ServiceKind::Postgres | ServiceKind::Mysql | ServiceKind::Mariadb);
    let named = names.iter().find(|n| service_for_env_name(n) == Some(service) && n.ends_with("_URL"));
    named
        .or_else(|| names.iter().find(|n| sql && **n == "DATABASE_URL"))
        .or_else(|| names.iter().find(|n| service_for_env_name(n) == Some(service)))
        .map(|n| (*n).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert_eq!(service_for_image("postgres:16-alpine"), Some(ServiceKind::Postgres));
        assert_eq!(service_for_image("docker.io/bitnami/redis:7"), Some(ServiceKind::Redis));
        assert_eq!(service_for_image("localhost:5000/mongo"), Some(ServiceKind::Mongodb));
        assert_eq!(service_for_image("node:20"), None);
    }

    #[test]
    fn urls_and_names() {
        assert_eq!(service_for_url("postgresql+psycopg://u:p@h/db"), Some(ServiceKind::Postgres));
        assert_eq!(service_for_url("\"amqp://guest@localhost\""), Some(ServiceKind::Rabbitmq));
        assert_eq!(service_for_url("https://example.com"), None);
        assert_eq!(service_for_env_name("REDIS_URL"), Some(ServiceKind::Redis));
        assert_eq!(service_for_env_name("APP_MONGO_URI"), Some(ServiceKind::Mongodb));
        assert_eq!(service_for_env_name("PGHOST"), Some(ServiceKind::Postgres));
        assert_eq!(service_for_env_name("PAGE_SIZE"), None);
        assert_eq!(service_for_env_name("DATABASE_URL"), None);
    }

    #[test]
    fn env_var_of_a_service() {
        let names = ["PORT", "REDIS_HOST", "REDIS_URL", "DATABASE_URL"];
        assert_eq!(env_var_for_service(ServiceKind::Redis, names.into_iter()).as_deref(), Some("REDIS_URL"));
        assert_eq!(env_var_for_service(ServiceKind::Postgres, names.into_iter()).as_deref(), Some("DATABASE_URL"));
        assert_eq!(env_var_for_service(ServiceKind::Mongodb, names.into_iter()), None);
        assert_eq!(env_var_for_service(ServiceKind::Redis, ["REDIS_HOST"].into_iter()).as_deref(), Some("REDIS_HOST"));
    }
}
