//! Which directories are projects: every directory holding a manifest, except those under
//! test-fixture and documentation directories. A repository with no manifest at all is one
//! project at its root.

use std::collections::BTreeSet;

use crate::repo::RepoView;

/// File names that make their directory a project.
pub const MANIFESTS: &[&str] = &[
    "package.json",
    "deno.json",
    "pyproject.toml",
    "requirements.txt",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "manage.py",
    "Cargo.toml",
    "go.mod",
    "go.work",
    "Gemfile",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "composer.json",
];

/// Directory names whose manifests belong to tests or docs, not to something to run.
const NOT_PROJECTS: &[&str] =
    &["fixtures", "__fixtures__", "testdata", "test", "tests", "__tests__", "spec", "docs", "examples", "e2e"];

fn is_excluded(dir: &str) -> bool {
    dir != "." && dir.split('/').any(|part| NOT_PROJECTS.contains(&part))
}

/// Sorted project directories (`.` for the root).
pub fn find_project_dirs(repo: &RepoView) -> Vec<String> {
    let mut dirs: BTreeSet<String> = repo.files().iter().filter_map(manifest_dir).filter(|d| !is_excluded(d)).collect();
    // Cargo and Gradle workspace members are projects of their own; a Rust crate's `src/`
    // never holds a manifest, so nothing else needs merging.
    if dirs.is_empty() {
        dirs.insert(".".to_owned());
    }
    dirs.into_iter().collect()
}

/// Whether any manifest exists (outside excluded directories).
pub fn has_manifest(repo: &RepoView) -> bool {
    repo.files().iter().filter_map(manifest_dir).any(|d| !is_excluded(&d))
}

/// The project directory `file` makes, when it is a manifest: its own directory, or for a
/// Python requirements file other than `requirements.txt` (`requirements-prod.txt`,
/// `requirements/base.txt`), the directory it belongs to.
fn manifest_dir(file: &crate::repo::FileEntry) -> Option<String> {
    let name = file.file_name();
    if MANIFESTS.contains(&name) {
        return Some(file.dir().to_owned());
    }
    if !name.ends_with(".txt") {
        return None;
    }
    let dir = file.dir();
    if name.starts_with("requirements") || name.ends_with("requirements.txt") {
        return Some(dir.to_owned());
    }
    match dir.rsplit_once('/') {
        Some((parent, "requirements")) => Some(parent.to_owned()),
        None if dir == "requirements" => Some(".".to_owned()),
        _ => None,
    }
}

/// The project a file belongs to: the deepest project directory containing it.
pub fn owner<'a>(path: &str, dirs: &'a [String]) -> Option<&'a str> {
    dirs.iter()
        .filter(|d| d.as_str() == "." || path.starts_with(&format!("{d}/")))
        .max_by_key(|d| if d.as_str() == "." { 0 } else { d.len() + 1 })
        .map(String::as_str)
}
