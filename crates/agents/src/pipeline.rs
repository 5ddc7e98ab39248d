//! The pipeline: seven stages driven by one deterministic transition function.
//!
//! ```text
//! Detection → Requirements → Setup → Db → Runner → Health → Done
//!                               ↘      ↘      ↘       ↘
//!                                 Fixer (bounded) → retry the failed stage, or Failed
//! ```
//!
//! Agents share a [`Blackboard`]: each reads the typed outputs of earlier stages and writes
//! its own. Which agent runs a stage is looked up in a [`Registry`], so any agent can be
//! replaced (by a user's own, or by a test double for a fault that cannot be caused for real).
//! Control flow never depends on a model: models work inside an agent's `run`, not here.
//!
//! A fix may need an earlier stage to run again (a new interpreter redoes Setup; a new start
//! command redoes Runner after a Health failure): the Fixer's action declares its `redo_from`
//! stage and [`transition`] goes back to it. The bounds on fixes (per failed step and per run)
//! live in the [`Machine`] the transition function works on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::failure::Failure;
use crate::fixer::{Approver, FixAttempt, FixStore, ListOnly};
use crate::models::Models;
use crate::plan::{Detection, ModelDecision, Requirements};
use crate::repo::RepoView;
use crate::requirements::Host;
use crate::services::RunningService;
use crate::up::{Cancel, HealthReport, PreparedProject, Reporter, RunningApp, Silent, StageStep, UpOptions};
use crate::workdir::WorkDir;

/// A stage of the pipeline, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Detection,
    Requirements,
    Setup,
    Db,
    Runner,
    Health,
    Fixer,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Detection => "detection",
            Stage::Requirements => "requirements",
            Stage::Setup => "setup",
            Stage::Db => "db",
            Stage::Runner => "runner",
            Stage::Health => "health",
            Stage::Fixer => "fixer",
        }
    }

    /// The stage after this one on the happy path.
    fn next(self) -> Option<Stage> {
        match self {
            Stage::Detection => Some(Stage::Requirements),
            Stage::Requirements => Some(Stage::Setup),
            Stage::Setup => Some(Stage::Db),
            Stage::Db => Some(Stage::Runner),
            Stage::Runner => Some(Stage::Health),
            Stage::Health | Stage::Fixer => None,
        }
    }

    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 7] =
        [Stage::Detection, Stage::Requirements, Stage::Setup, Stage::Db, Stage::Runner, Stage::Health, Stage::Fixer];

    /// The stage's row in the per-agent model table (`[models.<key>]`, `<KEY>_AGENT_MODEL`): the
    /// same word as its name, so one maps to the other (`repo_run::models` checks it).
    pub fn model_key(self) -> &'static str {
        self.name()
    }

    /// Whether a failure here goes to the Fixer. Detection and Requirements only read, so
    /// there is nothing for a fix to act on.
    fn fixable(self) -> bool {
        matches!(self, Stage::Setup | Stage::Db | Stage::Runner | Stage::Health)
    }
}

/// Stages are written by name (`"setup"`) in reports and failure evidence.
impl serde::Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// How far a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Detection and Requirements only: what `repo-run plan` shows.
    Plan,
    /// Every stage: what `repo-run up` does.
    Up,
}

impl Goal {
    fn last_stage(self) -> Stage {
        match self {
            Goal::Plan => Stage::Requirements,
            Goal::Up => Stage::Health,
        }
    }
}

/// The state of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Run(Stage),
    /// The Fixer is working on a failure of `step` (see [`Failure::step_key`]) in the `failed`
    /// stage; `attempt` counts that step's fixes from 1.
    Fix {
        failed: Stage,
        step: String,
        attempt: u32,
        /// The projects the failure is confined to, dropped if it is not fixed (see
        /// [`Event::Failed`]).
        drop: Vec<String>,
    },
    Done,
    Failed {
        stage: Stage,
    },
}

/// What happened in the current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Succeeded,
    /// A stage failed; `step` identifies the failed step for the per-step bound. `drop` names
    /// the projects the failure is confined to when other apps can come up without them (a
    /// monorepo whose frontend lacks a tool): if no fix helps, those projects are dropped and
    /// the stage runs again for the rest, instead of the whole run failing.
    Failed {
        step: String,
        drop: Vec<String>,
    },
    /// The Fixer applied a fix that asks to go back to `redo_from`.
    Fixed {
        redo_from: Stage,
    },
    /// The Fixer had nothing to apply (or was declined).
    NotFixed,
}

