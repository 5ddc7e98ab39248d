//! The Fixer agent: a failed step's typed [`Failure`] in, one typed, validated, reversible
//! action out.
//!
//! 1. **Rules first** ([`rules`]): each rule recognises a failure signature and proposes
//!    candidate actions, most confident first. The first rule that recognises the failure
//!    names its signal, which makes the failure's signature.
//! 2. **The model only when no rule decides**: the Fixer's row of the per-agent table is asked,
//!    through the narrow [`Models`] trait, for one action under the action schema's grammar.
//! 3. **Validation** ([`validate`]) checks every proposal against the repository before it
//!    runs; a rejected proposal leads to no action.
//! 4. **Consent** ([`Approver`]): interactive `up` asks, `--ci` applies, without a terminal the
//!    proposal is only listed.
//! 5. **Apply**: the fix is recorded in `.repo-run/fixes.toml` (the agents read it from there:
//!    nothing edits a user's file) and in the log `.repo-run/fixes.jsonl`, and the pipeline goes
//!    back to the action's `redo_from` stage. The same action is never tried twice for one
//!    signature; the bounds on attempts live in the pipeline's transition function.

pub mod action;
mod apply;
mod choose_script;
pub mod model;
mod model_choice;
mod requirements_txt;
pub mod rules;
pub mod scripts;
pub mod store;
pub mod validate;
pub mod writeback;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::failure::Failure;
use crate::pipeline::{Agent, AgentError, Blackboard, Stage};

pub use action::FixAction;
pub use apply::undo_side_effects;
pub use model::{ModelReply, ModelRequest, Models};
pub use store::{FixRecord, FixStore};

/// What the user is asked to approve.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub action: FixAction,
    /// The action's one line.
    pub description: String,
    /// What was recognised ("SECRET_KEY is read at startup and not set").
    pub diagnosis: String,
    /// `rule:<id>` or `model:<model>`.
    pub source: String,
}

/// The answer to a [`Proposal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Apply,
    Decline,
    /// Nobody can be asked (no terminal, no `--ci`): list it, apply nothing.
    ListOnly,
}

/// Who consents to a fix; the CLI asks on a terminal.
pub trait Approver: Send + Sync {
    fn decide(&self, proposal: &Proposal) -> Decision;
}

/// Applies every proposal (`--ci`, tests).
pub struct ApplyAll;

impl Approver for ApplyAll {
    fn decide(&self, _: &Proposal) -> Decision {
        Decision::Apply
    }
}

/// Lists every proposal and applies none (no terminal and no `--ci`).
pub struct ListOnly;

impl Approver for ListOnly {
    fn decide(&self, _: &Proposal) -> Decision {
        Decision::ListOnly
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Declined,
    /// Shown, not applied: nobody could be asked.
    Proposed,
    /// Applying it failed (a system package that did not install).
    Failed(String),
    /// No rule or model had an action that passed validation; the detail says why (the
    /// rejections) or what the user must do.
    NoAction(String),
}

/// One thing the Fixer did, for the summary, the report and `fixes.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct FixAttempt {
    pub signature: String,
    /// `setup/install/web`: the per-step bound counts these.
    pub step: String,
    pub diagnosis: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<FixAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Time spent diagnosing (rules, model, validation), not applying.
    pub diagnosis_ms: u128,
    /// The fix's id in `fixes.toml` once applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_id: Option<String>,
}

/// The built-in Fixer.
pub struct FixerAgent;

impl Agent for FixerAgent {
    fn stage(&self) -> Stage {
        Stage::Fixer
    }

