//! The agents' [`Models`] trait on the shared inference engine: one engine for the whole `up`,
//! created the first time a step asks a model (a run that never asks loads nothing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use repo_run_agents::fixer::{ModelReply, ModelRequest, Models};
use repo_run_agents::pipeline::Stage;
use repo_run_inference::{Agent, Engine, EngineConfig, ModelLocation, ModelRef, ModelTable, Options, Prompt};

pub struct EngineModels {
    root: PathBuf,
    engine: OnceLock<Result<Engine, String>>,
    /// Each agent's chain as routed, worked out on its first question.
    routes: Mutex<BTreeMap<Agent, Vec<ModelRef>>>,
}

impl EngineModels {
    pub fn new(root: &Path) -> Self {
        EngineModels { root: root.to_owned(), engine: OnceLock::new(), routes: Mutex::default() }
    }

    /// With a table already resolved (tests that choose their model).
    #[cfg(test)]
    pub fn with_table(table: ModelTable) -> Self {
        EngineModels {
            root: PathBuf::new(),
            engine: OnceLock::from(Ok(cpu_engine(table, None))),
            routes: Mutex::default(),
        }
    }

    fn engine(&self) -> Result<&Engine, String> {
        self.engine
            .get_or_init(|| {
                let table =
                    ModelTable::from_env(None, Some(&self.root.join("repo-run.toml"))).map_err(|e| e.to_string())?;
                let telemetry = Some(self.root.join(repo_run_inference::telemetry::TELEMETRY_FILE));
                Ok(cpu_engine(table, telemetry))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The engine `up` asks through, within the machine's memory budget.
fn cpu_engine(table: ModelTable, telemetry: Option<PathBuf>) -> Engine {
    Engine::new(EngineConfig { table, memory_budget: repo_run_inference::default_budget(), n_gpu_layers: 0, telemetry })
}

/// The model table's row for a pipeline stage: the same word names both.
pub fn agent_of(stage: Stage) -> Result<Agent, String> {
    Agent::from_str(stage.model_key()).map_err(|e| e.to_string())
}

impl Models for EngineModels {
    fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
        let started = std::time::Instant::now();
        let elapsed_ms = || started.elapsed().as_millis() as u64;
        let engine = match self.engine() {
            Ok(engine) => engine,
            Err(e) => {
                return ModelReply {
                    model: "none".into(),
                    json: Err(format!("no model table: {e}")),
                    elapsed_ms: elapsed_ms(),
                };
            }
        };
        let agent = match agent_of(stage) {
            Ok(agent) => agent,
            Err(e) => return ModelReply { model: "none".into(), json: Err(e), elapsed_ms: elapsed_ms() },
        };
        // The agent's chain as routed (its model, then its fallback, unless measured accuracy
        // says otherwise), from the position escalation names.
        let routed = {
            let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            routes.entry(agent).or_insert_with(|| route(engine.table(), agent, engine.table().router_threshold)).clone()
        };
        let mut failures = Vec::new();
        let chain: Vec<_> = routed.iter().skip(request.escalation).collect();
        if chain.is_empty() {
            let e = format!("no model left in the {} row's chain to escalate to", stage.model_key());
            return ModelReply { model: "none".into(), json: Err(e), elapsed_ms: elapsed_ms() };
        }
        for model in chain {
            match ask_one(engine, agent, model, request).1 {
                Ok(json) => return ModelReply { model: model.to_string(), json: Ok(json), elapsed_ms: elapsed_ms() },
                Err(e) => failures.push(format!("{model}: {e}")),
            }
        }
        ModelReply { model: "none".into(), json: Err(failures.join("; ")), elapsed_ms: elapsed_ms() }
    }
}

/// One model's answer to `request` under its schema's grammar, with the generation (token
/// counts) when the engine produced one. Shared by `up`'s chain and `repo-run eval`.
pub fn ask_one(
    engine: &Engine,
    agent: Agent,
    model: &ModelRef,
    request: &ModelRequest,
) -> (Option<repo_run_inference::Generation>, Result<serde_json::Value, String>) {
    // The request describes its answer itself, so the grammar alone carries the schema.
    let prompt = Prompt { system: Some(request.system.clone()), history: Vec::new(), user: request.user.clone() };
    let options = Options { max_tokens: Some(request.max_tokens), ..Options::default() };
    match engine.generate_json(agent, model, &prompt, &request.schema, &options) {
        Ok(g) => {
            let json = serde_json::from_str(g.text.trim()).map_err(|e| format!("{e}: {}", g.text));
            (Some(g), json)
        }
        Err(e) => (None, Err(e.to_string())),
    }
}

/// The order an agent's questions walk: its chain (its model, then its fallback), then the
/// other models on this machine that `repo-run eval` measured for the agent (so a capable
/// model fetched and evaluated here is used without editing the table), ordered by the
/// evaluation history in the user's data directory.
pub fn route(table: &ModelTable, agent: Agent, threshold: f64) -> Vec<ModelRef> {
    let row = table.get(agent);
    let mut chain: Vec<ModelRef> = std::iter::once(row.model.clone()).chain(row.fallback.clone()).collect();
    let history = crate::history::latest(agent.key());
    if history.is_empty() {
        return chain;
    }
    let measured_file = |model: &ModelRef| {
        // Remote models are not routed (no file to key their history by).
        let ModelLocation::File(path) = table.locate(model) else { return None };
        let size = std::fs::metadata(&path).ok()?.len();
        let sha = crate::history::model_sha256(&path).ok()?;
        Some((size, sha))
    };
    let mut measured: Vec<Option<(u64, f64)>> = chain
        .iter()
        .map(|model| {
            let (size, sha) = measured_file(model)?;
            history.get(&sha).map(|r| (size, r.accuracy))
        })
        .collect();
    for record in history.values() {
        let model = ModelRef::parse(&record.model);
        if chain.contains(&model) {
            continue;
        }
        // Only the very file that was measured: same name, same contents.
        if let Some((size, _)) = measured_file(&model).filter(|(_, sha)| *sha == record.sha256) {
            chain.push(model);
            measured.push(Some((size, record.accuracy)));
        }
    }
    let routed = route_by(&chain, &measured, threshold);
    if routed[0] != chain[0] {
        tracing::info!(agent = agent.key(), model = %routed[0], "routed by measured accuracy");
    }
    routed
}

/// `chain` reordered by `measured` (file size and accuracy per model, when measured): with
/// no measurement the order stands (every user's first run); otherwise the smallest model
/// whose accuracy meets `threshold` goes first, or, when none does, the most accurate one, and
/// the rest follow in chain order for escalation.
fn route_by(chain: &[ModelRef], measured: &[Option<(u64, f64)>], threshold: f64) -> Vec<ModelRef> {
    let known: Vec<(usize, u64, f64)> =
        measured.iter().enumerate().filter_map(|(i, m)| m.map(|(size, accuracy)| (i, size, accuracy))).collect();
    let pick = known
        .iter()
        .filter(|(_, _, a)| *a >= threshold)
        .min_by_key(|(_, size, _)| *size)
        .or_else(|| known.iter().max_by(|x, y| x.2.total_cmp(&y.2)))
        .map(|(i, _, _)| *i);
    let Some(first) = pick else { return chain.to_vec() };
    let mut routed = vec![chain[first].clone()];
    routed.extend(chain.iter().enumerate().filter(|(i, _)| *i != first).map(|(_, m)| m.clone()));
    routed
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use repo_run_agents::RepoView;
    use repo_run_agents::failure::{Exit, Failure, StepKind};
    use repo_run_agents::fixer::{ApplyAll, FixAction, FixerAgent, Outcome};
    use repo_run_agents::pipeline::{Agent as _, AgentError, Blackboard};
    use repo_run_agents::requirements::Host;
    use repo_run_inference::table::SMOLLM2_135M;

    use super::*;

    #[test]
    fn the_router_sends_questions_to_the_smallest_model_that_is_accurate_enough() {
        let small = ModelRef::Name("small.gguf".into());
        let large = ModelRef::Name("large.gguf".into());
        let chain = [small.clone(), large.clone()];
        let order = |measured: &[Option<(u64, f64)>]| route_by(&chain, measured, 0.8);
        assert_eq!(order(&[None, None]), chain, "no history: the row's order");
        assert_eq!(order(&[Some((100, 0.5)), Some((900, 0.9))]), [large.clone(), small.clone()]);
        assert_eq!(order(&[Some((100, 0.85)), Some((900, 0.95))]), chain, "the smaller one is accurate enough");
        assert_eq!(order(&[Some((100, 0.3)), Some((900, 0.6))]), [large.clone(), small.clone()], "none is: the best");
        assert_eq!(order(&[None, Some((900, 0.9))]), [large, small], "only the fallback was measured");
    }

    fn model_dir() -> PathBuf {
        let dir = std::env::var_os(repo_run_inference::env_vars::REPO_RUN_MODEL_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(repo_run_inference::table::default_model_dir);
        assert!(
            dir.join(SMOLLM2_135M).is_file(),
            "{SMOLLM2_135M} is not in {}: run `cargo xtask models`",
            dir.display()
        );
        dir
    }

    /// A repository whose app failed in a way no rule knows, with the Fixer's board.
    fn unrecognised_failure(dir: &Path) -> Blackboard {
        std::fs::write(dir.join("app.py"), "import os\nprint(os.environ.get('MODE'))\n").unwrap();
        std::fs::write(dir.join("requirements.txt"), "flask\n").unwrap();
        let mut board = Blackboard::new(RepoView::open(dir).unwrap(), Host::default());
        board.detection = Some(repo_run_agents::detection::detect(&board.repo));
        board.approver = Arc::new(ApplyAll);
        let failure = Failure::new(Stage::Health, StepKind::Health, ".")
            .argv(&["python".into(), "app.py".into()])
            .exit(Some(Exit::Code(1)))
            .tail(&["Traceback (most recent call last):".into(), "SystemExit: unsupported MODE value 'blue'".into()]);
        board.last_error = Some(AgentError::new(Stage::Health, "app is not healthy", None).with_failure(failure));
        board
    }

    /// The real small model through the engine: its answer is forced by the action schema's
    /// grammar, so it always parses as an action; validation then accepts or rejects it, and
    /// a rejected proposal changes nothing.
    #[test]
    fn the_fixer_model_answers_with_a_schema_action_that_validation_judges() {
        let dir = tempfile::tempdir().unwrap();
        let mut board = unrecognised_failure(dir.path());
        let models_dir = model_dir().display().to_string();
        let env = move |name: &str| match name {
            "REPO_RUN_MODEL_DIR" => Some(models_dir.clone()),
            "FIXER_AGENT_MODEL" => Some(SMOLLM2_135M.to_owned()),
            _ => None,
        };
        let table = ModelTable::load(Some(repo_run_inference::Profile::Local), None, &env).unwrap();
        let models = EngineModels::with_table(table);
        // Straight through the trait first: grammar-forced JSON that is a FixAction.
        let request = repo_run_agents::fixer::model::request(
            &board,
            board.last_error.as_ref().unwrap().failure.as_deref().unwrap(),
            &[],
        );
        let reply = models.ask(Stage::Fixer, &request);
        assert!(reply.model.contains("SmolLM2"), "{reply:?}");
        let action = reply.action().unwrap_or_else(|e| panic!("the grammar forces an action: {e}"));
        eprintln!("SmolLM2 proposed: {action:?}");

        board.models = Some(Arc::new(models));
        let result = FixerAgent.run(&mut board);
        let attempt = &board.fix_attempts[0];
        let log = std::fs::read_to_string(dir.path().join(".repo-run/fixes.jsonl")).unwrap_or_default();
        eprintln!("attempt: {attempt:?}\nlog: {log}");
        assert!(log.contains("\"source\":\"model:"), "the model was asked and its proposal logged: {log}");
        match &attempt.outcome {
            Outcome::Applied => {
                assert!(result.is_ok() && attempt.source.starts_with("model:"));
                assert!(dir.path().join(".repo-run/fixes.toml").is_file());
            }
            Outcome::NoAction(why) => {
                assert!(result.is_err() && why.contains("rejected"), "{why}");
                assert!(!dir.path().join(".repo-run/fixes.toml").exists(), "a rejected proposal applies nothing");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A model that proposes a file that does not exist — a fault the small model does not
    /// make on demand, so this stand-in (named as such) makes it.
    struct FakeModelProposingAMissingFile;
    impl Models for FakeModelProposingAMissingFile {
        fn ask(&self, _: Stage, _: &ModelRequest) -> ModelReply {
            let action =
                FixAction::SetStartCommand { project: ".".into(), argv: vec!["python".into(), "src/server.py".into()] };
            ModelReply { model: "fake".into(), json: Ok(serde_json::to_value(action).unwrap()), elapsed_ms: 0 }
        }
    }

    #[test]
    fn a_model_proposal_naming_a_missing_file_is_rejected_and_nothing_applies() {
        let dir = tempfile::tempdir().unwrap();
        let mut board = unrecognised_failure(dir.path());
        board.models = Some(Arc::new(FakeModelProposingAMissingFile));
        let error = FixerAgent.run(&mut board).unwrap_err();
        let Outcome::NoAction(why) = &board.fix_attempts[0].outcome else { panic!("{:?}", board.fix_attempts) };
        assert!(why.contains("src/server.py does not exist"), "{why}");
        assert!(error.hint.unwrap_or_default().contains("src/server.py does not exist"));
        assert!(!dir.path().join(".repo-run/fixes.toml").exists());
        assert!(board.redo_from.is_none());
    }

    /// One name for an agent: every pipeline stage has its row in the model table.
    #[test]
    fn every_stage_has_a_model_row() {
        for stage in Stage::ALL {
            let agent = agent_of(stage).unwrap_or_else(|e| panic!("{stage:?}: {e}"));
            assert_eq!(agent.key(), stage.model_key());
        }
    }
}
