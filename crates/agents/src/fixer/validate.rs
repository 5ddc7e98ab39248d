//! Every proposed action is checked against the repository and the host before it runs,
//! whoever proposed it: the file exists, the script is declared, the version is installed, the
//! variable is read by the code. A rejection says why, and nothing is applied.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::action::{EnvValue, FixAction, RuntimeName};
use super::scripts;
use crate::failure::StepKind;
use crate::pipeline::Blackboard;
use crate::plan::{PackageManager, Runtime};

/// What validation may consult.
pub struct Facts<'a> {
    pub root: &'a Path,
    pub board: Option<&'a Blackboard>,
    /// `up --allow-system`.
    pub allow_system: bool,
}

static DEBIAN_PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9+.-]{1,63}$").expect("valid pattern"));
static PYTHON_PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$").expect("valid pattern"));
static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$").expect("valid pattern"));
static DATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("valid pattern"));

/// `Ok` when `action` may run here; otherwise why not.
pub fn check(action: &FixAction, facts: &Facts<'_>) -> Result<(), String> {
    if let Some(project) = action.project() {
        project_dir(facts, project)?;
    }
    match action {
        FixAction::SetEnv { project, name, value } => {
            if !super::rules::env_name(name) {
                return Err(format!("`{name}` is not an environment variable name"));
            }
            match value {
                EnvValue::GeneratedSecret { length } if !(8..=256).contains(length) => {
                    return Err(format!("a generated value of {length} characters is out of range (8 to 256)"));
                }
                EnvValue::Literal { value } if value.contains(['\n', '\r', '\0']) => {
                    return Err("the value spans lines".into());
                }
                _ => {}
            }
            if !reads_variable(facts, project, name) {
                return Err(format!("the code of {project} does not read {name}"));
            }
            Ok(())
        }
        FixAction::ConstrainDependency { project, package, constraint } => {
            if !PYTHON_PACKAGE.is_match(package) {
                return Err(format!("`{package}` is not a package name"));
            }
            let specifiers = std::str::FromStr::from_str(constraint)
                .map_err(|e: pep440_rs::VersionSpecifiersParseError| format!("`{constraint}`: {e}"))?;
            let _: pep440_rs::VersionSpecifiers = specifiers;
            if !uses_python(facts, project) {
                return Err(format!("{project} has no Python dependencies to constrain"));
            }
            Ok(())
        }
        FixAction::ResolveAsOf { project, date } => {
            if !DATE.is_match(date) {
                return Err(format!("`{date}` is not a YYYY-MM-DD date"));
            }
            if !uses_python(facts, project) {
                return Err(format!("{project} has no Python dependencies to resolve"));
            }
            // The only date with evidence is the project's own history: its last commit.
            let dir = project_dir(facts, project)?;
            match super::rules::dependency_api_changed::last_commit_date(&dir) {
                None => return Err(format!("{project} has no git history to date its dependencies by")),
                Some(last) if date.as_str() > last.as_str() => {
                    return Err(format!("{date} is after the project's last commit ({last})"));
                }
                Some(_) => {}
            }
            // pip has no such option: uv must be there, or a place to provide it.
            let uv = facts.board.is_some_and(|b| b.host.has_program("uv") || b.host.tools_dir().is_some());
            if !uv && which("uv").is_none() {
                return Err("resolving as of a date needs uv (`pipx install uv`): pip has no such option".into());
            }
            Ok(())
        }
        FixAction::ChooseRuntime { runtime, version, .. } => {
            let installed = installed_versions(facts, *runtime);
            if installed.iter().any(|v| v == version) {
                Ok(())
            } else {
                Err(format!(
                    "{} {version} is not installed (installed: {})",
                    runtime.name(),
                    if installed.is_empty() { "none known".to_owned() } else { installed.join(", ") }
                ))
            }
        }
        FixAction::RunScript { project, runner, script, before } => {
            if !matches!(before, StepKind::Migrate | StepKind::Start) {
                return Err(format!("scripts run before migrate or start, not before {}", before.name()));
            }
            let dir = project_dir(facts, project)?;
            if scripts::declared(&dir).iter().any(|s| s.runner == *runner && s.name == *script) {
                Ok(())
            } else {
                Err(format!("{project} declares no script `{}`", runner.display(script)))
            }
        }
        FixAction::CreateDatabase { service, name } => {
            if !IDENTIFIER.is_match(name) {
                return Err(format!("`{name}` is not a database name"));
            }
            if !matches!(service.as_str(), "postgres" | "mysql" | "mariadb") {
                return Err(format!("databases are created in postgres, mysql or mariadb, not `{service}`"));
            }
            if !uses_service(facts, service) {
                return Err(format!("no project of the repository uses {service}"));
            }
            Ok(())
        }
        FixAction::SetStartCommand { project, argv } => {
            let dir = project_dir(facts, project)?;
            let Some((program, args)) = argv.split_first() else { return Err("the command is empty".into()) };
            let runtime = matches!(program.as_str(), "node" | "python" | "python3" | "bun" | "deno");
            if !runtime && !inside(&dir, program).is_some_and(|p| p.is_file()) {
                return Err(format!("`{program}` is neither a runtime nor a file of {project}"));
            }
            if runtime {
                let file = args.iter().find(|a| !a.starts_with('-'));
                match file {
                    Some(f) if inside(&dir, f).is_some_and(|p| p.is_file()) => {}
                    Some(f) => return Err(format!("{f} does not exist in {project}")),
                    None => return Err(format!("`{program}` needs a file of the project to run")),
                }
            }
            if argv.iter().any(|a| a.contains(['\n', '\0'])) {
                return Err("an argument spans lines".into());
            }
            Ok(())
        }
        FixAction::InstallSystemPackage { package } => {
            if !DEBIAN_PACKAGE.is_match(package) {
                return Err(format!("`{package}` is not a Debian package name"));
            }
            if !facts.allow_system {
                return Err(format!(
                    "installing the system package {package} needs `repo-run up --allow-system` (or install it \
                     yourself: `sudo apt-get install {package}`)"
                ));
            }
            if which("apt-get").is_none() {
                return Err(format!("this system has no apt-get: install {package} with its package manager"));
            }
            Ok(())
        }
        FixAction::AddInstallFlag { project, .. } => {
            if uses_node_installer(facts, project) {
                Ok(())
            } else {
                Err(format!("{project} is not installed with npm or yarn"))
            }
        }
        FixAction::SkipStep { project, step } => match step {
            StepKind::Migrate if has_migrations(facts, project) => Ok(()),
            StepKind::Migrate => Err(format!("{project} has no migrate step to skip")),
            other => Err(format!("only the migrate step can be skipped, not {}", other.name())),
        },
    }
}

