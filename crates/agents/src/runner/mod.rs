//! The Runner agent: starts every app of the repository, each in its own process group with
//! its output in `.repo-run/logs/<name>.log`, and records it in `.repo-run/state.json` the
//! moment it starts, so `down` and `status` find it even if repo-run is killed.
//!
//! The Runner does not wait for the apps: the Health agent does. It hands the `Child` handles
//! to a [`Supervisor`] the CLI keeps: in the foreground the CLI waits on it until Ctrl-C or
//! an app exits, then [`Supervisor::stop_all`]; with `up -d` it lets go of the handles
//! ([`Supervisor::detach`]) and returns, and the apps run on (own process groups, output in
//! files, stdin closed).
//!
//! Each app's port is claimed under a machine-wide lock ([`PortClaim`]) that the Health agent
//! lets go once the app's own socket listens, so concurrent `repo-run up`s never give two apps
//! one port.
//!
//! Commands are argv vectors from the plan, run without a shell.

mod logs;
mod port_lock;
mod ports;
mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use std::os::unix::process::{CommandExt, ExitStatusExt};

use crate::failure::{Exit, Failure, StepKind};
use crate::pipeline::{Agent, AgentError, Blackboard, Stage};
use crate::plan::{Project, ProjectRole};
use crate::services::ProjectId;
use crate::state::{AppRecord, RunState};
use crate::up::{Cancel, RunningApp, StageStep, StepRecord};

pub(crate) use logs::current_run;
pub use logs::{HEADER_PREFIX, log_tail};
pub use port_lock::PortClaim;
pub use process::{AppStatus, StopOutcome, app_alive, app_status, stop_all, stop_app};
pub(crate) use process::{describe_wait_status, port_holder, proc_stat};

/// The variable every app gets its port in, besides the one its code reads.
pub const PORT_VAR: &str = "PORT";

/// How long a restarted Runner (after a fix) gives the apps of its previous attempt to stop.
const RESTART_GRACE: Duration = Duration::from_secs(5);

/// How often a build is checked for completion and Ctrl-C.
const BUILD_POLL: Duration = Duration::from_millis(100);

/// The Runner agent. Its [`Supervisor`] holds the started processes for the CLI.
#[derive(Default)]
pub struct RunnerAgent {
    supervisor: Arc<Supervisor>,
}

impl RunnerAgent {
    pub fn new() -> Self {
        Self::default()
    }

    /// A Runner that hands its processes to `supervisor` (which the CLI keeps).
    pub fn with_supervisor(supervisor: Arc<Supervisor>) -> Self {
        RunnerAgent { supervisor }
    }

    pub fn supervisor(&self) -> Arc<Supervisor> {
        self.supervisor.clone()
    }
}

impl Agent for RunnerAgent {
    fn stage(&self) -> Stage {
        Stage::Runner
    }

