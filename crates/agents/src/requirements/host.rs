//! What the host has: runtime versions (`node --version`, …) and the toolchains of version
//! managers (`rustup toolchain list`, `pyenv versions --bare`).
//!
//! A probed host asks lazily, once per runtime and only for the runtimes a plan needs, each
//! command with a deadline: a hung binary is killed, never waited on. A stated host
//! ([`Host::with_versions`]) is plain data, for tests and for callers that already know.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::plan::Runtime;

/// How long one probe command may run before it is killed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The runtimes installed on the host, with their versions.
#[derive(Debug, Clone, Default)]
pub struct Host {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// Versions and toolchains as stated by the caller; anything not stated is not installed.
    Stated { versions: BTreeMap<Runtime, String>, managed: BTreeMap<Runtime, Vec<String>> },
    /// Run the commands on first use, once each.
    Probe { timeout: Duration, versions: BTreeMap<Runtime, OnceLock<Option<String>>>, managed: ManagedProbe },
}

#[derive(Debug, Clone, Default)]
struct ManagedProbe {
    rustup: OnceLock<Option<Vec<String>>>,
    pyenv: OnceLock<Option<Vec<String>>>,
}

impl Default for Source {
    /// A host with nothing installed: deterministic, runs nothing.
    fn default() -> Self {
        Source::Stated { versions: BTreeMap::new(), managed: BTreeMap::new() }
    }
}

impl Host {
    /// The real host: commands run on first use, from a neutral directory (so that a
    /// `rust-toolchain.toml` or `.python-version` in the current directory does not change
    /// the answer), each killed after a short timeout.
    pub fn probe() -> Host {
        Host::probe_with_timeout(PROBE_TIMEOUT)
    }

    fn probe_with_timeout(timeout: Duration) -> Host {
        let versions = Runtime::ALL.iter().map(|&r| (r, OnceLock::new())).collect();
        Host { source: Source::Probe { timeout, versions, managed: ManagedProbe::default() } }
    }

    /// A host that has exactly these runtimes (`(Runtime::Node, "20.11.0")`), nothing else.
    pub fn with_versions(versions: &[(Runtime, &str)]) -> Host {
        let versions = versions.iter().map(|(r, v)| (*r, (*v).to_owned())).collect();
        Host { source: Source::Stated { versions, managed: BTreeMap::new() } }
    }

    /// State the toolchains a version manager has installed: rustup's toolchain names
    /// (`stable-x86_64-unknown-linux-gnu`) for [`Runtime::Rust`], pyenv's versions for
    /// [`Runtime::Python`]. Without this call the stated host has no version manager.
    pub fn with_managed(mut self, runtime: Runtime, toolchains: &[&str]) -> Host {
        if let Source::Stated { managed, .. } = &mut self.source {
            managed.insert(runtime, toolchains.iter().map(|t| (*t).to_owned()).collect());
        }
        self
    }

    /// The version of `runtime` on the host (`20.11.0`, `3.11.7`, `1.95.0-nightly`), `None` when
    /// it is not installed or did not answer in time.
    pub fn version(&self, runtime: Runtime) -> Option<String> {
        match &self.source {
            Source::Stated { versions, .. } => versions.get(&runtime).cloned(),
            Source::Probe { timeout, versions, .. } => {
                versions.get(&runtime)?.get_or_init(|| probe_version(runtime, *timeout)).clone()
            }
        }
    }

    /// Toolchains installed by the runtime's version manager (rustup, pyenv), `None` when there
    /// is no such manager on the host.
    pub fn managed(&self, runtime: Runtime) -> Option<Vec<String>> {
        match &self.source {
            Source::Stated { managed, .. } => managed.get(&runtime).cloned(),
            Source::Probe { timeout, managed, .. } => match runtime {
                Runtime::Rust => managed.rustup.get_or_init(|| probe_rustup(*timeout)).clone(),
                Runtime::Python => managed.pyenv.get_or_init(|| probe_pyenv(*timeout)).clone(),
                _ => None,
            },
        }
    }

    /// Probe several runtimes at once (each probe waits on a process).
    pub fn warm(&self, runtimes: &[Runtime]) {
        if matches!(self.source, Source::Stated { .. }) {
            return;
        }
        std::thread::scope(|s| {
            for &r in runtimes {
                s.spawn(move || self.version(r));
            }
        });
    }
}

fn probe_version(runtime: Runtime, timeout: Duration) -> Option<String> {
    let attempts: &[&[&str]] = match runtime {
        Runtime::Node => &[&["node", "--version"]],
        Runtime::Bun => &[&["bun", "--version"]],
        Runtime::Python => &[&["python3", "--version"], &["python", "--version"]],
        Runtime::Rust => &[&["rustc", "--version"]],
        Runtime::Go => &[&["go", "version"]],
        Runtime::Ruby => &[&["ruby", "--version"]],
        Runtime::Java => &[&["java", "-version"]],
        Runtime::Php => &[&["php", "--version"]],
    };
    attempts.iter().find_map(|argv| run(argv, timeout).and_then(|out| parse_version(runtime, &out)))
}

fn probe_rustup(timeout: Duration) -> Option<Vec<String>> {
    let out = run(&["rustup", "toolchain", "list"], timeout)?;
    Some(out.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect())
}

