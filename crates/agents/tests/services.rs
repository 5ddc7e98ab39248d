//! The DB agent against the real Docker engine.
//!
//! Images: the official ones by default; on a machine without a registry, run
//! `cargo xtask images` and export the `REPO_RUN_*_IMAGE` lines it prints (`cargo xtask test`
//! does both). A missing image fails the test with that advice; nothing is skipped.
//! Every test removes what it started by label, even when it fails ([`TestProject`]'s Drop).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use repo_run_agents::plan::ServiceKind;
use repo_run_agents::services::{
    DownOptions, PROJECT_LABEL, ProjectId, RunningService, ServiceError, ServiceRequest, Services, catalogue, env_vars,
};

/// Docker tests run one at a time: they compete for the usual ports and for two CPU cores.
static DOCKER: Mutex<()> = Mutex::new(());

/// A project in a temporary directory whose containers and volumes are removed on drop.
struct TestProject {
    services: Services,
    id: ProjectId,
    _dir: tempfile::TempDir,
    _serial: MutexGuard<'static, ()>,
}

impl TestProject {
    fn new() -> Self {
        let serial = DOCKER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tempfile::Builder::new().prefix("repo-run-db-test").tempdir().unwrap();
        let id = ProjectId::for_path(dir.path()).unwrap();
        let services = Services::connect().unwrap_or_else(|e| panic!("these tests need a Docker engine: {e}"));
        TestProject { services, id, _dir: dir, _serial: serial }
    }

    fn up(&self, requests: &[ServiceRequest]) -> Vec<RunningService> {
        let running = self.services.up(&self.id, requests).unwrap_or_else(|e| {
            panic!(
                "{e}\nhint: on a machine without a registry, run `cargo xtask images` and export the lines it prints"
            )
        });
        for s in &running {
            eprintln!(
                "{}: ready {:.2} s after create (reused: {}) at {}",
                s.kind,
                s.ready_after.as_secs_f64(),
                s.reused,
                s.url
            );
        }
        running
    }

    fn down(&self, remove_volumes: bool) -> repo_run_agents::services::Teardown {
        self.services.down(&self.id, DownOptions { remove_volumes }).unwrap()
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        if let Err(e) = self.services.down(&self.id, DownOptions { remove_volumes: true }) {
            eprintln!("cleaning up {}: {e}", self.id);
        }
    }
}

fn find(running: &[RunningService], kind: ServiceKind) -> &RunningService {
    running.iter().find(|s| s.kind == kind).unwrap_or_else(|| panic!("{kind} is not running"))
}

/// Runs SQL through `psql` (the host's client) against `url`; stdout, or stderr on failure.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([url, "-X", "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql (the PostgreSQL client) is needed by this test: {e}"));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// One Redis command over RESP on a fresh connection; the reply's first line.
fn redis(port: u16, args: &[&str]) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for a in args {
        request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    if let Some(len) = line.strip_prefix('$').and_then(|n| n.trim().parse::<usize>().ok()) {
        let mut value = vec![0; len];
        reader.read_exact(&mut value).unwrap();
        return String::from_utf8(value).unwrap();
    }
    line.trim_end().to_owned()
}

