//! Which runtimes a project needs, and whether the host satisfies every constraint on each.
//!
//! A runtime gets one [`RuntimeRequirement`]: the constraint that decides it (the first one
//! the host fails, else the nearest one), so the plan names the file to change. The runtime
//! that runs by default is judged first (for a `rust-toolchain.toml`, the toolchain rustup runs
//! in the project directory); when it fails, another installed interpreter or toolchain that
//! fits is chosen (`selected`), and only when none does is the runtime a mismatch.

use crate::plan::{Language, PackageManager, Project, Runtime, RuntimeRequirement, RuntimeStatus, SelectedRuntime};
use crate::repo::RepoView;

use super::choice::Choice;
use super::compare::{Match, matches, release};
use super::host::{Host, Toolchain};
use super::versions::{Constraint, constraints};

/// Runtimes a project needs: from its package managers, else from its languages.
pub fn needed(project: &Project) -> Vec<Runtime> {
    let mut out: Vec<Runtime> = project.package_managers.iter().map(|pm| runtime_of_pm(pm.value)).collect();
    if out.is_empty() {
        out = project
            .languages
            .iter()
            .filter(|l| l.files > 0 || !l.evidence.is_empty())
            .filter_map(|l| runtime_of_language(l.language))
            .collect();
    }
    out.sort();
    out.dedup();
    out
}

fn runtime_of_pm(pm: PackageManager) -> Runtime {
    use PackageManager::*;
    match pm {
        Npm | Yarn | Pnpm => Runtime::Node,
        Bun => Runtime::Bun,
        Pip | Poetry | Uv | Pipenv | Pdm => Runtime::Python,
        Cargo => Runtime::Rust,
        GoModules => Runtime::Go,
        Bundler => Runtime::Ruby,
        Maven | Gradle => Runtime::Java,
        Composer => Runtime::Php,
    }
}

fn runtime_of_language(language: Language) -> Option<Runtime> {
    Some(match language {
        Language::JavaScript | Language::TypeScript => Runtime::Node,
        Language::Python => Runtime::Python,
        Language::Rust => Runtime::Rust,
        Language::Go => Runtime::Go,
        Language::Ruby => Runtime::Ruby,
        Language::Java | Language::Kotlin => Runtime::Java,
        Language::Php => Runtime::Php,
        Language::Shell | Language::Html | Language::Css => return None,
    })
}

/// The requirement on `runtime` for the project in `dir`, checked against the host.
pub fn requirement(repo: &RepoView, dir: &str, runtime: Runtime, host: &Host) -> RuntimeRequirement {
    decide(runtime, &constraints(repo, dir, runtime), host)
}

/// The verdict on the runtime that runs by default; when that fails the project, the installed
/// interpreter or toolchain that satisfies it instead (see [`super::choice`]).
fn decide(runtime: Runtime, constraints: &[Constraint], host: &Host) -> RuntimeRequirement {
    let verdict = judge(runtime, constraints, host);
    let failed = matches!(verdict.status, RuntimeStatus::Mismatch | RuntimeStatus::Missing);
    // rustup will not run another toolchain than the one a toolchain file pins.
    if !failed || rustup_pin_missing(runtime, constraints, host) {
        return verdict;
    }
    match choose(runtime, constraints, host) {
        Some(choice) => chosen(verdict, choice, host.version(runtime).as_deref()),
        None => verdict,
    }
}

/// The requirement once `choice` replaces the default: ok, with what was chosen and why, and
/// what is approximate about it in `message`.
fn chosen(verdict: RuntimeRequirement, choice: Choice, default: Option<&str>) -> RuntimeRequirement {
    let Choice { toolchain, warnings } = choice;
    let version = toolchain.version.clone().unwrap_or_default();
    let selected = (toolchain.manager != super::choice::DEFAULT).then(|| {
        let why = match (default, &verdict.required, &verdict.evidence) {
            (Some(v), Some(req), Some(e)) => {
                format!("{} requires {} {req}, the default is {v}", super::choice::location(e), verdict.runtime)
            }
            (Some(v), _, _) => format!("the default {} {v} does not fit", verdict.runtime),
            (None, _, _) => format!("no {} on PATH", verdict.runtime),
        };
        let place = toolchain.path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default();
        SelectedRuntime {
            version: version.clone(),
            manager: toolchain.manager.to_owned(),
            path: toolchain.path.as_ref().map(|p| p.display().to_string()),
            toolchain: (toolchain.manager == "rustup").then(|| toolchain.name.clone()),
            note: format!("{why}: building with {}'s {}{place}", toolchain.manager, toolchain.name),
        }
    });
    RuntimeRequirement {
        installed: Some(version),
        status: RuntimeStatus::Ok,
        message: (!warnings.is_empty()).then(|| warnings.join("; ")),
        selected,
        ..verdict
    }
}

