//! The DB model's question: which of the declared scripts the missing-table rule could not
//! order creates the table (`init_db.py` and `create_tables.py` both named for it, both
//! creating it). The model reads each script's definition and chooses one id under a grammar;
//! the answer counts only when that script's definition names the table or creates a schema.
//! Otherwise, or without a model, the rule's order stands (the scripts are tried one after the
//! other, each once).

use std::path::Path;

use crate::fixer::action::FixAction;
use crate::fixer::rules::Diagnosis;
use crate::fixer::scripts::{Script, definition, names_table};
use crate::models::{ModelRequest, Models, choice_id, choice_reason, chosen_index};
use crate::pipeline::Stage;
use crate::plan::ModelDecision;

/// Words of a definition that create a schema without naming tables (an ORM's `create_all`,
/// a migration tool).
const SCHEMA_WORDS: &[&str] =
    &["create table", "create_all", "migrate", "db push", "db:push", "sync(", "schema.sql", "createcachetable"];

/// Lines of each definition shown to the model.
const DEFINITION_LINES: usize = 25;

/// The DB model's answer: the script it chose when validation kept it, and the decision as
/// recorded (kept or refused), for the report and `models stats`.
pub struct Answer {
    pub chosen: Option<(FixAction, String)>,
    pub decision: Option<ModelDecision>,
}

/// Asks the DB model which of `open` (the tied candidates that could run, scripts of the
/// project in `dir`) creates the table; `why` hears of an answer that is missing or refused.
pub fn ask(
    dir: &Path,
    diagnosis: &Diagnosis,
    open: &[&FixAction],
    models: &dyn Models,
    why: &mut dyn FnMut(String),
) -> Answer {
    let none = || Answer { chosen: None, decision: None };
    let Some(table) = diagnosis.signal.keys.iter().find(|(k, _)| *k == "table").map(|(_, v)| v.as_str()) else {
        return none();
    };
    let scripts: Vec<(Script, String)> = open
        .iter()
        .filter_map(|a| match a {
            FixAction::RunScript { runner, script, .. } => {
                let s = Script { runner: *runner, name: script.clone() };
                let text = definition(dir, &s);
                Some((s, text))
            }
            _ => None,
        })
        .collect();
    if scripts.len() != open.len() {
        return none();
    }
    let reply = models.ask(Stage::Db, &request(table, &scripts));
    let json = match reply.json {
        Ok(json) => json,
        Err(e) => {
            why(format!("the DB model gave no answer: {e}"));
            return none();
        }
    };
    let Some(index) = chosen_index(&json, PREFIX, open.len()) else {
        return none();
    };
    let (script, text) = &scripts[index];
    let shown = script.runner.display(&script.name);
    let lower = text.to_ascii_lowercase();
    let validated = if names_table(text, table) {
        format!("its definition names the table {table}")
    } else if let Some(word) = SCHEMA_WORDS.iter().find(|w| lower.contains(*w)) {
        format!("its definition creates a schema ({word})")
    } else {
        String::new()
    };
    let mut decision = ModelDecision {
        question: format!("script creating table {table}"),
        answer: shown.clone(),
        agent: "db".into(),
        model: reply.model.clone(),
        latency_ms: reply.elapsed_ms,
        candidates: open.len(),
        reason: choice_reason(&json),
        validated: validated.clone(),
        rejected: None,
    };
    if validated.is_empty() {
        let refusal = format!("{shown}'s definition neither names the table {table} nor creates a schema");
        why(format!("the DB model chose {shown}, refused: {refusal}"));
        decision.rejected = Some(refusal);
        return Answer { chosen: None, decision: Some(decision) };
    }
    let source = format!(
        "model:{} (the db model chose among {} scripts the rule could not order, in {:.1} s)",
        reply.model,
        open.len(),
        reply.elapsed_ms as f64 / 1000.0
    );
    Answer { chosen: Some((open[index].clone(), source)), decision: Some(decision) }
}

/// Candidate ids: `s1`, `s2`, … (scripts).
const PREFIX: char = 's';

/// The question: the missing table and each script with its definition.
fn request(table: &str, scripts: &[(Script, String)]) -> ModelRequest {
    let mut user = format!("The app failed because the database table `{table}` does not exist.\n");
    user.push_str("Scripts the project declares that could create it:\n");
    for (i, (script, text)) in scripts.iter().enumerate() {
        let shown: Vec<&str> = text.lines().take(DEFINITION_LINES).collect();
        user.push_str(&format!(
            "{}: {}\n{}\n",
            choice_id(PREFIX, i),
            script.runner.display(&script.name),
            shown.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
        ));
    }
    user.push_str(&format!("Which script creates the table `{table}`?"));
    crate::models::choice_request(
        "You are the DB agent of repo-run. You choose which of a project's scripts to run so that a missing database \
         table exists. Answer JSON: the id of the script and a short reason.",
        user,
        PREFIX,
        scripts.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::StepKind;
    use crate::fixer::action::ScriptRunner;
    use crate::models::ModelReply;

    /// A stand-in for the engine answering one fixed choice (the real model's path is tested
    /// end to end through `up` in the CLI's tests).
    struct FakeModelChoosing(&'static str);

    impl Models for FakeModelChoosing {
        fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
            assert_eq!(stage, Stage::Db);
            assert!(request.user.contains("s2: python seed_all.py"), "{}", request.user);
            ModelReply {
                model: "fake.gguf".into(),
                json: Ok(serde_json::json!({"choice": self.0, "reason": "r"})),
                elapsed_ms: 2,
            }
        }
    }

    fn run_script(name: &str) -> FixAction {
        FixAction::RunScript {
            project: ".".into(),
            runner: ScriptRunner::PythonFile,
            script: name.into(),
            before: StepKind::Start,
        }
    }

    #[test]
    fn a_choice_counts_only_when_its_definition_creates_the_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("init_db.py"), "db.execute('CREATE TABLE notes (id)')\n").unwrap();
        std::fs::write(dir.path().join("seed_all.py"), "print('nothing to do')\n").unwrap();
        let diagnosis = Diagnosis::new("db.missing-table", vec![("table", "notes".into())], "no notes");
        let (a, b) = (run_script("init_db.py"), run_script("seed_all.py"));
        let open = [&a, &b];
        let mut notes = Vec::new();
        let answer = ask(dir.path(), &diagnosis, &open, &FakeModelChoosing("s1"), &mut |w| notes.push(w));
        let (action, source) = answer.chosen.unwrap();
        assert_eq!(action, a);
        assert!(source.starts_with("model:fake.gguf (the db model chose among 2 scripts"), "{source}");
        let decision = answer.decision.unwrap();
        assert_eq!((decision.agent.as_str(), decision.answer.as_str()), ("db", "python init_db.py"));
        assert_eq!(decision.validated, "its definition names the table notes");

        let answer = ask(dir.path(), &diagnosis, &open, &FakeModelChoosing("s2"), &mut |w| notes.push(w));
        assert!(answer.chosen.is_none());
        assert!(answer.decision.unwrap().rejected.unwrap().contains("neither names the table notes"));
        assert_eq!(notes.len(), 1, "{notes:?}");
    }
}