    fn name(&self) -> &'static str {
        "rules"
    }

    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let Some(detection) = &board.detection else {
            return Err(error("there is no detection result to run", "run the Detection stage first"));
        };
        let projects: Vec<Project> =
            detection.projects.iter().filter(|p| p.role == ProjectRole::App && p.start.is_some()).cloned().collect();
        // A run that comes back here (after a fix, or a rejected start command) first stops
        // what the last attempt started, even when nothing is left to start.
        if !board.apps.is_empty() {
            self.stop_previous_attempt(board)?;
        }
        if projects.is_empty() {
            board.reporter.note(Stage::Runner, "no app with a start command was found: nothing to start");
            return Ok(());
        }
        board.workdir.ensure().map_err(|e| {
            error(
                format!("creating {}: {e}", board.workdir.path().display()),
                "check that the repository directory is writable",
            )
        })?;
        let root = board.repo.root().to_path_buf();
        let state_path = board.workdir.state_file();
        let mut state = load_state(&root, &state_path)?;
        refuse_if_running(&state, &projects, &state_path)?;
        // Records of apps that are gone are dropped; an app that exited but left processes in
        // its group stays recorded, so `down` still stops them.
        state.apps.retain(|a| matches!(app_status(a), AppStatus::Running | AppStatus::Leftovers(_)));
        state.supervisor_pid = Some(std::process::id());
        state.detached = board.options.detached;
        save_state(&state, &state_path)?;

        // Ports already promised: services' host ports and apps started before this one (which
        // may not have bound theirs yet).
        let mut taken: Vec<u16> = board.services.iter().map(|s| s.host_port).collect();
        taken.extend(state.apps.iter().filter_map(|a| a.port));

        for project in &projects {
            if board.cancel.is_cancelled() {
                return Err(error("cancelled before every app was started", "run `repo-run down` to stop the others"));
            }
            let mut env = board.project_env(&project.path);
            let port = choose_port(board, project, &env, &taken)?;
            if let Some(choice) = &port {
                for var in &choice.vars {
                    env.insert(var.clone(), choice.port.to_string());
                }
                taken.push(choice.port);
            }
            let dir = root.join(&project.path);
            let log_path = board.workdir.log_file(&project.name);
            if let Some(build) = &project.build {
                let started = std::time::Instant::now();
                let mut build_env = env.clone();
                if sqlx_offline(project, &dir, &root, &build_env) {
                    board.reporter.note(
                        Stage::Runner,
                        &format!(
                            "{}: building with SQLX_OFFLINE=true: sqlx's offline query data is committed and repo-run \
                             did not migrate the database, so the query! macros must not check against it",
                            project.name
                        ),
                    );
                    build_env.insert("SQLX_OFFLINE".into(), "true".into());
                }
                run_build(board, project, &build.argv, &build.display, &build_env, &dir, &log_path)?;
                board.steps.push(StageStep {
                    stage: Stage::Runner,
                    project: project.path.clone(),
                    record: StepRecord {
                        command: build.display.clone(),
                        elapsed: started.elapsed(),
                        skipped: false,
                        log: log_path.clone(),
                    },
                });
            }
            let planned = project.start.as_ref().expect("filtered on start");
            // A start command a fix in force set replaces the planned one.
            let fixed = board.fixes.start_command(&project.path).map(|argv| crate::plan::Command {
                display: argv.join(" "),
                argv: argv.to_vec(),
                evidence: crate::plan::Evidence::new(".repo-run/fixes.toml", None, "fixer.set-start-command"),
            });
            let start = fixed.as_ref().unwrap_or(planned);
            board.reporter.step(Stage::Runner, &format!("{}: starting `{}`", project.name, start.display));
            let port_text = port.as_ref().map(|c| format!(" on port {}", c.port)).unwrap_or_default();
            let what = format!("start `{}` in {}{port_text}", start.display, project.path);
            let child = spawn_logged(&start.argv, &env, &dir, &log_path, &what).map_err(|e| {
                error(
                    format!("could not start `{}` for {} in {}: {e}", start.display, project.name, dir.display()),
                    "check that the command is installed and on PATH (Setup puts project tools in front of PATH)",
                )
                .confined_to(vec![project.path.clone()])
            })?;
            let pid = child.id();
            let url = port.as_ref().map(|c| format!("http://127.0.0.1:{}/", c.port));
            let record = AppRecord {
                name: project.name.clone(),
                project: project.path.clone(),
                command: start.display.clone(),
                pid,
                pgid: pid,
                port: port.as_ref().map(|c| c.port),
                url: url.clone(),
                log: log_path.strip_prefix(&root).unwrap_or(&log_path).to_string_lossy().into_owned(),
                started_at: process::start_time(pid).unwrap_or_else(crate::state::unix_now),
            };
            state.apps.push(record.clone());
            self.supervisor.lock().push(Supervised { record, child, exit: None });
            save_state(&state, &state_path)?;
            board.apps.push(RunningApp {
                name: project.name.clone(),
                project: project.path.clone(),
                command: start.display.clone(),
                pid,
                port: port.as_ref().map(|c| c.port),
                url,
                log: log_path,
                port_claim: port.map(|c| c.claim).unwrap_or_default(),
            });
        }
        Ok(())
    }
}

