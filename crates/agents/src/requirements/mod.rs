//! The Requirements agent: rules only, no model. From a [`Detection`] and the repository it
//! works out, per project, which runtimes (and versions) it needs and whether the host has
//! them, how to install its dependencies, which system packages native dependencies need,
//! and where each environment variable's value will come from.
//!
//! One file per concern: `versions` reads version files, `compare` matches a constraint
//! against a version, `runtimes` combines both with the [`Host`] (and `choice` picks another
//! installed interpreter or toolchain when the default one does not fit), `install`
//! (with `tools`: the package managers `up` provides when the host lacks them),
//! `system_packages` (with `cargo_config`: linkers `.cargo/config.toml` names) and `env` build
//! the rest.

mod cargo_config;
mod choice;
pub mod choose_install;
pub mod classify_env;
mod compare;
mod env;
mod host;
mod install;
mod probe_cache;
pub mod requirement_files;
mod runtimes;
mod system_packages;
pub(crate) mod tools;
mod versions;

pub(crate) use env::is_third_party;
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
        .map(|(project, needs)| {
            let runtimes: Vec<_> = needs.iter().map(|&r| runtimes::requirement(repo, &project.path, r, host)).collect();
            // The version the project's files pin, then the one it runs with: a pin decides the
            // same way on every host, whether or not that Python is installed.
            let python = runtimes.iter().find(|r| r.runtime == Runtime::Python);
            let pythons: Vec<&str> =
                python.into_iter().flat_map(|r| [r.required.as_deref(), r.installed.as_deref()]).flatten().collect();
            let install = install::for_python(install::steps(project, repo), &pythons);
            // Read quietly: the node install step already warned about a malformed package.json.
            let package_manager = read(repo, &join(&project.path, "package.json"))
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t.content).ok())
                .and_then(|j| j.get("packageManager").and_then(|v| v.as_str()).map(str::to_owned));
            let install_candidates = install::open_requirement_files(project, repo, &install);
            ProjectRequirements {
                project: project.path.clone(),
                install_candidates,
                runtimes,
                provide: tools::to_provide(&install, host, package_manager.as_deref()),
                install,
                system_packages: system_packages::for_project(project, repo),
                env: env::for_project(project),
                decisions: Vec::new(),
            }
        })
        .collect();
    let host = all.into_iter().map(|runtime| HostRuntime { runtime, version: host.version(runtime) }).collect();
    Requirements { projects, host }
}

/// Where each variable `project` reads gets its value, by rule alone (the environment part of
/// [`resolve`], for `repo-run eval`).
pub fn env_requirements(project: &crate::plan::Project) -> Vec<crate::plan::EnvRequirement> {
    env::for_project(project)
}

/// `dir` and each of its ancestors up to the root (`.`), nearest first, owned.
fn ancestors(dir: &str) -> Vec<String> {
    crate::repo::self_and_ancestors(dir).map(str::to_owned).collect()
}

use crate::repo::join;

fn read(repo: &RepoView, path: &str) -> Option<Text> {
    if repo.exists(path) { repo.read_text(path) } else { None }
}

