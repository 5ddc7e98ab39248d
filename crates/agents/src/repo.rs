//! A read-only view of a repository on disk: one parallel walk that respects `.gitignore`,
//! an index of the files it found, and bounded reads.
//!
//! Agents never touch the filesystem directly during detection; they go through [`RepoView`],
//! which guarantees three things:
//! - nothing outside the repository root is read (symlinks are never followed);
//! - no file larger than [`ReadLimits::max_read`] is read whole;
//! - a file that is not UTF-8 is read lossily and reported with its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::plan::Warning;

/// Directories never descended into, whatever `.gitignore` says: dependency caches, build
/// output and VCS metadata. They can hold hundreds of thousands of files and say nothing
/// about the project itself.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    "jspm_packages",
    "target",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "site-packages",
    "vendor",
    "third_party",
    ".bundle",
    ".gradle",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".turbo",
    ".cache",
    ".parcel-cache",
    "dist",
    "build",
    "out",
    "coverage",
    ".repo-run",
    ".idea",
    ".vscode",
];

/// Size limits for reads during detection.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Files larger than this are indexed but never read.
    pub max_read: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        // Manifests and source files worth parsing are far below this; generated bundles and
        // data files are above it.
        ReadLimits { max_read: 1024 * 1024 }
    }
}

/// One regular file found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the root, `/`-separated.
    pub path: String,
    pub size: u64,
}

impl FileEntry {
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The directory part, `.` for files at the root.
    pub fn dir(&self) -> &str {
        match self.path.rfind('/') {
            Some(i) => &self.path[..i],
            None => ".",
        }
    }

    pub fn extension(&self) -> Option<&str> {
        let name = self.file_name();
        let dot = name.rfind('.')?;
        if dot == 0 { None } else { Some(&name[dot + 1..]) }
    }
}

/// Text read from a file; `lossy` is true when invalid UTF-8 was replaced.
#[derive(Debug, Clone)]
pub struct Text {
    pub content: String,
    pub lossy: bool,
}

/// The repository as agents see it.
#[derive(Debug)]
pub struct RepoView {
    root: PathBuf,
    limits: ReadLimits,
    /// Every regular file, sorted by path.
    files: Vec<FileEntry>,
    by_path: BTreeMap<String, usize>,
    /// Warnings from the walk and from reads, collected for the plan.
    warnings: Mutex<BTreeSet<Warning>>,
}

