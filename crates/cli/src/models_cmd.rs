//! `repo-run models list`: the resolved per-agent model table, with sizes and whether each
//! model fits the memory budget. `repo-run models serve`: the engine as an OpenAI-compatible
//! HTTP server (see `repo_run_inference::serve`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use repo_run_inference::error::MIB;
use repo_run_inference::serve::Server;
use repo_run_inference::{Engine, EngineConfig, ModelInfo, ModelLocation, ModelTable, default_budget};

use crate::cli::{ModelsArgs, ModelsCommand, ModelsListArgs};

pub fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ModelsCommand::List(args) => list(args),
        ModelsCommand::Serve(args) => serve(args),
        ModelsCommand::Stats(args) => stats(args),
        ModelsCommand::Pull(args) => crate::models_pull::run(args),
        ModelsCommand::Bench(args) => crate::models_bench::run(args),
    }
}

#[derive(Debug, clap::Args)]
pub struct ModelsServeArgs {
    /// Address to listen on; loopback by default (use 0.0.0.0 to share across machines).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free one (the first line printed is the URL).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Memory budget in MiB for loaded models (default: 3/4 of the available memory).
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<u64>,
    /// Model profile: `auto` (the default: the largest tier this machine runs), `local`,
    /// `medium` or `production`.
    #[arg(long)]
    pub profile: Option<String>,
    /// The config file with `[models.<agent>]` overrides.
    #[arg(long, default_value = "repo-run.toml")]
    pub config: Option<PathBuf>,
    /// Layers offloaded to the GPU in CUDA builds (ignored on CPU).
    #[arg(long, default_value_t = 999)]
    pub n_gpu_layers: u32,
    /// Where to append telemetry (what `repo-run models stats` reads).
    #[arg(long, value_name = "FILE", default_value = repo_run_inference::telemetry::TELEMETRY_FILE)]
    pub telemetry: PathBuf,
    /// Require `Authorization: Bearer KEY` of clients (they set REPO_RUN_REMOTE_API_KEY);
    /// worth it with --host 0.0.0.0.
    #[arg(long, value_name = "KEY", env = repo_run_inference::env_vars::REPO_RUN_SERVE_API_KEY, hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ModelsStatsArgs {
    /// The telemetry file (`models serve`, `lsp` and the agents append to it).
    #[arg(long, value_name = "FILE", default_value = repo_run_inference::telemetry::TELEMETRY_FILE)]
    pub file: PathBuf,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

fn stats(args: ModelsStatsArgs) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(crate::error::hinted(
                format!("no telemetry at {}", args.file.display()),
                "it is written while models answer: `repo-run models serve`, `repo-run lsp` with a model; \
                 or pass --file",
            ));
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", args.file.display())),
    };
    let stats = repo_run_inference::telemetry::Stats::from_jsonl(&text);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &stats).context("writing JSON")?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "AGENT".to_owned(),
        "MODEL".into(),
        "REQUESTS".into(),
        "PROMPT TOK".into(),
        "GEN TOK".into(),
        "TTFT p50".into(),
        "TOK/S".into(),
        "SHARED STEPS".into(),
    ]];
    for g in &stats.generations {
        rows.push([
            g.agent.clone(),
            g.model.clone(),
            g.requests.to_string(),
            g.prompt_tokens.to_string(),
            g.generated_tokens.to_string(),
            format!("{:.0} ms", g.median_time_to_first_token_ms),
            format!("{:.1}", g.mean_tokens_per_second),
            g.shared_decode_steps.to_string(),
        ]);
    }
    write!(out, "{}", repo_run_agents::lifecycle::table(&rows))?;
    if !stats.loads.is_empty() {
        let mut rows = vec![["MODEL".to_owned(), "LOADS".into(), "MEAN LOAD".into(), "EVICTIONS".into()]];
        for l in &stats.loads {
            rows.push([
                l.model.clone(),
                l.loads.to_string(),
                format!("{:.0} ms", l.mean_load_ms),
                l.evictions.to_string(),
            ]);
        }
        write!(out, "\n{}", repo_run_agents::lifecycle::table(&rows))?;
    }
    if !stats.fallbacks.is_empty() {
        let mut rows = vec![["AGENT".to_owned(), "FROM".into(), "TO".into(), "COUNT".into(), "LAST REASON".into()]];
        for f in &stats.fallbacks {
            rows.push([f.agent.clone(), f.from.clone(), f.to.clone(), f.count.to_string(), f.last_reason.clone()]);
        }
        write!(out, "\n{}", repo_run_agents::lifecycle::table(&rows))?;
    }
    if !stats.decisions.is_empty() {
        let mut rows = vec![[
            "AGENT".to_owned(),
            "ANSWERS".into(),
            "ACCEPTED".into(),
            "REFUSED (ESCALATED)".into(),
            "TIME".into(),
        ]];
        for d in &stats.decisions {
            rows.push([
                d.agent.clone(),
                d.answers.to_string(),
                d.accepted.to_string(),
                d.refused.to_string(),
                format!("{:.1} s", d.total_ms as f64 / 1000.0),
            ]);
        }
        write!(out, "\n{}", repo_run_agents::lifecycle::table(&rows))?;
    }
    if stats.skipped_lines > 0 {
        writeln!(out, "\n({} lines were not telemetry events and were skipped)", stats.skipped_lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Binds, prints the URL as the first line of stdout (scripts and tests read it), then answers
/// requests until Ctrl-C or SIGTERM.
fn serve(args: ModelsServeArgs) -> anyhow::Result<ExitCode> {
    let table = resolved_table(args.profile.as_deref(), args.config.as_deref())?;
    let budget = args.memory_budget.map_or_else(default_budget, |mib| mib * MIB);
    let model_dir = table.model_dir.clone();
    let engine = Engine::new(EngineConfig {
        table,
        memory_budget: budget,
        n_gpu_layers: args.n_gpu_layers,
        telemetry: Some(args.telemetry.clone()),
    });
    let addr = if args.host.contains(':') {
        format!("[{}]:{}", args.host, args.port)
    } else {
        format!("{}:{}", args.host, args.port)
    };
    let server = Server::bind(Arc::new(engine), &addr)
        .with_context(|| format!("starting the server on {addr}"))?
        .require_api_key(args.api_key.clone());
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", server.url())?;
        let ids: Vec<&str> = server.models().iter().map(|m| m.id.as_str()).collect();
        if ids.is_empty() {
            writeln!(
                out,
                "no model file of the table exists in {}: `cargo xtask models` fetches them",
                model_dir.display()
            )?;
        } else {
            writeln!(out, "serving {} (memory budget {} MiB); Ctrl-C stops", ids.join(", "), budget / MIB)?;
        }
        out.flush()?;
    }
    server.run(&stop);
    Ok(ExitCode::SUCCESS)
}

/// One row of the listing.
struct Row {
    agent: String,
    model: String,
    path: String,
    size: Option<u64>,
    estimate: Option<u64>,
    problem: Option<String>,
}

/// The model table the `models` commands work on: `--profile` (if given) and `--config`.
pub(crate) fn resolved_table(profile: Option<&str>, config: Option<&Path>) -> anyhow::Result<ModelTable> {
    let profile = profile.map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    Ok(ModelTable::from_env(profile, config)?)
}

fn list(args: ModelsListArgs) -> anyhow::Result<ExitCode> {
    let table = resolved_table(args.profile.as_deref(), args.config.as_deref())?;
    let budget = args.memory_budget.map_or_else(default_budget, |mib| mib * MIB);
    write_table(&mut anstream::stdout().lock(), &table, budget, args.json)?;
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, table: &ModelTable, budget: u64, json: bool) -> anyhow::Result<()> {
    let rows: Vec<Row> = table.rows().map(|(agent, row)| describe(table, agent.key(), row)).collect();
    if json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "agent": r.agent, "model": r.model, "path": r.path, "size_bytes": r.size,
                    "memory_estimate_bytes": r.estimate, "fits_budget": r.estimate.map(|e| e <= budget),
                    "problem": r.problem,
                })
            })
            .collect();
        let tier = table.tier.as_ref().map(|t| {
            let passed_over: Vec<_> = t
                .passed_over
                .iter()
                .map(|(p, why)| serde_json::json!({"profile": p.to_string(), "why": why}))
                .collect();
            serde_json::json!({"chosen": t.chosen.to_string(), "why": t.reason, "passed_over": passed_over})
        });
        let doc = serde_json::json!({
            "profile": table.profile.to_string(), "auto": tier, "memory_budget_bytes": budget, "models": json,
        });
        serde_json::to_writer_pretty(&mut *out, &doc).context("writing JSON")?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "profile {}, memory budget {} MiB, models in {}",
        table.profile,
        budget / MIB,
        table.model_dir.display()
    )?;
    if let Some(tier) = &table.tier {
        writeln!(out, "auto chose the {} tier: {}", tier.chosen, tier.reason)?;
        for (profile, why) in &tier.passed_over {
            writeln!(out, "  not {profile}: {why}")?;
        }
    }
    writeln!(out, "{:<13} {:<40} {:>8} {:>9} {:<5} path", "agent", "model", "size", "estimate", "fits")?;
    for r in &rows {
        let mib = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |b| format!("{}M", b.div_ceil(MIB)));
        let fits = match r.estimate {
            Some(e) if e <= budget => "yes",
            Some(_) => "no",
            None => "-",
        };
        writeln!(
            out,
            "{:<13} {:<40} {:>8} {:>9} {:<5} {}",
            r.agent,
            r.model,
            mib(r.size),
            mib(r.estimate),
            fits,
            r.path
        )?;
        if let Some(problem) = &r.problem {
            writeln!(out, "{:<13} ! {problem}", "")?;
        }
    }
    Ok(())
}