/// The project's directory, which must be inside the repository.
fn project_dir(facts: &Facts<'_>, project: &str) -> Result<PathBuf, String> {
    let dir = if project == "." { Some(facts.root.to_path_buf()) } else { inside(facts.root, project) };
    match dir {
        Some(d) if d.is_dir() => Ok(d),
        _ => Err(format!("`{project}` is not a directory of the repository")),
    }
}

/// `base/rel` when `rel` is relative and stays inside `base` (no `..`, no absolute path).
fn inside(base: &Path, rel: &str) -> Option<PathBuf> {
    let path = Path::new(rel);
    if path.is_absolute() || path.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        return None;
    }
    Some(base.join(path))
}

fn project<'a>(facts: &'a Facts<'_>, path: &str) -> Option<&'a crate::plan::Project> {
    facts.board?.detection.as_ref()?.projects.iter().find(|p| p.path == path)
}

/// The detection saw the project read `name`, or its source mentions it.
fn reads_variable(facts: &Facts<'_>, project_path: &str, name: &str) -> bool {
    if project(facts, project_path).is_some_and(|p| p.env_vars.iter().any(|v| v.name == name)) {
        return true;
    }
    let Ok(dir) = project_dir(facts, project_path) else { return false };
    // Settings classes (pydantic-settings, environ-config) read `API_TOKEN` into `api_token`.
    source_mentions(&dir, name) || source_mentions(&dir, &name.to_ascii_lowercase())
}

