//! The fixes in force (`.repo-run/fixes.toml`) and the log of every attempt
//! (`.repo-run/fixes.jsonl`).
//!
//! A fix that worked stays in force: every later `up` reads this file and applies it before
//! anything runs, so a repaired repository needs no second diagnosis. The agents ask the store
//! what applies to them ([`FixStore::env`], [`FixStore::install_env`], [`FixStore::start_command`],
//! …); nothing here edits a user's file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::action::{ACTION_SCHEMA_VERSION, EnvValue, FixAction, RuntimeName, ScriptRunner};
use crate::failure::StepKind;
use crate::workdir::WorkDir;

pub const FILE_NAME: &str = "fixes.toml";
pub const LOG_NAME: &str = "fixes.jsonl";

/// One fix in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixRecord {
    /// Short and stable: `undo ID` names it.
    pub id: String,
    /// The failure it repaired (stage, step, project, the rule's signal and key values).
    pub signature: String,
    /// `rule:<id>` or `model:<model>`.
    pub source: String,
    pub description: String,
    pub applied_at: String,
    /// With generated values filled in, so every `up` uses the same secret.
    pub action: FixAction,
    /// The fix installed a system package that was not there: undo removes it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub installed_package: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixesFile {
    version: u32,
    #[serde(default, rename = "fix")]
    fixes: Vec<FixRecord>,
}

/// A `fixes.toml` that cannot be read: the file, the line and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct StoreError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// The fixes in force for one project tree.
#[derive(Debug, Clone, Default)]
pub struct FixStore {
    path: Option<PathBuf>,
    records: Vec<FixRecord>,
}

impl FixStore {
    /// No fixes yet, saved into `workdir` when one is added (what a new blackboard starts with;
    /// `up` loads the file instead).
    pub fn empty_at(workdir: &WorkDir) -> FixStore {
        FixStore { path: Some(workdir.path().join(FILE_NAME)), records: Vec::new() }
    }

