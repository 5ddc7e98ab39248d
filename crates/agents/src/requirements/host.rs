//! What the host has: runtime versions (`node --version`, …) and the interpreters and
//! toolchains version managers installed beside them: pyenv's Pythons
//! (`$(pyenv root)/versions/*/bin/python3`), uv's (`uv python list --only-installed`),
//! rustup's toolchains, and the Node versions of nvm, fnm and Volta (their directories).
//!
//! A probed host asks lazily, once per runtime and only for the runtimes a plan needs, each
//! command with a deadline: a hung binary is killed, never waited on. A stated host
//! ([`Host::with_versions`]) is plain data, for tests and for callers that already know.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
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
    /// Where provided tools go, when the caller decides (see [`Host::tools_dir`]).
    tools_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
enum Source {
    /// Versions, toolchains and programs as stated by the caller; anything not stated is not
    /// installed.
    Stated { versions: BTreeMap<Runtime, String>, managed: BTreeMap<Runtime, Vec<Toolchain>>, programs: Vec<String> },
    /// Run the commands on first use, once each.
    Probe {
        timeout: Duration,
        versions: BTreeMap<Runtime, OnceLock<Option<String>>>,
        managed: BTreeMap<Runtime, OnceLock<Option<Vec<Toolchain>>>>,
    },
}

/// An interpreter or toolchain a version manager installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// `pyenv`, `uv`, `rustup`, `nvm`, `fnm`, `volta`.
    pub manager: &'static str,
    /// What the manager calls it: `3.7.16`, `stable-x86_64-unknown-linux-gnu`, `v20.19.0`.
    pub name: String,
    /// The runtime's version (`3.7.16`, `1.97.0-nightly`), `None` when it could not be told.
    pub version: Option<String>,
    /// The interpreter (Python) or the `bin` directory (Node); `None` for rustup, which selects
    /// a toolchain by name.
    pub path: Option<PathBuf>,
}

impl Default for Source {
    /// A host with nothing installed: deterministic, runs nothing.
    fn default() -> Self {
        Source::Stated { versions: BTreeMap::new(), managed: BTreeMap::new(), programs: Vec::new() }
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
        let managed = Runtime::ALL.iter().map(|&r| (r, OnceLock::new())).collect();
        Host { source: Source::Probe { timeout, versions, managed }, tools_dir: None }
    }

    /// A host that has exactly these runtimes (`(Runtime::Node, "20.11.0")`), nothing else.
    pub fn with_versions(versions: &[(Runtime, &str)]) -> Host {
        let versions = versions.iter().map(|(r, v)| (*r, (*v).to_owned())).collect();
        Host { source: Source::Stated { versions, managed: BTreeMap::new(), programs: Vec::new() }, tools_dir: None }
    }

    /// State the toolchains a version manager has installed: rustup's toolchain names
    /// (`stable-x86_64-unknown-linux-gnu`; a version is known only for numbered ones) for
    /// [`Runtime::Rust`], pyenv's versions for [`Runtime::Python`] (under a pyenv root of
    /// `/pyenv`), nvm's versions for [`Runtime::Node`] (under `/nvm`). Without this call the
    /// stated host has no version manager.
    pub fn with_managed(self, runtime: Runtime, names: &[&str]) -> Host {
        let toolchains = names.iter().map(|name| stated_toolchain(runtime, name)).collect();
        self.with_toolchains(runtime, toolchains)
    }

