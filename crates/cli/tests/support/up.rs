//! Running the real `repo-run` binary on copies of the fixtures, and checking that nothing is
//! left behind (shared by the `up` and `broken` end-to-end tests).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

/// One `up` at a time: they compete for ports, Docker and two CPU cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// A copy of a fixture in a temporary directory, brought down (volumes included) on drop.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    _serial: MutexGuard<'static, ()>,
}

impl Project {
    pub fn copy(fixture: &str) -> Project {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = format!("e2e-{}-", fixture.replace('/', "-"));
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir().unwrap();
        copy_dir(&fixtures().join(fixture), dir.path());
        Project { dir, env: Vec::new(), _serial: serial }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_repo-run"));
        c.args(args).current_dir(self.path()).env("NO_COLOR", "1").env("CI", "true");
        // The small tier, whatever larger models this machine has fetched (`auto` would pick them).
        c.env("REPO_RUN_MODEL_PROFILE", "local");
        // No evaluation history of this machine's user routes the questions: every test asks
        // the table's models in their order.
        c.env("REPO_RUN_DATA_DIR", self.path().join(".repo-run/test-data"));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        eprintln!(
            "$ repo-run {} → {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `up -d --ci --report`, returning the exit code and the report.
    pub fn up(&self) -> (i32, Value) {
        self.up_with(&[])
    }

    /// `up` with more flags (`--no-model`).
    pub fn up_with(&self, extra: &[&str]) -> (i32, Value) {
        let report = self.path().join(".repo-run-report.json");
        let mut args = vec!["up", "-d", "--ci", "--report", report.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let code = out.status.code().unwrap_or(-1);
        let report = std::fs::read_to_string(&report).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(Value::Null);
        (code, report)
    }

    pub fn down(&self, volumes: bool) -> Output {
        let out = self.run(if volumes { &["down", "--volumes"] } else { &["down"] });
        assert!(out.status.success(), "down failed");
        out
    }

    pub fn project_id(&self) -> String {
        let state = self.path().join(".repo-run/state.json");
        let text = std::fs::read_to_string(state).expect("a state file after up");
        serde_json::from_str::<Value>(&text).unwrap()["project_id"].as_str().unwrap().to_owned()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.command(&["down", "--volumes"]).output();
    }
}

/// Whether `tool` is a file in a `PATH` directory.
pub fn which(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Containers and volumes Docker knows with the project's label (through the docker CLI, a
/// second client, so the check does not trust repo-run's own code).
pub fn labelled(kind: &str, project_id: &str) -> Vec<String> {
    let label = format!("label=dev.repo-run.project={project_id}");
    let args: Vec<&str> = match kind {
        "container" => vec!["ps", "-a", "--filter", &label, "--format", "{{.Names}}"],
        _ => vec!["volume", "ls", "--filter", &label, "--format", "{{.Name}}"],
    };
    let out = Command::new("docker").args(&args).output().expect("the docker CLI");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

pub fn alive(pid: u64) -> bool {
    // Zombies count as gone: /proc/<pid>/stat's state is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"))
        .unwrap_or(false)
}

/// A minimal HTTP/1.0 client: `(status, body)`.
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

pub fn app_url(report: &Value) -> String {
    report["apps"][0]["url"].as_str().unwrap_or_else(|| panic!("no app URL in {report:#}")).to_owned()
}

pub fn assert_all_gone(project_id: &str, pids: &[u64]) {
    assert_eq!(labelled("container", project_id), Vec::<String>::new(), "containers left behind");
    for &pid in pids {
        assert!(!alive(pid), "process {pid} left behind");
    }
}

pub fn pids(report: &Value) -> Vec<u64> {
    report["apps"].as_array().into_iter().flatten().filter_map(|a| a["pid"].as_u64()).collect()
}

/// The local npm registry (`cargo xtask npm-registry`), served for `p`'s npm.
pub fn npm_registry(p: &mut Project) -> testkit::NpmRegistry {
    let dir = testkit::npm_registry_dir().unwrap_or_else(|| {
        panic!("REPO_RUN_NPM_REGISTRY is not set: build the registry with `cargo xtask npm-registry` and export it")
    });
    let registry = testkit::NpmRegistry::serve(&dir).unwrap();
    p.env.push(("npm_config_registry".into(), registry.url().to_owned()));
    p.env.push(("npm_config_cache".into(), p.path().join(".npm-cache").display().to_string()));
    p.env.push(("npm_config_fetch_timeout".into(), "20000".into()));
    p.env.push(("npm_config_audit".into(), "false".into()));
    p.env.push(("npm_config_fund".into(), "false".into()));
    registry
}
