//! Running one migration command: its own process group, output to a log and the reporter,
//! stopped as a group on Ctrl-C or when it runs too long.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::pipeline::Stage;
use crate::up::{Cancel, Reporter};

/// How many output lines an error shows.
pub const TAIL_LINES: usize = 20;
/// How long a stopped group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// How a command ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    Cancelled,
    TimedOut(Duration),
}

/// What a run produced.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub elapsed: Duration,
    /// The last [`TAIL_LINES`] lines of output.
    pub tail: Vec<String>,
}

/// Log lines shared by the output readers.
struct Sink {
    log: Mutex<std::fs::File>,
    tail: Mutex<VecDeque<String>>,
    reporter: Arc<dyn Reporter>,
}

impl Sink {
    fn line(&self, line: &str) {
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "{line}");
        }
        if let Ok(mut tail) = self.tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_owned());
        }
        self.reporter.output(Stage::Db, line);
    }
}

/// Runs `program` with `args` in `dir`, with `env` on top of this process's environment.
/// Output goes to `log` (appended, after a `$ display` header) and to the reporter.
#[allow(clippy::too_many_arguments)]
pub fn run(
    program: &Path,
    args: &[String],
    display: &str,
    dir: &Path,
    env: &BTreeMap<String, String>,
    log: &Path,
    reporter: Arc<dyn Reporter>,
    cancel: &Cancel,
    timeout: Duration,
) -> std::io::Result<Finished> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    writeln!(file, "$ {display}    (in {})", dir.display())?;
    let sink = Arc::new(Sink { log: Mutex::new(file), tail: Mutex::new(VecDeque::new()), reporter });

    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env)
        // A migration that prompts would wait forever: it reads end-of-file instead.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so Ctrl-C stops the tool and whatever it started.
        .process_group(0)
        .spawn()?;
    let pgid = child.id() as libc::pid_t;
    let readers: Vec<_> = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as _),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let sink = sink.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&buf);
                sink.line(text.trim_end_matches(['\n', '\r']));
                buf.clear();
            }
        })
    })
    .collect();

    let ended = loop {
        if let Some(status) = child.try_wait()? {
            break Ended::Exited(status);
        }
        if cancel.is_cancelled() {
            stop_group(pgid, &mut child);
            break Ended::Cancelled;
        }
        if started.elapsed() > timeout {
            stop_group(pgid, &mut child);
            break Ended::TimedOut(timeout);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Anything the tool left behind in its group goes with it: no orphans, and the pipes close.
    // SAFETY: killpg on a group this process created; ESRCH (already empty) is harmless.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
    for reader in readers {
        let _ = reader.join();
    }
    let tail = sink.tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
    Ok(Finished { ended, elapsed: started.elapsed(), tail })
}

/// SIGTERM to the group, SIGKILL after [`GRACE`]; reaps the leader.
fn stop_group(pgid: libc::pid_t, child: &mut std::process::Child) {
    // SAFETY: signalling the process group the child leads (created with process_group(0)).
    unsafe { libc::killpg(pgid, libc::SIGTERM) };
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
    let _ = child.wait();
}

/// `name` as the command would find it: a path with `/` is taken relative to `dir`; a bare
/// name is looked up in `path` (the `PATH` the command runs with).
pub fn resolve(name: &str, dir: &Path, path: Option<&str>) -> Option<PathBuf> {
    if name.contains('/') {
        let candidate = dir.join(name);
        return is_executable(&candidate).then_some(candidate);
    }
    let path = path.map(str::to_owned).or_else(|| std::env::var("PATH").ok())?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|c| is_executable(c))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::up::Silent;

    fn sh(script: &str, cancel: &Cancel, timeout: Duration) -> (Finished, String) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/m.log");
        let args = vec!["-c".to_owned(), script.to_owned()];
        let env = BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]);
        let sh = resolve("sh", dir.path(), None).unwrap();
        let done = run(&sh, &args, script, dir.path(), &env, &log, Arc::new(Silent), cancel, timeout).unwrap();
        (done, std::fs::read_to_string(log).unwrap())
    }

    #[test]
    fn output_and_env_reach_the_log_and_the_tail() {
        let (done, log) = sh(
            // stdout and stderr are read by two threads: the pause puts `oops` last in the tail.
            "echo $GREETING; for i in $(seq 1 30); do echo line $i; done; sleep 0.5; echo oops >&2; exit 3",
            &Cancel::default(),
            Duration::from_secs(30),
        );
        assert!(matches!(done.ended, Ended::Exited(s) if s.code() == Some(3)), "{:?}", done.ended);
        assert!(log.starts_with("$ echo $GREETING"), "{log}");
        assert!(log.contains("hello\n") && log.contains("line 30\n") && log.contains("oops\n"), "{log}");
        assert_eq!(done.tail.len(), TAIL_LINES);
        assert!(done.tail.contains(&"oops".to_owned()));
    }

    #[test]
    fn cancel_stops_the_whole_group() {
        let cancel = Cancel::default();
        let flag = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            flag.cancel();
        });
        let started = Instant::now();
        // A grandchild that would outlive a plain kill of the shell.
        let (done, _) = sh("sleep 30 & echo $! ; wait", &cancel, Duration::from_secs(60));
        assert!(matches!(done.ended, Ended::Cancelled), "{:?}", done.ended);
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        let grandchild: i32 = done.tail[0].parse().unwrap();
        // Gone, or dead and waiting for its new parent (whatever reaps orphans here) to reap it.
        let alive = || {
            std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(), "the sleep survived");
    }

    #[test]
    fn a_timeout_stops_the_command() {
        let (done, _) = sh("sleep 30", &Cancel::default(), Duration::from_millis(200));
        assert!(matches!(done.ended, Ended::TimedOut(_)), "{:?}", done.ended);
    }

    #[test]
    fn resolve_follows_path_and_relative_names() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        assert_eq!(resolve("tool", dir.path(), Some(&bin.display().to_string())), None, "not executable");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(resolve("tool", dir.path(), Some(&bin.display().to_string())), Some(tool.clone()));
        assert_eq!(resolve("bin/tool", dir.path(), Some("")), Some(tool));
        assert_eq!(resolve("repo-run-no-such-tool", dir.path(), None), None);
    }
}
