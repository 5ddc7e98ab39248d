//! A machine-wide lock per TCP port, so two `repo-run up` starting apps at the same moment
//! (parallel CI jobs on one runner) never give two apps the same port. Checking that a port is
//! free is not enough: between the check and the app's `bind` another repo-run sees it free too,
//! and one app dies with "address already in use".
//!
//! The Runner takes the lock of the port it chooses, checks the port is free while holding it,
//! and the lock stays held until the Health agent sees the app's own socket (or the app fails,
//! or `up` ends): a repo-run that gets the lock after that finds the port busy.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Ports are one namespace for the whole machine, whichever user or CI job binds them, so every
/// process must see the same locks: a fixed directory in /tmp. Not `$XDG_RUNTIME_DIR` (one per
/// user) nor `$TMPDIR` (CI runners often give each job its own).
pub(crate) const LOCK_DIR: &str = "/tmp/repo-run-ports";

/// A held lock on one port. `flock(2)`, not `fcntl` locks: an flock belongs to the open file, so
/// two pipelines in one process (threads) exclude each other too, and the kernel drops it when
/// the file is closed, also when repo-run is killed, so a lock is never stale.
#[derive(Debug)]
pub struct PortLock {
    port: u16,
    path: PathBuf,
    file: File,
}

impl PortLock {
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// The lock file is removed while still locked, so /tmp does not fill with one file per port
/// ever used. A process that opened it just before then locks a removed file: [`try_lock_in`]
/// sees that and tries again on the path's new file. (Another user's lock file cannot be
/// removed in the sticky directory; it stays, and works as well.)
impl Drop for PortLock {
    fn drop(&mut self) {
        if is_current(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The outcome of [`try_lock`].
#[derive(Debug)]
pub(crate) enum Attempt {
    Locked(PortLock),
    /// Another repo-run holds it: it is starting an app on this port.
    HeldElsewhere,
}

/// Takes the lock of `port` without waiting.
pub(crate) fn try_lock(port: u16) -> io::Result<Attempt> {
    try_lock_in(Path::new(LOCK_DIR), port)
}

fn try_lock_in(dir: &Path, port: u16) -> io::Result<Attempt> {
    ensure_dir(dir)?;
    let path = dir.join(format!("{port}.lock"));
    for _ in 0..5 {
        let file = open_lock_file(&path)?;
        // SAFETY: flock has no memory preconditions; the descriptor is open for the whole call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EWOULDBLOCK) => Ok(Attempt::HeldElsewhere),
                _ => Err(err),
            };
        }
        // The previous holder may have removed this file after we opened it: the lock counts
        // only on the file the path names now.
        if is_current(&file, &path) {
            return Ok(Attempt::Locked(PortLock { port, path, file }));
        }
    }
    Err(io::Error::other(format!("{} kept being replaced while it was locked", path.display())))
}

/// Whether `path` still names the open `file`.
fn is_current(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Creates the directory world-writable and sticky, like /tmp itself, so every user can add lock
/// files and none can delete another's. A symlink there is refused: locks elsewhere would not
/// be shared.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => return std::fs::set_permissions(dir, Permissions::from_mode(0o1777)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if std::fs::symlink_metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{} is not a directory", dir.display())))
    }
}

/// Opens the lock file, creating it when missing. An existing one is opened read-only and
/// without `O_CREAT`: flock needs no write access, so another user's lock file works, and Linux's
/// `protected_regular` refuses `O_CREAT` on other users' files in sticky directories.
fn open_lock_file(path: &Path) -> io::Result<File> {
    for _ in 0..3 {
        match File::open(path) {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match OpenOptions::new().write(true).create_new(true).mode(0o644).open(path) {
            Ok(file) => return Ok(file),
            // Another process created it in between: open that one.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("{} keeps appearing and disappearing", path.display())))
}

/// An app's port lock, handed from the Runner (which took it) to the Health agent (which lets it
/// go once the app's own socket listens, or the app failed). Clones share the one lock; it is
/// also let go when the last clone is dropped. The default holds nothing.
#[derive(Clone, Default)]
pub struct PortClaim(Arc<Mutex<Option<PortLock>>>);

impl PortClaim {
    pub(crate) fn new(lock: PortLock) -> Self {
        PortClaim(Arc::new(Mutex::new(Some(lock))))
    }

    /// Lets go of the lock (closing its file); other repo-runs may take the port's lock then.
    pub fn release(&self) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    }

    /// The port whose lock is held, if one is.
    pub fn held(&self) -> Option<u16> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref().map(PortLock::port)
    }
}

impl std::fmt::Debug for PortClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.held() {
            Some(port) => write!(f, "PortClaim(port {port} locked)"),
            None => f.write_str("PortClaim(none)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn locked(attempt: io::Result<Attempt>) -> PortLock {
        match attempt.unwrap() {
            Attempt::Locked(lock) => lock,
            Attempt::HeldElsewhere => panic!("the lock was held elsewhere"),
        }
    }

    #[test]
    fn a_held_port_lock_excludes_others_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = locked(try_lock_in(dir.path(), 3000));
        assert_eq!(first.port(), 3000);
        // A second open file, as another thread's pipeline or another process would have.
        assert!(matches!(try_lock_in(dir.path(), 3000).unwrap(), Attempt::HeldElsewhere));
        let other_port = locked(try_lock_in(dir.path(), 3001));

        let path = dir.path().join("3000.lock");
        assert!(path.exists());
        let claim = PortClaim::new(first);
        let clone = claim.clone();
        assert_eq!(clone.held(), Some(3000));
        clone.release();
        assert_eq!(claim.held(), None, "clones share one lock");
        assert!(!path.exists(), "the lock file goes with the lock");
        let again = locked(try_lock_in(dir.path(), 3000));
        drop((again, other_port));
        let dropped = PortClaim::new(locked(try_lock_in(dir.path(), 3000)));
        drop(dropped);
        locked(try_lock_in(dir.path(), 3000));
    }

    #[test]
    fn a_lock_file_replaced_after_it_was_opened_is_not_current() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("5000.lock");
        let opened_early = open_lock_file(&path).unwrap();
        assert!(is_current(&opened_early, &path));
        // The holder lets go: its file is removed, and the next one creates a new file.
        let lock = locked(try_lock_in(dir.path(), 5000));
        drop(lock);
        assert!(!is_current(&opened_early, &path));
        let next = locked(try_lock_in(dir.path(), 5000));
        assert!(is_current(&next.file, &path));
        assert!(!is_current(&opened_early, &path), "a lock on the early file would not count");
    }

