//! The command-line interface: argument parsing, rendering, exit codes. Every decision about a
//! repository is made in `repo-run-agents`; this crate turns its data into text and JSON.

mod cli;
mod down_cmd;
mod env_vars;
mod error;
mod eval_cmd;
mod fix_cmd;
mod fixer_models;
mod history;
mod lsp_cmd;
mod models_bench;
mod models_cmd;
mod models_pull;
mod plan_cmd;
mod progress;
mod render;
mod review_cmd;
mod source;
mod up_cmd;

use std::process::ExitCode;

use clap::Parser;

pub use cli::{Cli, Command};

/// Parse the command line, run the command, print errors with their hints.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    anstream::ColorChoice::write_global(match cli.color {
        cli::ColorChoice::Auto => anstream::ColorChoice::Auto,
        cli::ColorChoice::Always => anstream::ColorChoice::Always,
        cli::ColorChoice::Never => anstream::ColorChoice::Never,
    });
    match run(cli) {
        Ok(code) => code,
        // `repo-run plan | head`: the reader left, which is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            error::report(&err);
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) => up_cmd::run(args),
        Command::Down(args) => down_cmd::down(args),
        Command::Status(args) => down_cmd::status(args),
        Command::Logs(args) => down_cmd::logs(args),
        Command::Plan(args) => plan_cmd::run(args),
        Command::Review(args) => review_cmd::run(args),
        Command::Lsp(args) => lsp_cmd::run(args),
        Command::Models(args) => models_cmd::run(args),
        Command::Fix(args) => fix_cmd::fix(args),
        Command::Undo(args) => fix_cmd::undo(args),
        Command::Eval(args) => eval_cmd::run(args),
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(env_vars::REPO_RUN_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let kind = e
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| e.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind));
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
