//! How to install a project's dependencies: one command per package manager, chosen by the
//! lock file, each with the reason for it. A lock file means an exact install (`npm ci`,
//! `--frozen-lockfile`, `uv sync --frozen`); without one the manager resolves.
//!
//! Workspaces install once, at the root: a member of an npm/yarn/pnpm/bun workspace, a Cargo
//! or uv workspace, a multi-module Maven build or a Gradle build gets no step of its own.

use crate::detection::command;
use crate::plan::{Evidence, InstallStep, PackageManager, Project};
use crate::repo::RepoView;

use super::{ancestors, join, read, read_json, read_toml};

/// The install steps for one project, in order.
pub fn steps(project: &Project, repo: &RepoView) -> Vec<InstallStep> {
    let dir = project.path.as_str();
    let at = Dir { repo, dir };
    let mut out = Vec::new();
    let managers: Vec<PackageManager> = project.package_managers.iter().map(|f| f.value).collect();
    let node_pm = choose(&at, &managers, NODE_LOCKS);
    let python_pm = choose(&at, &managers, PYTHON_LOCKS);
    for pm in managers.iter().copied() {
        use PackageManager::*;
        match pm {
            Npm | Yarn | Pnpm | Bun => {
                if Some(pm) == node_pm && node_workspace_root(repo, dir).is_none() {
                    out.push(node(&at, pm));
                }
            }
            Pip | Poetry | Uv | Pipenv | Pdm if Some(pm) != python_pm => {}
            Pip => out.extend(pip(&at, project)),
            Poetry => out.push(poetry(&at)),
            Uv if uv_workspace_root(repo, dir).is_some() => {}
            Uv => out.push(if at.has("uv.lock") {
                at.step(
                    &["uv", "sync", "--frozen"],
                    "uv.lock",
                    "uv.lock present: uv sync --frozen installs exactly the lock into .venv",
                )
            } else {
                at.step(
                    &["uv", "sync"],
                    "pyproject.toml",
                    "no uv.lock: uv sync resolves pyproject.toml into .venv (and writes uv.lock)",
                )
            }),
            Pipenv => out.push(if at.has("Pipfile.lock") {
                at.step(
                    &["pipenv", "install", "--deploy"],
                    "Pipfile.lock",
                    "Pipfile.lock present: pipenv install --deploy installs the lock and fails if it is out of date",
                )
            } else {
                at.step(
                    &["pipenv", "install"],
                    "Pipfile",
                    "no Pipfile.lock: pipenv install resolves the Pipfile (and writes the lock)",
                )
            }),
            Pdm => out.push(if at.has("pdm.lock") {
                at.step(
                    &["pdm", "install"],
                    "pdm.lock",
                    "pdm.lock present: pdm install installs the lock into the project's venv",
                )
            } else {
                at.step(
                    &["pdm", "install"],
                    "pyproject.toml",
                    "no pdm.lock: pdm install resolves pyproject.toml (and writes pdm.lock)",
                )
            }),
            Cargo => {
                if cargo_workspace_root(repo, dir).is_none() {
                    out.push(cargo(&at, project));
                }
            }
            GoModules => out.push(if at.has("go.sum") {
                at.step(
                    &["go", "mod", "download"],
                    "go.sum",
                    "go.sum present: go mod download fetches the modules it pins",
                )
            } else {
                at.step(
                    &["go", "mod", "download"],
                    "go.mod",
                    "go mod download fetches the modules go.mod requires (there is no go.sum yet)",
                )
            }),
            Bundler => out.push(bundler(&at)),
            Maven => {
                if !has_parent(dir, |d| {
                    read(repo, &join(d, "pom.xml")).is_some_and(|t| t.content.contains("<modules>"))
                }) {
                    out.push(maven(&at));
                }
            }
            Gradle => {
                let settings =
                    |d: &str| ["settings.gradle", "settings.gradle.kts"].iter().any(|f| repo.exists(&join(d, f)));
                if !has_parent(dir, settings) {
                    out.push(gradle(&at));
                }
            }
            Composer => out.push(if at.has("composer.lock") {
                at.step(
                    &["composer", "install", "--no-interaction"],
                    "composer.lock",
                    "composer.lock present: composer install installs the lock, dev packages included (dev servers and \
                     debug tooling need them)",
                )
            } else {
                at.step(
                    &["composer", "install", "--no-interaction"],
                    "composer.json",
                    "no composer.lock: composer install resolves composer.json (and writes the lock)",
                )
            }),
        }
    }
    out
}

/// The oldest Python today's pipenv can install into: it runs its vendored pip with the
/// project's interpreter, and that pip's code is a SyntaxError on 3.7.
const PIPENV_OLDEST_PYTHON: (u64, u64) = (3, 8);

