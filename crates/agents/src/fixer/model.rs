//! What the Fixer tells its model (through [`crate::models::Models`]), and how its answer
//! becomes an action.

use super::action::{FixAction, json_schema};
use super::{FixAttempt, scripts};
use crate::failure::Failure;
pub use crate::models::{ModelReply, ModelRequest, Models};
use crate::pipeline::Blackboard;

impl ModelReply {
    /// The answer as a fix action; any other shape is refused.
    pub fn action(&self) -> Result<FixAction, String> {
        let json = self.json.as_ref().map_err(Clone::clone)?;
        serde_json::from_value(json.clone()).map_err(|e| format!("not a fix action ({e}): {json}"))
    }
}

/// The Fixer's question: the typed failure, what the project declares, what was tried.
pub fn request(board: &Blackboard, failure: &Failure, attempts: &[FixAttempt]) -> ModelRequest {
    let dir =
        if failure.project == "." { board.repo.root().to_path_buf() } else { board.repo.root().join(&failure.project) };
    let project = board.detection.as_ref().and_then(|d| d.projects.iter().find(|p| p.path == failure.project));
    let mut user = String::new();
    user.push_str(&format!(
        "A step of bringing up a repository failed.\nstage: {}\nstep: {}\nproject: {}\ncommand: {}\nexit: {}\n",
        failure.stage.name(),
        failure.step.name(),
        failure.project,
        failure.argv.join(" "),
        failure.exit.map_or("-".to_owned(), |e| format!("{e:?}")),
    ));
    user.push_str("last output lines:\n");
    for line in failure.log_tail.iter().rev().take(25).rev() {
        user.push_str("  ");
        user.push_str(&line.chars().take(300).collect::<String>());
        user.push('\n');
    }
    let declared: Vec<String> =
        scripts::declared(&dir).iter().map(|s| format!("{} ({:?})", s.name, s.runner)).take(30).collect();
    user.push_str(&format!("declared scripts: {}\n", list(&declared)));
    if let Some(p) = project {
        let vars: Vec<String> = p.env_vars.iter().map(|v| v.name.clone()).take(40).collect();
        user.push_str(&format!("environment variables the code reads: {}\n", list(&vars)));
        if let Some(start) = &p.start {
            user.push_str(&format!("start command: {}\n", start.display));
        }
    }
    let files: Vec<String> = board
        .repo
        .files()
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| failure.project == "." || p.starts_with(&format!("{}/", failure.project)))
        .take(60)
        .map(str::to_owned)
        .collect();
    user.push_str(&format!("files: {}\n", list(&files)));
    if let Some(pythons) = board.host.managed(crate::plan::Runtime::Python) {
        let versions: Vec<String> = pythons.iter().filter_map(|t| t.version.clone()).collect();
        user.push_str(&format!("installed pythons: {}\n", list(&versions)));
    }
    let tried: Vec<String> = attempts.iter().filter_map(|a| a.description.clone()).collect();
    if !tried.is_empty() {
        user.push_str(&format!("already tried (do not repeat): {}\n", list(&tried)));
    }
    user.push_str(ACTIONS);
    user.push_str("Choose the one action that repairs this failure. Use only names that appear above.");
    ModelRequest {
        system: "You are the Fixer of repo-run. You read a failed step's evidence and answer with exactly one \
                 repair action as JSON. Paths are relative to the project; scripts and variables must be ones the \
                 project declares or reads."
            .into(),
        user,
        schema: json_schema(),
        max_tokens: 160,
        escalation: 0,
    }
}

/// The actions in a few words each, with the failure each is for: the grammar enforces their
/// exact shape, so the prompt only says what each is for and when (the whole JSON Schema
/// would triple the prompt). The "when" halves keep a small model from mixing up neighbours
/// (pinning one package vs resolving everything as of a date; creating a database vs running
/// the script that creates its tables).
const ACTIONS: &str = "Actions (JSON, field `action`), each with when to use it:\n\
  set_env {project, name, value: {kind: generated_secret, length} | {kind: literal, value}}: a variable the code reads is missing, empty or too short\n\
  constrain_dependency {project, package, constraint}: ONE named Python package broke (its newer release removed an API, or a pinned version has no wheel): a PEP 440 specifier for it\n\
  resolve_as_of {project, date}: old code with unpinned dependencies where SEVERAL packages are too new: install everything as of YYYY-MM-DD\n\
  choose_runtime {project, runtime: python|node|rust, version}: the interpreter is too new or too old for the code or its packages (an installed version)\n\
  run_script {project, runner: npm|make|django_manage|flask|python_file, script, before: migrate|start}: a TABLE or relation does not exist and a declared script creates or seeds it\n\
  create_database {service: postgres|mysql|mariadb, name}: the DATABASE itself does not exist\n\
  set_start_command {project, argv}: the start file is missing or moved: argv[0] node or python, then a file of the project\n\
  install_system_package {package}: a build needs a C header, library or program the host lacks: a Debian package\n\
  add_install_flag {project, flag: legacy_peer_deps|ignore_engines}: npm peer dependency conflict (ERESOLVE), or an engines check refusing the install\n\
  skip_step {project, step: migrate}: the migrate step fails and the app runs without it\n";

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_become_actions_or_reasons() {
        let ok = ModelReply {
            model: "m".into(),
            json: Ok(serde_json::json!({"action": "skip_step", "project": ".", "step": "migrate"})),
            elapsed_ms: 0,
        };
        assert!(matches!(ok.action(), Ok(FixAction::SkipStep { .. })));
        let shell = ModelReply {
            model: "m".into(),
            json: Ok(serde_json::json!({"action": "run", "cmd": "rm -rf /"})),
            elapsed_ms: 0,
        };
        assert!(shell.action().unwrap_err().contains("not a fix action"));
        let none = ModelReply { model: "m".into(), json: Err("timed out".into()), elapsed_ms: 0 };
        assert_eq!(none.action().unwrap_err(), "timed out");
    }
}
