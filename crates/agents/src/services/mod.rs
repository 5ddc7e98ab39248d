//! The DB agent's engine: backing services (PostgreSQL, Redis, …) as Docker containers.
//!
//! Everything it creates is labelled with the project ([`PROJECT_LABEL`]) and the service
//! ([`SERVICE_LABEL`]), so teardown and status find it by label even after a crash. Data lives
//! in one named volume per project and service, kept across [`Services::down`] unless asked.
//!
//! bollard is async, the rest of the pipeline is not: [`Services`] owns a small current-thread
//! tokio runtime and offers blocking calls, so callers need no runtime of their own. Readiness
//! waits of several services still overlap on that one thread.

pub mod agent;
pub mod catalogue;
pub mod config;
mod docker;
pub mod env_vars;
mod readiness;

use std::path::Path;
use std::time::Duration;

use crate::plan::ServiceKind;

pub use agent::DbAgent;
pub use catalogue::{CatalogueError, ServiceDef};

/// Label naming the project a container or volume belongs to.
pub const PROJECT_LABEL: &str = "dev.repo-run.project";
/// Label naming the service (`postgres`, `redis`, …) a container or volume runs.
pub const SERVICE_LABEL: &str = "dev.repo-run.service";

/// A stable identity for one checkout: `<dir name>-<hash of the canonical path>`.
/// Two checkouts of one repository get different containers and volumes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectId(String);

impl ProjectId {
    pub fn for_path(path: &Path) -> std::io::Result<Self> {
        let path = path.canonicalize()?;
        let name: String = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
            .take(32)
            .collect();
        let name = name.trim_matches(|c| c == '-' || c == '_');
        let hash = fnv1a(path.as_os_str().as_encoded_bytes());
        Ok(ProjectId(if name.is_empty() { format!("{hash:08x}") } else { format!("{name}-{hash:08x}") }))
    }

    /// The id as a state file recorded it (the checkout may have moved since).
    pub fn from_recorded(id: &str) -> Self {
        ProjectId(id.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of this project's container or volume for `kind` (Docker names allow these characters).
    pub fn resource_name(&self, kind: ServiceKind) -> String {
        format!("repo-run-{}-{kind}", self.0)
    }
}

impl std::fmt::Display for ProjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// FNV-1a, folded to 32 bits: stable across Rust versions (std's hasher is not promised to be).
fn fnv1a(bytes: &[u8]) -> u32 {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash ^ (hash >> 32)) as u32
}

/// One service the app needs.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub kind: ServiceKind,
    /// The database the app names in its URL; created if missing. `None`: the catalogue's.
    pub database: Option<String>,
    /// The project's image (from its configuration); `REPO_RUN_<SERVICE>_IMAGE` still wins,
    /// then the catalogue's official image.
    pub image: Option<String>,
    /// The project's own description of the service, in place of the built-in catalogue's
    /// (same format as `templates/services/*.toml`, read with [`catalogue::parse`]).
    pub definition: Option<ServiceDef>,
    /// More databases to create beside `database` (a fix in force names them).
    pub also_create: Vec<String>,
}

impl ServiceRequest {
    pub fn new(kind: ServiceKind) -> Self {
        ServiceRequest { kind, database: None, image: None, definition: None, also_create: Vec::new() }
    }

    pub fn with_database(kind: ServiceKind, database: impl Into<String>) -> Self {
        ServiceRequest { database: Some(database.into()), ..ServiceRequest::new(kind) }
    }

    /// The request for an app whose configuration (e.g. `.env.example`) gives `url`: the
    /// database is the URL's path, for services whose databases are created by name.
    pub fn for_url(kind: ServiceKind, url: &str) -> Self {
        let creates = catalogue::get(kind).is_ok_and(|def| def.create_database.is_some());
        ServiceRequest { database: creates.then(|| database_in_url(url)).flatten(), ..ServiceRequest::new(kind) }
    }
}

/// `shop` in `postgres://user:pass@localhost:5432/shop?sslmode=disable`.
fn database_in_url(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let (_, path) = rest.split_once('/')?;
    let name = path.split(['?', '#']).next()?.trim_end_matches('/');
    (!name.is_empty() && !name.contains(['/', '%', '{', '$'])).then(|| name.to_owned())
}

/// A service that is up and ready.
#[derive(Debug, Clone)]
pub struct RunningService {
    pub kind: ServiceKind,
    pub container: String,
    pub image: String,
    pub host_port: u16,
    /// The URL the app connects with, carrying the real host port.
    pub url: String,
    /// The variables the app usually reads [`Self::url`] from.
    pub url_env: Vec<String>,
    /// From creating (or finding) the container to the first successful probe.
    pub ready_after: Duration,
    /// The container was already running and was kept.
    pub reused: bool,
}

/// What [`Services::down`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teardown {
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
}

/// Options of [`Services::down`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    /// Delete the named volumes too (the data is lost).
    pub remove_volumes: bool,
}

