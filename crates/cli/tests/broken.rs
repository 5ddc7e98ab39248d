//! The Fixer end to end: `repo-run up` on repositories that fail for one real reason each
//! (`tests/fixtures/broken/`), with the real binary, Docker engine and package managers. Each
//! ends healthy after the fix a rule chose, or with the expected clear error; `down` leaves
//! nothing. No model is configured here (rules only): the model path has tests of its own.

mod support;

use std::net::TcpListener;
use std::time::Instant;

use serde_json::Value;
use support::up::{Project, app_url, assert_all_gone, http, npm_registry, pids};

/// A copy of `broken/<name>` that asks no model (rules only, whatever the machine has).
fn broken(name: &str) -> Project {
    let mut p = Project::copy(&format!("broken/{name}"));
    p.env.push(("REPO_RUN_MODEL_DIR".into(), p.path().join(".no-models").display().to_string()));
    p
}

/// The Fixer's attempts in the report.
fn fixes(report: &Value) -> Vec<Value> {
    report["fixes"].as_array().cloned().unwrap_or_default()
}

/// Up healthy after exactly the fixes `expected` (action kind, rule), serving `body`; then down
/// leaves nothing.
fn fixed_by(p: &Project, expected: &[(&str, &str)], body: &str) -> Value {
    let (code, report) = p.up();
    assert_eq!(code, 0, "healthy after the fix\n{report:#}");
    let applied: Vec<(String, String)> = fixes(&report)
        .iter()
        .filter(|f| f["outcome"] == "applied")
        .map(|f| {
            (f["action"]["action"].as_str().unwrap_or("").to_owned(), f["source"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> =
        expected.iter().map(|(a, r)| ((*a).to_owned(), format!("rule:{r}"))).collect();
    assert_eq!(applied, expected, "{report:#}");
    assert_eq!(report["report_version"], 2);
    let (status, text) = http("GET", &app_url(&report), None);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(body), "{text}");
    report
}

fn down_clean(p: &Project, report: &Value) {
    let id = p.project_id();
    p.down(true);
    assert_all_gone(&id, &pids(report));
}

#[test]
fn a_secret_read_at_import_gets_a_generated_value_and_the_next_up_needs_no_diagnosis() {
    let p = broken("python-secret-at-import");
    let started = Instant::now();
    let report = fixed_by(&p, &[("set_env", "env.missing-setting")], "signed sessions ready");
    let first = started.elapsed();
    assert_eq!(report["fixes"][0]["action"]["name"], "SESSION_SIGNING_KEY");
    let fixes_toml = std::fs::read_to_string(p.path().join(".repo-run/fixes.toml")).unwrap();
    assert!(fixes_toml.contains("SESSION_SIGNING_KEY"), "{fixes_toml}");
    let log = std::fs::read_to_string(p.path().join(".repo-run/fixes.jsonl")).unwrap();
    assert!(log.lines().any(|l| l.contains("\"outcome\":\"applied\"")), "{log}");
    down_clean(&p, &report);

    // The fix stays in force: the second up diagnoses nothing and is healthy at once.
    let started = Instant::now();
    let (code, again) = p.up();
    let second = started.elapsed();
    assert_eq!(code, 0, "{again:#}");
    assert!(fixes(&again).is_empty(), "no diagnosis on the second up: {again:#}");
    assert_eq!(again["fixes_in_force"].as_array().map(Vec::len), Some(1));
    eprintln!("first up with the fix: {first:.1?}; second up with the fix in force: {second:.1?}");
    down_clean(&p, &again);
}

#[test]
fn fix_apply_writes_the_users_files_and_undo_restores_them_byte_for_byte() {
    let p = broken("python-secret-at-import");
    let report = fixed_by(&p, &[("set_env", "env.missing-setting")], "signed sessions ready");
    down_clean(&p, &report);
    // A .env of the user's, without a final newline: it must come back exactly.
    std::fs::write(p.path().join(".env"), "DEBUG=1").unwrap();
    let listed = p.run(&["fix", "--list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("fix-1"));
    let applied = p.run(&["fix", "--apply"]);
    assert!(applied.status.success());
    let env = std::fs::read_to_string(p.path().join(".env")).unwrap();
    assert!(env.starts_with("DEBUG=1\nSESSION_SIGNING_KEY="), "{env}");
    assert!(!std::fs::read_to_string(p.path().join(".repo-run/fixes.toml")).unwrap().contains("SESSION_SIGNING_KEY"));
    let undone = p.run(&["undo"]);
    assert!(undone.status.success());
    assert_eq!(std::fs::read(p.path().join(".env")).unwrap(), b"DEBUG=1");
    assert!(std::fs::read_to_string(p.path().join(".repo-run/fixes.toml")).unwrap().contains("SESSION_SIGNING_KEY"));
    // Removing the fix itself: the next up fails again, with the proposal only (no --ci).
    assert!(p.run(&["undo", "fix-1"]).status.success());
    assert!(p.run(&["undo", "fix-9"]).status.code() == Some(1), "an unknown id is an error");
}

#[test]
fn without_a_terminal_or_ci_the_fix_is_proposed_not_applied() {
    let mut p = broken("python-secret-at-import");
    p.env.push(("CI".into(), "false".into()));
    let path = p.path().join("r.json");
    let out = p
        .command(&["up", "-d", "--report", path.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(5), "{report:#}");
    assert_eq!(fixes(&report)[0]["outcome"], "proposed", "{report:#}");
    assert!(!p.path().join(".repo-run/fixes.toml").exists(), "nothing applied");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("proposed fix, not applied") && stderr.contains("SESSION_SIGNING_KEY"), "{stderr}");
}

/// On a terminal `up` shows the fix and asks: "n" applies nothing and the failure stands;
/// "y" applies it and the run ends healthy. Driven through a real pseudo-terminal.
#[test]
fn on_a_terminal_the_fix_is_shown_and_applied_only_when_the_user_says_yes() {
    let p = broken("python-secret-at-import");
    let report = p.path().join("r.json");
    let ask = |answer: &str| -> (String, Option<i32>) {
        let mut command = p.command(&["up", "-d", "--report", report.to_str().unwrap()]);
        command.env_remove("CI").env("TERM", "dumb");
        let mut session = rexpect::session::spawn_command(command, Some(300_000)).unwrap();
        let before = session.exp_string("apply it? [y/N]").expect("the fix is proposed with a question");
        session.send_line(answer).unwrap();
        let after = session.exp_eof().unwrap();
        let status = session.process.wait().unwrap();
        let code = match status {
            rexpect::process::wait::WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        };
        (format!("{before}{after}"), code)
    };

    let (shown, code) = ask("n");
    assert!(
        shown.contains("proposed fix (rule:env.missing-setting)") && shown.contains("SESSION_SIGNING_KEY"),
        "{shown}"
    );
    assert_eq!(code, Some(5), "declined: the failure stands\n{shown}");
    assert!(!p.path().join(".repo-run/fixes.toml").exists(), "nothing applied when declined");

    let (shown, code) = ask("y");
    assert_eq!(code, Some(0), "accepted: healthy\n{shown}");
    let fixes_toml = std::fs::read_to_string(p.path().join(".repo-run/fixes.toml")).unwrap();
    assert!(fixes_toml.contains("SESSION_SIGNING_KEY"), "{fixes_toml}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(fixes(&report)[0]["outcome"], "applied", "{report:#}");
    let (status, text) = http("GET", &app_url(&report), None);
    assert!(status == 200 && text.contains("signed sessions ready"), "{status} {text}");
    down_clean(&p, &report);
}

#[test]
fn no_fix_turns_the_fixer_off() {
    let p = broken("python-secret-at-import");
    let path = p.path().join("r.json");
    let out = p.run(&["up", "-d", "--ci", "--no-fix", "--report", path.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(fixes(&report).is_empty(), "{report:#}");
    assert!(report.to_string().contains("KeyError: 'SESSION_SIGNING_KEY'"), "the failure is reported as it is");
}

#[test]
fn a_python_start_file_that_moved_is_found_by_name() {
    let p = broken("python-start-file-moved");
    let report = fixed_by(&p, &[("set_start_command", "start.file-missing")], "moved, still serving");
    assert_eq!(report["fixes"][0]["action"]["argv"], serde_json::json!(["python", "src/app.py"]));
    down_clean(&p, &report);
}

#[test]
fn a_node_start_script_pointing_at_a_moved_file_is_found_by_name() {
    let mut p = broken("node-start-file-moved");
    let _registry = npm_registry(&mut p);
    let report = fixed_by(&p, &[("set_start_command", "start.file-missing")], "moved, still serving");
    assert_eq!(report["fixes"][0]["action"]["argv"], serde_json::json!(["node", "src/server.js"]));
    down_clean(&p, &report);
}

#[test]
fn a_secret_with_a_length_check_gets_that_length() {
    let mut p = broken("node-secret-length");
    let _registry = npm_registry(&mut p);
    let report = fixed_by(&p, &[("set_env", "env.missing-setting")], "sessions signed");
    let toml = std::fs::read_to_string(p.path().join(".repo-run/fixes.toml")).unwrap();
    let value = toml.lines().find_map(|l| l.trim().strip_prefix("value = \"")).unwrap().trim_end_matches('"');
    assert_eq!(value.len(), 32, "{toml}");
    down_clean(&p, &report);
}

#[test]
fn a_settings_field_required_by_pydantic_is_set() {
    let p = broken("python-settings-field-required");
    let report = fixed_by(&p, &[("set_env", "env.missing-setting")], "token of 50 characters");
    assert_eq!(report["fixes"][0]["action"]["name"], "API_TOKEN");
    down_clean(&p, &report);
}

#[test]
fn a_table_only_a_flask_command_creates_is_created_by_it() {
    let p = broken("flask-table-from-cli");
    let report = fixed_by(&p, &[("run_script", "db.missing-table")], "0 notes");
    assert_eq!(report["fixes"][0]["action"]["script"], "init-db");
    down_clean(&p, &report);
}

#[test]
fn two_scripts_that_both_create_the_table_are_tried_in_the_rules_order_without_a_model() {
    // init_db.py and create_tables.py are named alike and both create `notes`: the rule cannot
    // order them (its question for the DB model); with no model, its order (by name) stands.
    let p = broken("python-sqlite-two-table-scripts");
    let report = fixed_by(&p, &[("run_script", "db.missing-table")], "notes: 0");
    assert_eq!(report["fixes"][0]["action"]["script"], "create_tables.py");
    down_clean(&p, &report);
}

#[test]
fn a_postgres_table_only_an_npm_script_creates_is_created_by_it() {
    let mut p = broken("node-pg-table-from-script");
    let _registry = npm_registry(&mut p);
    let report = fixed_by(&p, &[("run_script", "db.missing-table")], "0 todos");
    assert_eq!(report["fixes"][0]["action"]["script"], "db:setup");
    down_clean(&p, &report);
}

#[test]
fn a_django_app_without_a_database_skips_migrate() {
    let p = broken("django-without-database");
    let report = fixed_by(&p, &[("skip_step", "django.no-database")], "stateless");
    down_clean(&p, &report);
}

#[test]
fn a_django_secret_key_read_from_the_environment_is_generated_before_migrate() {
    let p = broken("django-secret-from-env");
    let report = fixed_by(&p, &[("set_env", "env.missing-setting")], "stateless");
    assert_eq!(report["fixes"][0]["step"], "db/migrate/.");
    down_clean(&p, &report);
}

#[test]
fn a_port_fixed_in_the_code_and_held_by_another_program_is_named_not_retried() {
    let p = broken("python-port-hardcoded");
    let holder = TcpListener::bind(("0.0.0.0", 8765)).expect("port 8765 free for the test");
    let (code, report) = p.up();
    drop(holder);
    assert_eq!(code, 5, "{report:#}");
    let attempts = fixes(&report);
    assert_eq!(attempts.len(), 1, "one diagnosis, no retry: {report:#}");
    assert_eq!(attempts[0]["outcome"], "no_action");
    let why = attempts[0]["detail"].as_str().unwrap_or("");
    assert!(why.contains("port 8765") && why.contains("does not take its port from the environment"), "{why}");
    assert!(why.contains(&format!("held by pid {}", std::process::id())), "the holder is named: {why}");
    assert!(report["error"]["hint"].as_str().unwrap_or("").contains("port 8765"), "{report:#}");
}

fn dpkg_installed(package: &str) -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// A linker the project's `.cargo/config.toml` names and the machine lacks (mold): Setup's check
/// finds it before anything is built (the plan lists it as a system package); without
/// `--allow-system` the fix is refused with the command to run; with it, mold is installed
/// with apt-get, the build passes, and `undo` removes mold again.
#[test]
fn a_missing_linker_is_installed_only_with_allow_system_and_undo_removes_it() {
    assert!(!dpkg_installed("mold"), "this test needs a machine without mold (it installs and removes it)");
    let mut p = broken("rust-mold-linker");
    let target = std::env::temp_dir().join("repo-run-e2e-target");
    p.env.push(("CARGO_TARGET_DIR".into(), target.join("broken-mold").display().to_string()));

    let (code, report) = p.up();
    assert_eq!(code, 3, "Setup's check stops before the build without the linker: {report:#}");
    assert_eq!(report["failed_stage"], "setup", "{report:#}");
    let message = report["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("mold is not installed") && message.contains(".cargo/config.toml:3"), "{report:#}");
    let attempt = &fixes(&report)[0];
    assert_eq!(attempt["outcome"], "no_action", "{report:#}");
    assert!(attempt["detail"].as_str().unwrap_or("").contains("--allow-system"), "{report:#}");
    assert!(!dpkg_installed("mold"));

    let path = p.path().join("r2.json");
    let out = p.run(&["up", "-d", "--ci", "--allow-system", "--report", path.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let installed = dpkg_installed("mold");
    let undo = p.run(&["undo", "fix-1"]);
    let removed = !dpkg_installed("mold");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert!(installed, "mold was installed by the fix");
    assert_eq!(
        report["fixes"][0]["action"],
        serde_json::json!({"action": "install_system_package", "package": "mold"})
    );
    let (status, text) = http("GET", &app_url(&report), None);
    assert_eq!((status, text.as_str()), (200, "linked with mold"));
    assert!(undo.status.success() && removed, "undo removes the package the fix installed");
    down_clean(&p, &report);
}

#[test]
fn a_pin_without_a_wheel_for_this_python_moves_to_the_nearest_version_that_has_one() {
    let p = broken("python-pin-without-wheel");
    let before = std::fs::read(p.path().join("requirements.txt")).unwrap();
    let report = fixed_by(&p, &[("constrain_dependency", "python.no-wheel-for-pin")], "greenlet 1.1.3");
    assert_eq!(report["fixes"][0]["action"]["constraint"], "==1.1.3");
    assert_eq!(std::fs::read(p.path().join("requirements.txt")).unwrap(), before, "the user's file is untouched");
    down_clean(&p, &report);
}

/// Gives the copy a git history whose one commit is dated `date`.
fn commit_dated(p: &Project, date: &str) {
    for args in [&["init", "-q"][..], &["add", "."], &["commit", "-q", "-m", "as written then"]] {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(p.path())
            .env("GIT_AUTHOR_DATE", format!("{date}T12:00:00Z"))
            .env("GIT_COMMITTER_DATE", format!("{date}T12:00:00Z"))
            .env("GIT_AUTHOR_NAME", "repo-run test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "repo-run test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
}

/// A 2021 app (unpinned `flask`, `from flask import escape`) breaks on today's Flask; the
/// dependencies are resolved again as of its last commit, with uv (provided if missing).
#[test]
fn an_old_app_broken_by_new_versions_of_unpinned_dependencies_resolves_as_of_its_era() {
    let p = broken("python-era-flask");
    commit_dated(&p, "2021-06-01");
    let report = fixed_by(&p, &[("resolve_as_of", "python.dependency-api-changed")], "hello from &lt;2021&gt;");
    assert_eq!(report["fixes"][0]["action"]["date"], "2021-06-01");
    let log = std::fs::read_to_string(p.path().join(".repo-run/logs/setup-root.log")).unwrap();
    assert!(log.contains("--exclude-newer 2021-06-01T00:00:00Z") && log.contains("flask==2.0.1"), "{log}");
    down_clean(&p, &report);
}

/// A `.python-version` of 3.12 and code importing distutils (gone in 3.12): the newest
/// installed Python before 3.12 is chosen, Requirements runs again, the venv is rebuilt with it.
#[test]
fn distutils_on_python_312_moves_to_the_newest_older_interpreter() {
    let p = broken("python-distutils-312");
    let report = fixed_by(&p, &[("choose_runtime", "python.distutils-removed")], "debug is False");
    let version = report["fixes"][0]["action"]["version"].as_str().unwrap_or("").to_owned();
    assert!(version.starts_with("3.11") || version.starts_with("3.10"), "{report:#}");
    let cfg = std::fs::read_to_string(p.path().join(".venv/pyvenv.cfg")).unwrap();
    assert!(
        cfg.contains(&format!("version = {version}")) || cfg.contains(&format!("version_info = {version}")),
        "{cfg}"
    );
    down_clean(&p, &report);
}

/// `docker ARGS`, its status and output.
fn docker(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("docker").args(args).output().expect("docker runs");
    eprintln!(
        "$ docker {} → {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A container of the builder image that repo-run runs in, stopped on drop: `down` inside it
/// first, then the container; then its state file goes, since its pids mean nothing on the
/// host (the project's own drop then finds the services by their Docker labels).
struct Builder {
    name: String,
    project: std::path::PathBuf,
}

impl Drop for Builder {
    fn drop(&mut self) {
        let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output();
        let _ = docker(&["exec", &self.name, "repo-run", "down", "--volumes"]);
        let _ = docker(&["rm", "-f", &self.name]);
        let _ = std::fs::remove_file(self.project.join(".repo-run/state.json"));
    }
}

/// What this host cannot be: a minimal Debian with Python and gcc but no library headers (the
/// builder image `cargo xtask images` makes). repo-run runs inside it, on the host's network
/// and Docker engine (so its PostgreSQL is a sibling container); pip's build of psycopg2 fails
/// for want of `pg_config`, and with `--allow-system` the Fixer installs `libpq-dev` there.
#[test]
fn headers_missing_in_a_minimal_debian_are_installed_with_allow_system() {
    let image = std::env::var("REPO_RUN_BUILDER_IMAGE").unwrap_or_else(|_| {
        panic!("REPO_RUN_BUILDER_IMAGE is not set: build it with `cargo xtask images builder` and export it")
    });
    let p = broken("python-headers-in-image");
    let dir = p.path().to_str().unwrap().to_owned();
    let bin = env!("CARGO_BIN_EXE_repo-run");
    let name = format!("repo-run-e2e-builder-{}", std::process::id());
    let mut run = vec![
        "run".to_owned(),
        "-d".into(),
        "--name".into(),
        name.clone(),
        "--network".into(),
        "host".into(),
        "-v".into(),
        "/var/run/docker.sock:/var/run/docker.sock".into(),
        "-v".into(),
        format!("{bin}:/usr/local/bin/repo-run:ro"),
        "-v".into(),
        format!("{dir}:{dir}"),
        "-w".into(),
        dir.clone(),
    ];
    for (k, v) in p.env.iter().chain([("CI".to_owned(), "true".to_owned())].iter()) {
        run.extend(["-e".into(), format!("{k}={v}")]);
    }
    // The container reaches the package indexes as the host does: the host's trust store (a
    // TLS proxy's authority, where there is one) and pip's settings.
    let trust = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(trust).is_file() {
        run.extend(["-v".into(), format!("{trust}:{trust}:ro")]);
    }
    for (k, v) in std::env::vars().filter(|(k, _)| k.starts_with("PIP_")) {
        if k == "PIP_FIND_LINKS" && std::path::Path::new(&v).is_dir() {
            run.extend(["-v".into(), format!("{v}:{v}:ro")]);
        }
        run.extend(["-e".into(), format!("{k}={v}")]);
    }
    if let Ok(postgres) = std::env::var("REPO_RUN_POSTGRES_IMAGE") {
        run.extend(["-e".into(), format!("REPO_RUN_POSTGRES_IMAGE={postgres}")]);
    }
    run.extend([image, "sleep".into(), "infinity".into()]);
    let args: Vec<&str> = run.iter().map(String::as_str).collect();
    assert!(docker(&args).status.success(), "the builder container starts");
    let _container = Builder { name: name.clone(), project: p.path().to_owned() };
    assert!(
        !docker(&["exec", &name, "sh", "-c", "command -v pg_config"]).status.success(),
        "no pg_config in the image"
    );

    let report_path = format!("{dir}/r.json");
    let up = docker(&["exec", &name, "repo-run", "up", "-d", "--ci", "--allow-system", "--report", &report_path]);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(up.status.code(), Some(0), "healthy after the fix\n{report:#}");
    let attempts = fixes(&report);
    let applied: Vec<(&str, &str)> = attempts
        .iter()
        .filter(|f| f["outcome"] == "applied")
        .map(|f| (f["action"]["package"].as_str().unwrap_or(""), f["source"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(applied, [("libpq-dev", "rule:system.missing-headers")], "{report:#}");
    assert!(docker(&["exec", &name, "sh", "-c", "command -v pg_config"]).status.success(), "libpq-dev installed");
    // The app answers on the shared network with a query through the driver pip built.
    let (status, text) = http("GET", &app_url(&report), None);
    assert!(status == 200 && text.contains("says 1"), "{status} {text}");

    let id = p.project_id();
    assert!(docker(&["exec", &name, "repo-run", "down", "--volumes"]).status.success(), "down in the container");
    assert_all_gone(&id, &[]);
}

/// A plugin whose peer range (`repo-run-peer-host ^2`) conflicts with the host the app pins
/// (`^1`): npm 10 stops with ERESOLVE, the rule adds `--legacy-peer-deps` (as the install env's
/// `npm_config_legacy_peer_deps`), and the app serves what npm installed. The packages are the
/// local registry's own (`cargo xtask npm-registry`).
#[test]
fn an_npm_peer_conflict_installs_with_legacy_peer_deps() {
    let mut p = broken("node-peer-conflict");
    let _registry = npm_registry(&mut p);
    let started = Instant::now();
    let report = fixed_by(&p, &[("add_install_flag", "node.peer-conflict")], "host 1.0.0 with plugin 1.0.0");
    assert_eq!(report["fixes"][0]["action"]["flag"], "legacy_peer_deps", "{report:#}");
    let log = std::fs::read_to_string(p.path().join(".repo-run/logs/setup-root.log")).unwrap();
    assert!(log.contains("ERESOLVE"), "the first install failed for real: {log}");
    assert!(!p.path().join(".npmrc").exists(), "the flag lives in .repo-run/, not in the user's files");
    eprintln!("peer conflict: up with the fix took {:.1?}", started.elapsed());
    down_clean(&p, &report);
}

/// `engine-strict=true` in the project's `.npmrc` and a dependency whose `engines` asks for a
/// Node no one has (`>=99`): npm 10 stops with EBADENGINE, the rule relaxes the check for the
/// install (`npm_config_engine_strict=false`, which wins over the project's `.npmrc`), and the
/// app serves. The user's `.npmrc` is unchanged.
#[test]
fn an_engine_strict_refusal_installs_with_the_check_relaxed() {
    let mut p = broken("node-engine-mismatch");
    let _registry = npm_registry(&mut p);
    let npmrc = std::fs::read(p.path().join(".npmrc")).unwrap();
    let started = Instant::now();
    let report = fixed_by(&p, &[("add_install_flag", "node.engine-mismatch")], "repo-run-needs-future-node 1.0.0");
    assert_eq!(report["fixes"][0]["action"]["flag"], "ignore_engines", "{report:#}");
    let log = std::fs::read_to_string(p.path().join(".repo-run/logs/setup-root.log")).unwrap();
    assert!(log.contains("EBADENGINE"), "the first install failed for real: {log}");
    assert_eq!(std::fs::read(p.path().join(".npmrc")).unwrap(), npmrc, "the user's .npmrc is unchanged");
    eprintln!("engine mismatch: up with the fix took {:.1?}", started.elapsed());
    down_clean(&p, &report);
}
