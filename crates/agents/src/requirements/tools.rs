//! Package managers an install step needs and the host lacks: pipenv, Poetry, PDM and uv are
//! Python packages, so `up` can provide them itself, each in a virtualenv of its own under
//! repo-run's cache (what `pipx` does), made by the host's `python3` and filled by its pip from
//! the user's package index. Only the program is put on the project's `PATH`, never the
//! virtualenv's `python`.

use crate::detection::command;
use crate::plan::{Evidence, InstallStep, ProvidedTool};

use super::host::Host;

/// The package managers that can be provided, by program name (the same as the package's).
const PROVIDABLE: &[&str] = &["pipenv", "poetry", "pdm", "uv"];

/// The tools the steps need and the host lacks, once each, in step order.
pub fn to_provide(install: &[InstallStep], host: &Host) -> Vec<ProvidedTool> {
    let mut out: Vec<ProvidedTool> = Vec::new();
    let Some(tools_dir) = host.tools_dir() else { return out };
    for step in install {
        let Some(tool) = step.command.argv.first().filter(|p| PROVIDABLE.contains(&p.as_str())) else { continue };
        if host.has_program(tool) || out.iter().any(|t| &t.tool == tool) {
            continue;
        }
        out.push(provided(tool, &tools_dir, &step.command.evidence));
    }
    out
}

/// How `tool` is provided in `tools_dir`, for a step (or a fix) `needed_by` names: a
/// virtualenv of its own, filled by pip from the user's package index.
pub(crate) fn provided(tool: &str, tools_dir: &std::path::Path, needed_by: &Evidence) -> ProvidedTool {
    let into = tools_dir.join(tool).display().to_string();
    let pip = format!("{into}/bin/pip");
    let evidence = Evidence::new(&needed_by.file, None, format!("requirements.provide.{tool}"));
    ProvidedTool {
        tool: tool.to_owned(),
        needed_by: needed_by.clone(),
        commands: vec![
            command(&["python3", "-m", "venv", &into], evidence.clone()),
            command(&[&pip, "install", "--disable-pip-version-check", tool], evidence),
        ],
        downloads: format!(
            "{tool} and its dependencies from the Python package index (PyPI, or PIP_INDEX_URL / pip.conf), into {into}"
        ),
        into,
    }
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
        let provided = to_provide(&steps, &Host::default());
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
        assert!(to_provide(&steps, &Host::default().with_programs(&["poetry"])).is_empty());
        let provided = to_provide(&steps, &Host::default());
        assert_eq!(provided.iter().map(|t| t.tool.as_str()).collect::<Vec<_>>(), ["poetry"]);
    }
}
