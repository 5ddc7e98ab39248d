//! The Runner and Health agents with real processes (Python's standard library servers).
//!
//! Each test writes a tiny app into a temporary directory and describes it with a hand-made
//! detection result, so the start command and the port finding are exactly what the test
//! needs. [`Cleanup`] stops every process group recorded in the state file when the test ends,
//! passed or failed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use repo_run_agents::health::{HealthAgent, summary_table};
use repo_run_agents::pipeline::Blackboard;
use repo_run_agents::plan::{
    Command, Detection, Evidence, Finding, Framework, HealthPathFinding, PortFinding, Project, ProjectRole,
};
use repo_run_agents::requirements::Host;
use repo_run_agents::runner::{self, RunnerAgent, StopOutcome};
use repo_run_agents::state::RunState;
use repo_run_agents::up::{ProbeKind, Reporter};
use repo_run_agents::{Agent, RepoView, Stage};

const GRACE: Duration = Duration::from_secs(5);

/// The real interpreter (not pyenv's shim script), so apps start fast.
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("these tests need python3 on PATH");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// An HTTP server on $PORT that says so in its log. `before` runs first.
fn http_app(before: &str) -> String {
    format!(
        r#"import http.server, os, sys
{before}
port = int(os.environ["PORT"])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print(f"listening on {{port}} (APP_PORT={{os.environ.get('APP_PORT')}})", flush=True)
server.serve_forever()
"#
    )
}

/// A port that was free a moment ago.
fn some_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn command(argv: &[&str]) -> Command {
    Command {
        display: argv.join(" "),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        evidence: Evidence::new("app.py", None, "test"),
    }
}

/// A project at the root running `python app.py`, with a port finding when given.
fn project(name: &str, port: Option<(u16, Option<&str>)>, framework: Option<Framework>) -> Project {
    Project {
        name: name.into(),
        path: ".".into(),
        role: ProjectRole::App,
        languages: Vec::new(),
        package_managers: Vec::new(),
        frameworks: framework
            .map(|value| Finding { value, evidence: vec![Evidence::new("app.py", None, "test")] })
            .into_iter()
            .collect(),
        start: Some(command(&[python(), "app.py"])),
        start_alternatives: Vec::new(),
        start_candidates: Vec::new(),
        decisions: Vec::new(),
        build: None,
        entry_points: Vec::new(),
        health_paths: Vec::new(),
        ports: port
            .map(|(port, env_var)| PortFinding {
                port,
                env_var: env_var.map(String::from),
                evidence: vec![Evidence::new("app.py", Some(3), "test")],
            })
            .into_iter()
            .collect(),
        env_vars: Vec::new(),
        services: Vec::new(),
        migrations: Vec::new(),
        dependencies: Vec::new(),
    }
}

/// Notes and steps the agents reported.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn step(&self, _: Stage, message: &str) {
        self.0.lock().unwrap().push(format!("step: {message}"));
    }
    fn note(&self, _: Stage, message: &str) {
        self.0.lock().unwrap().push(format!("note: {message}"));
    }
}

/// A temporary project: its directory, its blackboard, and the cleanup of its processes.
struct TestApp {
    board: Blackboard,
    recorder: Arc<Recorder>,
    _cleanup: Cleanup,
    dir: tempfile::TempDir,
}

impl TestApp {
    fn new(app_py: &str, project: Project) -> Self {
        let dir = tempfile::Builder::new().prefix("repo-run-runner-test").tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), app_py).unwrap();
        let mut board = Blackboard::new(RepoView::open(dir.path()).unwrap(), Host::default());
        board.detection = Some(Detection { projects: vec![project], ..Default::default() });
        board.options.health_timeout = Duration::from_secs(30);
        let recorder = Arc::new(Recorder::default());
        board.reporter = recorder.clone();
        let cleanup = Cleanup(board.workdir.state_file());
        TestApp { board, recorder, _cleanup: cleanup, dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> RunState {
        RunState::load(&self.board.workdir.state_file()).unwrap().expect("state.json was written")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.board.apps[0].log).unwrap_or_default()
    }
}

