//! Warm runs: what a successful install depended on, so the next `up` skips it when nothing
//! changed.
//!
//! A step is known by its *family*: the program (`npm`, `pip`, `python3 -m venv`), not its
//! flags, because the plan changes the flags once a lock exists (`npm install` writes
//! `package-lock.json`, and the next plan says `npm ci`; `cargo fetch` becomes `cargo fetch
//! --locked`): installing a lock the last run wrote is nothing new. Its fingerprint is a
//! SHA-256 of the family, the runtime versions of its project, and the content of the files
//! it reads: its evidence file and the manifests and locks beside it (`package.json` with
//! `package-lock.json`, `requirements.txt` with `pyproject.toml`, …). It is taken after the
//! step ran, so a lock the step wrote itself is part of it. Creating a virtualenv depends on
//! nothing but its command and the interpreter (its path, when one was chosen, is in the
//! command; its version is among the runtime versions): changing `requirements.txt` re-runs
//! pip, not `python3 -m venv`, and building with another Python makes the venv again.
//! Switching package manager (npm to yarn) changes the family, so it runs.
//!
//! The records live in `.repo-run/setup.json`; a missing or unreadable file means a cold run.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::InstallStep;

pub(super) const FILE_NAME: &str = "setup.json";

/// Files that decide what an install of an ecosystem does, looked for beside the step's
/// evidence file.
const GROUPS: &[&[&str]] = &[
    &[
        "package.json",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lock",
        "bun.lockb",
    ],
    &[
        "requirements.txt",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        "Pipfile",
        "Pipfile.lock",
    ],
    &["Cargo.toml", "Cargo.lock"],
    &["go.mod", "go.sum"],
    &["Gemfile", "Gemfile.lock"],
    &["composer.json", "composer.lock"],
    &["pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"],
];

/// The directory a step fills in the project, when it has a well-known one. It is recorded
/// only if it exists after the step (Yarn Plug'n'Play has no `node_modules`, Poetry keeps its
/// virtualenv elsewhere), and a recorded one that is gone makes the step run again.
pub(super) fn output_dir(argv: &[String]) -> Option<&'static str> {
    let program = argv.first().map(|p| Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or(p))?;
    match program {
        "npm" | "yarn" | "pnpm" | "bun" => Some("node_modules"),
        "pip" | "pip3" | "uv" | "poetry" | "pipenv" | "pdm" => Some(".venv"),
        "python" | "python3" if creates_venv(argv) => Some(".venv"),
        "composer" => Some("vendor"),
        _ => None,
    }
}

/// What a step is, whatever its flags: the program's file name, with the module for
/// `python -m <module>`.
pub(super) fn family(argv: &[String]) -> String {
    let Some(program) = argv.first() else { return String::new() };
    let mut name = Path::new(program).file_name().map_or(program.clone(), |n| n.to_string_lossy().into_owned());
    if let Some(module) = argv.windows(2).find(|w| w[0] == "-m").map(|w| &w[1]) {
        name.push_str(" -m ");
        name.push_str(module);
    }
    name
}

/// `python3 -m venv .venv`.
pub(super) fn creates_venv(argv: &[String]) -> bool {
    argv.windows(2).any(|w| w[0] == "-m" && (w[1] == "venv" || w[1] == "virtualenv"))
}

