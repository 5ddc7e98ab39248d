//! `repo-run down`, `repo-run status` and `repo-run logs`: they read `.repo-run/state.json`
//! (and Docker's labels), so they work after `up -d` and after repo-run itself was killed.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use repo_run_agents::lifecycle::{self, DownOptions};
use repo_run_agents::workdir::WorkDir;

use crate::cli::{DownArgs, LogsArgs, StatusArgs};
use crate::error::hinted;

fn project_root(path: &Path) -> anyhow::Result<PathBuf> {
    path.canonicalize().with_context(|| format!("cannot read {}", path.display()))
}

pub fn down(args: DownArgs) -> anyhow::Result<ExitCode> {
    let root = project_root(&args.path)?;
    let report = lifecycle::down(&root, DownOptions { remove_volumes: args.volumes })?;
    let lines = report.lines();
    if lines.is_empty() {
        println!("nothing was running");
    }
    for line in lines {
        println!("{line}");
    }
    if !args.volumes && !report.kept_volumes.is_empty() {
        println!("data kept in {} (delete it with `repo-run down --volumes`)", report.kept_volumes.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let root = project_root(&args.path)?;
    let status = lifecycle::status(&root)?;
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &status).context("writing JSON")?;
        writeln!(out)?;
    } else {
        print!("{}", status.table());
    }
    // Scripts can ask "is it up?" with the exit code alone.
    Ok(if status.all_running() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let root = project_root(&args.path)?;
    let workdir = WorkDir::new(&root);
    let files = log_files(&workdir, args.name.as_deref())?;
    if args.follow {
        let cancel = repo_run_agents::up::Cancel::default();
        signal_hook::flag::register(signal_hook::consts::SIGINT, cancel.flag()).context("installing the signal handler")?;
        let mut offsets: Vec<u64> = vec![0; files.len()];
        let prefix = files.len() > 1;
        while !cancel.is_cancelled() {
            let mut out = std::io::stdout().lock();
            for ((name, path), offset) in files.iter().zip(&mut offsets) {
                *offset = copy_from(path, *offset, prefix.then_some(name.as_str()), &mut out)?;
            }
            out.flush()?;
            drop(out);
            std::thread::sleep(Duration::from_millis(250));
        }
    } else {
        let mut out = std::io::stdout().lock();
        let prefix = files.len() > 1;
        for (name, path) in &files {
            copy_from(path, 0, prefix.then_some(name.as_str()), &mut out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `(name, path)` of the logs to show: one by name, or all of them.
fn log_files(workdir: &WorkDir, name: Option<&str>) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let dir = workdir.logs_dir();
    let mut all: Vec<(String, PathBuf)> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
            .collect(),
        Err(_) => Vec::new(),
    };
    all.sort();
    if all.is_empty() {
        return Err(hinted(format!("no logs in {}", dir.display()), "run `repo-run up` in this project first"));
    }
    match name {
        None => Ok(all),
        Some(name) => {
            let known: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
            let found: Vec<_> = all.into_iter().filter(|(n, _)| n == name).collect();
            if found.is_empty() {
                return Err(hinted(format!("no log named `{name}`"), format!("logs here: {}", known.join(", "))));
            }
            Ok(found)
        }
    }
}

/// Copies `path` from `offset` to `out` (whole lines, prefixed when asked); returns the new offset.
fn copy_from(path: &Path, offset: u64, prefix: Option<&str>, out: &mut impl Write) -> anyhow::Result<u64> {
    let Ok(mut file) = std::fs::File::open(path) else { return Ok(offset) };
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).with_context(|| format!("reading {}", path.display()))?;
    // Only complete lines: a partial last line is printed on the next round.
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for line in String::from_utf8_lossy(&bytes[..end]).lines() {
        match prefix {
            Some(p) => writeln!(out, "{p} | {line}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(offset + end as u64)
}