impl RunnerAgent {
    /// The Runner runs again after a fix: the apps of the previous attempt go first, so the
    /// new ones get their ports.
    fn stop_previous_attempt(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let stopped = self.supervisor.stop_all(RESTART_GRACE);
        let state_path = board.workdir.state_file();
        if let Ok(Some(mut state)) = RunState::load(&state_path) {
            state.apps.retain(|a| !stopped.iter().any(|(r, o)| r.pid == a.pid && o.is_stopped()));
            save_state(&state, &state_path)?;
        }
        if let Some((record, outcome)) = stopped.iter().find(|(_, o)| !o.is_stopped()) {
            return Err(error(
                format!("the previous {} (pid {}) {outcome}", record.name, record.pid),
                "stop it by hand, then run `repo-run up` again",
            ));
        }
        board.apps.clear();
        board.health.clear();
        Ok(())
    }
}

/// The port an app gets, the variables that tell it, and its lock.
struct PortChoice {
    port: u16,
    vars: Vec<String>,
    claim: PortClaim,
}

/// The project's port (its `.env` value, else the code's default) when it is free and no other
/// repo-run is starting an app on it; else a free port, when the code reads its port from a
/// variable. Either way the port's lock is taken ([`ports::claim`]).
fn choose_port(
    board: &Blackboard,
    project: &Project,
    env: &BTreeMap<String, String>,
    taken: &[u16],
) -> Result<Option<PortChoice>, AgentError> {
    let from_variable;
    let finding = match project.ports.first() {
        Some(finding) => finding,
        None => match port_variable(board, project, env) {
            Some(PortVariable::Numbered(finding)) => {
                from_variable = finding;
                &from_variable
            }
            Some(PortVariable::Unnumbered(var)) => return free_port_for(board, project, &var, taken),
            None => return Ok(None),
        },
    };
    let mut vars = vec![PORT_VAR.to_string()];
    if let Some(var) = finding.env_var.as_ref().filter(|v| v.as_str() != PORT_VAR) {
        vars.push(var.clone());
    }
    let var = finding.env_var.as_deref().unwrap_or(PORT_VAR);
    let wanted = env.get(var).and_then(|v| v.trim().parse().ok()).unwrap_or(finding.port);
    let holder = if taken.contains(&wanted) {
        "another app or service of this repository".to_string()
    } else {
        match ports::claim(wanted) {
            ports::Claim::Claimed(lock) => {
                let claim = claim_or_note(board, project, wanted, lock);
                return Ok(Some(PortChoice { port: wanted, vars, claim }));
            }
            ports::Claim::ClaimedElsewhere => "another repo-run, which is starting an app on it".to_string(),
            ports::Claim::Busy => process::port_holder(wanted).unwrap_or_else(|| "another program".into()),
        }
    };
    let Some(var) = &finding.env_var else {
        return Err(error(
            format!(
                "port {wanted}, which {} listens on, is in use by {holder}; the code sets the port without \
                 reading an environment variable, so repo-run cannot move it",
                project.name
            ),
            format!("stop {holder}, or make the app read its port from ${PORT_VAR}"),
        ));
    };
    let (port, lock) = ports::claim_free_port(taken).map_err(|e| {
        error(format!("port {wanted} is in use by {holder} and no free port was found: {e}"), "free some ports")
    })?;
    board.reporter.note(
        Stage::Runner,
        &format!("{}: port {wanted} is in use by {holder}; using {port} instead ({var}={port})", project.name),
    );
    let claim = claim_or_note(board, project, port, lock);
    Ok(Some(PortChoice { port, vars, claim }))
}

/// The port variable of an app with no port finding (the Requirements agent's port class, by
/// rule for `PORT` or `WS_PORT`, or by its model for a name only the code's use explains).
enum PortVariable {
    /// Its `.env` value or the code's default (`os.environ.get("PORT", "8000")`) gives a
    /// number: chosen as a port finding's would be.
    Numbered(crate::plan::PortFinding),
    /// Nothing gives a number.
    Unnumbered(String),
}

