//! `repo-run review`: the review rules over files and directories, for people and for CI.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use repo_run_lsp::review::{self, Report};
use repo_run_lsp::{Config, Severity};

use crate::error::hinted;

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Files or directories to review; `.gitignore` is honoured.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReviewFormat::Text)]
    pub format: ReviewFormat,
    /// Exit with status 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Turn a rule off, by id (repeatable).
    #[arg(long = "disable", value_name = "RULE")]
    pub disable: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReviewFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FailOn {
    Warning,
    Error,
    Never,
}

pub fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::default();
    for id in args.disable {
        if repo_run_lsp::rules::rule(&id).is_none() {
            return Err(hinted(
                format!("unknown rule `{id}`"),
                "`repo-run review --format json` names the rule of each finding",
            ));
        }
        config.disabled.insert(id);
    }
    for p in &args.paths {
        if !p.exists() {
            return Err(hinted(format!("{} does not exist", p.display()), "pass files or directories to review"));
        }
    }
    let base = std::env::current_dir().context("reading the current directory")?;
    let report = review::review(&args.paths, &base, &config);

    let mut buf = Vec::new();
    match args.format {
        ReviewFormat::Text => review::text(&mut buf, &report)?,
        ReviewFormat::Json => serde_json::to_writer_pretty(&mut buf, &review::json(&report))?,
        ReviewFormat::Sarif => serde_json::to_writer_pretty(&mut buf, &review::sarif(&report, &base))?,
    }
    if !matches!(args.format, ReviewFormat::Text) {
        buf.push(b'\n');
    }
    match &args.output {
        Some(path) => std::fs::write(path, &buf).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    if std::env::var(crate::env_vars::GITHUB_ACTIONS).is_ok_and(|v| v == "true") {
        // The runner reads workflow commands from both streams; stderr keeps stdout parseable.
        review::github_annotations(&mut std::io::stderr().lock(), &report)?;
    }
    Ok(exit_code(&report, args.fail_on))
}

fn exit_code(report: &Report, fail_on: FailOn) -> ExitCode {
    let threshold = match fail_on {
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
        FailOn::Never => return ExitCode::SUCCESS,
    };
    if report.worst().is_some_and(|w| w >= threshold) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
