//! Which requirements file pip installs for a project with no `requirements.txt` of its own
//! but several others: `requirements/base.txt`, `local.txt` and `production.txt`
//! (cookiecutter-django), `requirements-web.txt` and `requirements-worker.txt`.
//!
//! A file that another one includes (`-r base.txt`) is part of that one; a file for tests,
//! linting or docs only is not a way to run the app. Of the rest, the only one is the
//! answer, and so is the only one for local development (`local.txt`, `dev.txt`: `up` runs the
//! app as a developer would, and that file has the app's dependencies and the dev server's).
//! Otherwise the rules cannot tell: they pick the file that installs the project's frameworks
//! and the most packages, and leave the question open for the Setup model
//! (`choose_install.rs`).

use std::collections::BTreeSet;

use crate::plan::Project;
use crate::repo::{RepoView, join};

/// Words of a file name that mean tests, linting, docs or CI only: not a way to run the app.
const NOT_FOR_RUNNING: &[&str] = &[
    "test",
    "tests",
    "testing",
    "lint",
    "linting",
    "docs",
    "doc",
    "readthedocs",
    "sphinx",
    "mkdocs",
    "ci",
    "typing",
    "mypy",
    "coverage",
    "format",
];

/// Words of a file name that mean local development: what `up` does.
const LOCAL: &[&str] = &["local", "dev", "develop", "development"];

/// The rules' answer for one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChoice {
    /// The file to install, relative to the project (`requirements/local.txt`).
    pub file: String,
    /// Why, for the plan.
    pub reason: String,
    /// Every file that could be the answer, `file` first, when the rules could not tell (more
    /// than one): the Setup model's candidates. Empty when the rules decided.
    pub open: Vec<String>,
}

/// The requirements files of the project in `dir` other than `requirements.txt`
/// (`requirements-*.txt`, `*-requirements.txt`, `requirements/*.txt`), relative to `dir`.
pub fn files(repo: &RepoView, dir: &str) -> Vec<String> {
    let direct = repo.files_in_dir(dir).filter(|f| {
        let name = f.file_name();
        name != "requirements.txt" && name.contains("requirements") && name.ends_with(".txt")
    });
    let nested = repo.files_in_dir(&join(dir, "requirements")).filter(|f| f.file_name().ends_with(".txt"));
    let mut out: Vec<String> = direct.chain(nested).map(|f| relative(dir, &f.path)).collect();
    out.sort();
    out
}

/// The rules' choice among [`files`], `None` when there are none.
pub fn choose(repo: &RepoView, project: &Project) -> Option<FileChoice> {
    let dir = project.path.as_str();
    let all = files(repo, dir);
    if all.is_empty() {
        return None;
    }
    // Only test or docs files: the best there is among them.
    let runnable: Vec<&String> = all.iter().filter(|f| !has_word(f, NOT_FOR_RUNNING)).collect();
    let runnable = if runnable.is_empty() { all.iter().collect() } else { runnable };
    // A file another runnable one includes is part of that one (a test file including the
    // production one does not make it less of an answer).
    let included: BTreeSet<String> = runnable.iter().flat_map(|f| includes(repo, dir, f)).collect();
    let leaves: Vec<&String> = runnable.iter().copied().filter(|f| !included.contains(*f)).collect();
    // Files that include each other in a circle: all of them.
    let pool = if leaves.is_empty() { runnable } else { leaves };
    if let [only] = pool.as_slice() {
        return Some(decided(only, format!("{only} is the only requirements file for running the app")));
    }
    let local: Vec<&&String> = pool.iter().filter(|f| has_word(f, LOCAL)).collect();
    if let [only] = local.as_slice() {
        return Some(decided(
            only,
            format!("{only} is the requirements file for local development, which is what up runs"),
        ));
    }
    // Open: the file that installs the frameworks and the most packages first.
    let mut ranked: Vec<(bool, usize, &String)> =
        pool.iter().map(|f| (installs_frameworks(repo, project, f).is_ok(), package_count(repo, dir, f), *f)).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
    let first = ranked[0].2.clone();
    Some(FileChoice {
        reason: format!(
            "no requirements.txt; of {} the rules cannot tell which runs the app: {first} installs the most",
            ranked.iter().map(|r| r.2.as_str()).collect::<Vec<_>>().join(", ")
        ),
        open: ranked.into_iter().map(|r| r.2.clone()).collect(),
        file: first,
    })
}