    fn name(&self) -> &'static str {
        "rules+model"
    }

    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let Some(original) = board.last_error.clone() else {
            return Err(AgentError::new(Stage::Fixer, "the Fixer ran with no failure to diagnose", None));
        };
        let Some(failure) = original.failure.as_deref().cloned() else {
            // Nothing typed to read (an internal error, a cancelled step): report it as it is.
            return Err(original);
        };
        if board.cancel.is_cancelled() {
            return Err(original);
        }
        if let Some(decision) = model_choice::failed_choice(board, &failure) {
            model_choice::reject(board, &failure.project, decision);
            return Ok(());
        }
        let started = Instant::now();
        let mut diagnosis = diagnose(board, &failure);
        let elapsed = started.elapsed();
        for d in std::mem::take(&mut diagnosis.decisions) {
            board.run_decisions.push((failure.project.clone(), d));
        }
        let mut attempt = FixAttempt {
            signature: diagnosis.signature.clone(),
            step: failure.step_key(),
            diagnosis: diagnosis.summary.clone(),
            source: String::new(),
            action: None,
            description: None,
            outcome: Outcome::NoAction(String::new()),
            diagnosis_ms: elapsed.as_millis(),
            fix_id: None,
        };
        for (action, source, why) in &diagnosis.rejected {
            log(board, &diagnosis.signature, source, Some(action), format!("rejected: {why}"));
        }
        let Some((action, source)) = diagnosis.chosen else {
            let why =
                diagnosis.explanation.unwrap_or_else(|| no_action_text(diagnosis.recognised, &diagnosis.rejected));
            board.reporter.note(Stage::Fixer, &format!("no fix for: {}; {why}", diagnosis.summary));
            log(board, &attempt.signature, "rules", None, format!("no action: {why}"));
            attempt.outcome = Outcome::NoAction(why.clone());
            board.fix_attempts.push(attempt);
            return Err(with_account(original, &why));
        };
        let description = action.describe();
        attempt.source = source.clone();
        attempt.description = Some(description.clone());
        attempt.action = Some(action.clone());
        let proposal =
            Proposal { action: action.clone(), description: description.clone(), diagnosis: diagnosis.summary, source };
        board.reporter.step(Stage::Fixer, &format!("{} → {description} ({})", proposal.diagnosis, proposal.source));
        match board.approver.decide(&proposal) {
            Decision::Apply => {}
            Decision::Decline => {
                log(board, &attempt.signature, &proposal.source, Some(&action), "declined".into());
                attempt.outcome = Outcome::Declined;
                board.fix_attempts.push(attempt);
                return Err(with_account(original, &format!("the proposed fix was declined: {description}")));
            }
            Decision::ListOnly => {
                log(board, &attempt.signature, &proposal.source, Some(&action), "proposed".into());
                attempt.outcome = Outcome::Proposed;
                board.fix_attempts.push(attempt);
                return Err(with_account(
                    original,
                    &format!(
                        "proposed fix, not applied (no terminal to ask; `repo-run up --ci` applies fixes without \
                         asking): {description}"
                    ),
                ));
            }
        }
        match apply::apply(board, &action, &attempt.signature, &proposal.source) {
            Ok(id) => {
                log(board, &attempt.signature, &proposal.source, Some(&action), "applied".into());
                board.reporter.note(Stage::Fixer, &format!("applied {id}: {description}"));
                attempt.outcome = Outcome::Applied;
                attempt.fix_id = Some(id);
                board.fix_attempts.push(attempt);
                board.redo_from = Some(action.redo_from());
                Ok(())
            }
            Err(why) => {
                log(board, &attempt.signature, &proposal.source, Some(&action), format!("failed: {why}"));
                attempt.outcome = Outcome::Failed(why.clone());
                board.fix_attempts.push(attempt);
                Err(with_account(original, &format!("applying `{description}` failed: {why}")))
            }
        }
    }
}

/// The Fixer's verdict on one failure, before anyone is asked.
struct Verdict {
    signature: String,
    summary: String,
    chosen: Option<(FixAction, String)>,
    rejected: Vec<(FixAction, String, String)>,
    explanation: Option<String>,
    /// A rule recognised the failure (its actions may all have been tried).
    recognised: bool,
    /// What a model of another agent decided on the way (the DB model's script), recorded
    /// whether it counted or not.
    decisions: Vec<crate::plan::ModelDecision>,
}

