//! `cargo xtask eval fixer [--model FILE] [--only NAME,…] [--skip-model]`: the Fixer on the
//! broken suite (`tests/fixtures/broken/`), measured.
//!
//! Each repository is brought up with `repo-run up -d --ci` (the dev build) twice over: with the rules (and no
//! model), then with the rules off and the Fixer's model alone (`REPO_RUN_FIXER_RULES=off`,
//! `FIXER_AGENT_MODEL`; default the Qwen2.5-Coder 1.5B of `cargo xtask models --eval`). It
//! prints, per repository and mode, whether `up` ended as expected, the fixes applied, the
//! attempts, the wall time and the time spent diagnosing; for the rules, also a second `up`
//! with the recorded fixes in force (no diagnosis) beside the first. Everything is brought
//! down after each run; a system package a fix installed is removed with `repo-run undo`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// What a repository of the suite needs around it, and how it should end.
struct Setup {
    /// Its only commit is dated this day (the era rule reads it).
    commit_date: Option<&'static str>,
    /// Another program holds this port while it comes up.
    hold_port: Option<u16>,
    allow_system: bool,
    /// `None`: healthy; `Some(code)`: the failure is explained, not fixed.
    expected_exit: Option<i32>,
}

/// The repositories that need more than a copy (the rest end healthy after a plain copy).
fn setup_of(name: &str) -> Setup {
    let plain = Setup { commit_date: None, hold_port: None, allow_system: false, expected_exit: None };
    match name {
        "python-era-flask" => Setup { commit_date: Some("2021-06-01"), ..plain },
        "python-port-hardcoded" => Setup { hold_port: Some(8765), expected_exit: Some(5), ..plain },
        "rust-mold-linker" => Setup { allow_system: true, ..plain },
        _ => plain,
    }
}

struct Outcome {
    exit: i32,
    applied: Vec<String>,
    attempts: usize,
    wall: Duration,
    diagnosis: Duration,
    /// The second `up`, with the fixes in force.
    again: Option<Duration>,
}

pub fn run(args: &[&str]) -> Result<()> {
    let mut model: Option<PathBuf> = None;
    let mut only: Option<Vec<String>> = None;
    let mut skip_model = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--model" => model = Some(PathBuf::from(rest.next().context("--model needs a file")?)),
            "--only" => only = Some(rest.next().context("--only needs names")?.split(',').map(str::to_owned).collect()),
            "--skip-model" => skip_model = true,
            other => bail!(
                "unknown argument {other}; usage: cargo xtask eval fixer [--model FILE] [--only a,b] [--skip-model]"
            ),
        }
    }
    let model = if skip_model {
        None
    } else {
        let file =
            model.unwrap_or_else(|| crate::models::model_dir().unwrap_or_default().join(crate::models::EVAL_MODEL));
        if !file.is_file() {
            bail!(
                "{} is missing: `cargo xtask models --eval` fetches it (or pass --model FILE, or --skip-model)",
                file.display()
            );
        }
        Some(file)
    };
    let root = crate::workspace_root();
    let bin = debug_binary()?;
    let (env, _registry) = crate::up_env(&bin, "eval-fixtures")?;
    let suite = root.join("tests/fixtures/broken");
    let mut names: Vec<String> = std::fs::read_dir(&suite)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if let Some(only) = &only {
        names.retain(|n| only.contains(n));
    }

    println!("Fixer on {} broken repositories (dev build; wall = `up` to its end)\n", names.len());
    println!(
        "{:<34} {:<10} {:<6} {:>8} {:>8} {:>9} {:>9}  fixes",
        "repository", "mode", "ok", "attempts", "wall s", "diagn. s", "again s"
    );
    let mut totals = [(0usize, 0usize), (0, 0)];
    for name in &names {
        let setup = setup_of(name);
        let modes: Vec<(&str, Vec<(String, String)>)> = {
            let mut m = vec![("rules", vec![("REPO_RUN_MODEL_DIR".into(), "/nonexistent-rules-only".into())])];
            if let Some(file) = &model {
                m.push((
                    "model",
                    vec![
                        ("REPO_RUN_FIXER_RULES".into(), "off".into()),
                        ("FIXER_AGENT_MODEL".into(), file.display().to_string()),
                    ],
                ));
            }
            m
        };
        for (i, (mode, extra)) in modes.iter().enumerate() {
            let outcome = run_one(&bin, &suite.join(name), &setup, &env, extra, *mode == "rules")
                .with_context(|| format!("{name} ({mode})"))?;
            let ok = match setup.expected_exit {
                None => outcome.exit == 0,
                Some(code) => outcome.exit == code,
            };
            totals[i].0 += usize::from(ok);
            totals[i].1 += 1;
            println!(
                "{:<34} {:<10} {:<6} {:>8} {:>8.1} {:>9.1} {:>9}  {}",
                name,
                mode,
                if ok { "yes" } else { "NO" },
                outcome.attempts,
                outcome.wall.as_secs_f64(),
                outcome.diagnosis.as_secs_f64(),
                outcome.again.map_or("-".to_owned(), |d| format!("{:.1}", d.as_secs_f64())),
                if outcome.applied.is_empty() { "-".to_owned() } else { outcome.applied.join(", ") }
            );
        }
    }
    println!();
    println!("rules only:      {}/{} ended as expected", totals[0].0, totals[0].1);
    if model.is_some() {
        println!("model only:      {}/{} ended as expected (rules off)", totals[1].0, totals[1].1);
    }
    Ok(())
}