fn port_variable(board: &Blackboard, project: &Project, env: &BTreeMap<String, String>) -> Option<PortVariable> {
    let requirement = board
        .requirements
        .as_ref()?
        .projects
        .iter()
        .find(|p| p.project == project.path)?
        .env
        .iter()
        .find(|e| e.source == crate::plan::EnvSource::Port)?;
    let var = requirement.name.clone();
    let default = project.env_vars.iter().find(|v| v.name == var).and_then(|v| v.default.as_deref());
    let number = env.get(&var).map(String::as_str).or(default).and_then(|v| v.trim().parse::<u16>().ok());
    Some(match number.filter(|p| *p != 0) {
        Some(port) => PortVariable::Numbered(crate::plan::PortFinding {
            port,
            env_var: Some(var),
            evidence: requirement.evidence.clone(),
        }),
        None => PortVariable::Unnumbered(var),
    })
}

/// A free port for an app that reads its port from `var` and names no number.
fn free_port_for(
    board: &Blackboard,
    project: &Project,
    var: &str,
    taken: &[u16],
) -> Result<Option<PortChoice>, AgentError> {
    let mut vars = vec![PORT_VAR.to_string()];
    if var != PORT_VAR {
        vars.push(var.to_owned());
    }
    let (port, lock) = ports::claim_free_port(taken)
        .map_err(|e| error(format!("no free port was found for {}: {e}", project.name), "free some ports"))?;
    board.reporter.note(
        Stage::Runner,
        &format!(
            "{}: the code reads its port from {var} and names no number: using {port} ({var}={port})",
            project.name
        ),
    );
    let claim = claim_or_note(board, project, port, lock);
    Ok(Some(PortChoice { port, vars, claim }))
}

/// The claim on a port whose lock was taken; when it could not be (the lock directory is not
/// usable), the port is still used, unguarded, and the user is told.
fn claim_or_note(
    board: &Blackboard,
    project: &Project,
    port: u16,
    lock: std::io::Result<port_lock::PortLock>,
) -> PortClaim {
    match lock {
        Ok(lock) => PortClaim::new(lock),
        Err(e) => {
            board.reporter.note(
                Stage::Runner,
                &format!(
                    "{}: could not lock port {port} in {} ({e}); a repo-run starting an app at the same moment \
                     could choose it too",
                    project.name,
                    port_lock::LOCK_DIR
                ),
            );
            PortClaim::default()
        }
    }
}

/// Starts `argv` in `dir`, in a new process group, output appended to `log` after a header.
fn spawn_logged(
    argv: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
    log: &Path,
    what: &str,
) -> std::io::Result<Child> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the command is empty"));
    };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    logs::write_header(&mut file, what)?;
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
}

/// Whether the build should use sqlx's committed offline query data (`.sqlx/`, or the older
/// `sqlx-data.json`, here or above up to `root`). With `DATABASE_URL` set, sqlx's macros check
/// online, and the database is empty when repo-run left the migrations to the app's own
/// `migrate!()`; the project's own `SQLX_OFFLINE` (in its environment or ours) wins.
fn sqlx_offline(project: &Project, dir: &Path, root: &Path, env: &BTreeMap<String, String>) -> bool {
    let uses_sqlx = project.dependencies.iter().any(|d| d.ecosystem == "rust" && d.name == "sqlx");
    let migrated = project.migrations.iter().any(|m| m.tool == "sqlx");
    if !uses_sqlx || migrated || env.contains_key("SQLX_OFFLINE") || std::env::var_os("SQLX_OFFLINE").is_some() {
        return false;
    }
    dir.ancestors()
        .take_while(|d| d.starts_with(root))
        .any(|d| d.join(".sqlx").is_dir() || d.join("sqlx-data.json").is_file())
}

