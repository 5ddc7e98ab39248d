//! `repo-run eval`: the agents' model steps measured on labelled cases.
//!
//! A case is a small repository written out from a TOML file (`tests/eval/<agent>/*.toml`:
//! `expected` and `[files]`) with the answer a person gives. Each case goes through the same
//! code `up` runs (Detection's rules, then its model question) once per model, through the
//! real engine; the figures are accuracy, latency and tokens per model, beside a baseline that
//! needs no model (the first candidate) measured in the same run. Each model's result is
//! appended to the evaluation history in the user's data directory, keyed by the model file's
//! SHA-256 and the agent, for the router to read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use repo_run_agents::RepoView;
use repo_run_agents::detection::choose_start::choose_starts;
use repo_run_agents::failure::{Exit, Failure, StepKind};
use repo_run_agents::fixer;
use repo_run_agents::health::readiness;
use repo_run_agents::models::{ModelReply, ModelRequest, Models};
use repo_run_agents::pipeline::Blackboard;
use repo_run_agents::pipeline::Stage;
use repo_run_agents::plan::{Detection, ProjectRequirements};
use repo_run_agents::requirements::Host;
use repo_run_agents::requirements::classify_env;
use repo_run_inference::{Agent, Engine, EngineConfig, ModelLocation, ModelRef, ModelTable};
use serde::Serialize;

use crate::error::hinted;
use crate::history;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The agent whose model step is measured: `detection`, `requirements`, `health` or
    /// `fixer` (the broken suite end to end is `cargo xtask eval fixer`).
    #[arg(long, default_value = "detection")]
    pub agent: String,
    /// Models to measure: GGUF paths, names in the model directory, or http(s):// endpoints.
    /// Default: the agent's chain in the resolved table (its model, then its fallback).
    #[arg(long = "model", value_name = "MODEL")]
    pub models: Vec<String>,
    /// The labelled cases (default: `tests/eval/<agent>` under the current directory).
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,
    /// Only the first N cases (by file name).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Model profile: `auto` (the default: the largest tier this machine runs), `local`,
    /// `medium` or `production`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Ask no model: check every case (its question is open and its answer is among the
    /// candidates) and measure the no-model baseline only.
    #[arg(long, conflicts_with = "models")]
    pub baseline_only: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One labelled case as written. `expected` is the start command for Detection, and a table
/// of variable → class for Requirements.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    description: String,
    #[serde(default)]
    source: Option<String>,
    expected: toml::Value,
    /// The repository (Detection, Requirements).
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Health: the command that started the app, and its log.
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    log: Option<String>,
    /// Fixer: the failed step's evidence.
    #[serde(default)]
    failure: Option<FailureCase>,
}

/// A failed step as a Fixer case writes it: what `up` would attach to the failure.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FailureCase {
    stage: String,
    step: StepKind,
    #[serde(default = "root_project")]
    project: String,
    /// The argv, split on spaces.
    command: String,
    #[serde(default)]
    exit: Option<i32>,
    /// The step's last output lines.
    log: String,
}

fn root_project() -> String {
    ".".into()
}

#[derive(Debug, Serialize)]
struct Report {
    agent: String,
    cases: usize,
    /// Labelled answers over all cases (one per case for Detection, one per variable for
    /// Requirements): accuracy is over these.
    questions: usize,
    /// The answer without a model (Detection: the first candidate as offered, serving words
    /// first; Requirements: the rules' "the user supplies it"; Health: a live app without a
    /// port is up once it settles, "ready").
    baseline: Score,
    models: Vec<ModelScore>,
    per_case: Vec<CaseResult>,
}

#[derive(Debug, Serialize, Clone, Copy)]
struct Score {
    correct: usize,
    accuracy: f64,
}

#[derive(Debug, Serialize)]
struct ModelScore {
    model: String,
    correct: usize,
    accuracy: f64,
    /// Model calls with no usable answer (the model failed to load or to answer).
    failed: usize,
    /// Answers validation refused.
    refused: usize,
    /// Right answers once validation has refused some (the rule answer standing for those).
    correct_after_validation: usize,
    mean_latency_ms: f64,
    mean_prompt_tokens: f64,
    mean_generated_tokens: f64,
}

