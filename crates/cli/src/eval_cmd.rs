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
use repo_run_agents::models::{ModelReply, ModelRequest, Models};
use repo_run_agents::pipeline::Stage;
use repo_run_inference::{Agent, Engine, EngineConfig, ModelLocation, ModelRef, ModelTable};
use serde::Serialize;

use crate::error::hinted;
use crate::history;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The agent whose model step is measured (today: `detection`; the Fixer's suite is
    /// `cargo xtask eval fixer`).
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
    /// Model profile: `local` (small CPU models) or `production`.
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

/// One labelled case as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    description: String,
    #[serde(default)]
    source: Option<String>,
    expected: String,
    files: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Report {
    agent: String,
    cases: usize,
    /// The first candidate as offered (serving words first): the answer without a model.
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
    /// Questions with no usable answer (the model failed to load or to answer).
    failed: usize,
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
    expected: String,
    candidates: usize,
    /// The first candidate as offered is the expected one.
    baseline_correct: bool,
    /// Per model: the command it chose (or the error), and whether that is right.
    answers: Vec<Answer>,
}

#[derive(Debug, Serialize, Clone)]
struct Answer {
    model: String,
    chose: Option<String>,
    correct: bool,
    latency_ms: u64,
    prompt_tokens: u32,
    generated_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let agent: Agent = args.agent.parse().map_err(anyhow::Error::msg)?;
    if agent != Agent::Detection {
        return Err(hinted(
            format!("no evaluation for the {agent} agent yet"),
            "`repo-run eval --agent detection` measures the start-command question; the Fixer's suite is \
             `cargo xtask eval fixer`",
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
    let mut baseline = 0;
    for (i, (name, case)) in cases.iter().enumerate() {
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        write_case(scratch.path(), name, case)?;
        let repo = RepoView::open(scratch.path()).with_context(|| format!("reading case {name}"))?;
        let detection = repo_run_agents::detection::detect(&repo);
        let Some(project) = detection.projects.iter().find(|p| p.start.is_none() && !p.start_candidates.is_empty())
        else {
            bail!(
                "{}: no start question is open (a rule found a start command, or no candidate)",
                dir.join(format!("{name}.toml")).display()
            );
        };
        let candidates: Vec<&str> = project.start_candidates.iter().map(|c| c.command.display.as_str()).collect();
        if !candidates.contains(&case.expected.as_str()) {
            bail!(
                "{}: `expected` ({}) is not among the candidates: {}",
                dir.join(format!("{name}.toml")).display(),
                case.expected,
                candidates.join(" | ")
            );
        }
        let baseline_correct = candidates[0] == case.expected;
        baseline += usize::from(baseline_correct);
        let mut answers = Vec::new();
        for model in &models {
            if !args.json {
                eprint!("\r[{}/{}] {name}: {model}…{:20}", i + 1, cases.len(), "");
            }
            let asker = OneModel { engine: &engine, model: model.clone(), last: Mutex::default() };
            let mut copy = detection.clone();
            choose_starts(&mut copy, &repo, &asker, &[], &mut |_| {});
            let decided = copy.projects.iter().find(|p| p.path == project.path).and_then(|p| p.decisions.first());
            let (prompt_tokens, generated_tokens, error) = asker.last.into_inner().unwrap_or_default();
            let chose = decided.map(|d| d.answer.clone());
            answers.push(Answer {
                model: model.to_string(),
                correct: chose.as_deref() == Some(case.expected.as_str()),
                chose,
                latency_ms: decided.map_or(0, |d| d.latency_ms),
                prompt_tokens,
                generated_tokens,
                error,
            });
        }
        per_case.push(CaseResult {
            case: name.clone(),
            description: case.description.clone(),
            source: case.source.clone(),
            expected: case.expected.clone(),
            candidates: candidates.len(),
            baseline_correct,
            answers,
        });
    }
    if !args.json {
        eprint!("\r{:100}\r", "");
    }
    let n = per_case.len();
    let scores: Vec<ModelScore> = models
        .iter()
        .enumerate()
        .map(|(m, model)| {
            let answers: Vec<&Answer> = per_case.iter().map(|c| &c.answers[m]).collect();
            let answered: Vec<&&Answer> = answers.iter().filter(|a| a.chose.is_some()).collect();
            let mean = |f: &dyn Fn(&Answer) -> f64| {
                if answered.is_empty() {
                    0.0
                } else {
                    answered.iter().map(|a| f(a)).sum::<f64>() / answered.len() as f64
                }
            };
            let correct = answers.iter().filter(|a| a.correct).count();
            ModelScore {
                model: model.to_string(),
                correct,
                accuracy: correct as f64 / n as f64,
                failed: answers.len() - answered.len(),
                mean_latency_ms: mean(&|a| a.latency_ms as f64),
                mean_prompt_tokens: mean(&|a| f64::from(a.prompt_tokens)),
                mean_generated_tokens: mean(&|a| f64::from(a.generated_tokens)),
            }
        })
        .collect();
    let report = Report {
        agent: agent.key().to_owned(),
        cases: n,
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

/// Asks exactly one model, and keeps the token counts of its last answer.
struct OneModel<'a> {
    engine: &'a Engine,
    model: ModelRef,
    last: Mutex<(u32, u32, Option<String>)>,
}

impl Models for OneModel<'_> {
    fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
        let started = Instant::now();
        let agent = crate::fixer_models::agent_of(stage).unwrap_or(Agent::Detection);
        let (generation, json) = crate::fixer_models::ask_one(self.engine, agent, &self.model, request);
        let tokens = generation.map_or((0, 0), |g| (g.prompt_tokens, g.generated_tokens));
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = (tokens.0, tokens.1, json.as_ref().err().cloned());
        ModelReply { model: self.model.to_string(), json, elapsed_ms: started.elapsed().as_millis() as u64 }
    }
}

fn print_report(out: &mut impl Write, report: &Report, dir: &Path) -> anyhow::Result<()> {
    writeln!(out, "{} eval: {} cases from {}", report.agent, report.cases, dir.display())?;
    writeln!(out)?;
    let width = report.models.iter().map(|m| m.model.len()).max().unwrap_or(0).max(24);
    writeln!(
        out,
        "{:width$}  {:>8}  {:>8}  {:>12}  {:>13}  {:>6}",
        "model", "correct", "accuracy", "mean latency", "tokens in/out", "failed"
    )?;
    for m in &report.models {
        writeln!(
            out,
            "{:width$}  {:>8}  {:>7.0}%  {:>10.2} s  {:>6.0}/{:<6.1}  {:>6}",
            m.model,
            format!("{}/{}", m.correct, report.cases),
            m.accuracy * 100.0,
            m.mean_latency_ms / 1000.0,
            m.mean_prompt_tokens,
            m.mean_generated_tokens,
            m.failed
        )?;
    }
    writeln!(
        out,
        "{:width$}  {:>8}  {:>7.0}%  (no model: the first candidate, serving words first; same cases)",
        "baseline",
        format!("{}/{}", report.baseline.correct, report.cases),
        report.baseline.accuracy * 100.0
    )?;
    writeln!(out)?;
    for case in &report.per_case {
        let marks: Vec<String> = case
            .answers
            .iter()
            .map(|a| {
                let mark = if a.correct { "✓" } else { "✗" };
                match (&a.chose, &a.error) {
                    (_, Some(e)) => format!("{mark} error: {e}"),
                    (Some(c), None) if !a.correct => format!("{mark} {c}"),
                    _ => mark.to_owned(),
                }
            })
            .collect();
        let baseline = if case.baseline_correct { "✓" } else { "✗" };
        writeln!(
            out,
            "  {} ({} candidates): baseline {baseline}  |  {}",
            case.case,
            case.candidates,
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
            cases: report.cases,
            correct: m.correct,
            accuracy: m.accuracy,
            mean_latency_ms: m.mean_latency_ms,
        })
        .collect();
    if let Err(e) = history::append(&records) {
        eprintln!("warning: the results were not added to the evaluation history: {e}");
    }
}