/// Runs the project's build command to completion (Ctrl-C stops it), logging like the app.
fn run_build(
    board: &Blackboard,
    project: &Project,
    argv: &[String],
    display: &str,
    env: &BTreeMap<String, String>,
    dir: &Path,
    log: &Path,
) -> Result<(), AgentError> {
    board.reporter.step(Stage::Runner, &format!("{}: building with `{display}`", project.name));
    let mut child =
        spawn_logged(argv, env, dir, log, &format!("build `{display}` in {}", project.path)).map_err(|e| {
            error(
                format!("could not run the build `{display}` of {} in {}: {e}", project.name, dir.display()),
                "check that the command is installed and on PATH",
            )
        })?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if board.cancel.is_cancelled() => {
                let pid = child.id();
                // SAFETY: the child leads its own group (pid > 1); kill has no memory preconditions.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                let _ = child.wait();
                return Err(error(format!("cancelled during the build `{display}`"), "run `repo-run up` again"));
            }
            Ok(None) => std::thread::sleep(BUILD_POLL),
            Err(e) => return Err(error(format!("waiting for the build `{display}`: {e}"), "run it by hand")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let tail = log_tail(log, crate::health::EVIDENCE_LINES);
    let shown = &tail[tail.len().saturating_sub(20)..];
    Err(error(
        format!("the build `{display}` of {} failed ({status}); last log lines:\n{}", project.name, shown.join("\n")),
        format!("see {}", log.display()),
    )
    .with_failure(
        Failure::new(Stage::Runner, StepKind::Build, &project.path)
            .argv(argv)
            .exit(status.code().map(Exit::Code).or(status.signal().map(Exit::Signal)))
            .tail(&tail)
            .log(log),
    ))
}

fn load_state(root: &Path, path: &Path) -> Result<RunState, AgentError> {
    match RunState::load(path) {
        Ok(Some(state)) => Ok(state),
        Ok(None) => {
            let id = ProjectId::for_path(root).map_err(|e| {
                error(format!("reading {}: {e}", root.display()), "check that the repository directory exists")
            })?;
            Ok(RunState::new(id.as_str()))
        }
        Err(e) => Err(error(e.to_string(), format!("move {} away and run `repo-run up` again", path.display()))),
    }
}

fn save_state(state: &RunState, path: &Path) -> Result<(), AgentError> {
    state.save(path).map_err(|e| error(e.to_string(), "check that .repo-run/ is writable"))
}

/// `up` while an earlier `up -d` still runs the same app would start it twice.
fn refuse_if_running(state: &RunState, projects: &[Project], path: &Path) -> Result<(), AgentError> {
    let running = state.apps.iter().find(|a| projects.iter().any(|p| p.path == a.project) && app_alive(a));
    match running {
        Some(app) => Err(error(
            format!("{} is already running (pid {}, recorded in {})", app.name, app.pid, path.display()),
            "run `repo-run down` first, or `repo-run status` to see what runs",
        )),
        None => Ok(()),
    }
}

fn error(message: impl Into<String>, hint: impl Into<String>) -> AgentError {
    AgentError::new(Stage::Runner, message, Some(hint.into()))
}

/// An app the supervisor started and still holds.
struct Supervised {
    record: AppRecord,
    child: Child,
    /// Set once the process was seen to exit (and was reaped).
    exit: Option<String>,
}

/// The processes started in this `repo-run`, for the CLI: wait on them in the foreground,
/// stop them on Ctrl-C, or let them go with `up -d`. Dropping it neither stops nor waits.
#[derive(Default)]
pub struct Supervisor {
    apps: Mutex<Vec<Supervised>>,
}

/// An app that exited on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitedApp {
    pub name: String,
    pub pid: u32,
    /// "exited with status 1", "killed by signal 9".
    pub status: String,
    pub log: String,
}

/// Why [`Supervisor::wait`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEnd {
    Cancelled,
    /// These apps exited (the others may still run).
    Exited(Vec<ExitedApp>),
    /// There is nothing to wait for.
    Empty,
}

impl Supervisor {
    fn lock(&self) -> MutexGuard<'_, Vec<Supervised>> {
        self.apps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The records of the apps it holds, in start order.
    pub fn records(&self) -> Vec<AppRecord> {
        self.lock().iter().map(|s| s.record.clone()).collect()
    }

    /// Apps that exited since the last call (each reported once, and reaped).
    pub fn exited(&self) -> Vec<ExitedApp> {
        let mut out = Vec::new();
        for app in self.lock().iter_mut().filter(|a| a.exit.is_none()) {
            if let Ok(Some(status)) = app.child.try_wait() {
                let text = describe_wait_status(status.into_raw());
                app.exit = Some(text.clone());
                out.push(ExitedApp {
                    name: app.record.name.clone(),
                    pid: app.record.pid,
                    status: text,
                    log: app.record.log.clone(),
                });
            }
        }
        out
    }

