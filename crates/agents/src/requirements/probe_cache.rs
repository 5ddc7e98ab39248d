//! Host probe answers remembered between runs, so that a warm `up` does not start
//! `python3 --version` (a pyenv shim: a shell script and a second interpreter), `java -version`
//! or `rustup run … rustc --version` again when nothing changed.
//!
//! An answer is kept with a fingerprint of everything that could change it: the variables the
//! version managers read (`PATH`, `PYENV_VERSION`, `RUSTUP_TOOLCHAIN`, …), the program the
//! command resolves to on `PATH` (its real path, size and modification time) and the files and
//! directories in which the managers keep their choice and their installs (pyenv's `version`
//! and `versions/`, rustup's `settings.toml` and `toolchains/`, uv's Pythons). A different
//! fingerprint, or an answer older than [`MAX_AGE`], runs the command again. Only successful
//! answers are kept: a command that fails or times out is asked again next time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An answer older than this is asked again even when its fingerprint matches: a safety net
/// for a change the fingerprint cannot see (a shim reading a file nobody listed).
const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Variables that change what a runtime or version manager answers.
const VARIABLES: &[&str] = &[
    "PATH",
    "HOME",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "VIRTUAL_ENV",
    "UV_PYTHON_INSTALL_DIR",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_HOME",
    "JAVA_HOME",
    "VOLTA_HOME",
    "NVM_DIR",
];

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    output: String,
    /// When it was probed, in seconds since the epoch.
    at: u64,
}

/// The cache file, loaded once per process; probes of several runtimes run on threads.
static LOADED: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

/// `argv`'s remembered output, or `probe()`'s (remembered when it is `Some`). Without a cache
/// directory, or when `argv[0]` is not on `PATH`, it just probes.
pub(crate) fn cached(argv: &[&str], probe: impl FnOnce() -> Option<String>) -> Option<String> {
    let (Some(path), Some(fingerprint)) = (cache_file(), fingerprint(argv)) else { return probe() };
    cached_in(&path, argv, &fingerprint, probe)
}

fn cached_in(path: &Path, argv: &[&str], fingerprint: &str, probe: impl FnOnce() -> Option<String>) -> Option<String> {
    let key = argv.join(" ");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    {
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let file = file_for(&mut loaded, path);
        if let Some(entry) = file.entries.get(&key)
            && entry.fingerprint == fingerprint
            && now.saturating_sub(entry.at) < MAX_AGE.as_secs()
        {
            return Some(entry.output.clone());
        }
    }
    // Probe without the lock: other runtimes' probes go on meanwhile.
    let output = probe()?;
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let file = file_for(&mut loaded, path);
    file.entries.insert(key, Entry { fingerprint: fingerprint.to_owned(), output: output.clone(), at: now });
    // A cache that cannot be written only costs the next run its probes.
    if let Err(e) = write(path, file) {
        tracing::debug!("host probe cache {}: {e}", path.display());
    }
    Some(output)
}

/// The loaded cache for `path` (read from disk the first time, or when another path is asked).
fn file_for<'a>(loaded: &'a mut Option<(PathBuf, File)>, path: &Path) -> &'a mut File {
    if loaded.as_ref().is_none_or(|(p, _)| p != path) {
        let file = std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        *loaded = Some((path.to_owned(), file));
    }
    &mut loaded.as_mut().expect("just loaded").1
}

/// Written whole, to a temporary file renamed over the old one: a concurrent `up` reads the
/// old cache or the new one, never half of one.
fn write(path: &Path, file: &File) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Unique per process; writers in one process hold the lock.
    let tmp = dir.join(format!(".host-probes.{}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(file)?)?;
    std::fs::rename(&tmp, path)
}

/// `$REPO_RUN_CACHE_DIR/host-probes.json` (else under `$XDG_CACHE_HOME/repo-run` or
/// `~/.cache/repo-run`); `REPO_RUN_NO_PROBE_CACHE=1` turns it off.
fn cache_file() -> Option<PathBuf> {
    if std::env::var_os("REPO_RUN_NO_PROBE_CACHE").is_some_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    super::host::cache_dir().map(|dir| dir.join("host-probes.json"))
}

/// Everything the answer of `argv` depends on, as one string; `None` when the program is not
/// on `PATH` (nothing to remember).
fn fingerprint(argv: &[&str]) -> Option<String> {
    let program = resolve(argv.first()?)?;
    let mut parts = vec![format!("program {}", stat(&program.canonicalize().unwrap_or(program)))];
    for name in VARIABLES {
        parts.push(format!("{name}={}", std::env::var(name).unwrap_or_default()));
    }
    for dir in watched() {
        parts.push(stat(&dir));
        // An install replaced in place (`rustup update`, `pyenv install -f`) changes its own
        // directory, not the parent.
        if let Ok(children) = std::fs::read_dir(&dir) {
            let mut children: Vec<String> = children.flatten().map(|c| stat(&c.path())).collect();
            children.sort();
            parts.extend(children);
        }
    }
    Some(parts.join("\n"))
}

/// A path's identity for the fingerprint: its name, size and modification time (or that it
/// is missing: appearing later changes the fingerprint too).
fn stat(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let modified = meta.modified().ok().and_then(|m| m.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
            format!("{} {} {}", path.display(), meta.len(), modified.as_nanos())
        }
        Err(_) => format!("{} missing", path.display()),
    }
}

