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

/// The actions in a few words each: the grammar enforces their exact shape, so the prompt
/// only needs to say what each is for (the whole JSON Schema would triple the prompt). A
/// longer version saying when each action applies measured worse on `eval --agent fixer` with
/// Qwen2.5-Coder-1.5B (5/24 right, 12/24 after validation, against 7/24 and 14/24 with this one).
const ACTIONS: &str = "Actions (JSON, field `action`):\n\
  set_env {project, name, value: {kind: generated_secret, length} | {kind: literal, value}}: a variable the code reads\n\
  constrain_dependency {project, package, constraint}: a PEP 440 specifier for a Python package\n\
  resolve_as_of {project, date}: install dependencies as of YYYY-MM-DD\n\
  choose_runtime {project, runtime: python|node|rust, version}: an installed version\n\
  run_script {project, runner: npm|make|django_manage|flask|python_file, script, before: migrate|start}: a declared script\n\
  create_database {service: postgres|mysql|mariadb, name}\n\
  set_start_command {project, argv}: argv[0] node or python, then a file of the project\n\
  install_system_package {package}: a Debian package\n\
  add_install_flag {project, flag: legacy_peer_deps|ignore_engines}\n\
  skip_step {project, step: migrate}\n";

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
