//! The Setup agent of `repo-run up`: makes every project of the plan ready to run.
//!
//! In order, per run:
//! 1. **Runtimes and tools** ([`check`]): every runtime the requirements mark missing or
//!    mismatched, and every install command whose program is not on `PATH`, fails the stage
//!    before anything runs, with both versions, the file the constraint comes from, and how to
//!    get the right one. Nothing is written to the project when this fails, not even
//!    `.repo-run/`.
//! 2. **Installs** ([`exec`]): the plan's lockfile-respecting commands (`npm ci`, pip into a
//!    project `.venv`, `uv sync --frozen`, `cargo fetch --locked`, …) run as argv vectors, never
//!    through a shell, in the project's directory, with the user's own environment: the real
//!    package managers read the user's registry settings (`npm_config_registry`, `.npmrc`,
//!    `PIP_INDEX_URL`, cargo config) themselves. Output goes line by line to
//!    `.repo-run/logs/setup-<project>.log` and to the reporter; Ctrl-C kills the command's
//!    whole process group.
//! 3. **Warm runs** ([`fingerprint`]): a step that succeeded is recorded in
//!    `.repo-run/setup.json` with a hash of its command, the lock and manifest files it
//!    depends on and the runtime versions; the next run skips it while that hash is unchanged
//!    and its output (`node_modules`, `.venv`) still exists. A step that runs makes every
//!    later step of its project run too (a recreated `.venv` is empty).
//! 4. **`.env`** ([`dotenv`]): written from the project's example file with generated
//!    secrets, or completed (never rewritten) after a backup.
//!
//! The result is one [`PreparedProject`] per project on the blackboard: the parsed `.env`,
//! the `PATH` prefix (`.venv/bin`, `node_modules/.bin`) and `VIRTUAL_ENV`.

mod check;
mod dotenv;
mod exec;
mod fingerprint;
mod pipfile_lock;
mod toolchain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::failure::{Failure, StepKind, parse_exit};
use crate::pipeline::{Agent, AgentError, Blackboard, Stage};
use crate::plan::{InstallStep, ProjectRequirements};
use crate::up::{PreparedProject, StepRecord};

pub(crate) use dotenv::random_hex;
pub use dotenv::{is_placeholder, looks_secret};

/// The built-in Setup agent: rules only, no model.
pub struct SetupAgent;

impl Agent for SetupAgent {
    fn stage(&self) -> Stage {
        Stage::Setup
    }

    fn name(&self) -> &'static str {
        "rules"
    }

    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let requirements = board.requirements.clone().ok_or_else(|| {
            error(
                "setup needs the requirements of the repository, and none were produced",
                Some("run the Detection and Requirements stages first".into()),
            )
        })?;
        check::runtimes_and_tools(&requirements, board.repo.root())?;
        check::system_programs(&requirements)?;
        for note in check::unchecked(&requirements).into_iter().chain(toolchain::notes(&requirements)) {
            board.reporter.note(Stage::Setup, &note);
        }

        board.workdir.ensure().map_err(|e| {
            error(format!("cannot create {}: {e}", board.workdir.path().display()), Some(WRITABLE.into()))
        })?;
        let store = board.workdir.path().join(fingerprint::FILE_NAME);
        let (mut records, problem) = fingerprint::Records::load(&store);
        if let Some(problem) = problem {
            board.reporter.note(Stage::Setup, &problem);
        }

        let total: usize = requirements.projects.iter().map(|p| p.install.len()).sum();
        let mut counter = Counter { done: 0, total };
        let mut prepared = Vec::new();
        for project in &requirements.projects {
            let dir = project_dir(board.repo.root(), &project.project);
            let installed = install(board, project, &dir, &mut records, &store, &mut counter)?;
            let dotenv = dotenv::prepare(board, project, &dir)?;
            prepared.push(prepared_project(project, dir, dotenv, installed));
        }
        // A retry after a fix replaces what an earlier attempt prepared.
        board.prepared.retain(|p| !prepared.iter().any(|n| n.project == p.project));
        board.prepared.extend(prepared);
        Ok(())
    }
}

