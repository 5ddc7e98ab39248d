//! Which runtimes a project needs, and whether the host satisfies every constraint on each.
//!
//! A runtime gets one [`RuntimeRequirement`]: the constraint that decides it (the first one
//! the host fails, else the nearest one), so the plan names the file to change. Version
//! managers come first: a `rust-toolchain.toml` is decided by `rustup toolchain list`, a
//! `.python-version` by `pyenv versions`, because that is what runs in the project directory.

use crate::plan::{Language, PackageManager, Project, Runtime, RuntimeRequirement, RuntimeStatus};
use crate::repo::RepoView;

use super::compare::{Match, matches, release};
use super::host::Host;
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

fn decide(runtime: Runtime, constraints: &[Constraint], host: &Host) -> RuntimeRequirement {
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
            Managed::NotInstalled { note, fatal: true } => {
                return requirement_of(runtime, &constraints[i], installed, RuntimeStatus::Mismatch, vec![note]);
            }
            Managed::NotInstalled { note, fatal: false } => notes.push(note),
        }
    }
    let Some(first) = constraints.first() else {
        let status = if installed.is_some() { RuntimeStatus::Ok } else { RuntimeStatus::Missing };
        return RuntimeRequirement { runtime, required: None, evidence: None, installed, status, message: None };
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
    }
}

enum Managed {
    /// The manager provides a version for the pin: the project runs with it.
    Selected { version: String, note: String },
    /// The manager lacks the pinned version; `fatal` when nothing else will run instead
    /// (rustup refuses to run a toolchain that is not installed).
    NotInstalled { note: String, fatal: bool },
}

/// What rustup or pyenv make of the first pin they read, when the host has them.
fn manager_verdict(
    runtime: Runtime,
    constraints: &[Constraint],
    host: &Host,
    installed: Option<&str>,
) -> Option<(usize, Managed)> {
    let rule = match runtime {
        Runtime::Rust => "rust.version.toolchain-file",
        Runtime::Python => "python.version.python-version",
        _ => return None,
    };
    let (i, pin) = constraints.iter().enumerate().find(|(_, c)| c.evidence.rule == rule)?;
    let toolchains = host.managed(runtime)?;
    let file = &pin.evidence.file;
    let verdict = if runtime == Runtime::Rust {
        match toolchains.iter().find(|t| rustup_has(t, &pin.text)) {
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
                fatal: true,
            },
        }
    } else {
        match pyenv_selects(&toolchains, &pin.text) {
            Some(v) => Managed::Selected { version: v.clone(), note: format!("pyenv selects {v} here ({file})") },
            None => Managed::NotInstalled {
                note: format!(
                    "{file} names {}, which pyenv has not installed (installed: {}): pyenv falls back to another \
                     interpreter",
                    pin.text,
                    toolchains.join(", ")
                ),
                fatal: false,
            },
        }
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

/// The pyenv version a `.python-version` entry selects: the exact name, or for a prefix
/// (`3.11`) the newest installed `3.11.x`, as pyenv 2.3+ resolves it.
fn pyenv_selects(installed: &[String], wanted: &str) -> Option<String> {
    if installed.iter().any(|v| v == wanted) {
        return Some(wanted.to_owned());
    }
    let prefix = format!("{wanted}.");
    installed
        .iter()
        .filter(|v| v.starts_with(&prefix) && v[prefix.len()..].chars().all(|c| c.is_ascii_digit() || c == '.'))
        .max_by(|a, b| release(a).cmp(&release(b)))
        .cloned()
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

    #[test]
    fn pyenv_selects_the_pinned_interpreter() {
        let versions = ["3.10.13", "3.11.7", "3.12.1"];
        let host = Host::with_versions(&[(Runtime::Python, "3.11.7")]).with_managed(Runtime::Python, &versions);
        let pin = |t: &str| [c(Runtime::Python, t, true, ".python-version", "python.version.python-version")];
        let r = decide(Runtime::Python, &pin("3.12"), &host);
        assert_eq!((r.status, r.installed.as_deref()), (RuntimeStatus::Ok, Some("3.12.1")));
        assert!(r.message.unwrap().contains("pyenv selects 3.12.1"));
        let r = decide(Runtime::Python, &pin("3.10.4"), &host);
        assert_eq!(r.status, RuntimeStatus::Mismatch);
        assert!(r.message.unwrap().contains("pyenv has not installed"));
        // Without pyenv the interpreter on PATH decides.
        let plain = Host::with_versions(&[(Runtime::Python, "3.11.7")]);
        assert_eq!(decide(Runtime::Python, &pin("3.12"), &plain).status, RuntimeStatus::Mismatch);
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
