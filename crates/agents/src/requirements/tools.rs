//! Package managers an install step needs and the host lacks: pipenv, Poetry, PDM and uv are
//! Python packages, so `up` can provide them itself, each in a virtualenv of its own under
//! repo-run's cache (what `pipx` does), made by the host's `python3` and filled by its pip from
//! the user's package index. Only the program is put on the project's `PATH`, never the
//! virtualenv's `python`.
//!
//! Yarn is provided through what the host already has, needing no network of its own: corepack's
//! shim when the project's `packageManager` asks for Yarn 2 or later (corepack fetches that
//! version from the npm registry on first use), else Debian's `yarnpkg` (Yarn 1) linked as
//! `yarn`, else corepack for Yarn 1 too. The same tool directory and link serve both kinds, so
//! `yarn start` and `yarn run migrate` find it as the install did.

use std::collections::BTreeMap;
use std::path::Path;

use crate::detection::command;
use crate::plan::{Evidence, InstallStep, ProvidedTool};

use super::host::Host;

/// The Python package managers that can be provided, by program name (the same as the
/// package's).
const PROVIDABLE: &[&str] = &["pipenv", "poetry", "pdm", "uv"];

/// The tools the steps need and the host lacks, once each, in step order. `package_manager` is
/// the project's `package.json` `packageManager` field (`yarn@4.1.0+sha512…`), if any.
pub fn to_provide(install: &[InstallStep], host: &Host, package_manager: Option<&str>) -> Vec<ProvidedTool> {
    let mut out: Vec<ProvidedTool> = Vec::new();
    let Some(tools_dir) = host.tools_dir() else { return out };
    for step in install {
        let Some(tool) = step.command.argv.first() else { continue };
        if host.has_program(tool) || out.iter().any(|t| &t.tool == tool) {
            continue;
        }
        if PROVIDABLE.contains(&tool.as_str()) {
            out.push(provided(tool, &tools_dir, &step.command.evidence));
        } else if tool == "yarn" {
            out.extend(yarn(host, &tools_dir, &step.command.evidence, package_manager));
        }
    }
    out
}

/// What pip installs for `tool`: PDM with the dependency versions its release was tested with
/// (its `locked` extra: pdm 2.29.4 with the newest hishel fails on start), the others as
/// published.
fn requirement(tool: &str) -> String {
    match tool {
        "pdm" => "pdm[locked]".to_owned(),
        _ => tool.to_owned(),
    }
}

/// How `tool` is provided in `tools_dir`, for a step (or a fix) `needed_by` names: a
/// virtualenv of its own, filled by pip from the user's package index.
pub(crate) fn provided(tool: &str, tools_dir: &Path, needed_by: &Evidence) -> ProvidedTool {
    let into = tools_dir.join(tool).display().to_string();
    let pip = format!("{into}/bin/pip");
    let evidence = Evidence::new(&needed_by.file, None, format!("requirements.provide.{tool}"));
    ProvidedTool {
        tool: tool.to_owned(),
        needed_by: needed_by.clone(),
        commands: vec![
            command(&["python3", "-m", "venv", &into], evidence.clone()),
            command(&[&pip, "install", "--disable-pip-version-check", &requirement(tool)], evidence),
        ],
        downloads: format!(
            "{tool} and its dependencies from the Python package index (PyPI, or PIP_INDEX_URL / pip.conf), into {into}"
        ),
        into,
        env: BTreeMap::new(),
    }
}

/// Where Debian installs the modules its `yarnpkg` requires.
const DEBIAN_NODE_MODULES: &str = "/usr/share/nodejs:/usr/lib/nodejs";

/// The Yarn major version a `packageManager` field (`yarn@4.1.0+sha512.…`) asks for.
fn yarn_major(package_manager: Option<&str>) -> Option<u64> {
    let version = package_manager?.strip_prefix("yarn@")?;
    version.split(['.', '+', '-']).next()?.parse().ok()
}

