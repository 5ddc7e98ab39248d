//! A start command that names a file that is not there (`Error: Cannot find module
//! '/app/server.js'`, `python: can't open file '/app/app.py'`): the file moved. Fix: start the
//! file of that name elsewhere in the project, else the package's `main`.

use std::path::Path;

use super::{Context, Diagnosis, Rule, between};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;

pub struct StartFileMissing;

impl Rule for StartFileMissing {
    fn id(&self) -> &'static str {
        "start.file-missing"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if !matches!(f.step, StepKind::Start | StepKind::Health) {
            return None;
        }
        let (runtime, missing) = cx.lines().rev().find_map(|l| {
            if let Some(path) =
                between(l, "Cannot find module '", '\'').filter(|p| p.starts_with('/') || p.starts_with('.'))
            {
                return Some(("node", path.to_owned()));
            }
            if l.contains("can't open file") {
                let path = between(l, "can't open file '", '\'')?;
                return Some(("python", path.to_owned()));
            }
            None
        })?;
        let name = Path::new(&missing).file_name()?.to_string_lossy().into_owned();
        let dir = cx.project_dir();
        let mut found: Vec<String> = cx.files_named(&name);
        found.sort_by_key(|p| (p.matches('/').count(), p.clone()));
        if runtime == "node" {
            if let Some(main) = package_main(cx).filter(|m| dir.join(m).is_file() && !found.contains(m)) {
                found.push(main);
            }
        }
        let mut diagnosis = Diagnosis::new(
            self.id(),
            vec![("file", name.clone())],
            format!("the start command runs {missing}, which does not exist"),
        );
        for path in found {
            diagnosis = diagnosis
                .with(FixAction::SetStartCommand { project: f.project.clone(), argv: vec![runtime.into(), path] });
        }
        if diagnosis.candidates.is_empty() {
            diagnosis = diagnosis.explain(format!("no file named {name} exists in the project; fix the start command"));
        }
        Some(diagnosis)
    }
}

/// package.json's `main`, relative to the project.
fn package_main(cx: &Context<'_>) -> Option<String> {
    let text = cx.read("package.json")?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let main = json.get("main")?.as_str()?;
    Some(main.trim_start_matches("./").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn a_moved_node_entry_is_found_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[("src/server.js", ""), ("package.json", r#"{"main": "src/server.js"}"#)]);
        let log = format!(
            "node:internal/modules/cjs/loader:1228\n  throw err;\n  ^\n\nError: Cannot find module '{}/server.js'\n    \
             at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15) {{\n  code: 'MODULE_NOT_FOUND',",
            dir.path().display()
        );
        let f = failure(Stage::Health, StepKind::Health, &["npm", "start"], &log);
        let d = StartFileMissing.diagnose(&Context::bare(&f, dir.path())).unwrap();
        assert_eq!(
            d.candidates,
            [FixAction::SetStartCommand { project: ".".into(), argv: vec!["node".into(), "src/server.js".into()] }]
        );
    }

    #[test]
    fn a_moved_python_file_and_one_that_is_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[("app/main.py", "")]);
        let log = "/usr/bin/python3: can't open file '/srv/main.py': [Errno 2] No such file or directory";
        let f = failure(Stage::Health, StepKind::Health, &["python", "main.py"], log);
        let d = StartFileMissing.diagnose(&Context::bare(&f, dir.path())).unwrap();
        assert_eq!(
            d.candidates,
            [FixAction::SetStartCommand { project: ".".into(), argv: vec!["python".into(), "app/main.py".into()] }]
        );
        let log = "python: can't open file '/srv/gone.py': [Errno 2] No such file or directory";
        let f = failure(Stage::Health, StepKind::Health, &["python", "gone.py"], log);
        let d = StartFileMissing.diagnose(&Context::bare(&f, dir.path())).unwrap();
        assert!(d.candidates.is_empty() && d.explanation.is_some());
    }

    #[test]
    fn missing_packages_are_not_moved_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = "Error: Cannot find module 'express'\nRequire stack:\n- /app/index.js";
        let f = failure(Stage::Health, StepKind::Health, &["node", "index.js"], log);
        assert!(StartFileMissing.diagnose(&Context::bare(&f, dir.path())).is_none());
    }
}