/// How many fixes a run may try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixLimits {
    /// Fixes for one failed step (stage, step kind, project).
    pub per_step: u32,
    /// Fixes in one run.
    pub per_run: u32,
}

impl Default for FixLimits {
    fn default() -> Self {
        FixLimits { per_step: 3, per_run: 8 }
    }
}

impl FixLimits {
    /// No Fixer at all (`--no-fix`).
    pub const NONE: FixLimits = FixLimits { per_step: 0, per_run: 0 };
}

/// The state machine's whole state: where the run is, and the fixes spent so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub state: State,
    /// Fixes applied per failed step.
    pub fixes_per_step: BTreeMap<String, u32>,
    pub fixes: u32,
    /// Projects given up on, in the order they were dropped.
    pub dropped: Vec<String>,
}

impl Machine {
    pub fn start() -> Self {
        Machine { state: State::Run(Stage::Detection), fixes_per_step: BTreeMap::new(), fixes: 0, dropped: Vec::new() }
    }

    /// The run failed for the projects in `drop` only: go on without them, from the failed
    /// stage (Runner for a Health failure: the Runner restarts the apps that remain, which
    /// stops the dropped one), or fail when there is nothing to drop.
    fn give_up(&mut self, failed: Stage, drop: &[String]) -> State {
        if drop.is_empty() {
            return State::Failed { stage: failed };
        }
        for project in drop {
            if !self.dropped.contains(project) {
                self.dropped.push(project.clone());
            }
        }
        State::Run(failed.min(Stage::Runner))
    }
}

/// The transition function: the whole control flow of the pipeline, bounds included.
pub fn transition(goal: Goal, limits: FixLimits, machine: &Machine, event: &Event) -> Machine {
    let mut next = machine.clone();
    next.state = match (&machine.state, event) {
        (State::Run(stage), Event::Succeeded) if *stage == goal.last_stage() => State::Done,
        (State::Run(stage), Event::Succeeded) => stage.next().map_or(State::Done, State::Run),
        (State::Run(stage), Event::Failed { step, drop }) if stage.fixable() => {
            let spent = machine.fixes_per_step.get(step).copied().unwrap_or(0);
            if spent < limits.per_step && machine.fixes < limits.per_run {
                State::Fix { failed: *stage, step: step.clone(), attempt: spent + 1, drop: drop.clone() }
            } else {
                next.give_up(*stage, drop)
            }
        }
        (State::Run(stage), Event::Failed { .. }) => State::Failed { stage: *stage },
        // A fix is in force: go back to the earliest stage it affects (never past the failed
        // one: the stages before it did not read the fix, or read it already).
        (State::Fix { failed, step, .. }, Event::Fixed { redo_from }) => {
            *next.fixes_per_step.entry(step.clone()).or_default() += 1;
            next.fixes += 1;
            State::Run((*redo_from).min(*failed))
        }
        (State::Fix { failed, drop, .. }, _) => next.give_up(*failed, drop),
        // Events that cannot happen in a state change nothing.
        (State::Run(_), Event::Fixed { .. } | Event::NotFixed) | (State::Done | State::Failed { .. }, _) => {
            machine.state.clone()
        }
    };
    next
}