/// Why services could not be provisioned. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "the Docker daemon at {host} is unreachable: {reason}; start Docker, or point {var} at a running daemon",
        var = env_vars::DOCKER_HOST
    )]
    Unreachable { host: String, reason: String },
    #[error(
        "the {service} image `{image}` is not on this machine and could not be pulled ({reason}); \
         set {var} to a local image, or build local images with `cargo xtask images` and export the \
         REPO_RUN_*_IMAGE lines it prints"
    )]
    MissingImage { service: ServiceKind, image: String, var: &'static str, reason: String },
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("{service} is not ready after {waited:.1?}: {reason}\nlast log lines of {container}:\n{logs}")]
    NotReady { service: ServiceKind, container: String, waited: Duration, reason: String, logs: String },
    #[error("invalid database name `{0}`: use letters, digits, `_` and `-` (at most 63)")]
    InvalidDatabaseName(String),
    #[error("creating database `{database}` in {service} failed: {output}")]
    CreateDatabase { service: ServiceKind, database: String, output: String },
    #[error("no free port on 127.0.0.1 for {service}: {source}")]
    NoFreePort { service: ServiceKind, source: std::io::Error },
    #[error("docker: {action}: {source}")]
    Docker { action: String, source: bollard::errors::Error },
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// A connection to the Docker daemon, with the runtime that drives it.
pub struct Services {
    runtime: tokio::runtime::Runtime,
    engine: docker::Engine,
}

impl Services {
    /// How long connecting may take before the daemon is declared unreachable.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

    /// The daemon when `DOCKER_HOST` is not set.
    pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

    /// Connects to the daemon named by `DOCKER_HOST` (or the local socket) and pings it.
    pub fn connect() -> Result<Self, ServiceError> {
        let host = std::env::var(env_vars::DOCKER_HOST).unwrap_or_else(|_| Self::DEFAULT_HOST.to_owned());
        Self::connect_to(&host)
    }

    /// Connects to the daemon at `host` (`unix://…`, `tcp://…`) and pings it, within
    /// [`Self::CONNECT_TIMEOUT`].
    pub fn connect_to(host: &str) -> Result<Self, ServiceError> {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ServiceError::Runtime)?;
        let engine = runtime.block_on(docker::Engine::connect(host, Self::CONNECT_TIMEOUT))?;
        Ok(Services { runtime, engine })
    }

    /// Creates (or keeps) one container per request, waits until all are ready, creates the
    /// databases the requests name, and returns their URLs. Stops at the first failure and
    /// leaves what it started for [`Services::down`] (all of it is labelled).
    pub fn up(&self, project: &ProjectId, requests: &[ServiceRequest]) -> Result<Vec<RunningService>, ServiceError> {
        self.runtime.block_on(self.engine.up(project, requests))
    }

    /// Stops and removes the project's containers; its volumes too when asked.
    pub fn down(&self, project: &ProjectId, options: DownOptions) -> Result<Teardown, ServiceError> {
        self.runtime.block_on(self.engine.down(project, options))
    }

    /// The names of the project's containers that are running now.
    pub fn running_containers(&self, project: &ProjectId) -> Result<Vec<String>, ServiceError> {
        self.runtime.block_on(self.engine.running_containers(project))
    }

    /// Runs `command` (argv, no shell) in a container: its exit code (`None` when it did not
    /// finish within 20 s) and its combined output.
    pub fn exec(&self, container: &str, command: Vec<String>) -> Result<(Option<i64>, String), ServiceError> {
        self.runtime.block_on(self.engine.exec(container, command))
    }

    /// The names of the project's containers (running or not) and volumes, found by label.
    pub fn resources(&self, project: &ProjectId) -> Result<Teardown, ServiceError> {
        self.runtime.block_on(self.engine.resources(project))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_id_is_stable_and_names_the_directory() {
        let dir = tempfile::Builder::new().prefix("My App.").tempdir().unwrap();
        let a = ProjectId::for_path(dir.path()).unwrap();
        let b = ProjectId::for_path(&dir.path().join(".")).unwrap();
        assert_eq!(a, b);
        assert!(a.as_str().starts_with("my-app-"), "{a}");
        assert!(a.as_str().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
        assert_eq!(a.resource_name(ServiceKind::Postgres), format!("repo-run-{a}-postgres"));
    }

    #[test]
    fn project_ids_differ_between_checkouts() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        assert_ne!(ProjectId::for_path(one.path()).unwrap(), ProjectId::for_path(two.path()).unwrap());
    }

    #[test]
    fn database_comes_from_the_url_path() {
        let pg = |url| ServiceRequest::for_url(ServiceKind::Postgres, url).database;
        assert_eq!(pg("postgres://u:p@localhost:5432/shop?sslmode=disable").as_deref(), Some("shop"));
        assert_eq!(pg("postgresql://localhost/shop_dev").as_deref(), Some("shop_dev"));
        assert_eq!(pg("postgres://localhost:5432"), None);
        assert_eq!(pg("postgres://localhost:5432/"), None);
        assert_eq!(pg("postgres://localhost/${DB_NAME}"), None);
        let mysql = ServiceRequest::for_url(ServiceKind::Mysql, "mysql://root:pw@127.0.0.1/app#x");
        assert_eq!(mysql.database.as_deref(), Some("app"));
        // Redis numbers its databases; nothing to create.
        assert_eq!(ServiceRequest::for_url(ServiceKind::Redis, "redis://localhost:6379/1").database, None);
    }

    #[test]
    fn project_id_of_a_missing_path_is_an_error() {
        assert!(ProjectId::for_path(Path::new("/nonexistent/repo-run/project")).is_err());
    }
}