/// A bounded search of the project's source files for `needle`.
fn source_mentions(dir: &Path, needle: &str) -> bool {
    const SOURCE: &[&str] =
        &["py", "js", "mjs", "cjs", "ts", "tsx", "rb", "go", "rs", "php", "java", "kt", "ex", "exs"];
    super::project_files(dir)
        .filter(|e| e.path().extension().and_then(|x| x.to_str()).is_some_and(|x| SOURCE.contains(&x)))
        .filter(|e| e.metadata().is_ok_and(|m| m.len() <= 1024 * 1024))
        .take(5000)
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(needle)))
}

/// Whether a detected project needs `service` (mysql and mariadb are one for this).
fn uses_service(facts: &Facts<'_>, service: &str) -> bool {
    let Some(detection) = facts.board.and_then(|b| b.detection.as_ref()) else { return false };
    detection.projects.iter().flat_map(|p| &p.services).any(|s| {
        let kind = s.service.as_str();
        kind == service || (matches!(kind, "mysql" | "mariadb") && matches!(service, "mysql" | "mariadb"))
    })
}

fn package_managers(facts: &Facts<'_>, path: &str) -> Vec<PackageManager> {
    project(facts, path).map(|p| p.package_managers.iter().map(|f| f.value).collect()).unwrap_or_default()
}

fn uses_python(facts: &Facts<'_>, path: &str) -> bool {
    let pms = package_managers(facts, path);
    if facts.board.is_none() {
        let dir = facts.root.join(path);
        return ["requirements.txt", "pyproject.toml", "Pipfile", "setup.py"].iter().any(|f| dir.join(f).is_file());
    }
    pms.iter().any(|pm| {
        matches!(
            pm,
            PackageManager::Pip
                | PackageManager::Uv
                | PackageManager::Poetry
                | PackageManager::Pipenv
                | PackageManager::Pdm
        )
    })
}

fn uses_node_installer(facts: &Facts<'_>, path: &str) -> bool {
    if facts.board.is_none() {
        return facts.root.join(path).join("package.json").is_file();
    }
    package_managers(facts, path).iter().any(|pm| matches!(pm, PackageManager::Npm | PackageManager::Yarn))
}

fn has_migrations(facts: &Facts<'_>, path: &str) -> bool {
    match facts.board {
        Some(_) => project(facts, path).is_some_and(|p| !p.migrations.is_empty()),
        None => facts.root.join(path).join("manage.py").is_file(),
    }
}

/// The versions a runtime's version manager has installed (pyenv, rustup).
fn installed_versions(facts: &Facts<'_>, runtime: RuntimeName) -> Vec<String> {
    let Some(board) = facts.board else { return Vec::new() };
    let runtime = match runtime {
        RuntimeName::Python => Runtime::Python,
        RuntimeName::Node => Runtime::Node,
        RuntimeName::Rust => Runtime::Rust,
    };
    let managed = board.host.managed(runtime).unwrap_or_default();
    // A version (`3.10.13`) or a manager's name for it (`stable-x86_64-…`) both name a toolchain.
    let mut out: Vec<String> =
        managed.iter().flat_map(|t| [Some(t.name.clone()), t.version.clone()]).flatten().collect();
    out.extend(board.host.version(runtime));
    out.dedup();
    out
}