fn describe(table: &ModelTable, agent: &str, row: &repo_run_inference::AgentModel) -> Row {
    let spec = table.spec_for(&row.model);
    let (path, info) = match table.locate(&row.model) {
        ModelLocation::File(path) => {
            let info = ModelInfo::read(&path);
            (path.display().to_string(), info.map_err(|e| e.to_string()))
        }
        ModelLocation::Remote(url) => (url, Err("remote endpoint: memory is the server's".to_string())),
    };
    Row {
        agent: agent.to_string(),
        model: row.model.to_string(),
        path,
        size: info.as_ref().ok().map(|i| i.file_size),
        estimate: info.as_ref().ok().map(|i| i.estimate_bytes(spec.n_ctx())),
        problem: info.err().map(|problem| match table.source_for(&row.model) {
            Some(source) => format!("{problem}; `repo-run models pull --missing` downloads it from {source}"),
            None => problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use repo_run_inference::env_vars::REPO_RUN_MODEL_DIR;
    use repo_run_inference::table::{SMOLLM2_135M, default_model_dir};

    use super::*;

    fn table_of(profile: Option<repo_run_inference::Profile>, dir: &Path) -> ModelTable {
        let dir = dir.display().to_string();
        ModelTable::load(profile, None, &|v| (v == REPO_RUN_MODEL_DIR).then(|| dir.clone())).unwrap()
    }

    /// The small tier, whatever larger models this machine has fetched.
    fn table(dir: &Path) -> ModelTable {
        table_of(Some(repo_run_inference::Profile::Local), dir)
    }

    fn render(table: &ModelTable, budget_mib: u64, json: bool) -> String {
        let mut out = Vec::new();
        write_table(&mut out, table, budget_mib * MIB, json).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lists_every_agent_with_size_estimate_and_fit() {
        let dir = std::env::var_os(REPO_RUN_MODEL_DIR).map_or_else(default_model_dir, Into::into);
        assert!(dir.join(SMOLLM2_135M).is_file(), "run `cargo xtask models` first");
        let table = table(&dir);
        let text = render(&table, 4096, false);
        let fixer = text.lines().find(|l| l.starts_with("fixer ")).unwrap();
        assert!(fixer.contains(SMOLLM2_135M) && fixer.contains(" yes "), "{text}");
        assert_eq!(text.lines().filter(|l| l.contains(" yes ")).count(), 10, "{text}");
        assert!(render(&table, 100, false).lines().any(|l| l.starts_with("fixer ") && l.contains(" no ")));

        let json: serde_json::Value = serde_json::from_str(&render(&table, 100, true)).unwrap();
        let first = &json["models"][0];
        assert_eq!((first["agent"].as_str(), first["fits_budget"].as_bool()), (Some("detection"), Some(false)));
        assert!(first["memory_estimate_bytes"].as_u64().unwrap() > first["size_bytes"].as_u64().unwrap());
    }

    #[test]
    fn auto_says_which_tier_it_chose_and_why_not_the_larger_ones() {
        let dir = std::env::var_os(REPO_RUN_MODEL_DIR).map_or_else(default_model_dir, Into::into);
        let small = dir.join(SMOLLM2_135M);
        assert!(small.is_file(), "run `cargo xtask models` first");
        // The medium tier's file name on a real GGUF: the choice reads its header and size.
        let models = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&small, models.path().join(repo_run_inference::table::QWEN_CODER_1_5B)).unwrap();
        let text = render(&table_of(None, models.path()), 4096, false);
        assert!(text.starts_with("profile medium,"), "{text}");
        assert!(text.contains("auto chose the medium tier: qwen2.5-coder-1.5b"), "{text}");
        assert!(text.contains("  not production: qwen2.5-coder-7b-instruct-q4_k_m.gguf is not in"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&table_of(None, models.path()), 4096, true)).unwrap();
        assert_eq!(json["auto"]["chosen"], "medium");
        assert_eq!(json["auto"]["passed_over"][0]["profile"], "production");

        let empty = tempfile::tempdir().unwrap();
        let text = render(&table_of(None, empty.path()), 4096, false);
        assert!(text.contains("auto chose the local tier"), "{text}");
        assert!(text.contains("  not medium: qwen2.5-coder-1.5b-instruct-q4_k_m.gguf is not in"), "{text}");
    }

    #[test]
    fn a_missing_model_says_how_to_get_it() {
        let empty = tempfile::tempdir().unwrap();
        let text = render(&table(empty.path()), 4096, false);
        assert!(text.contains("`cargo xtask models` fetches"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("detection ") && l.contains(" - ")), "{text}");
    }
}
