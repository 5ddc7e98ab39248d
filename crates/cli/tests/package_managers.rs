//! Package managers the host lacks, end to end: `repo-run up` on projects locked with Poetry,
//! PDM, pipenv (for a Python older than pipenv supports) and Yarn 1, on this machine, which has
//! none of them. The plan says how each is provided, Setup provides it (into a tool cache of
//! the test's own, so the download really happens), the lock is installed, the app answers, and
//! `down` leaves nothing. The user's files are never changed.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use support::up::{Project, app_url, assert_all_gone, http, npm_registry, pids, which};

/// A copy of `fixture` whose provided tools go into a fresh cache directory (kept beside it).
fn with_fresh_cache(fixture: &str) -> (Project, tempfile::TempDir) {
    let mut p = Project::copy(fixture);
    let cache = tempfile::Builder::new().prefix("e2e-cache-").tempdir().unwrap();
    p.env.push(("REPO_RUN_CACHE_DIR".into(), cache.path().display().to_string()));
    (p, cache)
}

fn plan(p: &Project) -> Value {
    let out = p.run(&["plan", "--json"]);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The plan's `provide` entries of the root project: `(tool, downloads)`.
fn provided(plan: &Value) -> Vec<(String, String)> {
    plan["requirements"][0]["provide"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["tool"].as_str().unwrap_or("").to_owned(), t["downloads"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn install_commands(plan: &Value) -> Vec<String> {
    plan["requirements"][0]["install"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["command"]["display"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The bytes of the files the test promises not to change.
fn snapshot(dir: &Path, files: &[&str]) -> Vec<Vec<u8>> {
    files.iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect()
}

fn venv_has(p: &Project, package: &str) -> bool {
    let out = Command::new(p.path().join(".venv/bin/python"))
        .args(["-c", &format!("import importlib.metadata as m; print(m.version('{package}'))")])
        .output()
        .unwrap();
    out.status.success()
}

/// Up healthy, serving `body`; then down leaves nothing. Returns how long up took.
fn up_serves_then_down(p: &Project, body: &str) -> std::time::Duration {
    let started = Instant::now();
    let (code, report) = p.up();
    let took = started.elapsed();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["status"], "healthy", "{report:#}");
    let (status, text) = http("GET", &app_url(&report), None);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(body), "{text}");
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
    took
}

/// A tool the plan provides is in its own virtualenv under the cache, linked into `tools/bin`.
fn assert_provided_in(cache: &Path, tool: &str) {
    let program = cache.join("tools").join(tool).join("bin").join(tool);
    assert!(program.is_file(), "{} was provided", program.display());
    let link = std::fs::read_link(cache.join("tools/bin").join(tool)).unwrap();
    assert_eq!(link, program);
}

#[test]
fn a_poetry_lock_on_a_host_without_poetry_is_installed_by_a_provided_poetry() {
    assert!(!which("poetry"), "this test needs a host without poetry on PATH (it provides it)");
    let (p, cache) = with_fresh_cache("python-poetry-flask");
    let plan = plan(&p);
    let provide = provided(&plan);
    assert_eq!(provide.len(), 1, "{plan:#}");
    assert_eq!(provide[0].0, "poetry");
    assert!(provide[0].1.starts_with("poetry and its dependencies from the Python package index"), "{provide:?}");
    assert_eq!(install_commands(&plan), ["poetry install"]);
    let mine = snapshot(p.path(), &["pyproject.toml", "poetry.lock", "app.py"]);

    let took = up_serves_then_down(&p, "stock via poetry, flask 3.");
    assert_provided_in(cache.path(), "poetry");
    assert!(venv_has(&p, "flask"), "poetry installed the lock into the project's .venv");
    assert_eq!(snapshot(p.path(), &["pyproject.toml", "poetry.lock", "app.py"]), mine, "the user's files");
    eprintln!("poetry: up with poetry provided took {took:.1?}");
}

#[test]
fn a_pdm_lock_on_a_host_without_pdm_is_installed_by_a_provided_pdm() {
    assert!(!which("pdm"), "this test needs a host without pdm on PATH (it provides it)");
    let (p, cache) = with_fresh_cache("python-pdm-flask");
    let plan = plan(&p);
    let provide = provided(&plan);
    assert_eq!(provide.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["pdm"], "{plan:#}");
    let commands = &plan["requirements"][0]["provide"][0]["commands"];
    assert!(commands.to_string().contains("pdm[locked]"), "{commands}");
    assert_eq!(install_commands(&plan), ["pdm install"]);
    let mine = snapshot(p.path(), &["pyproject.toml", "pdm.lock", "app.py"]);

    let took = up_serves_then_down(&p, "ledger via pdm, flask 3.");
    assert_provided_in(cache.path(), "pdm");
    assert!(venv_has(&p, "flask"), "pdm installed the lock into the project's .venv");
    assert_eq!(snapshot(p.path(), &["pyproject.toml", "pdm.lock", "app.py"]), mine, "the user's files");
    eprintln!("pdm: up with pdm provided took {took:.1?}");
}

#[test]
fn a_pipfile_lock_on_a_host_without_pipenv_is_installed_by_a_provided_pipenv() {
    assert!(!which("pipenv"), "this test needs a host without pipenv on PATH (it provides it)");
    let (p, cache) = with_fresh_cache("python-pipenv-flask");
    let plan = plan(&p);
    assert_eq!(provided(&plan).iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["pipenv"], "{plan:#}");
    assert_eq!(install_commands(&plan), ["pipenv install --deploy"]);
    let mine = snapshot(p.path(), &["Pipfile", "Pipfile.lock", "app.py"]);

    let took = up_serves_then_down(&p, "orders via pipenv, flask 3.");
    assert_provided_in(cache.path(), "pipenv");
    assert!(venv_has(&p, "flask"), "pipenv installed the lock into the project's .venv");
    assert_eq!(snapshot(p.path(), &["Pipfile", "Pipfile.lock", "app.py"]), mine, "the user's files");
    eprintln!("pipenv: up with pipenv provided took {took:.1?}");
}

/// The case: a 2019 Flask app whose Pipfile asks for Python 3.7, pyenv has 3.7.16, and
/// today's pipenv cannot install into a 3.7 virtualenv. The plan chooses 3.7.16 and installs
/// Pipfile.lock with that Python's own pip, hashes checked; no pipenv is needed.
#[test]
fn a_pipfile_asking_for_python_3_7_comes_up_on_3_7_without_pipenv() {
    let (p, _cache) = with_fresh_cache("python-pipenv-py37");
    let plan = plan(&p);
    let python = &plan["requirements"][0]["runtimes"][0];
    assert_eq!((python["status"].as_str(), python["selected"]["version"].as_str()), (Some("ok"), Some("3.7.16")));
    let commands = install_commands(&plan);
    assert_eq!(commands.len(), 2, "{plan:#}");
    assert_eq!(commands[0], "python3 -m venv .venv");
    assert_eq!(commands[1], ".venv/bin/pip install --no-deps --require-hashes -r Pipfile.lock");
    assert!(provided(&plan).is_empty(), "no pipenv is provided: {plan:#}");
    let mine = snapshot(p.path(), &["Pipfile", "Pipfile.lock", "app.py"]);

    let took = up_serves_then_down(&p, "hello from Python 3.7 via Pipfile.lock");
    let venv = Command::new(p.path().join(".venv/bin/python")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&venv.stdout).trim(), "Python 3.7.16");
    let export = std::fs::read_to_string(p.path().join(".repo-run/pipfile-lock/root.txt")).unwrap();
    assert!(export.contains("flask==1.0.2") && export.contains("--hash=sha256:"), "{export}");
    assert_eq!(snapshot(p.path(), &["Pipfile", "Pipfile.lock", "app.py"]), mine, "the user's files");
    eprintln!("pipenv 3.7: up took {took:.1?}");
}

fn dpkg_packages() -> Vec<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Package} ${Status}\n"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with("install ok installed"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn node_version() -> String {
    let out = Command::new("node").arg("--version").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Removes the packages apt-get installed for the test when dropped (also when it fails).
struct AptInstalled(Vec<String>);

impl Drop for AptInstalled {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let status = Command::new("apt-get").args(["purge", "-y", "-q"]).args(&self.0).status();
        eprintln!("apt-get purge of {} packages: {status:?}", self.0.len());
    }
}

/// A Yarn 1 project on a host without yarn: Debian's `yarnpkg` (installed for the test with
/// apt-get, and every package that brought purged afterwards) is linked as `yarn`, installs the
/// lock from the local npm registry, and `yarn start` serves. The host's Node is not touched.
#[test]
fn a_yarn_1_lock_on_a_host_without_yarn_installs_with_debians_yarnpkg() {
    assert!(!which("yarn") && !which("yarnpkg"), "this test needs a host without yarn and yarnpkg");
    let node = node_version();
    let before = dpkg_packages();
    let started = Instant::now();
    let apt = Command::new("apt-get").args(["install", "-y", "-q", "--no-install-recommends", "yarnpkg"]).output();
    let now = dpkg_packages();
    let installed = AptInstalled(now.iter().filter(|p| !before.contains(p)).cloned().collect());
    assert!(apt.as_ref().is_ok_and(|o| o.status.success()), "apt-get install yarnpkg: {apt:?}");
    eprintln!("apt-get install yarnpkg: {} packages in {:.1?}", installed.0.len(), started.elapsed());
    assert_eq!(node_version(), node, "installing yarnpkg left the host's Node alone");

    let (mut p, cache) = with_fresh_cache("node-yarn-classic");
    let _registry = npm_registry(&mut p);
    let plan = plan(&p);
    let provide = provided(&plan);
    assert_eq!(provide.len(), 1, "{plan:#}");
    assert_eq!(provide[0].0, "yarn");
    assert!(provide[0].1.starts_with("nothing: Debian's yarnpkg (Yarn 1"), "{provide:?}");
    assert_eq!(install_commands(&plan), ["yarn install --frozen-lockfile"]);
    let mine = snapshot(p.path(), &["package.json", "yarn.lock", "server.js"]);

    let took = up_serves_then_down(&p, "express 4.");
    assert!(p.path().join("node_modules/express/package.json").is_file());
    let link = std::fs::read_link(cache.path().join("tools/yarn/bin/yarn")).unwrap();
    assert!(link.ends_with("yarnpkg"), "{}", link.display());
    assert_eq!(snapshot(p.path(), &["package.json", "yarn.lock", "server.js"]), mine, "the user's files");
    eprintln!("yarn via yarnpkg: up took {took:.1?}");

    drop(installed);
    assert_eq!(dpkg_packages(), before, "the packages the test installed are gone again");
    assert!(!which("yarnpkg"));
    assert_eq!(node_version(), node);
}