    /// State the toolchains of `runtime` in full (another manager, a rustup channel's version).
    pub fn with_toolchains(mut self, runtime: Runtime, toolchains: Vec<Toolchain>) -> Host {
        if let Source::Stated { managed, .. } = &mut self.source {
            managed.entry(runtime).or_default().extend(toolchains);
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

    /// State the programs on `PATH` (`pipenv`, `poetry`); a stated host has no others.
    pub fn with_programs(mut self, names: &[&str]) -> Host {
        if let Source::Stated { programs, .. } = &mut self.source {
            programs.extend(names.iter().map(|n| (*n).to_owned()));
        }
        self
    }

    /// Whether `program` is an executable on `PATH` (looked up, not run).
    pub fn has_program(&self, program: &str) -> bool {
        self.program_path(program).is_some()
    }

    /// Where `program` is on `PATH` (looked up, not run); a stated program is in `/usr/bin`.
    pub fn program_path(&self, program: &str) -> Option<PathBuf> {
        match &self.source {
            Source::Stated { programs, .. } => {
                programs.iter().any(|p| p == program).then(|| Path::new("/usr/bin").join(program))
            }
            Source::Probe { .. } => find_on_path(program),
        }
    }

    /// Install provided tools under `dir` instead (a test's own directory).
    pub fn with_tools_dir(mut self, dir: &Path) -> Host {
        self.tools_dir = Some(dir.to_path_buf());
        self
    }

    /// Where repo-run installs the tools it provides, one virtualenv each:
    /// `$REPO_RUN_CACHE_DIR/tools`, else `$XDG_CACHE_HOME/repo-run/tools`, else
    /// `~/.cache/repo-run/tools` (`/cache/repo-run/tools` for a stated host).
    pub fn tools_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.tools_dir {
            return Some(dir.clone());
        }
        if matches!(self.source, Source::Stated { .. }) {
            return Some(PathBuf::from("/cache/repo-run/tools"));
        }
        cache_dir().map(|cache| cache.join("tools"))
    }

    /// Interpreters or toolchains of `runtime` installed by version managers, `None` when the
    /// host has no such manager.
    pub fn managed(&self, runtime: Runtime) -> Option<Vec<Toolchain>> {
        match &self.source {
            Source::Stated { managed, .. } => managed.get(&runtime).cloned(),
            Source::Probe { timeout, managed, .. } => {
                managed.get(&runtime)?.get_or_init(|| probe_toolchains(runtime, *timeout)).clone()
            }
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
                s.spawn(move || self.managed(r));
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
    attempts.iter().find_map(|argv| probe(argv, timeout).and_then(|out| parse_version(runtime, &out)))
}

fn stated_toolchain(runtime: Runtime, name: &str) -> Toolchain {
    match runtime {
        Runtime::Python => Toolchain {
            manager: "pyenv",
            name: name.to_owned(),
            version: Some(name.to_owned()),
            path: Some(Path::new("/pyenv/versions").join(name).join("bin/python3")),
        },
        Runtime::Node => {
            let version = name.trim_start_matches('v');
            Toolchain {
                manager: "nvm",
                name: format!("v{version}"),
                version: Some(version.to_owned()),
                path: Some(PathBuf::from(format!("/nvm/versions/node/v{version}/bin"))),
            }
        }
        _ => Toolchain { manager: "rustup", name: name.to_owned(), version: numbered_toolchain(name), path: None },
    }
}

/// Every manager's toolchains for `runtime`; `None` when no manager of it is on the host.
fn probe_toolchains(runtime: Runtime, timeout: Duration) -> Option<Vec<Toolchain>> {
    let found: Vec<Option<Vec<Toolchain>>> = match runtime {
        Runtime::Python => vec![pyenv_root(timeout).map(|r| pyenv_pythons(&r)), probe_uv(timeout)],
        Runtime::Rust => vec![probe_rustup(timeout)],
        Runtime::Node => node_managers().into_iter().map(|(manager, root)| node_versions(manager, &root)).collect(),
        _ => Vec::new(),
    };
    let mut all: Option<Vec<Toolchain>> = None;
    for list in found.into_iter().flatten() {
        let into = all.get_or_insert_with(Vec::new);
        // uv also lists interpreters pyenv installed: one entry per interpreter.
        for t in list {
            if !into.iter().any(|known| t.path.is_some() && known.path == t.path) {
                into.push(t);
            }
        }
    }
    all
}

/// rustup's toolchains, each with the version its rustc reports (asked in parallel).
fn probe_rustup(timeout: Duration) -> Option<Vec<Toolchain>> {
    let out = probe(&["rustup", "toolchain", "list"], timeout)?;
    let names: Vec<String> = out.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect();
    let versions: Vec<Option<String>> = std::thread::scope(|s| {
        let asks: Vec<_> = names
            .iter()
            .map(|name| {
                s.spawn(move || {
                    numbered_toolchain(name).or_else(|| {
                        probe(&["rustup", "run", name, "rustc", "--version"], timeout)
                            .and_then(|out| parse_version(Runtime::Rust, &out))
                    })
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().ok().flatten()).collect()
    });
    Some(
        names
            .into_iter()
            .zip(versions)
            .map(|(name, version)| Toolchain { manager: "rustup", name, version, path: None })
            .collect(),
    )
}

/// `1.95.0` of `1.95.0-x86_64-unknown-linux-gnu`; `None` for a channel (`stable-…`).
fn numbered_toolchain(name: &str) -> Option<String> {
    let version = name.split('-').next()?;
    (version.starts_with(|c: char| c.is_ascii_digit()) && version.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .then(|| version.to_owned())
}

/// pyenv's root: what `pyenv root` says, else `$PYENV_ROOT`, else `~/.pyenv` when it exists.
fn pyenv_root(timeout: Duration) -> Option<PathBuf> {
    if let Some(out) = probe(&["pyenv", "root"], timeout) {
        return out.lines().next().map(|l| PathBuf::from(l.trim())).filter(|p| p.is_dir());
    }
    let root = std::env::var_os("PYENV_ROOT").map(PathBuf::from).or_else(|| home().map(|h| h.join(".pyenv")))?;
    root.join("versions").is_dir().then_some(root)
}

/// The CPython versions under `<root>/versions` with a `bin/python3`. Other names (`pypy3.10-…`,
/// `miniconda3-latest`, pyenv-virtualenv environments) are not versions that can be compared.
pub(crate) fn pyenv_pythons(root: &Path) -> Vec<Toolchain> {
    let mut out: Vec<Toolchain> = subdirs(&root.join("versions"))
        .into_iter()
        .filter(|name| is_cpython_version(name))
        .map(|name| {
            let path = root.join("versions").join(&name).join("bin/python3");
            Toolchain { manager: "pyenv", version: Some(name.clone()), name, path: Some(path) }
        })
        .filter(|t| t.path.as_deref().is_some_and(Path::is_file))
        .collect();
    out.sort_by_key(|t| super::compare::release(&t.name));
    out
}

/// `3.7.16`, `3.13.0rc1`, `3.13.0t` (a free-threaded build is still CPython of that version).
fn is_cpython_version(name: &str) -> bool {
    let numeric = name.trim_end_matches(|c: char| c.is_ascii_alphanumeric() && !c.is_ascii_digit());
    let numeric = numeric.split(|c: char| c.is_ascii_alphabetic()).next().unwrap_or("");
    let rest = &name[numeric.len()..];
    numeric.contains('.')
        && numeric.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The Pythons uv installed itself (`--python-preference only-managed` leaves out the system
/// and pyenv ones, which are found on their own).
fn probe_uv(timeout: Duration) -> Option<Vec<Toolchain>> {
    let out = probe(&["uv", "python", "list", "--only-installed", "--python-preference", "only-managed"], timeout)?;
    Some(parse_uv_list(&out))
}

/// Lines of `uv python list`: `cpython-3.12.1-linux-x86_64-gnu    /root/.local/share/uv/…/python3.12`
/// (a link is followed by ` -> target`).
pub(crate) fn parse_uv_list(out: &str) -> Vec<Toolchain> {
    out.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let key = words.next()?;
            let path = words.next()?;
            let version = key.strip_prefix("cpython-")?.split('-').next()?;
            (super::compare::release(version).is_some() && path.starts_with('/')).then(|| Toolchain {
                manager: "uv",
                name: key.to_owned(),
                version: Some(version.to_owned()),
                path: Some(PathBuf::from(path)),
            })
        })
        .collect()
}

/// The Node version managers whose directories exist: nvm, fnm, Volta.
fn node_managers() -> Vec<(&'static str, PathBuf)> {
    let dir =
        |var: &str, default: &str| std::env::var_os(var).map(PathBuf::from).or_else(|| home().map(|h| h.join(default)));
    [
        ("nvm", dir("NVM_DIR", ".nvm")),
        ("fnm", dir("FNM_DIR", ".local/share/fnm")),
        ("fnm", home().map(|h| h.join(".fnm"))),
        ("volta", dir("VOLTA_HOME", ".volta")),
    ]
    .into_iter()
    .filter_map(|(manager, root)| Some((manager, root?)))
    .filter(|(_, root)| root.is_dir())
    .collect()
}

/// The Node versions of one manager, each with its `bin` directory: nvm keeps
/// `versions/node/v20.19.0/bin`, fnm `node-versions/v20.19.0/installation/bin`, Volta
/// `tools/image/node/20.19.0/bin`.
pub(crate) fn node_versions(manager: &'static str, root: &Path) -> Option<Vec<Toolchain>> {
    let (versions, bin) = match manager {
        "nvm" => (root.join("versions/node"), "bin"),
        "fnm" => (root.join("node-versions"), "installation/bin"),
        _ => (root.join("tools/image/node"), "bin"),
    };
    let mut out: Vec<Toolchain> = subdirs(&versions)
        .into_iter()
        .filter(|name| super::compare::release(name).is_some())
        .map(|name| Toolchain {
            manager,
            version: Some(name.trim_start_matches('v').to_owned()),
            path: Some(versions.join(&name).join(bin)),
            name,
        })
        .filter(|t| t.path.as_deref().is_some_and(|bin| bin.join("node").is_file()))
        .collect();
    out.sort_by_key(|t| super::compare::release(&t.name));
    Some(out)
}

fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().filter(|e| e.path().is_dir()).filter_map(|e| e.file_name().to_str().map(str::to_owned)).collect()
}

/// The first executable file named `program` in the directories of `PATH`.
pub(crate) fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|file| {
        use std::os::unix::fs::PermissionsExt;
        file.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// repo-run's cache: `$REPO_RUN_CACHE_DIR`, else `$XDG_CACHE_HOME/repo-run`, else
/// `~/.cache/repo-run`.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("REPO_RUN_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|c| c.join("repo-run")))
        .or_else(|| home().map(|h| h.join(".cache/repo-run")))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// [`run`], answered from the cache of earlier runs while nothing it depends on changed.
fn probe(argv: &[&str], timeout: Duration) -> Option<String> {
    super::probe_cache::cached(argv, || run(argv, timeout))
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
        let rustup = host.managed(Runtime::Rust).unwrap();
        assert_eq!((rustup[0].name.as_str(), rustup[0].version.as_deref()), ("stable-x", None));
        assert_eq!(host.managed(Runtime::Python), None);
        assert_eq!(Host::default().version(Runtime::Node), None);
    }

    #[test]
    fn pyenv_pythons_of_this_machine() {
        // The real pyenv: its root and interpreters, each of which reports its own version.
        let pythons = Host::probe().managed(Runtime::Python).expect("pyenv is installed on this machine");
        let pyenv: Vec<&Toolchain> = pythons.iter().filter(|t| t.manager == "pyenv").collect();
        assert!(pyenv.iter().any(|t| t.name == "3.7.16"), "{pythons:?}");
        for t in &pyenv {
            let path = t.path.as_ref().unwrap();
            assert!(path.is_absolute() && path.ends_with("bin/python3"), "{path:?}");
            let out = run(&[path.to_str().unwrap(), "--version"], Duration::from_secs(10)).unwrap();
            assert_eq!(parse_version(Runtime::Python, &out), t.version, "{path:?}");
        }
    }

    #[test]
    fn rustup_toolchains_of_this_machine_have_versions() {
        let toolchains = Host::probe().managed(Runtime::Rust).expect("rustup is installed on this machine");
        let stable = toolchains.iter().find(|t| t.name.starts_with("stable-")).unwrap();
        assert!(stable.version.as_deref().and_then(super::super::compare::release).is_some(), "{stable:?}");
        assert!(toolchains.iter().all(|t| t.manager == "rustup" && t.path.is_none()));
    }

    #[test]
    fn pyenv_names_that_are_versions() {
        for name in ["3.7.16", "3.13.0rc1", "3.13.0t", "2.7.18"] {
            assert!(is_cpython_version(name), "{name}");
        }
        for name in ["pypy3.10-7.3.17", "miniconda3-latest", "myenv", "3.11.7-debug", "3", "system"] {
            assert!(!is_cpython_version(name), "{name}");
        }
    }

    #[test]
    fn uv_python_list() {
        let out = "cpython-3.12.1-linux-x86_64-gnu    /root/.local/share/uv/python/cpython-3.12.1-linux-x86_64-gnu/bin/python3.12\n\
                   cpython-3.11.9-linux-x86_64-gnu    /usr/bin/python3.11 -> python3.11\n\
                   pypy-3.10.14-linux-x86_64-gnu      /root/.local/share/uv/python/pypy/bin/pypy3\n\
                   cpython-3.13.0-linux-x86_64-gnu    <download available>\n";
        let found = parse_uv_list(out);
        let got: Vec<(&str, Option<&str>)> =
            found.iter().map(|t| (t.version.as_deref().unwrap(), t.path.as_deref().and_then(Path::to_str))).collect();
        assert_eq!(
            got,
            [
                ("3.12.1", Some("/root/.local/share/uv/python/cpython-3.12.1-linux-x86_64-gnu/bin/python3.12")),
                ("3.11.9", Some("/usr/bin/python3.11")),
            ]
        );
    }

    #[test]
    fn node_versions_from_manager_directories() {
        let root = tempfile::tempdir().unwrap();
        let bin = |dir: &str| {
            let bin = root.path().join(dir);
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("node"), "").unwrap();
        };
        bin("nvm/versions/node/v20.19.0/bin");
        bin("nvm/versions/node/v18.20.4/bin");
        std::fs::create_dir_all(root.path().join("nvm/versions/node/v22.0.0")).unwrap(); // half-installed
        bin("fnm/node-versions/v22.1.0/installation/bin");
        bin("volta/tools/image/node/16.20.2/bin");
        let versions = |manager, dir: &str| -> Vec<(String, PathBuf)> {
            node_versions(manager, &root.path().join(dir))
                .unwrap()
                .into_iter()
                .map(|t| (t.version.unwrap(), t.path.unwrap()))
                .collect()
        };
        assert_eq!(
            versions("nvm", "nvm"),
            [
                ("18.20.4".to_owned(), root.path().join("nvm/versions/node/v18.20.4/bin")),
                ("20.19.0".to_owned(), root.path().join("nvm/versions/node/v20.19.0/bin")),
            ]
        );
        assert_eq!(
            versions("fnm", "fnm"),
            [("22.1.0".to_owned(), root.path().join("fnm/node-versions/v22.1.0/installation/bin"))]
        );
        assert_eq!(
            versions("volta", "volta"),
            [("16.20.2".to_owned(), root.path().join("volta/tools/image/node/16.20.2/bin"))]
        );
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
