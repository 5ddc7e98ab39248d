//! The Detection agent: rules only, no model. It finds the projects in a repository, then asks
//! every provider (one file per ecosystem under `providers/`) what it sees in each project, and
//! scans source files with tree-sitter for the environment variables and ports the code reads.
//!
//! Unlike build-plan tools that stop at the first matching provider, every provider contributes
//! to every project: a Django app with a `package.json` for its assets is both.

pub mod choose_start;
pub mod code;
mod findings;
pub mod health_routes;
pub mod manifest;
mod projects;
pub mod providers;
pub mod start_candidates;
#[cfg(test)]
pub mod testing;

use rayon::prelude::*;

pub use findings::{Findings, ProjectContext, command, language_of_extension, priority, shell_command};

use crate::plan::{Detection, ProjectRole, WalkStats, Warning};
use crate::repo::RepoView;

/// One ecosystem's detection rules. Implementations live one per file in `providers/` and are
/// listed, in order, in [`providers::ALL`].
pub trait Provider: Sync {
    /// Stable id, used as the prefix of rule ids (`node.framework.express`).
    fn id(&self) -> &'static str;
    /// Add what this provider sees in one project to `out`. Bad input becomes a warning on
    /// the repository view, never a panic or an error.
    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings);
}

/// Run detection over a repository.
pub fn detect(repo: &RepoView) -> Detection {
    let dirs = projects::find_project_dirs(repo);
    let mut projects: Vec<_> = dirs
        .par_iter()
        .map(|dir| {
            let cx = ProjectContext::new(repo, dir, &dirs);
            let mut out = Findings::default();
            // Code first, so providers can tell whether the code names a port before they add
            // a framework's default one.
            let parsed = code::scan(&cx, &mut out);
            for provider in providers::ALL {
                provider.detect(&cx, &mut out);
            }
            let mut project = out.finish(&cx);
            // No rule found a start command: collect what the documentation offers, for the
            // Detection model to choose from (`up` asks; `--no-model` reports them).
            if project.start.is_none() && project.role != ProjectRole::WorkspaceRoot {
                project.start_candidates = start_candidates::find(&cx, &project.dependencies);
            }
            (project, parsed)
        })
        .collect();
    projects.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let parsed = projects.iter().map(|p| p.1).sum();
    let mut warnings = repo.warnings();
    if !projects::has_manifest(repo) {
        warnings.push(Warning {
            file: ".".into(),
            line: None,
            message: "no manifest found (package.json, pyproject.toml, Cargo.toml, go.mod, …): \
                      languages are guessed from file extensions and there is no start command"
                .into(),
        });
    }
    warnings.sort();
    let stats = WalkStats {
        files: repo.files().len() as u64,
        parsed,
        skipped_large: repo.files().iter().filter(|f| f.size > repo.limits().max_read).count() as u64,
    };
    Detection { projects: projects.into_iter().map(|p| p.0).collect(), warnings, stats }
}
