//! Building with the interpreter or toolchain Requirements chose (`selected` in the plan)
//! instead of the default one: the venv is created by the chosen Python's absolute path, uv,
//! pipenv, Poetry and PDM are told that path, a chosen rustup toolchain is `RUSTUP_TOOLCHAIN`
//! and a chosen Node's `bin` goes in front of `PATH`, for the installs and for every later
//! command of the project.
//!
//! A `.venv` made by another Python than the one the project now runs with is moved to
//! `.repo-run/backups/` before the venv is created again: `python -m venv` over it would mix
//! two interpreters' `lib/` directories, and it may be the user's own.
//!
//! A package manager in the plan's `provide` (the host lacks it) is installed first, into its
//! own virtualenv in repo-run's cache, and only its program is linked into `<tools>/bin`, which
//! goes on the project's `PATH`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::pipeline::{AgentError, Blackboard, Stage};
use crate::plan::{
    Command, InstallStep, ProjectRequirements, ProvidedTool, Requirements, Runtime, RuntimeStatus, SelectedRuntime,
};

use super::{error, exec, fingerprint, label};

/// The selection for `runtime` in a project, if one was made.
fn selected(project: &ProjectRequirements, runtime: Runtime) -> Option<&SelectedRuntime> {
    project.runtimes.iter().find(|r| r.runtime == runtime).and_then(|r| r.selected.as_ref())
}

/// `step` changed to name the project's chosen Python, and the commands that must run before
/// it (`poetry env use <path>`); without a chosen Python, the plan's step as it is.
pub(super) fn commands_for(step: &InstallStep, project: &ProjectRequirements) -> (Vec<InstallStep>, InstallStep) {
    let Some(python) = selected(project, Runtime::Python).and_then(|s| s.path.as_deref()) else {
        return (Vec::new(), step.clone());
    };
    let argv = &step.command.argv;
    let with = |argv: Vec<String>| {
        let mut changed = step.clone();
        changed.command.display = argv.join(" ");
        changed.command.argv = argv;
        changed
    };
    match program_name(argv).as_str() {
        "python" | "python3" if fingerprint::creates_venv(argv) => {
            let mut argv = argv.clone();
            argv[0] = python.to_owned();
            (Vec::new(), with(argv))
        }
        "uv" | "pipenv" => (Vec::new(), with([argv.as_slice(), &["--python".into(), python.to_owned()]].concat())),
        "poetry" => (vec![with(words(&["poetry", "env", "use", python]))], step.clone()),
        "pdm" => (vec![with(words(&["pdm", "use", "--ignore-remembered", python]))], step.clone()),
        _ => (Vec::new(), step.clone()),
    }
}

/// What must happen before `step` runs: a `.venv` another Python made is set aside when the
/// step creates the venv, and the commands that come first run (failing the stage as the
/// step would).
pub(super) fn prepare(
    board: &Blackboard,
    project: &ProjectRequirements,
    before: &[InstallStep],
    step: &InstallStep,
    dir: &Path,
    env: &BTreeMap<String, String>,
    log: &Path,
) -> Result<(), AgentError> {
    let python = project.runtimes.iter().find(|r| r.runtime == Runtime::Python).and_then(|r| r.installed.as_deref());
    if let Some(python) = python.filter(|_| fingerprint::creates_venv(&step.command.argv)) {
        let venv = dir.join(".venv");
        match set_aside_foreign_venv(dir, python, &board.workdir.backups_dir()) {
            Ok(Some(note)) => board.reporter.note(Stage::Setup, &note),
            Ok(None) => {}
            Err(e) => {
                return Err(error(
                    format!("cannot move {} (made by another Python) aside: {e}", venv.display()),
                    Some(format!("move or remove {} yourself and run `repo-run up` again", venv.display())),
                ));
            }
        }
    }
    let commands: Vec<Command> = before.iter().map(|s| s.command.clone()).collect();
    run_all(board, &commands, dir, env, log).map_err(|(display, failed)| {
        error(
            format!("`{display}` (before `{}`) failed in {}: {failed}", step.command.display, dir.display()),
            Some(format!("it tells the package manager which Python to build with; see {}", log.display())),
        )
    })?;
    Ok(())
}

/// Runs `commands` in order; the first that does not succeed is returned with what happened.
fn run_all(
    board: &Blackboard,
    commands: &[Command],
    dir: &Path,
    env: &BTreeMap<String, String>,
    log: &Path,
) -> Result<(), (String, String)> {
    for command in commands {
        let run = exec::Run {
            argv: &command.argv,
            display: &command.display,
            dir,
            env,
            log,
            reporter: board.reporter.as_ref(),
            cancel: &board.cancel,
        };
        let failed = match exec::run(&run) {
            Ok(exec::Outcome::Succeeded) => continue,
            Ok(exec::Outcome::Cancelled) => "it was interrupted".to_owned(),
            Ok(exec::Outcome::Failed { status, .. }) => status,
            Err(e) => e.to_string(),
        };
        return Err((command.display.clone(), failed));
    }
    Ok(())
}

