//! Planning never imports doing: the read-only half of the crate (detection, requirements,
//! the plan types, the repository view) uses nothing of the agents that run processes, talk to
//! Docker or apply fixes. This is what a crate split would enforce (ARCHITECTURE.md, Decisions).

use std::path::{Path, PathBuf};

const PLANNING: &[&str] = &["detection", "requirements", "plan.rs", "repo.rs", "document.rs"];
const DOING: &[&str] = &[
    "crate::setup",
    "crate::services",
    "crate::migrations",
    "crate::runner",
    "crate::health",
    "crate::fixer",
    "crate::lifecycle",
    "crate::state",
    "crate::up::",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn planning_modules_use_no_doing_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for part in PLANNING {
        rust_files(&src.join(part), &mut files);
    }
    assert!(files.len() > 20, "the planning modules were found: {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(path) = DOING.iter().find(|d| line.contains(*d)) {
                offences.push(format!("{}:{}: {path}", file.display(), n + 1));
            }
        }
    }
    assert!(offences.is_empty(), "planning code reaches into the doing agents:\n{}", offences.join("\n"));
}
