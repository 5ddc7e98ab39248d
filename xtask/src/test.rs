//! `cargo xtask test`: set up, run every test in the workspace, and end with one summary line
//! (`summary: N passed, N failed, N skipped`) added up over all test binaries.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use anyhow::{Context, bail};

pub fn run(extra: &[&str]) -> anyhow::Result<()> {
    crate::setup::run()?;
    // The Docker tests need service images; on a machine without a registry, local ones.
    let images = crate::images::for_tests()?;
    // The Node install tests need an npm registry; on a machine without one, a local one.
    let npm = crate::npm_registry::for_tests()?;
    let mut child = crate::cargo()
        .args(["test", "--workspace", "--no-fail-fast", "--color", "never"])
        .args(extra)
        .envs(images)
        .envs(npm)
        // Tests run the small tier: on a machine that fetched Qwen (`cargo xtask models
        // --eval`), `auto` would pick it and every model answer would be its, and slower.
        .env("REPO_RUN_MODEL_PROFILE", "local")
        .current_dir(crate::workspace_root())
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo test")?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += count(rest, " passed");
            failed += count(rest, " failed");
            ignored += count(rest, " ignored");
        }
    }
    let status = child.wait()?;
    println!("summary: {passed} passed, {failed} failed, {ignored} skipped");
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    Ok(())
}

/// The number before `label` in `ok. 12 passed; 0 failed; …`.
fn count(line: &str, label: &str) -> u64 {
    line.split(';')
        .find_map(|part| {
            part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(label.trim_start())
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts() {
        let l = "ok. 12 passed; 1 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.29s";
        assert_eq!(super::count(l, " passed"), 12);
        assert_eq!(super::count(l, " failed"), 1);
        assert_eq!(super::count(l, " ignored"), 3);
        assert_eq!(super::count("FAILED. 2 passed; 4 failed;", " failed"), 4);
    }
}
