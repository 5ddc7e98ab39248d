//! Choosing the installed interpreter or toolchain a project builds with when the one on `PATH`
//! does not satisfy it: a 2019 app whose Pipfile asks for Python 3.7 builds with pyenv's
//! 3.7.16, not the default 3.11.
//!
//! A candidate must meet every constraint of the project. Version-file pins (`.python-version`,
//! `runtime.txt`, `.nvmrc`, `.node-version`) are also met, with a warning, by the nearest
//! installed version of the same line (Python's minor, Node's major), or, when the pin names a
//! newer version than anything installed of its major, by the newest installed: the install
//! goes on, and what then fails is for a fix. Among candidates the fewest approximations win,
//! then releases over pre-releases and nightlies, then the newest, then the one on `PATH`.

use std::cmp::Reverse;

use crate::plan::{Evidence, Runtime};

use super::compare::{Match, matches, release};
use super::host::Toolchain;
use super::versions::Constraint;

/// The manager name of the runtime on `PATH` (nothing to select: it runs by default).
pub(super) const DEFAULT: &str = "PATH";

/// The candidate chosen and what is approximate about it.
pub(super) struct Choice {
    pub toolchain: Toolchain,
    pub warnings: Vec<String>,
}

/// The runtime on `PATH` as a candidate.
pub(super) fn default_toolchain(version: String) -> Toolchain {
    Toolchain { manager: DEFAULT, name: version.clone(), version: Some(version), path: None }
}

/// The best candidate for the constraints, `None` when none can build the project.
pub(super) fn best(runtime: Runtime, constraints: &[Constraint], candidates: &[Toolchain]) -> Option<Choice> {
    let newest = candidates.iter().filter_map(|t| t.version.as_deref().and_then(release)).max();
    candidates
        .iter()
        .filter_map(|t| {
            let version = t.version.as_deref()?;
            let fit = fit(runtime, constraints, version, newest.as_deref())?;
            let rank = (
                fit.relaxed,
                fit.warnings.len(),
                is_prerelease(version),
                Reverse(release(version)),
                t.manager != DEFAULT,
            );
            Some((rank, Choice { toolchain: t.clone(), warnings: fit.warnings }))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, choice)| choice)
}

/// How well one version fits: how many pins it only comes near, and the warnings to show.
#[derive(Default)]
struct Fit {
    relaxed: usize,
    warnings: Vec<String>,
}

/// Whether `version` can build the project: each constraint holds (or cannot be read), or is
/// a version-file pin it comes nearest to.
fn fit(runtime: Runtime, constraints: &[Constraint], version: &str, newest: Option<&[u64]>) -> Option<Fit> {
    let mut fit = Fit::default();
    for c in constraints {
        match matches(c, version) {
            Match::Yes(note) => fit.warnings.extend(note),
            Match::Unknown => {}
            Match::No(_) => {
                fit.warnings.push(near_pin(runtime, c, version, newest)?);
                fit.relaxed += 1;
            }
        }
    }
    Some(fit)
}

/// The warning when `version` misses the version-file pin `c` but is the nearest installed
/// to it; `None` when it is not near enough.
fn near_pin(runtime: Runtime, c: &Constraint, version: &str, newest: Option<&[u64]>) -> Option<String> {
    let line_len = match runtime {
        Runtime::Python => 2,
        Runtime::Node => 1,
        _ => return None,
    };
    let text =
        c.text.trim().trim_start_matches(['v', 'V']).trim_start_matches("python-").trim_start_matches("cpython-");
    if !c.pin || text.is_empty() || text.contains(|ch: char| !ch.is_ascii_digit() && ch != '.') {
        return None;
    }
    let (want, have) = (release(text)?, release(version)?);
    let from = location(&c.evidence);
    if want.len() >= line_len && have.len() >= line_len && want[..line_len] == have[..line_len] {
        let line = join(&want[..line_len]);
        return Some(format!(
            "{from} pins {runtime} {}, which is not installed: using {version}, the nearest installed of the {line} line",
            c.text
        ));
    }
    let newest = newest?;
    let newer_than_all = want.first() == newest.first() && want.as_slice() > &newest[..want.len().min(newest.len())];
    let install = match runtime {
        Runtime::Python => format!("`pyenv install {text}` or `uv python install {text}`"),
        _ => format!("`nvm install {text}` or `fnm install {text}`"),
    };
    (have == newest && newer_than_all).then(|| {
        format!(
            "{from} names {runtime} {}, newer than any installed (newest: {version}): going on with {version}; if the \
             install fails, {install}",
            c.text
        )
    })
}

/// `Pipfile line 5`, `.python-version`.
pub(super) fn location(e: &Evidence) -> String {
    match e.line {
        Some(line) => format!("{} line {line}", e.file),
        None => e.file.clone(),
    }
}

/// `3.13.0rc1`, `1.97.0-nightly`, `1.96.0-beta.2`: anything after the numbers.
fn is_prerelease(version: &str) -> bool {
    version.trim_start_matches(['v', 'V']).contains(|c: char| !c.is_ascii_digit() && c != '.')
}

fn join(release: &[u64]) -> String {
    release.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}