/// Whether a toolchain file pins a toolchain rustup does not have.
fn rustup_pin_missing(runtime: Runtime, constraints: &[Constraint], host: &Host) -> bool {
    matches!(manager_verdict(runtime, constraints, host, None), Some((_, Managed::NotInstalled { .. })))
}

/// Every installed candidate: the runtime on `PATH`, then the version managers' toolchains.
fn choose(runtime: Runtime, constraints: &[Constraint], host: &Host) -> Option<Choice> {
    let mut candidates: Vec<Toolchain> =
        host.version(runtime).map(super::choice::default_toolchain).into_iter().collect();
    candidates.extend(host.managed(runtime).unwrap_or_default());
    super::choice::best(runtime, constraints, &candidates)
}

/// Today's verdict on the runtime that runs in the project directory by default.
fn judge(runtime: Runtime, constraints: &[Constraint], host: &Host) -> RuntimeRequirement {
    let mut installed = host.version(runtime);
    let mut notes = Vec::new();
    let mut settled = None;
    if let Some((i, verdict)) = manager_verdict(runtime, constraints, host, installed.as_deref()) {
        match verdict {
            Managed::Selected { version, note } => {
                installed = Some(version);
                notes.push(note);
                settled = Some(i);
            }
            Managed::NotInstalled { note, .. } => {
                return requirement_of(runtime, &constraints[i], installed, RuntimeStatus::Mismatch, vec![note]);
            }
        }
    }
    let Some(first) = constraints.first() else {
        let status = if installed.is_some() { RuntimeStatus::Ok } else { RuntimeStatus::Missing };
        return RuntimeRequirement {
            runtime,
            required: None,
            evidence: None,
            installed,
            status,
            message: None,
            selected: None,
        };
    };
    let Some(have) = installed.clone() else {
        return requirement_of(runtime, first, None, RuntimeStatus::Missing, notes);
    };
    let mut ok: Option<&Constraint> = settled.map(|i| &constraints[i]);
    for (i, c) in constraints.iter().enumerate() {
        if Some(i) == settled {
            continue;
        }
        match matches(c, &have) {
            Match::No(note) => {
                notes.extend(note);
                return requirement_of(runtime, c, installed, RuntimeStatus::Mismatch, notes);
            }
            Match::Yes(note) => {
                notes.extend(note);
                ok.get_or_insert(c);
            }
            Match::Unknown => {}
        }
    }
    match ok {
        Some(c) => requirement_of(runtime, c, installed, RuntimeStatus::Ok, notes),
        None => requirement_of(runtime, first, installed, RuntimeStatus::Unknown, notes),
    }
}

fn requirement_of(
    runtime: Runtime,
    c: &Constraint,
    installed: Option<String>,
    status: RuntimeStatus,
    notes: Vec<String>,
) -> RuntimeRequirement {
    RuntimeRequirement {
        runtime,
        required: Some(c.text.clone()),
        evidence: Some(c.evidence.clone()),
        installed,
        status,
        message: (!notes.is_empty()).then(|| notes.join("; ")),
        selected: None,
    }
}

enum Managed {
    /// The manager provides a version for the pin: the project runs with it.
    Selected { version: String, note: String },
    /// The manager lacks the pinned version, and will run nothing else instead (rustup refuses
    /// to run a toolchain that is not installed).
    NotInstalled { note: String },
}