fn diagnose(board: &Blackboard, failure: &Failure) -> Verdict {
    let cx = rules::Context::new(failure, board);
    let diagnoses = if board.options.fixer_rules { rules::diagnose(&cx) } else { Vec::new() };
    let signal = diagnoses.first().map(|d| &d.signal);
    let signature = signature(failure, signal);
    let recognised = signal.is_some();
    let summary = signal.map_or_else(|| unrecognised(failure), |s| s.summary.clone());
    let facts =
        validate::Facts { root: board.repo.root(), board: Some(board), allow_system: board.options.allow_system };
    let mut rejected = Vec::new();
    let mut decisions = Vec::new();
    let consider = |action: &FixAction, source: String, rejected: &mut Vec<(FixAction, String, String)>| {
        if already_tried(board, &signature, action) {
            return false;
        }
        match validate::check(action, &facts) {
            Ok(()) => true,
            Err(why) => {
                rejected.push((action.clone(), source, why));
                false
            }
        }
    };
    for d in &diagnoses {
        // Candidates the rule could not order: the DB model may choose among those that could
        // run (the rule's order stands otherwise).
        if d.tied > 1
            && let Some(models) = &board.models
        {
            let open: Vec<&FixAction> = d.candidates[..d.tied]
                .iter()
                .filter(|a| !already_tried(board, &signature, a) && validate::check(a, &facts).is_ok())
                .collect();
            if open.len() > 1 {
                board.reporter.step(
                    Stage::Fixer,
                    &format!("{}: {} scripts fit equally: asking the DB model", d.signal.summary, open.len()),
                );
                let mut refused = |why: String| board.reporter.note(Stage::Fixer, &why);
                let dir = board.repo.root().join(if failure.project == "." { "" } else { failure.project.as_str() });
                let answer = choose_script::ask(&dir, d, &open, models.as_ref(), &mut refused);
                decisions.extend(answer.decision);
                if let Some(chosen) = answer.chosen {
                    return Verdict {
                        signature,
                        summary,
                        chosen: Some(chosen),
                        rejected,
                        explanation: None,
                        recognised,
                        decisions,
                    };
                }
            }
        }
        for action in &d.candidates {
            let source = format!("rule:{}", d.signal.rule);
            if consider(action, source.clone(), &mut rejected) {
                return Verdict {
                    signature,
                    summary,
                    chosen: Some((action.clone(), source)),
                    rejected,
                    explanation: None,
                    recognised,
                    decisions,
                };
            }
        }
    }
    // A rule that explains why nothing can be done decides: the model is not asked.
    let explanation = diagnoses.iter().find_map(|d| d.explanation.clone());
    if explanation.is_some() && diagnoses.iter().all(|d| d.candidates.is_empty()) {
        return Verdict { signature, summary, chosen: None, rejected, explanation, recognised, decisions };
    }
    if let Some(models) = &board.models {
        let request = model::request(board, failure, &board.fix_attempts);
        board.reporter.step(Stage::Fixer, "no rule decides: asking the Fixer model");
        let reply = models.ask(Stage::Fixer, &request);
        match reply.action() {
            Ok(action) => {
                let source = format!("model:{}", reply.model);
                if consider(&action, source.clone(), &mut rejected) {
                    return Verdict {
                        signature,
                        summary,
                        chosen: Some((action, source)),
                        rejected,
                        explanation,
                        recognised,
                        decisions,
                    };
                }
                if already_tried(board, &signature, &action) {
                    rejected.push((action, source, "already tried for this failure".into()));
                }
            }
            Err(why) => {
                board.reporter.note(Stage::Fixer, &format!("the Fixer model gave no usable action: {why}"));
            }
        }
    }
    Verdict { signature, summary, chosen: None, rejected, explanation, recognised, decisions }
}

/// What the rules alone make of a failure, as [`diagnose`] would before a model is asked: the
/// first candidate of the first recognising rule that passes validation. `repo-run eval
/// --agent fixer` measures the model against it.
pub fn rule_answer(board: &Blackboard, failure: &Failure) -> Option<FixAction> {
    let cx = rules::Context::new(failure, board);
    let facts =
        validate::Facts { root: board.repo.root(), board: Some(board), allow_system: board.options.allow_system };
    rules::diagnose(&cx).into_iter().flat_map(|d| d.candidates).find(|a| validate::check(a, &facts).is_ok())
}

/// Stage, step, project, and the rule's signal with its key values: the same failure gets the
/// same signature on every run.
pub fn signature(failure: &Failure, signal: Option<&rules::Signal>) -> String {
    match signal {
        Some(s) => {
            let keys: Vec<String> = s.keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}:{}:{}", failure.step_key(), s.rule, keys.join(","))
        }
        None => format!("{}:unrecognised:{}", failure.step_key(), normalised_last_line(failure)),
    }
}

/// The last meaningful output line with numbers and paths blurred, so pids, ports and temp
/// directories do not make two runs of one failure look different.
fn normalised_last_line(failure: &Failure) -> String {
    let line = failure.log_tail.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or("");
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| if w.contains('/') { "<path>".to_owned() } else { w.replace(|c: char| c.is_ascii_digit(), "#") })
        .collect();
    let mut text = words.join(" ");
    text.truncate(120);
    text
}