/// The steps adjusted to the Python the project runs with (`pythons`: the chosen or host's
/// version, and the version its files pin, `3.7`; a range counts for nothing): for one older
/// than pipenv can use, `pipenv install --deploy` becomes a venv made by that Python and its pip
/// installing Pipfile.lock's pinned packages with their hashes (Setup exports the lock to a
/// requirements file; pip cannot read it), as pipenv would have.
pub fn for_python(steps: Vec<InstallStep>, pythons: &[&str]) -> Vec<InstallStep> {
    let Some(python) = pythons.iter().find(|v| major_minor(v).is_some_and(|v| v < PIPENV_OLDEST_PYTHON)) else {
        return steps;
    };
    let mut out = Vec::with_capacity(steps.len() + 1);
    for step in steps {
        let is_pipenv_lock = step.command.argv.first().is_some_and(|p| p == "pipenv")
            && step.command.evidence.file.ends_with("Pipfile.lock");
        if !is_pipenv_lock {
            out.push(step);
            continue;
        }
        let file = &step.command.evidence.file;
        let evidence = Evidence::new(file.clone(), None, "requirements.install.pipfile-lock");
        out.push(InstallStep {
            command: command(&["python3", "-m", "venv", ".venv"], evidence.clone()),
            reason: format!(
                "Pipfile.lock present and the project runs on Python {python}, older than pipenv supports (3.8+): \
                 the venv is made by that Python, without pipenv"
            ),
        });
        out.push(InstallStep {
            command: command(
                &[".venv/bin/pip", "install", "--no-deps", "--require-hashes", "-r", "Pipfile.lock"],
                evidence,
            ),
            reason: "pip installs exactly Pipfile.lock's default packages, each checked against the lock's hashes \
                     (Setup exports the lock to a requirements file in .repo-run/, as pip cannot read it)"
                .to_owned(),
        });
    }
    out
}

/// `(3, 7)` of `3.7.16`.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??))
}

/// Node managers with their lock files, in the order a tie is broken.
const NODE_LOCKS: &[(PackageManager, &[&str])] = &[
    (PackageManager::Pnpm, &["pnpm-lock.yaml"]),
    (PackageManager::Yarn, &["yarn.lock"]),
    (PackageManager::Bun, &["bun.lock", "bun.lockb"]),
    (PackageManager::Npm, &["package-lock.json", "npm-shrinkwrap.json"]),
];

/// Python managers with their lock files (`requirements.txt` is pip's), in the order a tie
/// is broken.
const PYTHON_LOCKS: &[(PackageManager, &[&str])] = &[
    (PackageManager::Uv, &["uv.lock"]),
    (PackageManager::Poetry, &["poetry.lock"]),
    (PackageManager::Pdm, &["pdm.lock"]),
    (PackageManager::Pipenv, &["Pipfile.lock"]),
    (PackageManager::Pip, &["requirements.txt"]),
];

/// One install per ecosystem: two managers in one project install the same dependencies
/// twice, into different places. The detected manager whose lock file is present wins, else
/// the first of the table that was detected.
fn choose(at: &Dir<'_>, detected: &[PackageManager], table: &[(PackageManager, &[&str])]) -> Option<PackageManager> {
    let candidates = || table.iter().filter(|(pm, _)| detected.contains(pm));
    candidates().find(|(_, locks)| locks.iter().any(|l| at.has(l))).or_else(|| candidates().next()).map(|(pm, _)| *pm)
}

struct Dir<'a> {
    repo: &'a RepoView,
    dir: &'a str,
}

impl Dir<'_> {
    fn has(&self, name: &str) -> bool {
        self.repo.exists(&join(self.dir, name))
    }

    fn step(&self, argv: &[&str], file: &str, reason: &str) -> InstallStep {
        let rule =
            format!("requirements.install.{}", argv[0].trim_start_matches("./").trim_start_matches(".venv/bin/"));
        InstallStep {
            command: command(argv, Evidence::new(join(self.dir, file), None, rule)),
            reason: reason.to_owned(),
        }
    }
}

/// The nearest strict ancestor that is an npm/yarn/bun workspace (package.json `workspaces`)
/// or a pnpm workspace (`pnpm-workspace.yaml`) with this directory among its members: the
/// directory that installs for it.
fn node_workspace_root(repo: &RepoView, dir: &str) -> Option<String> {
    ancestors(dir).into_iter().skip(1).find(|root| {
        let patterns = if repo.exists(&join(root, "pnpm-workspace.yaml")) {
            let text = read(repo, &join(root, "pnpm-workspace.yaml")).map(|t| t.content).unwrap_or_default();
            let yaml: Option<serde_yaml_ng::Value> = serde_yaml_ng::from_str(&text).ok();
            strings(
                yaml.as_ref()
                    .and_then(|y| y.get("packages"))
                    .and_then(|p| p.as_sequence())
                    .map(|s| s.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect()),
            )
        } else {
            let json = read_json(repo, &join(root, "package.json")).map(|(_, j)| j);
            let Some(ws) = json.as_ref().and_then(|j| j.get("workspaces")) else { return false };
            let list = ws.as_array().or_else(|| ws.get("packages").and_then(|p| p.as_array()));
            strings(list.map(|l| l.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect()))
        };
        is_member(root, dir, &patterns)
    })
}

