//! The DB agent: the backing services every project needs, up and ready, then migrations.
//!
//! Order matters for real projects: the services come up (and the databases the apps name are
//! created) before any migration runs, and both happen before the Runner builds or starts an
//! app, so a Rust app checked by `sqlx::query!` at compile time finds its schema.
//!
//! A repository whose projects need no service never talks to Docker: it works on a machine
//! without a daemon.

use std::collections::BTreeMap;

use crate::pipeline::{Agent, AgentError, Blackboard, Stage};
use crate::plan::{EnvSource, Project, ServiceKind};
use crate::state::{RunState, ServiceRecord};
use crate::up::{StageStep, StepRecord};

use super::config::{self, ServicesConfig};
use super::{ProjectId, RunningService, ServiceError, ServiceRequest, Services, catalogue, env_vars};

/// The built-in DB agent (stage [`Stage::Db`]).
pub struct DbAgent;

impl Agent for DbAgent {
    fn stage(&self) -> Stage {
        Stage::Db
    }

    fn name(&self) -> &'static str {
        "rules"
    }

    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let requests = requests(board)?;
        board.services.clear();
        let services = if requests.is_empty() { None } else { Some(start(board, &requests)?) };
        let migrations = crate::migrations::run(board, services.as_ref())?;
        board.steps.retain(|s| s.stage != Stage::Db);
        board.steps.extend(migrations.into_iter().map(|m| StageStep {
            stage: Stage::Db,
            project: m.project,
            record: StepRecord { command: m.command, elapsed: m.elapsed, skipped: false, log: m.log },
        }));
        Ok(())
    }
}

/// One request per service kind the projects need, with the database the first project
/// that names one asks for and the image `repo-run.toml` chooses.
fn requests(board: &Blackboard) -> Result<Vec<ServiceRequest>, AgentError> {
    let detection = board.detection.as_ref().ok_or_else(|| AgentError {
        failure: None,
        confined: Vec::new(),
        stage: Stage::Db,
        message: "the DB agent needs a detection result, and none was produced".into(),
        hint: None,
    })?;
    let config = ServicesConfig::load(board.repo.root()).map_err(|e| AgentError {
        failure: None,
        confined: Vec::new(),
        stage: Stage::Db,
        message: e.to_string(),
        hint: Some(format!(
            "`{}` takes `[services.<name>]` tables with an `image` key, e.g. [services.postgres] image = \"postgres:16\"",
            config::FILE_NAME
        )),
    })?;

    let mut requests: Vec<ServiceRequest> = Vec::new();
    // Which project chose each service's database, for the note when another names another.
    let mut chosen_by: Vec<&str> = Vec::new();
    let mut unsupported: Vec<(ServiceKind, String)> = Vec::new();
    for project in &detection.projects {
        for finding in &project.services {
            let kind = finding.service;
            if unsupported.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            let Ok(def) = catalogue::get(kind) else {
                let var = finding.env_var.clone().unwrap_or_else(|| format!("{}_URL", kind.as_str().to_uppercase()));
                // The user runs it and says where: nothing for repo-run to start.
                if dotenv(board, &project.path).is_some_and(|env| env.get(&var).is_some_and(|v| !v.is_empty())) {
                    board.reporter.note(
                        Stage::Db,
                        &format!("{kind}: not started (repo-run cannot run it yet); using {var} from .env"),
                    );
                } else {
                    unsupported.push((kind, var));
                }
                continue;
            };
            let names = finding.env_var.iter().chain(&def.url_env);
            let mut database =
                app_url(board, project, names).and_then(|url| ServiceRequest::for_url(kind, &url).database);
            if database.is_none() && def.create_database.is_some() {
                database = app_database(board, project, kind);
            }
            if let Some(i) = requests.iter().position(|r| r.kind == kind) {
                // One container per service: the first project's database is the one every app gets.
                let first = &requests[i];
                match (&first.database, database) {
                    (Some(a), Some(b)) if *a != b && chosen_by[i] != project.path => board.reporter.note(
                        Stage::Db,
                        &format!(
                            "{kind}: {} names the database `{b}`, {} names `{a}`: both get `{a}`",
                            project.path, chosen_by[i]
                        ),
                    ),
                    (None, Some(b)) => {
                        requests[i].database = Some(b);
                        chosen_by[i] = &project.path;
                    }
                    _ => {}
                }
                continue;
            }
            let mut request = ServiceRequest::new(kind);
            request.database = database;
            request.image = config.image(kind).map(str::to_owned);
            // Databases a fix in force asks for (the app names one of its own elsewhere).
            request.also_create = board
                .fixes
                .databases()
                .into_iter()
                .filter(|(service, _)| service == kind.as_str() || (service == "mysql" && kind == ServiceKind::Mariadb))
                .map(|(_, name)| name)
                .collect();
            requests.push(request);
            chosen_by.push(&project.path);
        }
    }
    if !unsupported.is_empty() {
        let names: Vec<String> = unsupported.iter().map(|(k, _)| k.to_string()).collect();
        let supported: Vec<&str> = catalogue::kinds().map(|k| k.as_str()).collect();
        let vars: Vec<&str> = unsupported.iter().map(|(_, v)| v.as_str()).collect();
        return Err(AgentError {
            failure: None,
            confined: Vec::new(),
            stage: Stage::Db,
            message: format!(
                "this repository needs {}, which repo-run cannot run as a container yet (it runs: {})",
                names.join(", "),
                supported.join(", ")
            ),
            hint: Some(format!("run it yourself and set {} in the project's .env", vars.join(", "))),
        });
    }
    Ok(requests)
}