#[derive(Debug, Serialize)]
struct CaseResult {
    case: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    /// How many answers the model chose among.
    candidates: usize,
    questions: Vec<QuestionResult>,
    /// One model call per model: its cost, or why it gave nothing.
    calls: Vec<Call>,
}

#[derive(Debug, Serialize)]
struct QuestionResult {
    /// `start`, or the variable's name.
    subject: String,
    expected: String,
    baseline: String,
    baseline_correct: bool,
    /// Per model, in the order of the report's `models`.
    answers: Vec<Answer>,
}

#[derive(Debug, Serialize, Clone)]
struct Answer {
    model: String,
    chose: Option<String>,
    correct: bool,
    /// Validation refused the answer (the rule answer stays).
    refused: bool,
    /// The answer that counts after validation (the rule answer where it was refused) is right.
    correct_after_validation: bool,
}

#[derive(Debug, Serialize, Clone, Default)]
struct Call {
    model: String,
    latency_ms: u64,
    prompt_tokens: u32,
    generated_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A case made ready to ask: its repository and what its question is.
struct Prepared {
    repo: RepoView,
    detection: Detection,
    /// The project the question is about.
    project: String,
    /// `(subject, expected, baseline)` per labelled answer.
    questions: Vec<(String, String, String)>,
    candidates: usize,
    /// Requirements: the project's environment as rules left it.
    requirements: Option<ProjectRequirements>,
    /// Health: the start command and the log.
    health: Option<(String, String)>,
    /// Fixer: the board `up` would have (the repository, its detection) and the failure.
    fixer: Option<Box<(Blackboard, Failure)>>,
}

/// Reads a case's repository through the rules and checks that its question is open, with the
/// expected answers among what the model may choose.
fn prepare(agent: Agent, file: &Path, root: &Path, case: &CaseFile) -> anyhow::Result<Prepared> {
    let repo = RepoView::open(root).with_context(|| format!("reading case {}", file.display()))?;
    let detection = repo_run_agents::detection::detect(&repo);
    match agent {
        Agent::Detection => {
            let expected = case
                .expected
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("{}: `expected` is the start command, a string", file.display()))?;
            let Some(project) = detection.projects.iter().find(|p| p.start.is_none() && !p.start_candidates.is_empty())
            else {
                bail!("{}: no start question is open (a rule found a start command, or no candidate)", file.display());
            };
            let candidates: Vec<&str> = project.start_candidates.iter().map(|c| c.command.display.as_str()).collect();
            if !candidates.contains(&expected) {
                bail!(
                    "{}: `expected` ({expected}) is not among the candidates: {}",
                    file.display(),
                    candidates.join(" | ")
                );
            }
            let questions = vec![("start".into(), expected.to_owned(), candidates[0].to_owned())];
            let (project, candidates) = (project.path.clone(), candidates.len());
            Ok(Prepared {
                repo,
                detection,
                project,
                questions,
                candidates,
                requirements: None,
                health: None,
                fixer: None,
            })
        }
        Agent::Requirements => {
            let expected = case
                .expected
                .as_table()
                .ok_or_else(|| anyhow::anyhow!("{}: `expected` is a table of variable = \"class\"", file.display()))?;
            // The first project whose open variables include a labelled one.
            let mut found = None;
            for project in &detection.projects {
                let env = repo_run_agents::requirements::env_requirements(project);
                let req = ProjectRequirements::with_env(&project.path, env);
                if expected.keys().any(|k| classify_env::open_variables(&req).contains(&k.as_str())) {
                    found = Some((project, req));
                    break;
                }
            }
            let Some((project, req)) = found else {
                bail!("{}: no labelled variable is open (rules classify them all, or none is read)", file.display());
            };
            let open = classify_env::open_variables(&req);
            let classes = classify_env::classes(project);
            let mut questions = Vec::new();
            for (name, class) in expected {
                let class = class.as_str().ok_or_else(|| anyhow::anyhow!("{}: {name}: a class", file.display()))?;
                if !open.contains(&name.as_str()) {
                    let source = req.env.iter().find(|e| &e.name == name).map(|e| format!("{:?}", e.source));
                    bail!(
                        "{}: {name} is not an open variable of {} ({})",
                        file.display(),
                        project.path,
                        source.map_or("the code does not read it".into(), |s| format!("the rules say {s}"))
                    );
                }
                if !classes.iter().any(|c| c == class) {
                    bail!(
                        "{}: {name}: `{class}` is not one of the classes offered: {}",
                        file.display(),
                        classes.join(" | ")
                    );
                }
                questions.push((name.clone(), class.to_owned(), classify_env::RULE_ANSWER.to_owned()));
            }
            let (path, candidates) = (project.path.clone(), classes.len());
            Ok(Prepared {
                repo,
                detection,
                project: path,
                questions,
                candidates,
                requirements: Some(req),
                health: None,
                fixer: None,
            })
        }
        Agent::Health => {
            let expected =
                case.expected.as_str().filter(|e| ["ready", "starting", "fatal"].contains(e)).ok_or_else(|| {
                    anyhow::anyhow!("{}: `expected` is \"ready\", \"starting\" or \"fatal\"", file.display())
                })?;
            let (Some(command), Some(log)) = (&case.command, &case.log) else {
                bail!("{}: a Health case gives `command` and `log`", file.display());
            };
            if let Some(pattern) = repo_run_agents::health::ready_pattern(log) {
                bail!("{}: the rules read this log already (\"{pattern}\"): no question is open", file.display());
            }
            let candidates = readiness::log_lines(log).len();
            if candidates == 0 {
                bail!("{}: the log is empty", file.display());
            }
            // Without a model a live app with no port is up once it settles: "ready".
            let questions = vec![("readiness".into(), expected.to_owned(), "ready".to_owned())];
            Ok(Prepared {
                repo,
                detection,
                project: ".".into(),
                questions,
                candidates,
                requirements: None,
                health: Some((command.clone(), log.clone())),
                fixer: None,
            })
        }
        Agent::Fixer => {
            let expected = case.expected.as_table().ok_or_else(|| {
                anyhow::anyhow!("{}: `expected` is a table of the action's fields that must match", file.display())
            })?;
            let kind = expected.get("action").and_then(|a| a.as_str()).unwrap_or_default();
            if !FIX_ACTIONS.contains(&kind) {
                bail!("{}: `expected.action` is one of {}", file.display(), FIX_ACTIONS.join(", "));
            }
            let Some(f) = &case.failure else { bail!("{}: a Fixer case gives `[failure]`", file.display()) };
            let stage = [Stage::Setup, Stage::Db, Stage::Runner, Stage::Health]
                .into_iter()
                .find(|s| s.name() == f.stage)
                .ok_or_else(|| anyhow::anyhow!("{}: failure.stage is setup, db, runner or health", file.display()))?;
            if !detection.projects.iter().any(|p| p.path == f.project) {
                bail!("{}: failure.project `{}` is not a project detection finds", file.display(), f.project);
            }
            let argv: Vec<String> = f.command.split_whitespace().map(str::to_owned).collect();
            let tail: Vec<String> = f.log.lines().map(str::to_owned).collect();
            let failure =
                Failure::new(stage, f.step, f.project.clone()).argv(&argv).exit(f.exit.map(Exit::Code)).tail(&tail);
            let mut board = Blackboard::new(RepoView::open(root)?, Host::default());
            board.detection = Some(detection.clone());
            // A system package is a repair the evaluation counts; `up` asks for --allow-system.
            board.options.allow_system = true;
            let baseline = fixer::rule_answer(&board, &failure).map_or_else(|| "none".to_owned(), |a| action_json(&a));
            let expected_json = toml_to_json(&case.expected);
            // A label validation would refuse is a wrong label: check it when it is a whole
            // action (a variable's label needs no value to be checked).
            let mut whole = expected_json.clone();
            if kind == "set_env" && whole.get("value").is_none() {
                whole["value"] = serde_json::json!({"kind": "generated_secret", "length": 32});
            }
            if let Ok(action) = serde_json::from_value::<fixer::FixAction>(whole) {
                let facts = fixer::validate::Facts { root, board: Some(&board), allow_system: true };
                if let Err(why) = fixer::validate::check(&action, &facts) {
                    bail!("{}: validation would refuse the labelled repair: {why}", file.display());
                }
            }
            let expected = serde_json::to_string(&expected_json).unwrap_or_default();
            Ok(Prepared {
                repo,
                detection,
                project: f.project.clone(),
                questions: vec![("fix".into(), expected, baseline)],
                candidates: FIX_ACTIONS.len(),
                requirements: None,
                health: None,
                fixer: Some(Box::new((board, failure))),
            })
        }
        other => bail!("no evaluation for the {other} agent"),
    }
}

