//! A pinned Python package with no wheel for this interpreter, whose source build fails
//! (`greenlet==1.1.3` on Python 3.11: "Failed building wheel for greenlet"; `psycopg2-binary
//! ==2.8.6`: "pg_config executable not found"). Fix: the nearest later version that has a wheel
//! for this interpreter, as a constraint in `.repo-run/` (Setup installs from a derived copy of
//! the requirements with the pin replaced; the user's file is untouched).
//!
//! Which versions have wheels is asked of the project's own pip (so the user's index settings
//! apply): `pip install --dry-run --only-binary=:all: NAME==PIN` fails with "from versions: …",
//! the versions that do. Nothing is installed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use pep440_rs::Version;
use regex::Regex;

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;
use crate::fixer::requirements_txt::normalise;

pub struct NoWheelForPin;

/// The package whose build failed, in pip's and uv's words.
static BUILD_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:Failed building wheel for|Could not build wheels for|Failed to build(?: installable wheels for some pyproject.toml based projects)?\s*\(?)\s*`?([A-Za-z0-9][A-Za-z0-9._-]*)",
    )
    .expect("valid pattern")
});

impl Rule for NoWheelForPin {
    fn id(&self) -> &'static str {
        "python.no-wheel-for-pin"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if f.step != StepKind::Install || !matches!(f.program(), "pip" | "pip3" | "uv" | "python" | "python3") {
            return None;
        }
        let package = cx.lines().rev().find_map(|l| BUILD_FAILED.captures(l).map(|c| c[1].to_owned()))?;
        let pin = pinned_version(cx, &package)?;
        let keys = vec![("package", normalise(&package)), ("pin", pin.to_string())];
        let summary = format!("{package}=={pin} has no wheel for this Python and its source build fails");
        let diagnosis = Diagnosis::new(self.id(), keys, summary);
        let pip = cx.project_dir().join(".venv/bin/pip");
        let versions = match wheel_versions(&pip, &package, &pin) {
            Some(v) => v,
            None => {
                return Some(
                    diagnosis.explain(format!("the index lists no version of {package} with a wheel for this Python")),
                );
            }
        };
        // Pre-releases only when the pin was one.
        let nearest = versions.iter().filter(|v| **v > pin && (pin.any_prerelease() || !v.any_prerelease())).min();
        Some(match nearest {
            Some(v) => diagnosis.with(FixAction::ConstrainDependency {
                project: f.project.clone(),
                package: package.clone(),
                constraint: format!("=={v}"),
            }),
            None => diagnosis.explain(format!(
                "no version of {package} after {pin} has a wheel for this Python; an older interpreter may have one"
            )),
        })
    }
}

/// `name==version` in the output ("Collecting greenlet==1.1.3") or the project's requirements.
fn pinned_version(cx: &Context<'_>, package: &str) -> Option<Version> {
    let wanted = normalise(package);
    let from_line = |line: &str| -> Option<Version> {
        let (name, version) = line.split_once("==")?;
        let name = name.trim().rsplit(' ').next()?.split('[').next()?;
        if normalise(name) != wanted {
            return None;
        }
        let version: String =
            version.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '!' || *c == '+').collect();
        version.parse().ok()
    };
    cx.lines()
        .find_map(|l| l.trim().strip_prefix("Collecting ").and_then(from_line))
        .or_else(|| cx.read("requirements.txt")?.lines().find_map(|l| from_line(l.split('#').next().unwrap_or(""))))
}

/// The versions of `package` that have a wheel for the interpreter of `pip`, as pip's own
/// resolver reports them; `None` when pip could not say.
fn wheel_versions(pip: &Path, package: &str, pin: &Version) -> Option<Vec<Version>> {
    let out = Command::new(pip)
        .args(["install", "--dry-run", "--no-deps", "--ignore-installed", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--quiet", &format!("{package}=={pin}")])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if out.status.success() {
        // The pin has a wheel after all: the build failure was something else.
        return Some(Vec::new());
    }
    parse_from_versions(&String::from_utf8_lossy(&out.stderr))
}

/// "(from versions: 2.0.0, 2.0.1)" → the versions; "(from versions: none)" → empty.
fn parse_from_versions(text: &str) -> Option<Vec<Version>> {
    let list = text.split("(from versions: ").nth(1)?.split(')').next()?;
    Some(list.split(',').filter_map(|v| v.trim().parse().ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    const GREENLET: &str = "Collecting greenlet==1.1.3 (from -r requirements.txt (line 2))\n  Downloading \
                            greenlet-1.1.3.tar.gz (91 kB)\nBuilding wheels for collected packages: greenlet\n  \
                            Building wheel for greenlet (setup.py): started\n  Building wheel for greenlet \
                            (setup.py): finished with status 'error'\n  error: subprocess-exited-with-error\n  \
                            src/greenlet/greenlet.c:480:36: error: 'PyThreadState' has no member named \
                            'recursion_depth'\n  ERROR: Failed building wheel for greenlet\nFailed to build \
                            greenlet\nERROR: Could not build wheels for greenlet, which is required to install \
                            pyproject.toml-based projects";

    #[test]
    fn the_failed_package_and_its_pin_are_read_from_pip() {
        let f =
            failure(Stage::Setup, StepKind::Install, &[".venv/bin/pip", "install", "-r", "requirements.txt"], GREENLET);
        let dir = tempfile::tempdir().unwrap();
        let cx = Context::bare(&f, dir.path());
        assert_eq!(pinned_version(&cx, "greenlet"), Some("1.1.3".parse().unwrap()));
        let package = cx.lines().rev().find_map(|l| BUILD_FAILED.captures(l).map(|c| c[1].to_owned()));
        assert_eq!(package.as_deref(), Some("greenlet"));
    }

    #[test]
    fn from_versions_lists_are_parsed() {
        let text = "ERROR: Could not find a version that satisfies the requirement psycopg2-binary==2.8.6 (from \
                    versions: 2.9.5, 2.9.6, 2.9.10)\nERROR: No matching distribution found";
        let v = parse_from_versions(text).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.iter().min().unwrap().to_string(), "2.9.5");
        assert_eq!(parse_from_versions("(from versions: none)"), Some(Vec::new()));
        assert_eq!(parse_from_versions("something else"), None);
    }

    #[test]
    fn unpinned_packages_and_other_tools_are_not_this_rule() {
        let dir = tempfile::tempdir().unwrap();
        let log = "Collecting greenlet\nERROR: Failed building wheel for greenlet";
        let f = failure(Stage::Setup, StepKind::Install, &[".venv/bin/pip", "install", "-r", "requirements.txt"], log);
        assert!(NoWheelForPin.diagnose(&Context::bare(&f, dir.path())).is_none(), "no pin, no nearest version");
        let f = failure(Stage::Setup, StepKind::Install, &["npm", "ci"], GREENLET);
        assert!(NoWheelForPin.diagnose(&Context::bare(&f, dir.path())).is_none());
    }

    /// The real index, through the real pip: psycopg2-binary 2.8.6 has no wheel for the
    /// Python 3.11 here, 2.9.5 is the first that does.
    #[test]
    fn the_nearest_version_with_a_wheel_comes_from_pip() {
        let venv = tempfile::tempdir().unwrap();
        let status = Command::new("python3").args(["-m", "venv"]).arg(venv.path()).status().unwrap();
        assert!(status.success());
        let python = String::from_utf8(
            Command::new(venv.path().join("bin/python"))
                .args(["-c", "import sys; print(sys.version_info[:2])"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let versions =
            wheel_versions(&venv.path().join("bin/pip"), "psycopg2-binary", &"2.8.6".parse().unwrap()).unwrap();
        let nearest = versions.iter().filter(|v| **v > "2.8.6".parse::<Version>().unwrap()).min().unwrap();
        if python.trim() == "(3, 11)" {
            assert_eq!(nearest.to_string(), "2.9.5", "{versions:?}");
        } else {
            assert!(*nearest > "2.8.6".parse::<Version>().unwrap(), "{python}: {versions:?}");
        }
    }
}