/// Stops every process group in the state file: a failing test leaves nothing running.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(Some(state)) = RunState::load(&self.0) {
            for app in &state.apps {
                runner::stop_app(app, Duration::ZERO);
            }
        }
    }
}

/// Whether a process runs (exists and is not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

#[test]
fn http_app_is_started_probed_recorded_and_stopped() {
    let port = some_free_port();
    let mut p = project("web", Some((port, Some("PORT"))), None);
    p.build = Some(command(&[python(), "-c", "open('built.txt', 'w').write('ok'); print('build done')"]));
    let mut t = TestApp::new(&http_app(""), p);

    RunnerAgent::new().run(&mut t.board).unwrap();
    assert_eq!(t.board.apps.len(), 1);
    let app = t.board.apps[0].clone();
    assert_eq!(app.port, Some(port));
    assert_eq!(app.url.as_deref(), Some(format!("http://127.0.0.1:{port}/").as_str()));
    assert_eq!(app.log, t.root().join(".repo-run/logs/web.log"));
    assert!(t.root().join("built.txt").exists(), "the build ran in the project directory");

    let state = t.state();
    assert_eq!(state.apps.len(), 1);
    let record = &state.apps[0];
    assert_eq!((record.pid, record.pgid, record.port), (app.pid, app.pid, Some(port)));
    assert_eq!(record.log, ".repo-run/logs/web.log");
    assert!(runner::app_alive(record));

    let started = Instant::now();
    HealthAgent.run(&mut t.board).unwrap();
    eprintln!("healthy after {:?}: {:?}", started.elapsed(), t.board.health);
    let report = &t.board.health[0];
    assert!(report.healthy);
    assert!(matches!(&report.probe, ProbeKind::Http { url } if url.contains(&port.to_string())), "{report:?}");
    assert!(report.detail.starts_with("HTTP 200"), "{}", report.detail);

    let log = t.log();
    assert!(log.contains("build done") && log.contains(&format!("listening on {port}")), "{log}");
    assert!(log.lines().filter(|l| l.starts_with(runner::HEADER_PREFIX)).count() == 2, "{log}");

    let table = summary_table(&t.board.health, &t.board.apps, &t.board.services);
    eprintln!("{table}");
    let row = table.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(row.contains("app") && row.contains("healthy") && row.contains(&format!(":{port}/")), "{table}");

    let mut state = t.state();
    let outcomes = runner::stop_all(&mut state, GRACE);
    assert!(matches!(outcomes[0].1, StopOutcome::Stopped { .. }), "{outcomes:?}");
    assert!(state.apps.is_empty());
    assert!(!runner::app_alive(&outcomes[0].0));
    assert!(!running(app.pid), "the app's process is gone (and reaped)");
    assert_eq!(runner::stop_app(&outcomes[0].0, GRACE), StopOutcome::AlreadyGone);
}

#[test]
fn busy_port_moves_the_app_to_a_free_one() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = holder.local_addr().unwrap().port();
    let mut t = TestApp::new(&http_app(""), project("api", Some((busy, Some("APP_PORT"))), Some(Framework::Flask)));

    RunnerAgent::new().run(&mut t.board).unwrap();
    let moved = t.board.apps[0].port.unwrap();
    assert_ne!(moved, busy);
    let notes = t.recorder.0.lock().unwrap().clone();
    let note = notes.iter().find(|n| n.starts_with("note:")).expect("the move is noted");
    assert!(note.contains(&busy.to_string()) && note.contains(&moved.to_string()), "{note}");
    assert!(note.contains(&format!("pid {}", std::process::id())), "the holder is named: {note}");

    HealthAgent.run(&mut t.board).unwrap();
    assert!(t.board.health[0].healthy);
    assert!(matches!(&t.board.health[0].probe, ProbeKind::Http { url } if url.contains(&moved.to_string())));
    // Both the framework's variable and PORT carry the new port.
    assert!(t.log().contains(&format!("listening on {moved} (APP_PORT={moved})")), "{}", t.log());
    drop(holder);
}

