//! Runs one install command: argv (never a shell), in the project directory, its output line
//! by line to the step's log and to the reporter, Ctrl-C honoured.
//!
//! The command leads a process group of its own, because package managers start children
//! (node-gyp, pip's build backends, lifecycle scripts): an interrupted install is stopped by
//! signalling the group, so nothing it started outlives it.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::pipeline::Stage;
use crate::up::{Cancel, Reporter};

/// How often the cancel flag and the child are looked at while no output arrives.
const POLL: Duration = Duration::from_millis(50);
/// How long an interrupted command gets to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);
/// How long output is still read after the command exited (a grandchild may hold the pipe).
const DRAIN: Duration = Duration::from_secs(5);

pub(super) struct Run<'a> {
    pub argv: &'a [String],
    pub display: &'a str,
    pub dir: &'a Path,
    /// Variables set on top of the inherited environment.
    pub env: &'a BTreeMap<String, String>,
    pub log: &'a Path,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a Cancel,
}

#[derive(Debug)]
pub(super) enum Outcome {
    Succeeded,
    /// `status` reads "exit status 1" or "killed by signal 9"; `tail` is the output's end.
    Failed {
        status: String,
        tail: Vec<String>,
    },
    Cancelled,
}

pub(super) fn run(run: &Run<'_>) -> io::Result<Outcome> {
    let Some((program, args)) = run.argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the command is empty"));
    };
    let mut log = OpenOptions::new().create(true).append(true).open(run.log)?;
    writeln!(log, "\n=== {} $ {}  (in {})", crate::state::utc_now(), run.display, run.dir.display())?;

    let mut child = Command::new(resolve(program, run.dir))
        .args(args)
        .current_dir(run.dir)
        .envs(run.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let lines = read_lines(&mut child);

    let mut tail: VecDeque<String> = VecDeque::with_capacity(super::EVIDENCE_LINES);
    let mut on_line = |line: String, log: &mut File| {
        // A log that cannot be written must not stop the install; the reporter still sees it.
        let _ = writeln!(log, "{line}");
        run.reporter.output(Stage::Setup, &line);
        if tail.len() == super::EVIDENCE_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    };

    let mut pipes_open = true;
    let status = loop {
        if run.cancel.is_cancelled() {
            stop_group(&mut child);
            let _ = writeln!(log, "=== interrupted: the command and its children were stopped");
            return Ok(Outcome::Cancelled);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if pipes_open {
            match lines.recv_timeout(POLL) {
                Ok(line) => on_line(line, &mut log),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => pipes_open = false,
            }
        } else {
            std::thread::sleep(POLL);
        }
    };
    let deadline = Instant::now() + DRAIN;
    while pipes_open {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => on_line(line, &mut log),
            Err(_) => pipes_open = false,
        }
    }
    let _ = writeln!(log, "=== {}", describe(&status));
    Ok(if status.success() {
        Outcome::Succeeded
    } else {
        Outcome::Failed { status: describe(&status), tail: tail.into_iter().collect() }
    })
}

/// A program with a `/` in it (`.venv/bin/pip`, `./mvnw`) is relative to the project
/// directory, not to repo-run's own; a bare name is looked up on `PATH`.
fn resolve(program: &str, dir: &Path) -> PathBuf {
    let path = Path::new(program);
    if program.contains('/') && path.is_relative() { dir.join(path) } else { path.to_path_buf() }
}

/// Both pipes, merged into one channel of lines, each read on a thread of its own (reading
/// one while the other fills would deadlock the child).
fn read_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let readers: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for reader in readers.into_iter().flatten() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for chunk in BufReader::new(reader).split(b'\n') {
                let Ok(bytes) = chunk else { break };
                let line = String::from_utf8_lossy(&bytes);
                if tx.send(line.trim_end_matches('\r').to_owned()).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// SIGTERM to the whole group, a grace period for the leader to exit, then SIGKILL to whatever
/// is left of the group. The leader is reaped last: until then its pid (the group id) cannot
/// be reused, so the signals never reach an unrelated process.
fn stop_group(child: &mut Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    // SAFETY: killpg only sends a signal; pgid is our child's group, held by the unreaped child.
    unsafe { libc::killpg(pgid, libc::SIGTERM) };
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && !exited_unreaped(pgid) {
        std::thread::sleep(POLL);
    }
    // SAFETY: as above; the leader is still unreaped (at worst a zombie), so the group id is ours.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
    let _ = child.wait();
}

/// Whether the child has exited, without reaping it (`waitid` with `WNOWAIT`).
fn exited_unreaped(pid: libc::pid_t) -> bool {
    // SAFETY: an all-zero siginfo_t is valid; waitid writes into it and nothing else.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let Ok(id) = libc::id_t::try_from(pid) else { return true };
    // SAFETY: `info` is a valid, writable siginfo_t; WNOHANG makes this return at once.
    let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
    // SAFETY: waitid filled `info` (si_pid stays 0 when the child has not exited).
    rc != 0 || unsafe { info.si_pid() } != 0
}

fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::up::Silent;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn output_reaches_the_log_and_failures_keep_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        // The two pipes are read concurrently, so only the order within one is certain.
        let argv = argv(&["sh", "-c", "echo to-stdout; for i in $(seq 1 90); do echo line $i >&2; done; exit 3"]);
        let out = run(&Run {
            argv: &argv,
            display: "test",
            dir: dir.path(),
            env: &BTreeMap::new(),
            log: &log,
            reporter: &Silent,
            cancel: &Cancel::default(),
        })
        .unwrap();
        let Outcome::Failed { status, tail } = out else { panic!("{out:?}") };
        assert_eq!(status, "exit status 3");
        assert_eq!(tail.len(), super::super::EVIDENCE_LINES);
        assert_eq!(tail.last().map(String::as_str), Some("line 90"));
        assert!(!tail.contains(&"line 10".to_owned()));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("$ test") && text.contains("line 1\n") && text.contains("=== exit status 3"));
        assert!(text.contains("to-stdout\n"));
    }

    #[test]
    fn relative_programs_are_in_the_project() {
        assert_eq!(resolve(".venv/bin/pip", Path::new("/p")), PathBuf::from("/p/.venv/bin/pip"));
        assert_eq!(resolve("npm", Path::new("/p")), PathBuf::from("npm"));
        assert_eq!(resolve("/usr/bin/env", Path::new("/p")), PathBuf::from("/usr/bin/env"));
    }
}