fn probe_pyenv(timeout: Duration) -> Option<Vec<String>> {
    let out = run(&["pyenv", "versions", "--bare"], timeout)?;
    Some(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// Run `argv` and return stdout and stderr together, or `None` when it cannot start, fails,
/// or outlives `timeout` (then it is killed). Output is read on threads so that a child that
/// leaves a grandchild holding the pipe cannot block us either.
fn run(argv: &[&str], timeout: Duration) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let (tx, rx) = mpsc::channel();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as _),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.take(64 * 1024).read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = String::new();
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(50));
        match rx.recv_timeout(left) {
            Ok(buf) => out.push_str(&String::from_utf8_lossy(&buf)),
            Err(_) => break,
        }
    }
    status.success().then_some(out)
}

/// The version number in a runtime's `--version` output.
pub fn parse_version(runtime: Runtime, output: &str) -> Option<String> {
    let words = || output.split_whitespace();
    let found = match runtime {
        Runtime::Node | Runtime::Bun => words().next().map(|w| w.trim_start_matches('v').to_owned()),
        Runtime::Python => after(output, "Python "),
        // `rustc 1.96.0-nightly (1a2b3c4d5 2026-11-01)`
        Runtime::Rust => after(output, "rustc "),
        // `go version go1.22.1 linux/amd64`
        Runtime::Go => words()
            .find_map(|w| w.strip_prefix("go").filter(|v| v.starts_with(|c: char| c.is_ascii_digit())))
            .map(str::to_owned),
        Runtime::Ruby => after(output, "ruby "),
        // `openjdk version "17.0.9" 2023-10-17`, `java version "1.8.0_381"`
        Runtime::Java => {
            output.split_once("version \"").and_then(|(_, rest)| rest.split('"').next()).map(str::to_owned)
        }
        Runtime::Php => after(output, "PHP "),
    }?;
    found.starts_with(|c: char| c.is_ascii_digit()).then_some(found)
}

/// The first word after `prefix` at the start of a line.
fn after(output: &str, prefix: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_outputs() {
        let cases = [
            (Runtime::Node, "v20.11.0\n", Some("20.11.0")),
            (Runtime::Bun, "1.1.42\n", Some("1.1.42")),
            (Runtime::Python, "Python 3.11.7\n", Some("3.11.7")),
            (Runtime::Python, "Python 3.13.0rc1\n", Some("3.13.0rc1")),
            (Runtime::Rust, "rustc 1.95.0 (59807616e 2026-04-14)\n", Some("1.95.0")),
            (Runtime::Rust, "rustc 1.96.0-nightly (1a2b3c4d5 2026-11-01)\n", Some("1.96.0-nightly")),
            (Runtime::Go, "go version go1.22.1 linux/amd64\n", Some("1.22.1")),
            (Runtime::Go, "go version go1.23rc1 darwin/arm64\n", Some("1.23rc1")),
            (Runtime::Ruby, "ruby 3.2.2 (2023-03-30 revision e51014f9c0) [x86_64-linux]\n", Some("3.2.2")),
            (Runtime::Java, "openjdk version \"17.0.9\" 2023-10-17\nOpenJDK Runtime Environment\n", Some("17.0.9")),
            (Runtime::Java, "java version \"1.8.0_381\"\n", Some("1.8.0_381")),
            (Runtime::Java, "openjdk version \"21\" 2023-09-19\n", Some("21")),
            (Runtime::Php, "PHP 8.2.7 (cli) (built: Jun  9 2023 07:37:27) (NTS)\n", Some("8.2.7")),
            (Runtime::Python, "pyenv: python3: command not found\n", None),
            (Runtime::Node, "", None),
            (Runtime::Go, "go: unknown command\n", None),
        ];
        for (runtime, out, want) in cases {
            assert_eq!(parse_version(runtime, out).as_deref(), want, "{runtime}: {out:?}");
        }
    }

    #[test]
    fn stated_host_is_data() {
        let host = Host::with_versions(&[(Runtime::Node, "20.11.0")]).with_managed(Runtime::Rust, &["stable-x"]);
        assert_eq!(host.version(Runtime::Node).as_deref(), Some("20.11.0"));
        assert_eq!(host.version(Runtime::Python), None);
        assert_eq!(host.managed(Runtime::Rust), Some(vec!["stable-x".to_owned()]));
        assert_eq!(host.managed(Runtime::Python), None);
        assert_eq!(Host::default().version(Runtime::Node), None);
    }

    #[test]
    fn a_missing_binary_is_none() {
        assert_eq!(run(&["repo-run-no-such-binary-xyz", "--version"], PROBE_TIMEOUT), None);
    }

    #[test]
    fn a_hung_binary_is_killed_at_the_deadline() {
        let start = Instant::now();
        assert_eq!(run(&["sleep", "30"], Duration::from_millis(200)), None);
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    }

    #[test]
    fn output_of_both_streams_is_read() {
        let out = run(&["sh", "-c", "echo out; echo err >&2"], PROBE_TIMEOUT).unwrap();
        assert!(out.contains("out") && out.contains("err"), "{out:?}");
    }
}