fn decided(file: &str, reason: String) -> FileChoice {
    FileChoice { file: file.to_owned(), reason, open: Vec::new() }
}

/// Whether `file` (relative to the project) installs every framework the project was detected
/// with from a requirements file: `Err` names the first one it leaves out and where it is.
pub fn installs_frameworks(repo: &RepoView, project: &Project, file: &str) -> Result<(), String> {
    let closure = closure(repo, &project.path, file);
    let dir_prefix = prefix(&project.path);
    let listed: BTreeSet<String> = closure
        .iter()
        .filter_map(|f| repo.read_text(&join(&project.path, f)))
        .flat_map(|t| t.content.lines().filter_map(requirement_name).collect::<Vec<_>>())
        .collect();
    for framework in &project.frameworks {
        // The package that made it a framework of the project, as its requirements line names
        // it (`Django>=4` → `django`): the chosen file must list it, itself or through an include.
        let Some((evidence, package)) = framework.evidence.iter().find_map(|e| {
            let rel = e.file.strip_prefix(&dir_prefix)?;
            if !(rel.ends_with(".txt") && rel.contains("requirements")) {
                return None;
            }
            let text = repo.read_text(&e.file)?;
            let line = text.content.lines().nth(e.line? as usize - 1)?;
            Some((e, requirement_name(line)?))
        }) else {
            continue;
        };
        if !listed.contains(&package) {
            return Err(format!(
                "{file} does not install {package} ({}{})",
                evidence.file,
                evidence.line.map(|l| format!(":{l}")).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The requirement lines `file` installs, its includes' counted too.
pub fn package_count(repo: &RepoView, dir: &str, file: &str) -> usize {
    closure(repo, dir, file)
        .iter()
        .filter_map(|f| repo.read_text(&join(dir, f)))
        .map(|t| t.content.lines().filter(|l| is_requirement(l)).count())
        .sum()
}

/// The first lines of `file`, for the model's question.
pub fn head(repo: &RepoView, dir: &str, file: &str, lines: usize) -> String {
    repo.read_text(&join(dir, file))
        .map(|t| t.content.lines().filter(|l| !l.trim().is_empty()).take(lines).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// The package a requirements line names, normalised as PEP 503 compares names
/// (`Flask_SQLAlchemy[async]>=3` → `flask-sqlalchemy`); `None` for comments and options.
fn requirement_name(line: &str) -> Option<String> {
    if !is_requirement(line) {
        return None;
    }
    let name: String =
        line.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    (!name.is_empty()).then(|| crate::detection::providers::pep503_name(&name))
}

fn is_requirement(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !line.starts_with('#') && !line.starts_with('-')
}

/// `file` and every file it includes, transitively, relative to the project.
fn closure(repo: &RepoView, dir: &str, file: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![file.to_owned()];
    while let Some(f) = todo.pop() {
        if seen.insert(f.clone()) {
            todo.extend(includes(repo, dir, &f));
        }
    }
    seen
}

/// The files `file` includes with `-r`/`--requirement`, relative to the project; an include
/// outside it is left out (it is not the project's).
fn includes(repo: &RepoView, dir: &str, file: &str) -> Vec<String> {
    let Some(text) = repo.read_text(&join(dir, file)) else { return Vec::new() };
    let base = file.rsplit_once('/').map_or(".", |(d, _)| d);
    crate::detection::providers::requirement_includes(&text.content, base, false)
}

fn has_word(file: &str, words: &[&str]) -> bool {
    let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".txt").to_ascii_lowercase();
    stem.split(['-', '_', '.']).any(|w| words.contains(&w))
}

fn prefix(dir: &str) -> String {
    if dir == "." { String::new() } else { format!("{dir}/") }
}

fn relative(dir: &str, path: &str) -> String {
    path.strip_prefix(&prefix(dir)).unwrap_or(path).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::testing::detect;

    fn choice(files: &[(&str, &str)]) -> Option<FileChoice> {
        let (repo, detection) = detect(files);
        choose(&repo.view, &detection.projects[0])
    }

    const MANAGE: (&str, &str) = ("manage.py", "import django\n");

    #[test]
    fn cookiecutter_django_installs_local() {
        let c = choice(&[
            MANAGE,
            ("requirements/base.txt", "django==4.2\npsycopg[binary]\n"),
            ("requirements/local.txt", "-r base.txt\nwerkzeug\n"),
            ("requirements/production.txt", "-r base.txt\ngunicorn\n"),
        ])
        .unwrap();
        assert_eq!(c.file, "requirements/local.txt");
        assert!(c.open.is_empty(), "{c:?}");
    }

    #[test]
    fn a_single_leaf_decides_and_test_files_do_not_count() {
        let c = choice(&[
            MANAGE,
            ("requirements-prod.txt", "django\n"),
            ("requirements-test.txt", "-r requirements-prod.txt\npytest\n"),
            ("requirements-docs.txt", "sphinx\n"),
        ])
        .unwrap();
        assert_eq!(c.file, "requirements-prod.txt");
        assert!(c.open.is_empty());
    }

    #[test]
    fn per_process_files_beside_a_dev_file_take_the_dev_file() {
        // A layout of a large Django platform: shared packages, dev and prod on top of them,
        // a docs build and pinned worker stacks per Python version.
        let c = choice(&[
            MANAGE,
            ("requirements/common.txt", "django==4.2\ncelery\n"),
            ("requirements/dev.txt", "-r common.txt\nautoflake\n"),
            ("requirements/prod.txt", "-r common.txt\ngunicorn\n"),
            ("requirements/readthedocs.txt", "sphinx-autobuild\n"),
            ("requirements/code_upload_worker.txt", "kubernetes\nrequests\n"),
            ("requirements/worker_py3_9.txt", "numpy\n"),
        ])
        .unwrap();
        assert_eq!(c.file, "requirements/dev.txt");
        assert!(c.open.is_empty(), "{c:?}");
    }

    #[test]
    fn several_runnable_files_leave_the_question_open() {
        let c = choice(&[
            MANAGE,
            ("requirements/web.txt", "django\ngunicorn\n"),
            ("requirements/worker.txt", "celery\n"),
            ("requirements/ml.txt", "numpy\nscipy\npandas\n"),
        ])
        .unwrap();
        // Django is detected from web.txt: the file that installs it comes first.
        assert_eq!(c.file, "requirements/web.txt");
        assert_eq!(c.open, ["requirements/web.txt", "requirements/ml.txt", "requirements/worker.txt"]);
    }

    #[test]
    fn frameworks_must_be_installed() {
        let (repo, detection) = detect(&[
            MANAGE,
            ("requirements/base.txt", "django==4.2\n"),
            ("requirements/prod.txt", "-r base.txt\ngunicorn\n"),
            ("requirements/extra.txt", "numpy\n"),
        ]);
        let project = &detection.projects[0];
        assert_eq!(installs_frameworks(&repo.view, project, "requirements/prod.txt"), Ok(()));
        let err = installs_frameworks(&repo.view, project, "requirements/extra.txt").unwrap_err();
        assert!(err.contains("does not install django") && err.contains("requirements/base.txt:1"), "{err}");
        assert_eq!(package_count(&repo.view, ".", "requirements/prod.txt"), 2);
    }

    #[test]
    fn includes_resolve_relative_to_their_file_and_stay_inside() {
        let (repo, _) = detect(&[
            MANAGE,
            ("requirements/a.txt", "--requirement=../requirements-b.txt\n-r ../../outside.txt\n"),
            ("requirements-b.txt", "flask\n"),
        ]);
        assert_eq!(includes(&repo.view, ".", "requirements/a.txt"), ["requirements-b.txt"]);
    }
}