/// The program's path on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::action::{InstallFlag, ScriptRunner};

    fn facts(root: &Path) -> Facts<'_> {
        Facts { root, board: None, allow_system: false }
    }

    #[test]
    fn files_scripts_and_variables_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/server.js"), "const s = process.env.JWT_SECRET;\n").unwrap();
        std::fs::write(root.join("package.json"), r#"{"scripts": {"db:setup": "node setup.js"}}"#).unwrap();
        let f = facts(root);
        let start =
            |file: &str| FixAction::SetStartCommand { project: ".".into(), argv: vec!["node".into(), file.into()] };
        assert_eq!(check(&start("src/server.js"), &f), Ok(()));
        assert!(check(&start("src/gone.js"), &f).unwrap_err().contains("does not exist"));
        assert!(check(&start("../outside.js"), &f).is_err());
        assert!(check(&start("/etc/passwd"), &f).is_err());
        let bash =
            FixAction::SetStartCommand { project: ".".into(), argv: vec!["bash".into(), "-c".into(), "x".into()] };
        assert!(check(&bash, &f).unwrap_err().contains("neither a runtime nor a file"));

        let script = |name: &str| FixAction::RunScript {
            project: ".".into(),
            runner: ScriptRunner::Npm,
            script: name.into(),
            before: StepKind::Start,
        };
        assert_eq!(check(&script("db:setup"), &f), Ok(()));
        assert!(check(&script("db:invented"), &f).unwrap_err().contains("declares no script"));

        let env = |name: &str| FixAction::SetEnv {
            project: ".".into(),
            name: name.into(),
            value: EnvValue::GeneratedSecret { length: 32 },
        };
        assert_eq!(check(&env("JWT_SECRET"), &f), Ok(()));
        assert!(check(&env("NOT_READ_ANYWHERE"), &f).unwrap_err().contains("does not read"));
        assert!(check(&env("lower"), &f).is_err());
        let flag = FixAction::AddInstallFlag { project: ".".into(), flag: InstallFlag::LegacyPeerDeps };
        assert_eq!(check(&flag, &f), Ok(()));
        let elsewhere = FixAction::AddInstallFlag { project: "nope".into(), flag: InstallFlag::LegacyPeerDeps };
        assert!(check(&elsewhere, &f).unwrap_err().contains("not a directory"));
    }

    #[test]
    fn system_packages_need_the_flag_and_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let lld = FixAction::InstallSystemPackage { package: "lld".into() };
        assert!(check(&lld, &facts(dir.path())).unwrap_err().contains("--allow-system"));
        let allowed = Facts { root: dir.path(), board: None, allow_system: true };
        let odd = FixAction::InstallSystemPackage { package: "lld; rm -rf /".into() };
        assert!(check(&odd, &allowed).unwrap_err().contains("not a Debian package name"));
        let db = FixAction::CreateDatabase { service: "postgres".into(), name: "x\"; drop".into() };
        assert!(check(&db, &allowed).is_err());
        let unused = FixAction::CreateDatabase { service: "postgres".into(), name: "shop".into() };
        assert!(check(&unused, &allowed).unwrap_err().contains("no project of the repository uses postgres"));
    }

    #[test]
    fn constraints_must_parse() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "asyncpg==0.26.0\n").unwrap();
        let c = |constraint: &str| FixAction::ConstrainDependency {
            project: ".".into(),
            package: "asyncpg".into(),
            constraint: constraint.into(),
        };
        assert_eq!(check(&c("==0.27.0"), &facts(dir.path())), Ok(()));
        assert!(check(&c("banana"), &facts(dir.path())).is_err());
    }

    /// A model once proposed resolving a project with no git history as of a date it made up.
    #[test]
    fn a_resolution_date_needs_the_projects_history() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "flask\n").unwrap();
        let as_of = FixAction::ResolveAsOf { project: ".".into(), date: "2023-04-01".into() };
        let why = check(&as_of, &facts(dir.path())).unwrap_err();
        assert!(why.contains("no git history"), "{why}");
    }
}