    /// Blocks until `cancel` is set (Ctrl-C) or an app exits, checking every `poll`.
    pub fn wait(&self, cancel: &Cancel, poll: Duration) -> WaitEnd {
        loop {
            if self.lock().iter().all(|a| a.exit.is_some()) {
                return WaitEnd::Empty;
            }
            if cancel.is_cancelled() {
                return WaitEnd::Cancelled;
            }
            let exited = self.exited();
            if !exited.is_empty() {
                return WaitEnd::Exited(exited);
            }
            std::thread::sleep(poll);
        }
    }

    /// Stops every app it holds, the last started first, and lets go of them. The caller
    /// updates the state file (remove the records whose outcome [`StopOutcome::is_stopped`]).
    pub fn stop_all(&self, grace: Duration) -> Vec<(AppRecord, StopOutcome)> {
        let apps: Vec<Supervised> = std::mem::take(&mut *self.lock());
        apps.into_iter()
            .rev()
            .map(|mut app| {
                let outcome = stop_app(&app.record, grace);
                // stop_app reaped the leader; this only catches a leader that exited just now.
                let _ = app.child.try_wait();
                (app.record, outcome)
            })
            .collect()
    }

    /// Lets go of every app without stopping it (`up -d`): they run on in their own process
    /// groups, and `down` stops them from the state file. Returns their records.
    pub fn detach(&self) -> Vec<AppRecord> {
        std::mem::take(&mut *self.lock()).into_iter().map(|a| a.record).collect()
    }
}

/// The log path of a record, absolute.
pub fn record_log_path(root: &Path, record: &AppRecord) -> PathBuf {
    root.join(&record.log)
}