/// Everything agents read and write during a run.
pub struct Blackboard {
    pub repo: RepoView,
    pub host: Host,
    pub detection: Option<Detection>,
    pub requirements: Option<Requirements>,
    /// `.repo-run/` of the project being brought up.
    pub workdir: WorkDir,
    pub options: UpOptions,
    pub reporter: Arc<dyn Reporter>,
    pub cancel: Cancel,
    /// Setup's output: one entry per project it prepared.
    pub prepared: Vec<PreparedProject>,
    /// Migrations (DB) and builds (Runner) that ran, with their times.
    pub steps: Vec<StageStep>,
    /// The DB agent's output: the services that are up, with their real URLs.
    pub services: Vec<RunningService>,
    /// The Runner's output.
    pub apps: Vec<RunningApp>,
    /// The Health agent's output.
    pub health: Vec<HealthReport>,
    /// The last failure, for the Fixer to diagnose.
    pub last_error: Option<AgentError>,
    /// The fixes in force (`.repo-run/fixes.toml`): agents apply them before they run.
    pub fixes: FixStore,
    /// What the Fixer tried in this run, in order.
    pub fix_attempts: Vec<FixAttempt>,
    /// Who consents to a fix.
    pub approver: Arc<dyn Approver>,
    /// The shared engine, when the run may ask models (created on the first ask).
    pub models: Option<Arc<dyn Models>>,
    /// Set by the Fixer with the stage its fix asks to go back to.
    pub redo_from: Option<Stage>,
    /// Projects given up on so that the others could come up, with why.
    pub dropped: Vec<DroppedProject>,
    /// Model decisions of this run that failed when tried (by project), so that Detection,
    /// when it runs again, offers the rest to the next model of the chain.
    pub rejected_decisions: Vec<(String, crate::plan::ModelDecision)>,
    /// Decisions models made while the apps ran (Health's reading of a log), by project, for
    /// the report.
    pub run_decisions: Vec<(String, crate::plan::ModelDecision)>,
}

/// A project the run went on without: its failure was its own, no fix helped, and other apps
/// could still come up.
#[derive(Debug, Clone)]
pub struct DroppedProject {
    pub project: String,
    pub stage: Stage,
    pub error: AgentError,
}

impl Blackboard {
    pub fn new(repo: RepoView, host: Host) -> Self {
        let workdir = WorkDir::new(repo.root());
        let fixes = FixStore::empty_at(&workdir);
        Blackboard {
            repo,
            host,
            detection: None,
            requirements: None,
            workdir,
            options: UpOptions::default(),
            reporter: Arc::new(Silent),
            cancel: Cancel::default(),
            prepared: Vec::new(),
            steps: Vec::new(),
            services: Vec::new(),
            apps: Vec::new(),
            health: Vec::new(),
            last_error: None,
            fixes,
            fix_attempts: Vec::new(),
            approver: Arc::new(ListOnly),
            models: None,
            redo_from: None,
            dropped: Vec::new(),
            rejected_decisions: Vec::new(),
            run_decisions: Vec::new(),
        }
    }

    /// The projects of `error` that the run could go on without: those it is confined to,
    /// when at least one app with a start command is left once they are gone. Empty when the
    /// failure is the whole run's.
    fn droppable(&self, error: &AgentError) -> Vec<String> {
        let confined = error.projects();
        let Some(detection) = &self.detection else { return Vec::new() };
        if confined.is_empty() {
            return Vec::new();
        }
        let app_left = detection.projects.iter().any(|p| {
            p.role == crate::plan::ProjectRole::App && p.start.is_some() && !confined.contains(&p.path.as_str())
        });
        if app_left { confined.into_iter().map(str::to_owned).collect() } else { Vec::new() }
    }

    /// Leaves the dropped projects out of the plan, so that no later stage (or a stage run
    /// again after a fix) works on them.
    fn forget_dropped(&mut self) {
        if self.dropped.is_empty() {
            return;
        }
        let dropped = |path: &str| self.dropped.iter().any(|d| d.project == path);
        if let Some(d) = &mut self.detection {
            d.projects.retain(|p| !dropped(&p.path));
        }
        if let Some(r) = &mut self.requirements {
            r.projects.retain(|p| !dropped(&p.project));
        }
        self.prepared.retain(|p| !dropped(&p.project));
    }

