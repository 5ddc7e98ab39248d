//! Four `repo-run up -d` at once on copies of one project, as parallel CI jobs on one runner
//! would: every app wants the same port. Each `up` must end healthy on a port of its own,
//! answered by its own app, and `down` must leave nothing running.
//!
//! The project is a standard-library Python web server (nothing to download, no services, so
//! no Docker) that binds its port a second after it starts: the window in which, without the
//! port lock, the four would choose the same port and three would take the fourth's answer for
//! their own.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

const APP: &str = r#"import http.server, os, time

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(f"pid {os.getpid()}".encode())

def serve(port):
    time.sleep(1)
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()

if __name__ == "__main__":
    serve(port=int(os.environ.get("PORT", 8000)))
"#;

/// One copy of the project, brought down on drop (also when the test fails).
struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    fn new(i: usize) -> Copy {
        let dir = tempfile::Builder::new().prefix(&format!("port-race-{i}-")).tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), APP).unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "# the standard library is enough\n").unwrap();
        Copy { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_repo-run"));
        c.args(args).current_dir(self.dir.path()).env("NO_COLOR", "1").env("CI", "true");
        c.env("REPO_RUN_MODEL_PROFILE", "local");
        c
    }

    fn report_path(&self) -> std::path::PathBuf {
        self.dir.path().join("report.json")
    }

    fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.report_path()).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = self.command(&["down"]).output();
    }
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "$ repo-run {what} → {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn get_body(url: &str) -> String {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

fn alive(pid: u64) -> bool {
    // Zombies count as gone: /proc/<pid>/stat's state is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"))
        .unwrap_or(false)
}

#[test]
fn four_concurrent_ups_wanting_one_port_each_get_their_own() {
    let copies: Vec<Copy> = (0..4).map(Copy::new).collect();
    let ups: Vec<_> = copies
        .iter()
        .map(|c| {
            c.command(&["up", "-d", "--ci", "--report", c.report_path().to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = ups.into_iter().map(|up| up.wait_with_output().unwrap()).collect();
    for out in &outputs {
        eprintln!("{}", show("up -d", out));
    }

    let mut seen = Vec::new();
    for (copy, out) in copies.iter().zip(&outputs) {
        let report = copy.report();
        assert_eq!(out.status.code(), Some(0), "{}\n{report:#}", show("up -d", out));
        assert_eq!(report["status"], "healthy", "{report:#}");
        let app = &report["apps"][0];
        let port = app["port"].as_u64().unwrap_or_else(|| panic!("detection found the app's port: {report:#}"));
        let pid = app["pid"].as_u64().unwrap();
        let url = app["url"].as_str().unwrap();
        assert_eq!(get_body(url), format!("pid {pid}"), "{url} is answered by this up's own app");
        seen.push((port, pid));
    }
    eprintln!("(port, pid) of each up: {seen:?}");
    let mut ports: Vec<u64> = seen.iter().map(|(port, _)| *port).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 4, "four apps, four ports: {seen:?}");

    for copy in &copies {
        let out = copy.command(&["down"]).output().unwrap();
        assert!(out.status.success(), "{}", show("down", &out));
        assert!(!Path::new(&copy.dir.path().join(".repo-run/state.json")).exists(), "down forgot the apps");
    }
    for (_, pid) in &seen {
        assert!(!alive(*pid), "process {pid} left behind");
    }
}