const WRITABLE: &str = "repo-run keeps its logs and state in .repo-run/ at the repository root: make the directory \
                        writable";

fn error(message: impl Into<String>, hint: Option<String>) -> AgentError {
    AgentError::new(Stage::Setup, message, hint)
}

/// The absolute directory of the project at `rel` (`.` for the root).
fn project_dir(root: &Path, rel: &str) -> PathBuf {
    if rel == "." || rel.is_empty() { root.to_path_buf() } else { root.join(rel) }
}

/// Numbers the steps of a whole run, for the `[2/5] npm ci` progress line.
struct Counter {
    done: usize,
    total: usize,
}

impl Counter {
    fn next(&mut self) -> String {
        self.done += 1;
        format!("[{}/{}]", self.done, self.total)
    }
}

/// Runs (or skips) the install steps of one project, in order.
fn install(
    board: &Blackboard,
    project: &ProjectRequirements,
    dir: &Path,
    records: &mut fingerprint::Records,
    store: &Path,
    counter: &mut Counter,
) -> Result<Vec<StepRecord>, AgentError> {
    let log = board.workdir.log_file(&log_name(&project.project));
    toolchain::provide(board, project, dir, &log)?;
    let mut versions = toolchain::fingerprint_versions(project);
    // Fixes in force for the installs (a constraints file, a flag): part of the fingerprint,
    // so applying or undoing one reinstalls.
    let fixes_env = board.fixes.install_env(&board.workdir, &project.project);
    board.fixes.write_constraints(&board.workdir, &project.project).map_err(|e| {
        error(format!("cannot write the constraints file of a fix in force: {e}"), Some(WRITABLE.into()))
    })?;
    versions.extend(fixes_env.iter().map(|(k, v)| format!("{k}={v}")));
    versions.extend(board.fixes.constraints(&project.project).iter().map(|(p, c)| format!("constraint:{p}{c}")));
    let mut out = Vec::new();
    let mut families: BTreeMap<String, usize> = BTreeMap::new();
    // Once a step runs, the ones after it run too: they build on what it produced.
    let mut ran = false;
    for planned in &project.install {
        // The plan's command with the chosen interpreter, and what must run before it.
        let (before, step) = toolchain::commands_for(planned, project);
        let step = &step;
        if board.cancel.is_cancelled() {
            return Err(error(
                format!("interrupted before `{}` in {}", step.command.display, dir.display()),
                Some("`repo-run up` starts again where this stopped".into()),
            ));
        }
        let position = counter.next();
        let label = label(&project.project, &step.command.display);
        let family = fingerprint::family(&step.command.argv);
        let seen = families.entry(family.clone()).or_default();
        *seen += 1;
        let key = if *seen == 1 { family } else { format!("{family}#{seen}") };
        let print = fingerprint::compute(step, board.repo.root(), &versions);
        if !ran && records.is_current(&project.project, &key, &print, dir) {
            board
                .reporter
                .step(Stage::Setup, &format!("{position} {label}: up to date (nothing it depends on changed)"));
            out.push(StepRecord {
                command: step.command.display.clone(),
                elapsed: std::time::Duration::ZERO,
                skipped: true,
                log: log.clone(),
            });
            continue;
        }
        ran = true;
        board.reporter.step(Stage::Setup, &format!("{position} {label}"));
        // The step may fail half-way: until it succeeds again it is not up to date.
        records.forget(&project.project, &key);
        let started = Instant::now();
        let mut env = step_env(dir, project);
        env.extend(fixes_env.clone());
        toolchain::prepare(board, project, &before, step, dir, &env, &log)?;
        // pip cannot read Pipfile.lock: the plan's `-r Pipfile.lock` names its export.
        let argv =
            pipfile_lock::export_argv(&step.command.argv, dir, &board.workdir, &project.project).map_err(|e| {
                let hint = "the lock is read as `pipenv lock` writes it; the export goes to .repo-run/, which must be \
                            writable";
                error(format!("cannot install Pipfile.lock with pip: {e}"), Some(hint.into()))
            })?;
        let mut argv = board.fixes.install_argv(&board.workdir, &project.project, dir, &argv).map_err(|e| {
            error(format!("cannot write the requirements a fix in force derives: {e}"), Some(WRITABLE.into()))
        })?;
        if let Some(date) = board.fixes.resolve_as_of(&project.project) {
            argv = resolve_as_of(board, &argv, date, dir, &log)?;
        }
        // The log names what really runs when a fix changed the command.
        let display = if argv == step.command.argv { step.command.display.clone() } else { argv.join(" ") };
        let outcome = exec::run(&exec::Run {
            argv: &argv,
            display: &display,
            dir,
            env: &env,
            log: &log,
            reporter: board.reporter.as_ref(),
            cancel: &board.cancel,
        })
        .map_err(|e| {
            error(
                format!("could not run `{}` in {}: {e}", step.command.display, dir.display()),
                Some(format!("see {}", log.display())),
            )
        })?;
        match outcome {
            exec::Outcome::Succeeded => {}
            exec::Outcome::Cancelled => {
                records.save(store).ok();
                return Err(error(
                    format!("interrupted: `{}` in {} was stopped", step.command.display, dir.display()),
                    Some(format!(
                        "nothing after it ran; `repo-run up` starts again where this stopped (its output so far is in \
                         {})",
                        log.display()
                    )),
                ));
            }
            exec::Outcome::Failed { status, tail } => {
                records.save(store).ok();
                return Err(failure(step, &project.project, dir, &status, &tail, &log));
            }
        }
        // Taken again now: a lock the step wrote (`npm install`) is part of what it installed.
        let print = fingerprint::compute(step, board.repo.root(), &versions);
        records.remember(&project.project, &key, step, print, dir);
        if let Err(e) = records.save(store) {
            board.reporter.note(Stage::Setup, &format!("could not record the install in {}: {e}", store.display()));
        }
        out.push(StepRecord {
            command: step.command.display.clone(),
            elapsed: started.elapsed(),
            skipped: false,
            log: log.clone(),
        });
    }
    Ok(out)
}