/// The fingerprint of `step` as things are now.
pub(super) fn compute(step: &InstallStep, root: &Path, runtime_versions: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"repo-run setup fingerprint v1\0");
    hash.update(family(&step.command.argv).as_bytes());
    hash.update(b"\0runtimes\0");
    for v in runtime_versions {
        hash.update(v.as_bytes());
        hash.update(b"\0");
    }
    if creates_venv(&step.command.argv) {
        hash.update(b"\0");
        hash.update(step.command.argv.join("\0").as_bytes());
    } else {
        for file in with_includes(root, inputs(&step.command.evidence.file)) {
            hash.update(b"\0file\0");
            hash.update(file.as_bytes());
            hash.update(b"\0");
            match std::fs::read(root.join(&file)) {
                Ok(content) => {
                    hash.update(b"present\0");
                    hash.update(&content);
                }
                Err(_) => hash.update(b"absent\0"),
            }
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The files (relative to the repository root) a step with this evidence file reads.
fn inputs(evidence: &str) -> Vec<String> {
    let (dir, name) = match evidence.rsplit_once('/') {
        Some((dir, name)) => (format!("{dir}/"), name),
        None => (String::new(), evidence),
    };
    match GROUPS.iter().find(|g| g.contains(&name)) {
        Some(group) => group.iter().map(|f| format!("{dir}{f}")).collect(),
        None => vec![evidence.to_owned()],
    }
}

/// `files` and the requirements files they include (`-r base.txt`, `-c constraints.txt`),
/// transitively, resolved against the including file's directory: editing an included file
/// must re-run the install as much as editing the named one.
fn with_includes(root: &Path, files: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for file in files {
        if !out.contains(&file) {
            out.push(file);
        }
    }
    // Breadth first over `out` itself: each file once, in the order they are named.
    let mut next = 0;
    while next < out.len() && out.len() < 64 {
        let file = out[next].clone();
        next += 1;
        if !file.ends_with(".txt") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else { continue };
        let dir = file.rsplit_once('/').map_or(".", |(d, _)| d);
        for included in crate::detection::providers::requirement_includes(&text, dir, true) {
            if !out.contains(&included) {
                out.push(included);
            }
        }
    }
    out
}

/// `.repo-run/setup.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Records {
    version: u32,
    /// Project path → step key (its family, `#2` for a second step of one family) → record.
    projects: BTreeMap<String, BTreeMap<String, Record>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// The command as it ran, for people reading the file.
    command: String,
    fingerprint: String,
    /// The directory the step filled (relative to the project), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    /// Unix seconds of the successful run.
    finished: u64,
}

const VERSION: u32 = 1;

impl Default for Records {
    fn default() -> Self {
        Records { version: VERSION, projects: BTreeMap::new() }
    }
}

impl Records {
    /// The records, and a note for the user when the file was there but unreadable.
    pub(super) fn load(path: &Path) -> (Records, Option<String>) {
        let fresh = Records::default();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (fresh, None),
            Err(e) => return (fresh, Some(format!("ignoring {}: {e}; every install runs", path.display()))),
        };
        match serde_json::from_str::<Records>(&text) {
            Ok(r) if r.version == VERSION => (r, None),
            Ok(_) => (fresh, None),
            Err(e) => (fresh, Some(format!("ignoring {} (not readable: {e}); every install runs", path.display()))),
        }
    }

    /// Written to a temporary file and renamed, so an interrupted write leaves the old records.
    pub(super) fn save(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self).map_err(io::Error::other)? + "\n")?;
        std::fs::rename(tmp, path)
    }

    /// Whether the step known as `key` succeeded before with this fingerprint and its output
    /// is still there.
    pub(super) fn is_current(&self, project: &str, key: &str, fingerprint: &str, dir: &Path) -> bool {
        self.projects
            .get(project)
            .and_then(|p| p.get(key))
            .is_some_and(|r| r.fingerprint == fingerprint && r.output.as_ref().is_none_or(|o| dir.join(o).exists()))
    }

    pub(super) fn forget(&mut self, project: &str, key: &str) {
        if let Some(p) = self.projects.get_mut(project) {
            p.remove(key);
        }
    }

    pub(super) fn remember(&mut self, project: &str, key: &str, step: &InstallStep, fingerprint: String, dir: &Path) {
        let output = output_dir(&step.command.argv).filter(|o| dir.join(o).exists()).map(str::to_owned);
        let finished = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.projects
            .entry(project.to_owned())
            .or_default()
            .insert(key.to_owned(), Record { command: step.command.display.clone(), fingerprint, output, finished });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Command, Evidence};

    fn step(argv: &[&str], evidence: &str) -> InstallStep {
        InstallStep {
            command: Command {
                display: argv.join(" "),
                argv: argv.iter().map(|s| (*s).to_owned()).collect(),
                evidence: Evidence::new(evidence, None, "test"),
            },
            reason: String::new(),
        }
    }

    #[test]
    fn families_ignore_flags() {
        let f = |a: &[&str]| family(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(f(&["npm", "ci"]), f(&["npm", "install"]));
        assert_eq!(f(&["cargo", "fetch", "--locked"]), "cargo");
        assert_eq!(f(&[".venv/bin/pip", "install", "-r", "requirements.txt"]), "pip");
        assert_eq!(f(&["python3", "-m", "venv", ".venv"]), "python3 -m venv");
        assert_ne!(f(&["yarn", "install"]), f(&["npm", "install"]));
    }

    #[test]
    fn npm_install_then_npm_ci_is_the_same_install() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        std::fs::write(dir.path().join("package-lock.json"), "{}").unwrap();
        let install = step(&["npm", "install"], "package.json");
        let ci = step(&["npm", "ci"], "package-lock.json");
        assert_eq!(compute(&install, dir.path(), &[]), compute(&ci, dir.path(), &[]));
    }

    #[test]
    fn an_included_requirements_file_is_part_of_the_install() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("requirements")).unwrap();
        std::fs::write(dir.path().join("requirements/web.txt"), "-r base.txt\n-c ../constraints.txt\nmarkupsafe\n")
            .unwrap();
        std::fs::write(dir.path().join("requirements/base.txt"), "flask==3.0.0\n").unwrap();
        std::fs::write(dir.path().join("constraints.txt"), "werkzeug<4\n").unwrap();
        let pip = step(&[".venv/bin/pip", "install", "-r", "requirements/web.txt"], "requirements/web.txt");
        assert_eq!(
            with_includes(dir.path(), inputs("requirements/web.txt")),
            ["requirements/web.txt", "requirements/base.txt", "constraints.txt"]
        );
        let before = compute(&pip, dir.path(), &[]);
        std::fs::write(dir.path().join("requirements/base.txt"), "flask==3.1.0\n").unwrap();
        assert_ne!(compute(&pip, dir.path(), &[]), before, "editing base.txt re-runs pip");
    }

    #[test]
    fn inputs_are_the_manifests_beside_the_evidence() {
        assert!(inputs("web/package-lock.json").contains(&"web/package.json".to_owned()));
        assert!(inputs("requirements.txt").contains(&"pyproject.toml".to_owned()));
        assert_eq!(inputs("Makefile"), ["Makefile"]);
    }

    #[test]
    fn fingerprints_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "six\n").unwrap();
        let pip = step(&[".venv/bin/pip", "install", "-r", "requirements.txt"], "requirements.txt");
        let venv = step(&["python3", "-m", "venv", ".venv"], "requirements.txt");
        let before = (compute(&pip, dir.path(), &[]), compute(&venv, dir.path(), &[]));
        std::fs::write(dir.path().join("requirements.txt"), "six==1.16.0\n").unwrap();
        assert_ne!(before.0, compute(&pip, dir.path(), &[]));
        assert_eq!(before.1, compute(&venv, dir.path(), &[]));
        assert_ne!(compute(&pip, dir.path(), &[]), compute(&pip, dir.path(), &["python=3.12.0".into()]));
    }

    #[test]
    fn records_need_their_output() {
        let dir = tempfile::tempdir().unwrap();
        let npm = step(&["npm", "ci"], "package-lock.json");
        let mut r = Records::default();
        std::fs::create_dir(dir.path().join("node_modules")).unwrap();
        r.remember(".", "npm", &npm, "abc".into(), dir.path());
        assert!(r.is_current(".", "npm", "abc", dir.path()));
        assert!(!r.is_current(".", "npm", "abd", dir.path()));
        std::fs::remove_dir(dir.path().join("node_modules")).unwrap();
        assert!(!r.is_current(".", "npm", "abc", dir.path()));
        let store = dir.path().join("setup.json");
        r.save(&store).unwrap();
        let (loaded, problem) = Records::load(&store);
        assert!(problem.is_none() && loaded.projects["."].contains_key("npm"));
        std::fs::write(&store, "{not json").unwrap();
        assert!(Records::load(&store).1.unwrap().contains("every install runs"));
    }
}
