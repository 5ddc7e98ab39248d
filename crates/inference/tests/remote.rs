//! The remote backend against the real server of `repo-run models serve` (in process here; the
//! CLI tests run the binary): an engine whose table points an agent at `http://…/v1` gets text
//! and typed JSON from it, and falls back when the server is gone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use repo_run_inference::bench::{BenchSettings, bench_model};
use repo_run_inference::serve::Server;
use repo_run_inference::table::{GEMMA3_270M, SMOLLM2_135M, default_model_dir};
use repo_run_inference::telemetry::Event;
use repo_run_inference::{
    Agent, Engine, EngineConfig, Error, ModelRef, ModelTable, Options, Profile, Prompt, Source, env_vars,
};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os(env_vars::REPO_RUN_MODEL_DIR).map(PathBuf::from).unwrap_or_else(default_model_dir);
    for file in [SMOLLM2_135M, GEMMA3_270M] {
        assert!(dir.join(file).is_file(), "{} is missing: run `cargo xtask models` first", dir.join(file).display());
    }
    dir
}

fn engine(config: &str) -> Engine {
    engine_with_key(config, None)
}

/// An engine whose environment holds `key` as `REPO_RUN_REMOTE_API_KEY`.
fn engine_with_key(config: &str, key: Option<&str>) -> Engine {
    let dir = model_dir().display().to_string();
    let key = key.map(str::to_string);
    let env = move |name: &str| match name {
        env_vars::REPO_RUN_MODEL_DIR => Some(dir.clone()),
        env_vars::REPO_RUN_REMOTE_API_KEY => key.clone(),
        _ => None,
    };
    let table = ModelTable::load(Some(Profile::Local), Some((Path::new("repo-run.toml"), config)), &env).unwrap();
    Engine::new(EngineConfig { table, memory_budget: 4 << 30, n_gpu_layers: 0, telemetry: None })
}

/// The server on a free loopback port, stopped (and its port closed) on drop.
struct Running {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn start() -> Running {
        Running::start_with_key(None)
    }

    fn start_with_key(key: Option<&str>) -> Running {
        let server =
            Server::bind(Arc::new(engine("")), "127.0.0.1:0").unwrap().require_api_key(key.map(str::to_string));
        let url = server.url();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run(&flag));
        Running { url, stop, thread: Some(thread) }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn greedy(max_tokens: u32) -> Options {
    Options { temperature: Some(0.0), max_tokens: Some(max_tokens), ..Options::default() }
}

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)] // Read through serde validation and `Debug`.
struct Service {
    name: String,
    port: u16,
}

#[test]
fn remote_text_json_and_fallback_when_the_server_dies() {
    let server = Running::start();
    let remote = format!("{}#{SMOLLM2_135M}", server.url);
    let client = engine(&format!("[models.fixer]\nmodel = \"{remote}\"\nfallback = \"none\"\n"));
    let model = ModelRef::Remote(remote.clone());

    let local = engine("");
    let prompt = Prompt::user("What is the capital of France?");
    local.generate(Agent::Fixer, &ModelRef::Name(SMOLLM2_135M.into()), &Prompt::user("Hi"), &greedy(1)).unwrap();
    let started = Instant::now();
    let in_process = local.generate(Agent::Fixer, &ModelRef::Name(SMOLLM2_135M.into()), &prompt, &greedy(16)).unwrap();
    let local_ms = started.elapsed().as_secs_f64() * 1e3;
    client.generate(Agent::Fixer, &model, &prompt, &greedy(16)).unwrap(); // loads the model server-side
    let started = Instant::now();
    let through = client.generate(Agent::Fixer, &model, &prompt, &greedy(16)).unwrap();
    let remote_ms = started.elapsed().as_secs_f64() * 1e3;
    assert!(through.text.contains("Paris"), "{through:?}");
    assert_eq!(through.text, in_process.text, "greedy output is the same through the server");
    assert_eq!(
        (through.prompt_tokens, through.generated_tokens),
        (in_process.prompt_tokens, in_process.generated_tokens)
    );
    eprintln!("one completion (16 tokens, warm): in process {local_ms:.0} ms, through serve {remote_ms:.0} ms");

    let schema = serde_json::json!({
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "port": {"type": "integer", "minimum": 1, "maximum": 65535}},
        "required": ["name", "port"]
    });
    let question = Prompt::user("A Flask app listens on port 5000. Describe the service.");
    let answer = client.complete_json::<Service>(Agent::Fixer, &question, &schema, &greedy(64), || Service {
        name: "rule".into(),
        port: 1,
    });
    assert_eq!(answer.source, Source::Primary(model.clone()), "{:?}", answer.failures);
    assert_ne!(answer.value.name, "rule");
    let answer = client.complete(Agent::Fixer, &Prompt::user("Say hi."), &greedy(8), || "rule".into());
    assert_eq!(answer.source, Source::Primary(model.clone()));

    drop(server);
    let started = Instant::now();
    let answer = client.complete(Agent::Fixer, &Prompt::user("Say hi."), &greedy(8), || "rule".into());
    let took = started.elapsed();
    assert_eq!((answer.value.as_str(), &answer.source), ("rule", &Source::RuleBased));
    match &answer.failures[..] {
        [(failed, Error::Remote { status: None, message, .. })] => {
            assert_eq!(failed, &model);
            assert!(message.contains("after 3 tries"), "{message}");
        }
        other => panic!("expected one remote failure, got {other:?}"),
    }
    // Three tries with 200 + 400 ms of backoff between them, well within the agent's timeout.
    assert!(took >= Duration::from_millis(600) && took < Duration::from_secs(5), "{took:?}");
    let fell_back = client
        .telemetry()
        .events()
        .iter()
        .any(|e| matches!(e, Event::Fallback { from, to, .. } if from == &remote && to == "rule-based"));
    assert!(fell_back, "{:?}", client.telemetry().events());
}

