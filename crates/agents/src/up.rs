//! What the `up` stages (Setup → DB → Runner → Health) hand each other on the blackboard,
//! and how they report progress and notice Ctrl-C.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::pipeline::Stage;
use crate::runner::PortClaim;

/// Options of one `repo-run up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// `up -d`: start and return; the apps keep running.
    pub detached: bool,
    /// `up --ci`: never prompt.
    pub ci: bool,
    /// How long the Health agent waits for every app to become ready.
    pub health_timeout: Duration,
    /// `up --allow-system`: the Fixer may install Debian packages on the host.
    pub allow_system: bool,
    /// The Fixer consults its rules (off only to measure the model alone).
    pub fixer_rules: bool,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            detached: false,
            ci: false,
            health_timeout: Duration::from_secs(120),
            allow_system: false,
            fixer_rules: true,
        }
    }
}

/// Set when the user pressed Ctrl-C: long waits (installs, readiness) check it and stop early.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// The flag itself, for signal handlers (`signal_hook::flag::register`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

/// Where agents report what they are doing; the CLI draws it (progress bars on a TTY, plain
/// lines in CI). Agents never print.
pub trait Reporter: Send + Sync {
    /// A new step inside a stage ("npm ci", "postgres: waiting for readiness").
    fn step(&self, stage: Stage, message: &str);
    /// One line of a child process's output (already written to its log).
    fn output(&self, _stage: Stage, _line: &str) {}
    /// Something the user should read even when all goes well (a backup was made, a port moved).
    fn note(&self, stage: Stage, message: &str);
}

/// A reporter that drops everything (library callers and tests that do not watch).
pub struct Silent;

impl Reporter for Silent {
    fn step(&self, _: Stage, _: &str) {}
    fn note(&self, _: Stage, _: &str) {}
}

/// What the Setup agent did for one project.
#[derive(Debug, Clone, Default)]
pub struct PreparedProject {
    /// The project's path relative to the repository root (`.` for the root).
    pub project: String,
    /// Its absolute directory.
    pub dir: PathBuf,
    /// Variables from the project's `.env` (after Setup wrote or completed it).
    pub dotenv: BTreeMap<String, String>,
    /// Directories to put in front of `PATH` for this project's commands (`.venv/bin`,
    /// `node_modules/.bin`), so installed tools are found without activating anything.
    pub path_prefix: Vec<PathBuf>,
    /// Other variables every command of the project needs (`VIRTUAL_ENV`, …).
    pub extra_env: BTreeMap<String, String>,
    /// Install commands run, with how long each took.
    pub installed: Vec<StepRecord>,
}

/// One command a stage ran.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub command: String,
    pub elapsed: Duration,
    /// The command was skipped because nothing it depends on changed since the last run.
    pub skipped: bool,
    pub log: PathBuf,
}

/// A command a stage ran besides the installs (a migration, a build), for the report and
/// the benchmark's account of where the time went.
#[derive(Debug, Clone)]
pub struct StageStep {
    pub stage: Stage,
    /// The project's path relative to the repository root.
    pub project: String,
    pub record: StepRecord,
}

/// A started app process.
#[derive(Debug, Clone)]
pub struct RunningApp {
    pub name: String,
    pub project: String,
    pub command: String,
    pub pid: u32,
    pub port: Option<u16>,
    /// `http://127.0.0.1:<port>/` when the app serves HTTP.
    pub url: Option<String>,
    pub log: PathBuf,
    /// The port's machine-wide lock, held from the Runner's choice until the Health agent sees
    /// the app's own socket (or the app fails): another repo-run cannot choose the port meanwhile.
    pub port_claim: PortClaim,
}

/// What a health probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    Http { url: String },
    Tcp { port: u16 },
    Process { pid: u32 },
    LogPattern { pattern: String },
}

/// The Health agent's verdict on one app or service.
#[derive(Debug, Clone)]
pub struct HealthReport {
    /// The app's or service's name.
    pub target: String,
    pub probe: ProbeKind,
    pub healthy: bool,
    /// "HTTP 200 in 12 ms", "exited with status 1", …
    pub detail: String,
    /// From the start of the Health stage to the verdict.
    pub elapsed: Duration,
    /// The last lines of the target's log when it is not healthy.
    pub log_tail: Vec<String>,
}
