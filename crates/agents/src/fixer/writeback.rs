//! `repo-run fix --apply`: the fixes in force written into the project's own files, and
//! `repo-run undo` reverting that, byte for byte.
//!
//! Each file is copied to `.repo-run/backups/` before its first change (or noted as new), and
//! the whole apply is recorded in `.repo-run/fix-apply.json` with the fixes it moved out of
//! `fixes.toml`, so undo restores the files exactly and puts the fixes back in force. Fixes with
//! no place in a user's file (a script to run, a skipped step) stay in force and are named.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::action::{EnvValue, FixAction, InstallFlag, RuntimeName};
use super::requirements_txt::{requirement_name, same_package};
use super::store::{FixRecord, FixStore};
use crate::workdir::WorkDir;

const JOURNAL: &str = "fix-apply.json";

/// One file an apply changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Relative to the repository root.
    pub file: String,
    /// The copy made before the change; `None` when the apply created the file.
    pub backup: Option<PathBuf>,
}

/// One `fix --apply`, as undo needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Applied {
    applied_at: String,
    files: Vec<FileChange>,
    /// The fixes moved into the files (out of `fixes.toml`).
    fixes: Vec<FixRecord>,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// `(fix id, file)` for each fix written.
    pub written: Vec<(String, String)>,
    /// `(fix id, why it stays in force)`.
    pub kept: Vec<(String, String)>,
    pub files: Vec<FileChange>,
}

/// Writes every fix that has a place in a user's file; the rest stay in force.
pub fn apply(root: &Path, workdir: &WorkDir, store: &mut FixStore) -> io::Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let mut moved = Vec::new();
    for record in store.records().to_vec() {
        let Some((file, edit)) = edit_for(&record.action) else {
            report.kept.push((record.id.clone(), "it has no place in the project's own files".into()));
            continue;
        };
        let path = root.join(&file);
        if !report.files.iter().any(|c| c.file == file) {
            let backup = if path.exists() { Some(workdir.backup(&path)?) } else { None };
            report.files.push(FileChange { file: file.clone(), backup });
        }
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        match edit(&before) {
            Some(after) => {
                std::fs::write(&path, after)?;
                report.written.push((record.id.clone(), file));
                moved.push(record);
            }
            None => report.kept.push((record.id.clone(), format!("{file} has nothing to change for it"))),
        }
    }
    // Files the apply did not end up changing need no undo.
    report.files.retain(|c| report.written.iter().any(|(_, f)| *f == c.file));
    if moved.is_empty() {
        return Ok(report);
    }
    for record in &moved {
        store.remove(&record.id);
    }
    store.save()?;
    let mut journal = read_journal(workdir)?;
    journal.push(Applied { applied_at: crate::state::utc_now(), files: report.files.clone(), fixes: moved });
    write_journal(workdir, &journal)?;
    Ok(report)
}