/// The nearest strict ancestor whose Cargo.toml has a `[workspace]` listing this directory.
fn cargo_workspace_root(repo: &RepoView, dir: &str) -> Option<String> {
    ancestors(dir).into_iter().skip(1).find(|root| {
        let Some((_, toml)) = read_toml(repo, &join(root, "Cargo.toml")) else { return false };
        let Some(ws) = toml.get("workspace") else { return false };
        is_member(root, dir, &toml_patterns(ws))
    })
}

/// The nearest strict ancestor whose pyproject.toml has a `[tool.uv.workspace]` listing this
/// directory: `uv sync` there installs every member into one `.venv`.
fn uv_workspace_root(repo: &RepoView, dir: &str) -> Option<String> {
    ancestors(dir).into_iter().skip(1).find(|root| {
        let Some((_, toml)) = read_toml(repo, &join(root, "pyproject.toml")) else { return false };
        let Some(ws) = toml.get("tool").and_then(|t| t.get("uv")).and_then(|u| u.get("workspace")) else {
            return false;
        };
        is_member(root, dir, &toml_patterns(ws))
    })
}

/// `members` and `exclude` of a Cargo or uv workspace table, excludes as `!pattern`.
fn toml_patterns(ws: &toml::Value) -> Vec<String> {
    let list = |key: &str| -> Option<Vec<String>> {
        ws.get(key).and_then(|m| m.as_array()).map(|a| a.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect())
    };
    let mut patterns = strings(list("members"));
    patterns.extend(list("exclude").unwrap_or_default().into_iter().map(|e| format!("!{e}")));
    patterns
}

/// Patterns as declared; a workspace whose list cannot be read is taken to hold everything
/// below it, so that nothing installs twice.
fn strings(list: Option<Vec<String>>) -> Vec<String> {
    list.unwrap_or_else(|| vec!["**".to_owned()])
}

/// Whether `dir` is a member of the workspace at `root` with these member patterns (`apps/*`,
/// `packages/**`, `!**/test/**`).
fn is_member(root: &str, dir: &str, patterns: &[String]) -> bool {
    let rel = if root == "." { dir } else { dir.strip_prefix(root).map_or(dir, |r| r.trim_start_matches('/')) };
    let clean = |p: &str| p.trim_start_matches("./").trim_end_matches('/').to_owned();
    let included = patterns.iter().filter(|p| !p.starts_with('!')).any(|p| glob(&clean(p), rel));
    let excluded = patterns.iter().filter_map(|p| p.strip_prefix('!')).any(|p| glob(&clean(p), rel));
    included && !excluded
}

/// A path glob: `*` within a segment, `**` for any number of segments.
fn glob(pattern: &str, path: &str) -> bool {
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| segments(rest, &s[i..])),
            Some((first, rest)) => s.split_first().is_some_and(|(h, t)| segment(first, h) && segments(rest, t)),
        }
    }
    fn segment(p: &str, s: &str) -> bool {
        match p.split_once('*') {
            None => p == s,
            Some((head, tail)) => {
                s.starts_with(head)
                    && (0..=s.len() - head.len())
                        .any(|i| s.is_char_boundary(head.len() + i) && segment(tail, &s[head.len() + i..]))
            }
        }
    }
    let p: Vec<&str> = pattern.split('/').filter(|x| !x.is_empty()).collect();
    let s: Vec<&str> = path.split('/').filter(|x| !x.is_empty()).collect();
    segments(&p, &s)
}

fn has_parent(dir: &str, is_root: impl Fn(&str) -> bool) -> bool {
    ancestors(dir).iter().skip(1).any(|d| is_root(d))
}

