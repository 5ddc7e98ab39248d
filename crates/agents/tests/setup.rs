//! The Setup agent with the real tools of this machine: npm (offline: `file:` dependencies and
//! lifecycle scripts need no registry), pip into a project `.venv` (PyPI), and a Go project on
//! a host without Go. Each test builds its project in a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use repo_run_agents::RepoView;
use repo_run_agents::pipeline::{Agent, AgentError, Blackboard, DetectionAgent, RequirementsAgent, Stage};
use repo_run_agents::plan::{Command, Evidence, InstallStep, ProjectRequirements, Requirements};
use repo_run_agents::requirements::Host;
use repo_run_agents::setup::SetupAgent;
use repo_run_agents::up::{PreparedProject, Reporter};

/// Everything the agent reported, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<(&'static str, String)>>);

impl Reporter for Recorder {
    fn step(&self, _: Stage, message: &str) {
        self.0.lock().unwrap().push(("step", message.to_owned()));
    }
    fn output(&self, _: Stage, line: &str) {
        self.0.lock().unwrap().push(("output", line.to_owned()));
    }
    fn note(&self, _: Stage, message: &str) {
        self.0.lock().unwrap().push(("note", message.to_owned()));
    }
}

impl Recorder {
    fn all(&self, kind: &str) -> Vec<String> {
        self.0.lock().unwrap().iter().filter(|(k, _)| *k == kind).map(|(_, m)| m.clone()).collect()
    }
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("repo-run-setup-test").tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// A blackboard for `dir` on the real host, with a recording reporter.
fn board(dir: &Path) -> (Blackboard, Arc<Recorder>) {
    let mut board = Blackboard::new(RepoView::open(dir).unwrap(), Host::probe());
    let recorder = Arc::new(Recorder::default());
    board.reporter = recorder.clone();
    (board, recorder)
}

/// Detection, Requirements, then Setup, as `repo-run up` runs them.
fn setup(dir: &Path) -> (Result<(), AgentError>, Blackboard, Arc<Recorder>) {
    let (mut board, recorder) = board(dir);
    DetectionAgent.run(&mut board).unwrap();
    RequirementsAgent.run(&mut board).unwrap();
    let result = SetupAgent.run(&mut board);
    (result, board, recorder)
}

fn prepared<'a>(board: &'a Blackboard, project: &str) -> &'a PreparedProject {
    board.prepared.iter().find(|p| p.project == project).unwrap_or_else(|| panic!("{project} not prepared"))
}

fn commands(p: &PreparedProject) -> Vec<(String, bool)> {
    p.installed.iter().map(|s| (s.command.clone(), s.skipped)).collect()
}

fn hand_made(dir: &Path, argv: &[&str]) -> (Blackboard, Arc<Recorder>) {
    let (mut board, recorder) = board(dir);
    board.requirements = Some(Requirements {
        projects: vec![ProjectRequirements {
            install_candidates: Vec::new(),
            project: ".".into(),
            runtimes: vec![],
            install: vec![InstallStep {
                command: Command {
                    display: argv.join(" "),
                    argv: argv.iter().map(|s| (*s).to_owned()).collect(),
                    evidence: Evidence::new("Makefile", None, "test.hand-made"),
                },
                reason: "a hand-made step".into(),
            }],
            system_packages: vec![],
            env: vec![],
            provide: vec![],
            decisions: vec![],
        }],
        host: vec![],
    });
    (board, recorder)
}

#[test]
fn a_missing_runtime_fails_before_anything_is_written() {
    let dir = project(&[
        ("go.mod", "module example.com/hello\n\ngo 1.22\n"),
        ("main.go", "package main\n\nfunc main() {}\n"),
        (".env.example", "SECRET_KEY=changeme\n"),
    ]);
    let (result, _, _) = setup(dir.path());
    let err = result.unwrap_err();
    assert_eq!(err.stage, Stage::Setup);
    assert!(err.message.contains("go.mod") && err.message.contains("requires go"), "{}", err.message);
    assert!(err.message.contains("not installed"), "{}", err.message);
    assert!(err.hint.as_deref().unwrap_or("").contains("https://go.dev/dl/"), "{:?}", err.hint);
    assert!(!dir.path().join(".repo-run").exists(), "no partial state");
    assert!(!dir.path().join(".env").exists(), "no partial state");
}