#[test]
fn busy_port_the_code_fixes_is_an_error_naming_the_holder() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = holder.local_addr().unwrap().port();
    let mut t = TestApp::new(&http_app(""), project("fixed", Some((busy, None)), None));
    let err = RunnerAgent::new().run(&mut t.board).unwrap_err();
    eprintln!("{err}\nhint: {:?}", err.hint);
    assert!(err.message.contains(&format!("port {busy}")), "{err}");
    assert!(err.message.contains(&format!("pid {}", std::process::id())), "{err}");
    assert!(err.hint.unwrap().contains("PORT"));
    assert!(t.board.apps.is_empty());
}

#[test]
fn crashing_app_is_reported_at_once_with_its_log() {
    let app = "import sys\nprint('boom: missing config', flush=True)\nsys.exit(3)\n";
    let mut t = TestApp::new(app, project("crasher", Some((some_free_port(), Some("PORT"))), None));
    t.board.options.health_timeout = Duration::from_secs(60);
    RunnerAgent::new().run(&mut t.board).unwrap();

    let started = Instant::now();
    let err = HealthAgent.run(&mut t.board).unwrap_err();
    eprintln!("after {:?}: {err}\nhint: {:?}", started.elapsed(), err.hint);
    assert!(started.elapsed() < Duration::from_secs(10), "an exit is reported without waiting for the timeout");
    assert!(err.message.contains("crasher") && err.message.contains("exited with status 3"), "{err}");
    assert!(err.message.contains("boom: missing config"), "{err}");
    assert!(err.hint.as_deref().unwrap().contains(".repo-run/logs/crasher.log"));
    let report = &t.board.health[0];
    assert!(!report.healthy);
    assert_eq!(report.probe, ProbeKind::Process { pid: t.board.apps[0].pid });
    assert!(report.log_tail.iter().any(|l| l.contains("boom")), "{:?}", report.log_tail);
    assert!(!report.log_tail.iter().any(|l| l.starts_with(runner::HEADER_PREFIX)));
}

#[test]
fn grandchildren_die_with_the_app() {
    let before = "import subprocess\nchild = subprocess.Popen(['sleep', '300'])\nopen('grandchild.pid', 'w').write(str(child.pid))";
    let mut t = TestApp::new(&http_app(before), project("parent", Some((some_free_port(), Some("PORT"))), None));
    let agent = RunnerAgent::new();
    agent.run(&mut t.board).unwrap();
    HealthAgent.run(&mut t.board).unwrap();
    let grandchild: u32 = std::fs::read_to_string(t.root().join("grandchild.pid")).unwrap().trim().parse().unwrap();
    let app = t.board.apps[0].pid;
    assert!(running(grandchild) && running(app));

    let supervisor = agent.supervisor();
    assert_eq!(supervisor.records().len(), 1);
    let outcomes = supervisor.stop_all(GRACE);
    assert!(outcomes[0].1.is_stopped(), "{outcomes:?}");
    assert!(!running(app), "the app is gone");
    assert!(!running(grandchild), "the app's child `sleep 300` is gone too");
    assert!(supervisor.records().is_empty());
}

#[test]
fn a_fresh_state_stops_apps_of_a_dead_repo_run() {
    let mut t = TestApp::new(&http_app(""), project("orphan", Some((some_free_port(), Some("PORT"))), None));
    {
        // The repo-run that started the app "dies": its agent and supervisor are dropped
        // without stopping anything, as after `up -d` or a SIGKILL.
        let agent = RunnerAgent::new();
        agent.run(&mut t.board).unwrap();
        HealthAgent.run(&mut t.board).unwrap();
        assert_eq!(agent.supervisor().detach().len(), 1);
    }
    let pid = t.board.apps[0].pid;
    assert!(running(pid), "the app outlives the agent that started it");

    // A second `up` refuses to start it twice.
    let mut again = Blackboard::new(RepoView::open(t.root()).unwrap(), Host::default());
    again.detection = t.board.detection.clone();
    let err = RunnerAgent::new().run(&mut again).unwrap_err();
    assert!(err.message.contains("already running") && err.message.contains(&pid.to_string()), "{err}");

    // A record whose start time does not match is another program's pid: left alone.
    let mut state = t.state();
    let mut stale = state.apps[0].clone();
    stale.started_at -= 3600;
    assert!(!runner::app_alive(&stale));
    assert_eq!(runner::stop_app(&stale, GRACE), StopOutcome::PidReused);
    assert!(running(pid));

    // `down` after the crash: the state file alone is enough.
    let outcomes = runner::stop_all(&mut state, GRACE);
    assert!(outcomes[0].1.is_stopped(), "{outcomes:?}");
    assert!(state.apps.is_empty());
    // Not our child any more in real life; here it is, and stop_app reaped it.
    assert!(!running(pid));
}

