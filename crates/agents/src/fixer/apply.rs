//! Applying a validated action: generated values are filled in, a system package is installed
//! (the one action with an effect outside `.repo-run/`), and the fix is recorded in
//! `fixes.toml`, where the agents read it. Undo reverses the outside effect.

use std::process::Command;

use super::action::{EnvValue, FixAction};
use super::store::FixRecord;
use crate::pipeline::Blackboard;

/// Applies `action` and returns the fix's id.
pub(super) fn apply(
    board: &mut Blackboard,
    action: &FixAction,
    signature: &str,
    source: &str,
) -> Result<String, String> {
    let resolved = match action {
        FixAction::SetEnv { project, name, value: EnvValue::GeneratedSecret { length } } => FixAction::SetEnv {
            project: project.clone(),
            name: name.clone(),
            value: EnvValue::Literal { value: crate::setup::random_hex(*length as usize) },
        },
        other => other.clone(),
    };
    board.workdir.ensure().map_err(|e| format!("cannot create {}: {e}", board.workdir.path().display()))?;
    let mut installed_package = false;
    if let FixAction::InstallSystemPackage { package } = action {
        if !dpkg_installed(package) {
            let log = board.workdir.log_file("fix");
            apt(&["install", "-y", "--no-install-recommends", package], &log)?;
            installed_package = true;
        }
    }
    let id = board.fixes.add(FixRecord {
        id: String::new(),
        signature: signature.to_owned(),
        source: source.to_owned(),
        description: action.describe(),
        applied_at: crate::state::utc_now(),
        action: resolved,
        installed_package,
    });
    board.fixes.save().map_err(|e| format!("cannot record the fix in .repo-run/fixes.toml: {e}"))?;
    Ok(id)
}

/// Reverses what applying `record` did outside `.repo-run/`: a system package the fix
/// installed is removed again (one that was there before is left alone).
pub fn undo_side_effects(record: &FixRecord, log: &std::path::Path) -> Result<(), String> {
    match &record.action {
        FixAction::InstallSystemPackage { package } if record.installed_package => apt(&["remove", "-y", package], log),
        _ => Ok(()),
    }
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// `apt-get ARGS` as argv (through `sudo -n` when not root), output to `log`; an install that
/// cannot find the package refreshes the lists once and tries again.
fn apt(args: &[&str], log: &std::path::Path) -> Result<(), String> {
    let run = |args: &[&str]| -> Result<(bool, String), String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let mut command = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            command.args(["-n", "apt-get"]);
        }
        let out = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::OpenOptions::new().create(true).append(true).open(log).and_then(|mut f| {
            std::io::Write::write_all(&mut f, format!("$ apt-get {}\n{text}", args.join(" ")).as_bytes())
        });
        Ok((out.status.success(), text))
    };
    let (ok, text) = run(args)?;
    if ok {
        return Ok(());
    }
    if args.first() == Some(&"install") && text.contains("Unable to locate package") {
        run(&["update"])?;
        if run(args)?.0 {
            return Ok(());
        }
    }
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
    Err(format!("`apt-get {}` failed: {last} (log: {})", args.join(" "), log.display()))
}
