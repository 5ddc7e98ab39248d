//! A table or relation that is missing when the app runs (`relation "users" does not exist`,
//! `no such table: users`, `Table 'shop.users' doesn't exist`): only a script of the project
//! creates it. Fix: run the setup/migrate/seed script the project declares (package.json,
//! Makefile, Flask CLI, a setup-like Python file), best named first, before the app starts.

use super::{Context, Diagnosis, Rule, between};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;
use crate::fixer::scripts::{declared, definition, names_table, setup_score};

pub struct MissingTable;

impl Rule for MissingTable {
    fn id(&self) -> &'static str {
        "db.missing-table"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if !matches!(f.step, StepKind::Start | StepKind::Health | StepKind::Migrate) {
            return None;
        }
        let table = cx.lines().rev().find_map(table_in)?;
        let dir = cx.project_dir();
        let readme = cx.read("README.md").unwrap_or_default();
        // Best named first; then one whose definition names the table; then one the README
        // mentions. What is still equal after that, the rule cannot order.
        let mut scripts: Vec<_> = declared(&dir)
            .into_iter()
            .map(|s| {
                let score = setup_score(&s.name);
                let key =
                    (std::cmp::Reverse(score), !names_table(&definition(&dir, &s), &table), !readme.contains(&s.name));
                (score, key, s)
            })
            .filter(|(n, _, _)| *n > 0)
            .collect();
        scripts.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.2.name.cmp(&b.2.name)));
        let first_key = scripts.first().map(|s| s.1);
        let before = if f.step == StepKind::Migrate { StepKind::Migrate } else { StepKind::Start };
        let mut diagnosis = Diagnosis::new(
            self.id(),
            vec![("table", table.clone())],
            format!("the table {table} does not exist: a script of the project creates it"),
        );
        for (_, key, script) in scripts {
            // The script that just failed is no cure for its own failure.
            let runs_it = script.runner.argv(&script.name).first().map(String::as_str)
                == f.argv.first().map(String::as_str)
                && f.argv.last() == Some(&script.name);
            if runs_it {
                continue;
            }
            if Some(key) == first_key && diagnosis.candidates.len() == diagnosis.tied {
                diagnosis.tied += 1;
            }
            diagnosis = diagnosis.with(FixAction::RunScript {
                project: f.project.clone(),
                runner: script.runner,
                script: script.name,
                before,
            });
        }
        if diagnosis.candidates.is_empty() {
            diagnosis = diagnosis.explain(format!(
                "the table {table} does not exist and the project declares no script that creates it"
            ));
        }
        Some(diagnosis)
    }
}

/// The table a line says is missing.
fn table_in(line: &str) -> Option<String> {
    let name = if line.contains("does not exist") && line.contains("relation \"") {
        between(line, "relation \"", '"')
    } else if line.contains("no such table") {
        line.split("no such table: ")
            .nth(1)
            .map(|r| r.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')').next().unwrap_or(""))
    } else if line.contains("doesn't exist") && line.contains("Table '") {
        between(line, "Table '", '\'').map(|t| t.rsplit('.').next().unwrap_or(t))
    } else {
        None
    }?;
    let name = name.rsplit('.').next().unwrap_or(name);
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::action::ScriptRunner;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    #[test]
    fn tables_from_postgres_sqlite_and_mysql() {
        assert_eq!(table_in("error: relation \"users\" does not exist").as_deref(), Some("users"));
        assert_eq!(
            table_in("ERROR:  relation \"public.posts\" does not exist at character 15").as_deref(),
            Some("posts")
        );
        assert_eq!(table_in("sqlite3.OperationalError: no such table: post").as_deref(), Some("post"));
        assert_eq!(table_in("Error: ER_NO_SUCH_TABLE: Table 'shop.orders' doesn't exist").as_deref(), Some("orders"));
        assert_eq!(table_in("error: database \"x\" does not exist"), None);
        assert_eq!(table_in("listening on 3000"), None);
    }

    #[test]
    fn the_best_named_declared_script_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"scripts": {"start": "node index.js", "db:seed": "node seed.js", "db:setup": "node setup.js", "db:reset": "x"}}"#,
        )
        .unwrap();
        let log = "/app/index.js:9\nerror: relation \"todos\" does not exist\n    at /app/node_modules/pg/lib/client.js:526:17";
        let f = failure(Stage::Health, StepKind::Health, &["node", "index.js"], log);
        let d = MissingTable.diagnose(&Context::bare(&f, dir.path())).unwrap();
        let names: Vec<_> = d
            .candidates
            .iter()
            .map(|a| match a {
                FixAction::RunScript { runner: ScriptRunner::Npm, script, before: StepKind::Start, .. } => {
                    script.as_str()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["db:setup", "db:seed"]);
        assert_eq!(d.signal.keys, [("table", "todos".to_owned())]);
    }

    #[test]
    fn a_script_naming_the_table_wins_and_equal_ones_are_tied() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("init_db.py"),
            "import sqlite3\nsqlite3.connect('a.db').execute('CREATE TABLE notes (id)')\n",
        )
        .unwrap();
        std::fs::write(
            p.join("create_tables.py"),
            "import sqlite3\nsqlite3.connect('a.db').execute('CREATE TABLE users (id)')\n",
        )
        .unwrap();
        let f = failure(
            Stage::Health,
            StepKind::Health,
            &["python", "app.py"],
            "sqlite3.OperationalError: no such table: notes",
        );
        let scripts = |d: &Diagnosis| -> Vec<String> {
            d.candidates
                .iter()
                .map(|a| match a {
                    FixAction::RunScript { script, .. } => script.clone(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let d = MissingTable.diagnose(&Context::bare(&f, p)).unwrap();
        assert_eq!(scripts(&d), ["init_db.py", "create_tables.py"], "the one that names notes first");
        assert_eq!(d.tied, 1, "the rule decided");
        // Both create notes: the rule cannot tell them apart.
        std::fs::write(p.join("create_tables.py"), "db.execute('CREATE TABLE notes (id)')\n").unwrap();
        let d = MissingTable.diagnose(&Context::bare(&f, p)).unwrap();
        assert_eq!(scripts(&d), ["create_tables.py", "init_db.py"]);
        assert_eq!(d.tied, 2);
    }

    #[test]
    fn no_script_means_an_explanation_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let f = failure(Stage::Health, StepKind::Health, &["python", "app.py"], "no such table: post");
        let d = MissingTable.diagnose(&Context::bare(&f, dir.path())).unwrap();
        assert!(d.candidates.is_empty() && d.explanation.unwrap().contains("post"));
    }
}
