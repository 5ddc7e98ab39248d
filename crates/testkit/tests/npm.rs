//! The local npm registry end to end: the server over real TCP, a registry written in the
//! shared format installed from by the real `npm`, and the fixture
//! `tests/fixtures/node-express-pg-migrate` installed from the Debian-built registry that
//! `cargo xtask npm-registry` makes (`REPO_RUN_NPM_REGISTRY`, exported by `cargo xtask test`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{Value, json};
use testkit::NpmRegistry;
use testkit::npm_format::{BASE_PLACEHOLDER, PackageFile, PackageVersion, write_package};

/// `GET path` on the server: (status line, content type, body).
fn get(registry: &NpmRegistry, path: &str) -> (String, String, Vec<u8>) {
    let addr = registry.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let status = head.lines().next().unwrap().to_owned();
    let content_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap_or_default().to_owned();
    (status, content_type, response[split + 4..].to_vec())
}

/// A registry with two handmade packages: `greeting` and `@repo-run/shout`, which depends on it.
fn handmade_registry(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("greeting.js"), "module.exports = (n) => `hello ${n}`;\n").unwrap();
    std::fs::write(src.join("shout.js"), "module.exports = (n) => require('greeting')(n).toUpperCase();\n").unwrap();
    let registry = dir.join("registry");
    let version = |manifest: Value, file: &str| PackageVersion {
        manifest: manifest.as_object().unwrap().clone(),
        files: vec![PackageFile { path: "index.js".into(), source: src.join(file) }],
    };
    let greeting = [
        version(json!({"name": "greeting", "version": "1.0.0", "main": "index.js"}), "greeting.js"),
        version(json!({"name": "greeting", "version": "1.2.0", "main": "index.js"}), "greeting.js"),
    ];
    write_package(&registry, "greeting", &greeting, "1.2.0").unwrap();
    let shout = version(
        json!({"name": "@repo-run/shout", "version": "0.1.0", "main": "index.js", "dependencies": {"greeting": "*"}}),
        "shout.js",
    );
    write_package(&registry, "@repo-run/shout", &[shout], "0.1.0").unwrap();
    registry
}

#[test]
fn serves_packuments_with_its_address_tarballs_and_404s() {
    let dir = tempfile::tempdir().unwrap();
    let registry = NpmRegistry::serve(&handmade_registry(dir.path())).unwrap();
    assert!(registry.url().starts_with("http://127.0.0.1:"));

    let (status, content_type, body) = get(&registry, "/@repo-run%2fshout");
    assert_eq!((status.as_str(), content_type.as_str()), ("HTTP/1.1 200 OK", "application/json"));
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let tarball = doc["versions"]["0.1.0"]["dist"]["tarball"].as_str().unwrap();
    assert_eq!(tarball, format!("{}/@repo-run/shout/-/shout-0.1.0.tgz", registry.url()));
    assert!(!String::from_utf8_lossy(&body).contains(BASE_PLACEHOLDER));

    let (status, content_type, body) = get(&registry, tarball.trim_start_matches(&registry.url()));
    assert_eq!((status.as_str(), content_type.as_str()), ("HTTP/1.1 200 OK", "application/octet-stream"));
    assert_eq!(&body[..2], [0x1f, 0x8b], "a gzip stream");

    for missing in ["/left-pad", "/../registry/greeting/index.json", "/greeting/-/greeting-9.9.9.tgz"] {
        assert_eq!(get(&registry, missing).0, "HTTP/1.1 404 Not Found", "{missing}");
    }
    assert!(registry.requests() >= 5);

    // Dropping it stops it: nothing answers on that port any more.
    let addr = registry.url().trim_start_matches("http://").to_owned();
    drop(registry);
    let answered = TcpStream::connect(&addr).and_then(|mut s| {
        s.write_all(b"GET /greeting HTTP/1.1\r\n\r\n")?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).map(|n| n > 0)
    });
    assert!(!answered.unwrap_or(false), "still serving after drop");
}

