//! A package manager a fix in force needs and the host lacks (uv, for resolving as of a date),
//! provided at the moment the fix applies, in the same place and the same way as the plan's
//! `provide` (`<tools>/<tool>/`, a venv with only that tool; see `requirements::tools`), never in
//! the user's system or the project's `.venv`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Python tools repo-run can provide from the user's package index.
const PROVIDABLE: &[&str] = &["uv"];

/// `tool` on `PATH`, else the one repo-run provided before, else a new one. `note` is told
/// what is being downloaded before it happens.
pub fn provide(tool: &str, tools_dir: Option<&Path>, note: &dyn Fn(&str)) -> Result<PathBuf, String> {
    if let Some(found) = crate::fixer::validate::which(tool) {
        return Ok(found);
    }
    if !PROVIDABLE.contains(&tool) {
        return Err(format!("{tool} is not installed, and repo-run cannot provide it"));
    }
    let Some(tools_dir) = tools_dir else {
        return Err(format!("{tool} is not installed, and there is no cache directory"));
    };
    let dir = tools_dir.join(tool);
    let bin = dir.join("bin").join(tool);
    if bin.is_file() {
        return Ok(bin);
    }
    note(&format!("{tool} is not installed: providing it in {} (pip install {tool})", dir.display()));
    std::fs::create_dir_all(tools_dir).map_err(|e| format!("cannot create {}: {e}", tools_dir.display()))?;
    // Run outside the project: its `.python-version` must not pick the tool's Python.
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&dir).current_dir(tools_dir),
        "creating the tool environment",
    )?;
    run(
        Command::new(dir.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check", tool]),
        &format!("pip install {tool}"),
    )?;
    if bin.is_file() { Ok(bin) } else { Err(format!("pip installed {tool} but {} is missing", bin.display())) }
}

/// Whether `tool` is on `PATH` or can be provided.
pub fn can_provide(tool: &str) -> bool {
    crate::fixer::validate::which(tool).is_some()
        || (PROVIDABLE.contains(&tool) && crate::fixer::validate::which("python3").is_some())
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command.stdin(Stdio::null()).output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
    Err(format!("{what} failed: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_on_path_is_used_as_it_is_and_unknown_tools_are_refused() {
        let sh = provide("sh", None, &|_| panic!("nothing to provide")).unwrap();
        assert!(sh.is_file());
        assert!(provide("repo-run-no-such-tool", None, &|_| {}).unwrap_err().contains("cannot provide"));
        assert!(can_provide("sh") && !can_provide("repo-run-no-such-tool"));
    }
}