#[test]
fn tcp_app_without_framework_passes_on_connect() {
    let app = r#"import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen()
print("accepting connections", flush=True)
while True:
    conn, _ = s.accept()
    conn.sendall(b"+HELLO\r\n")
    conn.close()
"#;
    let port = some_free_port();
    let mut t = TestApp::new(app, project("tcp", Some((port, Some("PORT"))), None));
    RunnerAgent::new().run(&mut t.board).unwrap();
    HealthAgent.run(&mut t.board).unwrap();
    let report = &t.board.health[0];
    assert!(report.healthy, "{report:?}");
    assert_eq!(report.probe, ProbeKind::Tcp { port });
    assert!(report.detail.contains("not HTTP"), "{}", report.detail);
}

#[test]
fn a_web_app_that_never_answers_times_out_with_its_log() {
    // Declared a Flask app, but it only accepts TCP connections: not healthy.
    let app = r#"import os, socket, time
s = socket.socket()
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen()
print("Running on http://127.0.0.1", flush=True)
time.sleep(300)
"#;
    let port = some_free_port();
    let mut t = TestApp::new(app, project("silent", Some((port, Some("PORT"))), Some(Framework::Flask)));
    t.board.options.health_timeout = Duration::from_secs(3);
    RunnerAgent::new().run(&mut t.board).unwrap();
    let started = Instant::now();
    let err = HealthAgent.run(&mut t.board).unwrap_err();
    eprintln!("{err}");
    assert!(started.elapsed() >= Duration::from_secs(3) && started.elapsed() < Duration::from_secs(10));
    assert!(err.message.contains("not ready within 3 s"), "{err}");
    assert!(err.message.contains("running on"), "the log line is shown as a hint: {err}");
    assert!(t.board.health[0].log_tail.iter().any(|l| l.contains("Running on")));
}

#[test]
fn worker_without_port_is_ready_on_its_log_line() {
    let app = "import time\nprint('worker ready on queue default; Listening on queue', flush=True)\ntime.sleep(300)\n";
    let mut t = TestApp::new(app, project("worker", None, None));
    RunnerAgent::new().run(&mut t.board).unwrap();
    assert_eq!(t.board.apps[0].port, None);
    HealthAgent.run(&mut t.board).unwrap();
    assert!(matches!(t.board.health[0].probe, ProbeKind::LogPattern { .. }), "{:?}", t.board.health);
}

#[test]
fn processes_left_by_a_crashed_app_are_still_stopped() {
    let app = "import subprocess, sys\nchild = subprocess.Popen(['sleep', '300'])\nopen('grandchild.pid', 'w').write(str(child.pid))\nprint('worker died', flush=True)\nsys.exit(1)\n";
    let mut t = TestApp::new(app, project("leaky", None, None));
    RunnerAgent::new().run(&mut t.board).unwrap();
    let err = HealthAgent.run(&mut t.board).unwrap_err();
    assert!(err.message.contains("exited with status 1"), "{err}");
    let grandchild: u32 = std::fs::read_to_string(t.root().join("grandchild.pid")).unwrap().trim().parse().unwrap();
    assert!(running(grandchild));

    let mut state = t.state();
    assert_eq!(runner::app_status(&state.apps[0]), runner::AppStatus::Leftovers(vec![grandchild]));
    assert!(!runner::app_alive(&state.apps[0]));
    let outcomes = runner::stop_all(&mut state, GRACE);
    assert!(matches!(outcomes[0].1, StopOutcome::Stopped { .. }), "{outcomes:?}");
    assert!(!running(grandchild), "the leftover `sleep 300` is stopped");
    assert_eq!(runner::app_status(&outcomes[0].0), runner::AppStatus::Exited);
}

/// Set for [`crash_helper`]: the directory of the project it brings up.
const HELPER_DIR: &str = "REPO_RUN_TEST_CRASH_HELPER_DIR";

