//! `repo-run models pull <URL|hf:owner/repo/file.gguf>`: a GGUF file into the model directory,
//! with a progress bar, a checksum check and resumption (see `repo_run_inference::pull`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use repo_run_inference::ModelLocation;
use repo_run_inference::env_vars::REPO_RUN_MODEL_DIR;
use repo_run_inference::pull::{PullError, PullProgress, PullRequest, Pulled, pull};
use repo_run_inference::table::default_model_dir;

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["source", "missing"]))]
pub struct ModelsPullArgs {
    /// An http(s):// URL of a .gguf file, or hf:owner/repo/file.gguf (hf:owner/repo@rev/file.gguf).
    pub source: Option<String>,
    /// Download every model the resolved table uses that is not on this machine, from its
    /// `source` in repo-run.toml or the known source of a compiled-in model.
    #[arg(long)]
    pub missing: bool,
    /// With --missing: the model profile (`local` or `production`).
    #[arg(long, requires = "missing")]
    pub profile: Option<String>,
    /// With --missing: the config file with `[models.<agent>]` rows.
    #[arg(long, default_value = "repo-run.toml")]
    pub config: Option<PathBuf>,
    /// Expected SHA-256 of the file (hex). Without it, Hugging Face's published hash is checked
    /// when the server sends one, and the computed hash is printed so you can pin it.
    #[arg(long, value_name = "HEX", conflicts_with = "missing")]
    pub sha256: Option<String>,
    /// Save as this file name (default: the URL's last path segment).
    #[arg(long, value_name = "FILE", conflicts_with = "missing")]
    pub name: Option<String>,
    /// The folder to save into (default: $REPO_RUN_MODEL_DIR, else ~/.cache/repo-run/models).
    #[arg(long, value_name = "DIR", conflicts_with = "missing")]
    pub dir: Option<PathBuf>,
    /// Download again even when the file is already there.
    #[arg(long)]
    pub force: bool,
    /// Hugging Face token for gated models (default: $HF_TOKEN); sent to huggingface.co only.
    #[arg(long, value_name = "TOKEN", env = "HF_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the result as JSON on stdout (with --missing, a list).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ModelsPullArgs) -> anyhow::Result<ExitCode> {
    // Ctrl-C stops the download at the next chunk and keeps the bytes for a resume.
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&cancel))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&cancel)).context("installing the signal handler")?;
    }
    let token = args.token.clone().filter(|t| !t.is_empty());
    if args.missing {
        return pull_missing(&args, token, &cancel);
    }
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::var_os(REPO_RUN_MODEL_DIR).filter(|d| !d.is_empty()).map_or_else(default_model_dir, PathBuf::from)
    });
    let request = PullRequest {
        source: args.source.clone().unwrap_or_default(),
        dir,
        name: args.name.clone(),
        sha256: args.sha256.clone(),
        force: args.force,
        token,
    };
    let mut out = std::io::stdout().lock();
    let pulled = match pull_one(&request, &cancel) {
        Ok(pulled) => pulled,
        Err(Failed::Interrupted) => return Ok(ExitCode::from(130)),
        Err(Failed::Error(error)) => return Err(error),
    };
    if args.json {
        serde_json::to_writer_pretty(&mut out, &pulled).context("writing JSON")?;
        writeln!(out)?;
    } else {
        describe(&mut out, &pulled)?;
        let name = pulled.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        writeln!(
            out,
            "use it with e.g. FIXER_AGENT_MODEL={name}, or model = \"{name}\" under [models.<agent>] in repo-run.toml"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--missing`: every model file of the table that is not here, from its known source.
fn pull_missing(args: &ModelsPullArgs, token: Option<String>, cancel: &AtomicBool) -> anyhow::Result<ExitCode> {
    let table = crate::models_cmd::resolved_table(args.profile.as_deref(), args.config.as_deref())?;
    let (mut requests, mut unknown) = (Vec::new(), Vec::new());
    for (_, model) in table.distinct_models() {
        let ModelLocation::File(path) = table.locate(&model) else { continue };
        if path.is_file() {
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match table.source_for(&model) {
            Some(source) => requests.push(PullRequest {
                source,
                dir: path.parent().map(PathBuf::from).unwrap_or_default(),
                name: Some(name),
                sha256: None,
                force: args.force,
                token: token.clone(),
            }),
            None => unknown.push(name),
        }
    }
    let mut out = std::io::stdout().lock();
    if requests.is_empty() && unknown.is_empty() {
        if args.json {
            writeln!(out, "[]")?;
        } else {
            writeln!(out, "every model of the {} table is on this machine", table.profile)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (mut pulled, mut failed) = (Vec::new(), 0);
    for request in &requests {
        eprintln!("pulling {} from {}", request.name.as_deref().unwrap_or_default(), request.source);
        match pull_one(request, cancel) {
            Ok(done) => {
                if !args.json {
                    describe(&mut out, &done)?;
                }
                pulled.push(done);
            }
            Err(Failed::Interrupted) => return Ok(ExitCode::from(130)),
            Err(Failed::Error(error)) => {
                crate::error::report(&error);
                failed += 1;
            }
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut out, &pulled).context("writing JSON")?;
        writeln!(out)?;
    }
    for name in &unknown {
        eprintln!(
            "{name}: no known source; pull it by URL (repo-run models pull URL --name {name}), \
             or give its row `source = \"hf:owner/repo/{name}\"` in repo-run.toml"
        );
    }
    Ok(if failed == 0 && unknown.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

enum Failed {
    Interrupted,
    Error(anyhow::Error),
}

/// One pull with a progress bar; an interruption is printed here, other errors returned.
fn pull_one(request: &PullRequest, cancel: &AtomicBool) -> Result<Pulled, Failed> {
    let progress = BarProgress::new();
    let result = pull(request, &progress, cancel);
    progress.bar.finish_and_clear();
    match result {
        Ok(pulled) => Ok(pulled),
        Err(error @ PullError::Interrupted { .. }) => {
            eprintln!("{error}");
            Err(Failed::Interrupted)
        }
        Err(error) => Err(Failed::Error(match error.hint() {
            Some(hint) => crate::error::hinted(error.to_string(), hint),
            None => anyhow::Error::new(error),
        })),
    }
}

/// What a pull did, in two lines.
fn describe(out: &mut impl Write, pulled: &Pulled) -> anyhow::Result<()> {
    if pulled.already_present {
        writeln!(
            out,
            "{} is already there ({} MB); --force downloads it again",
            pulled.path.display(),
            mb(pulled.bytes)
        )?;
    } else {
        let secs = pulled.seconds.max(1e-3);
        let resumed = if pulled.resumed_from > 0 {
            format!(", resumed at {} MB", mb(pulled.resumed_from))
        } else {
            String::new()
        };
        let reconnects = match pulled.connections {
            0 | 1 => String::new(),
            n => format!(", {} reconnects", n - 1),
        };
        writeln!(
            out,
            "pulled {} ({} MB in {secs:.1} s, {:.1} MB/s{resumed}{reconnects})",
            pulled.path.display(),
            mb(pulled.bytes),
            pulled.received as f64 / 1e6 / secs,
        )?;
    }
    let check = match pulled.verified_by {
        "given" => "matches --sha256",
        "server" => "matches the server's published hash",
        _ => "not checked: pass --sha256 to pin it",
    };
    writeln!(out, "sha256 {} ({check})", pulled.sha256)?;
    Ok(())
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// A byte bar on a terminal; a line per retry and nothing else when stderr is not one.
struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    fn new() -> BarProgress {
        let target =
            if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner:.cyan} {msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        BarProgress { bar }
    }
}

impl PullProgress for BarProgress {
    fn start(&self, total: Option<u64>, done: u64) {
        match total {
            Some(total) => self.bar.set_length(total),
            None => self.bar.unset_length(),
        }
        self.bar.set_position(done);
        // The rate and ETA count this connection's bytes only.
        self.bar.reset_eta();
        self.bar.set_message("downloading");
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn retry(&self, attempt: u32, reason: &str) {
        self.bar.suspend(|| eprintln!("connection lost ({reason}); resuming (attempt {})", attempt + 1));
    }

    fn verifying(&self) {
        self.bar.set_message("checking");
    }
}