/// The model's answer to each of the case's questions (`None`: no answer), through the same
/// agent code `up` runs.
fn ask(prepared: &Prepared, models: &dyn Models) -> Vec<(Option<String>, bool)> {
    if let Some(fixer) = &prepared.fixer {
        let (board, failure) = &**fixer;
        let reply = models.ask(Stage::Fixer, &fixer::model::request(board, failure, &[]));
        let Ok(action) = reply.action() else { return vec![(None, false)] };
        let facts = fixer::validate::Facts { root: board.repo.root(), board: Some(board), allow_system: true };
        return vec![(Some(action_json(&action)), fixer::validate::check(&action, &facts).is_err())];
    }
    if let Some((command, log)) = &prepared.health {
        let mut decisions = Vec::new();
        readiness::classify(models, "app", command, false, log, &mut decisions);
        // The first model's answer, accepted or refused: this measures the model.
        let first = decisions.first();
        return vec![(first.map(|d| d.answer.clone()), first.is_some_and(|d| d.rejected.is_some()))];
    }
    match &prepared.requirements {
        None => {
            let mut copy = prepared.detection.clone();
            choose_starts(&mut copy, &prepared.repo, models, &[], &mut |_| {});
            let decided = copy.projects.iter().find(|p| p.path == prepared.project).and_then(|p| p.decisions.first());
            vec![(decided.map(|d| d.answer.clone()), false)]
        }
        Some(req) => {
            let mut reqs = vec![req.clone()];
            classify_env::classify(&mut reqs, &prepared.detection.projects, &prepared.repo, models, &mut |_, _| {});
            prepared
                .questions
                .iter()
                .map(|(name, _, _)| {
                    // The first model's answer, accepted or refused: this measures the model.
                    let d = reqs[0].decisions.iter().find(|d| d.question == format!("env {name}"));
                    (d.map(|d| d.answer.clone()), d.is_some_and(|d| d.rejected.is_some()))
                })
                .collect()
        }
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let agent: Agent = args.agent.parse().map_err(anyhow::Error::msg)?;
    if !matches!(agent, Agent::Detection | Agent::Requirements | Agent::Health | Agent::Fixer) {
        return Err(hinted(
            format!("no evaluation for the {agent} agent yet"),
            "`repo-run eval --agent detection` measures the start-command question, `--agent requirements` the \
             class of environment variables, `--agent health` the readiness an app's log shows, `--agent fixer` the \
             repair a failed step's evidence calls for (`cargo xtask eval fixer` runs the broken suite end to end)",
        ));
    }
    let dir = args.cases.clone().unwrap_or_else(|| PathBuf::from("tests/eval").join(agent.key()));
    let mut cases = load_cases(&dir)?;
    if let Some(limit) = args.limit {
        cases.truncate(limit);
    }
    if cases.is_empty() {
        bail!("no cases in {}", dir.display());
    }
    let table = crate::models_cmd::resolved_table(args.profile.as_deref(), Some(Path::new("repo-run.toml")))?;
    let models: Vec<ModelRef> = if args.baseline_only {
        Vec::new()
    } else if args.models.is_empty() {
        let row = table.get(agent);
        std::iter::once(row.model.clone()).chain(row.fallback.clone()).collect()
    } else {
        args.models.iter().map(|m| ModelRef::parse(m)).collect()
    };
    for model in &models {
        if let ModelLocation::File(path) = table.locate(model) {
            if !path.is_file() {
                return Err(hinted(
                    format!("model {model} is not at {}", path.display()),
                    "`cargo xtask models` fetches the local profile's models; `repo-run models pull` others",
                ));
            }
        }
    }
    let engine = Engine::new(EngineConfig {
        table: table.clone(),
        memory_budget: repo_run_inference::default_budget(),
        n_gpu_layers: 0,
        telemetry: None,
    });

    let mut per_case = Vec::new();
    for (i, (name, case)) in cases.iter().enumerate() {
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        write_case(scratch.path(), name, case)?;
        let prepared = prepare(agent, &dir.join(format!("{name}.toml")), scratch.path(), case)?;
        let mut questions: Vec<QuestionResult> = prepared
            .questions
            .iter()
            .map(|(subject, expected, baseline)| QuestionResult {
                subject: subject.clone(),
                expected: expected.clone(),
                baseline: baseline.clone(),
                baseline_correct: same_answer(agent, expected, baseline),
                answers: Vec::new(),
            })
            .collect();
        let mut calls = Vec::new();
        for model in &models {
            if !args.json {
                eprint!("\r[{}/{}] {name}: {model}…{:20}", i + 1, cases.len(), "");
            }
            let asker = OneModel { engine: &engine, model: model.clone(), first: Mutex::default() };
            let answers = ask(&prepared, &asker);
            calls.push(asker.first.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or_else(|| Call {
                model: model.to_string(),
                error: Some("the agent asked nothing".into()),
                ..Call::default()
            }));
            for (q, (chose, refused)) in questions.iter_mut().zip(answers) {
                let kept = if refused { Some(q.baseline.as_str()) } else { chose.as_deref() };
                q.answers.push(Answer {
                    model: model.to_string(),
                    correct: chose.as_deref().is_some_and(|c| same_answer(agent, &q.expected, c)),
                    refused,
                    correct_after_validation: kept.is_some_and(|k| same_answer(agent, &q.expected, k)),
                    chose,
                });
            }
        }
        per_case.push(CaseResult {
            case: name.clone(),
            description: case.description.clone(),
            source: case.source.clone(),
            candidates: prepared.candidates,
            questions,
            calls,
        });
    }
    if !args.json {
        eprint!("\r{:100}\r", "");
    }
    let n: usize = per_case.iter().map(|c| c.questions.len()).sum();
    let baseline = per_case.iter().flat_map(|c| &c.questions).filter(|q| q.baseline_correct).count();
    let scores: Vec<ModelScore> = models
        .iter()
        .enumerate()
        .map(|(m, model)| {
            let calls: Vec<&Call> = per_case.iter().map(|c| &c.calls[m]).collect();
            let answered: Vec<&&Call> = calls.iter().filter(|c| c.error.is_none()).collect();
            let mean = |f: &dyn Fn(&Call) -> f64| {
                if answered.is_empty() {
                    0.0
                } else {
                    answered.iter().map(|c| f(c)).sum::<f64>() / answered.len() as f64
                }
            };
            let all = || per_case.iter().flat_map(|c| &c.questions).map(|q| &q.answers[m]);
            let correct = all().filter(|a| a.correct).count();
            ModelScore {
                model: model.to_string(),
                correct,
                accuracy: correct as f64 / n as f64,
                failed: calls.len() - answered.len(),
                refused: all().filter(|a| a.refused).count(),
                correct_after_validation: all().filter(|a| a.correct_after_validation).count(),
                mean_latency_ms: mean(&|c| c.latency_ms as f64),
                mean_prompt_tokens: mean(&|c| f64::from(c.prompt_tokens)),
                mean_generated_tokens: mean(&|c| f64::from(c.generated_tokens)),
            }
        })
        .collect();
    let report = Report {
        agent: agent.key().to_owned(),
        cases: per_case.len(),
        questions: n,
        baseline: Score { correct: baseline, accuracy: baseline as f64 / n as f64 },
        models: scores,
        per_case,
    };
    if !report.models.is_empty() {
        record_history(&table, agent, &report);
    }
    let mut out = anstream::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report, &dir)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The Fixer's action kinds, as its schema names them.
const FIX_ACTIONS: [&str; 10] = [
    "set_env",
    "constrain_dependency",
    "resolve_as_of",
    "choose_runtime",
    "run_script",
    "create_database",
    "set_start_command",
    "install_system_package",
    "add_install_flag",
    "skip_step",
];

/// Whether `answer` is the labelled one: the same text, except for the Fixer, whose label
/// names only the action's fields that matter (any constraint that excludes the breaking
/// release is right, not one spelling of it).
fn same_answer(agent: Agent, expected: &str, answer: &str) -> bool {
    if agent != Agent::Fixer {
        return expected == answer;
    }
    match (serde_json::from_str(expected), serde_json::from_str(answer)) {
        (Ok(expected), Ok(answer)) => json_subset(&expected, &answer),
        _ => false,
    }
}

/// Every field of `expected` is in `actual` with the same value (tables compared the same way,
/// strings without surrounding space, package names as PEP 503 normalises them).
fn json_subset(expected: &serde_json::Value, actual: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, v)| {
            a.get(k).is_some_and(|av| match (k.as_str(), v, av) {
                ("package", Value::String(e), Value::String(a)) => package_name(e) == package_name(a),
                _ => json_subset(v, av),
            })
        }),
        (Value::String(e), Value::String(a)) => e.trim() == a.trim(),
        (e, a) => e == a,
    }
}

