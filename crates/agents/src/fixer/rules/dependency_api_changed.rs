//! An old app broken by today's versions of dependencies it never pinned: `ImportError: cannot
//! import name 'escape' from 'flask'`, `AttributeError: module 'numpy' has no attribute
//! 'float'`, `No module named 'werkzeug.contrib'`, raised by a package installed in the
//! project's `.venv`. Fix: resolve the dependencies as they were on the project's last commit
//! date (`uv pip install --exclude-newer`), when that date is old enough to matter.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use regex::Regex;

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;

pub struct DependencyApiChanged;

/// A last commit this recent means today's versions are the project's own era.
const RECENT_DAYS: u64 = 60;

static PATTERNS: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    [
        Regex::new(r"ImportError: cannot import name '(\w+)' from '([\w.]+)'").expect("valid pattern"),
        Regex::new(r"AttributeError: module '([\w.]+)' has no attribute '(\w+)'").expect("valid pattern"),
        Regex::new(r"ModuleNotFoundError: No module named '(\w+)\.([\w.]+)'").expect("valid pattern"),
    ]
});

impl Rule for DependencyApiChanged {
    fn id(&self) -> &'static str {
        "python.dependency-api-changed"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if !matches!(f.step, StepKind::Start | StepKind::Health | StepKind::Migrate | StepKind::Build) {
            return None;
        }
        let (module, name) = cx.lines().rev().find_map(|line| {
            let [import, attribute, submodule] = &*PATTERNS;
            if let Some(c) = import.captures(line) {
                return Some((c[2].to_owned(), c[1].to_owned()));
            }
            if let Some(c) = attribute.captures(line) {
                return Some((c[1].to_owned(), c[2].to_owned()));
            }
            submodule.captures(line).map(|c| (c[1].to_owned(), c[2].to_owned()))
        })?;
        let top = module.split('.').next().unwrap_or(&module).to_owned();
        if !installed_in_venv(&cx.project_dir(), &top) {
            // The project's own module: a bug of the app, not of its dependencies' era.
            return None;
        }
        let diagnosis = Diagnosis::new(
            self.id(),
            vec![("module", top.clone()), ("name", name.clone())],
            format!("{module} no longer has {name}: a dependency changed since the project was written"),
        );
        let Some(date) = last_commit_date(&cx.project_dir()) else {
            return Some(diagnosis.explain(format!(
                "{module}.{name} is gone from today's {top}; the project is not a git repository, so its era is \
                 unknown: pin {top} to the version it was written for"
            )));
        };
        if date.as_str() > recent_cutoff().as_str() {
            return Some(diagnosis.explain(format!(
                "{module}.{name} is gone from today's {top}, and the project's last commit ({date}) is recent: pin {top} \
                 to a version that has it"
            )));
        }
        Some(diagnosis.with(FixAction::ResolveAsOf { project: f.project.clone(), date }))
    }
}

/// Whether `.venv` has the package `module` (a directory or a module file in site-packages).
fn installed_in_venv(project: &Path, module: &str) -> bool {
    let Ok(libs) = std::fs::read_dir(project.join(".venv/lib")) else { return false };
    libs.filter_map(Result::ok).any(|python| {
        let site = python.path().join("site-packages");
        site.join(module).is_dir() || site.join(format!("{module}.py")).is_file()
    })
}

/// `YYYY-MM-DD` of the last commit of the repository holding `dir`.
pub(crate) fn last_commit_date(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%cs"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let date = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && date.len() == 10).then_some(date)
}

/// The day `RECENT_DAYS` ago, `YYYY-MM-DD` (ISO dates compare as strings), from the one
/// calendar repo-run has (`state.rs`).
fn recent_cutoff() -> String {
    let then = crate::state::unix_now().saturating_sub(RECENT_DAYS * 86_400);
    crate::state::rfc3339_utc(then)[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    const FLASK: &str = "Traceback (most recent call last):\n  File \"/srv/app.py\", line 3, in <module>\n    from flask \
                         import Flask, escape\nImportError: cannot import name 'escape' from 'flask' \
                         (/srv/.venv/lib/python3.11/site-packages/flask/__init__.py)";

    fn project(with_flask: bool, commit_date: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if with_flask {
            std::fs::create_dir_all(dir.path().join(".venv/lib/python3.11/site-packages/flask")).unwrap();
        }
        if let Some(date) = commit_date {
            std::fs::write(dir.path().join("app.py"), "").unwrap();
            let git = |args: &[&str]| {
                let status = Command::new("git")
                    .args(args)
                    .current_dir(dir.path())
                    .env("GIT_AUTHOR_DATE", format!("{date}T12:00:00Z"))
                    .env("GIT_COMMITTER_DATE", format!("{date}T12:00:00Z"))
                    .env("GIT_AUTHOR_NAME", "t")
                    .env("GIT_AUTHOR_EMAIL", "t@example.com")
                    .env("GIT_COMMITTER_NAME", "t")
                    .env("GIT_COMMITTER_EMAIL", "t@example.com")
                    .status()
                    .unwrap();
                assert!(status.success());
            };
            git(&["init", "-q"]);
            git(&["add", "."]);
            git(&["commit", "-q", "-m", "2021"]);
        }
        dir
    }

    fn diagnose(dir: &Path, log: &str) -> Option<Diagnosis> {
        let f = failure(Stage::Health, StepKind::Health, &["python", "app.py"], log);
        DependencyApiChanged.diagnose(&Context::bare(&f, dir))
    }

    #[test]
    fn an_old_repository_resolves_as_of_its_last_commit() {
        let dir = project(true, Some("2021-06-01"));
        let d = diagnose(dir.path(), FLASK).unwrap();
        assert_eq!(d.candidates, [FixAction::ResolveAsOf { project: ".".into(), date: "2021-06-01".into() }]);
        assert_eq!(d.signal.keys, [("module", "flask".to_owned()), ("name", "escape".to_owned())]);
        let numpy = "AttributeError: module 'numpy' has no attribute 'float'.";
        std::fs::create_dir_all(dir.path().join(".venv/lib/python3.11/site-packages/numpy")).unwrap();
        assert!(!diagnose(dir.path(), numpy).unwrap().candidates.is_empty());
    }

    #[test]
    fn recent_repositories_unknown_eras_and_the_apps_own_modules_get_no_date() {
        let recent = project(true, Some(&today()));
        assert!(diagnose(recent.path(), FLASK).unwrap().candidates.is_empty());
        let no_git = project(true, None);
        let d = diagnose(no_git.path(), FLASK).unwrap();
        assert!(d.candidates.is_empty() && d.explanation.unwrap().contains("not a git repository"));
        let own = project(false, Some("2021-06-01"));
        assert!(diagnose(own.path(), "ImportError: cannot import name 'db' from 'models' (/srv/models.py)").is_none());
    }

    fn today() -> String {
        let out = Command::new("date").arg("+%F").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn the_cutoff_is_a_date_before_today() {
        let cutoff = recent_cutoff();
        assert_eq!(cutoff.len(), 10, "{cutoff}");
        assert!(cutoff.as_str() > "2021-06-01" && cutoff < today(), "{cutoff}");
    }
}