/// Error opening a repository for detection.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl RepoView {
    /// Walk `root` and build the index.
    pub fn open(root: &Path) -> Result<RepoView, RepoError> {
        RepoView::open_with(root, ReadLimits::default())
    }

    pub fn open_with(root: &Path, limits: ReadLimits) -> Result<RepoView, RepoError> {
        let meta = fs::metadata(root).map_err(|source| RepoError::Io { path: root.to_owned(), source })?;
        if !meta.is_dir() {
            return Err(RepoError::NotADirectory { path: root.to_owned() });
        }
        let root = fs::canonicalize(root).map_err(|source| RepoError::Io { path: root.to_owned(), source })?;
        let (files, warnings) = walk(&root);
        let by_path = files.iter().enumerate().map(|(i, f)| (f.path.clone(), i)).collect();
        Ok(RepoView { root, limits, files, by_path, warnings: Mutex::new(warnings) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limits(&self) -> ReadLimits {
        self.limits
    }

    /// All files, sorted by path.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.by_path.get(path).map(|&i| &self.files[i])
    }

    pub fn exists(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    /// Files directly inside `dir` (`.` for the root), not in subdirectories.
    pub fn files_in_dir<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a FileEntry> + 'a {
        let skip = if dir == "." { 0 } else { dir.len() + 1 };
        self.files_under(dir).iter().filter(move |f| !f.path[skip..].contains('/'))
    }

    /// Files anywhere below `dir` (`.` for the whole repository).
    pub fn files_under<'a>(&'a self, dir: &str) -> &'a [FileEntry] {
        if dir == "." {
            return &self.files;
        }
        let prefix = format!("{dir}/");
        let start = self.files.partition_point(|f| f.path.as_str() < prefix.as_str());
        let len = self.files[start..].partition_point(|f| f.path.starts_with(&prefix));
        &self.files[start..start + len]
    }

    /// Read a file as text, within the size limit. Returns `None` (and records a warning)
    /// when the file is missing, too large or unreadable. Invalid UTF-8 is replaced and
    /// reported with the line of the first bad byte.
    pub fn read_text(&self, path: &str) -> Option<Text> {
        let entry = self.file(path)?;
        if entry.size > self.limits.max_read {
            self.warn(Warning {
                file: path.to_owned(),
                line: None,
                message: format!(
                    "file is {} bytes, over the {} byte read limit: not read",
                    entry.size, self.limits.max_read
                ),
            });
            return None;
        }
        let bytes = match self.read_bytes(path, self.limits.max_read) {
            Ok(b) => b,
            Err(e) => {
                self.warn(Warning { file: path.to_owned(), line: None, message: format!("cannot read: {e}") });
                return None;
            }
        };
        Some(self.decode(path, bytes))
    }

    /// Read at most `max` bytes from the start of a file (for sniffing large files).
    pub fn read_head(&self, path: &str, max: u64) -> Option<Text> {
        self.file(path)?;
        let bytes = self.read_bytes(path, max).ok()?;
        Some(self.decode(path, bytes))
    }

    fn read_bytes(&self, path: &str, max: u64) -> std::io::Result<Vec<u8>> {
        let full = self.root.join(path);
        // The walk indexed only regular files (never symlinks), but the tree may have changed
        // since: refuse anything that is not a regular file now.
        let meta = fs::symlink_metadata(&full)?;
        if !meta.file_type().is_file() {
            return Err(std::io::Error::other("no longer a regular file"));
        }
        let mut buf = Vec::with_capacity(meta.len().min(max) as usize);
        fs::File::open(&full)?.take(max).read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn decode(&self, path: &str, bytes: Vec<u8>) -> Text {
        match String::from_utf8(bytes) {
            Ok(content) => Text { content, lossy: false },
            Err(e) => {
                let bad = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let line = 1 + bytes[..bad].iter().filter(|&&b| b == b'\n').count() as u32;
                self.warn(Warning {
                    file: path.to_owned(),
                    line: Some(line),
                    message: "invalid UTF-8: read with replacement characters".to_owned(),
                });
                Text { content: String::from_utf8_lossy(&bytes).into_owned(), lossy: true }
            }
        }
    }

    /// Record a warning for the plan.
    pub fn warn(&self, warning: Warning) {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).insert(warning);
    }

    /// All warnings so far, sorted.
    pub fn warnings(&self) -> Vec<Warning> {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// `dir` (a repository path, `.` for the root) and every directory above it, nearest first,
/// ending with `.`: where version files, lock files and compose files of a monorepo live.
pub fn self_and_ancestors(dir: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(dir);
    std::iter::from_fn(move || {
        let current = next?;
        next = (current != ".").then(|| current.rfind('/').map_or(".", |i| &current[..i]));
        Some(current)
    })
}

/// The repository path of `name` inside `dir` (`.` for the root).
pub fn join(dir: &str, name: &str) -> String {
    if dir == "." { name.to_owned() } else { format!("{dir}/{name}") }
}

/// `dir` + a relative path with `.`, `..` and empty segments resolved, as a repository path
/// (`.` for the root); `None` when `..` climbs out of the repository. A leading `/` is treated
/// as an empty segment: callers that must refuse absolute paths check for it first.
pub fn normalize_join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if dir == "." { Vec::new() } else { dir.split('/').collect() };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() { ".".to_owned() } else { parts.join("/") })
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut out = String::new();
    for comp in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&comp.as_os_str().to_string_lossy());
    }
    Some(out)
}