#[test]
fn a_mismatched_runtime_names_both_versions() {
    let dir = project(&[("package.json", r#"{"name":"old","version":"1.0.0","engines":{"node":">=99"}}"#)]);
    let (result, board, _) = setup(dir.path());
    let err = result.unwrap_err();
    let node = board.requirements.as_ref().unwrap().host.iter().find_map(|h| h.version.clone()).unwrap();
    assert!(err.message.contains("package.json") && err.message.contains(">=99"), "{}", err.message);
    assert!(err.message.contains(&format!("installed: {node}")), "{}", err.message);
    assert!(err.hint.as_deref().unwrap().contains("nvm install 99"), "{:?}", err.hint);
    assert!(!dir.path().join(".repo-run").exists() && !dir.path().join("node_modules").exists());
}

#[test]
fn a_program_not_on_path_is_reported_before_any_step_runs() {
    let dir = project(&[]);
    let (mut board, _) = hand_made(dir.path(), &["repo-run-no-such-installer", "install"]);
    let err = SetupAgent.run(&mut board).unwrap_err();
    assert!(err.message.contains("repo-run-no-such-installer is not on PATH"), "{}", err.message);
    assert!(err.message.contains("from Makefile"), "{}", err.message);
    assert!(!dir.path().join(".repo-run").exists());
}

/// A package.json whose only dependency is a local directory (under `vendor/`, which detection
/// does not walk into): a real `npm install` that needs no registry.
fn npm_project(postinstall: Option<&str>) -> tempfile::TempDir {
    let scripts = postinstall.map(|s| format!(r#","scripts":{{"postinstall":"{s}"}}"#)).unwrap_or_default();
    project(&[
        (
            "package.json",
            &format!(r#"{{"name":"web","version":"1.0.0","dependencies":{{"hello":"file:./vendor/hello"}}{scripts}}}"#),
        ),
        ("vendor/hello/package.json", r#"{"name":"hello","version":"1.0.0","bin":{"hello":"cli.js"}}"#),
        ("vendor/hello/cli.js", "#!/usr/bin/env node\nconsole.log('hello');\n"),
    ])
}

#[test]
fn npm_installs_offline_and_a_second_run_skips() {
    let dir = npm_project(None);
    let (result, board, recorder) = setup(dir.path());
    result.unwrap();
    assert!(dir.path().join("node_modules/hello/package.json").is_file());
    assert!(dir.path().join("package-lock.json").is_file(), "npm install writes the lock");
    let p = prepared(&board, ".");
    assert_eq!(commands(p), [("npm install".to_owned(), false)]);
    assert_eq!(p.path_prefix, [dir.path().join("node_modules/.bin")]);
    assert_eq!(p.dir, dir.path());
    let log = std::fs::read_to_string(&p.installed[0].log).unwrap();
    assert!(log.contains("$ npm install") && log.contains("=== exit status 0"), "{log}");
    assert!(recorder.all("step").iter().any(|s| s.contains("[1/1] npm install")));
    assert!(dir.path().join(".repo-run/setup.json").is_file());

    // The lock written by the first run makes the plan say `npm ci`: installing that lock is
    // what the first run already did.
    let (result, board, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(commands(prepared(&board, ".")), [("npm ci".to_owned(), true)]);

    // A changed manifest runs it again.
    let manifest = std::fs::read_to_string(dir.path().join("package.json")).unwrap();
    std::fs::write(dir.path().join("package.json"), manifest.replace("1.0.0", "1.0.1")).unwrap();
    let (result, board, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(commands(prepared(&board, ".")), [("npm ci".to_owned(), false)]);

    // So does a missing output, whatever the fingerprint says.
    std::fs::remove_dir_all(dir.path().join("node_modules")).unwrap();
    let (result, board, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(commands(prepared(&board, ".")), [("npm ci".to_owned(), false)]);
    assert!(dir.path().join("node_modules/hello").exists());
}

#[test]
fn a_failing_install_names_the_command_the_log_and_the_tail() {
    let dir = npm_project(Some("echo about-to-fail; exit 7"));
    let (result, _, _) = setup(dir.path());
    let err = result.unwrap_err();
    let log = dir.path().join(".repo-run/logs/setup-root.log");
    assert!(err.message.contains("`npm install` failed"), "{}", err.message);
    assert!(err.message.contains("exit status 7"), "{}", err.message);
    assert!(err.message.contains(&log.display().to_string()), "{}", err.message);
    assert!(err.message.contains("| about-to-fail"), "the tail is quoted: {}", err.message);
    assert!(err.hint.as_deref().unwrap().contains(".npmrc"), "{:?}", err.hint);
    assert!(std::fs::read_to_string(&log).unwrap().contains("about-to-fail"));
    // A failed step is not recorded: the next run tries it again (as `npm ci`: npm wrote the
    // lock before the script failed) and fails the same way.
    let (result, _, recorder) = setup(dir.path());
    assert!(result.unwrap_err().message.contains("exit status 7"));
    assert!(!recorder.all("step").iter().any(|s| s.contains("up to date")), "{:?}", recorder.all("step"));
}

#[test]
fn pip_installs_into_a_venv_and_reruns_only_what_changed() {
    let dir = project(&[("requirements.txt", "six\n"), ("app.py", "import six\nprint(six.PY3)\n")]);
    let (result, board, recorder) = setup(dir.path());
    result.unwrap_or_else(|e| panic!("{e}\n{:?}", e.hint));
    let venv = dir.path().join(".venv");
    let import = std::process::Command::new(venv.join("bin/python")).args(["-c", "import six"]).status().unwrap();
    assert!(import.success(), "six is importable from the project's .venv");
    let p = prepared(&board, ".");
    let expected = ["python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt"];
    assert_eq!(commands(p), expected.map(|c| (c.to_owned(), false)));
    assert_eq!(p.path_prefix, [venv.join("bin")]);
    assert_eq!(p.extra_env.get("VIRTUAL_ENV").map(PathBuf::from), Some(venv.clone()));
    assert!(recorder.all("output").iter().any(|l| l.contains("six")), "pip's output is streamed");

    let (result, board, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(commands(prepared(&board, ".")), expected.map(|c| (c.to_owned(), true)));

    std::fs::write(dir.path().join("requirements.txt"), "six\n# pinned later\n").unwrap();
    let (result, board, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(
        commands(prepared(&board, ".")),
        [(expected[0].to_owned(), true), (expected[1].to_owned(), false)],
        "a changed requirements.txt re-runs pip, not the venv"
    );
}

const EXAMPLE: &str = "\
# Settings for the app
SECRET_KEY=changeme
JWT_SECRET={random-string}

LOG_LEVEL=info  # or debug
STRIPE_SECRET_KEY=your-stripe-key-here
export ADMIN_PASSWORD=
";

const APP: &str = "\
import os
secret = os.environ['SECRET_KEY']
session = os.environ.get('SESSION_SECRET')
";

fn hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn env_is_written_from_the_example_with_generated_secrets() {
    let dir = project(&[(".env.example", EXAMPLE), ("app.py", APP)]);
    let (result, board, recorder) = setup(dir.path());
    result.unwrap();
    let text = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("# written by repo-run up"), "{text}");
    assert_eq!(lines[1], "# Settings for the app");
    let value = |key: &str| prepared(&board, ".").dotenv.get(key).cloned().unwrap_or_default();
    for key in ["SECRET_KEY", "JWT_SECRET", "ADMIN_PASSWORD", "SESSION_SECRET"] {
        assert!(hex64(&value(key)), "{key} = {:?}\n{text}", value(key));
    }
    let secrets: std::collections::BTreeSet<String> =
        ["SECRET_KEY", "JWT_SECRET", "ADMIN_PASSWORD", "SESSION_SECRET"].iter().map(|k| value(k)).collect();
    assert_eq!(secrets.len(), 4, "every secret is its own");
    assert!(lines[3].starts_with("JWT_SECRET="), "order kept: {text}");
    assert!(text.contains("\nLOG_LEVEL=info  # or debug\n"), "other lines kept as written: {text}");
    assert!(text.contains("\nexport ADMIN_PASSWORD="), "{text}");
    assert_eq!(value("LOG_LEVEL"), "info");
    // Another company's credential is never invented: the placeholder stays and the user is told.
    assert_eq!(value("STRIPE_SECRET_KEY"), "your-stripe-key-here");
    let notes = recorder.all("note").join("\n");
    assert!(notes.contains("for you to fill in: STRIPE_SECRET_KEY"), "{notes}");
    assert!(notes.contains("generated random values for"), "{notes}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join(".env")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the file holds secrets");

    // A second run leaves it alone.
    let (result, _, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join(".env")).unwrap(), text);
    assert_eq!(std::fs::read_dir(dir.path().join(".repo-run/backups")).unwrap().count(), 0);
}

#[test]
fn an_existing_env_only_gets_missing_keys_after_a_backup() {
    let old = "SECRET_KEY=mine\nLOG_LEVEL=debug";
    let dir = project(&[(".env.example", EXAMPLE), ("app.py", APP), (".env", old)]);
    let (result, board, recorder) = setup(dir.path());
    result.unwrap();
    let text = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    assert!(text.starts_with(&format!("{old}\n")), "existing lines untouched: {text}");
    let added = &text[old.len()..];
    assert!(added.contains("\n# added by repo-run up "), "{text}");
    assert!(!added.lines().any(|l| l.starts_with("SECRET_KEY=")), "{text}");
    assert!(!added.contains("LOG_LEVEL"), "{text}");
    let dotenv = &prepared(&board, ".").dotenv;
    assert_eq!(dotenv["SECRET_KEY"], "mine");
    assert_eq!(dotenv["LOG_LEVEL"], "debug");
    assert!(hex64(&dotenv["JWT_SECRET"]) && hex64(&dotenv["SESSION_SECRET"]) && hex64(&dotenv["ADMIN_PASSWORD"]));
    assert_eq!(dotenv["STRIPE_SECRET_KEY"], "your-stripe-key-here");

    let backups: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join(".repo-run/backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), old, "the backup is the old file");
    let notes = recorder.all("note").join("\n");
    assert!(notes.contains(&backups[0].display().to_string()) && notes.contains("JWT_SECRET"), "{notes}");

    // Nothing missing any more: no second backup, no change.
    let (result, _, _) = setup(dir.path());
    result.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join(".env")).unwrap(), text);
    assert_eq!(std::fs::read_dir(dir.path().join(".repo-run/backups")).unwrap().count(), 1);
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(marker) && pid != std::process::id() as i32 {
            out.push(pid);
        }
    }
    out
}

/// Kills what a failed test left behind, so that a failure never leaves processes running.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in processes_with(&self.0) {
            // SAFETY: only sends a signal, to a process this test started (its command line has the marker).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn cancel_stops_the_step_and_everything_it_started() {
    let marker = format!("repo-run-cancel-test-{}", std::process::id());
    let _guard = KillOnDrop(marker.clone());
    let script = format!(
        "import subprocess, sys, time\n\
         subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)  # {marker}-grandchild'])\n\
         print('started', flush=True)\n\
         time.sleep(600)  # {marker}"
    );
    let dir = project(&[]);
    let (mut board, recorder) = hand_made(dir.path(), &["python3", "-c", &script]);
    let cancel = board.cancel.clone();
    let watcher = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            // Cancel once the step has started its own child (or after a generous start-up time).
            let deadline = Instant::now() + Duration::from_secs(60);
            while recorder.all("output").is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(200));
            cancel.cancel();
            Instant::now()
        })
    };
    let err = SetupAgent.run(&mut board).unwrap_err();
    let returned = Instant::now();
    let cancelled = watcher.join().unwrap();
    assert!(err.message.starts_with("interrupted"), "{}", err.message);
    assert!(returned - cancelled < Duration::from_secs(5), "returned {:?} after the cancel", returned - cancelled);
    assert!(recorder.all("output").contains(&"started".to_owned()), "the step was running");
    assert_eq!(processes_with(&marker), Vec::<i32>::new(), "no process of the step is left");
}

#[test]
fn each_project_of_a_monorepo_is_prepared_in_its_own_directory() {
    let dir = project(&[
        ("package.json", r#"{"name":"root","version":"1.0.0","private":true}"#),
        ("web/package.json", r#"{"name":"web","version":"1.0.0","dependencies":{"hello":"file:../vendor/hello"}}"#),
        ("vendor/hello/package.json", r#"{"name":"hello","version":"1.0.0"}"#),
        ("web/.env.example", "SESSION_SECRET=\nPORT=3000\n"),
    ]);
    let (result, board, recorder) = setup(dir.path());
    result.unwrap();
    let steps = recorder.all("step");
    assert!(steps.iter().any(|s| s == "[1/2] npm install"), "{steps:?}");
    assert!(steps.iter().any(|s| s == "[2/2] web: npm install"), "{steps:?}");
    let web = prepared(&board, "web");
    assert_eq!(web.dir, dir.path().join("web"));
    assert!(dir.path().join("web/node_modules/hello").exists() && !dir.path().join("node_modules/hello").exists());
    assert_eq!(web.installed[0].log, dir.path().join(".repo-run/logs/setup-web.log"));
    assert_eq!(prepared(&board, ".").installed[0].log, dir.path().join(".repo-run/logs/setup-root.log"));
    assert!(hex64(&web.dotenv["SESSION_SECRET"]) && web.dotenv["PORT"] == "3000");
    assert!(prepared(&board, ".").dotenv.is_empty() && !dir.path().join(".env").exists());
}

#[test]
fn a_package_that_does_not_exist_fails_pip_with_the_index_hint() {
    let dir = project(&[("requirements.txt", "repo-run-no-such-package-0a9f3c==1.0\n")]);
    let (result, _, _) = setup(dir.path());
    let err = result.unwrap_err();
    assert!(err.message.contains("`.venv/bin/pip install -r requirements.txt` failed"), "{}", err.message);
    assert!(err.message.contains("repo-run-no-such-package-0a9f3c"), "pip's own words are quoted: {}", err.message);
    assert!(err.hint.as_deref().unwrap().contains("PIP_INDEX_URL"), "{:?}", err.hint);
    // The venv was made and is kept; only pip runs again next time.
    let (result, _, recorder) = setup(dir.path());
    assert!(result.is_err());
    let steps = recorder.all("step");
    assert!(steps[0].contains("python3 -m venv .venv: up to date"), "{steps:?}");
    assert!(steps[1].ends_with(".venv/bin/pip install -r requirements.txt"), "{steps:?}");
}

/// `python --version` of an interpreter, as it prints it (`3.7.16`).
fn python_version(python: &Path) -> String {
    let out = std::process::Command::new(python).arg("--version").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.trim().trim_start_matches("Python ").to_owned()
}

/// This machine's default `python3` is 3.11 and pyenv has 3.7.16 and 3.12.1: a project pinned
/// to 3.7.4 builds with 3.7.16 (pyenv itself would fall back to the default), and pinned to 3.12
/// later, its venv (made by 3.7) is moved to the backups and made again with 3.12.
#[test]
fn the_venv_is_made_by_the_chosen_pyenv_python_and_made_again_when_the_choice_changes() {
    let dir = project(&[
        (".python-version", "3.7.4\n"),
        ("requirements.txt", "six==1.16.0\n"),
        ("app.py", "import six\nprint(six.PY3)\n"),
    ]);
    let (result, board, recorder) = setup(dir.path());
    result.unwrap_or_else(|e| panic!("{e}\n{:?}", e.hint));
    let python = &board.requirements.as_ref().unwrap().projects[0].runtimes[0];
    let selected = python.selected.as_ref().expect("a pyenv Python is chosen");
    assert_eq!((selected.version.as_str(), selected.manager.as_str()), ("3.7.16", "pyenv"));
    let interpreter = selected.path.clone().unwrap();
    assert!(interpreter.ends_with("/versions/3.7.16/bin/python3"), "{interpreter}");
    let venv_python = dir.path().join(".venv/bin/python");
    assert_eq!(python_version(&venv_python), "3.7.16");
    let import = std::process::Command::new(&venv_python).args(["-c", "import six"]).status().unwrap();
    assert!(import.success(), "six is installed for 3.7");
    let p = prepared(&board, ".");
    let venv_step = format!("{interpreter} -m venv .venv");
    assert_eq!(commands(p)[0], (venv_step.clone(), false));
    let notes = recorder.all("note").join("\n");
    assert!(notes.contains("building with pyenv's 3.7.16") && notes.contains("3.7 line"), "{notes}");

    // Nothing changed: both steps are up to date.
    let (result, board, _) = setup(dir.path());
    result.unwrap();
    assert!(commands(prepared(&board, ".")).iter().all(|(_, skipped)| *skipped));

    // Another pin: the 3.7 venv goes to the backups and is made again by 3.12.
    std::fs::write(dir.path().join(".python-version"), "3.12\n").unwrap();
    let (result, board, recorder) = setup(dir.path());
    result.unwrap_or_else(|e| panic!("{e}\n{:?}", e.hint));
    assert_eq!(python_version(&venv_python), "3.12.1");
    assert!(commands(prepared(&board, ".")).iter().all(|(_, skipped)| !*skipped));
    let backups: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join(".repo-run/backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(python_version(&backups[0].join("bin/python")), "3.7.16", "the old venv is kept whole");
    let notes = recorder.all("note").join("\n");
    assert!(notes.contains("made by Python 3.7.16") && notes.contains(&backups[0].display().to_string()), "{notes}");
}

/// `[major, minor]` of what a `rustc --version` command reports, and whether it is a nightly
/// (`rustc 1.97.0-nightly (…)`).
fn rustc_version(mut command: std::process::Command) -> (Vec<u64>, bool) {
    let out = String::from_utf8(command.output().unwrap().stdout).unwrap();
    let version = out.split_whitespace().nth(1).unwrap_or_else(|| panic!("{out:?}"));
    let numbers = version.split(['.', '-']).take(2).map(|n| n.parse().unwrap()).collect();
    (numbers, version.contains("nightly"))
}

/// This machine's rustup has stable and a newer nightly: a crate whose `rust-version` is one
/// above stable is fetched with the nightly, and the later stages get it as RUSTUP_TOOLCHAIN.
#[test]
fn a_rust_version_above_stable_builds_with_the_installed_nightly() {
    let mut stable = std::process::Command::new("rustup");
    stable.args(["run", "stable", "rustc", "--version"]);
    let (stable, _) = rustc_version(stable);
    let wanted = format!("{}.{}", stable[0], stable[1] + 1);
    let manifest =
        format!("[package]\nname = \"msrv\"\nversion = \"0.1.0\"\nedition = \"2021\"\nrust-version = \"{wanted}\"\n");
    let dir = project(&[("Cargo.toml", &manifest), ("src/main.rs", "fn main() {}\n")]);
    let (result, board, _) = setup(dir.path());
    result.unwrap_or_else(|e| panic!("{e}\n{:?}", e.hint));
    let rust = &board.requirements.as_ref().unwrap().projects[0].runtimes[0];
    let toolchain = rust.selected.as_ref().and_then(|s| s.toolchain.clone()).expect("a rustup toolchain is chosen");
    assert!(toolchain.starts_with("nightly-"), "{toolchain}");
    let p = prepared(&board, ".");
    assert_eq!(p.extra_env.get("RUSTUP_TOOLCHAIN"), Some(&toolchain));
    assert_eq!(commands(p), [("cargo fetch".to_owned(), false)]);
    // What the later stages run `rustc` with.
    let mut rustc = std::process::Command::new("rustc");
    rustc.arg("--version").envs(board.project_env("."));
    let (version, nightly) = rustc_version(rustc);
    assert!(nightly && version >= vec![stable[0], stable[1] + 1], "{version:?}");
}

/// This machine has no pipenv: a Pipfile project gets it provided (from PyPI into a virtualenv
/// of its own, only its program linked onto the project's PATH), and `pipenv install` puts the
/// project's virtualenv in `.venv`.
#[test]
fn a_missing_pipenv_is_provided_in_a_virtualenv_of_its_own() {
    let tools = tempfile::Builder::new().prefix("repo-run-tools-test").tempdir().unwrap();
    let dir = project(&[
        ("Pipfile", "[packages]\nsix = \"==1.16.0\"\n\n[requires]\npython_version = \"3.11\"\n"),
        ("app.py", "import six\nprint(six.PY3)\n"),
    ]);
    let mut board = Blackboard::new(RepoView::open(dir.path()).unwrap(), Host::probe().with_tools_dir(tools.path()));
    let recorder = Arc::new(Recorder::default());
    board.reporter = recorder.clone();
    DetectionAgent.run(&mut board).unwrap();
    RequirementsAgent.run(&mut board).unwrap();
    let project_reqs = &board.requirements.as_ref().unwrap().projects[0];
    assert_eq!(project_reqs.provide.len(), 1, "pipenv is not on this machine's PATH: {:?}", project_reqs.provide);
    let pipenv = &project_reqs.provide[0];
    assert_eq!((pipenv.tool.as_str(), pipenv.needed_by.file.as_str()), ("pipenv", "Pipfile"));
    assert!(pipenv.downloads.contains("Python package index"), "{}", pipenv.downloads);
    SetupAgent.run(&mut board).unwrap_or_else(|e| panic!("{e}\n{:?}", e.hint));

    assert!(tools.path().join("pipenv/bin/pipenv").is_file());
    let link = tools.path().join("bin/pipenv");
    assert_eq!(std::fs::read_link(&link).unwrap(), tools.path().join("pipenv/bin/pipenv"));
    assert!(!tools.path().join("bin/python").exists(), "only the program is on PATH");
    assert!(recorder.all("step").iter().any(|s| s.starts_with("providing pipenv")), "{:?}", recorder.all("step"));
    let import = std::process::Command::new(dir.path().join(".venv/bin/python")).args(["-c", "import six"]).status();
    assert!(import.unwrap().success(), "pipenv installed six into the project's .venv");
    assert!(dir.path().join("Pipfile.lock").is_file());
    let p = prepared(&board, ".");
    assert!(p.path_prefix.contains(&tools.path().join("bin")), "{:?}", p.path_prefix);
}