/// Not a test of its own: the stand-in for a `repo-run up` that [`sigkill_of_repo_run_leaves_a_usable_state`]
/// kills. Does nothing unless started by that test.
#[test]
#[ignore = "started by sigkill_of_repo_run_leaves_a_usable_state"]
fn crash_helper() {
    let Some(dir) = std::env::var_os(HELPER_DIR) else { return };
    let port = some_free_port();
    let mut board = Blackboard::new(RepoView::open(Path::new(&dir)).unwrap(), Host::default());
    board.detection =
        Some(Detection { projects: vec![project("survivor", Some((port, Some("PORT"))), None)], ..Default::default() });
    RunnerAgent::new().run(&mut board).unwrap();
    HealthAgent.run(&mut board).unwrap();
    println!("READY");
    std::thread::sleep(Duration::from_secs(300));
}

#[test]
fn sigkill_of_repo_run_leaves_a_usable_state() {
    let t = TestApp::new(&http_app(""), project("unused", None, None));
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_helper", "--exact", "--ignored", "--nocapture"])
        .env(HELPER_DIR, t.root())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(helper.stdout.take().unwrap());
    let mut ready = false;
    for line in std::io::BufRead::lines(&mut out) {
        if line.unwrap().contains("READY") {
            ready = true;
            break;
        }
    }
    assert!(ready, "the helper brought the app up");
    helper.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs in the helper
    helper.wait().unwrap();

    let mut state = t.state();
    assert_eq!(state.apps.len(), 1);
    let record = state.apps[0].clone();
    assert!(runner::app_alive(&record), "the app outlives the killed repo-run");
    let url = record.url.clone().unwrap();
    assert!(std::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/')).is_ok());

    let outcomes = runner::stop_all(&mut state, GRACE);
    assert!(outcomes[0].1.is_stopped(), "{outcomes:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    // Not our child: init reaps it; until then it may show as a zombie, which `running` ignores.
    while running(record.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(record.pid) && !runner::app_alive(&record));
}

/// An HTTP server on $PORT answering `pid <its pid>`, which binds only after `delay_s`: the
/// window in which another `up` could choose the same port.
fn pid_app(delay_s: f64) -> String {
    format!(
        r#"import http.server, os, time
time.sleep({delay_s})
port = int(os.environ["PORT"])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(f"pid {{os.getpid()}}".encode())
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print(f"listening on {{port}}", flush=True)
server.serve_forever()
"#
    )
}

/// The body of `GET /` at `url` (`http://host:port/`).
fn get_body(url: &str) -> String {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // One write: a request split over several segments may be half-read by a server.
    stream.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

/// What one pipeline of [`two_pipelines_wanting_one_port_get_one_each`] saw.
#[derive(Debug)]
struct Outcome {
    pid: u32,
    port: u16,
    probe: ProbeKind,
    detail: String,
    body: String,
    notes: Vec<String>,
}

#[test]
fn two_pipelines_wanting_one_port_get_one_each() {
    // Two `up`s (here: two pipelines on two threads, each with its own repository) start apps
    // that both want `port` at the same moment. The apps bind half a second after starting, so
    // without the port lock both would choose `port`, one would die with "address already in
    // use", and its Health would take the other's answer for its own.
    let port = some_free_port();
    let start = Arc::new(std::sync::Barrier::new(2));
    let checked = Arc::new(std::sync::Barrier::new(2));
    let pipelines: Vec<_> = (0..2)
        .map(|_| {
            let (start, checked) = (start.clone(), checked.clone());
            std::thread::spawn(move || {
                let mut t =
                    TestApp::new(&pid_app(0.5), project("web", Some((port, Some("PORT"))), Some(Framework::Express)));
                start.wait();
                let runner = RunnerAgent::new().run(&mut t.board);
                let health = runner.and_then(|()| HealthAgent.run(&mut t.board));
                let outcome = health.map(|()| {
                    let (app, report) = (&t.board.apps[0], &t.board.health[0]);
                    let ProbeKind::Http { url } = &report.probe else { panic!("not an HTTP probe: {report:?}") };
                    assert!(t.board.apps[0].port_claim.held().is_none(), "Health let go of the port lock");
                    Outcome {
                        pid: app.pid,
                        port: app.port.unwrap(),
                        probe: report.probe.clone(),
                        detail: report.detail.clone(),
                        body: get_body(url),
                        notes: t
                            .recorder
                            .0
                            .lock()
                            .unwrap()
                            .iter()
                            .filter(|n| n.starts_with("note:"))
                            .cloned()
                            .collect(),
                    }
                });
                // Both apps still run while the other pipeline checks its own.
                checked.wait();
                outcome.map_err(|e| format!("{e}\nlog:\n{}", t.log()))
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = pipelines.into_iter().map(|p| p.join().unwrap().unwrap()).collect();
    eprintln!("{outcomes:#?}");

    assert_ne!(outcomes[0].port, outcomes[1].port, "two apps, two ports");
    assert!(outcomes.iter().any(|o| o.port == port), "one app got the port it wanted");
    for o in &outcomes {
        assert!(o.detail.starts_with("HTTP 200"), "{o:?}");
        assert!(matches!(&o.probe, ProbeKind::Http { url } if url.contains(&format!(":{}/", o.port))), "{o:?}");
        assert_eq!(o.body, format!("pid {}", o.pid), "each report is its own app's answer");
    }
    let moved = outcomes.iter().find(|o| o.port != port).unwrap();
    assert!(
        moved.notes.iter().any(|n| n.contains(&format!("port {port} is in use by another repo-run"))),
        "the app moved because the other pipeline held the port's lock: {:?}",
        moved.notes
    );
}

/// An HTTP server of the test process itself (not in any app's process group) answering 200
/// to every request, until dropped.
struct ForeignServer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ForeignServer {
    fn on(port: u16) -> ForeignServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                        // Read the whole request head: closing with unread bytes sends a
                        // reset, and the client would see that instead of the answer.
                        let mut head = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match conn.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let _ = conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nsomeone else");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ForeignServer { stop, thread: Some(thread) }
    }
}

impl Drop for ForeignServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn an_unrelated_listener_on_the_port_never_makes_a_dying_app_healthy() {
    // The app binds a second after it starts; in between, another program takes its port and
    // answers HTTP 200. The app dies with "address already in use", and Health says so.
    let mut t = TestApp::new(&pid_app(1.0), project("web", Some((some_free_port(), Some("PORT"))), None));
    RunnerAgent::new().run(&mut t.board).unwrap();
    let port = t.board.apps[0].port.unwrap();
    let _other = ForeignServer::on(port);
    assert_eq!(get_body(&format!("http://127.0.0.1:{port}/")), "someone else");

    let err = HealthAgent.run(&mut t.board).unwrap_err();
    eprintln!("{err}");
    let report = &t.board.health[0];
    assert!(!report.healthy, "{report:?}");
    assert_eq!(report.probe, ProbeKind::Process { pid: t.board.apps[0].pid });
    assert!(report.detail.starts_with("exited with status"), "{}", report.detail);
    assert!(err.message.contains("Address already in use"), "the log tail says why: {err}");
}

#[test]
fn an_unrelated_listener_on_the_port_never_makes_a_silent_app_healthy() {
    // The app never binds its port; another program answers on it all along.
    let app = "import time\nprint('starting', flush=True)\ntime.sleep(300)\n";
    let mut t = TestApp::new(app, project("web", Some((some_free_port(), Some("PORT"))), None));
    t.board.options.health_timeout = Duration::from_secs(3);
    RunnerAgent::new().run(&mut t.board).unwrap();
    let port = t.board.apps[0].port.unwrap();
    let _other = ForeignServer::on(port);

    let started = Instant::now();
    let err = HealthAgent.run(&mut t.board).unwrap_err();
    eprintln!("{err}");
    assert!(started.elapsed() >= Duration::from_secs(3), "it waited until the deadline");
    let report = &t.board.health[0];
    assert!(!report.healthy, "{report:?}");
    let holder = format!("pid {}", std::process::id());
    assert!(report.detail.contains("answers, but from") && report.detail.contains(&holder), "{}", report.detail);
    assert!(report.detail.contains(&format!("process group {}", t.board.apps[0].pid)), "{}", report.detail);
    assert!(t.board.apps[0].port_claim.held().is_none(), "the lock is let go once Health gives up");
}

#[test]
fn an_app_answering_only_server_errors_is_judged_before_the_deadline() {
    // Up and listening, but every request fails (a table that does not exist yet): waiting
    // for the deadline would only delay the Fixer.
    let app = http_app("").replace("self.send_response(200)", "self.send_response(500)");
    let mut t = TestApp::new(&app, project("web", Some((some_free_port(), Some("PORT"))), Some(Framework::Flask)));
    t.board.options.health_timeout = Duration::from_secs(60);
    RunnerAgent::new().run(&mut t.board).unwrap();
    let started = Instant::now();
    let err = HealthAgent.run(&mut t.board).unwrap_err();
    let took = started.elapsed();
    let report = &t.board.health[0];
    assert!(!report.healthy, "{report:?}");
    assert!(report.detail.starts_with("answers only HTTP 500"), "{}", report.detail);
    assert!(took < Duration::from_secs(30), "judged after {took:?}, not at the 60 s deadline");
    assert!(took >= Duration::from_secs(10), "a server error gets its grace first: {took:?}");
    assert!(err.failure.is_some(), "the Fixer gets the evidence");
}

/// A server on $PORT answering each path with the status `routes` gives it (404 otherwise).
fn routed_app(routes: &[(&str, u16)]) -> String {
    let table: Vec<String> = routes.iter().map(|(p, s)| format!("{p:?}: {s}")).collect();
    format!(
        r#"import http.server, os
routes = {{{}}}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(routes.get(self.path, 404))
        self.end_headers()
        self.wfile.write(b"relation \"users\" does not exist" if routes.get(self.path) == 500 else b"ok")
    def log_message(self, *args):
        pass
port = int(os.environ["PORT"])
print(f"listening on {{port}}", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#,
        table.join(", ")
    )
}

fn with_health_path(mut p: Project, path: &str) -> Project {
    p.health_paths =
        vec![HealthPathFinding { path: path.into(), evidence: vec![Evidence::new("app.py", Some(7), "test")] }];
    p
}

#[test]
fn a_health_route_answering_500_is_a_failure_even_when_root_answers_404() {
    let port = some_free_port();
    let p = with_health_path(project("api", Some((port, Some("PORT"))), Some(Framework::Flask)), "/health");
    let mut t = TestApp::new(&routed_app(&[("/health", 500)]), p);
    RunnerAgent::new().run(&mut t.board).unwrap();
    let err = HealthAgent.run(&mut t.board).unwrap_err();
    eprintln!("{err}");
    let report = &t.board.health[0];
    assert!(!report.healthy, "{report:?}");
    assert!(report.detail.contains("answers only HTTP 500"), "{}", report.detail);
    assert!(matches!(&report.probe, ProbeKind::Http { url } if url.ends_with("/health")), "{report:?}");
    let failure = err.failure.expect("typed evidence for the Fixer");
    assert_eq!(failure.project, ".");
}

#[test]
fn the_health_route_is_probed_first_and_a_404_there_falls_back_to_root() {
    let port = some_free_port();
    let p = with_health_path(project("api", Some((port, Some("PORT"))), Some(Framework::Flask)), "/healthz");
    let mut t = TestApp::new(&routed_app(&[("/healthz", 204), ("/", 500)]), p);
    RunnerAgent::new().run(&mut t.board).unwrap();
    HealthAgent.run(&mut t.board).unwrap();
    let report = &t.board.health[0];
    assert!(report.healthy && report.detail.starts_with("HTTP 204 from /healthz"), "{report:?}");

    // Declared under a prefix the scan cannot see: `/healthz` is 404, `/` decides.
    let port = some_free_port();
    let p = with_health_path(project("web", Some((port, Some("PORT"))), Some(Framework::Flask)), "/healthz");
    let mut t = TestApp::new(&routed_app(&[("/", 200)]), p);
    RunnerAgent::new().run(&mut t.board).unwrap();
    HealthAgent.run(&mut t.board).unwrap();
    let report = &t.board.health[0];
    assert!(report.healthy && report.detail.starts_with("HTTP 200 in"), "{report:?}");
}