    #[test]
    fn another_process_holding_the_lock_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        ensure_dir(dir.path()).unwrap();
        let path = dir.path().join("4000.lock");
        std::fs::write(&path, "").unwrap();
        // Another program's flock on the same file, as another repo-run would take it.
        let script = format!(
            "import fcntl, time\nf = open({path:?})\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(30)\n"
        );
        let mut holder = Command::new("python3")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("these tests need python3 on PATH");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "locked");
        let seen = try_lock_in(dir.path(), 4000);
        holder.kill().unwrap();
        holder.wait().unwrap();
        assert!(matches!(seen.unwrap(), Attempt::HeldElsewhere));
        // The kernel let go of it with the process.
        locked(try_lock_in(dir.path(), 4000));
    }

    #[test]
    fn the_lock_directory_is_shared_and_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("ports");
        ensure_dir(&locks).unwrap();
        let mode = std::fs::metadata(&locks).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o1777);
        ensure_dir(&locks).unwrap();

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&locks, &link).unwrap();
        assert!(ensure_dir(&link).is_err(), "a symlink is refused");

        // The machine-wide directory works (and a random high port's lock is free).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(matches!(try_lock(port).unwrap(), Attempt::Locked(_)));
        assert!(std::fs::symlink_metadata(LOCK_DIR).unwrap().is_dir());
    }
}
