//! `cargo xtask bench up`: time from `repo-run up` to healthy on fixtures, split per agent, and
//! repo-run's own overhead beyond the time spent in package managers, builds, containers and
//! the app's own start; then the same for a second (warm) `up`, where only what changed should
//! be redone. Baseline in the same run: the same work done by hand for the Flask fixture
//! (venv + pip, `docker run` + wait, start the app + wait for HTTP), as a person would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

const DEFAULT_FIXTURES: &[&str] = &["python-flask-redis", "node-express-pg-migrate", "rust-axum-postgres"];

pub fn run(args: &[&str]) -> anyhow::Result<()> {
    let fixtures: Vec<String> = match args {
        [] => DEFAULT_FIXTURES.iter().map(|s| s.to_string()).collect(),
        ["--fixtures", list] => list.split(',').map(str::to_owned).collect(),
        _ => bail!("usage: cargo xtask bench up [--fixtures a,b,c]"),
    };
    let root = crate::workspace_root();
    let bin = crate::release_binary("bench")?;
    let (env, _registry) = crate::up_env(&bin, "bench-up-fixtures")?;

    println!("repo-run up benchmark (release build; cold = first up of a fresh copy, warm = up after down)");
    println!();
    let mut flask_cold = None;
    for fixture in &fixtures {
        if fixture.starts_with("node") && _registry.is_none() {
            println!("{fixture}: skipped (no local npm registry: run `cargo xtask npm-registry` first)\n");
            continue;
        }
        let cold = bench_fixture(&bin, &root.join("tests/fixtures").join(fixture), fixture, &env)?;
        if fixture == "python-flask-redis" {
            flask_cold = Some(cold);
        }
    }
    if let Some(cold) = flask_cold {
        let by_hand = baseline_flask(&root.join("tests/fixtures/python-flask-redis"), &env)?;
        println!(
            "  python-flask-redis cold up / by hand: {:.2}x (repo-run also detects, plans, checks health over HTTP \
             and records state)",
            cold.as_secs_f64() / by_hand.as_secs_f64()
        );
    }
    Ok(())
}

/// Cold and warm `up` of a fresh copy; returns the cold wall time.
fn bench_fixture(bin: &Path, fixture: &Path, name: &str, env: &[(String, String)]) -> anyhow::Result<Duration> {
    let dir = std::env::temp_dir().join(format!("repo-run-bench-up-{name}"));
    if dir.exists() {
        let _ = repo_run(bin, &dir, &["down", "--volumes"], env);
        std::fs::remove_dir_all(&dir)?;
    }
    crate::copy_dir(fixture, &dir)?;
    if name == "rust-axum-postgres" {
        // Its Cargo.lock only names the package (a detection sample): let cargo resolve.
        std::fs::remove_file(dir.join("Cargo.lock"))?;
    }
    let result = (|| -> anyhow::Result<Duration> {
        let cold = up(bin, &dir, env, "cold")?;
        repo_run(bin, &dir, &["down"], env)?;
        let warm = up(bin, &dir, env, "warm")?;
        println!("{name}");
        print_run("cold", &cold);
        print_run("warm", &warm);
        println!();
        Ok(cold.wall)
    })();
    repo_run(bin, &dir, &["down", "--volumes"], env)?;
    result
}

struct UpRun {
    wall: Duration,
    report: Value,
}