fn npm_available() -> bool {
    Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// `npm install` in `app` from `registry` only, with a private cache and user config, so no
/// other registry and no earlier cache is involved.
fn npm_install(app: &Path, registry: &NpmRegistry, scratch: &Path) -> Output {
    let npmrc = scratch.join("npmrc");
    std::fs::write(&npmrc, "").unwrap();
    Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-update-notifier"])
        .current_dir(app)
        .env("npm_config_registry", registry.url())
        .env("npm_config_cache", scratch.join("npm-cache"))
        .env("npm_config_userconfig", &npmrc)
        .env("npm_config_fetch_timeout", "20000")
        .env("npm_config_fetch_retries", "0")
        // Loopback never goes through a proxy the environment may name.
        .env("npm_config_noproxy", "127.0.0.1,localhost")
        .output()
        .expect("running npm")
}

fn node_requires(app: &Path, modules: &[&str]) -> Output {
    let script: String = modules.iter().map(|m| format!("require('{m}');")).collect();
    Command::new("node").args(["-e", &script]).current_dir(app).output().expect("running node")
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn npm_installs_a_scoped_package_and_its_dependency_from_a_written_registry() {
    if !npm_available() {
        eprintln!("SKIPPED: `npm` is not on PATH; this test runs the real npm against the local registry");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = NpmRegistry::serve(&handmade_registry(dir.path())).unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("package.json"),
        r#"{"name": "app", "version": "1.0.0", "dependencies": {"@repo-run/shout": "^0.1.0"}}"#,
    )
    .unwrap();

    assert_success("npm install", &npm_install(&app, &registry, dir.path()));
    let installed: Value =
        serde_json::from_slice(&std::fs::read(app.join("node_modules/greeting/package.json")).unwrap()).unwrap();
    assert_eq!(installed["version"], "1.2.0", "dist-tags.latest is what `*` resolves to");
    let out = Command::new("node")
        .args(["-e", "process.stdout.write(require('@repo-run/shout')('npm'))"])
        .current_dir(&app)
        .output()
        .unwrap();
    assert_success("node", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO NPM");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_express_pg_fixture_installs_from_the_debian_registry() {
    let Some(built) = testkit::npm_registry_dir() else {
        eprintln!(
            "SKIPPED: {} is unset: run `cargo xtask npm-registry` and export {}=<its directory> \
             (`cargo xtask test` does both)",
            testkit::NPM_REGISTRY_ENV,
            testkit::NPM_REGISTRY_ENV
        );
        return;
    };
    let registry = NpmRegistry::serve(&built).unwrap_or_else(|e| panic!("serving {}: {e}", built.display()));
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-express-pg-migrate");
    let app = dir.path().join("app");
    copy_dir(&fixture, &app);
    assert!(!app.join("package-lock.json").exists(), "the fixture must not carry a lock file (see its README)");

    let started = Instant::now();
    let output = npm_install(&app, &registry, dir.path());
    let took = started.elapsed();
    assert_success("npm install", &output);
    eprintln!("npm install of the fixture took {:.1} s ({} requests)", took.as_secs_f64(), registry.requests());

    for (module, major) in [("express", "4."), ("pg", "8.")] {
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(app.join("node_modules").join(module).join("package.json")).unwrap())
                .unwrap();
        let version = manifest["version"].as_str().unwrap();
        assert!(version.starts_with(major), "{module} {version}");
    }
    assert_success("node -e require('express'); require('pg')", &node_requires(&app, &["express", "pg"]));
}

/// A container started with the docker CLI, removed (with its anonymous volumes) on drop.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", "-v", &self.0]).output();
    }
}

/// A child process killed and reaped on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to `127.0.0.1:port`: (status code, body).
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// The fixture as a user runs it: installed from the Debian-built registry, migrated with its
/// own `npm run migrate` on a real PostgreSQL, then serving and storing todos.
#[test]
fn the_express_pg_fixture_migrates_and_serves_on_postgres() {
    let (Some(built), Ok(image)) = (testkit::npm_registry_dir(), std::env::var("REPO_RUN_POSTGRES_IMAGE")) else {
        eprintln!(
            "SKIPPED: needs {} (`cargo xtask npm-registry`) and REPO_RUN_POSTGRES_IMAGE (`cargo xtask images`); \
             `cargo xtask test` exports both",
            testkit::NPM_REGISTRY_ENV
        );
        return;
    };
    let registry = NpmRegistry::serve(&built).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-express-pg-migrate"), &app);
    assert_success("npm install", &npm_install(&app, &registry, dir.path()));
    drop(registry);

    let run = Command::new("docker")
        .args(["run", "-d", "--label", "dev.repo-run.test=testkit-npm", "-p", "127.0.0.1::5432"])
        .args(["-e", "POSTGRES_USER=todo", "-e", "POSTGRES_PASSWORD=changeme", "-e", "POSTGRES_DB=todo", &image])
        .output()
        .expect("running docker");
    assert_success("docker run", &run);
    let container = Container(String::from_utf8_lossy(&run.stdout).trim().to_owned());
    let port = Command::new("docker").args(["port", &container.0, "5432/tcp"]).output().unwrap();
    let pg_port =
        String::from_utf8_lossy(&port.stdout).lines().next().and_then(|l| l.rsplit(':').next()?.parse::<u16>().ok());
    let database_url = format!("postgres://todo:changeme@127.0.0.1:{}/todo", pg_port.expect("a published port"));

    let migrate = || {
        Command::new("npm")
            .args(["run", "migrate", "--silent"])
            .current_dir(&app)
            .env("DATABASE_URL", &database_url)
            .output()
            .unwrap()
    };
    // The server takes a few seconds to accept connections: the first migration retries until then.
    let started = Instant::now();
    let first = loop {
        let out = migrate();
        if out.status.success() || started.elapsed().as_secs() > 60 {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_success("npm run migrate", &first);
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied 001_create_todos.sql"));
    let second = migrate();
    assert_success("npm run migrate (again)", &second);
    assert!(!String::from_utf8_lossy(&second.stdout).contains("applied"), "a second run applies nothing");

    let port = free_port();
    let _server = Child(
        Command::new("node")
            .arg("server.js")
            .current_dir(&app)
            .env("DATABASE_URL", &database_url)
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let root = loop {
        match http(port, "GET", "/", None) {
            Ok(response) => break response,
            Err(e) if started.elapsed().as_secs() > 20 => panic!("node server.js never answered on {port}: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    assert_eq!(root, (200, r#"{"ok":true}"#.to_owned()));
    let (status, created) = http(port, "POST", "/todos", Some(r#"{"title":"buy milk"}"#)).unwrap();
    assert_eq!(status, 201, "{created}");
    let (status, list) = http(port, "GET", "/todos", None).unwrap();
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["title"], "buy milk");
    assert_eq!(list[0]["done"], false);
}
