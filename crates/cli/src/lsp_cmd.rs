//! `repo-run lsp`: the language server on standard input and output.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct LspArgs {
    /// Accepted for clients that pass it; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: LspArgs) -> anyhow::Result<ExitCode> {
    repo_run_lsp::server::run_stdio()?;
    Ok(ExitCode::SUCCESS)
}