/// The project's `.env` as Setup read it.
fn dotenv<'a>(board: &'a Blackboard, project: &str) -> Option<&'a BTreeMap<String, String>> {
    board.prepared.iter().find(|p| p.project == project).map(|p| &p.dotenv)
}

/// The URL the project gives for a service under one of `names`: its `.env` first, then the
/// defaults of the code and example files.
fn app_url<'a>(
    board: &Blackboard,
    project: &Project,
    names: impl Iterator<Item = &'a String> + Clone,
) -> Option<String> {
    let is_url = |v: &&String| v.contains("://");
    let from_dotenv =
        dotenv(board, &project.path).and_then(|env| names.clone().find_map(|n| env.get(n).filter(is_url))).cloned();
    from_dotenv.or_else(|| {
        names.clone().find_map(|n| {
            project.env_vars.iter().find(|v| &v.name == n).and_then(|v| v.default.as_ref()).filter(is_url).cloned()
        })
    })
}

/// The database the project names in a variable of its own (`POSTGRES_DB=shop`, `DB_NAME`),
/// for apps that read the parts of the address rather than a URL.
fn app_database(board: &Blackboard, project: &Project, kind: ServiceKind) -> Option<String> {
    let requirements = board.requirements.as_ref()?.projects.iter().find(|p| p.project == project.path)?;
    let plain = |v: &&String| {
        !v.is_empty() && v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    requirements
        .env
        .iter()
        .filter(|e| e.source == EnvSource::Service { service: kind } && env_vars::names_database(&e.name))
        .find_map(|e| {
            let from_dotenv = dotenv(board, &project.path).and_then(|env| env.get(&e.name));
            let default = || project.env_vars.iter().find(|v| v.name == e.name).and_then(|v| v.default.as_ref());
            from_dotenv.or_else(default).filter(plain).cloned()
        })
}

/// Connects, starts the services, records them in the state file, and puts them on the board.
fn start(board: &mut Blackboard, requests: &[ServiceRequest]) -> Result<Services, AgentError> {
    let root = board.repo.root().to_path_buf();
    let project = ProjectId::for_path(&root).map_err(|e| AgentError {
        failure: None,
        confined: Vec::new(),
        stage: Stage::Db,
        message: format!("{}: {e}", root.display()),
        hint: None,
    })?;
    let cancelled = || AgentError {
        failure: None,
        confined: Vec::new(),
        stage: Stage::Db,
        message: "cancelled while starting the services".into(),
        hint: None,
    };
    if board.cancel.is_cancelled() {
        return Err(cancelled());
    }
    let services = Services::connect().map_err(service_error)?;
    for request in requests {
        let image = effective_image(request);
        board
            .reporter
            .step(Stage::Db, &format!("{}: starting {} ({image})", request.kind, project.resource_name(request.kind)));
    }
    let running = services.up(&project, requests).map_err(service_error)?;
    for s in &running {
        let message = if s.reused {
            format!("{}: reusing the running container {} on 127.0.0.1:{}", s.kind, s.container, s.host_port)
        } else {
            format!("{}: ready in {:.1} s on 127.0.0.1:{}", s.kind, s.ready_after.as_secs_f64(), s.host_port)
        };
        board.reporter.step(Stage::Db, &message);
        let usual = catalogue::get(s.kind).map(|d| d.container_port).ok();
        if usual.is_some_and(|p| p != s.host_port) && !s.reused {
            board.reporter.note(
                Stage::Db,
                &format!(
                    "{}: port {} is taken on 127.0.0.1; using {} (the app's {} carries it)",
                    s.kind,
                    usual.unwrap_or_default(),
                    s.host_port,
                    s.url_env.first().map_or("URL", String::as_str)
                ),
            );
        }
    }
    // Recorded before anything else can fail, so `down` finds them.
    record(board, &project, &running)?;
    board.services = running;
    // The readiness waits do not watch Ctrl-C; stop before the migrations if it came meanwhile.
    if board.cancel.is_cancelled() {
        return Err(cancelled());
    }
    Ok(services)
}

/// The image the engine will run for `request` (same order as the engine: the machine's
/// variable, the project's file, the catalogue), for messages.
fn effective_image(request: &ServiceRequest) -> String {
    std::env::var(env_vars::image_override(request.kind))
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| request.image.clone())
        .or_else(|| request.definition.as_ref().map(|d| d.image.clone()))
        .or_else(|| catalogue::get(request.kind).ok().map(|d| d.image.clone()))
        .unwrap_or_default()
}