fn unrecognised(failure: &Failure) -> String {
    let what = if failure.argv.is_empty() { failure.step.name().to_owned() } else { failure.argv.join(" ") };
    format!("`{what}` failed in {} (no rule recognises it)", failure.project)
}

/// The same action was applied for this signature in this run, or is in force already.
fn already_tried(board: &Blackboard, signature: &str, action: &FixAction) -> bool {
    board.fix_attempts.iter().any(|a| a.signature == signature && a.action.as_ref() == Some(action))
        || board.fixes.records().iter().any(|r| same_fix(&r.action, action))
}

/// A generated secret in force is the same fix as a new proposal to generate one.
fn same_fix(in_force: &FixAction, proposed: &FixAction) -> bool {
    match (in_force, proposed) {
        (FixAction::SetEnv { project: p1, name: n1, .. }, FixAction::SetEnv { project: p2, name: n2, .. }) => {
            p1 == p2 && n1 == n2
        }
        _ => in_force == proposed,
    }
}

fn no_action_text(recognised: bool, rejected: &[(FixAction, String, String)]) -> String {
    if rejected.is_empty() && recognised {
        return "every fix the rules know for it was tried already".into();
    }
    if rejected.is_empty() {
        return "no rule recognises this failure and no model proposed a fix".into();
    }
    let reasons: Vec<String> = rejected.iter().map(|(a, _, why)| format!("`{}` ({why})", a.describe())).collect();
    format!("every candidate fix was rejected: {}", reasons.join("; "))
}

/// The original failure, with what the Fixer tried added to its hint.
fn with_account(mut original: AgentError, account: &str) -> AgentError {
    let hint = original.hint.take().map(|h| format!("{account}\n{h}")).unwrap_or_else(|| account.to_owned());
    original.hint = Some(hint);
    original
}

fn log(board: &Blackboard, signature: &str, source: &str, action: Option<&FixAction>, outcome: String) {
    let entry = store::LogEntry { time: crate::state::utc_now(), signature, source, action, outcome };
    if let Err(e) = store::append_log(&board.workdir, &entry) {
        board
            .reporter
            .note(Stage::Fixer, &format!("could not write {}: {e}", store::log_path(&board.workdir).display()));
    }
}

/// A runtime a fix in force chose replaces Requirements' own choice (so `plan` and Setup both
/// see it). A version no longer installed leaves the requirement as it was.
pub fn choose_runtimes(
    requirements: &mut crate::plan::Requirements,
    fixes: &FixStore,
    host: &crate::requirements::Host,
) {
    use crate::plan::{Runtime, RuntimeStatus, SelectedRuntime};
    for project in &mut requirements.projects {
        for r in &mut project.runtimes {
            let name = match r.runtime {
                Runtime::Python => action::RuntimeName::Python,
                Runtime::Node => action::RuntimeName::Node,
                Runtime::Rust => action::RuntimeName::Rust,
                _ => continue,
            };
            let Some(version) = fixes.runtime(&project.project, name) else { continue };
            let installed = host.managed(r.runtime).unwrap_or_default();
            let Some(t) = installed.into_iter().find(|t| t.version.as_deref() == Some(version) || t.name == version)
            else {
                continue;
            };
            r.installed = t.version.clone().or_else(|| Some(version.to_owned()));
            r.status = RuntimeStatus::Ok;
            r.selected = Some(SelectedRuntime {
                version: version.to_owned(),
                manager: t.manager.to_owned(),
                path: t.path.as_ref().map(|p| p.display().to_string()),
                toolchain: (t.manager == "rustup").then(|| t.name.clone()),
                note: format!("{} {version}, chosen by a fix in force (.repo-run/fixes.toml)", name.name()),
            });
        }
    }
}

/// The files of a project the Fixer may look through: what git does not ignore, without
/// dependency and build directories or repo-run's own, at most 8 levels down.
pub(crate) fn project_files(dir: &std::path::Path) -> impl Iterator<Item = ignore::DirEntry> {
    ignore::WalkBuilder::new(dir)
        .max_depth(Some(8))
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some("node_modules" | ".venv" | "target" | ".repo-run")))
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
}

/// How long the Fixer spent diagnosing in one run (rules, model and validation).
pub fn diagnosis_time(attempts: &[FixAttempt]) -> Duration {
    Duration::from_millis(attempts.iter().map(|a| a.diagnosis_ms as u64).sum())
}
