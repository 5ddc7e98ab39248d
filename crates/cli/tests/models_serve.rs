//! `repo-run models serve`, the real binary on a free loopback port, with the real SmolLM2
//! model: the engine's remote backend, the official OpenAI Python client, and bad requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use repo_run_inference::table::SMOLLM2_135M;
use repo_run_inference::{Agent, Engine, EngineConfig, Error, ModelRef, ModelTable, Options, Prompt, Source, env_vars};

#[path = "support/models.rs"]
mod models_support;
use models_support::model_dir;

/// The server process; killed and reaped on drop, so a failing test leaves nothing behind.
struct Serve {
    child: Child,
    url: String,
    /// The server's working directory: its telemetry goes to `.repo-run/telemetry.jsonl` here.
    dir: tempfile::TempDir,
}

impl Serve {
    fn start() -> Serve {
        Serve::start_with_env(&[])
    }

    fn start_with_env(env: &[(&str, &str)]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_repo-run"))
            .args(["models", "serve", "--port", "0", "--memory-budget", "2048", "--n-gpu-layers", "0"])
            .current_dir(dir.path())
            .env(env_vars::REPO_RUN_MODEL_DIR, model_dir())
            .env(env_vars::REPO_RUN_MODEL_PROFILE, "local")
            .env_remove(env_vars::REPO_RUN_SERVE_API_KEY)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn repo-run models serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let url = first.trim().to_string();
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let serve = Serve { child, url, dir };
        assert!(serve.url.starts_with("http://127.0.0.1:") && serve.url.ends_with("/v1"), "first line: {first:?}");
        serve
    }

    fn authority(&self) -> &str {
        self.url.trim_start_matches("http://").trim_end_matches("/v1")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 request (`Connection: close`): the status and the body.
fn http(serve: &Serve, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(serve, method, path, body, "")
}

/// [`http`] with extra header lines (each ending in `\r\n`).
fn http_with(serve: &Serve, method: &str, path: &str, body: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(serve.authority()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        serve.authority(),
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn engine(config: &str) -> Engine {
    let dir = model_dir().display().to_string();
    let env = move |name: &str| (name == env_vars::REPO_RUN_MODEL_DIR).then(|| dir.clone());
    let table = ModelTable::load(None, Some((Path::new("repo-run.toml"), config)), &env).unwrap();
    Engine::new(EngineConfig { table, memory_budget: 2 << 30, n_gpu_layers: 0, telemetry: None })
}

fn greedy(max_tokens: u32) -> Options {
    Options { temperature: Some(0.0), max_tokens: Some(max_tokens), ..Options::default() }
}

#[derive(serde::Deserialize, Debug)]
struct Service {
    name: String,
    port: u16,
}

#[test]
fn the_remote_backend_uses_the_served_engine_and_falls_back_when_it_dies() {
    let serve = Serve::start();
    let remote = format!("{}#{SMOLLM2_135M}", serve.url);
    let client = engine(&format!("[models.fixer]\nmodel = \"{remote}\"\nfallback = \"none\"\n"));
    let model = ModelRef::Remote(remote.clone());

    let generation =
        client.generate(Agent::Fixer, &model, &Prompt::user("What is the capital of France?"), &greedy(16)).unwrap();
    assert!(generation.text.contains("Paris"), "{generation:?}");
    assert!(generation.prompt_tokens > 5 && generation.generated_tokens > 0, "{generation:?}");

    let schema = serde_json::json!({
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "port": {"type": "integer", "minimum": 1, "maximum": 65535}},
        "required": ["name", "port"]
    });
    let prompt = Prompt::user("An Express server listens on port 3000. Describe the service.");
    let answer = client.complete_json::<Service>(Agent::Fixer, &prompt, &schema, &greedy(64), || Service {
        name: "rule".into(),
        port: 1,
    });
    assert_eq!(answer.source, Source::Primary(model.clone()), "{:?}", answer.failures);
    assert!(answer.value.name != "rule" && answer.value.port >= 1, "{:?}", answer.value);

    drop(serve);
    let answer = client.complete(Agent::Fixer, &Prompt::user("Say hi."), &greedy(8), || "rule answer".into());
    assert_eq!((answer.value.as_str(), &answer.source), ("rule answer", &Source::RuleBased));
    assert!(
        matches!(&answer.failures[..], [(m, Error::Remote { status: None, .. })] if m == &model),
        "{:?}",
        answer.failures
    );
}

#[test]
fn bad_requests_get_openai_errors_and_the_server_keeps_answering() {
    let serve = Serve::start();
    let error_of = |body: &str| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(v["error"]["type"].is_string(), "{body}");
        v
    };

    let (status, body) = http(&serve, "POST", "/v1/chat/completions", "{\"model\": ");
    assert_eq!(status, 400, "{body}");
    error_of(&body);

    let (status, body) = http(&serve, "POST", "/v1/chat/completions", r#"{"model": "m", "messages": "hi"}"#);
    assert_eq!(status, 400, "{body}");

    let request = r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}"#;
    let (status, body) = http(&serve, "POST", "/v1/chat/completions", request);
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_of(&body)["error"]["code"], "model_not_found");

    let request = format!(r#"{{"model": "{SMOLLM2_135M}", "messages": [{{"role": "system", "content": "x"}}]}}"#);
    let (status, body) = http(&serve, "POST", "/v1/chat/completions", &request);
    assert_eq!(status, 400, "{body}");

    let (status, body) = http(&serve, "GET", "/v1/nothing", "");
    assert_eq!(status, 404, "{body}");
    error_of(&body);

    // Still alive and answering.
    let request = format!(
        r#"{{"model": "{SMOLLM2_135M}", "messages": [{{"role": "user", "content": "Say yes."}}], "max_tokens": 4, "temperature": 0}}"#
    );
    let (status, body) = http(&serve, "POST", "/v1/chat/completions", &request);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{body}");
    let (status, body) = http(&serve, "GET", "/v1/models", "");
    assert_eq!(status, 200);
    assert!(body.contains(SMOLLM2_135M), "{body}");
}

/// `~/.cache/repo-run/openai-venv` with the `openai` package, created on first use.
fn openai_python() -> PathBuf {
    let venv = dirs::cache_dir().unwrap().join("repo-run").join("openai-venv");
    let python = venv.join("bin").join("python");
    let has_openai = |p: &Path| Command::new(p).args(["-c", "import openai"]).status().is_ok_and(|s| s.success());
    if !has_openai(&python) {
        let status = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 -m venv");
        assert!(status.success(), "cannot create {}", venv.display());
        let status = Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "openai"])
            .status()
            .expect("pip install openai");
        assert!(status.success(), "pip install openai failed in {}", venv.display());
    }
    python
}

