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

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::plan::{Detection, Requirements};
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

    /// Whether a failure here goes to the Fixer. Detection and Requirements only read, so
    /// there is nothing for a fix to act on.
    fn fixable(self) -> bool {
        matches!(self, Stage::Setup | Stage::Db | Stage::Runner | Stage::Health)
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
    /// The Fixer is working on a failure of `failed`; `attempt` counts from 1.
    Fix {
        failed: Stage,
        attempt: u32,
    },
    Done,
    Failed {
        stage: Stage,
    },
}

/// What happened in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Succeeded,
    Failed,
}

/// The transition function: the whole control flow of the pipeline.
pub fn transition(goal: Goal, max_fix_attempts: u32, state: &State, event: Event) -> State {
    match (state, event) {
        (State::Run(stage), Event::Succeeded) if *stage == goal.last_stage() => State::Done,
        (State::Run(stage), Event::Succeeded) => stage.next().map_or(State::Done, State::Run),
        (State::Run(stage), Event::Failed) if stage.fixable() && max_fix_attempts > 0 => {
            State::Fix { failed: *stage, attempt: 1 }
        }
        (State::Run(stage), Event::Failed) => State::Failed { stage: *stage },
        // A fix was applied: retry the stage that failed. If it fails again, the next fix
        // attempt is counted from the retry (see `Pipeline::run`).
        (State::Fix { failed, .. }, Event::Succeeded) => State::Run(*failed),
        (State::Fix { failed, .. }, Event::Failed) => State::Failed { stage: *failed },
        (State::Done | State::Failed { .. }, _) => state.clone(),
    }
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
}

impl Blackboard {
    pub fn new(repo: RepoView, host: Host) -> Self {
        let workdir = WorkDir::new(repo.root());
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
        }
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

/// An agent failed. `hint` tells the user what to do next.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    pub stage: Stage,
    pub message: String,
    pub hint: Option<String>,
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
    Started { stage: Stage, agent: &'static str },
    Finished { stage: Stage, elapsed: Duration },
    Failed { stage: Stage, error: AgentError },
}

/// Drives the registry's agents through the state machine.
pub struct Pipeline {
    pub registry: Registry,
    pub max_fix_attempts: u32,
}

impl Pipeline {
    pub fn new(registry: Registry) -> Self {
        Pipeline { registry, max_fix_attempts: 3 }
    }

    /// Run until `goal` is reached or a stage fails for good. Returns the final state.
    pub fn run(&self, goal: Goal, board: &mut Blackboard, mut progress: impl FnMut(Progress)) -> State {
        let mut state = State::Run(Stage::Detection);
        let mut fix_attempts: BTreeMap<Stage, u32> = BTreeMap::new();
        loop {
            let stage = match &state {
                State::Run(stage) => *stage,
                State::Fix { .. } => Stage::Fixer,
                State::Done | State::Failed { .. } => return state,
            };
            let event = match self.registry.get(stage) {
                None => {
                    let error = AgentError {
                        stage,
                        message: format!("no agent is registered for the {} stage", stage.name()),
                        hint: Some("this build of repo-run does not implement that stage yet".into()),
                    };
                    progress(Progress::Failed { stage, error: error.clone() });
                    board.last_error = Some(error);
                    Event::Failed
                }
                Some(agent) => {
                    progress(Progress::Started { stage, agent: agent.name() });
                    let started = Instant::now();
                    match agent.run(board) {
                        Ok(()) => {
                            progress(Progress::Finished { stage, elapsed: started.elapsed() });
                            Event::Succeeded
                        }
                        Err(error) => {
                            progress(Progress::Failed { stage, error: error.clone() });
                            board.last_error = Some(error);
                            Event::Failed
                        }
                    }
                }
            };
            let mut next = transition(goal, self.max_fix_attempts, &state, event);
            // Bound the fixes per stage across retries.
            if let State::Fix { failed, .. } = next {
                let n = fix_attempts.entry(failed).or_default();
                *n += 1;
                next = if *n > self.max_fix_attempts {
                    State::Failed { stage: failed }
                } else {
                    State::Fix { failed, attempt: *n }
                };
            }
            state = next;
        }
    }
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
        board.detection = Some(crate::detection::detect(&board.repo));
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
        let detection = board.detection.as_ref().ok_or_else(|| AgentError {
            stage: Stage::Requirements,
            message: "requirements need a detection result, and none was produced".into(),
            hint: None,
        })?;
        board.requirements = Some(crate::requirements::resolve(detection, &board.repo, &board.host));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(goal: Goal, outcomes: &[Event]) -> Vec<State> {
        let mut state = State::Run(Stage::Detection);
        let mut seen = vec![state.clone()];
        for &e in outcomes {
            state = transition(goal, 2, &state, e);
            seen.push(state.clone());
        }
        seen
    }

    #[test]
    fn plan_stops_after_requirements() {
        let s = walk(Goal::Plan, &[Event::Succeeded, Event::Succeeded]);
        assert_eq!(s.last(), Some(&State::Done));
    }

    #[test]
    fn up_goes_through_every_stage() {
        let s = walk(Goal::Up, &[Event::Succeeded; 6]);
        let stages: Vec<_> = s.iter().filter_map(|s| if let State::Run(st) = s { Some(*st) } else { None }).collect();
        assert_eq!(
            stages,
            [Stage::Detection, Stage::Requirements, Stage::Setup, Stage::Db, Stage::Runner, Stage::Health]
        );
        assert_eq!(s.last(), Some(&State::Done));
    }

    #[test]
    fn failures_go_to_the_fixer_then_retry() {
        let s = walk(Goal::Up, &[Event::Succeeded, Event::Succeeded, Event::Failed, Event::Succeeded]);
        assert_eq!(s[3], State::Fix { failed: Stage::Setup, attempt: 1 });
        assert_eq!(s[4], State::Run(Stage::Setup));
    }

    #[test]
    fn detection_failure_is_final() {
        let s = walk(Goal::Up, &[Event::Failed]);
        assert_eq!(s[1], State::Failed { stage: Stage::Detection });
    }

    #[test]
    fn unfixable_failure_is_final() {
        let s = walk(Goal::Up, &[Event::Succeeded, Event::Succeeded, Event::Failed, Event::Failed]);
        assert_eq!(s[4], State::Failed { stage: Stage::Setup });
    }

    /// A stand-in Setup agent that always fails and a Fixer that always "fixes": the only way
    /// to show the retry bound without the real Setup agent (not built yet).
    struct FailingSetup;
    impl Agent for FailingSetup {
        fn stage(&self) -> Stage {
            Stage::Setup
        }
        fn name(&self) -> &'static str {
            "fake-always-fails"
        }
        fn run(&self, _: &mut Blackboard) -> Result<(), AgentError> {
            Err(AgentError { stage: Stage::Setup, message: "boom".into(), hint: None })
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
        let end = pipeline.run(Goal::Up, &mut board, |p| {
            if let Progress::Started { stage: Stage::Fixer, .. } = p {
                fixer_runs += 1;
            }
        });
        assert_eq!(end, State::Failed { stage: Stage::Setup });
        assert_eq!(fixer_runs, 3);
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
        assert_eq!(end, State::Failed { stage: Stage::Setup });
        assert!(errors[0].contains("no agent is registered for the setup stage"));
    }
}