/// What rustup makes of a toolchain file, when the host has rustup. (A `.python-version` is
/// not decided here: the interpreter is chosen among all installed ones and passed explicitly,
/// because pyenv falls back to another interpreter when the pinned one is missing.)
fn manager_verdict(
    runtime: Runtime,
    constraints: &[Constraint],
    host: &Host,
    installed: Option<&str>,
) -> Option<(usize, Managed)> {
    if runtime != Runtime::Rust {
        return None;
    }
    let (i, pin) = constraints.iter().enumerate().find(|(_, c)| c.evidence.rule == "rust.version.toolchain-file")?;
    let toolchains: Vec<String> = host.managed(runtime)?.into_iter().map(|t| t.name).collect();
    let file = &pin.evidence.file;
    let verdict = match toolchains.iter().find(|t| rustup_has(t, &pin.text)) {
        Some(t) => {
            // What runs in the project directory: the pinned release, the default
            // toolchain for `stable` (what rustc on PATH reports), else the toolchain.
            let version = match (release(&pin.text), pin.text.as_str(), installed) {
                (Some(_), _, _) if pin.text.starts_with(|c: char| c.is_ascii_digit()) => pin.text.clone(),
                (_, "stable", Some(v)) if !v.contains('-') => v.to_owned(),
                _ => t.clone(),
            };
            Managed::Selected { version, note: format!("rustup runs toolchain {t} here ({file})") }
        }
        None => Managed::NotInstalled {
            note: format!(
                "{file} pins toolchain `{}`, which rustup has not installed (installed: {}): \
                 `rustup toolchain install {}`",
                pin.text,
                short_toolchains(&toolchains),
                pin.text
            ),
        },
    };
    Some((i, verdict))
}

/// Whether a rustup toolchain name (`1.75.0-x86_64-unknown-linux-gnu`, `nightly-x86_64-…`)
/// provides `channel` (`1.75`, `1.75.0`, `nightly`, `nightly-2024-01-01`, `stable`).
fn rustup_has(toolchain: &str, channel: &str) -> bool {
    let Some(rest) = toolchain.strip_prefix(channel) else { return false };
    if rest.is_empty() {
        return true;
    }
    if let Some(triple) = rest.strip_prefix('-') {
        // `nightly` must not match a dated `nightly-2024-…` toolchain.
        return !triple.starts_with(|c: char| c.is_ascii_digit());
    }
    // `1.75` is provided by `1.75.0-<triple>`.
    rest.strip_prefix('.').is_some_and(|r| {
        let patch: String = r.chars().take_while(char::is_ascii_digit).collect();
        !patch.is_empty() && channel.matches('.').count() == 1 && r[patch.len()..].starts_with('-')
    })
}

