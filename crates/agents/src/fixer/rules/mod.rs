//! The catalogue of failure signatures: one file per rule, each mapping a typed [`Failure`] to
//! a [`Diagnosis`]: the signal it recognised (with its key values, which make the failure's
//! signature) and candidate actions, most confident first.
//!
//! Rules read the failure's fields (step, program, log lines, port) and the repository through
//! [`Context`]; they never run anything. Every rule has positive and negative tests on real
//! log text next to it.

mod address_in_use;
mod database_missing;
pub(crate) mod dependency_api_changed;
mod distutils_removed;
mod django_no_database;
mod engine_mismatch;
mod missing_headers;
mod missing_setting;
mod missing_table;
mod no_wheel_for_pin;
mod peer_conflict;
mod start_file_missing;

use std::path::Path;

use crate::failure::Failure;
use crate::pipeline::Blackboard;
use crate::plan::Project;

use super::action::FixAction;

/// What a rule recognised in a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub rule: &'static str,
    /// The values that identify this failure among others of its kind (a variable's name, a
    /// package): never timestamps, ports, temporary paths or pids.
    pub keys: Vec<(&'static str, String)>,
    /// One line for people: "SECRET_KEY is read at startup and not set".
    pub summary: String,
}

/// A rule's verdict: the signal, the actions that may repair it (best first), and, when no
/// action can, what the user must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub signal: Signal,
    pub candidates: Vec<FixAction>,
    /// Said instead of (or after) the candidates: "port 3000 is held by pid 42 (node)".
    pub explanation: Option<String>,
    /// How many of the first candidates the rule could not order (equally good by everything
    /// it knows): more than one is a question for a model (which of the tied scripts creates
    /// the missing table is the DB model's).
    pub tied: usize,
}

impl Diagnosis {
    pub fn new(rule: &'static str, keys: Vec<(&'static str, String)>, summary: impl Into<String>) -> Self {
        Diagnosis {
            signal: Signal { rule, keys, summary: summary.into() },
            candidates: Vec::new(),
            explanation: None,
            tied: 0,
        }
    }

    pub fn with(mut self, action: FixAction) -> Self {
        self.candidates.push(action);
        self
    }

    pub fn explain(mut self, text: impl Into<String>) -> Self {
        self.explanation = Some(text.into());
        self
    }
}

/// One rule of the catalogue.
pub trait Rule: Sync {
    /// Stable id (`python.missing-setting`), used in signatures, logs and the report.
    fn id(&self) -> &'static str;
    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis>;
}

/// Every rule, most specific first: the first that recognises a failure decides its signal.
pub static ALL: &[&dyn Rule] = &[
    &address_in_use::AddressInUse,
    &peer_conflict::PeerConflict,
    // A wheel of a nearby version needs no system change: before the headers rule.
    &no_wheel_for_pin::NoWheelForPin,
    &engine_mismatch::EngineMismatch,
    &missing_headers::MissingHeaders,
    &django_no_database::DjangoNoDatabase,
    &database_missing::DatabaseMissing,
    &missing_table::MissingTable,
    &start_file_missing::StartFileMissing,
    &distutils_removed::DistutilsRemoved,
    &dependency_api_changed::DependencyApiChanged,
    &missing_setting::MissingSetting,
];

/// Every rule's verdict on `cx.failure`, in catalogue order.
pub fn diagnose(cx: &Context<'_>) -> Vec<Diagnosis> {
    ALL.iter().filter_map(|rule| rule.diagnose(cx)).collect()
}

/// What a rule may look at: the failure and the repository (read-only).
pub struct Context<'a> {
    pub failure: &'a Failure,
    pub root: &'a Path,
    /// The detected project the failure belongs to.
    pub project: Option<&'a Project>,
    pub board: Option<&'a Blackboard>,
}

impl<'a> Context<'a> {
    pub fn new(failure: &'a Failure, board: &'a Blackboard) -> Self {
        let project = board.detection.as_ref().and_then(|d| d.projects.iter().find(|p| p.path == failure.project));
        Context { failure, root: board.repo.root(), project, board: Some(board) }
    }

    /// A context with no blackboard, for rule tests on a directory.
    pub fn bare(failure: &'a Failure, root: &'a Path) -> Self {
        Context { failure, root, project: None, board: None }
    }

    /// The project's directory.
    pub fn project_dir(&self) -> std::path::PathBuf {
        if self.failure.project == "." { self.root.to_path_buf() } else { self.root.join(&self.failure.project) }
    }

    /// The output lines, oldest first.
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &'a str> + 'a {
        self.failure.log_tail.iter().map(String::as_str)
    }

    /// Whether any output line contains `needle`.
    pub fn mentions(&self, needle: &str) -> bool {
        self.failure.log_tail.iter().any(|l| l.contains(needle))
    }

    /// Files named `name` in the project (relative to it, `/`-separated), skipping what git
    /// ignores and dependency directories.
    pub fn files_named(&self, name: &str) -> Vec<String> {
        let dir = self.project_dir();
        crate::fixer::project_files(&dir)
            .filter(|e| e.file_name() == name)
            .filter_map(|e| e.path().strip_prefix(&dir).ok().map(|p| p.to_string_lossy().replace('\\', "/")))
            .collect()
    }

    /// A file of the project, read as text (small files only: manifests, Makefiles).
    pub fn read(&self, rel: &str) -> Option<String> {
        let path = self.project_dir().join(rel);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > 1024 * 1024 {
            return None;
        }
        std::fs::read_to_string(path).ok()
    }
}

/// The text between the first `open` after `start` and the next `close`: `quoted("KeyError:
/// 'X'", "'", "'")` is `X`.
pub(crate) fn between<'t>(text: &'t str, after: &str, close: char) -> Option<&'t str> {
    let start = text.find(after)? + after.len();
    let rest = &text[start..];
    let end = rest.find(close)?;
    Some(&rest[..end])
}

/// Whether `name` looks like an environment variable name (`SECRET_KEY`, `DATABASE_URL`).
pub(crate) fn env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::failure::{Exit, Failure, StepKind};
    use crate::pipeline::Stage;

    /// A failure of `step` with `log` as its output (real log text in the tests).
    pub fn failure(stage: Stage, step: StepKind, argv: &[&str], log: &str) -> Failure {
        Failure::new(stage, step, ".")
            .argv(&argv.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .exit(Some(Exit::Code(1)))
            .tail(&log.lines().map(str::to_owned).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(between("KeyError: 'SECRET_KEY'", "KeyError: '", '\''), Some("SECRET_KEY"));
        assert_eq!(between("nothing", "KeyError: '", '\''), None);
        assert!(env_name("SECRET_KEY") && env_name("_X1") && !env_name("secret") && !env_name("1X") && !env_name(""));
    }

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