fn node(at: &Dir<'_>, pm: PackageManager) -> InstallStep {
    let workspace = read_json(at.repo, &join(at.dir, "package.json"))
        .is_some_and(|(_, j)| j.get("workspaces").is_some())
        || at.has("pnpm-workspace.yaml");
    let also = if workspace { " (the workspace root: this installs every member)" } else { "" };
    match pm {
        PackageManager::Npm if at.has("package-lock.json") || at.has("npm-shrinkwrap.json") => {
            let lock = if at.has("package-lock.json") { "package-lock.json" } else { "npm-shrinkwrap.json" };
            at.step(&["npm", "ci"], lock, &format!("{lock} present: npm ci installs exactly the lock{also}"))
        }
        PackageManager::Npm => at.step(
            &["npm", "install"],
            "package.json",
            &format!("no package-lock.json: npm install resolves package.json ranges (and writes a lock){also}"),
        ),
        PackageManager::Yarn if at.has("yarn.lock") => {
            // Berry writes `__metadata` at the top of the lock: the head is enough, and a
            // lock over the read limit is common in large monorepos.
            let berry = at.has(".yarnrc.yml")
                || at
                    .repo
                    .read_head(&join(at.dir, "yarn.lock"), 4096)
                    .is_some_and(|t| t.content.contains("__metadata"));
            if berry {
                at.step(
                    &["yarn", "install", "--immutable"],
                    "yarn.lock",
                    &format!(
                        "Yarn Berry lock (.yarnrc.yml or __metadata): yarn install --immutable installs exactly the \
                         lock{also}"
                    ),
                )
            } else {
                at.step(
                    &["yarn", "install", "--frozen-lockfile"],
                    "yarn.lock",
                    &format!("Yarn v1 lock: yarn install --frozen-lockfile installs exactly the lock{also}"),
                )
            }
        }
        PackageManager::Yarn => at.step(
            &["yarn", "install"],
            "package.json",
            &format!("no yarn.lock: yarn install resolves package.json (and writes the lock){also}"),
        ),
        PackageManager::Pnpm if at.has("pnpm-lock.yaml") => at.step(
            &["pnpm", "install", "--frozen-lockfile"],
            "pnpm-lock.yaml",
            &format!("pnpm-lock.yaml present: pnpm install --frozen-lockfile installs exactly the lock{also}"),
        ),
        PackageManager::Pnpm => at.step(
            &["pnpm", "install"],
            "package.json",
            &format!("no pnpm-lock.yaml: pnpm install resolves package.json (and writes the lock){also}"),
        ),
        _ => {
            let lock = ["bun.lock", "bun.lockb"].into_iter().find(|l| at.has(l));
            match lock {
                Some(lock) => at.step(
                    &["bun", "install", "--frozen-lockfile"],
                    lock,
                    &format!("{lock} present: bun install --frozen-lockfile installs exactly the lock{also}"),
                ),
                None => at.step(
                    &["bun", "install"],
                    "package.json",
                    &format!("no bun lock: bun install resolves package.json (and writes the lock){also}"),
                ),
            }
        }
    }
}

/// pip has no environment of its own: make `.venv` first, then install into it.
fn pip(at: &Dir<'_>, project: &Project) -> Vec<InstallStep> {
    let other_files = || super::requirement_files::choose(at.repo, project);
    let (install, file, why): (Vec<String>, String, String) = if at.has("requirements.txt") {
        (
            owned(&[".venv/bin/pip", "install", "-r", "requirements.txt"]),
            "requirements.txt".to_owned(),
            "requirements.txt lists the dependencies: pip installs them into .venv".to_owned(),
        )
    } else if let Some(choice) = (!installable_project(at)).then(other_files).flatten() {
        (owned(&[".venv/bin/pip", "install", "-r", &choice.file]), choice.file, choice.reason)
    } else if at.has("pyproject.toml") || at.has("setup.py") || at.has("setup.cfg") {
        let manifest =
            ["pyproject.toml", "setup.py", "setup.cfg"].into_iter().find(|f| at.has(f)).unwrap_or("pyproject.toml");
        (
            owned(&[".venv/bin/pip", "install", "-e", "."]),
            manifest.to_owned(),
            "no requirements.txt or lock: pip installs the project itself, editable so that code changes apply \
             without reinstalling"
                .to_owned(),
        )
    } else {
        return Vec::new();
    };
    vec![
        at.step(
            &["python3", "-m", "venv", ".venv"],
            &file,
            "pip installs into the active interpreter: a project-local .venv keeps the host's Python untouched",
        ),
        at.step(&install.iter().map(String::as_str).collect::<Vec<_>>(), &file, &why),
    ]
}

fn owned(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|a| (*a).to_owned()).collect()
}

/// Whether pip can install the project itself: a setup script, a setup.cfg with package
/// metadata, or a pyproject.toml that declares a package; not files that only configure tools
/// (flake8, isort, black, coverage), which requirements files beside them are for.
fn installable_project(at: &Dir<'_>) -> bool {
    let setup_cfg_declares = || {
        read(at.repo, &join(at.dir, "setup.cfg"))
            .is_some_and(|t| t.content.lines().any(|l| matches!(l.trim(), "[metadata]" | "[options]")))
    };
    at.has("setup.py")
        || setup_cfg_declares()
        || read_toml(at.repo, &join(at.dir, "pyproject.toml")).is_some_and(|(_, t)| {
            t.contains_key("project") || t.contains_key("build-system") || {
                t.get("tool").and_then(|tool| tool.get("poetry")).is_some()
            }
        })
}

/// The requirements files the rules could not choose among for `project`'s pip step (the
/// rule's pick first), when that step installs one of them: the Setup model's question.
pub fn open_requirement_files(project: &Project, repo: &RepoView, steps: &[InstallStep]) -> Vec<String> {
    let Some(choice) = super::requirement_files::choose(repo, project) else { return Vec::new() };
    let installs_it = steps.iter().any(|s| s.command.argv.windows(2).any(|w| w[0] == "-r" && w[1] == choice.file));
    if installs_it { choice.open } else { Vec::new() }
}