    /// Reads `.repo-run/fixes.toml`; no file means no fixes.
    pub fn load(workdir: &WorkDir) -> Result<FixStore, StoreError> {
        let path = workdir.path().join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FixStore { path: Some(path), records: Vec::new() });
            }
            Err(e) => return Err(StoreError { file: path, line: None, message: e.to_string() }),
        };
        let file: FixesFile = toml::from_str(&text).map_err(|e| StoreError {
            line: e.span().map(|s| text[..s.start].lines().count().max(1)),
            message: format!("{} (remove the fix with `repo-run undo ID`, or delete the file)", e.message()),
            file: path.clone(),
        })?;
        if file.version > ACTION_SCHEMA_VERSION {
            return Err(StoreError {
                file: path,
                line: None,
                message: format!(
                    "written by a newer repo-run (version {}; this one reads up to {ACTION_SCHEMA_VERSION})",
                    file.version
                ),
            });
        }
        Ok(FixStore { path: Some(path), records: file.fixes })
    }

    pub fn records(&self) -> &[FixRecord] {
        &self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Writes the file whole or not at all.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = FixesFile { version: ACTION_SCHEMA_VERSION, fixes: self.records.clone() };
        let mut text = String::from(
            "# Fixes repo-run applied and keeps in force for every `up` (`repo-run fix --list`).\n# `repo-run undo \
             ID` removes one; `repo-run fix --apply` writes them into your own files.\n",
        );
        text.push_str(&toml::to_string(&file).map_err(std::io::Error::other)?);
        let partial = path.with_extension("toml.partial");
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, path)
    }

    /// Adds a fix (with an id of its own) and returns the id.
    pub fn add(&mut self, mut record: FixRecord) -> String {
        let next = self.records.iter().filter_map(|r| r.id.strip_prefix("fix-")?.parse::<u32>().ok()).max();
        record.id = format!("fix-{}", next.map_or(1, |n| n + 1));
        let id = record.id.clone();
        self.records.push(record);
        id
    }

    /// Puts back a fix that was removed, under its own id (`undo` of a `fix --apply`).
    pub fn restore(&mut self, record: FixRecord) {
        self.records.retain(|r| r.id != record.id);
        self.records.push(record);
        let number = |r: &FixRecord| r.id.strip_prefix("fix-").and_then(|n| n.parse::<u32>().ok()).unwrap_or(u32::MAX);
        self.records.sort_by_key(number);
    }

    /// Removes a fix by id; returns it.
    pub fn remove(&mut self, id: &str) -> Option<FixRecord> {
        let at = self.records.iter().position(|r| r.id == id)?;
        Some(self.records.remove(at))
    }

    fn actions_for<'a>(&'a self, project: &str) -> impl Iterator<Item = &'a FixAction> + 'a {
        let project = project.to_owned();
        self.records.iter().map(|r| &r.action).filter(move |a| a.project() == Some(project.as_str()))
    }

    /// Variables the fixes set for `project`'s commands.
    pub fn env(&self, project: &str) -> BTreeMap<String, String> {
        self.actions_for(project)
            .filter_map(|a| match a {
                FixAction::SetEnv { name, value: EnvValue::Literal { value }, .. } => {
                    Some((name.clone(), value.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Variables the fixes set for `project`'s installs: the constraints file, install flags,
    /// a resolution date.
    pub fn install_env(&self, workdir: &WorkDir, project: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for action in self.actions_for(project) {
            match action {
                FixAction::AddInstallFlag { flag, .. } => {
                    env.extend(flag.env().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                }
                FixAction::ResolveAsOf { date, .. } => {
                    env.insert("UV_EXCLUDE_NEWER".into(), format!("{date}T00:00:00Z"));
                }
                _ => {}
            }
        }
        if !self.constraints(project).is_empty() {
            let file = constraints_file(workdir, project).to_string_lossy().into_owned();
            env.insert("PIP_CONSTRAINT".into(), file.clone());
            env.insert("UV_CONSTRAINT".into(), file);
        }
        env
    }

    /// `(package, specifier)` pairs constrained for `project`.
    pub fn constraints(&self, project: &str) -> Vec<(String, String)> {
        self.actions_for(project)
            .filter_map(|a| match a {
                FixAction::ConstrainDependency { package, constraint, .. } => {
                    Some((package.clone(), constraint.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The date installs of `project` resolve as of, if a fix set one.
    pub fn resolve_as_of(&self, project: &str) -> Option<&str> {
        self.actions_for(project).find_map(|a| match a {
            FixAction::ResolveAsOf { date, .. } => Some(date.as_str()),
            _ => None,
        })
    }

    /// The start command a fix set for `project`, if one (the newest wins).
    pub fn start_command(&self, project: &str) -> Option<&[String]> {
        self.actions_for(project)
            .filter_map(|a| match a {
                FixAction::SetStartCommand { argv, .. } => Some(argv.as_slice()),
                _ => None,
            })
            .last()
    }

    /// Whether a fix skips `step` of `project`.
    pub fn skips(&self, project: &str, step: StepKind) -> bool {
        self.actions_for(project).any(|a| matches!(a, FixAction::SkipStep { step: s, .. } if *s == step))
    }

    /// Scripts to run before `step` of `project`, in the order they were added.
    pub fn scripts_before(&self, project: &str, step: StepKind) -> Vec<(ScriptRunner, String)> {
        self.actions_for(project)
            .filter_map(|a| match a {
                FixAction::RunScript { runner, script, before, .. } if *before == step => {
                    Some((*runner, script.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The runtime version a fix chose for `project`.
    pub fn runtime(&self, project: &str, runtime: RuntimeName) -> Option<&str> {
        self.actions_for(project)
            .filter_map(|a| match a {
                FixAction::ChooseRuntime { runtime: r, version, .. } if *r == runtime => Some(version.as_str()),
                _ => None,
            })
            .last()
    }

    /// Databases a fix asks to exist: `(service, name)`.
    pub fn databases(&self) -> Vec<(String, String)> {
        self.records
            .iter()
            .filter_map(|r| match &r.action {
                FixAction::CreateDatabase { service, name } => Some((service.clone(), name.clone())),
                _ => None,
            })
            .collect()
    }

    /// Writes each project's constraints file (what `PIP_CONSTRAINT` points at). Called before
    /// installs run, so the file always matches the fixes in force.
    pub fn write_constraints(&self, workdir: &WorkDir, project: &str) -> std::io::Result<()> {
        let constraints = self.constraints(project);
        if constraints.is_empty() {
            return Ok(());
        }
        let path = constraints_file(workdir, project);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = String::from("# Written by repo-run from .repo-run/fixes.toml\n");
        for (package, constraint) in constraints {
            text.push_str(&format!("{package}{constraint}\n"));
        }
        std::fs::write(path, text)
    }
}

impl FixStore {
    /// The install command with its requirements file replaced by a derived copy when a fix
    /// constrains a package the file pins (`greenlet==1.1.2` → `greenlet==1.1.3`): a constraint
    /// cannot loosen a pin, and the user's file is not edited. Nested `-r`/`-c` paths in the
    /// copy point back at the project's files.
    pub fn install_argv(
        &self,
        workdir: &WorkDir,
        project: &str,
        dir: &Path,
        argv: &[String],
    ) -> std::io::Result<Vec<String>> {
        let constraints = self.constraints(project);
        let mut out = argv.to_vec();
        if constraints.is_empty() {
            return Ok(out);
        }
        for i in 0..out.len().saturating_sub(1) {
            if !matches!(out[i].as_str(), "-r" | "--requirement") {
                continue;
            }
            let file = dir.join(&out[i + 1]);
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let name = file.file_name().map_or("requirements.txt".into(), |n| n.to_string_lossy().into_owned());
            let derived =
                constraints_file(workdir, project).with_file_name(format!("{}-{name}", derived_prefix(project)));
            std::fs::write(&derived, derive_requirements(&text, &constraints, file.parent().unwrap_or(dir)))?;
            out[i + 1] = derived.to_string_lossy().into_owned();
        }
        Ok(out)
    }
}

fn derived_prefix(project: &str) -> String {
    let stem = constraints_file_stem(project);
    format!("requirements-{stem}")
}

/// The requirements text with each constrained package's line replaced by its constraint.
fn derive_requirements(text: &str, constraints: &[(String, String)], base: &Path) -> String {
    let mut out = String::from("# Derived by repo-run from the project's requirements, with the fixes in force.\n");
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) =
            ["-r ", "-c ", "--requirement ", "--constraint "].iter().find_map(|p| trimmed.strip_prefix(p))
        {
            let flag = trimmed.split_whitespace().next().unwrap_or("-r");
            out.push_str(&format!("{flag} {}\n", base.join(rest.trim()).display()));
            continue;
        }
        let name = super::requirements_txt::requirement_name(line);
        match constraints.iter().find(|(p, _)| name.is_some_and(|n| super::requirements_txt::same_package(p, n))) {
            Some((package, constraint)) => out.push_str(&format!("{package}{constraint}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn constraints_file_stem(project: &str) -> String {
    let safe: String =
        project.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '-' }).collect();
    if project == "." || safe.trim_matches('-').is_empty() { "root".to_owned() } else { safe }
}

/// `.repo-run/fixes/constraints-<project>.txt`.
pub fn constraints_file(workdir: &WorkDir, project: &str) -> PathBuf {
    workdir.path().join("fixes").join(format!("constraints-{}.txt", constraints_file_stem(project)))
}

/// One line of `.repo-run/fixes.jsonl`: an attempt and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry<'a> {
    pub time: String,
    pub signature: &'a str,
    pub source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'a FixAction>,
    /// `applied`, `declined`, `proposed`, `rejected: <why>`, `failed: <why>`.
    pub outcome: String,
}

/// Appends one attempt to the log (a log that cannot be written never stops a fix).
pub fn append_log(workdir: &WorkDir, entry: &LogEntry<'_>) -> std::io::Result<()> {
    let path = log_path(workdir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    writeln!(file, "{line}")
}

pub fn log_path(workdir: &WorkDir) -> PathBuf {
    workdir.path().join(LOG_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::action::InstallFlag;

    fn record(action: FixAction) -> FixRecord {
        FixRecord {
            id: String::new(),
            signature: "sig".into(),
            source: "rule:test".into(),
            description: action.describe(),
            applied_at: "2026-12-07T00:00:00Z".into(),
            action,
            installed_package: false,
        }
    }

    #[test]
    fn fixes_survive_a_save_and_load_and_apply_per_project() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = WorkDir::new(dir.path());
        let mut store = FixStore::load(&workdir).unwrap();
        assert!(store.is_empty());
        let a = store.add(record(FixAction::SetEnv {
            project: ".".into(),
            name: "SECRET_KEY".into(),
            value: EnvValue::Literal { value: "abc".into() },
        }));
        let b =
            store.add(record(FixAction::AddInstallFlag { project: "web".into(), flag: InstallFlag::LegacyPeerDeps }));
        store.add(record(FixAction::ConstrainDependency {
            project: ".".into(),
            package: "asyncpg".into(),
            constraint: "==0.27.0".into(),
        }));
        assert_eq!((a.as_str(), b.as_str()), ("fix-1", "fix-2"));
        store.save().unwrap();

        let loaded = FixStore::load(&workdir).unwrap();
        assert_eq!(loaded.records(), store.records());
        assert_eq!(loaded.env(".").get("SECRET_KEY").map(String::as_str), Some("abc"));
        assert!(loaded.env("web").is_empty());
        assert_eq!(
            loaded.install_env(&workdir, "web").get("npm_config_legacy_peer_deps").map(String::as_str),
            Some("true")
        );
        let root_env = loaded.install_env(&workdir, ".");
        let constraints = root_env.get("PIP_CONSTRAINT").unwrap();
        loaded.write_constraints(&workdir, ".").unwrap();
        assert!(std::fs::read_to_string(constraints).unwrap().contains("asyncpg==0.27.0\n"));

        let mut store = loaded;
        assert!(store.remove("fix-2").is_some());
        assert!(store.remove("fix-2").is_none());
        // Ids are never reused while a higher one is in force.
        assert_eq!(store.add(record(FixAction::SkipStep { project: ".".into(), step: StepKind::Migrate })), "fix-4");
        assert!(store.skips(".", StepKind::Migrate) && !store.skips(".", StepKind::Build));
    }

    #[test]
    fn a_pinned_requirement_is_replaced_in_a_derived_copy() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = WorkDir::new(dir.path());
        std::fs::write(dir.path().join("requirements.txt"), "Flask==2.2.5\ngreenlet==1.1.2  # pinned\n-r dev.txt\n")
            .unwrap();
        let mut store = FixStore::load(&workdir).unwrap();
        let argv: Vec<String> = [".venv/bin/pip", "install", "-r", "requirements.txt"].map(String::from).to_vec();
        assert_eq!(store.install_argv(&workdir, ".", dir.path(), &argv).unwrap(), argv, "no fix, no change");
        store.add(record(FixAction::ConstrainDependency {
            project: ".".into(),
            package: "greenlet".into(),
            constraint: "==1.1.3".into(),
        }));
        store.write_constraints(&workdir, ".").unwrap();
        let derived = store.install_argv(&workdir, ".", dir.path(), &argv).unwrap();
        assert_ne!(derived[3], "requirements.txt");
        let text = std::fs::read_to_string(&derived[3]).unwrap();
        assert!(text.contains("Flask==2.2.5\ngreenlet==1.1.3\n"), "{text}");
        assert!(text.contains(&format!("-r {}", dir.path().join("dev.txt").display())), "{text}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("requirements.txt")).unwrap(),
            "Flask==2.2.5\ngreenlet==1.1.2  # pinned\n-r dev.txt\n",
            "the user's file is untouched"
        );
    }

    #[test]
    fn a_broken_file_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = WorkDir::new(dir.path());
        std::fs::create_dir_all(workdir.path()).unwrap();
        std::fs::write(
            workdir.path().join(FILE_NAME),
            "version = 1\n\n[[fix]]\nid = \"fix-1\"\nsignature = \"s\"\nsource = \"rule:x\"\ndescription = \"d\"\n\
             applied_at = \"t\"\naction = { action = \"run_shell\", command = \"rm -rf /\" }\n",
        )
        .unwrap();
        let err = FixStore::load(&workdir).unwrap_err();
        assert_eq!(err.line, Some(9), "{err}");
        assert!(err.to_string().contains("fixes.toml:9"), "{err}");
        std::fs::write(workdir.path().join(FILE_NAME), "version = 99\n").unwrap();
        assert!(FixStore::load(&workdir).unwrap_err().message.contains("newer repo-run"));
    }
}
