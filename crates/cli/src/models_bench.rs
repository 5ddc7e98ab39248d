//! `repo-run models bench [MODEL…]`: how fast each model runs through the engine on this
//! machine (see `repo_run_inference::bench`).

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use repo_run_inference::bench::{BenchSettings, ModelBench, bench_model};
use repo_run_inference::error::MIB;
use repo_run_inference::{Agent, EngineConfig, ModelLocation, ModelRef, ModelTable, default_budget, tiers};

#[derive(Debug, clap::Args)]
pub struct ModelsBenchArgs {
    /// Models to measure: GGUF paths, names in the model directory, or http(s):// endpoints.
    /// Default: every model the resolved table uses that is on this machine (or remote).
    pub models: Vec<String>,
    /// Measure this agent's model, under its row of the table (context length, …).
    #[arg(long)]
    pub agent: Option<String>,
    /// Tokens generated per request.
    #[arg(long, default_value_t = 64)]
    pub tokens: u32,
    /// Requests sent at once in the batching phase.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u32,
    /// Model profile: `auto` (the default: the largest tier this machine runs), `local`,
    /// `medium` or `production`.
    #[arg(long)]
    pub profile: Option<String>,
    /// The config file with `[models.<agent>]` overrides.
    #[arg(long, default_value = "repo-run.toml")]
    pub config: Option<PathBuf>,
    /// Memory budget in MiB (default: 3/4 of the available memory).
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<u64>,
    /// Layers offloaded to the GPU in CUDA builds (ignored on CPU).
    #[arg(long, default_value_t = 999)]
    pub n_gpu_layers: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ModelsBenchArgs) -> anyhow::Result<ExitCode> {
    let table = crate::models_cmd::resolved_table(args.profile.as_deref(), args.config.as_deref())?;
    let agent = match &args.agent {
        Some(name) => name.parse::<Agent>()?,
        None => BenchSettings::default().agent,
    };
    if args.tokens == 0 || args.concurrency == 0 {
        anyhow::bail!("--tokens and --concurrency must be at least 1");
    }
    let (models, skipped) = pick_models(&table, &args, agent);
    if models.is_empty() {
        let why = skipped.iter().map(|(m, why)| format!("{m}: {why}")).collect::<Vec<_>>().join("; ");
        return Err(crate::error::hinted(
            format!("no model to measure ({why})"),
            "`cargo xtask models` fetches the local models, `repo-run models pull URL` others; or name a GGUF file",
        ));
    }
    let settings = BenchSettings { tokens: args.tokens, concurrency: args.concurrency, agent };
    let config = EngineConfig {
        table,
        memory_budget: args.memory_budget.map_or_else(default_budget, |mib| mib * MIB),
        n_gpu_layers: args.n_gpu_layers,
        telemetry: None,
    };
    let spinner = spinner();
    let mut results: Vec<ModelBench> = Vec::new();
    let mut failed = Vec::new();
    let mut history = Vec::new();
    for model in &models {
        spinner.set_prefix(model.to_string());
        match bench_model(&config, model, &settings, &|phase| spinner.set_message(phase.to_string())) {
            Ok(result) => {
                history.extend(bench_record(&config.table, model, &result));
                results.push(result);
            }
            Err(error) => failed.push((model.to_string(), error.to_string())),
        }
    }
    spinner.finish_and_clear();
    // Kept for the `auto` profile, which passes over a tier too slow for its timeouts.
    if let Some(dir) = crate::history::data_dir()
        && !history.is_empty()
        && let Err(e) = tiers::append_bench_history(&dir, &history)
    {
        eprintln!("warning: could not keep the figures in {}: {e}", dir.display());
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "tokens": args.tokens,
            "concurrency": args.concurrency,
            "results": results,
            "failed": failed.iter().map(|(m, e)| serde_json::json!({"model": m, "error": e})).collect::<Vec<_>>(),
            "skipped": skipped.iter().map(|(m, e)| serde_json::json!({"model": m, "reason": e})).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &json).context("writing JSON")?;
        writeln!(out)?;
    } else {
        let n = args.concurrency;
        let mut rows = vec![[
            "MODEL".to_owned(),
            "LOAD".into(),
            "PROMPT TOK/S".into(),
            "GEN TOK/S".into(),
            "TTFT".into(),
            "1-BY-1 TOK/S".into(),
            format!("{n} AT ONCE TOK/S"),
            "BATCHING".into(),
        ]];
        for r in &results {
            rows.push([
                r.model.clone(),
                r.load_ms.map_or_else(|| "remote".into(), |ms| format!("{ms:.0} ms")),
                r.prompt_tokens_per_second.map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                format!("{:.1}", r.generation_tokens_per_second),
                r.time_to_first_token_ms.map_or_else(|| "-".into(), |ms| format!("{ms:.0} ms")),
                format!("{:.1}", r.sequential_tokens_per_second),
                format!("{:.1}", r.concurrent_tokens_per_second),
                format!("{:.2}x", r.speedup()),
            ]);
        }
        if !results.is_empty() {
            write!(out, "{}", repo_run_agents::lifecycle::table(&rows))?;
            writeln!(out, "({} greedy tokens per request; TTFT and prompt speed of one request alone)", args.tokens)?;
            if results.iter().any(|r| r.remote) {
                writeln!(out, "(remote endpoints answer whole: their times include the prompt, and TTFT is not seen)")?;
            }
        }
        for (model, reason) in &skipped {
            writeln!(out, "skipped {model}: {reason}")?;
        }
    }
    for (model, error) in &failed {
        eprintln!("error: {model}: {error}");
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What the `auto` profile reads of a measurement: a local file's prompt and generation speed.
fn bench_record(table: &ModelTable, model: &ModelRef, result: &ModelBench) -> Option<tiers::BenchRecord> {
    let ModelLocation::File(path) = table.locate(model) else { return None };
    let size = std::fs::metadata(&path).ok()?.len();
    Some(tiers::BenchRecord {
        time: tiers::now(),
        path,
        size,
        prompt_tps: result.prompt_tokens_per_second?,
        generation_tps: result.generation_tokens_per_second,
    })
}

/// The models to measure, and those left out with why.
fn pick_models(table: &ModelTable, args: &ModelsBenchArgs, agent: Agent) -> (Vec<ModelRef>, Vec<(String, String)>) {
    let wanted: Vec<ModelRef> = if !args.models.is_empty() {
        args.models.iter().map(|m| ModelRef::parse(m)).collect()
    } else if args.agent.is_some() {
        vec![table.get(agent).model.clone()]
    } else {
        table.distinct_models().into_iter().map(|(_, model)| model).collect()
    };
    let (mut models, mut skipped, mut seen) = (Vec::new(), Vec::new(), BTreeSet::new());
    for model in wanted {
        let location = table.locate(&model);
        if !seen.insert(location.clone()) {
            continue;
        }
        match location {
            ModelLocation::File(path) if !path.is_file() => {
                skipped.push((model.to_string(), format!("{} is not on this machine", path.display())));
            }
            _ => models.push(model),
        }
    }
    (models, skipped)
}

fn spinner() -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold}: {msg}").expect("a valid template"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
