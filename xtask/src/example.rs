//! `cargo xtask example`: the README's first command. Brings a bundled example (a hit counter
//! on Redis whose start command only its README and Makefile give, so the Detection model
//! chooses it) up with `repo-run up` in a scratch copy, shows it answering, then takes it down
//! again (`--keep` leaves it running). On a machine without a container registry the Redis image is
//! built locally from Debian's packages first (`cargo xtask images`); elsewhere too, so the
//! example never depends on a registry.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

const FIXTURE: &str = "python-redis-start-in-readme";

pub fn run(args: &[&str]) -> anyhow::Result<()> {
    let keep = match args {
        [] => false,
        ["--keep"] => true,
        _ => bail!("usage: cargo xtask example [--keep]"),
    };
    let root = crate::workspace_root();
    let images = crate::images::for_services(&["redis"])?;
    let bin = crate::release_binary("example")?;
    let dir = std::env::temp_dir().join("repo-run-example").join(FIXTURE);
    if !dir.exists() {
        crate::copy_dir(&root.join("tests/fixtures").join(FIXTURE), &dir)?;
    }
    let repo_run = |args: &[&str]| -> anyhow::Result<bool> {
        println!("\n$ repo-run {} {}", args.join(" "), dir.display());
        let status = Command::new(&bin).args(args).arg(&dir).envs(images.iter().cloned()).status()?;
        Ok(status.success())
    };
    if !repo_run(&["up", "-d"])? {
        bail!("repo-run up failed (see above); `repo-run logs --path {}` shows the logs", dir.display());
    }
    let url = app_url(&dir)?;
    let body = http_get(&url).with_context(|| format!("asking {url}"))?;
    println!("\n$ curl {url}\n{}", body.trim_end());
    repo_run(&["status"])?;
    if keep {
        println!("\nstill running; stop it with: {} down {}", bin.display(), dir.display());
    } else {
        repo_run(&["down"])?;
    }
    Ok(())
}

/// The app's URL as `up` recorded it in the state file.
fn app_url(dir: &Path) -> anyhow::Result<String> {
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(".repo-run/state.json"))?)?;
    state["apps"][0]["url"].as_str().map(str::to_owned).context("no app URL in .repo-run/state.json")
}

fn http_get(url: &str) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").context("not an http URL")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(stream, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(response))
}