/// The first executable named `program` on `PATH` (a path with a slash is itself).
fn resolve(program: &str) -> Option<PathBuf> {
    if program.contains('/') { Some(PathBuf::from(program)) } else { super::host::find_on_path(program) }
}

/// Where version managers keep their global choice and their installs.
fn watched() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("HOME");
    let under_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
    let mut dirs = Vec::new();
    if let Some(pyenv) = var("PYENV_ROOT").or_else(|| under_home(".pyenv")) {
        dirs.push(pyenv.join("version"));
        dirs.push(pyenv.join("versions"));
    }
    if let Some(rustup) = var("RUSTUP_HOME").or_else(|| under_home(".rustup")) {
        dirs.push(rustup.join("settings.toml"));
        dirs.push(rustup.join("toolchains"));
    }
    let uv = var("UV_PYTHON_INSTALL_DIR")
        .or_else(|| var("XDG_DATA_HOME").map(|d| d.join("uv/python")))
        .or_else(|| under_home(".local/share/uv/python"));
    dirs.extend(uv);
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn an_answer_is_probed_once_while_its_fingerprint_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host-probes.json");
        let probes = Cell::new(0);
        let probe = || {
            probes.set(probes.get() + 1);
            Some("Python 3.11.2\n".to_owned())
        };
        assert_eq!(cached_in(&path, &["python3", "--version"], "fp-1", probe).as_deref(), Some("Python 3.11.2\n"));
        assert_eq!(cached_in(&path, &["python3", "--version"], "fp-1", probe).as_deref(), Some("Python 3.11.2\n"));
        assert_eq!(probes.get(), 1, "the second ask is answered from the cache");
        // Another process reads the file.
        let on_disk: File = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk.entries["python3 --version"].output, "Python 3.11.2\n");
        // A changed fingerprint (another interpreter first on PATH) probes again.
        cached_in(&path, &["python3", "--version"], "fp-2", probe);
        assert_eq!(probes.get(), 2);
    }

    #[test]
    fn failures_and_old_answers_are_probed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host-probes.json");
        assert_eq!(cached_in(&path, &["java", "-version"], "fp", || None), None);
        assert_eq!(cached_in(&path, &["java", "-version"], "fp", || Some("17".into())).as_deref(), Some("17"));
        // An entry from two days ago.
        let mut file: File = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        file.entries.get_mut("java -version").unwrap().at -= 2 * 24 * 60 * 60;
        write(&path, &file).unwrap();
        *LOADED.lock().unwrap() = None;
        assert_eq!(cached_in(&path, &["java", "-version"], "fp", || Some("21".into())).as_deref(), Some("21"));
    }

    #[test]
    fn the_fingerprint_follows_the_program_on_path() {
        let a = tempfile::tempdir().unwrap();
        let tool = a.path().join("repo-run-probe-test-tool");
        std::fs::write(&tool, "#!/bin/sh\necho 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let absolute = tool.to_str().unwrap();
        let before = fingerprint(&[absolute, "--version"]).unwrap();
        assert_eq!(fingerprint(&[absolute, "--version"]).unwrap(), before);
        // Upgraded in place: a new size.
        std::fs::write(&tool, "#!/bin/sh\necho 22\n").unwrap();
        assert_ne!(fingerprint(&[absolute, "--version"]).unwrap(), before);
        assert_eq!(fingerprint(&["repo-run-no-such-program-xyz"]), None);
    }
}