/// A pip install into the project's `.venv`, resolved as of `date` (a fix in force): pip has
/// no such option, so uv installs into the same environment with `--exclude-newer`.
fn resolve_as_of(
    board: &Blackboard,
    argv: &[String],
    date: &str,
    dir: &Path,
    log: &Path,
) -> Result<Vec<String>, AgentError> {
    let is_venv_pip =
        argv.first().is_some_and(|p| p.ends_with(".venv/bin/pip")) && argv.get(1).is_some_and(|a| a == "install");
    if !is_venv_pip {
        // uv projects read UV_EXCLUDE_NEWER from the fix's install environment.
        return Ok(argv.to_vec());
    }
    // uv from PATH, else provided the way the plan provides package managers.
    let uv = if board.host.has_program("uv") {
        PathBuf::from("uv")
    } else {
        let Some(tools_dir) = board.host.tools_dir() else {
            return Err(error(
                format!(
                    "resolving the dependencies as of {date} needs uv, and there is no cache directory to put it in"
                ),
                Some("install uv (`pipx install uv`), or `repo-run undo` the fix".into()),
            ));
        };
        let needed_by = crate::plan::Evidence::new(".repo-run/fixes.toml", None, "fixer.resolve-as-of");
        let tool = crate::requirements::tools::provided("uv", &tools_dir, &needed_by);
        toolchain::provide_one(board, &tool, dir, log)?
    };
    let mut out = vec![uv.to_string_lossy().into_owned(), "pip".into(), "install".into()];
    out.extend(["--python".into(), ".venv/bin/python".into(), "--exclude-newer".into(), format!("{date}T00:00:00Z")]);
    // What today's install put in `.venv` satisfies the bare names: resolve everything again.
    out.push("--reinstall".into());
    out.extend(argv[2..].iter().cloned());
    Ok(out)
}

