//! Typed evidence of a failed step: what the Fixer reads instead of rendered prose.
//!
//! Every agent that runs something (an install, a migration, a build, an app) attaches a
//! [`Failure`] to its [`AgentError`](crate::AgentError) when that thing fails: which step of
//! which project, the argv, how it ended, the last lines of its output as lines, and the file
//! and line the step came from. Rules match on these fields, never on the error message.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::pipeline::Stage;
use crate::plan::Evidence;

/// The kind of step that failed inside a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Runtime and tool checks before anything runs.
    Check,
    Install,
    /// A backing service (container, readiness).
    Service,
    Migrate,
    Build,
    Start,
    Health,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Check => "check",
            StepKind::Install => "install",
            StepKind::Service => "service",
            StepKind::Migrate => "migrate",
            StepKind::Build => "build",
            StepKind::Start => "start",
            StepKind::Health => "health",
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Still running when it was judged (a health check that timed out).
    Running,
}

/// One failed step, with everything a rule may look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub stage: Stage,
    pub step: StepKind,
    /// The project's path relative to the repository root (`.` for the root).
    pub project: String,
    /// The command that failed, when a command did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    /// The last lines of the step's output, oldest first.
    pub log_tail: Vec<String>,
    /// The whole log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// The repository file (and line) the step came from: the manifest, the Procfile line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The port the step used, for a start or health failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Debian packages a check found missing (a linker `.cargo/config.toml` names), in the
    /// plan's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_packages: Vec<String>,
}

impl Failure {
    pub fn new(stage: Stage, step: StepKind, project: impl Into<String>) -> Self {
        Failure {
            stage,
            step,
            project: project.into(),
            argv: Vec::new(),
            exit: None,
            log_tail: Vec::new(),
            log: None,
            evidence: None,
            port: None,
            missing_packages: Vec::new(),
        }
    }

    pub fn missing_packages(mut self, packages: Vec<String>) -> Self {
        self.missing_packages = packages;
        self
    }

    pub fn argv(mut self, argv: &[String]) -> Self {
        self.argv = argv.to_vec();
        self
    }

    pub fn exit(mut self, exit: Option<Exit>) -> Self {
        self.exit = exit;
        self
    }

    pub fn tail(mut self, lines: &[String]) -> Self {
        self.log_tail = lines.to_vec();
        self
    }

    pub fn log(mut self, log: impl Into<PathBuf>) -> Self {
        self.log = Some(log.into());
        self
    }

    pub fn evidence(mut self, evidence: Option<Evidence>) -> Self {
        self.evidence = evidence;
        self
    }

    pub fn port(mut self, port: Option<u16>) -> Self {
        self.port = port;
        self
    }

    /// The program that ran, without its directory (`pip` for `.venv/bin/pip`).
    pub fn program(&self) -> &str {
        let first = self.argv.first().map(String::as_str).unwrap_or("");
        first.rsplit('/').next().unwrap_or(first)
    }

    /// The output lines, newest last, joined for rules that search across lines.
    pub fn text(&self) -> String {
        self.log_tail.join("\n")
    }

    /// Which step this is, for the per-step fix bound: stage, step kind and project.
    pub fn step_key(&self) -> String {
        format!("{}/{}/{}", self.stage.name(), self.step.name(), self.project)
    }
}

/// Parses "exit status 3" / "killed by signal 9" as the agents' exec helpers write them.
pub fn parse_exit(status: &str) -> Option<Exit> {
    if let Some(code) = status.strip_prefix("exit status ") {
        return code.trim().parse().ok().map(Exit::Code);
    }
    if let Some(signal) = status.strip_prefix("killed by signal ") {
        return signal.trim().parse().ok().map(Exit::Signal);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_are_read_from_the_status_text() {
        assert_eq!(parse_exit("exit status 3"), Some(Exit::Code(3)));
        assert_eq!(parse_exit("killed by signal 9"), Some(Exit::Signal(9)));
        assert_eq!(parse_exit("something else"), None);
    }

    #[test]
    fn the_step_key_ignores_everything_but_stage_step_and_project() {
        let a = Failure::new(Stage::Setup, StepKind::Install, "web").argv(&["npm".into(), "ci".into()]).port(Some(1));
        let b = Failure::new(Stage::Setup, StepKind::Install, "web").tail(&["x".into()]);
        assert_eq!(a.step_key(), b.step_key());
        assert_eq!(a.step_key(), "setup/install/web");
        assert_eq!(a.program(), "npm");
        assert_eq!(Failure::new(Stage::Setup, StepKind::Install, ".").argv(&[".venv/bin/pip".into()]).program(), "pip");
    }
}
