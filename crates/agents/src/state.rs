//! `.repo-run/state.json`: every process and container `up` started, written as soon as each
//! one starts, so `down` and `status` work even after repo-run itself was killed.
//!
//! The file is replaced atomically (write to a temporary file, then rename): a crash while
//! writing leaves the previous state, never half a file.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Version of the state file format; a file of another version is reported, not guessed at.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub version: u32,
    /// The project id that labels this checkout's containers and volumes.
    pub project_id: String,
    /// The pid of the `repo-run up` that wrote this (gone after `up -d` returns).
    pub supervisor_pid: Option<u32>,
    pub detached: bool,
    /// Unix seconds when `up` started.
    pub started_at: u64,
    pub services: Vec<ServiceRecord>,
    pub apps: Vec<AppRecord>,
}

/// A service container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// `postgres`, `redis`, …
    pub service: String,
    pub container: String,
    pub image: String,
    pub host_port: u16,
    pub url: String,
}

/// An app process, the leader of its own process group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// The project's name.
    pub name: String,
    /// The project's path relative to the repository root (`.` for the root).
    pub project: String,
    pub command: String,
    pub pid: u32,
    /// The process group id (equal to `pid`: each app leads its own group).
    pub pgid: u32,
    pub port: Option<u16>,
    pub url: Option<String>,
    /// The log file, relative to the project root.
    pub log: String,
    /// Unix seconds when the process started; with `pid`, tells a live app from a recycled pid.
    pub started_at: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a repo-run state file ({source}); move it away and run `repo-run down` again")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error(
        "{path} was written by another version of repo-run (state version {found}, this one reads {STATE_VERSION})"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

impl RunState {
    pub fn new(project_id: impl Into<String>) -> Self {
        RunState {
            version: STATE_VERSION,
            project_id: project_id.into(),
            supervisor_pid: Some(std::process::id()),
            detached: false,
            started_at: unix_now(),
            services: Vec::new(),
            apps: Vec::new(),
        }
    }

    /// The state at `path`, or `None` when there is no file (nothing was started).
    pub fn load(path: &Path) -> Result<Option<RunState>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path: path.to_owned(), source }),
        };
        let state: RunState =
            serde_json::from_str(&text).map_err(|source| StateError::Parse { path: path.to_owned(), source })?;
        if state.version != STATE_VERSION {
            return Err(StateError::Version { path: path.to_owned(), found: state.version });
        }
        Ok(Some(state))
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let write = || -> io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(io::Error::other)?)?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|source| StateError::Write { path: path.to_owned(), source })
    }

    /// Removes the state file (after a complete `down`).
    pub fn remove(path: &Path) -> Result<(), StateError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Write { path: path.to_owned(), source }),
        }
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Now as `2026-11-23T12:30:05Z`, for log headers and notes in files repo-run writes.
pub(crate) fn utc_now() -> String {
    rfc3339_utc(unix_now())
}

/// `2026-11-23T12:30:05Z` from Unix seconds (days to civil date: Howard Hinnant's algorithm;
/// std has no calendar, and these timestamps are the only dates repo-run writes).
pub(crate) fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_437_005), "2026-11-23T12:30:05Z");
    }

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".repo-run/state.json");
        assert_eq!(RunState::load(&path).unwrap(), None);
        let mut s = RunState::new("app-1234");
        s.apps.push(AppRecord {
            name: "web".into(),
            project: ".".into(),
            command: "node server.js".into(),
            pid: 42,
            pgid: 42,
            port: Some(3000),
            url: Some("http://127.0.0.1:3000/".into()),
            log: ".repo-run/logs/web.log".into(),
            started_at: 1,
        });
        s.save(&path).unwrap();
        assert_eq!(RunState::load(&path).unwrap(), Some(s));
        RunState::remove(&path).unwrap();
        RunState::remove(&path).unwrap();
        assert_eq!(RunState::load(&path).unwrap(), None);
    }

    #[test]
    fn garbage_and_other_versions_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = RunState::load(&path).unwrap_err().to_string();
        assert!(e.contains("state.json") && e.contains("not a repo-run state file"), "{e}");
        let mut s = RunState::new("x");
        s.version = 99;
        std::fs::write(&path, serde_json::to_string(&s).unwrap()).unwrap();
        assert!(RunState::load(&path).unwrap_err().to_string().contains("state version 99"));
    }
}