/// The directory whose programs are the provided tools (links into their virtualenvs), so
/// that the virtualenvs' own `python` and `pip` stay off `PATH`.
fn provided_bin(tool: &ProvidedTool) -> PathBuf {
    let into = Path::new(&tool.into);
    into.parent().unwrap_or(into).join("bin")
}

/// Installs the package managers the project needs and the host lacks (see the plan's
/// `provide`), unless an earlier run already did.
pub(super) fn provide(
    board: &Blackboard,
    project: &ProjectRequirements,
    dir: &Path,
    log: &Path,
) -> Result<(), AgentError> {
    for tool in &project.provide {
        provide_one(board, tool, dir, log)?;
    }
    Ok(())
}

/// Installs one provided tool (unless it is there) and links it; returns the program.
pub(super) fn provide_one(
    board: &Blackboard,
    tool: &ProvidedTool,
    dir: &Path,
    log: &Path,
) -> Result<PathBuf, AgentError> {
    let program = Path::new(&tool.into).join("bin").join(&tool.tool);
    let link = provided_bin(tool).join(&tool.tool);
    if !program.is_file() {
        board.reporter.step(Stage::Setup, &format!("providing {}: {}", tool.tool, tool.downloads));
        // Run outside the project: its `.python-version` must not pick the tool's Python.
        let tools_dir = provided_bin(tool).parent().map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
        std::fs::create_dir_all(&tools_dir).map_err(|e| {
            error(format!("cannot create {}: {e}", tools_dir.display()), Some("make it writable".into()))
        })?;
        run_all(board, &tool.commands, &tools_dir, &BTreeMap::new(), log).map_err(|(display, failed)| {
            error(
                format!(
                    "could not provide {} (needed by {}): `{display}` failed: {failed}",
                    tool.tool, tool.needed_by.file
                ),
                Some(format!(
                    "see {}; or install {} yourself (`pipx install {}`) and run `repo-run up` again",
                    log.display(),
                    tool.tool,
                    tool.tool
                )),
            )
        })?;
    }
    link_program(&program, &link).map_err(|e| {
        error(
            format!("could not link {} to {}: {e}", link.display(), program.display()),
            Some(format!("make {} writable", provided_bin(tool).display())),
        )
    })?;
    Ok(program)
}

/// `link` → `program`, replacing a stale link.
fn link_program(program: &Path, link: &Path) -> io::Result<()> {
    if std::fs::read_link(link).is_ok_and(|target| target == program) {
        return Ok(());
    }
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(program, link)
}

fn words(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| (*s).to_owned()).collect()
}

