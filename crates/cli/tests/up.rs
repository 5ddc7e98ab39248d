//! `repo-run up` end to end: the real binary on copies of the fixtures, the real Docker engine,
//! real package managers (npm from the local registry `cargo xtask npm-registry` builds, pip
//! from PyPI, cargo from crates.io). Every test ends with `down --volumes` (also when it
//! fails: [`Project`]'s Drop) and checks nothing is left: no container, no process.
//!
//! Images: on a machine without a registry, `cargo xtask test` builds local ones and exports
//! `REPO_RUN_*_IMAGE`; elsewhere the official tags are pulled. Nothing here is skipped.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::up::{Project, alive, app_url, assert_all_gone, http, labelled, npm_registry, pids, which};

#[test]
fn python_flask_on_redis_comes_up_healthy_and_goes_down_clean() {
    let p = Project::copy("python-flask-redis");
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["status"], "healthy");
    assert!(p.path().join(".venv/bin/python").exists(), "dependencies go into the project's .venv");
    let url = app_url(&report);
    // The count lives in Redis (the health check's own GET counted too).
    let seen = |body: &str| -> u64 {
        body.trim()
            .strip_prefix("Hello! Seen ")
            .and_then(|r| r.strip_suffix(" times."))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected body {body:?}"))
    };
    let (status, body) = http("GET", &url, None);
    assert_eq!(status, 200);
    let first = seen(&body);
    assert_eq!(seen(&http("GET", &url, None).1), first + 1);

    let status = p.run(&["status", "--json"]);
    assert!(status.status.success());
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["apps"][0]["running"], true);
    assert_eq!(status["services"][0]["service"], "redis");
    assert_eq!(status["services"][0]["running"], true);

    let name = report["apps"][0]["name"].as_str().unwrap();
    let logs = p.run(&["logs", name]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("GET / HTTP"), "the app's log is kept");

    let id = p.project_id();
    p.down(false);
    assert_all_gone(&id, &pids(&report));
    assert!(!p.path().join(".repo-run/state.json").exists());
    assert_eq!(labelled("volume", &id).len(), 1, "down keeps the data volume");
    p.down(true);
    assert!(labelled("volume", &id).is_empty(), "down --volumes deletes it");
}

