//! `repo-run fix [--list | --apply]` and `repo-run undo [ID]`: the fixes `up` keeps in force
//! (`.repo-run/fixes.toml`), written into the project's own files on request, and taken back.

use std::process::ExitCode;

use anyhow::Context;
use repo_run_agents::fixer::{FixStore, undo_side_effects, writeback};
use repo_run_agents::workdir::WorkDir;

use crate::cli::{FixArgs, UndoArgs};
use crate::error::hinted;

fn open(path: &std::path::Path) -> anyhow::Result<(std::path::PathBuf, WorkDir, FixStore)> {
    let root = path.canonicalize().with_context(|| format!("cannot read {}", path.display()))?;
    let workdir = WorkDir::new(&root);
    let store = FixStore::load(&workdir)
        .map_err(|e| hinted(e.to_string(), "fix the file, or remove it to drop every fix in force"))?;
    Ok((root, workdir, store))
}

pub fn fix(args: FixArgs) -> anyhow::Result<ExitCode> {
    let (root, workdir, mut store) = open(&args.path)?;
    if args.apply {
        let report = writeback::apply(&root, &workdir, &mut store).context("writing the fixes into the project")?;
        if args.json {
            let json = serde_json::json!({
                "written": report.written.iter().map(|(id, file)| serde_json::json!({"id": id, "file": file})).collect::<Vec<_>>(),
                "kept": report.kept.iter().map(|(id, why)| serde_json::json!({"id": id, "why": why})).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(ExitCode::SUCCESS);
        }
        if report.written.is_empty() && report.kept.is_empty() {
            println!("no fixes in force: nothing to write");
        }
        for (id, file) in &report.written {
            println!("{id}: written into {file}");
        }
        for change in &report.files {
            match &change.backup {
                Some(b) => println!("  {} backed up to {}", change.file, b.display()),
                None => println!("  {} created", change.file),
            }
        }
        for (id, why) in &report.kept {
            println!("{id}: stays in force in .repo-run/fixes.toml ({why})");
        }
        if !report.written.is_empty() {
            println!("`repo-run undo` puts the files back as they were");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "fixes": list_json(&store) }))?);
        return Ok(ExitCode::SUCCESS);
    }
    if store.is_empty() {
        println!("no fixes in force");
        return Ok(ExitCode::SUCCESS);
    }
    for r in store.records() {
        println!("{}  {}\n      {} ({}, {})", r.id, r.description, r.signature, r.source, r.applied_at);
    }
    println!("\n`repo-run undo ID` removes one; `repo-run fix --apply` writes them into your files");
    Ok(ExitCode::SUCCESS)
}

fn list_json(store: &FixStore) -> Vec<serde_json::Value> {
    store
        .records()
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "description": r.description, "signature": r.signature,
                "source": r.source, "applied_at": r.applied_at, "action": r.action,
            })
        })
        .collect()
}

pub fn undo(args: UndoArgs) -> anyhow::Result<ExitCode> {
    let (root, workdir, mut store) = open(&args.path)?;
    match args.id {
        Some(id) => {
            let Some(record) = store.remove(&id) else {
                let known: Vec<&str> = store.records().iter().map(|r| r.id.as_str()).collect();
                return Err(hinted(
                    format!("no fix `{id}` is in force"),
                    if known.is_empty() {
                        "no fixes are in force".to_owned()
                    } else {
                        format!("in force: {}", known.join(", "))
                    },
                ));
            };
            undo_side_effects(&record, &workdir.log_file("fix")).map_err(|e| hinted(e, "remove it by hand"))?;
            store.save().context("writing .repo-run/fixes.toml")?;
            println!("{id} removed: {}", record.description);
        }
        None => match writeback::revert_last(&root, &workdir, &mut store).context("reverting the last fix --apply")? {
            Some(files) => {
                for change in files {
                    match change.backup {
                        Some(_) => println!("{} restored", change.file),
                        None => println!("{} removed (fix --apply created it)", change.file),
                    }
                }
                println!("the fixes it wrote are in force again (`repo-run fix --list`)");
            }
            None => {
                return Err(hinted(
                    "there is no `repo-run fix --apply` to revert",
                    "name a fix to remove: `repo-run undo ID` (see `repo-run fix --list`)",
                ));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