#[test]
fn a_dead_primary_falls_back_to_a_local_model_and_4xx_is_not_retried() {
    let server = Running::start();
    // An unknown model is a 404: a request error, answered at once, not retried.
    let unknown = format!("{}#no-such-model", server.url);
    let client = engine(&format!("[models.db]\nmodel = \"{unknown}\"\nfallback = \"{SMOLLM2_135M}\"\n"));
    let started = Instant::now();
    let answer = client.complete(Agent::Db, &Prompt::user("Name a database."), &greedy(8), || "rule".into());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(answer.source, Source::Fallback(ModelRef::Name(SMOLLM2_135M.into())), "{:?}", answer.failures);
    match &answer.failures[..] {
        [(_, Error::Remote { status: Some(404), message, .. })] => {
            assert!(message.contains("no-such-model") && !message.contains("tries"), "{message}")
        }
        other => panic!("expected a 404, got {other:?}"),
    }

    // Without `#name` the first model the server lists is used.
    let bare = engine("");
    let g = bare.generate(Agent::Db, &ModelRef::parse(&server.url), &Prompt::user("Say yes."), &greedy(4)).unwrap();
    assert!(g.generated_tokens > 0);

    // A timeout shorter than the generation: the agent's timeout bounds the remote call.
    let options = Options { timeout: Some(Duration::from_millis(300)), ..greedy(400) };
    let started = Instant::now();
    let long = Prompt::user("Write a very long story about a lighthouse keeper, with many chapters.");
    let result = bare.generate(Agent::Db, &ModelRef::parse(&server.url), &long, &options);
    assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());
}

#[test]
fn a_server_with_an_api_key_answers_only_clients_that_send_it() {
    let server = Running::start_with_key(Some("s3cret-key"));
    let remote = format!("{}#{SMOLLM2_135M}", server.url);
    let config = format!("[models.fixer]\nmodel = \"{remote}\"\nfallback = \"none\"\n");
    let model = ModelRef::Remote(remote);

    // Without the key (or with another): 401, not retried, so the chain moves on at once.
    for key in [None, Some("wrong-key!")] {
        let started = Instant::now();
        let err = engine_with_key(&config, key).generate(Agent::Fixer, &model, &Prompt::user("Hi"), &greedy(2));
        assert!(
            matches!(&err, Err(Error::Remote { status: Some(401), message, .. }) if message.contains("API key")),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(500), "a 401 is not retried");
    }
    let with_key = engine_with_key(&config, Some("s3cret-key"));
    let answer = with_key.generate(Agent::Fixer, &model, &Prompt::user("What is the capital of France?"), &greedy(12));
    assert!(answer.as_ref().is_ok_and(|g| g.text.contains("Paris")), "{answer:?}");
    // The key never shows in the table's debug output.
    assert!(!format!("{:?}", with_key.table()).contains("s3cret"));
}

#[test]
fn models_bench_measures_a_remote_endpoint() {
    let server = Running::start();
    let remote = ModelRef::Remote(format!("{}#{SMOLLM2_135M}", server.url));
    let config =
        EngineConfig { table: engine("").table().clone(), memory_budget: 4 << 30, n_gpu_layers: 0, telemetry: None };
    let settings = BenchSettings { tokens: 8, concurrency: 2, agent: Agent::Fixer };
    let result = bench_model(&config, &remote, &settings, &|_| {}).unwrap();
    assert_eq!(result.load_ms, None, "a remote model has no load time here");
    assert!(result.remote && result.prompt_tokens_per_second.is_none() && result.time_to_first_token_ms.is_none());
    assert_eq!(result.requests.len(), 2);
    assert!(result.requests.iter().all(|r| r.generated_tokens >= 1 && r.prompt_tokens > 5), "{result:?}");
    assert!(result.sequential_tokens_per_second > 0.0 && result.concurrent_tokens_per_second > 0.0, "{result:?}");
}