/// What `docker ps -a` shows for a project's label: the CLI's view, independent of bollard.
fn docker_ps(project: &ProjectId) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter", &format!("label={PROJECT_LABEL}={project}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn postgres_and_redis_keep_data_across_down_and_lose_it_with_volumes() {
    let p = TestProject::new();
    let requests =
        [ServiceRequest::with_database(ServiceKind::Postgres, "shop"), ServiceRequest::new(ServiceKind::Redis)];

    let running = p.up(&requests);
    let (pg, rd) = (find(&running, ServiceKind::Postgres), find(&running, ServiceKind::Redis));
    assert_eq!(pg.url, format!("postgres://repo_run:repo_run@127.0.0.1:{}/shop", pg.host_port));
    assert_eq!(pg.url_env[0], "DATABASE_URL");
    assert_eq!(rd.url, format!("redis://127.0.0.1:{}", rd.host_port));
    assert!(!pg.reused && !rd.reused);
    // Real protocol exchanges, from the host, through the published ports.
    assert_eq!(psql(&pg.url, "SHOW server_encoding").unwrap(), "UTF8");
    psql(&pg.url, "CREATE TABLE orders (item text); INSERT INTO orders VALUES ('kept')").unwrap();
    assert_eq!(redis(rd.host_port, &["PING"]), "+PONG");
    assert_eq!(redis(rd.host_port, &["SET", "greeting", "kept"]), "+OK");

    let names = [p.id.resource_name(ServiceKind::Postgres), p.id.resource_name(ServiceKind::Redis)];
    let mut listed = docker_ps(&p.id);
    listed.sort();
    assert_eq!(listed, names);

    // Down without volumes: containers gone, volumes (and data) kept.
    let removed = p.down(false);
    assert_eq!(removed.containers, names);
    assert!(removed.volumes.is_empty());
    assert!(docker_ps(&p.id).is_empty());
    assert_eq!(p.services.resources(&p.id).unwrap().volumes, names);

    let running = p.up(&requests);
    let (pg, rd) = (find(&running, ServiceKind::Postgres), find(&running, ServiceKind::Redis));
    assert_eq!(psql(&pg.url, "SELECT item FROM orders").unwrap(), "kept");
    assert_eq!(redis(rd.host_port, &["GET", "greeting"]), "kept");

    // Another database named by the app is created in the running (kept) container.
    let running = p.up(&[ServiceRequest::with_database(ServiceKind::Postgres, "billing")]);
    let billing = find(&running, ServiceKind::Postgres);
    assert!(billing.reused);
    assert!(billing.url.ends_with("/billing"), "{}", billing.url);
    assert_eq!(psql(&billing.url, "SELECT current_database()").unwrap(), "billing");

    // Down with volumes: everything gone, and the next start is empty.
    let removed = p.down(true);
    assert_eq!(removed.volumes, names);
    let left = p.services.resources(&p.id).unwrap();
    assert!(left.containers.is_empty() && left.volumes.is_empty(), "{left:?}");

    let running = p.up(&requests);
    let (pg, rd) = (find(&running, ServiceKind::Postgres), find(&running, ServiceKind::Redis));
    let err = psql(&pg.url, "SELECT item FROM orders").unwrap_err();
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(redis(rd.host_port, &["GET", "greeting"]), "$-1");
}

#[test]
fn busy_usual_port_gives_another_port_and_the_url_carries_it() {
    let p = TestProject::new();
    // Hold the usual port; if something else already holds it, it is just as busy.
    let _holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 6379));
    assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, 6379)).is_err());

    let running = p.up(&[ServiceRequest::new(ServiceKind::Redis)]);
    let rd = find(&running, ServiceKind::Redis);
    assert_ne!(rd.host_port, 6379);
    assert_eq!(rd.url, format!("redis://127.0.0.1:{}", rd.host_port));
    assert_eq!(redis(rd.host_port, &["PING"]), "+PONG");
}

#[test]
fn unreachable_daemon_is_a_clear_and_quick_error() {
    let dir = tempfile::tempdir().unwrap();
    // No socket at all.
    let host = format!("unix://{}", dir.path().join("docker.sock").display());
    let started = Instant::now();
    let Err(err) = Services::connect_to(&host) else { panic!("connected to a missing socket") };
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(matches!(err, ServiceError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&host) && text.contains("DOCKER_HOST"), "{text}");

    // A socket that accepts connections and never answers: the connect timeout ends the wait.
    let path = dir.path().join("silent.sock");
    let _silent = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let started = Instant::now();
    let Err(err) = Services::connect_to(&format!("unix://{}", path.display())) else {
        panic!("a silent socket answered")
    };
    let waited = started.elapsed();
    assert!(waited >= Services::CONNECT_TIMEOUT && waited < Services::CONNECT_TIMEOUT * 2, "{waited:?}");
    assert!(err.to_string().contains("no answer within"), "{err}");
}