/// Why `up` has nothing to start, for people: each project with where its start command was
/// looked for (or that it is a library), and the hint that gives it one.
pub fn nothing_to_start(detection: &crate::plan::Detection) -> (String, String) {
    use crate::plan::{Language, ProjectRole};
    let mut message = String::from("nothing to start: no app with a start command was found");
    if detection.projects.is_empty() {
        message.push_str(
            "\n  no project: looked for a manifest (package.json, pyproject.toml, requirements.txt, Pipfile, \
             Cargo.toml, go.mod, Gemfile, composer.json, pom.xml, build.gradle), a Procfile, a Dockerfile and a \
             compose file",
        );
    }
    for p in &detection.projects {
        let language = p.languages.first().map(|l| l.language);
        let what = language.map_or("no known language".to_owned(), |l| l.as_str().to_owned());
        let looked = match (p.role, language) {
            (ProjectRole::Library, _) => {
                "it looks like a library: no start command, no server framework, no entry point".to_owned()
            }
            (ProjectRole::WorkspaceRoot, _) => {
                "it is a workspace root; its members are projects of their own".to_owned()
            }
            (_, Some(Language::Python)) => "looked for a Procfile `web:` line, [project.scripts] in pyproject.toml, \
                 manage.py, an app.py/main.py/wsgi.py/asgi.py that serves, a Dockerfile CMD"
                .to_owned(),
            (_, Some(Language::JavaScript | Language::TypeScript)) => "looked for package.json `scripts.start` and \
                 `main`, a framework's own server, server.js/index.js/app.js, a Procfile, a Dockerfile CMD"
                .to_owned(),
            (_, Some(Language::Go)) => {
                "looked for a `package main` with `func main`, a Procfile, a Dockerfile CMD".to_owned()
            }
            (_, Some(Language::Rust)) => {
                "looked for a binary target (src/main.rs, [[bin]]), a Procfile, a Dockerfile CMD".to_owned()
            }
            (_, Some(Language::Ruby)) => "looked for config.ru, bin/rails, a Procfile, a Dockerfile CMD".to_owned(),
            (_, Some(Language::Java | Language::Kotlin)) => {
                "looked for a Spring Boot application, Maven's or Gradle's \
                 application plugin, a Procfile, a Dockerfile CMD"
                    .to_owned()
            }
            (_, Some(Language::Php)) => "looked for artisan, public/index.php, a Procfile, a Dockerfile CMD".to_owned(),
            _ => "looked for a Procfile, a Dockerfile CMD, a compose `command:`, a manifest's start script".to_owned(),
        };
        message.push_str(&format!("\n  {} ({what}): {looked}", p.path));
        // Documented commands no rule starts on its own: the Detection model chooses among
        // them, so they are left here only when no model was asked or none answered.
        for c in &p.start_candidates {
            let line = c.command.evidence.line.map(|l| format!(":{l}")).unwrap_or_default();
            message.push_str(&format!(
                "\n    its documentation gives `{}` ({}{line}; {})",
                c.command.display, c.command.evidence.file, c.validated
            ));
        }
        let unanswered = format!("{}: the Detection model did not choose", p.path);
        for w in detection.warnings.iter().filter(|w| w.message.starts_with(&unanswered)) {
            message.push_str(&format!("\n    {}", &w.message[p.path.len() + 2..]));
        }
        for d in p.decisions.iter().filter(|d| d.rejected.is_some()) {
            message.push_str(&format!(
                "\n    the {} model {} chose `{}`: {}",
                d.agent,
                d.model,
                d.answer,
                d.rejected.as_deref().unwrap_or_default()
            ));
        }
    }
    if detection.projects.iter().flat_map(|p| &p.decisions).any(|d| d.rejected.is_some()) {
        let hint = "the documented commands the models chose failed when tried (their logs are in .repo-run/logs/); \
                    write the start command in a Procfile (`web: <command>`)"
            .to_owned();
        return (message, hint);
    }
    if detection.warnings.iter().any(|w| w.message.contains(": the Detection model did not choose")) {
        let hint = "the Detection model could not answer: `repo-run models list` shows the file it expects and \
                    `repo-run models pull --missing` fetches it; or write the start command in a Procfile \
                    (`web: <command>`)"
            .to_owned();
        return (message, hint);
    }
    if detection.projects.iter().any(|p| !p.start_candidates.is_empty()) {
        let hint = "a model chooses among the documented commands when one is asked (run without `--no-model`; \
                    `repo-run models list` shows the Detection row); or write the start command in a Procfile \
                    (`web: <command>`)"
            .to_owned();
        return (message, hint);
    }
    let hint = "give the app its start command in a Procfile (`web: <command>`) or as `scripts.start` in \
                package.json; `repo-run plan` shows what was found"
        .to_owned();
    (message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Dependency, Evidence, MigrationFinding};
    use crate::requirements::testing::project;

    #[test]
    fn committed_offline_query_data_builds_offline_unless_repo_run_migrated_first() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("api");
        std::fs::create_dir_all(root.path().join(".sqlx")).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = project("api");
        let none = BTreeMap::new();
        // Not a sqlx project: nothing to say.
        assert!(!sqlx_offline(&p, &dir, root.path(), &none));
        p.dependencies.push(Dependency {
            ecosystem: "rust",
            name: "sqlx".into(),
            version: Some("0.8".into()),
            dev: false,
            evidence: Evidence::new("api/Cargo.toml", Some(7), "rust.dependency"),
        });
        // The workspace root's .sqlx/ counts for a member.
        assert_eq!(std::env::var_os("SQLX_OFFLINE"), None, "this test needs SQLX_OFFLINE unset");
        assert!(sqlx_offline(&p, &dir, root.path(), &none));
        // The project decides for itself.
        let own = BTreeMap::from([("SQLX_OFFLINE".to_owned(), "false".to_owned())]);
        assert!(!sqlx_offline(&p, &dir, root.path(), &own));
        // repo-run applied the migrations first: the macros may check online.
        let mut migrated = p.clone();
        migrated.migrations.push(MigrationFinding {
            tool: "sqlx".into(),
            command: crate::plan::Command {
                display: "sqlx migrate run".into(),
                argv: vec!["sqlx".into(), "migrate".into(), "run".into()],
                evidence: Evidence::new("api/migrations/1_a.sql", None, "rust.migrations.sqlx"),
            },
            reason: None,
        });
        assert!(!sqlx_offline(&migrated, &dir, root.path(), &none));
        // No offline data: online, as before.
        std::fs::remove_dir(root.path().join(".sqlx")).unwrap();
        assert!(!sqlx_offline(&p, &dir, root.path(), &none));
        std::fs::write(dir.join("sqlx-data.json"), "{}").unwrap();
        assert!(sqlx_offline(&p, &dir, root.path(), &none));
    }
}