/// `Flask_SQLAlchemy` and `flask-sqlalchemy` are one package.
fn package_name(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

fn action_json(action: &fixer::FixAction) -> String {
    serde_json::to_string(action).unwrap_or_default()
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// The cases in `dir`, by file name; a case that does not parse is an error naming it.
fn load_cases(dir: &Path) -> anyhow::Result<Vec<(String, CaseFile)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        hinted(
            format!("cannot read the cases in {}: {e}", dir.display()),
            "run `repo-run eval` from a repo-run checkout, or name the cases with `--cases DIR`",
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let case: CaseFile = toml::from_str(&text).map_err(|e| {
                let line = e.span().map(|s| text[..s.start].lines().count().max(1));
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                anyhow::anyhow!("{}{at}: {}", path.display(), e.message())
            })?;
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            Ok((name, case))
        })
        .collect()
}

/// Writes a case's files under `root`; a path that would leave it is refused.
fn write_case(root: &Path, name: &str, case: &CaseFile) -> anyhow::Result<()> {
    for (path, content) in &case.files {
        let relative = Path::new(path);
        if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            bail!("case {name}: file `{path}` is not a plain relative path");
        }
        let target = root.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content).with_context(|| format!("case {name}: writing {path}"))?;
    }
    Ok(())
}

