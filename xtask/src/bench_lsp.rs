//! `cargo xtask bench lsp`: latency from a one-character `didChange` to the diagnostics it
//! causes on a 5,000-line file (median and p95; beside `ruff server` when `ruff` is on PATH),
//! and `repo-run review` throughput in lines per second. Builds repo-run in release first.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

const LINES: usize = 5_000;
const CHANGES: usize = 200;

pub fn run() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo).args(["build", "--release", "-p", "repo-run"]).status()?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let exe = Path::new(&target).join("release/repo-run");
    let dir = std::env::temp_dir().join(format!("repo-run-bench-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let source = python_file(LINES, 50);

    let ours = latency(Command::new(&exe).arg("lsp"), &dir, &source)?;
    report("repo-run lsp", &ours);
    if let Ok(ruff) = latency(Command::new("ruff").arg("server"), &dir, &source) {
        report("ruff server", &ruff);
        println!("ratio (median): {:.2}x ruff", median(&ours) / median(&ruff));
    } else {
        println!("ruff server: not run (`pip install ruff` to compare)");
    }

    let tree = dir.join("tree");
    for i in 0..200 {
        let sub = tree.join(format!("pkg{}", i % 20));
        std::fs::create_dir_all(&sub)?;
        std::fs::write(sub.join(format!("m{i}.py")), python_file(2_500, 5))?;
        std::fs::write(sub.join(format!("m{i}.js")), js_file(2_500))?;
    }
    let start = Instant::now();
    let out = Command::new(&exe).args(["review", "--format", "json", "--fail-on", "never"]).arg(&tree).output()?;
    let secs = start.elapsed().as_secs_f64();
    let doc: Value = serde_json::from_slice(&out.stdout).context("review output")?;
    let lines = doc["lines_checked"].as_f64().unwrap_or(0.0);
    println!(
        "review: {} lines in {} files, {} findings, {secs:.2} s: {:.0} lines/s",
        lines,
        doc["files_checked"],
        doc["findings"].as_array().map_or(0, Vec::len),
        lines / secs
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Realistic density: one block in `bad_every` has two findings, the rest is clean code.
fn python_file(lines: usize, bad_every: usize) -> String {
    let clean = "def handler_N(request, cursor):\n    user = request.args.get('user')\n    cursor.execute(\"SELECT * FROM t WHERE u = %s\", (user,))\n    try:\n        total = compute(user) + 1\n    except ValueError:\n        total = 0\n    return total\n\n";
    let bad = "def handler_N(request, cursor):\n    user = request.args.get('user')\n    cursor.execute(f\"SELECT * FROM t WHERE u = {user}\")\n    try:\n        total = compute(user) + 1\n    except Exception:\n        pass\n    return total\n\n";
    let mut out = String::from("import requests\n");
    let mut i = 0;
    while out.lines().count() < lines {
        let block = if i % bad_every == 0 { bad } else { clean };
        out.push_str(&block.replace('N', &i.to_string()));
        i += 1;
    }
    out
}

fn js_file(lines: usize) -> String {
    let block = "export function handlerN(req, db) {\n  const id = req.params.id;\n  try { work(id); } catch (e) {}\n  return db.query(`SELECT * FROM t WHERE id = ${id}`);\n}\n";
    let mut out = String::new();
    let mut i = 0;
    while out.lines().count() < lines {
        out.push_str(&block.replace('N', &i.to_string()));
        i += 1;
    }
    out
}

struct Conn {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Conn {
    fn send(&mut self, v: Value) -> anyhow::Result<()> {
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())?;
        Ok(self.stdin.flush()?)
    }

    fn recv(&mut self) -> anyhow::Result<Value> {
        let mut len = 0;
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("server closed its output");
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.trim().parse()?;
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        self.stdout.read_exact(&mut body)?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Answer the server's requests (ruff asks for configuration) until `pred` matches.
    fn until(&mut self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        loop {
            let m = self.recv()?;
            if pred(&m) {
                return Ok(m);
            }
            if m.get("id").is_some() && m.get("method").is_some() {
                let result = if m["method"] == "workspace/configuration" { json!([{}]) } else { Value::Null };
                self.send(json!({"jsonrpc": "2.0", "id": m["id"], "result": result}))?;
            }
        }
    }
}

/// One-character edits, alternately typed and deleted, each timed to its diagnostics.
fn latency(cmd: &mut Command, dir: &Path, source: &str) -> anyhow::Result<Vec<Duration>> {
    let mut child = cmd.current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut c = Conn {
        stdin: child.stdin.take().context("stdin")?,
        stdout: BufReader::new(child.stdout.take().context("stdout")?),
    };
    let root = format!("file://{}", dir.display());
    let uri = format!("{root}/bench.py");
    c.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": root, "capabilities": {}}}))?;
    c.until(|m| m["id"] == 1)?;
    c.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))?;
    c.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": source}}}))?;
    let is_diag =
        |v: i64| move |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == v;
    c.until(is_diag(1))?;
    let mut times = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let version = i as i64 + 2;
        let line = (i * 37) % LINES / 2;
        let change = if i % 2 == 0 {
            json!({"range": {"start": {"line": line, "character": 4}, "end": {"line": line, "character": 4}}, "text": "x"})
        } else {
            let prev = ((i - 1) * 37) % LINES / 2;
            json!({"range": {"start": {"line": prev, "character": 4}, "end": {"line": prev, "character": 5}}, "text": ""})
        };
        let start = Instant::now();
        c.send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}}))?;
        c.until(is_diag(version))?;
        times.push(start.elapsed());
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(times)
}

fn median(t: &[Duration]) -> f64 {
    pct(t, 0.5)
}

fn pct(t: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = t.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, t: &[Duration]) {
    println!(
        "{name}: didChange -> publishDiagnostics on {LINES} lines, {} edits: median {:.2} ms, p95 {:.2} ms",
        t.len(),
        median(t),
        pct(t, 0.95)
    );
}
