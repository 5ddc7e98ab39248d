//! `down` and `status` as library calls: they work from `.repo-run/state.json` and Docker's
//! labels alone, so they need no pipeline run and work after repo-run itself was killed.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::runner;
use crate::services::{ProjectId, ServiceError, Services};
use crate::state::{RunState, StateError};
use crate::workdir::WorkDir;

pub use crate::services::DownOptions;

/// How long an app gets to stop after SIGTERM before its process group is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Services(#[from] ServiceError),
    #[error("cannot identify the project at {path}: {source}")]
    Project { path: String, source: std::io::Error },
}

/// What `down` did.
#[derive(Debug, Default, Serialize)]
pub struct DownReport {
    /// `(app name, what happened)`.
    pub apps: Vec<(String, String)>,
    pub containers: Vec<String>,
    pub volumes_removed: Vec<String>,
    /// Volumes that still hold the services' data.
    pub kept_volumes: Vec<String>,
    /// Docker could not be reached, but the state file named no services: nothing to do there.
    pub docker_skipped: Option<String>,
}

impl DownReport {
    /// One line per thing stopped or removed, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.apps.iter().map(|(name, what)| format!("app {name}: {what}")).collect();
        lines.extend(self.containers.iter().map(|c| format!("container {c}: removed")));
        lines.extend(self.volumes_removed.iter().map(|v| format!("volume {v}: deleted")));
        lines
    }
}

/// The project id the state file recorded, else the one for the path.
fn project_id(root: &Path, state: Option<&RunState>) -> Result<ProjectId, LifecycleError> {
    match state {
        Some(s) if !s.project_id.is_empty() => Ok(ProjectId::from_recorded(&s.project_id)),
        _ => ProjectId::for_path(root)
            .map_err(|source| LifecycleError::Project { path: root.display().to_string(), source }),
    }
}

/// Stops the apps (newest first), removes the service containers, and the volumes too when
/// asked; then removes the state file. Containers are found by label, so ones the state file
/// does not know (a crash before it was written) go too.
pub fn down(root: &Path, options: DownOptions) -> Result<DownReport, LifecycleError> {
    let workdir = WorkDir::new(root);
    let state_path = workdir.state_file();
    let mut state = RunState::load(&state_path)?;
    let mut report = DownReport::default();
    if let Some(state) = state.as_mut() {
        report.apps = runner::stop_all(state, STOP_GRACE)
            .into_iter()
            .map(|(record, outcome)| (record.name, outcome.to_string()))
            .collect();
        // Apps that could not be stopped stay recorded (stop_all keeps them), and so do the
        // services until they are gone too.
        state.save(&state_path)?;
    }
    let project = project_id(root, state.as_ref())?;
    match Services::connect() {
        Ok(docker) => {
            let teardown = docker.down(&project, options)?;
            report.containers = teardown.containers;
            if options.remove_volumes {
                report.volumes_removed = teardown.volumes;
            } else {
                report.kept_volumes = docker.resources(&project)?.volumes;
            }
        }
        Err(e) if state.as_ref().is_none_or(|s| s.services.is_empty()) => {
            report.docker_skipped = Some(e.to_string());
        }
        Err(e) => return Err(e.into()),
    }
    match &state {
        Some(s) if !s.apps.is_empty() => {
            let mut s = s.clone();
            s.services.clear();
            s.save(&state_path)?;
        }
        _ => RunState::remove(&state_path)?,
    }
    Ok(report)
}

/// The names of the apps in `state` whose processes are still alive.
pub fn running_apps(state: &RunState) -> Vec<String> {
    state.apps.iter().filter(|a| runner::app_alive(a)).map(|a| a.name.clone()).collect()
}

/// Records that the run was detached: nobody supervises the apps any more.
pub fn mark_detached(workdir: &WorkDir) -> Result<(), StateError> {
    let path = workdir.state_file();
    if let Some(mut state) = RunState::load(&path)? {
        state.detached = true;
        state.supervisor_pid = None;
        state.save(&path)?;
    }
    Ok(())
}

/// What `status` shows.
#[derive(Debug, Default, Serialize)]
pub struct Status {
    pub project_id: Option<String>,
    pub detached: bool,
    pub apps: Vec<AppStatus>,
    pub services: Vec<ServiceStatus>,
}

#[derive(Debug, Serialize)]
pub struct AppStatus {
    pub name: String,
    pub project: String,
    pub pid: u32,
    pub running: bool,
    pub port: Option<u16>,
    pub url: Option<String>,
    pub log: String,
}

#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub container: String,
    pub running: bool,
    pub host_port: u16,
    pub url: String,
}

impl Status {
    /// Something was started and all of it still runs.
    pub fn all_running(&self) -> bool {
        !(self.apps.is_empty() && self.services.is_empty())
            && self.apps.iter().all(|a| a.running)
            && self.services.iter().all(|s| s.running)
    }

    /// A plain table for people.
    pub fn table(&self) -> String {
        if self.apps.is_empty() && self.services.is_empty() {
            return "nothing is running (start it with `repo-run up`)\n".to_owned();
        }
        let mut rows = vec![["NAME".to_owned(), "KIND".into(), "STATE".into(), "URL".into()]];
        for a in &self.apps {
            rows.push([
                a.name.clone(),
                "app".into(),
                if a.running { format!("running (pid {})", a.pid) } else { "exited".into() },
                a.url.clone().or_else(|| a.port.map(|p| format!("127.0.0.1:{p}"))).unwrap_or_default(),
            ]);
        }
        for s in &self.services {
            rows.push([
                s.service.clone(),
                "service".into(),
                if s.running { "running".into() } else { "stopped".into() },
                s.url.clone(),
            ]);
        }
        table(&rows)
    }
}

/// Columns padded to their widest cell.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The state of everything `up` recorded for the project at `root`.
pub fn status(root: &Path) -> Result<Status, LifecycleError> {
    let Some(state) = RunState::load(&WorkDir::new(root).state_file())? else { return Ok(Status::default()) };
    let mut status =
        Status { project_id: Some(state.project_id.clone()), detached: state.detached, ..Status::default() };
    status.apps = state
        .apps
        .iter()
        .map(|a| AppStatus {
            name: a.name.clone(),
            project: a.project.clone(),
            pid: a.pid,
            running: runner::app_alive(a),
            port: a.port,
            url: a.url.clone(),
            log: a.log.clone(),
        })
        .collect();
    if !state.services.is_empty() {
        let running = Services::connect()
            .and_then(|docker| docker.running_containers(&ProjectId::from_recorded(&state.project_id)))
            .unwrap_or_default();
        status.services = state
            .services
            .iter()
            .map(|s| ServiceStatus {
                service: s.service.clone(),
                container: s.container.clone(),
                running: running.contains(&s.container),
                host_port: s.host_port,
                url: s.url.clone(),
            })
            .collect();
    }
    Ok(status)
}