/// The fixture pins Python 3.7.4; this machine's `python3` is 3.11 and pyenv has 3.7.16: the
/// plan chooses 3.7.16, the venv is made by it, and Flask 1.0 serves on it.
#[test]
fn a_flask_app_pinned_to_python_3_7_comes_up_on_the_installed_3_7() {
    let p = Project::copy("python-flask-py37");
    let plan = p.run(&["plan", "--json"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let python = &plan["requirements"][0]["runtimes"][0];
    assert_eq!((python["status"].as_str(), python["selected"]["version"].as_str()), (Some("ok"), Some("3.7.16")));
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    let venv = Command::new(p.path().join(".venv/bin/python")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&venv.stdout).trim(), "Python 3.7.16");
    let (status, body) = http("GET", &app_url(&report), None);
    assert_eq!((status, body.as_str()), (200, "hello from Python 3.7"));
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn a_dead_docker_daemon_is_a_service_failure_with_a_hint() {
    let mut p = Project::copy("python-flask-redis");
    p.env.push(("DOCKER_HOST".into(), "unix:///nonexistent/docker.sock".into()));
    let started = Instant::now();
    let report_path = p.path().join("r.json");
    let out = p.run(&["up", "-d", "--ci", "--report", report_path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "exit code 4: services failed");
    assert!(stderr.contains("unix:///nonexistent/docker.sock") && stderr.contains("DOCKER_HOST"), "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    assert_eq!(report["status"], "services_failed");
    assert_eq!(report["failed_stage"], "db");
    assert!(report["apps"].as_array().unwrap().is_empty(), "no app was started");
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn a_missing_runtime_stops_before_anything_starts() {
    // Go is not installed on the test machines (and when it is, the required version is not).
    let p = Project::copy("go-gin-redis");
    let out = p.run(&["up", "-d", "--ci"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if which("go") {
        eprintln!("go is installed here: the check below uses its message either way");
    }
    assert_eq!(out.status.code(), Some(3), "exit code 3: setup failed\n{stderr}");
    assert!(stderr.contains("go"), "{stderr}");
    assert!(!p.path().join(".repo-run/state.json").exists(), "nothing was started");
    let id = repo_id(p.path());
    assert!(labelled("container", &id).is_empty());
}

/// The project id repo-run labels this checkout's resources with.
fn repo_id(dir: &Path) -> String {
    repo_run_agents::services::ProjectId::for_path(dir).unwrap().to_string()
}

#[test]
fn a_busy_port_moves_the_app_and_it_gets_the_right_url() {
    let p = Project::copy("python-flask-redis");
    // Hold the app's usual port (5000) the way another program would.
    let _holder = TcpListener::bind("0.0.0.0:5000").or_else(|_| TcpListener::bind("127.0.0.1:5000"));
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    let port = report["apps"][0]["port"].as_u64().unwrap();
    assert_ne!(port, 5000, "the app moved off the busy port");
    let (status, _) = http("GET", &app_url(&report), None);
    assert_eq!(status, 200);
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn an_app_crashing_at_start_is_reported_with_its_log() {
    let p = Project::copy("python-flask-redis");
    // Still the fixture's shape (detection picks `python app.py` with its port), but it dies
    // before serving.
    std::fs::write(
        p.path().join("app.py"),
        "import os, sys\nfrom flask import Flask\napp = Flask(__name__)\n\nif __name__ == '__main__':\n    \
         print('fatal: cannot read config/settings.yaml', flush=True)\n    sys.exit(3)\n    \
         app.run(host='0.0.0.0', port=int(os.environ.get('PORT', 5000)))\n",
    )
    .unwrap();
    let (code, report) = p.up();
    assert_eq!(code, 5, "exit code 5: health failed\n{report:#}");
    assert_eq!(report["status"], "unhealthy");
    let text = report.to_string();
    assert!(text.contains("fatal: cannot read config/settings.yaml"), "the log lines are in the report: {report:#}");
    assert!(!p.path().join(".repo-run/state.json").exists(), "a failed up stops what it started");
}

/// `up` in the foreground, once it is healthy (it writes its report then, and keeps running).
fn up_in_the_foreground(p: &Project) -> (Child, Value) {
    let path = p.path().join("r.json");
    let mut child = p
        .command(&["up", "--ci", "--report", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("up exited early with {status}");
        }
        assert!(start.elapsed() < Duration::from_secs(300), "up was not healthy within 300 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (child, report)
}

#[test]
fn ctrl_c_in_the_foreground_stops_everything() {
    let p = Project::copy("python-flask-redis");
    let (mut child, report) = up_in_the_foreground(&p);
    let id = p.project_id();
    assert_eq!(labelled("container", &id).len(), 1);
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(status.success(), "a healthy run stopped by the user exits 0: {status}");
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn ctrl_c_during_up_stops_what_was_started() {
    let p = Project::copy("python-flask-redis");
    // An app that never becomes healthy keeps `up` busy in the Health stage.
    std::fs::write(
        p.path().join("app.py"),
        "import os, time\nfrom flask import Flask\napp = Flask(__name__)\ntime.sleep(600)\n\nif __name__ == '__main__':\n    \
         app.run(host='0.0.0.0', port=int(os.environ.get('PORT', 5000)))\n",
    )
    .unwrap();
    let mut child = p.command(&["up", "--ci"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let state = p.path().join(".repo-run/state.json");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&state).unwrap_or_default();
        if text.contains("\"pid\"") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "the app never started");
        assert!(child.try_wait().unwrap().is_none(), "up exited early");
        std::thread::sleep(Duration::from_millis(200));
    }
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let id = recorded["project_id"].as_str().unwrap().to_owned();
    let app_pid = recorded["apps"][0]["pid"].as_u64().unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_all_gone(&id, &[app_pid]);
}

#[test]
fn down_after_repo_run_was_killed_uses_the_state_file() {
    let p = Project::copy("python-flask-redis");
    let (mut child, report) = up_in_the_foreground(&p);
    let id = p.project_id();
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let app_pids = pids(&report);
    assert!(app_pids.iter().all(|&pid| alive(pid)), "apps outlive a killed repo-run (own process groups)");
    p.down(true);
    assert_all_gone(&id, &app_pids);
}

/// The local npm registry (`cargo xtask npm-registry`, exported by `cargo xtask test`), served
/// on loopback for as long as the returned guard lives.
#[test]
fn node_express_on_postgres_migrates_and_keeps_its_data_across_down() {
    let mut p = Project::copy("node-express-pg-migrate");
    let _registry = npm_registry(&mut p);
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    assert!(p.path().join("node_modules/express/package.json").exists());
    let url = app_url(&report);
    assert_eq!(http("GET", &url, None).0, 200);
    let (status, _) = http("POST", &format!("{url}todos"), Some(r#"{"title":"buy milk"}"#));
    assert!(status == 200 || status == 201, "POST /todos → {status}");
    assert!(http("GET", &format!("{url}todos"), None).1.contains("buy milk"));
    let id = p.project_id();

    // down keeps the volume: the row is still there after the next up, and nothing is
    // installed again.
    p.down(false);
    assert_all_gone(&id, &pids(&report));
    let (code, warm) = p.up();
    assert_eq!(code, 0, "{warm:#}");
    assert!(warm["setup"].as_array().unwrap().iter().all(|s| s["skipped"] == true), "{warm:#}");
    let url = app_url(&warm);
    assert!(http("GET", &format!("{url}todos"), None).1.contains("buy milk"), "data survives down/up");

    // down --volumes deletes it: a fresh, migrated, empty database.
    p.down(true);
    let (code, fresh) = p.up();
    assert_eq!(code, 0, "{fresh:#}");
    let (status, body) = http("GET", &format!("{}todos", app_url(&fresh)), None);
    assert_eq!(status, 200, "the migration ran again on the new volume: {body}");
    assert!(!body.contains("buy milk"), "down --volumes deleted the data: {body}");
    p.down(true);
    assert_all_gone(&id, &pids(&fresh));
    assert!(labelled("volume", &id).is_empty());
}

#[test]
fn rust_axum_on_postgres_builds_after_the_database_and_serves() {
    let mut p = Project::copy("rust-axum-postgres");
    // The fixture's Cargo.lock only names the package (it is a detection sample): let cargo
    // resolve from crates.io.
    std::fs::remove_file(p.path().join("Cargo.lock")).unwrap();
    // Compiled dependencies are kept between runs in the workspace's target dir.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    p.env.push(("CARGO_TARGET_DIR".into(), target.join("e2e-fixtures").display().to_string()));
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    let (status, body) = http("GET", &format!("{}health", app_url(&report)), None);
    assert_eq!((status, body.as_str()), (200, "ok"));
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

/// `PATH` without any directory that holds `tool`, so that a test can count on it missing.
fn path_without(tool: &str) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<_> = std::env::split_paths(&path).filter(|d| !d.join(tool).exists()).collect();
    std::env::join_paths(kept).unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_monorepo_brings_up_the_apps_that_can_come_up_and_names_the_rest() {
    // `web/` needs Bun, taken off PATH here; `api/` needs only Python.
    let mut p = Project::copy("monorepo-partial");
    p.env.push(("PATH".into(), path_without("bun")));
    let (code, report) = p.up();
    assert_eq!(code, 6, "some apps healthy, others not\n{report:#}");
    assert_eq!(report["status"], "partial", "{report:#}");
    let dropped = report["dropped"].as_array().expect("the projects given up on");
    assert_eq!(dropped.len(), 1, "{report:#}");
    assert_eq!(dropped[0]["project"], "web");
    assert_eq!(dropped[0]["stage"], "setup");
    assert!(dropped[0]["message"].as_str().unwrap().contains("bun"), "{report:#}");
    let apps = report["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "only the api runs: {report:#}");
    assert_eq!(apps[0]["project"], "api");
    assert!(report["health"].as_array().unwrap().iter().all(|h| h["healthy"] == true), "{report:#}");
    let (status, text) = http("GET", &app_url(&report), None);
    assert!(status == 200 && text.contains("api ok"), "{status} {text}");
    // `status` agrees: what runs is healthy.
    let out = p.run(&["status"]);
    assert!(out.status.success(), "status after a partial up");
    let id = p.project_id();
    p.down(false);
    assert_all_gone(&id, &pids(&report));
}

/// Compiled dependencies of the Rust fixtures are kept between runs in the workspace's target
/// dir (one build of diesel or sqlx takes minutes on two cores).
fn fixture_target_dir() -> String {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("e2e-fixtures").display().to_string()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// `sql` through psql in the report's PostgreSQL container (a second client: docker's CLI),
/// on the database the service URL names; one line per row, `|` between columns.
fn psql(report: &Value, sql: &str) -> String {
    let services = report["services"].as_array().expect("services in the report");
    let pg = services.iter().find(|s| s["service"] == "postgres").expect("a postgres service");
    let url = pg["url"].as_str().expect("its URL");
    // postgres://USER:PASSWORD@HOST:PORT/DATABASE
    let rest = url.split_once("://").expect("a URL").1;
    let user = rest.split([':', '@']).next().unwrap();
    let database = rest.rsplit('/').next().unwrap().split('?').next().unwrap();
    let container = pg["container"].as_str().expect("its container");
    let out = Command::new("docker")
        .args(["exec", container, "psql", "-X", "-tA", "-U", user, "-d", database, "-c", sql])
        .output()
        .expect("the docker CLI");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A migration step of the report (the DB stage's), by its command.
fn migration_step(report: &Value, needle: &str) -> Value {
    let steps = report["steps"].as_array().expect("steps in the report");
    steps.iter().find(|s| s["command"].as_str().is_some_and(|c| c.contains(needle))).cloned().unwrap_or_else(|| {
        panic!("no step running `{needle}` in {report:#}");
    })
}

#[test]
fn rust_diesel_migrations_apply_without_the_diesel_cli_and_the_app_finds_them_applied() {
    assert!(!on_path("diesel"), "this test is about a machine without the Diesel CLI");
    let mut p = Project::copy("rust-diesel-postgres");
    p.env.push(("CARGO_TARGET_DIR".into(), fixture_target_dir()));
    let started = Instant::now();
    let (code, report) = p.up();
    let first = started.elapsed();
    assert_eq!(code, 0, "{report:#}");
    migration_step(&report, "the Diesel CLI not installed");
    // The app's own run_pending_migrations found nothing pending: repo-run's records are Diesel's.
    let url = app_url(&report);
    let (status, body) = http("GET", &url, None);
    assert_eq!(
        (status, body.as_str()),
        (200, "hello from a diesel migration; migrations run at start: 0"),
        "the table the migration created, read by the app"
    );
    let versions = "SELECT version FROM __diesel_schema_migrations ORDER BY version";
    assert_eq!(psql(&report, versions), "00000000000000\n20240115120000\n20240201090000");
    // CREATE INDEX CONCURRENTLY ran outside a transaction, as its metadata.toml asks.
    assert_eq!(psql(&report, "SELECT indexname FROM pg_indexes WHERE indexname = 'greetings_text'"), "greetings_text");
    assert_eq!(psql(&report, "SELECT count(*) FROM greetings"), "1");

    // The next up (the volume kept) applies nothing twice.
    let id = p.project_id();
    p.down(false);
    assert_all_gone(&id, &pids(&report));
    let started = Instant::now();
    let (code, again) = p.up();
    let second = started.elapsed();
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(http("GET", &app_url(&again), None).1, "hello from a diesel migration; migrations run at start: 0");
    assert_eq!(psql(&again, "SELECT count(*) FROM __diesel_schema_migrations"), "3");
    assert_eq!(psql(&again, "SELECT count(*) FROM greetings"), "1", "the seed row was not inserted twice");
    eprintln!(
        "diesel fixture: first up {first:.1?} (its build included; cold when the target dir is new), second up {second:.1?}"
    );
    p.down(true);
    assert_all_gone(&id, &pids(&again));
}

#[test]
fn rust_sqlx_query_macros_build_after_repo_run_migrates_and_the_apps_migrate_finds_them_applied() {
    assert!(!on_path("sqlx"), "this test is about a machine without the sqlx CLI");
    let mut p = Project::copy("rust-sqlx-query-macros");
    p.env.push(("CARGO_TARGET_DIR".into(), fixture_target_dir()));
    let plan = p.run(&["plan", "--json"]);
    assert!(plan.status.success());
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let kinds: Vec<&str> = plan["steps"].as_array().unwrap().iter().filter_map(|s| s["kind"].as_str()).collect();
    let migrate = kinds.iter().position(|k| *k == "migrate").expect("a migrate step");
    assert!(migrate < kinds.iter().position(|k| *k == "build").unwrap(), "{kinds:?}");
    let why = plan["steps"][migrate]["why"].as_str().unwrap();
    assert!(why.contains("migrations before build: sqlx query! macros check against the database"), "{why}");
    assert!(why.contains("src/main.rs:21"), "{why}");

    let started = Instant::now();
    let (code, report) = p.up();
    let first = started.elapsed();
    assert_eq!(code, 0, "the query! macros compiled against the migrated database\n{report:#}");
    migration_step(&report, "the sqlx CLI not installed");
    assert_eq!(http("GET", &app_url(&report), None), (200, "first user: jake".to_owned()));
    // Recorded as sqlx records them: the app's `migrate!()` compared these checksums at start.
    let recorded =
        psql(&report, "SELECT version, success, encode(checksum, 'hex') FROM _sqlx_migrations ORDER BY version");
    let sha384 = |file: &str| -> String {
        let out = Command::new("sha384sum").arg(p.path().join("migrations").join(file)).output().unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_owned()
    };
    let expected = format!(
        "20240101000000|t|{}\n20240102000000|t|{}",
        sha384("20240101000000_create_users.sql"),
        sha384("20240102000000_seed_users.sql")
    );
    assert_eq!(recorded, expected);
    assert_eq!(psql(&report, "SELECT count(*) FROM \"user\""), "1", "the seed ran once");
    eprintln!("sqlx fixture: up {first:.1?} (its build included; cold when the target dir is new)");
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn a_start_command_only_the_readme_gives_is_chosen_by_the_detection_model_and_served() {
    // No Procfile, no [project.scripts], no Dockerfile: the README's code block is the only
    // place that says `python -m pinger serve 8000`. Rules offer it (the module exists), the
    // default Detection model (SmolLM2) chooses it under the grammar, and it serves.
    let p = Project::copy("python-start-in-readme-only");
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    let decision = &report["decisions"][0];
    assert_eq!(decision["project"], ".");
    assert_eq!(decision["question"], "start");
    assert_eq!(decision["answer"], "python -m pinger serve 8000");
    assert_eq!(decision["agent"], "detection");
    assert!(decision["model"].as_str().unwrap().ends_with(".gguf"), "{decision:#}");
    assert_eq!(decision["validated"], "module pinger is src/pinger/__main__.py");
    assert_eq!(report["apps"][0]["command"], "python -m pinger serve 8000");
    assert_eq!(http("GET", &app_url(&report), None), (200, "pong\n".to_owned()));

    // The human plan marks the model's decision.
    let plan = p.run(&["plan"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("chosen by the detection model"), "{text}");
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn a_variable_only_its_use_explains_is_classified_by_the_requirements_model_with_its_provenance() {
    // `SHARE_MIX` is read with no default and used as an HMAC key; its name says nothing rules
    // know. The default Requirements model (SmolLM2) classifies it and `SHARE_COPY_TO` under the
    // grammar; whatever it answers is recorded with its provenance, and an answer that changes
    // the run (a generated value) counts only where the code supports it (`hmac`). Accuracy is
    // `repo-run eval`'s to measure; here each branch is checked for what it must do.
    let p = Project::copy("python-env-only-its-use-explains");
    let (code, report) = p.up();
    let decisions: Vec<&Value> =
        report["decisions"].as_array().unwrap().iter().filter(|d| d["agent"] == "requirements").collect();
    let questions: Vec<&str> = decisions.iter().map(|d| d["question"].as_str().unwrap()).collect();
    assert!(questions.contains(&"env SHARE_MIX") && questions.contains(&"env SHARE_COPY_TO"), "{report:#}");
    assert!(!questions.iter().any(|q| q.contains("PORT")), "PORT is the rules': {questions:?}");
    for d in &decisions {
        assert!(d["model"].as_str().unwrap().ends_with(".gguf"), "{d:#}");
        assert!(d["latency_ms"].as_u64().unwrap() > 0, "{d:#}");
        let counted = d["rejected"].is_null();
        assert_eq!(counted, !d["validated"].as_str().unwrap().is_empty(), "{d:#}");
    }
    let mix = decisions.iter().rev().find(|d| d["question"] == "env SHARE_MIX" && d["rejected"].is_null());
    let dotenv = std::fs::read_to_string(p.path().join(".env")).unwrap_or_default();
    if mix.is_some_and(|d| d["answer"] == "generated_secret") {
        assert!(mix.unwrap()["validated"].as_str().unwrap().contains("`hmac`"), "{report:#}");
        assert!(dotenv.lines().any(|l| l.starts_with("SHARE_MIX=") && l.len() > 40), "{dotenv}");
        assert_eq!(code, 0, "{report:#}");
        let (status, body) = http("GET", &format!("{}/paste/1", app_url(&report)), None);
        assert_eq!(status, 200);
        assert!(body.starts_with("share link: /paste/1?sig="), "{body}");
    } else {
        // The rule answer stands: the user supplies it, and the app stops without it.
        assert!(!dotenv.contains("SHARE_MIX="), "nothing invented: {dotenv}");
        assert_ne!(code, 0, "{report:#}");
        assert!(report.to_string().contains("SHARE_MIX"), "the failure names the variable: {report:#}");
    }
    // `models stats` counts the run's answers per agent, refused ones too.
    let stats = p.run(&["models", "stats", "--json"]);
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    let row = stats["decisions"].as_array().unwrap().iter().find(|d| d["agent"] == "requirements").unwrap().clone();
    assert_eq!(row["answers"].as_u64().unwrap() as usize, decisions.len(), "{stats:#}");
    let refused = decisions.iter().filter(|d| !d["rejected"].is_null()).count();
    assert_eq!(row["refused"].as_u64().unwrap() as usize, refused, "{stats:#}");
    // The human plan marks the classes a model gave.
    let plan = p.run(&["plan"]);
    assert!(String::from_utf8_lossy(&plan.stdout).contains("classified by the requirements model"));

    // Rules only: no model is asked, and the variables are the user's.
    let (_, report) = p.up_with(&["--no-model"]);
    assert!(report["decisions"].as_array().unwrap().is_empty(), "{report:#}");
    let plan = p.run(&["plan", "--json", "--no-model"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let env = &plan["requirements"][0]["env"];
    let source =
        |name: &str| env.as_array().unwrap().iter().find(|e| e["name"] == name).unwrap()["source"]["kind"].clone();
    assert_eq!(source("SHARE_MIX"), "user");
    assert_eq!(source("SHARE_COPY_TO"), "user");
    assert!(plan["requirements"][0].get("decisions").is_none());
}

#[test]
fn requirements_files_no_rule_can_choose_among_are_the_setup_models_question() {
    // No requirements.txt: requirements/web.txt and worker.txt both include base.txt (Flask),
    // so the rules cannot tell which runs the app; docs.txt is for docs and never offered. The
    // default Setup model (SmolLM2) chooses under the grammar, and an answer counts only when
    // the file installs Flask (both do here). Accuracy is `repo-run eval`'s to measure.
    let p = Project::copy("python-flask-requirements-split");
    let plan = p.run(&["plan", "--json"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let req = &plan["requirements"][0];
    assert_eq!(req["install_candidates"], serde_json::json!(["requirements/web.txt", "requirements/worker.txt"]));
    let asked: Vec<&Value> =
        req["decisions"].as_array().unwrap().iter().filter(|d| d["question"] == "install requirements").collect();
    assert!(!asked.is_empty(), "{req:#}");
    for d in &asked {
        assert_eq!(d["agent"], "setup");
        assert!(d["model"].as_str().unwrap().ends_with(".gguf"), "{d:#}");
        assert!(req["install_candidates"].as_array().unwrap().contains(&d["answer"]), "{d:#}");
        assert_eq!(d["rejected"].is_null(), !d["validated"].as_str().unwrap().is_empty(), "{d:#}");
    }
    let installed = req["install"][1]["command"]["display"].as_str().unwrap();
    match asked.iter().find(|d| d["rejected"].is_null()) {
        Some(kept) => {
            assert!(kept["validated"].as_str().unwrap().contains("installs flask"), "{kept:#}");
            assert_eq!(installed, format!(".venv/bin/pip install -r {}", kept["answer"].as_str().unwrap()));
        }
        None => assert_eq!(installed, ".venv/bin/pip install -r requirements/web.txt", "the rules' pick"),
    }
    let human = String::from_utf8_lossy(&p.run(&["plan"]).stdout).into_owned();
    assert!(human.contains("chosen by the setup model"), "{human}");

    // The chosen file is what `up` installs, and the app comes up with it.
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    let (status, body) = http("GET", &format!("{}/", app_url(&report)), None);
    assert_eq!((status, body.as_str()), (200, "notes: 0\n"));
    assert!(report["decisions"].as_array().unwrap().iter().any(|d| d["agent"] == "setup"), "{report:#}");

    // Rules only: the rules' pick (first by name of the files that install the most), no decision.
    let plan = p.run(&["plan", "--json", "--no-model"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let req = &plan["requirements"][0];
    assert!(req.get("decisions").is_none(), "{req:#}");
    assert_eq!(req["install"][1]["command"]["display"], ".venv/bin/pip install -r requirements/web.txt");
    let human = String::from_utf8_lossy(&p.run(&["plan", "--no-model"]).stdout).into_owned();
    assert!(human.contains("the rules' pick; also requirements/worker.txt"), "{human}");
}

#[test]
fn scripts_the_missing_table_rule_cannot_order_are_the_db_models_question() {
    // The app stops at start with `no such table: notes`. init_db.py and create_tables.py are
    // named alike and both create it: the rule cannot order them, so the default DB model
    // (SmolLM2) chooses under a grammar of their ids, after reading both. Either is right here;
    // the run must end healthy with the choice's provenance in the Fixer's attempt.
    let p = Project::copy("broken/python-sqlite-two-table-scripts");
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    let applied: Vec<&Value> =
        report["fixes"].as_array().unwrap().iter().filter(|f| f["outcome"] == "applied").collect();
    assert_eq!(applied.len(), 1, "{report:#}");
    let fix = applied[0];
    assert_eq!(fix["action"]["action"], "run_script");
    assert!(["init_db.py", "create_tables.py"].contains(&fix["action"]["script"].as_str().unwrap()), "{fix:#}");
    let source = fix["source"].as_str().unwrap();
    assert!(source.starts_with("model:") && source.contains(".gguf"), "{source}");
    assert!(source.contains("the db model chose among 2 scripts"), "{source}");
    let decision = report["decisions"].as_array().unwrap().iter().find(|d| d["agent"] == "db").cloned();
    let decision = decision.unwrap_or_else(|| panic!("the DB model's decision is in the report: {report:#}"));
    assert_eq!(decision["question"], "script creating table notes");
    assert_eq!(decision["answer"], format!("python {}", fix["action"]["script"].as_str().unwrap()));
    assert!(decision["validated"].as_str().unwrap().contains("names the table notes"), "{decision:#}");
    let (status, body) = http("GET", &format!("{}/", app_url(&report)), None);
    assert_eq!((status, body.as_str()), (200, "notes: 0\n"));
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn a_log_no_rule_reads_is_read_by_the_health_model_and_checked_against_its_lines() {
    // A worker without a port logs an error and idles: the rules call a live worker up once it
    // settles. The default Health model (SmolLM2) reads its log instead; its answer counts only
    // when the line it names supports it, and each branch must do what it says.
    let p = Project::copy("python-worker-fatal-log-alive");
    let (code, report) = p.up();
    let asked: Vec<&Value> =
        report["decisions"].as_array().unwrap().iter().filter(|d| d["agent"] == "health").collect();
    assert!(!asked.is_empty(), "{report:#}");
    for d in &asked {
        assert_eq!(d["question"], "readiness");
        assert!(d["model"].as_str().unwrap().ends_with(".gguf"), "{d:#}");
        let line = d["reason"].as_str().unwrap();
        let log: String = std::fs::read_dir(p.path().join(".repo-run/logs"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
            .collect();
        assert!(log.lines().any(|l| l.trim_end() == line), "the line is the log's: {line:?}");
        assert_eq!(d["rejected"].is_null(), !d["validated"].as_str().unwrap().is_empty(), "{d:#}");
    }
    let detail = report["health"][0]["detail"].as_str().unwrap_or_default().to_owned();
    match asked.iter().find(|d| d["rejected"].is_null()).map(|d| d["answer"].as_str().unwrap()) {
        Some("fatal") => {
            assert_ne!(code, 0, "{report:#}");
            assert!(report.to_string().contains("read as fatal by the health model"), "{report:#}");
        }
        Some("ready") => {
            assert_eq!(code, 0, "{report:#}");
            assert!(detail.contains("read as ready by the health model"), "{detail}");
            assert!(!detail.contains("ERROR"), "a ready line older than the error does not count: {detail}");
        }
        // Still starting, or no answer passed: the rule answer, a live worker is up.
        _ => assert_eq!(code, 0, "{report:#}"),
    }
    p.down(false);

    // Rules only: nothing is asked and the live worker is up.
    let (code, report) = p.up_with(&["--no-model"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(report["decisions"].as_array().unwrap().is_empty(), "{report:#}");
    assert!(report["health"][0]["detail"].as_str().unwrap().contains("it has no port to probe"), "{report:#}");
}

#[test]
fn an_up_that_finds_nothing_to_start_says_where_it_looked_and_exits_7() {
    // With --no-model, rules alone leave the README's command a candidate: nothing starts.
    let p = Project::copy("python-start-in-readme-only");
    let (code, report) = p.up_with(&["--no-model"]);
    assert_eq!(code, 7, "{report:#}");
    assert_eq!(report["status"], "nothing_to_start");
    let message = report["error"]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("nothing to start"), "{message}");
    assert!(message.contains(". (python): it looks like a library"), "each project with what was found: {message}");
    assert!(
        message.contains(
            "its documentation gives `python -m pinger serve 8000` (README.md:7; module pinger is src/pinger/__main__.py)"
        ),
        "{message}"
    );
    assert!(report["error"]["hint"].as_str().unwrap_or("").contains("--no-model"), "{report:#}");
    assert!(report["apps"].as_array().unwrap().is_empty());
    assert!(report["decisions"].as_array().unwrap().is_empty());
    let out = p.run(&["status"]);
    assert_eq!(out.status.code(), Some(1), "nothing runs");
}

#[test]
fn documented_commands_that_exit_at_once_are_rejected_escalated_and_end_in_exit_7() {
    // A command-line tool: its README shows two commands and neither serves. Whichever the
    // Detection model (SmolLM2) chooses exits at once; that answer is rejected, and the next
    // model of the chain (gemma-3-270m) gets the other, which exits too. Then the rule answer:
    // nothing to start, with both attempts named.
    let p = Project::copy("python-cli-readme-commands");
    let (code, report) = p.up();
    assert_eq!(code, 7, "{report:#}");
    assert_eq!(report["status"], "nothing_to_start");
    let decisions = report["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2, "{report:#}");
    let answers: Vec<&str> = decisions.iter().map(|d| d["answer"].as_str().unwrap()).collect();
    let mut sorted = answers.clone();
    sorted.sort();
    assert_eq!(sorted, ["python -m tally count README.md", "python -m tally export README.md"]);
    assert_ne!(decisions[0]["model"], decisions[1]["model"], "the second question went to the next model");
    assert_eq!((decisions[0]["candidates"].as_u64(), decisions[1]["candidates"].as_u64()), (Some(2), Some(1)));
    for d in decisions {
        let why = d["rejected"].as_str().unwrap_or_default();
        assert!(why.starts_with("it exited with code 0 before the app was healthy"), "{d:#}");
    }
    let message = report["error"]["message"].as_str().unwrap();
    for answer in &answers {
        assert!(message.contains(&format!("chose `{answer}`: it exited with code 0")), "{message}");
    }
    assert!(report["error"]["hint"].as_str().unwrap().contains("Procfile"), "{report:#}");
    assert!(report["apps"].as_array().unwrap().is_empty(), "no app is left running: {report:#}");
    assert!(p.path().join(".repo-run/logs/tally.log").is_file());
}

#[test]
fn the_router_sends_the_question_to_the_model_whose_measured_accuracy_meets_the_threshold() {
    // An evaluation history (as `repo-run eval` writes it) where the row's own model scored
    // low and its fallback high: the question goes to the fallback first.
    let models = repo_run_inference::table::default_model_dir();
    let sha = |name: &str| {
        use sha2::Digest;
        let bytes =
            std::fs::read(models.join(name)).unwrap_or_else(|e| panic!("{name}: {e}; run `cargo xtask models`"));
        format!("{:x}", sha2::Sha256::digest(bytes))
    };
    let data = tempfile::tempdir().unwrap();
    let line = |model: &str, accuracy: f64| {
        serde_json::json!({"time": 1, "agent": "detection", "model": model, "sha256": sha(model), "cases": 24,
            "correct": 0, "accuracy": accuracy, "mean_latency_ms": 1.0})
        .to_string()
    };
    let (smol, gemma) = (repo_run_inference::table::SMOLLM2_135M, repo_run_inference::table::GEMMA3_270M);
    std::fs::write(data.path().join("eval-history.jsonl"), format!("{}\n{}\n", line(smol, 0.25), line(gemma, 0.9)))
        .unwrap();
    let mut p = Project::copy("python-start-in-readme-only");
    p.env.push(("REPO_RUN_DATA_DIR".into(), data.path().display().to_string()));
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["decisions"][0]["model"], gemma, "{report:#}");
    assert!(data.path().join("model-sha256.json").is_file(), "the hashes are cached for the next run");
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(&report));

    // A model outside the row's chain that was measured on this machine is routed to as well:
    // the row now names gemma only (model and fallback), and SmolLM2 measured best.
    std::fs::write(data.path().join("eval-history.jsonl"), format!("{}\n{}\n", line(gemma, 0.2), line(smol, 0.85)))
        .unwrap();
    p.env.push(("DETECTION_AGENT_MODEL".into(), gemma.into()));
    let (code, report) = p.up();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["decisions"][0]["model"], smol, "{report:#}");
    p.down(true);
    assert_all_gone(&id, &pids(&report));
}

#[test]
fn a_missing_detection_model_is_named_in_the_exit_7_message() {
    let mut p = Project::copy("python-start-in-readme-only");
    let missing = p.path().join("no-models-here");
    p.env.push(("REPO_RUN_MODEL_DIR".into(), missing.display().to_string()));
    let (code, report) = p.up();
    assert_eq!(code, 7, "{report:#}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("the Detection model did not choose a start command"), "{message}");
    assert!(
        message.contains(&format!("{}/SmolLM2-135M-Instruct.Q4_1.gguf does not exist", missing.display())),
        "{message}"
    );
    assert!(report["error"]["hint"].as_str().unwrap().contains("models pull --missing"), "{report:#}");
}
