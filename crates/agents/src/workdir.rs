//! `.repo-run/` in the project: everything `up` keeps between runs.
//!
//! ```text
//! .repo-run/
//!   .gitignore        "*": nothing here belongs in the user's repository
//!   state.json        what is running (see [`crate::state`]): `down`/`status` read it after a crash
//!   logs/<name>.log   one log per app, service and setup step
//!   backups/          a copy of every user file before repo-run changes it
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// The name of the directory in the project root.
pub const DIR_NAME: &str = ".repo-run";

/// The `.repo-run/` directory of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkDir {
    root: PathBuf,
}

impl WorkDir {
    /// The work dir of the project at `project_root` (nothing is created yet).
    pub fn new(project_root: &Path) -> Self {
        WorkDir { root: project_root.join(DIR_NAME) }
    }

    /// Creates the directories (and the `.gitignore` that keeps them out of git).
    pub fn ensure(&self) -> io::Result<()> {
        std::fs::create_dir_all(self.logs_dir())?;
        std::fs::create_dir_all(self.backups_dir())?;
        let ignore = self.root.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(ignore, "# Written by repo-run: its state, logs and backups stay out of git.\n*\n")?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The log of an app, service or step; `name` is made safe for a file name.
    pub fn log_file(&self, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
            .collect();
        let safe = safe.trim_matches('.');
        self.logs_dir().join(format!("{}.log", if safe.is_empty() { "root" } else { safe }))
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// Copies `file` into `backups/` as `<name>.<unix seconds>[.<n>]` before it is changed and
    /// returns the copy's path. Never overwrites an earlier backup.
    pub fn backup(&self, file: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(self.backups_dir())?;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        for n in 0.. {
            let candidate = if n == 0 {
                self.backups_dir().join(format!("{name}.{secs}"))
            } else {
                self.backups_dir().join(format!("{name}.{secs}.{n}"))
            };
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
                Ok(_) => {
                    std::fs::copy(file, &candidate)?;
                    return Ok(candidate);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("an unbounded range ends only by returning")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_gitignore() {
        let dir = tempfile::tempdir().unwrap();
        let w = WorkDir::new(dir.path());
        w.ensure().unwrap();
        assert!(w.logs_dir().is_dir() && w.backups_dir().is_dir());
        assert_eq!(std::fs::read_to_string(w.path().join(".gitignore")).unwrap().lines().last(), Some("*"));
        assert_eq!(w.log_file("apps/web"), w.logs_dir().join("apps-web.log"));
        assert_eq!(w.log_file("."), w.logs_dir().join("root.log"));
    }

    #[test]
    fn backups_never_overwrite_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let w = WorkDir::new(dir.path());
        let env = dir.path().join(".env");
        std::fs::write(&env, "A=1\n").unwrap();
        let first = w.backup(&env).unwrap();
        std::fs::write(&env, "A=2\n").unwrap();
        let second = w.backup(&env).unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(first).unwrap(), "A=1\n");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "A=2\n");
    }
}