/// The parallel walk. Symlinks are never followed: a link is inspected only to tell the user
/// why it was skipped (a loop, or a target outside the repository).
fn walk(root: &Path) -> (Vec<FileEntry>, BTreeSet<Warning>) {
    let files = Mutex::new(Vec::new());
    let warnings = Mutex::new(BTreeSet::new());
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .parents(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && entry.depth() > 0 && SKIPPED_DIRS.contains(&entry.file_name().to_string_lossy().as_ref()))
        })
        .build_parallel();
    walker.run(|| {
        let files = &files;
        let warnings = &warnings;
        Box::new(move |result| {
            use ignore::WalkState;
            let entry = match result {
                Ok(e) => e,
                Err(err) => {
                    let file = err_path(&err).and_then(|p| relative(root, &p)).unwrap_or_default();
                    warnings.lock().unwrap().insert(Warning { file, line: None, message: format!("skipped: {err}") });
                    return WalkState::Continue;
                }
            };
            let Some(ft) = entry.file_type() else { return WalkState::Continue };
            let Some(rel) = relative(root, entry.path()) else { return WalkState::Continue };
            if ft.is_symlink() {
                if let Some(w) = symlink_warning(root, entry.path(), &rel) {
                    warnings.lock().unwrap().insert(w);
                }
            } else if ft.is_file() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                files.lock().unwrap().push(FileEntry { path: rel, size });
            }
            WalkState::Continue
        })
    });
    let mut files = files.into_inner().unwrap();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    (files, warnings.into_inner().unwrap())
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => err_path(err),
        _ => None,
    }
}

/// Links inside the repository are skipped silently (their target is walked anyway); loops
/// and links leading out of the repository are reported.
fn symlink_warning(root: &Path, path: &Path, rel: &str) -> Option<Warning> {
    let message = match fs::canonicalize(path) {
        Ok(target) if target.starts_with(root) => return None,
        Ok(_) => "symlink points outside the repository: not followed".to_owned(),
        Err(e) if e.raw_os_error() == Some(40) => "symlink loop: not followed".to_owned(), // ELOOP
        Err(_) => "broken symlink: not followed".to_owned(),
    };
    Some(Warning { file: rel.to_owned(), line: None, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_nearest_first() {
        assert_eq!(self_and_ancestors("apps/web").collect::<Vec<_>>(), ["apps/web", "apps", "."]);
        assert_eq!(self_and_ancestors(".").collect::<Vec<_>>(), ["."]);
        assert_eq!(join(".", "a"), "a");
        assert_eq!(join("x/y", "a"), "x/y/a");
        assert_eq!(normalize_join("apps", "../api/./src"), Some("api/src".into()));
        assert_eq!(normalize_join("apps", ".."), Some(".".into()));
        assert_eq!(normalize_join(".", ".."), None);
    }

    #[test]
    fn dir_listing_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/x.txt"), "1").unwrap();
        fs::write(dir.path().join("a/b/y.txt"), "2").unwrap();
        fs::write(dir.path().join("ab.txt"), "3").unwrap();
        let repo = RepoView::open(dir.path()).unwrap();
        let in_a: Vec<_> = repo.files_in_dir("a").map(|f| f.path.as_str()).collect();
        assert_eq!(in_a, ["a/x.txt"]);
        let under_a: Vec<_> = repo.files_under("a").iter().map(|f| f.path.as_str()).collect();
        assert_eq!(under_a, ["a/b/y.txt", "a/x.txt"]);
        let root: Vec<_> = repo.files_in_dir(".").map(|f| f.path.as_str()).collect();
        assert_eq!(root, ["ab.txt"]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f.txt"), b"ok\nok\n\xff\xfe bad\n").unwrap();
        let repo = RepoView::open(dir.path()).unwrap();
        let text = repo.read_text("f.txt").unwrap();
        assert!(text.lossy);
        assert!(text.content.contains("bad"));
        let w = repo.warnings();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, Some(3));
    }

    #[test]
    fn large_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = fs::File::create(dir.path().join("big.json")).unwrap();
        f.set_len(10 * 1024 * 1024).unwrap();
        let repo = RepoView::open(dir.path()).unwrap();
        assert!(repo.read_text("big.json").is_none());
        assert!(repo.warnings()[0].message.contains("read limit"));
    }
}
