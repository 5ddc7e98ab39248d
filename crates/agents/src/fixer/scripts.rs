//! The scripts a project declares, for the actions that run one: package.json `scripts`,
//! Makefile targets, Flask CLI commands (`@app.cli.command("init-db")`), Django's `manage.py`
//! and setup-like Python files. Validation accepts a `run_script` action only for a script
//! found here, so a model's invented name is rejected before anything runs.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::action::ScriptRunner;

/// One declared script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub runner: ScriptRunner,
    pub name: String,
}

static FLASK_COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"@(?:\w+\.)*(?:cli\.)?command\(\s*(?:["']([\w-]+)["'])?[^)]*\)\s*(?:@[^\n]*\n\s*)*def\s+(\w+)"#)
        .expect("valid pattern")
});

/// Every script `dir` declares, in a stable order.
pub fn declared(dir: &Path) -> Vec<Script> {
    let mut out = Vec::new();
    let read = |name: &str| {
        let path = dir.join(name);
        let small = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= 1024 * 1024);
        if small { std::fs::read_to_string(path).ok() } else { None }
    };
    if let Some(json) = read("package.json").and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()) {
        if let Some(scripts) = json.get("scripts").and_then(|s| s.as_object()) {
            out.extend(scripts.keys().map(|k| Script { runner: ScriptRunner::Npm, name: k.clone() }));
        }
    }
    if let Some(make) = read("Makefile").or_else(|| read("makefile")) {
        for (name, _) in crate::detection::start_candidates::make_targets(&make) {
            out.push(Script { runner: ScriptRunner::Make, name });
        }
    }
    if dir.join("manage.py").is_file() {
        for name in ["migrate", "createcachetable"] {
            out.push(Script { runner: ScriptRunner::DjangoManage, name: name.into() });
        }
    }
    for entry in python_files(dir) {
        let Some(text) = read(&entry) else { continue };
        if text.contains("flask") || text.contains("click") {
            for c in FLASK_COMMAND.captures_iter(&text) {
                let name = c.get(1).map_or_else(|| c[2].replace('_', "-"), |m| m.as_str().to_owned());
                if !out.iter().any(|s| s.runner == ScriptRunner::Flask && s.name == name) {
                    out.push(Script { runner: ScriptRunner::Flask, name });
                }
            }
        }
        let stem = entry.trim_end_matches(".py");
        let file = stem.rsplit('/').next().unwrap_or(stem);
        if SETUP_WORDS.iter().any(|w| file.contains(w)) && !entry.contains('/') {
            out.push(Script { runner: ScriptRunner::PythonFile, name: entry.clone() });
        }
    }
    out
}

/// Words that make a script a setup script (`db:setup`, `init-db`, `create_tables.py`).
pub const SETUP_WORDS: &[&str] =
    &["init", "setup", "create", "migrate", "seed", "schema", "db:push", "bootstrap", "tables", "prepare"];

/// How well a script's name says it prepares a database: 0 when it says nothing of the kind.
pub fn setup_score(name: &str) -> u32 {
    let name = name.to_ascii_lowercase();
    let db = ["db", "database", "schema", "tables", "migrat", "prisma"].iter().any(|w| name.contains(w));
    let setup = SETUP_WORDS.iter().any(|w| name.contains(w));
    let seed_only = name.contains("seed") && !setup_without_seed(&name);
    match (db, setup) {
        _ if name.contains("test") || name.contains("drop") || name.contains("reset") || name.contains("down") => 0,
        (true, true) if !seed_only => 3,
        (true, true) => 2,
        (false, true) if matches!(name.as_str(), "setup" | "init" | "bootstrap") => 1,
        (true, false) => 1,
        _ => 0,
    }
}

fn setup_without_seed(name: &str) -> bool {
    SETUP_WORDS.iter().filter(|w| **w != "seed").any(|w| name.contains(w))
}