    /// The environment a command of `project` (path relative to the root) runs with, on top
    /// of repo-run's own: the project's `.env`, then Setup's extras, then the services' URLs
    /// (they carry the real host ports, so they win over `.env`), and `PATH` with the
    /// project's tool directories in front.
    pub fn project_env(&self, project: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let prepared = self.prepared.iter().find(|p| p.project == project);
        if let Some(p) = prepared {
            env.extend(p.dotenv.iter().map(|(k, v)| (k.clone(), v.clone())));
            env.extend(p.extra_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        // The catalogue's usual names first (DATABASE_URL, REDIS_URL, …), then the names the
        // requirements found in the code for each service.
        for service in &self.services {
            for var in &service.url_env {
                env.insert(var.clone(), service.url.clone());
            }
        }
        // A variable may name a part of the URL (`POSTGRES_HOST`, `DB_PORT`): it gets that part.
        for (var, kind) in self.service_vars(project) {
            if let Some(service) = self.services.iter().find(|s| s.kind == kind) {
                let value = crate::services::env_vars::value_for(&var, service);
                env.insert(var, value);
            }
        }
        // Fixes in force come last: a fix exists because the values before it did not work.
        env.extend(self.fixes.env(project));
        if let Some(p) = prepared.filter(|p| !p.path_prefix.is_empty()) {
            let mut paths: Vec<std::path::PathBuf> = p.path_prefix.clone();
            if let Some(path) = std::env::var_os("PATH") {
                paths.extend(std::env::split_paths(&path));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                env.insert("PATH".into(), joined.to_string_lossy().into_owned());
            }
        }
        env
    }

    /// Variables the requirements say come from a service, for `project`.
    fn service_vars(&self, project: &str) -> Vec<(String, crate::plan::ServiceKind)> {
        let Some(req) = &self.requirements else { return Vec::new() };
        req.projects
            .iter()
            .filter(|p| p.project == project)
            .flat_map(|p| &p.env)
            .filter_map(|e| match e.source {
                crate::plan::EnvSource::Service { service } => Some((e.name.clone(), service)),
                _ => None,
            })
            .collect()
    }
}

/// An agent failed. `hint` tells the user what to do next; `failure` is the typed evidence
/// the Fixer reads, when a step of the repository's (an install, a migration, the app) failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    pub stage: Stage,
    pub message: String,
    pub hint: Option<String>,
    pub failure: Option<Box<Failure>>,
    /// The projects this failure belongs to, when they are several or there is no typed
    /// evidence (a check that found tools missing for two projects); see [`AgentError::projects`].
    pub confined: Vec<String>,
}

impl AgentError {
    pub fn new(stage: Stage, message: impl Into<String>, hint: Option<String>) -> Self {
        AgentError { stage, message: message.into(), hint, failure: None, confined: Vec::new() }
    }

    /// The same error, carrying the typed evidence of the step that failed.
    pub fn with_failure(mut self, failure: Failure) -> Self {
        self.failure = Some(Box::new(failure));
        self
    }

    /// The same error, belonging to `projects` only: the others may come up without them.
    pub fn confined_to(mut self, projects: Vec<String>) -> Self {
        self.confined = projects;
        self
    }

    /// The projects the failure belongs to: those it was confined to, else its evidence's
    /// project; empty when it is the whole run's (Docker is down, a service failed).
    pub fn projects(&self) -> Vec<&str> {
        if !self.confined.is_empty() {
            return self.confined.iter().map(String::as_str).collect();
        }
        self.failure.iter().map(|f| f.project.as_str()).collect()
    }
}

/// One stage's worker.
pub trait Agent: Send + Sync {
    fn stage(&self) -> Stage;
    fn name(&self) -> &'static str;
    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError>;
}

/// Which agent runs each stage. Registering an agent for a stage replaces the previous one.
#[derive(Default)]
pub struct Registry {
    agents: BTreeMap<Stage, Box<dyn Agent>>,
}

impl Registry {
    /// The built-in agents. Setup, Db, Runner, Health and Fixer are not built in yet: a run
    /// with [`Goal::Up`] fails at Setup with an error that says so.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        r.register(Box::new(DetectionAgent));
        r.register(Box::new(RequirementsAgent));
        r
    }

    pub fn register(&mut self, agent: Box<dyn Agent>) {
        self.agents.insert(agent.stage(), agent);
    }

    pub fn get(&self, stage: Stage) -> Option<&dyn Agent> {
        self.agents.get(&stage).map(|a| a.as_ref())
    }
}

/// Progress reported while the pipeline runs, for the CLI to render.
#[derive(Debug, Clone)]
pub enum Progress {
    Started {
        stage: Stage,
        agent: &'static str,
    },
    Finished {
        stage: Stage,
        elapsed: Duration,
    },
    Failed {
        stage: Stage,
        error: AgentError,
    },
    /// The Fixer applied a fix; the run goes back to `redo_from`.
    Retrying {
        redo_from: Stage,
        attempt: u32,
    },
    /// A project failed for good and the run goes on with the others from `redo_from`.
    Dropped {
        project: String,
        redo_from: Stage,
    },
}