fn up(bin: &Path, dir: &Path, env: &[(String, String)], label: &str) -> anyhow::Result<UpRun> {
    let report_path = dir.join(format!(".bench-{label}.json"));
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["up", "-d", "--ci", "--health-timeout", "600", "--report"])
        .arg(&report_path)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()?;
    let wall = started.elapsed();
    if !out.status.success() {
        bail!("up ({label}) failed in {}:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr));
    }
    let report = serde_json::from_str(&std::fs::read_to_string(&report_path)?)?;
    Ok(UpRun { wall, report })
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Time spent waiting on others: package managers and builds (child processes), containers
/// becoming ready (the slowest, as they start together) and the app's own start-up.
fn external_ms(report: &Value) -> f64 {
    let arr = |k: &str| report[k].as_array().cloned().unwrap_or_default();
    let steps: f64 = arr("setup").iter().chain(arr("steps").iter()).map(|s| ms(&s["elapsed_ms"])).sum();
    let containers = arr("services").iter().map(|s| ms(&s["ready_after_ms"])).fold(0.0, f64::max);
    let health = arr("health").iter().map(|h| ms(&h["elapsed_ms"])).fold(0.0, f64::max);
    steps + containers + health
}

fn print_run(label: &str, run: &UpRun) {
    let stages: Vec<String> = run.report["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("{} {:.0}", s["stage"].as_str().unwrap_or("?"), ms(&s["elapsed_ms"])))
        .collect();
    let total = run.wall.as_secs_f64() * 1000.0;
    let external = external_ms(&run.report);
    let overhead = (total - external).max(0.0);
    let skipped = run.report["setup"].as_array().into_iter().flatten().filter(|s| s["skipped"] == true).count();
    let steps = run.report["setup"].as_array().map_or(0, Vec::len);
    println!(
        "  {label}: up→healthy {:>8.0} ms | per stage (ms): {} | installs skipped {skipped}/{steps}",
        total,
        stages.join(", ")
    );
    println!(
        "        external (package managers, builds, containers, app start) {:>8.0} ms, repo-run overhead {:>6.0} ms = {:.1} %",
        external,
        overhead,
        100.0 * overhead / total
    );
}

fn repo_run(bin: &Path, dir: &Path, args: &[&str], env: &[(String, String)]) -> anyhow::Result<()> {
    let out = Command::new(bin).args(args).current_dir(dir).envs(env.iter().map(|(k, v)| (k, v))).output()?;
    if !out.status.success() {
        bail!("repo-run {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The Flask fixture brought up by hand: what repo-run's time is compared with.
fn baseline_flask(fixture: &Path, env: &[(String, String)]) -> anyhow::Result<Duration> {
    let dir = std::env::temp_dir().join("repo-run-bench-up-baseline");
    let _ = std::fs::remove_dir_all(&dir);
    crate::copy_dir(fixture, &dir)?;
    // The image repo-run would use: the override (set by the caller or built just now), else
    // the official tag.
    let image = std::env::var("REPO_RUN_REDIS_IMAGE")
        .ok()
        .or_else(|| env.iter().find(|(k, _)| k == "REPO_RUN_REDIS_IMAGE").map(|(_, v)| v.clone()))
        .unwrap_or_else(|| "redis:7".into());
    let name = "repo-run-bench-baseline-redis";
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
    let started = Instant::now();
    let sh = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(args[0]).args(&args[1..]).current_dir(&dir).output()?;
        if !out.status.success() {
            bail!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    sh(&["python3", "-m", "venv", ".venv"])?;
    sh(&[".venv/bin/pip", "install", "-q", "-r", "requirements.txt"])?;
    let installed = started.elapsed();
    sh(&["docker", "run", "-d", "--name", name, "-p", "127.0.0.1:16379:6379", &image])?;
    let wait = Instant::now();
    while Command::new("docker")
        .args(["exec", name, "redis-cli", "ping"])
        .output()
        .map(|o| !String::from_utf8_lossy(&o.stdout).contains("PONG"))
        .unwrap_or(true)
    {
        if wait.elapsed() > Duration::from_secs(60) {
            bail!("baseline redis not ready");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let container = started.elapsed() - installed;
    let mut app: Child = Command::new(".venv/bin/python")
        .arg("app.py")
        .current_dir(&dir)
        .env("PORT", "15000")
        .env("REDIS_URL", "redis://127.0.0.1:16379/0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let wait = Instant::now();
    while std::net::TcpStream::connect("127.0.0.1:15000").is_err() {
        if wait.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = started.elapsed();
    let _ = app.kill();
    let _ = app.wait();
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
    println!(
        "baseline (python-flask-redis by hand, same run): {:>8.0} ms (venv + pip {:.0} ms, redis container {:.0} ms, app {:.0} ms)",
        total.as_secs_f64() * 1000.0,
        installed.as_secs_f64() * 1000.0,
        container.as_secs_f64() * 1000.0,
        (total - installed - container).as_secs_f64() * 1000.0
    );
    Ok(total)
}
