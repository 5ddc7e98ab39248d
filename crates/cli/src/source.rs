//! Turning the `PATH|GIT-URL` argument into a directory: a path is used as it is; a git URL is
//! cloned (or fetched, when a clone is already cached) with git2.

use std::path::{Path, PathBuf};

use anyhow::Context;
use repo_run_agents::document::{GitSource, Source};
use sha2::{Digest, Sha256};

use crate::error::hinted;

pub struct Resolved {
    pub dir: PathBuf,
    pub source: Source,
}

/// Whether the argument is a git URL rather than a local path.
pub fn is_git_url(arg: &str) -> bool {
    ["https://", "http://", "ssh://", "git://", "file://"].iter().any(|p| arg.starts_with(p))
        || (arg.starts_with("git@") && arg.contains(':'))
}

pub fn resolve(arg: &str, cache_dir: Option<&Path>) -> anyhow::Result<Resolved> {
    if !is_git_url(arg) {
        let dir = PathBuf::from(arg);
        if !dir.exists() {
            return Err(hinted(
                format!("{arg}: no such directory"),
                "give a project directory or a git URL (https://…, ssh://…, git@host:org/repo, file://…)",
            ));
        }
        if !dir.is_dir() {
            return Err(hinted(format!("{arg}: not a directory"), "give the project's directory, not a file in it"));
        }
        let abs = std::fs::canonicalize(&dir).with_context(|| format!("{arg}: cannot resolve path"))?;
        return Ok(Resolved { source: Source { path: abs.display().to_string(), git: None }, dir: abs });
    }
    let base = match cache_dir {
        Some(d) => d.to_owned(),
        None => dirs::cache_dir()
            .ok_or_else(|| hinted("no cache directory on this system", "set REPO_RUN_CACHE_DIR or pass --cache-dir"))?
            .join("repo-run"),
    };
    let dir = base.join("clones").join(clone_dir_name(arg));
    let commit = clone_or_fetch(arg, &dir)?;
    Ok(Resolved {
        source: Source { path: dir.display().to_string(), git: Some(GitSource { url: arg.to_owned(), commit }) },
        dir,
    })
}

/// `<repo name>-<hash of the URL>`: readable, and two URLs never share a directory.
fn clone_dir_name(url: &str) -> String {
    let name = url.trim_end_matches('/').trim_end_matches(".git").rsplit(['/', ':']).next().unwrap_or("repo");
    let name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    let hash = Sha256::digest(url.as_bytes());
    let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{short}")
}

fn clone_or_fetch(url: &str, dir: &Path) -> anyhow::Result<String> {
    let repo = if dir.join(".git").exists() {
        let repo =
            git2::Repository::open(dir).with_context(|| format!("{}: cached clone is unreadable", dir.display()))?;
        {
            let mut remote = repo.find_remote("origin").context("cached clone has no `origin` remote")?;
            remote.fetch(&["HEAD"], None, None).map_err(|e| git_error(url, e))?;
            let fetched = repo.find_reference("FETCH_HEAD")?.peel_to_commit()?;
            repo.reset(fetched.as_object(), git2::ResetType::Hard, None)?;
        }
        repo
    } else {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create clone directory", dir.display()))?;
        match git2::build::RepoBuilder::new().clone(url, dir) {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(dir); // a failed clone leaves nothing half-made
                return Err(git_error(url, e));
            }
        }
    };
    let head = repo.head()?.peel_to_commit()?;
    Ok(head.id().to_string())
}

fn git_error(url: &str, e: git2::Error) -> anyhow::Error {
    hinted(
        format!("cannot clone {url}: {}", e.message()),
        "check the URL and your access to it; for a private repository clone it yourself and pass the directory",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(is_git_url("https://github.com/o/r.git"));
        assert!(is_git_url("git@github.com:o/r.git"));
        assert!(is_git_url("file:///tmp/r.git"));
        assert!(!is_git_url("./some/dir"));
        assert!(!is_git_url("/abs/dir"));
    }

    #[test]
    fn clone_dirs_are_distinct_and_readable() {
        let a = clone_dir_name("https://example.com/org/app.git");
        let b = clone_dir_name("https://example.com/other/app.git");
        assert!(a.starts_with("app-") && b.starts_with("app-"));
        assert_ne!(a, b);
    }
}