#[test]
fn missing_image_names_the_image_the_override_and_the_fix() {
    let p = TestProject::new();
    assert!(
        std::env::var_os(env_vars::REPO_RUN_MONGODB_IMAGE).is_none(),
        "unset REPO_RUN_MONGODB_IMAGE for this test: it would replace the missing image"
    );
    let request =
        ServiceRequest { image: Some("repo-run-test/absent:0".into()), ..ServiceRequest::new(ServiceKind::Mongodb) };
    let err = p.services.up(&p.id, &[request]).unwrap_err();
    assert!(matches!(err, ServiceError::MissingImage { .. }), "{err:?}");
    let text = err.to_string();
    for needle in ["repo-run-test/absent:0", "REPO_RUN_MONGODB_IMAGE", "cargo xtask images"] {
        assert!(text.contains(needle), "`{needle}` missing from: {text}");
    }
    // Nothing was created for it.
    let left = p.services.resources(&p.id).unwrap();
    assert!(left.containers.is_empty() && left.volumes.is_empty(), "{left:?}");
}

#[test]
fn a_container_that_exits_is_reported_with_its_last_log_lines() {
    let p = TestProject::new();
    assert!(
        std::env::var_os(env_vars::REPO_RUN_MYSQL_IMAGE).is_none(),
        "unset REPO_RUN_MYSQL_IMAGE for this test: it chooses the image itself"
    );
    // The PostgreSQL image given MySQL's environment has no POSTGRES_PASSWORD and exits at once.
    let postgres_image = std::env::var(env_vars::REPO_RUN_POSTGRES_IMAGE).unwrap_or_else(|_| "postgres:16".into());
    let request = ServiceRequest { image: Some(postgres_image), ..ServiceRequest::new(ServiceKind::Mysql) };
    let started = Instant::now();
    let err = p.services.up(&p.id, &[request]).unwrap_err();
    let ServiceError::NotReady { service, ref reason, ref logs, .. } = err else { panic!("{err:?}") };
    assert_eq!(service, ServiceKind::Mysql);
    assert!(reason.contains("exited"), "{reason}");
    assert!(logs.contains("POSTGRES_PASSWORD"), "{logs}");
    assert!(err.to_string().contains("last log lines"), "{err}");
    // It did not wait for the readiness deadline.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    // What failed is still labelled, so teardown finds it.
    assert_eq!(docker_ps(&p.id), [p.id.resource_name(ServiceKind::Mysql)]);
    p.down(true);
    assert!(docker_ps(&p.id).is_empty());
}

#[test]
fn docker_host_names_the_daemon() {
    const CHILD: &str = "REPO_RUN_DB_TEST_CHILD";
    let dead = "unix:///nonexistent/repo-run/docker.sock";
    if std::env::var_os(CHILD).is_some() {
        let Err(err) = Services::connect() else { panic!("connected through {dead}") };
        assert!(err.to_string().contains(dead), "{err}");
        return;
    }
    // The environment is the process's: the check runs in a child of this test binary.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "docker_host_names_the_daemon"])
        .env(CHILD, "1")
        .env(env_vars::DOCKER_HOST, dead)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs a command in a container through the Docker CLI; stdout, or the error output.
fn docker_exec(container: &str, command: &[&str]) -> Result<String, String> {
    let out = Command::new("docker").arg("exec").arg(container).args(command).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
    if out.status.success() { Ok(text(&out.stdout)) } else { Err(text(&out.stderr)) }
}

/// The MySQL protocol's first packet: the server greets with its version.
fn mysql_greeting(port: u16) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut header = [0; 4];
    stream.read_exact(&mut header).unwrap();
    let mut payload = vec![0; usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16];
    stream.read_exact(&mut payload).unwrap();
    assert_eq!(payload[0], 10, "protocol version");
    let end = payload[1..].iter().position(|&b| b == 0).unwrap();
    String::from_utf8_lossy(&payload[1..=end]).into_owned()
}