fn short_toolchains(toolchains: &[String]) -> String {
    if toolchains.is_empty() {
        return "none".into();
    }
    toolchains
        .iter()
        .map(|t| {
            let parts: Vec<&str> = t.split('-').collect();
            let triple_at =
                parts.iter().position(|p| p.starts_with("x86_64") || p.starts_with("aarch64") || p.starts_with("i686"));
            triple_at.map_or(t.clone(), |i| parts[..i].join("-"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Evidence, Finding, LanguageFinding};
    use crate::requirements::testing::{project, repo, with_pm};

    fn c(runtime: Runtime, text: &str, pin: bool, file: &str, rule: &str) -> Constraint {
        Constraint { runtime, text: text.into(), pin, evidence: Evidence::new(file, Some(1), rule) }
    }

    #[test]
    fn runtimes_from_package_managers() {
        let mut p = with_pm(".", PackageManager::Pnpm);
        p.package_managers.push(Finding { value: PackageManager::Poetry, evidence: vec![] });
        p.package_managers.push(Finding { value: PackageManager::Npm, evidence: vec![] });
        assert_eq!(needed(&p), [Runtime::Node, Runtime::Python]);
        assert_eq!(needed(&with_pm(".", PackageManager::Bun)), [Runtime::Bun]);
        assert_eq!(needed(&with_pm(".", PackageManager::Gradle)), [Runtime::Java]);
        assert_eq!(needed(&with_pm(".", PackageManager::GoModules)), [Runtime::Go]);
    }

    #[test]
    fn runtimes_from_languages_without_a_package_manager() {
        let mut p = project(".");
        for (language, files) in [(Language::Python, 3), (Language::Shell, 2), (Language::Kotlin, 0)] {
            p.languages.push(LanguageFinding { language, files, evidence: vec![] });
        }
        assert_eq!(needed(&p), [Runtime::Python]);
        assert!(needed(&project(".")).is_empty());
    }

    #[test]
    fn no_constraint_is_ok_when_installed() {
        let host = Host::with_versions(&[(Runtime::Go, "1.22.1")]);
        let r = decide(Runtime::Go, &[], &host);
        assert_eq!((r.status, r.required, r.installed.as_deref()), (RuntimeStatus::Ok, None, Some("1.22.1")));
        assert_eq!(decide(Runtime::Ruby, &[], &host).status, RuntimeStatus::Missing);
    }

    #[test]
    fn the_failing_constraint_is_the_one_reported() {
        let cs = [
            c(Runtime::Node, "20", true, ".nvmrc", "node.version.nvmrc"),
            c(Runtime::Node, ">=20.12", false, "package.json", "node.version.engines"),
        ];
        let r = decide(Runtime::Node, &cs, &Host::with_versions(&[(Runtime::Node, "20.11.0")]));
        assert_eq!(r.status, RuntimeStatus::Mismatch);
        assert_eq!(r.evidence.unwrap().file, "package.json");
        let r = decide(Runtime::Node, &cs, &Host::with_versions(&[(Runtime::Node, "20.19.0")]));
        assert_eq!(r.status, RuntimeStatus::Ok);
        assert_eq!(r.evidence.unwrap().file, ".nvmrc");
        let r = decide(Runtime::Node, &cs, &Host::default());
        assert_eq!((r.status, r.required.as_deref()), (RuntimeStatus::Missing, Some("20")));
    }

    #[test]
    fn unknown_only_when_nothing_is_understood() {
        let cs = [c(Runtime::Python, "system", true, ".python-version", "python.version.tool-versions")];
        let host = Host::with_versions(&[(Runtime::Python, "3.11.7")]);
        let r = decide(Runtime::Python, &cs, &host);
        assert_eq!((r.status, r.required.as_deref()), (RuntimeStatus::Unknown, Some("system")));
        let mut more = cs.to_vec();
        more.push(c(Runtime::Python, ">=3.9", false, "pyproject.toml", "python.version.requires-python"));
        assert_eq!(decide(Runtime::Python, &more, &host).status, RuntimeStatus::Ok);
    }

    #[test]
    fn rustup_toolchains_decide_pins() {
        let list =
            ["stable-x86_64-unknown-linux-gnu", "nightly-x86_64-unknown-linux-gnu", "1.95.0-x86_64-unknown-linux-gnu"];
        let host = Host::with_versions(&[(Runtime::Rust, "1.95.0")]).with_managed(Runtime::Rust, &list);
        let pin = |t: &str| [c(Runtime::Rust, t, true, "rust-toolchain.toml", "rust.version.toolchain-file")];
        let r = decide(Runtime::Rust, &pin("nightly"), &host);
        assert_eq!((r.status, r.installed.as_deref()), (RuntimeStatus::Ok, Some("nightly-x86_64-unknown-linux-gnu")));
        let r = decide(Runtime::Rust, &pin("stable"), &host);
        assert_eq!((r.status, r.installed.as_deref()), (RuntimeStatus::Ok, Some("1.95.0")));
        assert_eq!(decide(Runtime::Rust, &pin("1.95"), &host).status, RuntimeStatus::Ok);
        let r = decide(Runtime::Rust, &pin("1.75"), &host);
        assert_eq!(r.status, RuntimeStatus::Mismatch);
        let msg = r.message.unwrap();
        assert!(msg.contains("`1.75`") && msg.contains("stable, nightly, 1.95.0"), "{msg}");
        let r = decide(Runtime::Rust, &pin("nightly-2024-01-01"), &host);
        assert_eq!(r.status, RuntimeStatus::Mismatch);
        // A pinned toolchain also has to meet rust-version.
        let mut cs = pin("1.95").to_vec();
        cs.push(c(Runtime::Rust, "1.96", false, "Cargo.toml", "rust.version.rust-version"));
        assert_eq!(decide(Runtime::Rust, &cs, &host).status, RuntimeStatus::Mismatch);
    }

    #[test]
    fn rustup_names() {
        assert!(rustup_has("stable-x86_64-unknown-linux-gnu", "stable"));
        assert!(rustup_has("1.75.0-x86_64-unknown-linux-gnu", "1.75"));
        assert!(rustup_has("1.75.0-x86_64-unknown-linux-gnu", "1.75.0"));
        assert!(rustup_has("nightly-2024-01-01-x86_64-unknown-linux-gnu", "nightly-2024-01-01"));
        assert!(!rustup_has("nightly-2024-01-01-x86_64-unknown-linux-gnu", "nightly"));
        assert!(!rustup_has("1.75.0-x86_64-unknown-linux-gnu", "1.7"));
        assert!(!rustup_has("1.75.1-x86_64-unknown-linux-gnu", "1.75.0"));
    }

    /// This machine's pyenv: CPython 2.7 to 3.13, 3.11.7 the default.
    fn pyenv_host() -> Host {
        let versions = ["2.7.18", "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"];
        Host::with_versions(&[(Runtime::Python, "3.11.7")]).with_managed(Runtime::Python, &versions)
    }

    fn python_pin(text: &str, file: &str) -> Constraint {
        let rule = if file == "runtime.txt" { "python.version.runtime-txt" } else { "python.version.python-version" };
        c(Runtime::Python, text, true, file, rule)
    }

    /// `(status, installed, selected version, selected path)`.
    fn choice(r: &RuntimeRequirement) -> (RuntimeStatus, Option<&str>, Option<&str>, Option<&str>) {
        let selected = r.selected.as_ref();
        (
            r.status,
            r.installed.as_deref(),
            selected.map(|s| s.version.as_str()),
            selected.and_then(|s| s.path.as_deref()),
        )
    }

    #[test]
    fn an_installed_interpreter_that_fits_is_chosen_over_the_default() {
        let pipfile = [c(Runtime::Python, "3.7", false, "Pipfile", "python.version.pipfile")];
        let r = decide(Runtime::Python, &pipfile, &pyenv_host());
        let path = "/pyenv/versions/3.7.16/bin/python3";
        assert_eq!(choice(&r), (RuntimeStatus::Ok, Some("3.7.16"), Some("3.7.16"), Some(path)));
        assert_eq!(r.message, None, "an exact fit needs no warning");
        let selected = r.selected.unwrap();
        assert_eq!(selected.manager, "pyenv");
        assert!(
            selected.note.contains("Pipfile line 1 requires python 3.7, the default is 3.11.7"),
            "{}",
            selected.note
        );
        // An exact pin, installed.
        let r = decide(Runtime::Python, &[python_pin("3.12.1", ".python-version")], &pyenv_host());
        assert_eq!(
            choice(&r),
            (RuntimeStatus::Ok, Some("3.12.1"), Some("3.12.1"), Some("/pyenv/versions/3.12.1/bin/python3"))
        );
        // The default fits: nothing is selected.
        let r = decide(Runtime::Python, &[python_pin("3.11", ".python-version")], &pyenv_host());
        assert_eq!(choice(&r), (RuntimeStatus::Ok, Some("3.11.7"), None, None));
    }

    #[test]
    fn a_range_the_default_is_outside_of_takes_the_newest_inside() {
        let cs = [c(Runtime::Python, ">=3.6,<3.8", false, "pyproject.toml", "python.version.requires-python")];
        let r = decide(Runtime::Python, &cs, &pyenv_host());
        assert_eq!(choice(&r).2, Some("3.7.16"));
        // Every constraint counts: the version file and the range together allow only 3.6.
        let both = [python_pin("3.6", ".python-version"), cs[0].clone()];
        assert_eq!(choice(&decide(Runtime::Python, &both, &pyenv_host())).2, Some("3.6.15"));
    }

    #[test]
    fn a_patch_pin_takes_the_nearest_installed_patch_with_a_warning() {
        let r = decide(Runtime::Python, &[python_pin("python-3.12.4", "runtime.txt")], &pyenv_host());
        assert_eq!(
            choice(&r),
            (RuntimeStatus::Ok, Some("3.12.1"), Some("3.12.1"), Some("/pyenv/versions/3.12.1/bin/python3"))
        );
        assert!(r.message.as_deref().unwrap().contains("3.12 line"), "{:?}", r.message);
        let r = decide(Runtime::Python, &[python_pin("3.10.4", ".python-version")], &pyenv_host());
        assert_eq!(choice(&r).2, Some("3.10.13"));
        assert!(r.message.is_some());
        // Node's line is its major: `.node-version` 20.19 on a host with only 20.20.2.
        let cs = [c(Runtime::Node, "20.19", true, ".node-version", "node.version.node-version")];
        let r = decide(Runtime::Node, &cs, &Host::with_versions(&[(Runtime::Node, "20.20.2")]));
        assert_eq!(choice(&r), (RuntimeStatus::Ok, Some("20.20.2"), None, None));
        let message = r.message.unwrap();
        assert!(message.contains(".node-version line 1 pins node 20.19") && message.contains("20 line"), "{message}");
    }

    #[test]
    fn a_newer_minor_than_any_installed_goes_on_with_the_newest() {
        let r = decide(Runtime::Python, &[python_pin("3.14", ".python-version")], &pyenv_host());
        assert_eq!(
            choice(&r),
            (RuntimeStatus::Ok, Some("3.13.0"), Some("3.13.0"), Some("/pyenv/versions/3.13.0/bin/python3"))
        );
        let message = r.message.unwrap();
        assert!(message.contains("newer than any installed (newest: 3.13.0)"), "{message}");
        // A newer major is not a nearest version.
        let r = decide(Runtime::Python, &[python_pin("4.0", ".python-version")], &pyenv_host());
        assert_eq!(r.status, RuntimeStatus::Mismatch);
        // Nor is a newer line than the newest for a constraint that is not a version file's pin.
        let cs = [c(Runtime::Python, ">=3.14", false, "pyproject.toml", "python.version.requires-python")];
        assert_eq!(decide(Runtime::Python, &cs, &pyenv_host()).status, RuntimeStatus::Mismatch);
    }

    #[test]
    fn nothing_installed_fits_is_a_mismatch_as_before() {
        let cs = [c(Runtime::Python, "3.5", false, "Pipfile", "python.version.pipfile")];
        let r = decide(Runtime::Python, &cs, &pyenv_host());
        assert_eq!(choice(&r), (RuntimeStatus::Mismatch, Some("3.11.7"), None, None));
        assert_eq!((r.required.as_deref(), r.evidence.unwrap().file.as_str()), (Some("3.5"), "Pipfile"));
        // Without pyenv the interpreter on PATH decides: an older pin than it is a mismatch; a
        // newer one goes on with a warning.
        let plain = Host::with_versions(&[(Runtime::Python, "3.11.7")]);
        let r = decide(Runtime::Python, &[python_pin("3.10", ".python-version")], &plain);
        assert_eq!(r.status, RuntimeStatus::Mismatch);
        let r = decide(Runtime::Python, &[python_pin("3.12", ".python-version")], &plain);
        assert_eq!(choice(&r), (RuntimeStatus::Ok, Some("3.11.7"), None, None));
        assert!(r.message.unwrap().contains("newer than any installed"));
    }

    #[test]
    fn rustup_and_nvm_toolchains_are_chosen_too() {
        let toolchain = |name: &str, version: &str| Toolchain {
            manager: "rustup",
            name: name.into(),
            version: Some(version.into()),
            path: None,
        };
        let host = Host::with_versions(&[(Runtime::Rust, "1.95.0")]).with_toolchains(
            Runtime::Rust,
            vec![
                toolchain("stable-x86_64-unknown-linux-gnu", "1.95.0"),
                toolchain("nightly-x86_64-unknown-linux-gnu", "1.97.0-nightly"),
            ],
        );
        let cs = [c(Runtime::Rust, "1.96", false, "Cargo.toml", "rust.version.rust-version")];
        let r = decide(Runtime::Rust, &cs, &host);
        assert_eq!(choice(&r), (RuntimeStatus::Ok, Some("1.97.0-nightly"), Some("1.97.0-nightly"), None));
        assert_eq!(r.selected.unwrap().toolchain.as_deref(), Some("nightly-x86_64-unknown-linux-gnu"));
        let host =
            Host::with_versions(&[(Runtime::Node, "20.20.2")]).with_managed(Runtime::Node, &["18.20.4", "22.1.0"]);
        let cs = [c(Runtime::Node, ">=22", false, "package.json", "node.version.engines")];
        let r = decide(Runtime::Node, &cs, &host);
        assert_eq!(
            choice(&r),
            (RuntimeStatus::Ok, Some("22.1.0"), Some("22.1.0"), Some("/nvm/versions/node/v22.1.0/bin"))
        );
    }

    #[test]
    fn from_files_end_to_end() {
        let r = repo(&[(".nvmrc", "lts/iron\n"), ("web/package.json", "{\"engines\":{\"node\":\">=18\"}}")]);
        let host = Host::with_versions(&[(Runtime::Node, "20.11.0")]);
        let req = requirement(&r.view, "web", Runtime::Node, &host);
        assert_eq!(req.status, RuntimeStatus::Ok);
        assert_eq!(req.required.as_deref(), Some(">=18"));
        let host = Host::with_versions(&[(Runtime::Node, "22.1.0")]);
        let req = requirement(&r.view, "web", Runtime::Node, &host);
        assert_eq!((req.status, req.evidence.unwrap().file.as_str()), (RuntimeStatus::Mismatch, ".nvmrc"));
    }
}