/// Writes the running services into `.repo-run/state.json` (keeping the apps already there),
/// so `down` finds them even if repo-run is killed now.
fn record(board: &Blackboard, project: &ProjectId, running: &[RunningService]) -> Result<(), AgentError> {
    let state_file = board.workdir.state_file();
    let error = |message: String| AgentError {
        failure: None,
        confined: Vec::new(),
        stage: Stage::Db,
        message,
        hint: Some(format!(
            "the services are running and labelled {}={project}; `repo-run down` finds them by label",
            super::PROJECT_LABEL
        )),
    };
    board.workdir.ensure().map_err(|e| error(format!("creating {}: {e}", board.workdir.path().display())))?;
    let mut state = RunState::load(&state_file)
        .map_err(|e| error(e.to_string()))?
        .unwrap_or_else(|| RunState::new(project.as_str()));
    state.project_id = project.to_string();
    state.services = running
        .iter()
        .map(|s| ServiceRecord {
            service: s.kind.to_string(),
            container: s.container.clone(),
            image: s.image.clone(),
            host_port: s.host_port,
            url: s.url.clone(),
        })
        .collect();
    state.save(&state_file).map_err(|e| error(e.to_string()))
}

/// The engine's error, with what to do next.
fn service_error(e: ServiceError) -> AgentError {
    let hint = match &e {
        ServiceError::Unreachable { .. } => Some(format!(
            "start Docker (`sudo systemctl start docker`, or Docker Desktop), or point {} at a running daemon; \
             a repository whose projects need no service does not need Docker",
            env_vars::DOCKER_HOST
        )),
        ServiceError::MissingImage { service, var, .. } => Some(format!(
            "set {var}=<a local image>, or choose the image in {} ([services.{service}] image = \"…\"); on a \
             machine without a registry, `cargo xtask images` builds local images and prints the {var} lines to export",
            config::FILE_NAME
        )),
        ServiceError::NotReady { container, .. } => Some(format!(
            "`docker logs {container}` shows the whole log; if the data volume was made by another version of the \
             image, `repo-run down --volumes` removes it (its data is lost)"
        )),
        ServiceError::InvalidDatabaseName(_) => {
            Some("name the database in the project's .env URL with letters, digits, `_` and `-`".into())
        }
        ServiceError::NoFreePort { .. } => Some("free a port on 127.0.0.1 and run `repo-run up` again".into()),
        ServiceError::Catalogue(_) => {
            let supported: Vec<&str> = catalogue::kinds().map(|k| k.as_str()).collect();
            Some(format!("repo-run runs these services: {}", supported.join(", ")))
        }
        ServiceError::CreateDatabase { .. } | ServiceError::Docker { .. } | ServiceError::Runtime(_) => None,
    };
    AgentError { failure: None, confined: Vec::new(), stage: Stage::Db, message: e.to_string(), hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_say_what_to_do() {
        let e = service_error(ServiceError::Unreachable { host: "unix:///x.sock".into(), reason: "no".into() });
        assert_eq!(e.stage, Stage::Db);
        assert!(e.message.contains("unix:///x.sock"), "{}", e.message);
        assert!(e.hint.unwrap().contains("DOCKER_HOST"));
        let e = service_error(ServiceError::MissingImage {
            service: ServiceKind::Postgres,
            image: "postgres:16".into(),
            var: env_vars::REPO_RUN_POSTGRES_IMAGE,
            reason: "no registry".into(),
        });
        let hint = e.hint.unwrap();
        assert!(e.message.contains("postgres:16"), "{}", e.message);
        for needle in ["REPO_RUN_POSTGRES_IMAGE", "repo-run.toml", "[services.postgres]", "cargo xtask images"] {
            assert!(hint.contains(needle), "`{needle}` missing from {hint}");
        }
    }
}