/// Asks exactly one model, and keeps the cost of its first answer (the one measured; a
/// refused answer's second question, to the same model, is not).
struct OneModel<'a> {
    engine: &'a Engine,
    model: ModelRef,
    first: Mutex<Option<Call>>,
}

impl Models for OneModel<'_> {
    fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
        if request.escalation > 0 {
            // One model is measured: there is no next one in this chain.
            return ModelReply { model: self.model.to_string(), json: Err("one model only".into()), elapsed_ms: 0 };
        }
        let started = Instant::now();
        let agent = crate::fixer_models::agent_of(stage).unwrap_or(Agent::Detection);
        let (generation, json) = crate::fixer_models::ask_one(self.engine, agent, &self.model, request);
        let tokens = generation.map_or((0, 0), |g| (g.prompt_tokens, g.generated_tokens));
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert(Call {
            model: self.model.to_string(),
            latency_ms: elapsed_ms,
            prompt_tokens: tokens.0,
            generated_tokens: tokens.1,
            error: json.as_ref().err().cloned(),
        });
        ModelReply { model: self.model.to_string(), json, elapsed_ms }
    }
}

fn print_report(out: &mut impl Write, report: &Report, dir: &Path) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} eval: {} cases ({} labelled answers) from {}",
        report.agent,
        report.cases,
        report.questions,
        dir.display()
    )?;
    writeln!(out)?;
    let width = report.models.iter().map(|m| m.model.len()).max().unwrap_or(0).max(24);
    writeln!(
        out,
        "{:width$}  {:>8}  {:>8}  {:>12}  {:>13}  {:>6}  {:>7}  {:>16}",
        "model", "correct", "accuracy", "mean latency", "tokens in/out", "failed", "refused", "after validation"
    )?;
    for m in &report.models {
        writeln!(
            out,
            "{:width$}  {:>8}  {:>7.0}%  {:>10.2} s  {:>6.0}/{:<6.1}  {:>6}  {:>7}  {:>16}",
            m.model,
            format!("{}/{}", m.correct, report.questions),
            m.accuracy * 100.0,
            m.mean_latency_ms / 1000.0,
            m.mean_prompt_tokens,
            m.mean_generated_tokens,
            m.failed,
            m.refused,
            format!("{}/{}", m.correct_after_validation, report.questions)
        )?;
    }
    let baseline = if report.agent == "requirements" {
        "no model: the rules' answer, the user supplies it"
    } else if report.agent == "health" {
        "no model: a live app without a port is up once it settles"
    } else if report.agent == "fixer" {
        "no model: the Fixer's rules on the same evidence"
    } else {
        "no model: the first candidate, serving words first"
    };
    writeln!(
        out,
        "{:width$}  {:>8}  {:>7.0}%  ({baseline}; same cases)",
        "baseline",
        format!("{}/{}", report.baseline.correct, report.questions),
        report.baseline.accuracy * 100.0
    )?;
    writeln!(out)?;
    for case in &report.per_case {
        let right = |f: &dyn Fn(&QuestionResult) -> bool| case.questions.iter().filter(|q| f(q)).count();
        let total = case.questions.len();
        let mark = |n: usize| if n == total { "✓".to_owned() } else { format!("{n}/{total}") };
        let mut marks = Vec::new();
        for (m, call) in case.calls.iter().enumerate() {
            let n = right(&|q| q.answers[m].correct);
            let mut text = mark(n);
            if let Some(e) = &call.error {
                text = format!("{text} error: {e}");
            }
            let wrong: Vec<String> = case
                .questions
                .iter()
                .filter(|q| !q.answers[m].correct)
                .filter_map(|q| q.answers[m].chose.as_ref().map(|c| (q, c)))
                .map(|(q, c)| {
                    let refused = if q.answers[m].refused { ", refused" } else { "" };
                    if total == 1 { c.clone() } else { format!("{} {c} (not {}{refused})", q.subject, q.expected) }
                })
                .collect();
            if !wrong.is_empty() {
                text = format!("{text} {}", wrong.join(", "));
            }
            marks.push(text);
        }
        writeln!(
            out,
            "  {} ({} candidates): baseline {}  |  {}",
            case.case,
            case.candidates,
            mark(right(&|q| q.baseline_correct)),
            marks.join("  |  ")
        )?;
    }
    Ok(())
}

/// Appends one line per model to the history (best effort: a read-only home is not an error
/// of the evaluation, and is said on stderr).
fn record_history(table: &ModelTable, agent: Agent, report: &Report) {
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let records: Vec<history::Record> = report
        .models
        .iter()
        .map(|m| history::Record {
            time,
            agent: agent.key().to_owned(),
            model: m.model.clone(),
            sha256: match table.locate(&ModelRef::parse(&m.model)) {
                ModelLocation::File(path) => history::model_sha256(&path).unwrap_or_default(),
                ModelLocation::Remote(_) => String::new(),
            },
            cases: report.questions,
            correct: m.correct,
            accuracy: m.accuracy,
            mean_latency_ms: m.mean_latency_ms,
        })
        .collect();
    if let Err(e) = history::append(&records) {
        eprintln!("warning: the results were not added to the evaluation history: {e}");
    }
}