fn poetry(at: &Dir<'_>) -> InstallStep {
    if at.has("poetry.lock") {
        at.step(
            &["poetry", "install"],
            "poetry.lock",
            "poetry.lock present: poetry install installs the lock (and the project itself, so its scripts exist) into \
             Poetry's virtualenv",
        )
    } else {
        at.step(
            &["poetry", "install"],
            "pyproject.toml",
            "no poetry.lock: poetry install resolves pyproject.toml (and writes the lock)",
        )
    }
}

/// `cargo fetch`, not `cargo build`: downloading needs nothing else, compiling may need the
/// database (sqlx's `query!` macros connect at compile time), so it belongs to the build step
/// after services are up.
fn cargo(at: &Dir<'_>, project: &Project) -> InstallStep {
    let workspace = read_toml(at.repo, &join(at.dir, "Cargo.toml")).is_some_and(|(_, t)| t.contains_key("workspace"));
    let mut reason = if at.has("Cargo.lock") {
        "Cargo.lock present: cargo fetch --locked downloads exactly the locked crates; compiling happens at build"
            .to_owned()
    } else {
        "no Cargo.lock: cargo fetch resolves Cargo.toml and downloads the crates; compiling happens at build".to_owned()
    };
    if workspace {
        reason.push_str(" (the workspace root: this fetches for every member)");
    }
    if project.dependencies.iter().any(|d| d.ecosystem == "rust" && d.name == "sqlx") {
        reason.push_str(
            "; sqlx's query! macros check queries against DATABASE_URL at compile time, so the build must run after \
             the database is up and migrated",
        );
        if !at.repo.files_under(&join(at.dir, ".sqlx")).is_empty() {
            reason.push_str(" (or offline with SQLX_OFFLINE=true: a .sqlx/ query cache is committed)");
        }
    }
    if at.has("Cargo.lock") {
        at.step(&["cargo", "fetch", "--locked"], "Cargo.lock", &reason)
    } else {
        at.step(&["cargo", "fetch"], "Cargo.toml", &reason)
    }
}

/// Plain `bundle install`: deployment mode would write `.bundle/config` into the project,
/// vendor the gems and leave out nothing a dev server needs, so it buys nothing here.
fn bundler(at: &Dir<'_>) -> InstallStep {
    if at.has("Gemfile.lock") {
        at.step(
            &["bundle", "install"],
            "Gemfile.lock",
            "Gemfile.lock present: bundle install installs the locked gems (deployment mode is not used: it would \
             write .bundle/config into the project)",
        )
    } else {
        at.step(
            &["bundle", "install"],
            "Gemfile",
            "no Gemfile.lock: bundle install resolves the Gemfile (and writes the lock)",
        )
    }
}

fn maven(at: &Dir<'_>) -> InstallStep {
    let why =
        "resolves and downloads the dependencies and compiles once (tests skipped); the app starts from the result";
    if at.has("mvnw") {
        at.step(
            &["./mvnw", "-B", "-DskipTests", "package"],
            "mvnw",
            &format!("the Maven wrapper pins Maven's version: {why}"),
        )
    } else {
        at.step(&["mvn", "-B", "-DskipTests", "package"], "pom.xml", &format!("no Maven wrapper: the host's mvn {why}"))
    }
}