#[test]
fn the_official_openai_python_client_works_against_serve() {
    let python = openai_python();
    let serve = Serve::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_client.py");
    let started = Instant::now();
    let output = Command::new(&python).arg(&script).arg(&serve.url).arg(SMOLLM2_135M).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let out: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    assert!(out["models"].as_array().unwrap().iter().any(|m| m == SMOLLM2_135M), "{out}");
    let chat = &out["chat"];
    assert!(chat["text"].as_str().unwrap().contains("Paris"), "{out}");
    assert!(chat["prompt_tokens"].as_u64().unwrap() > 5 && chat["completion_tokens"].as_u64().unwrap() > 0, "{out}");
    assert!(matches!(chat["finish"].as_str(), Some("stop" | "length")), "{out}");
    // Greedy, same prompt: the streamed answer is the same text.
    assert_eq!(out["stream"]["text"], chat["text"], "{out}");
    assert!(out["stream"]["finish"].is_string() && out["stream"]["completion_tokens"].as_u64().unwrap() > 0, "{out}");
    // Token by token: several content chunks, the first well before the end.
    let stream = &out["stream"];
    assert!(stream["chunks"].as_u64().unwrap() >= 3, "{out}");
    assert!(stream["first_chunk_ms"].as_f64().unwrap() < stream["total_ms"].as_f64().unwrap(), "{out}");
    // The conversation's earlier turns reached the model (its prompt holds them).
    let conversation = &out["conversation"];
    assert!(
        conversation["prompt_tokens"].as_u64().unwrap()
            > conversation["last_turn_alone_prompt_tokens"].as_u64().unwrap() + 10,
        "{out}"
    );
    eprintln!("stream: {stream}\nconversation: {conversation}");
    let json = &out["json"];
    assert!(json["name"].is_string() && json["port"].is_u64() && json["database"].is_boolean(), "{out}");
    let concurrent = out["concurrent"].as_array().unwrap();
    assert_eq!(concurrent.len(), 4);
    assert!(concurrent.iter().all(|t| t.as_str().is_some_and(|t| !t.trim().is_empty())), "{out}");

    // The server's telemetry, as `repo-run models stats` adds it up: every completion above
    // (the chat, the stream, the JSON one, 4 sequential and 4 concurrent ones) is counted, and
    // the concurrent ones shared decode steps.
    let telemetry = serve.dir.path().join(".repo-run/telemetry.jsonl");
    let stats = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(["models", "stats", "--json", "--file"])
        .arg(&telemetry)
        .output()
        .unwrap();
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let served = &stats["generations"][0];
    assert!(served["requests"].as_u64().unwrap() >= 9, "{stats:#}");
    assert!(
        served["generated_tokens"].as_u64().unwrap() > 0 && served["mean_tokens_per_second"].as_f64().unwrap() > 0.0,
        "{stats:#}"
    );
    assert!(served["shared_decode_steps"].as_u64().unwrap() > 0, "concurrent requests were batched: {stats:#}");
    assert_eq!(stats["loads"][0]["loads"], 1, "{stats:#}");
    let table = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(["models", "stats", "--file"])
        .arg(&telemetry)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("TOK/S") && table.contains(SMOLLM2_135M), "{table}");

    eprintln!(
        "openai client: one completion {:.0} ms; 4 sequential {:.0} ms, 4 concurrent {:.0} ms; whole script {:?}",
        chat["ms"].as_f64().unwrap(),
        out["sequential_ms"].as_f64().unwrap(),
        out["concurrent_ms"].as_f64().unwrap(),
        started.elapsed()
    );
}

#[test]
fn stats_without_telemetry_says_where_it_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(["models", "stats"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("no telemetry at .repo-run/telemetry.jsonl") && stderr.contains("models serve"),
        "{stderr}"
    );
}

#[test]
fn serve_with_an_api_key_refuses_requests_without_it() {
    let serve = Serve::start_with_env(&[(env_vars::REPO_RUN_SERVE_API_KEY, "k3y")]);
    let (status, body) = http(&serve, "GET", "/v1/models", "");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_api_key"), "{body}");
    assert_eq!(http_with(&serve, "GET", "/v1/models", "", "Authorization: Bearer other\r\n").0, 401);
    assert_eq!(http(&serve, "GET", "/health", "").0, 200, "health checks need no key");
    let (status, body) = http_with(&serve, "GET", "/v1/models", "", "Authorization: Bearer k3y\r\n");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(SMOLLM2_135M), "{body}");
}