/// Read a JSON file; a malformed one becomes a warning with its line.
fn read_json(repo: &RepoView, path: &str) -> Option<(String, serde_json::Value)> {
    let text = read(repo, path)?.content;
    match serde_json::from_str(&text) {
        Ok(v) => Some((text, v)),
        Err(e) => {
            repo.warn(Warning {
                file: path.to_owned(),
                line: Some(e.line() as u32),
                message: format!("malformed JSON: {e}"),
            });
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
            start_candidates: Vec::new(),
            decisions: Vec::new(),
            build: None,
            entry_points: Vec::new(),
            ports: Vec::new(),
            health_paths: Vec::new(),
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
    use crate::plan::{
        Dependency, EnvSource, Evidence, Finding, PackageManager, Project, RuntimeStatus, ServiceFinding, ServiceKind,
    };

    /// Add what a provider would have found, unless it already did (providers are written in
    /// parallel with this agent; these tests hold with or without them).
    fn ensure_pm(p: &mut Project, pm: PackageManager) {
        if !p.package_managers.iter().any(|f| f.value == pm) {
            p.package_managers.push(Finding { value: pm, evidence: vec![] });
        }
    }

    fn ensure_service(p: &mut Project, service: ServiceKind) {
        if !p.services.iter().any(|s| s.service == service) {
            p.services.push(ServiceFinding {
                service,
                env_var: None,
                evidence: vec![Evidence::new("x", None, "test")],
            });
        }
    }

    fn ensure_dep(p: &mut Project, ecosystem: &'static str, name: &str, file: &str, line: u32) {
        if !p.dependencies.iter().any(|d| d.ecosystem == ecosystem && d.name == name) {
            let evidence = Evidence::new(file, Some(line), format!("{ecosystem}.dependency"));
            p.dependencies.push(Dependency { ecosystem, name: name.into(), version: None, dev: false, evidence });
        }
    }

    fn project_mut<'a>(d: &'a mut Detection, path: &str) -> &'a mut Project {
        d.projects.iter_mut().find(|p| p.path == path).unwrap_or_else(|| panic!("no project {path}"))
    }

    fn for_path<'a>(r: &'a Requirements, path: &str) -> &'a ProjectRequirements {
        r.projects.iter().find(|p| p.project == path).unwrap_or_else(|| panic!("no requirements for {path}"))
    }

    #[test]
    fn node_monorepo_end_to_end() {
        let server = "const express = require('express');\n\
                      const app = express();\n\
                      const db = process.env.DATABASE_URL;\n\
                      app.use(session({ secret: process.env.SESSION_SECRET }));\n\
                      const stripe = require('stripe')(process.env.STRIPE_API_KEY);\n\
                      const port = process.env.PORT || 3000;\n\
                      app.listen(port);\n";
        let (repo, mut d) = detect(&[
            ("package.json", "{\"private\": true, \"workspaces\": [\"apps/*\"]}"),
            ("package-lock.json", "{}"),
            (".nvmrc", "20\n"),
            (
                "apps/api/package.json",
                "{\"name\": \"api\", \"dependencies\": {\"express\": \"^4.18.2\", \"pg\": \"^8\"}}",
            ),
            ("apps/api/server.js", server),
        ]);
        ensure_pm(project_mut(&mut d, "."), PackageManager::Npm);
        let api = project_mut(&mut d, "apps/api");
        ensure_pm(api, PackageManager::Npm);
        ensure_service(api, ServiceKind::Postgres);
        let host = Host::with_versions(&[(Runtime::Node, "20.11.0"), (Runtime::Python, "3.11.7")]);
        let r = resolve(&d, &repo.view, &host);

        assert_eq!(r.host, [HostRuntime { runtime: Runtime::Node, version: Some("20.11.0".into()) }]);
        let api = for_path(&r, "apps/api");
        assert_eq!(api.runtimes.len(), 1);
        let node = &api.runtimes[0];
        assert_eq!((node.status, node.required.as_deref()), (RuntimeStatus::Ok, Some("20")));
        assert_eq!(node.evidence, Some(Evidence::new(".nvmrc", Some(1), "node.version.nvmrc")));
        assert!(api.install.is_empty(), "members install at the root: {:?}", api.install);
        let root = for_path(&r, ".");
        assert_eq!(root.install.iter().map(|s| s.command.display.as_str()).collect::<Vec<_>>(), ["npm ci"]);

        let env: Vec<(&str, &EnvSource)> = api.env.iter().map(|e| (e.name.as_str(), &e.source)).collect();
        assert!(env.contains(&("PORT", &EnvSource::Port)), "{env:?}");
        assert!(env.contains(&("DATABASE_URL", &EnvSource::Service { service: ServiceKind::Postgres })), "{env:?}");
        assert!(env.contains(&("SESSION_SECRET", &EnvSource::GeneratedSecret)), "{env:?}");
        assert!(env.contains(&("STRIPE_API_KEY", &EnvSource::User)), "{env:?}");
        let db = api.env.iter().find(|e| e.name == "DATABASE_URL").unwrap();
        assert_eq!(db.evidence[0].file, "apps/api/server.js");
        assert_eq!(db.evidence[0].line, Some(3));

        // Another host: Node 22 does not satisfy the root .nvmrc.
        let r = resolve(&d, &repo.view, &Host::with_versions(&[(Runtime::Node, "22.3.0")]));
        assert_eq!(for_path(&r, "apps/api").runtimes[0].status, RuntimeStatus::Mismatch);
        let r = resolve(&d, &repo.view, &Host::default());
        assert_eq!(for_path(&r, "apps/api").runtimes[0].status, RuntimeStatus::Missing);
        assert_eq!(r.host, [HostRuntime { runtime: Runtime::Node, version: None }]);
    }

    #[test]
    fn python_app_end_to_end() {
        let (repo, mut d) = detect(&[
            (".python-version", "3.12\n"),
            ("pyproject.toml", "[project]\nname = \"shop\"\nrequires-python = \">=3.10\"\n"),
            ("requirements.txt", "flask==3.0.0\npsycopg2==2.9.9\n"),
            ("app.py", "import os\nSECRET = os.environ[\"SECRET_KEY\"]\n"),
        ]);
        let p = project_mut(&mut d, ".");
        ensure_pm(p, PackageManager::Pip);
        ensure_dep(p, "python", "psycopg2", "requirements.txt", 2);
        let host = Host::with_versions(&[(Runtime::Python, "3.11.7")])
            .with_managed(Runtime::Python, &["3.10.13", "3.11.7", "3.12.1"]);
        let r = resolve(&d, &repo.view, &host);
        let p = for_path(&r, ".");
        let py = &p.runtimes[0];
        assert_eq!(
            (py.runtime, py.status, py.installed.as_deref()),
            (Runtime::Python, RuntimeStatus::Ok, Some("3.12.1"))
        );
        assert_eq!(
            p.install.iter().map(|s| s.command.display.as_str()).collect::<Vec<_>>(),
            ["python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt"]
        );
        let apt: Vec<&str> = p.system_packages.iter().map(|s| s.apt.as_str()).collect();
        assert_eq!(apt, ["build-essential", "libpq-dev"]);
        assert_eq!(p.system_packages[1].evidence.line, Some(2));
        assert_eq!(py.selected.as_ref().and_then(|s| s.path.as_deref()), Some("/pyenv/versions/3.12.1/bin/python3"));
        // Without pyenv, the interpreter on PATH (3.11) goes on for `.python-version` 3.12 with
        // a warning: nothing newer is installed.
        let r = resolve(&d, &repo.view, &Host::with_versions(&[(Runtime::Python, "3.11.7")]));
        let py = &for_path(&r, ".").runtimes[0];
        assert_eq!((py.status, py.selected.as_ref()), (RuntimeStatus::Ok, None));
        assert!(py.message.as_deref().unwrap().contains("newer than any installed"), "{:?}", py.message);
    }

    #[test]
    fn rust_toolchain_not_installed_end_to_end() {
        let (repo, mut d) = detect(&[
            ("Cargo.toml", "[package]\nname = \"api\"\nversion = \"0.1.0\"\nrust-version = \"1.70\"\n"),
            ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.75\"\n"),
            ("src/main.rs", "fn main() {}\n"),
        ]);
        ensure_pm(project_mut(&mut d, "."), PackageManager::Cargo);
        let host = Host::with_versions(&[(Runtime::Rust, "1.95.0")])
            .with_managed(Runtime::Rust, &["stable-x86_64-unknown-linux-gnu", "nightly-x86_64-unknown-linux-gnu"]);
        let r = resolve(&d, &repo.view, &host);
        let rust = &for_path(&r, ".").runtimes[0];
        assert_eq!(rust.status, RuntimeStatus::Mismatch);
        assert!(rust.message.as_deref().unwrap().contains("rustup toolchain install 1.75"), "{:?}", rust.message);
        assert_eq!(rust.evidence.as_ref().unwrap().file, "rust-toolchain.toml");
    }

    #[test]
    fn probing_the_real_host_finishes() {
        let (repo, mut d) = detect(&[("package.json", "{}"), ("index.js", "console.log(1)\n")]);
        ensure_pm(project_mut(&mut d, "."), PackageManager::Npm);
        let start = std::time::Instant::now();
        let r = resolve(&d, &repo.view, &Host::probe());
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        // Whatever this machine has, only the runtimes the plan needs are probed.
        assert_eq!(r.host.iter().map(|h| h.runtime).collect::<Vec<_>>(), [Runtime::Node]);
    }
}