/// What `script` does, as text: the package.json command or Makefile recipe with the files it
/// runs, a Flask command's function, a Python file. For the rule that prefers a script naming
/// the missing table, and for the DB model's question when scripts tie. At most 4 KB.
pub fn definition(dir: &Path, script: &Script) -> String {
    const LIMIT: usize = 4096;
    let read = |rel: &str| {
        let path = dir.join(rel);
        let small = std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= 256 * 1024);
        if small { std::fs::read_to_string(path).ok() } else { None }
    };
    let mut text = match script.runner {
        ScriptRunner::Npm => read("package.json")
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|j| j.get("scripts")?.get(&script.name)?.as_str().map(str::to_owned))
            .unwrap_or_default(),
        ScriptRunner::Make => read("Makefile").or_else(|| read("makefile")).map_or_else(String::new, |make| {
            let header = format!("{}:", script.name);
            make.lines()
                .skip_while(|l| !l.starts_with(&header))
                .skip(1)
                .take_while(|l| l.starts_with('\t') || l.trim().is_empty())
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        }),
        ScriptRunner::DjangoManage => format!("django manage.py {}: creates the tables of every model", script.name),
        ScriptRunner::Flask => python_files(dir)
            .iter()
            .filter_map(|f| read(f))
            .find_map(|t| {
                FLASK_COMMAND.captures_iter(&t).find_map(|c| {
                    let name = c.get(1).map_or_else(|| c[2].replace('_', "-"), |m| m.as_str().to_owned());
                    if name != script.name {
                        return None;
                    }
                    let start = c.get(0)?.start();
                    let body = &t[start..];
                    // To the next top-level definition.
                    let end = body[1..].find("\n@").or_else(|| body[1..].find("\ndef ")).map_or(body.len(), |e| e + 1);
                    Some(body[..end].to_owned())
                })
            })
            .unwrap_or_default(),
        ScriptRunner::PythonFile => read(&script.name).unwrap_or_default(),
    };
    // The files a command runs (`node db/setup.js`, `psql -f schema.sql`): what they do is the
    // script's definition too.
    if matches!(script.runner, ScriptRunner::Npm | ScriptRunner::Make) {
        let files: Vec<String> = text
            .split_whitespace()
            .filter(|w| w.contains('.') && !w.starts_with('-'))
            .filter_map(|w| read(w.trim_matches(|c| c == '"' || c == '\'')))
            .collect();
        for f in files {
            text.push('\n');
            text.push_str(&f);
        }
    }
    if text.len() > LIMIT {
        let mut end = LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Whether `definition` names `table` as a word (`notes` in `CREATE TABLE notes (`), any case.
pub fn names_table(definition: &str, table: &str) -> bool {
    let lower = definition.to_ascii_lowercase();
    let table = table.to_ascii_lowercase();
    lower.match_indices(&table).any(|(i, _)| {
        let before = lower[..i].chars().next_back();
        let after = lower[i + table.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        boundary(before) && boundary(after)
    })
}

/// Python files at the top of `dir` and one level down (where Flask apps and their CLI live).
fn python_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let list = |sub: &str, out: &mut Vec<String>| {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { return };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| n.ends_with(".py"))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| if sub.is_empty() { n } else { format!("{sub}/{n}") }));
    };
    list("", &mut out);
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    let mut subdirs: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !n.starts_with('.') && !matches!(n.as_str(), "node_modules" | "venv" | "tests" | "test"))
        .collect();
    subdirs.sort();
    for sub in subdirs {
        list(&sub, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_from_package_json_makefile_flask_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("package.json"), r#"{"scripts": {"start": "node .", "db:setup": "node db.js"}}"#)
            .unwrap();
        std::fs::write(p.join("Makefile"), "VAR := 1\n.PHONY: init-db\ninit-db:\n\tpython init_db.py\nrun: init-db\n")
            .unwrap();
        std::fs::create_dir(p.join("flaskr")).unwrap();
        std::fs::write(
            p.join("flaskr/db.py"),
            "import click\nfrom flask import current_app\n\n@click.command(\"init-db\")\n@with_appcontext\ndef \
             init_db_command():\n    pass\n\n@app.cli.command()\ndef seed_users():\n    pass\n",
        )
        .unwrap();
        std::fs::write(p.join("init_db.py"), "").unwrap();
        let names: Vec<(ScriptRunner, String)> = declared(p).into_iter().map(|s| (s.runner, s.name)).collect();
        let has = |r: ScriptRunner, n: &str| names.contains(&(r, n.to_owned()));
        assert!(has(ScriptRunner::Npm, "db:setup") && has(ScriptRunner::Npm, "start"), "{names:?}");
        assert!(has(ScriptRunner::Make, "init-db") && has(ScriptRunner::Make, "run"), "{names:?}");
        assert!(!names.iter().any(|(_, n)| n == "VAR" || n == ".PHONY"), "{names:?}");
        assert!(has(ScriptRunner::Flask, "init-db") && has(ScriptRunner::Flask, "seed-users"), "{names:?}");
        assert!(has(ScriptRunner::PythonFile, "init_db.py"), "{names:?}");
    }

    #[test]
    fn setup_scores() {
        assert_eq!(setup_score("db:setup"), 3);
        assert_eq!(setup_score("init-db"), 3);
        assert_eq!(setup_score("create_tables.py"), 3);
        assert_eq!(setup_score("db:seed"), 2);
        assert_eq!(setup_score("setup"), 1);
        assert_eq!(setup_score("db:reset"), 0);
        assert_eq!(setup_score("test:db"), 0);
        assert_eq!(setup_score("start"), 0);
        assert_eq!(setup_score("build"), 0);
    }
}