/// Yarn for a host without `yarn` on `PATH`: into `<tools>/yarn/bin/yarn`, through corepack
/// or Debian's `yarnpkg`; `None` when the host has neither (the tool check then says so).
fn yarn(host: &Host, tools_dir: &Path, needed_by: &Evidence, package_manager: Option<&str>) -> Option<ProvidedTool> {
    let into = tools_dir.join("yarn").display().to_string();
    let bin = format!("{into}/bin");
    let evidence = Evidence::new(&needed_by.file, None, "requirements.provide.yarn");
    let berry = yarn_major(package_manager).is_some_and(|major| major >= 2);
    let corepack = host.program_path("corepack");
    let yarnpkg = host.program_path("yarnpkg");
    let mut env = BTreeMap::new();
    let (commands, downloads) = match (berry, &corepack, &yarnpkg) {
        (false, _, Some(yarnpkg)) => {
            let target = yarnpkg.display().to_string();
            // Debian's node looks in these for global modules; NodeSource's or nvm's does not.
            env.insert("NODE_PATH".to_owned(), DEBIAN_NODE_MODULES.to_owned());
            (
                vec![
                    command(&["mkdir", "-p", &bin], evidence.clone()),
                    command(&["ln", "-sfn", &target, &format!("{bin}/yarn")], evidence),
                ],
                format!(
                    "nothing: Debian's yarnpkg (Yarn 1, {target}) is linked as yarn in {bin}, its modules found \
                     through NODE_PATH={DEBIAN_NODE_MODULES}"
                ),
            )
        }
        (_, Some(corepack), _) => {
            let wanted = package_manager.filter(|_| berry).unwrap_or("Yarn 1 (corepack's default)");
            (
                vec![command(
                    &[&corepack.display().to_string(), "enable", "--install-directory", &bin, "yarn"],
                    evidence,
                )],
                format!(
                    "{wanted} from the npm registry (COREPACK_NPM_REGISTRY, else registry.npmjs.org) through corepack \
                     on first use; its shim goes into {bin}"
                ),
            )
        }
        _ => return None,
    };
    Some(ProvidedTool { tool: "yarn".into(), needed_by: needed_by.clone(), into, commands, downloads, env })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Command;

    fn step(argv: &[&str], file: &str) -> InstallStep {
        InstallStep { command: command(argv, Evidence::new(file, None, "test")), reason: String::new() }
    }

    #[test]
    fn a_missing_package_manager_is_provided_once() {
        let steps = [step(&["pipenv", "install", "--deploy"], "Pipfile.lock"), step(&["pipenv", "install"], "Pipfile")];
        let provided = to_provide(&steps, &Host::default(), None);
        assert_eq!(provided.len(), 1);
        let pipenv = &provided[0];
        assert_eq!((pipenv.tool.as_str(), pipenv.into.as_str()), ("pipenv", "/cache/repo-run/tools/pipenv"));
        assert_eq!(pipenv.needed_by.file, "Pipfile.lock");
        let shown: Vec<&str> = pipenv.commands.iter().map(|c: &Command| c.display.as_str()).collect();
        assert_eq!(
            shown,
            [
                "python3 -m venv /cache/repo-run/tools/pipenv",
                "/cache/repo-run/tools/pipenv/bin/pip install --disable-pip-version-check pipenv"
            ]
        );
        assert!(pipenv.downloads.starts_with("pipenv and its dependencies from the Python package index"));
    }

    #[test]
    fn what_the_host_has_or_cannot_be_provided_is_not() {
        let steps = [step(&["poetry", "install"], "poetry.lock"), step(&["npm", "ci"], "package-lock.json")];
        assert!(to_provide(&steps, &Host::default().with_programs(&["poetry"]), None).is_empty());
        let provided = to_provide(&steps, &Host::default(), None);
        assert_eq!(provided.iter().map(|t| t.tool.as_str()).collect::<Vec<_>>(), ["poetry"]);
    }

    #[test]
    fn pdm_is_installed_with_the_versions_its_release_was_tested_with() {
        let steps = [step(&["pdm", "install"], "pdm.lock")];
        let pdm = &to_provide(&steps, &Host::default(), None)[0];
        assert_eq!(pdm.commands[1].argv.last().map(String::as_str), Some("pdm[locked]"));
    }

    fn yarn_route(host: Host, package_manager: Option<&str>) -> Vec<String> {
        let steps = [step(&["yarn", "install", "--frozen-lockfile"], "yarn.lock")];
        to_provide(&steps, &host, package_manager)
            .iter()
            .flat_map(|t| t.commands.iter().map(|c| c.display.clone()))
            .collect()
    }

    #[test]
    fn yarn_comes_from_what_the_host_has() {
        let both = || Host::default().with_programs(&["corepack", "yarnpkg"]);
        // yarn on PATH: nothing to provide.
        assert!(yarn_route(both().with_programs(&["yarn"]), None).is_empty());
        // Yarn 1 (no packageManager, or yarn@1): Debian's yarnpkg, no network.
        let linked =
            ["mkdir -p /cache/repo-run/tools/yarn/bin", "ln -sfn /usr/bin/yarnpkg /cache/repo-run/tools/yarn/bin/yarn"];
        assert_eq!(yarn_route(both(), None), linked);
        assert_eq!(yarn_route(both(), Some("yarn@1.22.19")), linked);
        // Berry: only corepack can run it.
        let corepack = ["/usr/bin/corepack enable --install-directory /cache/repo-run/tools/yarn/bin yarn"];
        assert_eq!(yarn_route(both(), Some("yarn@4.1.0+sha512.abc")), corepack);
        // No yarnpkg: corepack for Yarn 1 too; neither: nothing (the tool check names yarn).
        assert_eq!(yarn_route(Host::default().with_programs(&["corepack"]), None), corepack);
        assert!(yarn_route(Host::default().with_programs(&["yarnpkg"]), Some("yarn@3.6.0")).is_empty());
        assert!(yarn_route(Host::default(), None).is_empty());
        let steps = [step(&["yarn", "install"], "package.json")];
        let yarn = &to_provide(&steps, &both(), None)[0];
        assert!(yarn.downloads.starts_with("nothing: Debian's yarnpkg (Yarn 1"), "{}", yarn.downloads);
        assert_eq!(yarn.env.get("NODE_PATH").map(String::as_str), Some("/usr/share/nodejs:/usr/lib/nodejs"));
        let berry = &to_provide(&steps, &both(), Some("yarn@4.1.0"))[0];
        assert!(berry.downloads.starts_with("yarn@4.1.0 from the npm registry"), "{}", berry.downloads);
        assert!(berry.downloads.contains("through corepack on first use"), "{}", berry.downloads);
        assert!(berry.env.is_empty());
    }
}