/// `setup-web.log` for `web`, `setup-root.log` for the repository root.
fn log_name(project: &str) -> String {
    if project == "." || project.is_empty() { "setup-root".into() } else { format!("setup-{project}") }
}

fn label(project: &str, display: &str) -> String {
    if project == "." { display.to_owned() } else { format!("{project}: {display}") }
}

/// What an install command needs on top of the user's environment: the project's `.venv`
/// once it exists, so that `pip`, build backends and `python` all resolve inside it, and the
/// chosen toolchains.
fn step_env(dir: &Path, project: &ProjectRequirements) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let (prefix, extra) = tool_dirs(dir, project);
    env.extend(extra);
    if !prefix.is_empty() {
        let mut paths = prefix;
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path));
        }
        if let Ok(joined) = std::env::join_paths(paths) {
            env.insert("PATH".into(), joined.to_string_lossy().into_owned());
        }
    }
    env
}

/// The project's tool directories that exist now and the chosen toolchains' (after them), and
/// the variables that go with them.
fn tool_dirs(dir: &Path, project: &ProjectRequirements) -> (Vec<PathBuf>, BTreeMap<String, String>) {
    let mut prefix = Vec::new();
    let mut extra = BTreeMap::new();
    let venv = dir.join(".venv");
    if venv.join("bin").is_dir() {
        prefix.push(venv.join("bin"));
        extra.insert("VIRTUAL_ENV".into(), venv.to_string_lossy().into_owned());
    }
    let node_bin = dir.join("node_modules").join(".bin");
    if node_bin.is_dir() {
        prefix.push(node_bin);
    }
    let (chosen_bins, chosen_vars) = toolchain::env(project);
    prefix.extend(chosen_bins);
    extra.extend(chosen_vars);
    (prefix, extra)
}

fn prepared_project(
    project: &ProjectRequirements,
    dir: PathBuf,
    dotenv: BTreeMap<String, String>,
    installed: Vec<StepRecord>,
) -> PreparedProject {
    let (path_prefix, extra_env) = tool_dirs(&dir, project);
    PreparedProject { project: project.project.clone(), dir, dotenv, path_prefix, extra_env, installed }
}

/// How many log lines a failure quotes.
const TAIL_LINES: usize = 20;
/// How many log lines a failure keeps as evidence for the Fixer (a compiler's real error is
/// often well above pip's closing lines).
const EVIDENCE_LINES: usize = 80;

fn failure(step: &InstallStep, project: &str, dir: &Path, status: &str, tail: &[String], log: &Path) -> AgentError {
    let mut message =
        format!("`{}` failed in {} ({status}); full output in {}", step.command.display, dir.display(), log.display());
    let shown = &tail[tail.len().saturating_sub(TAIL_LINES)..];
    if !shown.is_empty() {
        message.push_str(&format!("\nlast {} lines:\n", shown.len()));
        for line in shown {
            message.push_str("  | ");
            message.push_str(line);
            message.push('\n');
        }
        message.pop();
    }
    error(message, Some(check::failure_hint(&step.command.argv, &step.command.evidence.file))).with_failure(
        Failure::new(Stage::Setup, StepKind::Install, project)
            .argv(&step.command.argv)
            .exit(parse_exit(status))
            .tail(tail)
            .log(log)
            .evidence(Some(step.command.evidence.clone())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(log_name("."), "setup-root");
        assert_eq!(log_name("apps/web"), "setup-apps/web");
        assert_eq!(label(".", "npm ci"), "npm ci");
        assert_eq!(label("web", "npm ci"), "web: npm ci");
        assert_eq!(project_dir(Path::new("/r"), "."), PathBuf::from("/r"));
        assert_eq!(project_dir(Path::new("/r"), "a/b"), PathBuf::from("/r/a/b"));
    }
}
