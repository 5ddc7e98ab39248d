//! Run problems for the editor: what `repo-run plan` would complain about (a runtime the
//! host lacks or has in the wrong version, a malformed manifest, an env var the user must
//! provide), as plain problems on the line of the file that caused them. The server turns
//! them into diagnostics; this module knows nothing of LSP.

use std::path::Path;

use repo_run_agents::RepoView;
use repo_run_agents::plan::{EnvSource, Evidence, RuntimeStatus};
use repo_run_agents::requirements::{self, Host};

use crate::Severity;
use crate::text::LineIndex;

pub const RUNTIME_MISMATCH: &str = "plan.runtime-mismatch";
pub const RUNTIME_MISSING: &str = "plan.runtime-missing";
pub const MANIFEST: &str = "plan.manifest";
pub const ENV_REQUIRED: &str = "plan.env-required";

/// One problem on one line of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Relative to the workspace root, `/`-separated.
    pub file: String,
    /// Zero-based.
    pub line: u32,
    /// The line's length in UTF-16 code units, so the whole line can be marked.
    pub width: u32,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
}

/// Whether a change to `path` can change the plan: manifests, version files, env examples,
/// compose files.
pub fn is_plan_input(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    matches!(
        name,
        "package.json"
            | "pyproject.toml"
            | "Pipfile"
            | "setup.py"
            | "setup.cfg"
            | "Cargo.toml"
            | "go.mod"
            | "Gemfile"
            | "composer.json"
            | "Procfile"
            | "Dockerfile"
            | "runtime.txt"
            | ".nvmrc"
            | ".node-version"
            | ".python-version"
            | ".ruby-version"
            | ".tool-versions"
            | "rust-toolchain"
            | "rust-toolchain.toml"
    ) || name.starts_with(".env.")
        || (name.starts_with("requirements") && name.ends_with(".txt"))
        || ((name.starts_with("docker-compose") || name.starts_with("compose"))
            && (name.ends_with(".yml") || name.ends_with(".yaml")))
}