/// AMQP 0-9-1 up to authentication: the protocol header, Connection.Start from the server,
/// Connection.StartOk with PLAIN credentials, then the server's next method: (10, 30)
/// Connection.Tune when the credentials are accepted.
fn amqp_login(port: u16, user: &str, password: &str) -> (u16, u16) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"AMQP\x00\x00\x09\x01").unwrap();
    let read_method = |stream: &mut TcpStream| -> (u16, u16) {
        let mut header = [0; 7];
        stream.read_exact(&mut header).unwrap();
        assert_eq!(header[0], 1, "a method frame");
        let size = u32::from_be_bytes(header[3..7].try_into().unwrap()) as usize;
        let mut payload = vec![0; size + 1];
        stream.read_exact(&mut payload).unwrap();
        (u16::from_be_bytes([payload[0], payload[1]]), u16::from_be_bytes([payload[2], payload[3]]))
    };
    assert_eq!(read_method(&mut stream), (10, 10), "Connection.Start");
    let response = format!("\0{user}\0{password}");
    let mut args = vec![0, 10, 0, 11, 0, 0, 0, 0, 5];
    args.extend(b"PLAIN");
    args.extend((response.len() as u32).to_be_bytes());
    args.extend(response.as_bytes());
    args.push(5);
    args.extend(b"en_US");
    let mut frame = vec![1, 0, 0];
    frame.extend((args.len() as u32).to_be_bytes());
    frame.extend(&args);
    frame.push(0xce);
    stream.write_all(&frame).unwrap();
    read_method(&mut stream)
}

#[test]
fn mariadb_and_rabbitmq_come_up_with_working_credentials() {
    let p = TestProject::new();
    let requests =
        [ServiceRequest::with_database(ServiceKind::Mariadb, "shop"), ServiceRequest::new(ServiceKind::Rabbitmq)];
    let running = p.up(&requests);
    let (db, mq) = (find(&running, ServiceKind::Mariadb), find(&running, ServiceKind::Rabbitmq));

    assert_eq!(db.url, format!("mysql://repo_run:repo_run@127.0.0.1:{}/shop", db.host_port));
    assert!(mysql_greeting(db.host_port).contains("MariaDB"));
    // The URL's user reaches the database the app named, over TCP.
    let sql = "CREATE TABLE orders (item text); INSERT INTO orders VALUES ('kept'); SELECT item FROM orders";
    let out = docker_exec(
        &db.container,
        &["mariadb", "-h", "127.0.0.1", "-urepo_run", "-prepo_run", "shop", "-N", "-e", sql],
    );
    assert_eq!(out.unwrap(), "kept");

    assert_eq!(mq.url, format!("amqp://repo_run:repo_run@127.0.0.1:{}/%2F", mq.host_port));
    assert_eq!(mq.url_env[0], "AMQP_URL");
    assert_eq!(amqp_login(mq.host_port, "repo_run", "repo_run"), (10, 30), "Connection.Tune");

    // Data survives a down without volumes.
    p.down(false);
    let running = p.up(&requests);
    let db = find(&running, ServiceKind::Mariadb);
    let out = docker_exec(
        &db.container,
        &["mariadb", "-h", "127.0.0.1", "-urepo_run", "-prepo_run", "shop", "-N", "-e", "SELECT item FROM orders"],
    );
    assert_eq!(out.unwrap(), "kept");
}

/// The built-in Redis entry with its exec probe replaced by a log line.
fn redis_with_log_probe(line: &str, timeout_secs: u64) -> ServiceRequest {
    let text = include_str!("../../../templates/services/redis.toml");
    let start = text.find("[readiness]").unwrap();
    let text = format!("{}[readiness]\nlog = \"{line}\"\ntimeout_secs = {timeout_secs}\n", &text[..start]);
    let definition = catalogue::parse("redis-log.toml", &text).unwrap();
    ServiceRequest { definition: Some(definition), ..ServiceRequest::new(ServiceKind::Redis) }
}

#[test]
fn a_log_line_can_prove_readiness() {
    let p = TestProject::new();
    let running = p.up(&[redis_with_log_probe("Ready to accept connections", 30)]);
    assert_eq!(redis(running[0].host_port, &["PING"]), "+PONG");
}

#[test]
fn a_service_not_ready_by_its_deadline_is_reported_with_its_log() {
    let p = TestProject::new();
    let started = Instant::now();
    let err = p.services.up(&p.id, &[redis_with_log_probe("a line redis never prints", 3)]).unwrap_err();
    let ServiceError::NotReady { ref reason, ref logs, .. } = err else { panic!("{err:?}") };
    assert!(reason.contains("seen 0 of 1 times"), "{reason}");
    assert!(logs.contains("Ready to accept connections"), "{logs}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(10), "{waited:?}");
}
