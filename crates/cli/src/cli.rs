//! Command definitions, apart from what they do.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "repo-run", version, about = "Bring any repository up, end to end, with one command")]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); REPO_RUN_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the project up: install, start services and apps, check health.
    Up(UpArgs),
    /// Stop what `up` started (apps and service containers); data volumes are kept.
    Down(DownArgs),
    /// What is running for this project, with URLs and ports.
    Status(StatusArgs),
    /// Show the logs of the project's apps and setup steps.
    Logs(LogsArgs),
    /// Show what `up` would do for a repository, and why; nothing is executed.
    Plan(PlanArgs),
    /// Review source files with the code-review rules (text, JSON or SARIF for CI).
    Review(crate::review_cmd::ReviewArgs),
    /// Serve the review rules to editors: a language server on stdio.
    Lsp(crate::lsp_cmd::LspArgs),
    /// The models agents use: the resolved per-agent table and its memory needs.
    Models(ModelsArgs),
    /// The fixes `up` applied and keeps in force; `--apply` writes them into your files.
    Fix(FixArgs),
    /// Remove a fix in force, or revert the last `repo-run fix --apply`.
    Undo(UndoArgs),
    /// Measure an agent's model step on labelled cases (accuracy, latency, tokens per model).
    Eval(crate::eval_cmd::EvalArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A project directory, or a git URL to clone into the cache first.
    #[arg(default_value = ".")]
    pub source: String,
    /// Print the plan as JSON (stable, see docs/plan-schema.md).
    #[arg(long)]
    pub json: bool,
    /// Rules only: no model is asked where rules leave a question open (such as a start
    /// command that only the README gives); the open question is reported instead.
    #[arg(long)]
    pub no_model: bool,
    /// Where clones of git URLs are kept (default: the user cache directory).
    #[arg(long, env = crate::env_vars::REPO_RUN_CACHE_DIR)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// A project directory, or a git URL to clone into the cache first.
    #[arg(default_value = ".")]
    pub source: String,
    /// Start everything and return; the apps keep running (stop them with `repo-run down`).
    #[arg(short, long)]
    pub detach: bool,
    /// Non-interactive: plain output, no prompts, exit codes by failure kind (3 setup,
    /// 4 services, 5 health).
    #[arg(long, env = crate::env_vars::CI, value_parser = clap::builder::FalseyValueParser::new())]
    pub ci: bool,
    /// Write a JSON report of the run to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Seconds to wait for the apps to become healthy.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub health_timeout: u64,
    /// Where clones of git URLs are kept (default: the user cache directory).
    #[arg(long, env = crate::env_vars::REPO_RUN_CACHE_DIR)]
    pub cache_dir: Option<PathBuf>,
    /// Turn the Fixer off: a failure ends the run at once, with its hint.
    #[arg(long)]
    pub no_fix: bool,
    /// Rules only: no agent asks a model (the Fixer still applies its rules); a question
    /// rules leave open is reported instead.
    #[arg(long)]
    pub no_model: bool,
    /// At most this many fixes in one run.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_fixes: u32,
    /// At most this many fixes for one failed step.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_fixes_per_step: u32,
    /// Let the Fixer install Debian packages on this machine (apt-get), such as a missing
    /// linker or a library's headers. `repo-run undo` removes them again.
    #[arg(long)]
    pub allow_system: bool,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// List the fixes in force (the default).
    #[arg(long, conflicts_with = "apply")]
    pub list: bool,
    /// Write the fixes in force into the project's own files (.env, requirements.txt,
    /// .python-version, .npmrc), after a backup; `repo-run undo` reverts it.
    #[arg(long)]
    pub apply: bool,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The fix to remove (`fix-2`, see `repo-run fix --list`); without it, the last
    /// `repo-run fix --apply` is reverted, files byte-identical to before.
    pub id: Option<String>,
    /// The project directory.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Also delete the services' data volumes (the data is lost).
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this log (an app's name, `setup-<project>`, `migrate-<project>`).
    pub name: Option<String>,
    /// Keep printing new lines until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// The project directory.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Each agent's model, file, size, memory estimate, and whether it fits the budget.
    List(ModelsListArgs),
    /// Serve the engine as an OpenAI-compatible HTTP API (`/v1/models`, `/v1/chat/completions`).
    Serve(crate::models_cmd::ModelsServeArgs),
    /// Tokens, speeds, loads, evictions and fallbacks per agent and model, from telemetry.
    Stats(crate::models_cmd::ModelsStatsArgs),
    /// Download a GGUF model (URL or hf:owner/repo/file.gguf) into the model directory:
    /// resumable, with a progress bar and a SHA-256 check.
    Pull(crate::models_pull::ModelsPullArgs),
    /// Measure models through the engine: load time, prompt and generation tokens/s, time to
    /// first token, and the gain of batching concurrent requests.
    Bench(crate::models_bench::ModelsBenchArgs),
}

#[derive(Debug, Args)]
pub struct ModelsListArgs {
    /// Model profile: `auto` (the default: the largest tier this machine runs), `local`,
    /// `medium` or `production`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Memory budget in MiB for loaded models (default: 3/4 of the available memory).
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<u64>,
    /// The config file with `[models.<agent>]` overrides.
    #[arg(long, default_value = "repo-run.toml")]
    pub config: Option<PathBuf>,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
}