/// Reverts the last apply: files restored from their backups (created ones removed), the fixes
/// back in force. `None` when there is nothing to revert.
pub fn revert_last(root: &Path, workdir: &WorkDir, store: &mut FixStore) -> io::Result<Option<Vec<FileChange>>> {
    let mut journal = read_journal(workdir)?;
    let Some(last) = journal.pop() else { return Ok(None) };
    for change in &last.files {
        let path = root.join(&change.file);
        match &change.backup {
            Some(backup) => {
                std::fs::copy(backup, &path)?;
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
    }
    for record in last.fixes {
        store.restore(record);
    }
    store.save()?;
    write_journal(workdir, &journal)?;
    Ok(Some(last.files))
}

type Edit = Box<dyn Fn(&str) -> Option<String>>;

/// The file a fix goes into (relative to the root) and how its text changes.
fn edit_for(action: &FixAction) -> Option<(String, Edit)> {
    let at = |project: &str, name: &str| if project == "." { name.to_owned() } else { format!("{project}/{name}") };
    match action {
        FixAction::SetEnv { project, name, value: EnvValue::Literal { value } } => {
            let line = format!("{name}={}", dotenv_value(value));
            let name = name.clone();
            Some((
                at(project, ".env"),
                Box::new(move |text| {
                    let set = text
                        .lines()
                        .any(|l| l.trim_start().trim_start_matches("export ").starts_with(&format!("{name}=")));
                    (!set).then(|| append_line(text, &line))
                }),
            ))
        }
        FixAction::ConstrainDependency { project, package, constraint } => {
            let package = package.clone();
            let line = format!("{package}{constraint}");
            Some((
                at(project, "requirements.txt"),
                Box::new(move |text| {
                    let mut replaced = false;
                    let mut out = String::new();
                    for l in text.split_inclusive('\n') {
                        if !replaced && requirement_name(l).is_some_and(|n| same_package(n, &package)) {
                            out.push_str(&line);
                            out.push('\n');
                            replaced = true;
                        } else {
                            out.push_str(l);
                        }
                    }
                    Some(if replaced { out } else { append_line(text, &line) })
                }),
            ))
        }
        FixAction::ChooseRuntime { project, runtime: RuntimeName::Python, version } => {
            let version = version.clone();
            Some((
                at(project, ".python-version"),
                Box::new(move |text| (text.trim() != version).then(|| format!("{version}\n"))),
            ))
        }
        FixAction::AddInstallFlag { project, flag } => {
            let line = match flag {
                InstallFlag::LegacyPeerDeps => "legacy-peer-deps=true",
                InstallFlag::IgnoreEngines => "engine-strict=false",
            };
            Some((
                at(project, ".npmrc"),
                Box::new(move |text| (!text.lines().any(|l| l.trim() == line)).then(|| append_line(text, line))),
            ))
        }
        _ => None,
    }
}

fn append_line(text: &str, line: &str) -> String {
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// A value quoted only when a dotenv reader would otherwise change it.
fn dotenv_value(value: &str) -> String {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@+".contains(c)) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', ""))
    }
}

fn journal_path(workdir: &WorkDir) -> PathBuf {
    workdir.path().join(JOURNAL)
}

fn read_journal(workdir: &WorkDir) -> io::Result<Vec<Applied>> {
    match std::fs::read_to_string(journal_path(workdir)) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", journal_path(workdir).display()))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn write_journal(workdir: &WorkDir, journal: &[Applied]) -> io::Result<()> {
    let path = journal_path(workdir);
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_vec_pretty(journal).map_err(io::Error::other)?)?;
    std::fs::rename(partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::StepKind;

    fn add(store: &mut FixStore, action: FixAction) {
        store.add(FixRecord {
            id: String::new(),
            signature: "s".into(),
            source: "rule:test".into(),
            description: action.describe(),
            applied_at: "t".into(),
            action,
            installed_package: false,
        });
    }

    #[test]
    fn apply_then_undo_leaves_files_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let workdir = WorkDir::new(root);
        workdir.ensure().unwrap();
        // No newline at the end, CRLF inside, a comment: all must come back exactly.
        let requirements = "# pinned\r\nFlask==2.0.1\r\nasyncpg==0.26.0";
        std::fs::write(root.join("requirements.txt"), requirements).unwrap();
        let env = "DEBUG=1";
        std::fs::write(root.join(".env"), env).unwrap();
        let mut store = FixStore::load(&workdir).unwrap();
        add(
            &mut store,
            FixAction::SetEnv {
                project: ".".into(),
                name: "SECRET_KEY".into(),
                value: EnvValue::Literal { value: "a1b2".into() },
            },
        );
        add(
            &mut store,
            FixAction::ConstrainDependency {
                project: ".".into(),
                package: "asyncpg".into(),
                constraint: "==0.27.0".into(),
            },
        );
        add(
            &mut store,
            FixAction::ChooseRuntime { project: ".".into(), runtime: RuntimeName::Python, version: "3.10.13".into() },
        );
        add(&mut store, FixAction::SkipStep { project: ".".into(), step: StepKind::Migrate });
        store.save().unwrap();

        let report = apply(root, &workdir, &mut store).unwrap();
        assert_eq!(report.written.len(), 3, "{report:?}");
        assert_eq!(report.kept.len(), 1);
        assert_eq!(std::fs::read_to_string(root.join(".env")).unwrap(), "DEBUG=1\nSECRET_KEY=a1b2\n");
        assert_eq!(
            std::fs::read_to_string(root.join("requirements.txt")).unwrap(),
            "# pinned\r\nFlask==2.0.1\r\nasyncpg==0.27.0\n"
        );
        assert_eq!(std::fs::read_to_string(root.join(".python-version")).unwrap(), "3.10.13\n");
        // Moved out of force (the files carry them now); the skipped step stays.
        assert_eq!(FixStore::load(&workdir).unwrap().records().len(), 1);

        let mut store = FixStore::load(&workdir).unwrap();
        let restored = revert_last(root, &workdir, &mut store).unwrap().unwrap();
        assert_eq!(restored.len(), 3);
        assert_eq!(std::fs::read(root.join("requirements.txt")).unwrap(), requirements.as_bytes());
        assert_eq!(std::fs::read(root.join(".env")).unwrap(), env.as_bytes());
        assert!(!root.join(".python-version").exists(), "a file the apply created is removed");
        let ids: Vec<String> = FixStore::load(&workdir).unwrap().records().iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, ["fix-1", "fix-2", "fix-3", "fix-4"], "every fix is back in force, under its id");
        assert!(revert_last(root, &workdir, &mut store).unwrap().is_none());
    }
}
