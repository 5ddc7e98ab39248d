//! Environment variables the DB agent reads, in one place.

use crate::plan::ServiceKind;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_names_follow_the_service_name() {
        for &kind in ServiceKind::ALL {
            assert_eq!(image_override(kind), format!("REPO_RUN_{}_IMAGE", kind.as_str().to_uppercase()));
        }
    }
}
