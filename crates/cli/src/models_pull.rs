//! `repo-run models pull <URL|hf:owner/repo/file.gguf>`: a GGUF file into the model directory,
//! with a progress bar, a checksum check and resumption (see `repo_run_inference::pull`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use repo_run_inference::env_vars::REPO_RUN_MODEL_DIR;
use repo_run_inference::pull::{PullError, PullProgress, PullRequest, pull};
use repo_run_inference::table::default_model_dir;

#[derive(Debug, clap::Args)]
pub struct ModelsPullArgs {
    /// An http(s):// URL of a .gguf file, or hf:owner/repo/file.gguf (hf:owner/repo@rev/file.gguf).
    pub source: String,
    /// Expected SHA-256 of the file (hex). Without it, Hugging Face's published hash is checked
    /// when the server sends one, and the computed hash is printed so you can pin it.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Save as this file name (default: the URL's last path segment).
    #[arg(long, value_name = "FILE")]
    pub name: Option<String>,
    /// The folder to save into (default: $REPO_RUN_MODEL_DIR, else ~/.cache/repo-run/models).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Download again even when the file is already there.
    #[arg(long)]
    pub force: bool,
    /// Hugging Face token for gated models (default: $HF_TOKEN); sent to huggingface.co only.
    #[arg(long, value_name = "TOKEN", env = "HF_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ModelsPullArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::var_os(REPO_RUN_MODEL_DIR).filter(|d| !d.is_empty()).map_or_else(default_model_dir, PathBuf::from)
    });
    let request = PullRequest {
        source: args.source.clone(),
        dir,
        name: args.name.clone(),
        sha256: args.sha256.clone(),
        force: args.force,
        token: args.token.clone().filter(|t| !t.is_empty()),
    };
    // Ctrl-C stops the download at the next chunk and keeps the bytes for a resume.
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&cancel))
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, Arc::clone(&cancel)).context("installing the signal handler")?;
    }
    let progress = BarProgress::new();
    let started = Instant::now();
    let result = pull(&request, &progress, &cancel);
    progress.bar.finish_and_clear();
    let pulled = match result {
        Ok(pulled) => pulled,
        Err(error @ PullError::Interrupted { .. }) => {
            eprintln!("{error}");
            return Ok(ExitCode::from(130));
        }
        Err(error) => {
            return Err(match error.hint() {
                Some(hint) => crate::error::hinted(error.to_string(), hint),
                None => anyhow::Error::new(error),
            });
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &pulled).context("writing JSON")?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if pulled.already_present {
        writeln!(
            out,
            "{} is already there ({} MB); --force downloads it again",
            pulled.path.display(),
            mb(pulled.bytes)
        )?;
    } else {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
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
    let name = pulled.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    writeln!(
        out,
        "use it with e.g. FIXER_AGENT_MODEL={name}, or model = \"{name}\" under [models.<agent>] in repo-run.toml"
    )?;
    Ok(ExitCode::SUCCESS)
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
