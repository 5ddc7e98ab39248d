//! `cargo xtask bench engine [--features cuda]`: runs the engine benchmark example.
//!
//! The example lives in `repo-run-inference` so xtask itself never links llama.cpp. It runs
//! in the dev profile, whose llama.cpp is built optimised (see the workspace Cargo.toml).

use std::process::Command;

use anyhow::{Context, Result, bail};

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("engine") => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["run", "-p", "repo-run-inference", "--example", "engine_bench"])
                .args(&args[1..])
                .status()
                .context("running cargo")?;
            if !status.success() {
                bail!("the engine benchmark failed ({status})");
            }
            Ok(())
        }
        other => bail!("unknown benchmark {other:?} (known: engine)"),
    }
}