/// Drives the registry's agents through the state machine.
pub struct Pipeline {
    pub registry: Registry,
    pub limits: FixLimits,
}

impl Pipeline {
    pub fn new(registry: Registry) -> Self {
        Pipeline { registry, limits: FixLimits::default() }
    }

    /// Run until `goal` is reached or a stage fails for good. Returns the final state.
    pub fn run(&self, goal: Goal, board: &mut Blackboard, mut progress: impl FnMut(Progress)) -> State {
        let mut machine = Machine::start();
        loop {
            let stage = match &machine.state {
                State::Run(stage) => *stage,
                State::Fix { .. } => Stage::Fixer,
                State::Done | State::Failed { .. } => return machine.state,
            };
            let outcome = match self.registry.get(stage) {
                None => Err(AgentError::new(
                    stage,
                    format!("no agent is registered for the {} stage", stage.name()),
                    Some("this build of repo-run does not implement that stage yet".into()),
                )),
                Some(agent) => {
                    progress(Progress::Started { stage, agent: agent.name() });
                    let started = Instant::now();
                    let outcome = agent.run(board);
                    if outcome.is_ok() {
                        progress(Progress::Finished { stage, elapsed: started.elapsed() });
                    }
                    outcome
                }
            };
            let event = match (stage, outcome) {
                (Stage::Fixer, Ok(())) => {
                    let State::Fix { failed, attempt, .. } = &machine.state else {
                        unreachable!("the Fixer runs in Fix")
                    };
                    let redo_from = board.redo_from.take().unwrap_or(*failed);
                    progress(Progress::Retrying { redo_from: redo_from.min(*failed), attempt: *attempt });
                    Event::Fixed { redo_from }
                }
                (Stage::Fixer, Err(error)) => {
                    // The Fixer's error is the original failure with what it tried: the run
                    // ends with it, or goes on without the projects it is confined to.
                    progress(Progress::Failed { stage, error: error.clone() });
                    board.last_error = Some(error);
                    Event::NotFixed
                }
                (Stage::Detection | Stage::Requirements, Ok(())) => {
                    board.forget_dropped();
                    Event::Succeeded
                }
                (_, Ok(())) => Event::Succeeded,
                (_, Err(error)) => {
                    let step = error.failure.as_ref().map_or_else(|| stage.name().to_owned(), |f| f.step_key());
                    let drop = if goal == Goal::Up { board.droppable(&error) } else { Vec::new() };
                    progress(Progress::Failed { stage, error: error.clone() });
                    board.last_error = Some(error);
                    Event::Failed { step, drop }
                }
            };
            let before = machine.dropped.len();
            machine = transition(goal, self.limits, &machine, &event);
            if machine.dropped.len() > before {
                let (State::Run(redo_from), Some(error)) = (&machine.state, &board.last_error) else {
                    unreachable!("dropping a project goes on running after a failure")
                };
                for project in &machine.dropped[before..] {
                    progress(Progress::Dropped { project: project.clone(), redo_from: *redo_from });
                    board.dropped.push(DroppedProject {
                        project: project.clone(),
                        stage: error.stage,
                        error: error.clone(),
                    });
                }
                board.last_error = None;
                board.forget_dropped();
            }
        }
    }
}

/// `project: start chosen by the detection model (model, 1.2 s): answer (what was validated)`.
fn chosen_note(project: &str, d: &ModelDecision) -> String {
    format!(
        "{project}: {} chosen by the {} model ({}, {:.1} s): {} ({})",
        d.question,
        d.agent,
        d.model,
        d.latency_ms as f64 / 1000.0,
        d.answer,
        d.validated
    )
}

/// The built-in Detection agent: rules over the repository view.
pub struct DetectionAgent;

