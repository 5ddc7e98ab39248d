//! What must hold before any install runs: each runtime the plan needs is installed in a
//! version its constraint accepts, and each install command's program can be found. Every
//! problem of every project is reported at once, so one round of fixes is enough.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::failure::{Failure, StepKind};
use crate::pipeline::{AgentError, Stage};
use crate::plan::{ProjectRequirements, Requirements, Runtime, RuntimeRequirement, RuntimeStatus};

use super::{error, fingerprint, project_dir, toolchain};

/// Fails with every missing or mismatched runtime and every install program not on `PATH`.
pub(super) fn runtimes_and_tools(requirements: &Requirements, root: &Path) -> Result<(), AgentError> {
    let path = std::env::var_os("PATH");
    let mut problems: Vec<(String, String)> = Vec::new();
    // The projects with a problem: a monorepo's other projects can come up without them.
    let mut failing: Vec<String> = Vec::new();
    for project in &requirements.projects {
        let before = problems.len();
        let runtime_problems: Vec<_> =
            project.runtimes.iter().filter_map(|r| runtime_problem(&project.project, r)).collect();
        // A project whose runtime is missing would also miss its tools: the runtime says why.
        if !runtime_problems.is_empty() {
            problems.extend(runtime_problems);
            failing.push(project.project.clone());
            continue;
        }
        let dir = project_dir(root, &project.project);
        let path = search_path(project, path.as_ref());
        let mut produced: Vec<&str> = Vec::new();
        for planned in &project.install {
            // As it will run: with the chosen interpreter's path.
            let (_, step) = toolchain::commands_for(planned, project);
            let Some(program) = step.command.argv.first() else { continue };
            let provided = project.provide.iter().any(|t| &t.tool == program);
            if !provided && !program_exists(program, &dir, &produced, path.as_ref()) {
                let place = if Path::new(program).is_absolute() {
                    format!("{program} does not exist")
                } else if program.contains('/') {
                    format!("{program} does not exist in {}", dir.display())
                } else {
                    format!("{program} is not on PATH")
                };
                problems.push((
                    format!(
                        "{}: {place} (needed for `{}`, from {})",
                        project.project, step.command.display, step.command.evidence.file
                    ),
                    tool_hint(program),
                ));
            }
            produced.extend(fingerprint::output_dir(&step.command.argv));
        }
        if problems.len() > before {
            failing.push(project.project.clone());
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let (messages, all_hints): (Vec<String>, Vec<String>) = problems.into_iter().unzip();
    let mut hints: Vec<String> = Vec::new();
    for hint in all_hints {
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    }
    let message = if messages.len() == 1 {
        messages[0].clone()
    } else {
        format!("{} problems with the tools this repository needs:\n  - {}", messages.len(), messages.join("\n  - "))
    };
    Err(error(message, Some(hints.join("\n"))).confined_to(failing))
}

/// Fails when a program the plan's system packages provide (a linker `.cargo/config.toml`
/// names) is not installed: the build would fail on it after every install. The failure names
/// the packages, so the Fixer can install them (with `--allow-system`).
pub(super) fn system_programs(requirements: &Requirements) -> Result<(), AgentError> {
    let path = std::env::var_os("PATH");
    let mut messages: Vec<String> = Vec::new();
    let mut packages: Vec<&str> = Vec::new();
    let mut failure: Option<Failure> = None;
    for project in &requirements.projects {
        let search = search_path(project, path.as_ref());
        let missing: Vec<_> = project
            .system_packages
            .iter()
            .filter(|p| p.program.as_deref().is_some_and(|program| !on_path(program, search.as_ref())))
            .collect();
        for p in &missing {
            if !packages.contains(&p.apt.as_str()) {
                packages.push(&p.apt);
            }
            let at = p.evidence.line.map(|l| format!(":{l}")).unwrap_or_default();
            messages.push(format!(
                "{}: {} is not installed; {}{at} needs it for the build (Debian package {})",
                project.project,
                p.program.as_deref().unwrap_or_default(),
                p.evidence.file,
                p.apt
            ));
        }
        if failure.is_none() && !missing.is_empty() {
            failure = Some(
                Failure::new(Stage::Setup, StepKind::Check, &project.project)
                    .evidence(Some(missing[0].evidence.clone()))
                    .tail(&messages)
                    .missing_packages(missing.iter().map(|p| p.apt.clone()).collect()),
            );
        }
    }
    let Some(failure) = failure else { return Ok(()) };
    let message = if messages.len() == 1 {
        messages[0].clone()
    } else {
        format!("{} programs the builds need are not installed:\n  - {}", messages.len(), messages.join("\n  - "))
    };
    let hint = format!(
        "install them: `sudo apt-get install {}`, or run `repo-run up --allow-system` to let repo-run install them",
        packages.join(" ")
    );
    Err(error(message, Some(hint)).with_failure(failure))
}

/// Whether `program` (a name, or an absolute path) can be run.
fn on_path(program: &str, path: Option<&OsString>) -> bool {
    if Path::new(program).is_absolute() {
        return is_executable(Path::new(program));
    }
    path.is_some_and(|p| std::env::split_paths(p).any(|d| is_executable(&d.join(program))))
}

/// `PATH` as the project's commands see it: a chosen Node's `bin` (with its npm) first.
fn search_path(project: &ProjectRequirements, path: Option<&OsString>) -> Option<OsString> {
    let (mut dirs, _) = toolchain::env(project);
    dirs.extend(path.map(std::env::split_paths).into_iter().flatten());
    std::env::join_paths(dirs).ok()
}

/// Constraints that could not be read (`status: unknown`): the install goes on, and the user
/// is told which versions were not compared.
pub(super) fn unchecked(requirements: &Requirements) -> Vec<String> {
    let mut out = Vec::new();
    for project in &requirements.projects {
        for r in project.runtimes.iter().filter(|r| r.status == RuntimeStatus::Unknown) {
            let from = r.evidence.as_ref().map(|e| format!(" (from {})", e.file)).unwrap_or_default();
            out.push(format!(
                "{}: could not compare {} {}{from} with the installed {}; going on with it",
                project.project,
                r.runtime,
                r.required.as_deref().unwrap_or("?"),
                r.installed.as_deref().unwrap_or("version")
            ));
        }
    }
    out
}

/// "go: go.mod (line 3) requires 1.22; not installed" and how to get it.
fn runtime_problem(project: &str, r: &RuntimeRequirement) -> Option<(String, String)> {
    if !matches!(r.status, RuntimeStatus::Missing | RuntimeStatus::Mismatch) {
        return None;
    }
    let needs = match (&r.required, &r.evidence) {
        (Some(req), Some(e)) => {
            let line = e.line.map(|l| format!(" line {l}")).unwrap_or_default();
            format!("{}{line} requires {} {req}", e.file, r.runtime)
        }
        (Some(req), None) => format!("{} {req} is required", r.runtime),
        (None, _) => format!("{} is required", r.runtime),
    };
    let have = match &r.installed {
        Some(v) => format!("installed: {v}"),
        None => "not installed".to_owned(),
    };
    let mut message = format!("{project}: {needs}; {have}");
    if let Some(note) = &r.message {
        message.push_str(&format!(" ({note})"));
    }
    Some((message, runtime_hint(r.runtime, r.required.as_deref())))
}

/// How to get a runtime, with the version manager people use for it.
fn runtime_hint(runtime: Runtime, required: Option<&str>) -> String {
    let v = required.map(|r| r.trim_start_matches(['^', '~', '=', '>', '<', 'v', ' '])).unwrap_or("");
    let v = v.split([' ', ',', '|']).next().unwrap_or("");
    let (v_or, v_arg) = if v.is_empty() { ("the required version", "<version>") } else { (v, v) };
    match runtime {
        Runtime::Node => format!(
            "install Node {v_or} with a version manager: `nvm install {v_arg}` (https://github.com/nvm-sh/nvm) or \
             `fnm install {v_arg}` (https://github.com/Schniz/fnm), or from https://nodejs.org/"
        ),
        Runtime::Bun => "install Bun: https://bun.sh/docs/installation".into(),
        Runtime::Python => format!(
            "install Python {v_or} with pyenv: `pyenv install {v_arg}` (https://github.com/pyenv/pyenv), or `uv \
             python install {v_arg}`"
        ),
        Runtime::Rust => format!(
            "install Rust with rustup (https://rustup.rs): `rustup toolchain install {}`",
            if v.is_empty() { "stable" } else { v }
        ),
        Runtime::Go => format!("install Go {v_or} from https://go.dev/dl/ (or `goenv install {v_arg}`)"),
        Runtime::Ruby => format!(
            "install Ruby {v_or} with rbenv: `rbenv install {v_arg}` (https://github.com/rbenv/rbenv), or asdf/mise"
        ),
        Runtime::Java => format!(
            "install a JDK {v_or} with SDKMAN! (`sdk install java`, https://sdkman.io) or your system's packages \
             (`apt install openjdk-{}-jdk`)",
            if v.is_empty() { "17" } else { v }
        ),
        Runtime::Php => format!("install PHP {v_or}: https://www.php.net/downloads (or `apt install php-cli`)"),
    }
}

/// Where a missing install program comes from.
fn tool_hint(program: &str) -> String {
    let name = Path::new(program).file_name().map_or(program.to_owned(), |n| n.to_string_lossy().into_owned());
    match name.as_str() {
        "npm" | "npx" | "node" => {
            "npm comes with Node: install Node with nvm or fnm, or from https://nodejs.org/".into()
        }
        "yarn" | "pnpm" => {
            format!("{name} ships with Node through Corepack: run `corepack enable` (or `npm install -g {name}`)")
        }
        "bun" => "install Bun: https://bun.sh/docs/installation".into(),
        "python" | "python3" => {
            "install Python with pyenv (`pyenv install <version>`) or your system's packages".into()
        }
        "pip" | "pip3" => {
            "pip comes from the project's .venv: remove a broken .venv and run `repo-run up` again".into()
        }
        "uv" => "install uv: `pipx install uv` or https://docs.astral.sh/uv/getting-started/installation/".into(),
        "poetry" | "pipenv" | "pdm" => format!("install {name}: `pipx install {name}`"),
        "cargo" => "install Rust with rustup: https://rustup.rs".into(),
        "go" => "install Go from https://go.dev/dl/".into(),
        "bundle" | "bundler" => "install Bundler: `gem install bundler` (Ruby comes from rbenv, asdf or mise)".into(),
        "mvn" => "install Maven (`apt install maven`, `sdk install maven`), or add the Maven wrapper (mvnw)".into(),
        "gradle" => "install Gradle (`sdk install gradle`), or add the Gradle wrapper (gradlew)".into(),
        "composer" => "install Composer: https://getcomposer.org/download/".into(),
        _ if program.contains('/') => format!("{program} is part of the repository: check it is committed"),
        _ => format!("install {name} and make sure it is on PATH"),
    }
}

/// Whether `program` can be run from `dir`: an existing relative path, one inside a directory
/// an earlier step creates (`.venv/bin/pip` after `python3 -m venv .venv`), or an executable
/// on `PATH`.
fn program_exists(program: &str, dir: &Path, produced: &[&str], path: Option<&OsString>) -> bool {
    let as_path = Path::new(program);
    if as_path.is_absolute() {
        return is_executable(as_path);
    }
    if program.contains('/') {
        let first = as_path.components().find_map(|c| match c {
            std::path::Component::Normal(n) => n.to_str(),
            _ => None,
        });
        return dir.join(as_path).exists() || first.is_some_and(|f| produced.contains(&f));
    }
    path.is_some_and(|p| std::env::split_paths(p).any(|d| is_executable(&d.join(program))))
}

fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What to look at after an install failed, by package manager.
pub(super) fn failure_hint(argv: &[String], evidence: &str) -> String {
    let program = argv.first().map(String::as_str).unwrap_or("");
    let name = Path::new(program).file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let sub = argv.get(1).map(String::as_str).unwrap_or("");
    match name.as_str() {
        "npm" | "yarn" | "pnpm" | "bun" => format!(
            "read the log; a package that cannot be fetched usually means a registry setting: `npm config get \
             registry`, npm_config_registry, .npmrc{}; a lock out of date with package.json makes `{name} {sub}` \
             fail (run `{name} install` and commit the lock)",
            if name == "yarn" { ", .yarnrc.yml" } else { "" }
        ),
        "pip" | "pip3" | "uv" | "poetry" | "pipenv" | "pdm" => format!(
            "read the log; a package or version that cannot be found means a name or pin in {evidence} is wrong or \
             the index is unreachable: check PIP_INDEX_URL / pip.conf{}; a package that fails to build may need a \
             system library (see the plan's system packages)",
            if name == "uv" { " / UV_INDEX_URL" } else { "" }
        ),
        "python" | "python3" => {
            "creating the virtualenv failed: on Debian/Ubuntu install python3-venv, or use a pyenv Python".into()
        }
        "cargo" => "read the log; crates that cannot be fetched mean the registry settings in ~/.cargo/config.toml \
                    (or CARGO_REGISTRIES_*), or a Cargo.lock out of date (`cargo fetch` without --locked updates it)"
            .into(),
        "go" => {
            "read the log; modules that cannot be fetched mean GOPROXY / GOPRIVATE settings (`go env GOPROXY`)".into()
        }
        "bundle" => "read the log; check the Gemfile's source and `bundle config` mirrors".into(),
        "mvn" | "mvnw" | "gradle" | "gradlew" => {
            "read the log; check the repositories and mirrors in ~/.m2/settings.xml or the Gradle init scripts".into()
        }
        "composer" => "read the log; check `composer config repositories` and the lock".into(),
        _ => format!("read the log, fix the cause in {evidence} or the environment, and run `repo-run up` again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Evidence;

    #[test]
    fn runtime_messages_name_both_versions_and_the_file() {
        let r = RuntimeRequirement {
            runtime: Runtime::Node,
            required: Some(">=22".into()),
            evidence: Some(Evidence::new("web/package.json", Some(5), "node.engines")),
            installed: Some("20.11.0".into()),
            status: RuntimeStatus::Mismatch,
            message: None,
            selected: None,
        };
        let (message, hint) = runtime_problem("web", &r).unwrap();
        assert_eq!(message, "web: web/package.json line 5 requires node >=22; installed: 20.11.0");
        assert!(hint.contains("nvm install 22") && hint.contains("fnm"), "{hint}");
        let ok = RuntimeRequirement { status: RuntimeStatus::Ok, ..r };
        assert!(runtime_problem("web", &ok).is_none());
    }

    #[test]
    fn a_missing_linker_program_fails_the_check_with_its_package() {
        let linker = |program: &str, apt: &str, line: u32| crate::plan::SystemPackage {
            apt: apt.into(),
            reason: "a linker".into(),
            evidence: Evidence::new(".cargo/config.toml", Some(line), "rust.cargo-config.linker"),
            program: Some(program.into()),
        };
        let requirements = |packages: Vec<crate::plan::SystemPackage>| Requirements {
            projects: vec![ProjectRequirements {
                install_candidates: Vec::new(),
                project: ".".into(),
                runtimes: vec![],
                install: vec![],
                system_packages: packages,
                env: vec![],
                provide: vec![],
                decisions: vec![],
            }],
            host: vec![],
        };
        // `sh` is on every PATH; the other two are on none.
        let packages = vec![
            linker("sh", "dash", 2),
            linker("repo-run-no-such-mold", "mold", 3),
            linker("/nonexistent/ld.lld", "lld", 4),
        ];
        let err = system_programs(&requirements(packages)).unwrap_err();
        assert!(
            err.message.contains("repo-run-no-such-mold is not installed; .cargo/config.toml:3"),
            "{}",
            err.message
        );
        assert!(err.message.contains("/nonexistent/ld.lld"), "{}", err.message);
        assert!(err.hint.as_deref().unwrap_or("").contains("apt-get install mold lld"), "{:?}", err.hint);
        let failure = err.failure.as_ref().expect("a typed failure for the Fixer");
        assert_eq!((failure.stage, failure.step), (Stage::Setup, StepKind::Check));
        assert_eq!(failure.missing_packages, ["mold", "lld"]);
        assert_eq!(failure.evidence.as_ref().and_then(|e| e.line), Some(3));
        assert!(system_programs(&requirements(vec![linker("sh", "dash", 2)])).is_ok());
    }

    #[test]
    fn programs_in_a_chosen_node_bin_count() {
        let bin = tempfile::tempdir().unwrap();
        let npm = bin.path().join("repo-run-test-npm");
        std::fs::write(&npm, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let node = RuntimeRequirement {
            runtime: Runtime::Node,
            required: Some("22".into()),
            evidence: None,
            installed: Some("22.1.0".into()),
            status: RuntimeStatus::Ok,
            message: None,
            selected: Some(crate::plan::SelectedRuntime {
                version: "22.1.0".into(),
                manager: "nvm".into(),
                path: Some(bin.path().display().to_string()),
                toolchain: None,
                note: "chosen".into(),
            }),
        };
        let project = ProjectRequirements {
            install_candidates: Vec::new(),
            project: ".".into(),
            runtimes: vec![node],
            install: vec![],
            system_packages: vec![],
            env: vec![],
            provide: vec![],
            decisions: vec![],
        };
        let host_path = std::env::var_os("PATH");
        let dir = tempfile::tempdir().unwrap();
        assert!(!program_exists("repo-run-test-npm", dir.path(), &[], host_path.as_ref()));
        let path = search_path(&project, host_path.as_ref());
        assert!(program_exists("repo-run-test-npm", dir.path(), &[], path.as_ref()));
        assert!(program_exists("sh", dir.path(), &[], path.as_ref()), "the host's PATH follows");
    }

    #[test]
    fn programs_from_earlier_steps_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::var_os("PATH");
        assert!(program_exists("sh", dir.path(), &[], path.as_ref()));
        assert!(!program_exists("repo-run-no-such-tool", dir.path(), &[], path.as_ref()));
        assert!(!program_exists(".venv/bin/pip", dir.path(), &[], path.as_ref()));
        assert!(program_exists(".venv/bin/pip", dir.path(), &[".venv"], path.as_ref()));
        assert!(program_exists("/bin/sh", dir.path(), &[], None));
    }
}