fn run_one(
    bin: &Path,
    fixture: &Path,
    setup: &Setup,
    env: &[(String, String)],
    extra: &[(String, String)],
    measure_again: bool,
) -> Result<Outcome> {
    let scratch = tempfile_dir(fixture)?;
    crate::copy_dir(fixture, &scratch)?;
    if let Some(date) = setup.commit_date {
        commit_dated(&scratch, date)?;
    }
    let _holder = setup.hold_port.map(|p| TcpListener::bind(("0.0.0.0", p))).transpose().context("holding the port")?;
    let up = |report: &Path| -> Result<(i32, Duration)> {
        let mut command = Command::new(bin);
        command.args(["up", "-d", "--ci", "--report"]).arg(report).current_dir(&scratch);
        if setup.allow_system {
            command.arg("--allow-system");
        }
        let started = Instant::now();
        let out = command.envs(env.iter().cloned()).envs(extra.iter().cloned()).output()?;
        Ok((out.status.code().unwrap_or(-1), started.elapsed()))
    };
    let first = scratch.join("eval-1.json");
    let (exit, wall) = up(&first)?;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&first).unwrap_or_default()).unwrap_or_default();
    let attempts = report["fixes"].as_array().cloned().unwrap_or_default();
    let applied: Vec<String> = attempts
        .iter()
        .filter(|a| a["outcome"] == "applied")
        .map(|a| a["description"].as_str().unwrap_or("?").to_owned())
        .collect();
    let diagnosis = Duration::from_millis(report["diagnosis_ms"].as_u64().unwrap_or(0));
    down(bin, &scratch)?;
    let again = if measure_again && exit == 0 && !applied.is_empty() {
        let (code, wall) = up(&scratch.join("eval-2.json"))?;
        down(bin, &scratch)?;
        (code == 0).then_some(wall)
    } else {
        None
    };
    // A system package a fix installed goes again: the machine stays as it was.
    for fix in report["fixes_in_force"].as_array().into_iter().flatten() {
        if fix["action"]["action"] == "install_system_package" {
            let id = fix["id"].as_str().unwrap_or_default();
            Command::new(bin).args(["undo", id]).current_dir(&scratch).output()?;
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Outcome { exit, applied, attempts: attempts.len(), wall, diagnosis, again })
}

/// The dev build (its llama.cpp is optimised; a release build would compile it all again).
fn debug_binary() -> Result<PathBuf> {
    let root = crate::workspace_root();
    eprintln!("eval: building repo-run");
    let status = crate::cargo().args(["build", "-q", "-p", "repo-run"]).current_dir(&root).status()?;
    if !status.success() {
        bail!("cargo build -p repo-run failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug/repo-run"))
}

fn down(bin: &Path, dir: &Path) -> Result<()> {
    let out = Command::new(bin).args(["down", "--volumes"]).current_dir(dir).output()?;
    if !out.status.success() {
        bail!("down failed in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn tempfile_dir(fixture: &Path) -> Result<PathBuf> {
    let name = fixture.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("repo-run-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(dir)
}

fn commit_dated(dir: &Path, date: &str) -> Result<()> {
    for args in [&["init", "-q"][..], &["add", "."], &["commit", "-q", "-m", "as written then"]] {
        let stamp = format!("{date}T12:00:00Z");
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .envs([("GIT_AUTHOR_DATE", stamp.as_str()), ("GIT_COMMITTER_DATE", stamp.as_str())])
            .envs([("GIT_AUTHOR_NAME", "eval"), ("GIT_AUTHOR_EMAIL", "eval@example.com")])
            .envs([("GIT_COMMITTER_NAME", "eval"), ("GIT_COMMITTER_EMAIL", "eval@example.com")])
            .status()?;
        if !status.success() {
            bail!("git {args:?} failed in {}", dir.display());
        }
    }
    Ok(())
}