impl Agent for DetectionAgent {
    fn stage(&self) -> Stage {
        Stage::Detection
    }
    fn name(&self) -> &'static str {
        "rules"
    }
    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let mut detection = crate::detection::detect(&board.repo);
        // Rules first; the model only where they left a question open.
        if let Some(models) = &board.models {
            let reporter = board.reporter.clone();
            crate::detection::choose_start::choose_starts(
                &mut detection,
                &board.repo,
                models.as_ref(),
                &board.rejected_decisions,
                &mut |project| {
                    reporter.step(
                        Stage::Detection,
                        &format!("{project}: no rule finds a start command: asking the Detection model"),
                    );
                },
            );
            for project in &detection.projects {
                for d in project.decisions.iter().filter(|d| d.rejected.is_none()) {
                    reporter.note(Stage::Detection, &chosen_note(&project.path, d));
                }
            }
        }
        board.detection = Some(detection);
        Ok(())
    }
}

/// The built-in Requirements agent: version files, lock files and the host's runtimes.
pub struct RequirementsAgent;

impl Agent for RequirementsAgent {
    fn stage(&self) -> Stage {
        Stage::Requirements
    }
    fn name(&self) -> &'static str {
        "rules"
    }
    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let detection = board.detection.as_ref().ok_or_else(|| {
            AgentError::new(Stage::Requirements, "requirements need a detection result, and none was produced", None)
        })?;
        let mut requirements = crate::requirements::resolve(detection, &board.repo, &board.host);
        crate::fixer::choose_runtimes(&mut requirements, &board.fixes, &board.host);
        // Rules first; the model only for variables no rule classifies.
        if let Some(models) = &board.models {
            let reporter = board.reporter.clone();
            crate::requirements::classify_env::classify(
                &mut requirements.projects,
                &detection.projects,
                &board.repo,
                models.as_ref(),
                &mut |project, count| {
                    reporter.step(
                        Stage::Requirements,
                        &format!(
                            "{project}: no rule classifies {count} environment variable{}: asking the Requirements \
                             model",
                            if count == 1 { "" } else { "s" }
                        ),
                    );
                },
            );
            crate::requirements::choose_install::choose(
                &mut requirements.projects,
                &detection.projects,
                &board.repo,
                models.as_ref(),
                &mut |project| {
                    reporter.step(
                        Stage::Requirements,
                        &format!(
                            "{project}: no rule tells which requirements file runs the app: asking the Setup model"
                        ),
                    );
                },
            );
            for project in &requirements.projects {
                let is_env = |d: &&ModelDecision| d.question.starts_with("env ");
                for d in project.decisions.iter().filter(|d| !is_env(d)) {
                    reporter.note(
                        Stage::Requirements,
                        &match &d.rejected {
                            None => chosen_note(&project.project, d),
                            Some(why) => format!(
                                "{}: the {} model's answer for {} ({}) was refused: {why}",
                                project.project, d.agent, d.question, d.answer
                            ),
                        },
                    );
                }
                let (kept, refused): (Vec<&ModelDecision>, Vec<&ModelDecision>) =
                    project.decisions.iter().filter(is_env).partition(|d| d.rejected.is_none());
                let changed: Vec<String> = kept
                    .iter()
                    .filter(|d| d.answer != crate::requirements::classify_env::RULE_ANSWER)
                    .map(|d| format!("{} {}", d.question.trim_start_matches("env "), d.answer))
                    .collect();
                if let Some(d) = kept.first() {
                    reporter.note(
                        Stage::Requirements,
                        &format!(
                            "{}: {} variable{} classified by the {} model ({}, {:.1} s){}",
                            project.project,
                            kept.len(),
                            if kept.len() == 1 { "" } else { "s" },
                            d.agent,
                            d.model,
                            d.latency_ms as f64 / 1000.0,
                            if changed.is_empty() {
                                ": all left for you to supply".to_string()
                            } else {
                                format!(": {}", changed.join(", "))
                            }
                        ),
                    );
                }
                for d in refused {
                    reporter.note(
                        Stage::Requirements,
                        &format!(
                            "{}: the {} model's answer for {} ({}) was refused: {}",
                            project.project,
                            d.agent,
                            d.question.trim_start_matches("env "),
                            d.answer,
                            d.rejected.as_deref().unwrap_or_default()
                        ),
                    );
                }
            }
        }
        board.requirements = Some(requirements);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::StepKind;

    fn failed(step: &str) -> Event {
        Event::Failed { step: step.into(), drop: Vec::new() }
    }

    fn walk(goal: Goal, limits: FixLimits, events: &[Event]) -> Vec<State> {
        let mut machine = Machine::start();
        let mut seen = vec![machine.state.clone()];
        for e in events {
            machine = transition(goal, limits, &machine, e);
            seen.push(machine.state.clone());
        }
        seen
    }

    const OK: Event = Event::Succeeded;

    #[test]
    fn plan_stops_after_requirements() {
        let s = walk(Goal::Plan, FixLimits::default(), &[OK, OK]);
        assert_eq!(s.last(), Some(&State::Done));
    }

    #[test]
    fn up_goes_through_every_stage() {
        let s = walk(Goal::Up, FixLimits::default(), &[OK, OK, OK, OK, OK, OK]);
        let stages: Vec<_> = s.iter().filter_map(|s| if let State::Run(st) = s { Some(*st) } else { None }).collect();
        assert_eq!(
            stages,
            [Stage::Detection, Stage::Requirements, Stage::Setup, Stage::Db, Stage::Runner, Stage::Health]
        );
        assert_eq!(s.last(), Some(&State::Done));
    }

    #[test]
    fn a_fix_goes_back_to_the_stage_it_names_never_past_the_failed_one() {
        // Health fails; the fix (a new interpreter) redoes Setup.
        let events = [OK, OK, OK, OK, OK, failed("health/health/."), Event::Fixed { redo_from: Stage::Setup }];
        let s = walk(Goal::Up, FixLimits::default(), &events);
        assert_eq!(
            s[6],
            State::Fix { failed: Stage::Health, step: "health/health/.".into(), attempt: 1, drop: Vec::new() }
        );
        assert_eq!(s[7], State::Run(Stage::Setup));
        // Setup fails; a fix that names Runner still redoes Setup.
        let s = walk(Goal::Up, FixLimits::default(), &[OK, OK, failed("s"), Event::Fixed { redo_from: Stage::Runner }]);
        assert_eq!(s[4], State::Run(Stage::Setup));
    }

    #[test]
    fn detection_failure_is_final() {
        let s = walk(Goal::Up, FixLimits::default(), &[failed("detection")]);
        assert_eq!(s[1], State::Failed { stage: Stage::Detection });
    }

    #[test]
    fn nothing_to_fix_is_final() {
        let s = walk(Goal::Up, FixLimits::default(), &[OK, OK, failed("s"), Event::NotFixed]);
        assert_eq!(s[4], State::Failed { stage: Stage::Setup });
        let s = walk(Goal::Up, FixLimits::NONE, &[OK, OK, failed("s")]);
        assert_eq!(s[3], State::Failed { stage: Stage::Setup });
    }

    #[test]
    fn bounds_per_step_and_per_run_live_in_the_machine() {
        let limits = FixLimits { per_step: 2, per_run: 3 };
        let fix = Event::Fixed { redo_from: Stage::Setup };
        // The same step: two fixes, then the third failure is final.
        let s = walk(Goal::Up, limits, &[OK, OK, failed("a"), fix.clone(), failed("a"), fix.clone(), failed("a")]);
        assert_eq!(s[5], State::Fix { failed: Stage::Setup, step: "a".into(), attempt: 2, drop: Vec::new() });
        assert_eq!(s.last(), Some(&State::Failed { stage: Stage::Setup }));
        // Other steps count against the run's bound.
        let events =
            [OK, OK, failed("a"), fix.clone(), failed("b"), fix.clone(), failed("c"), fix.clone(), failed("d")];
        let s = walk(Goal::Up, limits, &events);
        assert_eq!(s.last(), Some(&State::Failed { stage: Stage::Setup }));
        let m = events.iter().fold(Machine::start(), |m, e| transition(Goal::Up, limits, &m, e));
        assert_eq!((m.fixes, m.fixes_per_step.get("a")), (3, Some(&1)));
    }

    fn failed_in(step: &str, projects: &[&str]) -> Event {
        Event::Failed { step: step.into(), drop: projects.iter().map(|p| (*p).to_owned()).collect() }
    }

    #[test]
    fn a_failure_confined_to_some_projects_drops_them_once_no_fix_helps() {
        // Setup fails for `web` only; the Fixer has nothing: Setup runs again without it.
        let events = [OK, OK, failed_in("setup/check/web", &["web"]), Event::NotFixed];
        let s = walk(Goal::Up, FixLimits::default(), &events);
        assert_eq!(s[4], State::Run(Stage::Setup));
        let m = events.iter().fold(Machine::start(), |m, e| transition(Goal::Up, FixLimits::default(), &m, e));
        assert_eq!(m.dropped, ["web"]);
        // With the Fixer off the same failure drops at once.
        let s = walk(Goal::Up, FixLimits::NONE, &[OK, OK, failed_in("s", &["web"])]);
        assert_eq!(s[3], State::Run(Stage::Setup));
        // A health failure goes back to the Runner, which restarts the apps that remain.
        let events = [OK, OK, OK, OK, OK, failed_in("health/health/web", &["web"]), Event::NotFixed];
        let s = walk(Goal::Up, FixLimits::default(), &events);
        assert_eq!(s[7], State::Run(Stage::Runner));
        // Nothing to drop (the whole run's failure): final, as before.
        let s = walk(Goal::Up, FixLimits::NONE, &[OK, OK, failed_in("s", &[])]);
        assert_eq!(s[3], State::Failed { stage: Stage::Setup });
    }

    #[test]
    fn a_fix_that_works_keeps_the_project() {
        let events = [OK, OK, failed_in("s", &["web"]), Event::Fixed { redo_from: Stage::Setup }];
        let m = events.iter().fold(Machine::start(), |m, e| transition(Goal::Up, FixLimits::default(), &m, e));
        assert_eq!((m.state, m.dropped.len()), (State::Run(Stage::Setup), 0));
    }

    /// Test doubles for faults that cannot be caused for real here: a Setup agent that always
    /// fails with typed evidence, and a Fixer that always claims a fix.
    struct FailingSetup;
    impl Agent for FailingSetup {
        fn stage(&self) -> Stage {
            Stage::Setup
        }
        fn name(&self) -> &'static str {
            "fake-always-fails"
        }
        fn run(&self, _: &mut Blackboard) -> Result<(), AgentError> {
            Err(AgentError::new(Stage::Setup, "boom", None).with_failure(Failure::new(
                Stage::Setup,
                StepKind::Install,
                ".",
            )))
        }
    }
    struct OptimisticFixer;
    impl Agent for OptimisticFixer {
        fn stage(&self) -> Stage {
            Stage::Fixer
        }
        fn name(&self) -> &'static str {
            "fake-always-fixes"
        }
        fn run(&self, _: &mut Blackboard) -> Result<(), AgentError> {
            Ok(())
        }
    }

    #[test]
    fn fix_retries_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::builtin();
        registry.register(Box::new(FailingSetup));
        registry.register(Box::new(OptimisticFixer));
        let pipeline = Pipeline::new(registry);
        let mut board = Blackboard::new(RepoView::open(dir.path()).unwrap(), Host::default());
        let mut fixer_runs = 0;
        let mut retries = Vec::new();
        let end = pipeline.run(Goal::Up, &mut board, |p| match p {
            Progress::Started { stage: Stage::Fixer, .. } => fixer_runs += 1,
            Progress::Retrying { redo_from, attempt } => retries.push((redo_from, attempt)),
            _ => {}
        });
        assert_eq!(end, State::Failed { stage: Stage::Setup });
        assert_eq!(fixer_runs, 3);
        assert_eq!(retries, [(Stage::Setup, 1), (Stage::Setup, 2), (Stage::Setup, 3)]);
        assert!(board.detection.is_some() && board.requirements.is_some());
    }

    #[test]
    fn missing_agent_fails_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = Pipeline::new(Registry::builtin());
        let mut board = Blackboard::new(RepoView::open(dir.path()).unwrap(), Host::default());
        let mut errors = Vec::new();
        let end = pipeline.run(Goal::Up, &mut board, |p| {
            if let Progress::Failed { error, .. } = p {
                errors.push(error.message);
            }
        });
        // No Fixer is registered either, so the failure is final after one look.
        assert_eq!(end, State::Failed { stage: Stage::Setup });
        assert!(errors[0].contains("no agent is registered for the setup stage"));
    }
}