/// Detect and resolve requirements for `root` against this host, and list the problems.
/// An unreadable root gives none.
pub fn problems(root: &Path) -> Vec<Problem> {
    let Ok(repo) = RepoView::open(root) else { return Vec::new() };
    let detection = repo_run_agents::detection::detect(&repo);
    let reqs = requirements::resolve(&detection, &repo, &Host::probe());
    let mut out = Vec::new();
    let mut push = |file: &str, line: Option<u32>, severity, code, message: String| {
        if file.is_empty() {
            return;
        }
        let line = line.unwrap_or(1).saturating_sub(1);
        let width = std::fs::read(root.join(file))
            .map(|bytes| {
                let text = String::from_utf8_lossy(&bytes);
                let index = LineIndex::new(&text);
                index.line_text(&text, line as usize).encode_utf16().count() as u32
            })
            .unwrap_or(0);
        out.push(Problem { file: file.to_string(), line, width, severity, code, message });
    };
    for project in &reqs.projects {
        for r in &project.runtimes {
            let (code, what) = match r.status {
                RuntimeStatus::Mismatch => (RUNTIME_MISMATCH, "does not match"),
                RuntimeStatus::Missing => (RUNTIME_MISSING, "is not installed"),
                RuntimeStatus::Ok | RuntimeStatus::Unknown => continue,
            };
            let Some(ev) = &r.evidence else { continue };
            let mut message = match (&r.required, &r.installed, r.status) {
                (Some(req), Some(have), RuntimeStatus::Mismatch) => {
                    format!("{} {req} is required; this machine has {have}", r.runtime)
                }
                (Some(req), _, _) => format!("{} {req} is required and {what} on this machine", r.runtime),
                (None, _, _) => format!("{} {what} on this machine", r.runtime),
            };
            if let Some(extra) = &r.message {
                message = format!("{message} ({extra})");
            }
            push(&ev.file, ev.line, Severity::Warning, code, message);
        }
        for env in project.env.iter().filter(|e| e.source == EnvSource::User) {
            // On the example/manifest lines that name it; on the code that reads it otherwise.
            let inputs: Vec<&Evidence> = env.evidence.iter().filter(|e| is_plan_input(&e.file)).collect();
            let evidence = if inputs.is_empty() { env.evidence.iter().take(1).collect() } else { inputs };
            for ev in evidence {
                let message = format!("{} has no value repo-run can provide: set it before `repo-run up`", env.name);
                push(&ev.file, ev.line, Severity::Info, ENV_REQUIRED, message);
            }
        }
    }
    let mut warnings = detection.warnings;
    warnings.extend(repo.warnings());
    warnings.sort();
    warnings.dedup();
    for w in warnings {
        push(&w.file, w.line, Severity::Warning, MANIFEST, w.message.clone());
    }
    out.sort_by(|a, b| (&a.file, a.line, a.code).cmp(&(&b.file, b.line, b.code)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn find<'p>(problems: &'p [Problem], file: &str, codes: &[&str]) -> Option<&'p Problem> {
        problems.iter().find(|p| p.file == file && codes.contains(&p.code))
    }

    #[test]
    fn an_impossible_engine_is_reported_on_its_line() {
        let pkg = "{\n  \"name\": \"app\",\n  \"engines\": {\"node\": \"<=10\"},\n  \"scripts\": {\"start\": \"node index.js\"}\n}\n";
        let dir = workspace(&[("package.json", pkg), ("index.js", "console.log(1)\n")]);
        let problems = problems(dir.path());
        let p = find(&problems, "package.json", &[RUNTIME_MISMATCH, RUNTIME_MISSING]).expect("a runtime problem");
        assert_eq!(p.line, 2, "{problems:?}");
        assert_eq!(p.width, "  \"engines\": {\"node\": \"<=10\"},".len() as u32);
        assert!(p.message.contains("node"), "{}", p.message);
    }

    #[test]
    fn a_satisfiable_engine_gives_no_mismatch() {
        let pkg = "{\n  \"name\": \"app\",\n  \"engines\": {\"node\": \">=0.1\"}\n}\n";
        let dir = workspace(&[("package.json", pkg), ("index.js", "console.log(1)\n")]);
        assert!(find(&problems(dir.path()), "package.json", &[RUNTIME_MISMATCH]).is_none());
    }

    #[test]
    fn a_malformed_manifest_is_reported_at_the_syntax_error() {
        let dir = workspace(&[("pyproject.toml", "[project]\nname = \"x\"\nversion = \n"), ("app.py", "print(1)\n")]);
        let problems = problems(dir.path());
        let p = find(&problems, "pyproject.toml", &[MANIFEST]).expect("a manifest problem");
        assert_eq!(p.line, 2, "{problems:?}");
        let clean = workspace(&[("pyproject.toml", "[project]\nname = \"x\"\n"), ("app.py", "print(1)\n")]);
        assert!(find(&super::problems(clean.path()), "pyproject.toml", &[MANIFEST]).is_none());
    }

    #[test]
    fn env_vars_without_a_source_point_at_the_example_file() {
        let pkg = "{\n  \"name\": \"app\",\n  \"scripts\": {\"start\": \"node index.js\"}\n}\n";
        let dir = workspace(&[
            ("package.json", pkg),
            ("index.js", "const k = process.env.STRIPE_KEY;\n"),
            (".env.example", "# keys\nSTRIPE_KEY=\n"),
        ]);
        let problems = problems(dir.path());
        let p = find(&problems, ".env.example", &[ENV_REQUIRED]).expect("an env problem");
        assert_eq!((p.line, p.severity), (1, Severity::Info), "{problems:?}");
        assert!(p.message.contains("STRIPE_KEY"));
    }

    #[test]
    fn plan_inputs_are_recognised_by_name() {
        for yes in [
            "package.json",
            "a/b/pyproject.toml",
            ".nvmrc",
            ".env.example",
            "docker-compose.yml",
            "requirements-dev.txt",
        ] {
            assert!(is_plan_input(yes), "{yes}");
        }
        for no in ["src/app.py", "index.js", ".env", "notes.yml"] {
            assert!(!is_plan_input(no), "{no}");
        }
    }
}
