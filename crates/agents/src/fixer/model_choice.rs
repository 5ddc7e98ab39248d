//! A start command a model chose that fails when tried is the model's answer failing
//! validation at run time, not a failure for a repair: the answer is rejected and Detection
//! runs again, offering the other documented commands to the next model of the chain.

use super::rules;
use crate::failure::{Exit, Failure, StepKind};
use crate::pipeline::{Blackboard, Stage};
use crate::plan::ModelDecision;

/// The model decision `failure` proves wrong: the project's start command is a model's
/// choice, its process exited before the app was healthy, and no rule knows the failure (a
/// missing secret is the rules' to fix, whoever chose the command).
pub fn failed_choice(board: &Blackboard, failure: &Failure) -> Option<ModelDecision> {
    if !matches!(failure.stage, Stage::Runner | Stage::Health)
        || !matches!(failure.step, StepKind::Start | StepKind::Health)
    {
        return None;
    }
    // The process must have ended: a start command that runs but does not answer may be the
    // right one, slow or misconfigured, and is the rules' to diagnose.
    let exit = match failure.exit {
        Some(Exit::Running) => return None,
        Some(Exit::Code(code)) => format!("exited with code {code}"),
        Some(Exit::Signal(signal)) => format!("was killed by signal {signal}"),
        // Health judged a process that was gone: its report says how it ended.
        None => {
            let app = board.apps.iter().find(|a| a.project == failure.project)?;
            let report = board.health.iter().find(|h| h.target == app.name && !h.healthy)?;
            report.detail.starts_with("exited").then(|| report.detail.clone())?
        }
    };
    let project = board.detection.as_ref()?.projects.iter().find(|p| p.path == failure.project)?;
    let start = project.start.as_ref()?;
    let decision = project
        .decisions
        .iter()
        .find(|d| d.question == "start" && d.rejected.is_none() && d.answer == start.display)?;
    if board.options.fixer_rules && !rules::diagnose(&rules::Context::new(failure, board)).is_empty() {
        return None;
    }
    let last = failure.log_tail.iter().rev().find(|l| !l.trim().is_empty());
    let why = match last {
        Some(line) => format!("it {exit} before the app was healthy (last line: {})", line.trim()),
        None => format!("it {exit} before the app was healthy"),
    };
    Some(ModelDecision { rejected: Some(why), ..decision.clone() })
}

/// Rejects `decision` for the failed project and sends the run back to Detection.
pub fn reject(board: &mut Blackboard, project: &str, decision: ModelDecision) {
    board.reporter.note(
        Stage::Fixer,
        &format!(
            "{project}: the {} model's start command `{}` failed: {}; asking the next model of the chain",
            decision.agent,
            decision.answer,
            decision.rejected.as_deref().unwrap_or("")
        ),
    );
    board.rejected_decisions.push((project.to_owned(), decision));
    board.redo_from = Some(Stage::Detection);
}