fn program_name(argv: &[String]) -> String {
    argv.first()
        .map(|p| Path::new(p).file_name().map_or(p.clone(), |n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// What the project's commands need for the chosen toolchains: a Node `bin` directory to put
/// in front of `PATH` (after the project's own tool directories), and `RUSTUP_TOOLCHAIN`.
pub(super) fn env(project: &ProjectRequirements) -> (Vec<PathBuf>, BTreeMap<String, String>) {
    let mut prefix = Vec::new();
    let mut vars = BTreeMap::new();
    if let Some(bin) = selected(project, Runtime::Node).and_then(|s| s.path.as_deref()) {
        prefix.push(PathBuf::from(bin));
    }
    if let Some(toolchain) = selected(project, Runtime::Rust).and_then(|s| s.toolchain.as_deref()) {
        vars.insert("RUSTUP_TOOLCHAIN".to_owned(), toolchain.to_owned());
    }
    for tool in &project.provide {
        let bin = provided_bin(tool);
        if !prefix.contains(&bin) {
            prefix.push(bin);
        }
        for (name, value) in &tool.env {
            // After the user's own value, which still comes first.
            let value = match std::env::var(name) {
                Ok(mine) if !mine.is_empty() => format!("{mine}:{value}"),
                _ => value.clone(),
            };
            vars.insert(name.clone(), value);
        }
    }
    // The managers' virtualenvs in the project, as `.venv`, where the later stages look for
    // them (Poetry's default is a directory in its cache).
    let uses = |tool: &str| project.install.iter().any(|s| s.command.argv.first().is_some_and(|p| p == tool));
    if uses("pipenv") {
        vars.insert("PIPENV_VENV_IN_PROJECT".to_owned(), "1".to_owned());
    }
    if uses("poetry") {
        vars.insert("POETRY_VIRTUALENVS_IN_PROJECT".to_owned(), "true".to_owned());
    }
    if uses("pdm") {
        vars.insert("PDM_VENV_IN_PROJECT".to_owned(), "true".to_owned());
    }
    (prefix, vars)
}

/// The runtime versions the project's installs depend on, for their fingerprints: the chosen
/// interpreter's path counts, so building with another one runs the installs again.
pub(super) fn fingerprint_versions(project: &ProjectRequirements) -> Vec<String> {
    project
        .runtimes
        .iter()
        .map(|r| {
            let version = r.installed.as_deref().unwrap_or("-");
            match r.selected.as_ref().and_then(|s| s.path.as_deref().or(s.toolchain.as_deref())) {
                Some(at) => format!("{}={version}@{at}", r.runtime),
                None => format!("{}={version}", r.runtime),
            }
        })
        .collect()
}

/// What the Setup stage tells the user about the choices: which interpreter it builds with,
/// and what is only approximate (a nearest patch, a newer minor than anything installed).
pub(super) fn notes(requirements: &Requirements) -> Vec<String> {
    let mut out = Vec::new();
    for project in &requirements.projects {
        for r in project.runtimes.iter().filter(|r| r.status == RuntimeStatus::Ok) {
            let said: Vec<&str> =
                r.selected.as_ref().map(|s| s.note.as_str()).into_iter().chain(r.message.as_deref()).collect();
            if !said.is_empty() {
                out.push(label(&project.project, &said.join("; ")));
            }
        }
    }
    out
}

/// The Python version a venv was made by: `version` (venv) or `version_info` (virtualenv) in
/// its `pyvenv.cfg`; `None` when there is no readable one.
pub(super) fn venv_version(venv: &Path) -> Option<String> {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let value = |key: &str| {
        cfg.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    let version = value("version").or_else(|| value("version_info"))?;
    // virtualenv writes `3.7.16.final.0`.
    Some(version.split('.').take_while(|p| p.chars().all(|c| c.is_ascii_digit())).collect::<Vec<_>>().join("."))
}

/// Moves `dir/.venv` to `backups` when another Python than `python` made it (or it has no
/// `pyvenv.cfg` to tell), so that the venv step creates it afresh. Returns what was done, for
/// the user.
pub(super) fn set_aside_foreign_venv(dir: &Path, python: &str, backups: &Path) -> io::Result<Option<String>> {
    let venv = dir.join(".venv");
    if !venv.is_dir() {
        return Ok(None);
    }
    let made_by = venv_version(&venv);
    if made_by.as_deref() == Some(python) {
        return Ok(None);
    }
    std::fs::create_dir_all(backups)?;
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let target = (0..)
        .map(|n| backups.join(if n == 0 { format!("venv.{secs}") } else { format!("venv.{secs}.{n}") }))
        .find(|p| !p.exists())
        .expect("an unused name");
    std::fs::rename(&venv, &target)?;
    let by = made_by.map_or("an unknown Python (no pyvenv.cfg)".to_owned(), |v| format!("Python {v}"));
    Ok(Some(format!(
        "{} was made by {by}, and the project now builds with Python {python}: moved it to {} and creating it again",
        venv.display(),
        target.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Evidence, RuntimeRequirement};

    fn step(argv: &[&str]) -> InstallStep {
        InstallStep {
            command: Command {
                display: argv.join(" "),
                argv: words(argv),
                evidence: Evidence::new("requirements.txt", None, "test"),
            },
            reason: String::new(),
        }
    }

    fn project_with(runtime: Runtime, path: Option<&str>, toolchain: Option<&str>) -> ProjectRequirements {
        ProjectRequirements {
            install_candidates: Vec::new(),
            project: ".".into(),
            runtimes: vec![RuntimeRequirement {
                runtime,
                required: Some("3.7".into()),
                evidence: None,
                installed: Some("3.7.16".into()),
                status: RuntimeStatus::Ok,
                message: None,
                selected: Some(SelectedRuntime {
                    version: "3.7.16".into(),
                    manager: "pyenv".into(),
                    path: path.map(str::to_owned),
                    toolchain: toolchain.map(str::to_owned),
                    note: "chosen".into(),
                }),
            }],
            install: vec![],
            system_packages: vec![],
            env: vec![],
            provide: vec![],
            decisions: vec![],
        }
    }

    fn argvs((before, step): (Vec<InstallStep>, InstallStep)) -> Vec<String> {
        before.into_iter().chain([step]).map(|s| s.command.argv.join(" ")).collect()
    }

    #[test]
    fn python_commands_name_the_chosen_interpreter() {
        let py = "/p/versions/3.7.16/bin/python3";
        let p = project_with(Runtime::Python, Some(py), None);
        assert_eq!(
            argvs(commands_for(&step(&["python3", "-m", "venv", ".venv"]), &p)),
            [format!("{py} -m venv .venv")]
        );
        assert_eq!(
            argvs(commands_for(&step(&["uv", "sync", "--frozen"]), &p)),
            [format!("uv sync --frozen --python {py}")]
        );
        assert_eq!(argvs(commands_for(&step(&["pipenv", "install"]), &p)), [format!("pipenv install --python {py}")]);
        assert_eq!(
            argvs(commands_for(&step(&["poetry", "install"]), &p)),
            [format!("poetry env use {py}"), "poetry install".to_owned()]
        );
        assert_eq!(argvs(commands_for(&step(&[".venv/bin/pip", "install", "-r", "requirements.txt"]), &p)).len(), 1);
        // No selection: the plan's command as it is.
        let none = ProjectRequirements { runtimes: vec![], ..p };
        assert_eq!(argvs(commands_for(&step(&["python3", "-m", "venv", ".venv"]), &none)), ["python3 -m venv .venv"]);
    }

    #[test]
    fn rust_and_node_choices_are_environment() {
        let (prefix, vars) = env(&project_with(Runtime::Rust, None, Some("nightly-x86_64-unknown-linux-gnu")));
        assert!(prefix.is_empty());
        assert_eq!(vars.get("RUSTUP_TOOLCHAIN").map(String::as_str), Some("nightly-x86_64-unknown-linux-gnu"));
        let (prefix, vars) = env(&project_with(Runtime::Node, Some("/nvm/versions/node/v22.1.0/bin"), None));
        assert_eq!(prefix, [PathBuf::from("/nvm/versions/node/v22.1.0/bin")]);
        assert!(vars.is_empty());
    }

    #[test]
    fn python_managers_make_their_venv_in_the_project() {
        let mut p = project_with(Runtime::Python, None, None);
        p.install = vec![step(&["poetry", "install"]), step(&["pdm", "install"]), step(&["pipenv", "install"])];
        let (_, vars) = env(&p);
        for var in ["POETRY_VIRTUALENVS_IN_PROJECT", "PDM_VENV_IN_PROJECT", "PIPENV_VENV_IN_PROJECT"] {
            assert!(vars.contains_key(var), "{var}: {vars:?}");
        }
    }

    #[test]
    fn a_provided_tools_variables_reach_the_projects_commands() {
        let mut p = project_with(Runtime::Node, None, None);
        let mut yarn =
            crate::requirements::tools::provided("uv", Path::new("/cache/tools"), &Evidence::new("x", None, "t"));
        yarn.env.insert("REPO_RUN_TEST_TOOL_VAR".into(), "/usr/share/nodejs".into());
        p.provide = vec![yarn];
        let (prefix, vars) = env(&p);
        assert_eq!(prefix, [PathBuf::from("/cache/tools/bin")]);
        assert_eq!(vars.get("REPO_RUN_TEST_TOOL_VAR").map(String::as_str), Some("/usr/share/nodejs"));
    }

    #[test]
    fn a_venv_of_another_python_is_moved_to_the_backups() {
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join(".repo-run/backups");
        let venv = dir.path().join(".venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
        )
        .unwrap();
        std::fs::write(venv.join("bin/marker"), "mine").unwrap();
        assert_eq!(venv_version(&venv).as_deref(), Some("3.11.7"));
        // Made by the same Python: left alone.
        assert_eq!(set_aside_foreign_venv(dir.path(), "3.11.7", &backups).unwrap(), None);
        assert!(venv.is_dir());
        let note = set_aside_foreign_venv(dir.path(), "3.7.16", &backups).unwrap().unwrap();
        assert!(note.contains("Python 3.11.7") && note.contains("3.7.16"), "{note}");
        assert!(!venv.exists());
        let moved: Vec<PathBuf> = std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(moved.len(), 1);
        assert_eq!(std::fs::read_to_string(moved[0].join("bin/marker")).unwrap(), "mine", "nothing is lost");
    }

    #[test]
    fn virtualenv_versions_are_read_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyvenv.cfg"), "virtualenv = 20.25.0\nversion_info = 3.7.16.final.0\n").unwrap();
        assert_eq!(venv_version(dir.path()).as_deref(), Some("3.7.16"));
        assert_eq!(venv_version(&dir.path().join("nope")), None);
    }
}
