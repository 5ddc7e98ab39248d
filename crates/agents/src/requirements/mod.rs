//! The Requirements agent: rules only, no model. From a [`Detection`] and the repository it
//! works out, per project, which runtimes (and versions) it needs and whether the host has
//! them, how to install its dependencies, which system packages native dependencies need,
//! and where each environment variable's value will come from.
//!
//! One file per concern: `versions` reads version files, `compare` matches a constraint
//! against a version, `runtimes` combines both with the [`Host`], `install`,
//! `system_packages` and `env` build the rest.

mod compare;
mod env;
mod host;
mod install;
mod runtimes;
mod system_packages;
mod versions;

pub use host::Host;

use std::collections::BTreeSet;

use crate::detection::manifest::line_at;
use crate::plan::{Detection, HostRuntime, ProjectRequirements, Requirements, Runtime, Warning};
use crate::repo::{RepoView, Text};

/// Work out runtimes, install steps, system packages and environment for every project.
pub fn resolve(detection: &Detection, repo: &RepoView, host: &Host) -> Requirements {
    let needs: Vec<Vec<Runtime>> = detection.projects.iter().map(runtimes::needed).collect();
    let all: BTreeSet<Runtime> = needs.iter().flatten().copied().collect();
    host.warm(&all.iter().copied().collect::<Vec<_>>());
    let projects = detection
        .projects
        .iter()
        .zip(&needs)
        .map(|(project, needs)| ProjectRequirements {
            project: project.path.clone(),
            runtimes: needs.iter().map(|&r| runtimes::requirement(repo, &project.path, r, host)).collect(),
            install: install::steps(project, repo),
            system_packages: system_packages::for_project(project, repo),
            env: env::for_project(project),
        })
        .collect();
    let host = all.into_iter().map(|runtime| HostRuntime { runtime, version: host.version(runtime) }).collect();
    Requirements { projects, host }
}

/// `dir` and each of its ancestors up to the root (`.`), nearest first.
fn ancestors(dir: &str) -> Vec<String> {
    let mut out = vec![dir.to_owned()];
    let mut d = dir;
    while d != "." {
        d = d.rfind('/').map_or(".", |i| &d[..i]);
        out.push(d.to_owned());
    }
    out
}

/// A repository path for `name` in `dir`.
fn join(dir: &str, name: &str) -> String {
    if dir == "." { name.to_owned() } else { format!("{dir}/{name}") }
}

fn read(repo: &RepoView, path: &str) -> Option<Text> {
    if repo.exists(path) { repo.read_text(path) } else { None }
}

/// Read a JSON file; a malformed one becomes a warning with its line.
fn read_json(repo: &RepoView, path: &str) -> Option<(String, serde_json::Value)> {
    let text = read(repo, path)?.content;
    match serde_json::from_str(&text) {
        Ok(v) => Some((text, v)),
        Err(e) => {
            repo.warn(Warning { file: path.to_owned(), line: Some(e.line() as u32), message: format!("malformed JSON: {e}") });
            None
        }
    }
}

/// Read a TOML file; a malformed one becomes a warning with its line.
fn read_toml(repo: &RepoView, path: &str) -> Option<(String, toml::Table)> {
    let text = read(repo, path)?.content;
    match text.parse::<toml::Table>() {
        Ok(v) => Some((text, v)),
        Err(e) => {
            let line = e.span().map(|s| line_at(&text, s.start));
            repo.warn(Warning { file: path.to_owned(), line, message: format!("malformed TOML: {}", e.message()) });
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A repository written from a list of files, for the agent's own tests.

    use crate::plan::{Detection, PackageManager, Project};
    use crate::repo::RepoView;

    pub struct Repo {
        _dir: tempfile::TempDir,
        pub view: RepoView,
    }

    pub fn repo(files: &[(&str, &str)]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, contents).unwrap();
        }
        let view = RepoView::open(dir.path()).unwrap();
        Repo { _dir: dir, view }
    }

    /// Detection over the files, as the detection agent sees them today.
    pub fn detect(files: &[(&str, &str)]) -> (Repo, Detection) {
        let r = repo(files);
        let d = crate::detection::detect(&r.view);
        (r, d)
    }

    /// An empty project at `path`.
    pub fn project(path: &str) -> Project {
        Project {
            name: path.rsplit('/').next().unwrap_or(path).to_owned(),
            path: path.to_owned(),
            role: crate::plan::ProjectRole::App,
            languages: Vec::new(),
            package_managers: Vec::new(),
            frameworks: Vec::new(),
            start: None,
            start_alternatives: Vec::new(),
            build: None,
            entry_points: Vec::new(),
            ports: Vec::new(),
            env_vars: Vec::new(),
            services: Vec::new(),
            migrations: Vec::new(),
            dependencies: Vec::new(),
        }
    }

    /// A project at `path` using package manager `pm`.
    pub fn with_pm(path: &str, pm: PackageManager) -> Project {
        let mut p = project(path);
        p.package_managers.push(crate::plan::Finding { value: pm, evidence: Vec::new() });
        p
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::plan::{EnvSource, PackageManager, RuntimeStatus, ServiceKind};

    #[test]
    fn ancestors_nearest_first() {
        assert_eq!(ancestors("apps/web"), ["apps/web", "apps", "."]);
        assert_eq!(ancestors("."), ["."]);
    }
}