fn gradle(at: &Dir<'_>) -> InstallStep {
    let why = "resolves the dependencies and builds once (tests excluded)";
    if at.has("gradlew") {
        at.step(
            &["./gradlew", "build", "-x", "test"],
            "gradlew",
            &format!("the Gradle wrapper pins Gradle's version: {why}"),
        )
    } else {
        let manifest = if at.has("build.gradle.kts") { "build.gradle.kts" } else { "build.gradle" };
        at.step(&["gradle", "build", "-x", "test"], manifest, &format!("no Gradle wrapper: the host's gradle {why}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Dependency;
    use crate::requirements::testing::{repo, with_pm};

    /// `(display, evidence file)` of each step for a project at `dir` using `pm`.
    fn run(files: &[(&str, &str)], dir: &str, pm: PackageManager) -> Vec<(String, String)> {
        let r = repo(files);
        steps(&with_pm(dir, pm), &r.view).into_iter().map(|s| (s.command.display, s.command.evidence.file)).collect()
    }

    fn displays(files: &[(&str, &str)], pm: PackageManager) -> Vec<String> {
        run(files, ".", pm).into_iter().map(|s| s.0).collect()
    }

    const PKG: (&str, &str) = ("package.json", "{\"name\":\"a\"}");

    #[test]
    fn npm() {
        assert_eq!(displays(&[PKG, ("package-lock.json", "{}")], PackageManager::Npm), ["npm ci"]);
        assert_eq!(displays(&[PKG, ("npm-shrinkwrap.json", "{}")], PackageManager::Npm), ["npm ci"]);
        assert_eq!(displays(&[PKG], PackageManager::Npm), ["npm install"]);
    }

    #[test]
    fn yarn_classic_and_berry() {
        let v1 = "# yarn lockfile v1\n\nexpress@^4:\n  version \"4.18.2\"\n";
        assert_eq!(displays(&[PKG, ("yarn.lock", v1)], PackageManager::Yarn), ["yarn install --frozen-lockfile"]);
        let berry = "__metadata:\n  version: 6\n";
        assert_eq!(displays(&[PKG, ("yarn.lock", berry)], PackageManager::Yarn), ["yarn install --immutable"]);
        let rc = [PKG, ("yarn.lock", v1), (".yarnrc.yml", "nodeLinker: node-modules\n")];
        assert_eq!(displays(&rc, PackageManager::Yarn), ["yarn install --immutable"]);
        assert_eq!(displays(&[PKG], PackageManager::Yarn), ["yarn install"]);
    }

    #[test]
    fn pnpm_and_bun() {
        assert_eq!(
            displays(&[PKG, ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n")], PackageManager::Pnpm),
            ["pnpm install --frozen-lockfile"]
        );
        assert_eq!(displays(&[PKG], PackageManager::Pnpm), ["pnpm install"]);
        assert_eq!(displays(&[PKG, ("bun.lockb", "x")], PackageManager::Bun), ["bun install --frozen-lockfile"]);
        assert_eq!(displays(&[PKG, ("bun.lock", "{}")], PackageManager::Bun), ["bun install --frozen-lockfile"]);
        assert_eq!(displays(&[PKG], PackageManager::Bun), ["bun install"]);
    }

    #[test]
    fn one_node_install_per_project() {
        let r = repo(&[PKG, ("package-lock.json", "{}"), ("yarn.lock", "")]);
        let mut p = with_pm(".", PackageManager::Npm);
        p.package_managers.push(crate::plan::Finding { value: PackageManager::Yarn, evidence: vec![] });
        let s = steps(&p, &r.view);
        assert_eq!(s.len(), 1);
        // Both locks present: the table breaks the tie (a yarn.lock is rarely a leftover of npm).
        assert_eq!(s[0].command.display, "yarn install --frozen-lockfile");
    }

    #[test]
    fn the_manager_with_a_lock_wins() {
        let both = |files: &[(&str, &str)], a: PackageManager, b: PackageManager| {
            let r = repo(files);
            let mut p = with_pm(".", a);
            p.package_managers.push(crate::plan::Finding { value: b, evidence: vec![] });
            steps(&p, &r.view).into_iter().map(|s| s.command.display).collect::<Vec<_>>()
        };
        let yarn = [PKG, ("yarn.lock", "# yarn lockfile v1\n")];
        assert_eq!(both(&yarn, PackageManager::Npm, PackageManager::Yarn), ["yarn install --frozen-lockfile"]);
        let poetry = [("pyproject.toml", "[tool.poetry]\n"), ("poetry.lock", "")];
        assert_eq!(both(&poetry, PackageManager::Pip, PackageManager::Poetry), ["poetry install"]);
        // An exported requirements.txt beside a pyproject without lock: pip's list wins.
        let exported = [("pyproject.toml", "[tool.poetry]\n"), ("requirements.txt", "flask\n")];
        assert_eq!(
            both(&exported, PackageManager::Pip, PackageManager::Poetry),
            ["python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt"]
        );
        let none = [("pyproject.toml", "[tool.poetry]\n")];
        assert_eq!(both(&none, PackageManager::Pip, PackageManager::Poetry), ["poetry install"]);
    }

    #[test]
    fn node_workspace_members_install_at_the_root() {
        let files = [
            ("package.json", "{\"private\":true,\"workspaces\":[\"apps/*\"]}"),
            ("package-lock.json", "{}"),
            ("apps/web/package.json", "{\"name\":\"web\"}"),
        ];
        assert!(run(&files, "apps/web", PackageManager::Npm).is_empty());
        let root = run(&files, ".", PackageManager::Npm);
        assert_eq!(root, [("npm ci".to_owned(), "package-lock.json".to_owned())]);
        let r = repo(&files);
        assert!(steps(&with_pm(".", PackageManager::Npm), &r.view)[0].reason.contains("workspace root"));
        let pnpm = [
            ("pnpm-workspace.yaml", "packages: ['apps/*']\n"),
            ("package.json", "{}"),
            ("apps/web/package.json", "{}"),
        ];
        assert!(run(&pnpm, "apps/web", PackageManager::Pnpm).is_empty());
        // A project the workspace does not list installs itself.
        let tools = [("package.json", "{\"workspaces\":{\"packages\":[\"apps/*\"]}}"), ("tools/x/package.json", "{}")];
        assert_eq!(run(&tools, "tools/x", PackageManager::Npm).len(), 1);
        let pnpm_excl = [
            ("pnpm-workspace.yaml", "packages:\n  - 'apps/**'\n  - '!**/fixtures/**'\n"),
            ("apps/a/fixtures/b/package.json", "{}"),
        ];
        assert_eq!(run(&pnpm_excl, "apps/a/fixtures/b", PackageManager::Pnpm).len(), 1);
        // A nested project without a workspace above it installs itself.
        let plain = [("package.json", "{}"), ("web/package.json", "{}")];
        assert_eq!(
            run(&plain, "web", PackageManager::Npm),
            [("npm install".to_owned(), "web/package.json".to_owned())]
        );
    }

    #[test]
    fn workspace_globs() {
        assert!(glob("apps/*", "apps/web"));
        assert!(!glob("apps/*", "apps/web/sub"));
        assert!(glob("packages/**", "packages/a/b"));
        assert!(glob("**", "anything/at/all"));
        assert!(glob("packages/plugin-*", "packages/plugin-auth"));
        assert!(!glob("packages/plugin-*", "packages/core"));
        assert!(glob("**/fixtures/**", "apps/a/fixtures/b"));
        assert!(glob("services/api", "services/api"));
        assert!(!glob("services/api", "services/apis"));
        assert!(is_member(".", "apps/web", &["./apps/*/".to_owned()]));
        assert!(is_member("js", "js/apps/web", &["apps/*".to_owned()]));
        assert!(!is_member(".", "apps/web", &["apps/*".to_owned(), "!apps/web".to_owned()]));
    }

    #[test]
    fn pip_makes_a_venv() {
        let req = [("requirements.txt", "flask==3.0.0\n")];
        assert_eq!(
            displays(&req, PackageManager::Pip),
            ["python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt"]
        );
        let pyproject = [("pyproject.toml", "[project]\nname='a'\n")];
        assert_eq!(displays(&pyproject, PackageManager::Pip), ["python3 -m venv .venv", ".venv/bin/pip install -e ."]);
        assert!(displays(&[("app.py", "")], PackageManager::Pip).is_empty());
    }

    #[test]
    fn pip_without_requirements_txt_installs_the_file_for_running() {
        let cookiecutter = [
            ("manage.py", ""),
            ("requirements/base.txt", "django\n"),
            ("requirements/local.txt", "-r base.txt\nwerkzeug\n"),
            ("requirements/production.txt", "-r base.txt\ngunicorn\n"),
        ];
        assert_eq!(
            run(&cookiecutter, ".", PackageManager::Pip)[1],
            (".venv/bin/pip install -r requirements/local.txt".to_owned(), "requirements/local.txt".to_owned())
        );
        // A pyproject.toml that only configures tools is not a package to install.
        let tools_only =
            [("pyproject.toml", "[tool.black]\nline-length = 100\n"), ("requirements-prod.txt", "flask\n")];
        assert_eq!(displays(&tools_only, PackageManager::Pip)[1], ".venv/bin/pip install -r requirements-prod.txt");
        // Nor is a setup.cfg of flake8 and isort settings (cookiecutter-django's layout).
        let lint_only = [
            ("setup.cfg", "[flake8]\nmax-line-length = 120\n\n[isort]\nline-length = 88\n"),
            ("requirements/base.txt", "django\n"),
            ("requirements/local.txt", "-r base.txt\n"),
        ];
        assert_eq!(displays(&lint_only, PackageManager::Pip)[1], ".venv/bin/pip install -r requirements/local.txt");
        let package = [("pyproject.toml", "[project]\nname='a'\n"), ("requirements-prod.txt", "flask\n")];
        assert_eq!(displays(&package, PackageManager::Pip)[1], ".venv/bin/pip install -e .");
    }

    #[test]
    fn python_managers() {
        let pp = ("pyproject.toml", "[project]\nname='a'\n");
        assert_eq!(displays(&[pp, ("uv.lock", "version = 1\n")], PackageManager::Uv), ["uv sync --frozen"]);
        assert_eq!(displays(&[pp], PackageManager::Uv), ["uv sync"]);
        let uv_ws = [
            ("pyproject.toml", "[tool.uv.workspace]\nmembers = [\"packages/*\"]\n"),
            ("packages/a/pyproject.toml", ""),
        ];
        assert!(run(&uv_ws, "packages/a", PackageManager::Uv).is_empty());
        assert_eq!(run(&uv_ws, ".", PackageManager::Uv).len(), 1);
        assert_eq!(displays(&[pp, ("poetry.lock", "")], PackageManager::Poetry), ["poetry install"]);
        assert_eq!(
            displays(&[("Pipfile", ""), ("Pipfile.lock", "{}")], PackageManager::Pipenv),
            ["pipenv install --deploy"]
        );
        assert_eq!(displays(&[("Pipfile", "")], PackageManager::Pipenv), ["pipenv install"]);
        assert_eq!(displays(&[pp, ("pdm.lock", "")], PackageManager::Pdm), ["pdm install"]);
    }

    #[test]
    fn a_pipfile_lock_for_a_python_older_than_pipenv_supports_is_installed_by_pip() {
        let r = repo(&[("Pipfile", ""), ("Pipfile.lock", "{}")]);
        let planned = || steps(&with_pm(".", PackageManager::Pipenv), &r.view);
        let shown = |pythons: &[&str]| {
            for_python(planned(), pythons).into_iter().map(|s| s.command.display).collect::<Vec<_>>()
        };
        assert_eq!(shown(&["3.11.7", "3.11"]), ["pipenv install --deploy"]);
        assert_eq!(shown(&["3.8.18"]), ["pipenv install --deploy"]);
        assert_eq!(shown(&[">=3.6"]), ["pipenv install --deploy"]);
        assert_eq!(shown(&[]), ["pipenv install --deploy"]);
        // Pinned to 3.7, whether or not this host has it.
        assert_eq!(shown(&["3.7"]), shown(&["3.7.16", "3.7"]));
        assert_eq!(
            shown(&["3.7.16"]),
            ["python3 -m venv .venv", ".venv/bin/pip install --no-deps --require-hashes -r Pipfile.lock"]
        );
        // Without a lock there is nothing pip could install exactly: pipenv resolves.
        let r = repo(&[("Pipfile", "")]);
        let unlocked = for_python(steps(&with_pm(".", PackageManager::Pipenv), &r.view), &["3.7.16"]);
        assert_eq!(unlocked[0].command.display, "pipenv install");
    }

    #[test]
    fn cargo_fetches_and_workspaces_fetch_once() {
        let crate_files = [("Cargo.toml", "[package]\nname='a'\n"), ("Cargo.lock", "version = 3\n")];
        assert_eq!(displays(&crate_files, PackageManager::Cargo), ["cargo fetch --locked"]);
        assert_eq!(displays(&crate_files[..1], PackageManager::Cargo), ["cargo fetch"]);
        let ws = [("Cargo.toml", "[workspace]\nmembers = ['api']\n"), ("api/Cargo.toml", "[package]\nname='api'\n")];
        assert!(run(&ws, "api", PackageManager::Cargo).is_empty());
        assert_eq!(run(&ws, ".", PackageManager::Cargo).len(), 1);
        let excluded = [
            ("Cargo.toml", "[workspace]\nmembers = ['crates/*']\nexclude = ['crates/old']\n"),
            ("crates/old/Cargo.toml", ""),
        ];
        assert_eq!(run(&excluded, "crates/old", PackageManager::Cargo).len(), 1);
        assert!(run(&excluded[..1], "crates/new", PackageManager::Cargo).is_empty());
    }

    #[test]
    fn sqlx_build_waits_for_the_database() {
        let r = repo(&[("Cargo.toml", "[package]\nname='a'\n[dependencies]\nsqlx = '0.7'\n")]);
        let mut p = with_pm(".", PackageManager::Cargo);
        let reason = |p: &Project| steps(p, &r.view)[0].reason.clone();
        assert!(!reason(&p).contains("sqlx"));
        p.dependencies.push(Dependency {
            ecosystem: "rust",
            name: "sqlx".into(),
            version: Some("0.7".into()),
            dev: false,
            evidence: Evidence::new("Cargo.toml", Some(4), "rust.dependency"),
        });
        assert!(reason(&p).contains("after the database is up"));
    }

    #[test]
    fn go_ruby_php() {
        assert_eq!(
            run(&[("go.mod", "module x\n"), ("go.sum", "")], ".", PackageManager::GoModules),
            [("go mod download".to_owned(), "go.sum".to_owned())]
        );
        assert_eq!(displays(&[("Gemfile", ""), ("Gemfile.lock", "")], PackageManager::Bundler), ["bundle install"]);
        assert_eq!(
            displays(&[("composer.json", "{}")], PackageManager::Composer),
            ["composer install --no-interaction"]
        );
    }

    #[test]
    fn maven_and_gradle_prefer_wrappers() {
        assert_eq!(
            displays(&[("pom.xml", "<project/>"), ("mvnw", "")], PackageManager::Maven),
            ["./mvnw -B -DskipTests package"]
        );
        assert_eq!(displays(&[("pom.xml", "<project/>")], PackageManager::Maven), ["mvn -B -DskipTests package"]);
        assert_eq!(
            displays(&[("build.gradle", ""), ("gradlew", "")], PackageManager::Gradle),
            ["./gradlew build -x test"]
        );
        assert_eq!(displays(&[("build.gradle.kts", "")], PackageManager::Gradle), ["gradle build -x test"]);
        let multi =
            [("pom.xml", "<project><modules><module>api</module></modules></project>"), ("api/pom.xml", "<project/>")];
        assert!(run(&multi, "api", PackageManager::Maven).is_empty());
        let gradle = [("settings.gradle", "include 'app'"), ("build.gradle", ""), ("app/build.gradle", "")];
        assert!(run(&gradle, "app", PackageManager::Gradle).is_empty());
    }

    #[test]
    fn every_step_says_why() {
        let r = repo(&[PKG, ("package-lock.json", "{}"), ("requirements.txt", "")]);
        let mut p = with_pm(".", PackageManager::Npm);
        p.package_managers.push(crate::plan::Finding { value: PackageManager::Pip, evidence: vec![] });
        let s = steps(&p, &r.view);
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|s| !s.reason.is_empty() && s.command.evidence.rule.starts_with("requirements.install.")));
    }
}
