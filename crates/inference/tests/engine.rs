//! The engine against the real GGUF models fetched by `cargo xtask models`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use repo_run_inference::table::{GEMMA3_270M, SMOLLM2_135M, default_model_dir};
use repo_run_inference::telemetry::Event;
use repo_run_inference::{
    Agent, CancelToken, Engine, EngineConfig, Error, ModelInfo, ModelRef, ModelTable, Options, Profile, Prompt, Source,
    TextSink, env_vars,
};

/// The folder holding the test models; fails (never skips) when they are absent.
fn model_dir() -> PathBuf {
    let dir = std::env::var_os(env_vars::REPO_RUN_MODEL_DIR).map(PathBuf::from).unwrap_or_else(default_model_dir);
    for file in [SMOLLM2_135M, GEMMA3_270M] {
        assert!(dir.join(file).is_file(), "{} is missing: run `cargo xtask models` first", dir.join(file).display());
    }
    dir
}

fn table(config: &str) -> ModelTable {
    let dir = model_dir().display().to_string();
    let env = move |name: &str| (name == env_vars::REPO_RUN_MODEL_DIR).then(|| dir.clone());
    ModelTable::load(Some(Profile::Local), Some((Path::new("repo-run.toml"), config)), &env).unwrap()
}

fn engine_with(config: &str, budget: u64, telemetry: Option<PathBuf>) -> Engine {
    Engine::new(EngineConfig { table: table(config), memory_budget: budget, n_gpu_layers: 0, telemetry })
}

fn engine(config: &str) -> Engine {
    engine_with(config, 4 << 30, None)
}

fn greedy(max_tokens: u32) -> Options {
    Options { temperature: Some(0.0), max_tokens: Some(max_tokens), ..Options::default() }
}

fn smol() -> ModelRef {
    ModelRef::Name(SMOLLM2_135M.into())
}

const LONG: &str = "Write a very long story about a lighthouse keeper, with many chapters.";

#[test]
fn loads_and_generates_with_the_instruct_model() {
    let engine = engine("");
    let started = Instant::now();
    let answer =
        engine
            .complete(Agent::Detection, &Prompt::user("What is the capital of France?"), &greedy(24), || "rule".into());
    assert_eq!(answer.source, Source::Primary(smol()), "failures: {:?}", answer.failures);
    let generation = answer.generation.unwrap();
    assert!(generation.generated_tokens > 0 && generation.generated_tokens <= 24);
    assert!(generation.prompt_tokens > 5);
    assert!(answer.value.contains("Paris"), "{}", answer.value);
    eprintln!(
        "first answer in {:?}, {:.1} tokens/s: {}",
        started.elapsed(),
        generation.tokens_per_second(),
        answer.value
    );
}

#[test]
fn greedy_and_seeded_outputs_repeat() {
    let engine = engine("");
    let prompt =
        Prompt { system: Some("You are terse.".into()), user: "Name three colours.".into(), ..Prompt::default() };
    let run = |o: &Options| engine.generate(Agent::Setup, &smol(), &prompt, o).unwrap().text;
    assert_eq!(run(&greedy(20)), run(&greedy(20)));
    let seeded =
        |seed| Options { temperature: Some(0.9), seed: Some(seed), max_tokens: Some(20), ..Options::default() };
    let a = run(&seeded(7));
    assert_eq!(a, run(&seeded(7)));
    assert!(!a.is_empty());
}

#[test]
fn stop_strings_cut_the_output() {
    let engine = engine("");
    let prompt = Prompt::user("Count from 1 to 20, separated by commas.");
    let full = engine.generate(Agent::Runner, &smol(), &prompt, &greedy(40)).unwrap();
    assert!(full.text.contains('5'), "{}", full.text);
    let options = Options { stop: vec!["5".into()], ..greedy(40) };
    let cut = engine.generate(Agent::Runner, &smol(), &prompt, &options).unwrap();
    assert_eq!(cut.finish, repo_run_inference::Finish::Stop);
    assert!(!cut.text.contains('5') && full.text.starts_with(&cut.text), "{:?} vs {:?}", cut.text, full.text);

    // Streamed, the pieces add up to the same text and never show the stop string, even one
    // that spans tokens.
    let pieces = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = {
        let pieces = Arc::clone(&pieces);
        TextSink::new(move |piece| pieces.lock().unwrap().push(piece.to_string()))
    };
    for stop in ["5", ", 6,"] {
        pieces.lock().unwrap().clear();
        let options = Options { stop: vec![stop.into()], on_text: Some(sink.clone()), ..greedy(40) };
        let streamed = engine.generate(Agent::Runner, &smol(), &prompt, &options).unwrap();
        let pieces = pieces.lock().unwrap().clone();
        assert!(pieces.len() > 3, "{pieces:?}");
        assert_eq!(pieces.concat(), streamed.text, "{pieces:?}");
        assert!(!pieces.concat().contains(stop) && full.text.starts_with(&streamed.text), "{pieces:?}");
    }
}

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)] // Fields are read through `Debug` and serde validation only.
struct Service {
    name: String,
    port: u16,
    database: bool,
}

#[test]
fn grammar_output_parses_to_the_schema() {
    let engine = engine("");
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "database": {"type": "boolean"}
        },
        "required": ["name", "port", "database"]
    });
    for question in [
        "A Flask app listens on port 5000 and uses PostgreSQL. Describe the service.",
        "An Express server on port 3000 without a database. Describe the service.",
        "Describe a Redis cache service.",
    ] {
        let answer =
            engine.complete_json::<Service>(Agent::Requirements, &Prompt::user(question), &schema, &greedy(64), || {
                Service { name: "rule".into(), port: 1, database: false }
            });
        assert_eq!(answer.source, Source::Primary(smol()), "{question}: {:?}", answer.failures);
        eprintln!("{question} -> {:?}", answer.value);
    }
}

#[test]
fn two_models_under_a_budget_for_one_evict_and_reload() {
    let config = "[models.orchestrator]\npinned = false\n[models.health]\nmodel = \"gemma-3-270m-q4_k_m.gguf\"\n";
    let probe = engine(config);
    let dir = model_dir();
    let estimate = |agent: Agent, file: &str| {
        let row = probe.table().get(agent);
        let spec = probe.spec_for(&row.model);
        ModelInfo::read(&dir.join(file)).unwrap().estimate_bytes(spec.n_ctx())
    };
    let (a, b) = (estimate(Agent::Detection, SMOLLM2_135M), estimate(Agent::Health, GEMMA3_270M));
    let engine = engine_with(config, a.max(b) + a.min(b) / 2, None);
    let ask = |agent| engine.complete(agent, &Prompt::user("Say hi."), &greedy(4), || "rule".into());
    assert!(matches!(ask(Agent::Detection).source, Source::Primary(_)));
    assert!(matches!(ask(Agent::Health).source, Source::Primary(_)));
    assert_eq!(engine.pool().loaded(), vec![dir.join(GEMMA3_270M)]);
    assert!(matches!(ask(Agent::Detection).source, Source::Primary(_)));
    assert_eq!(engine.pool().loaded(), vec![dir.join(SMOLLM2_135M)]);
    let events = engine.telemetry().events();
    let loads: Vec<f64> =
        events.iter().filter_map(|e| if let Event::Load { load_ms, .. } = e { Some(*load_ms) } else { None }).collect();
    let evicts: Vec<f64> = events
        .iter()
        .filter_map(|e| if let Event::Evict { evict_ms, .. } = e { Some(*evict_ms) } else { None })
        .collect();
    assert_eq!((loads.len(), evicts.len()), (3, 2), "{events:?}");
    eprintln!("load ms {loads:?}, evict ms {evicts:?}");
}

/// Estimates of both test models under `config`'s rows (Detection: SmolLM2, Health: gemma).
fn estimates(config: &str) -> (u64, u64) {
    let probe = engine(config);
    let dir = model_dir();
    let estimate = |agent: Agent, file: &str| {
        let spec = probe.spec_for(&probe.table().get(agent).model);
        ModelInfo::read(&dir.join(file)).unwrap().estimate_bytes(spec.n_ctx())
    };
    (estimate(Agent::Detection, SMOLLM2_135M), estimate(Agent::Health, GEMMA3_270M))
}

fn count_loads(engine: &Engine) -> usize {
    engine.telemetry().events().iter().filter(|e| matches!(e, Event::Load { .. })).count()
}

#[test]
fn a_request_waits_for_a_busy_model_to_make_room() {
    let config = "[models.orchestrator]\npinned = false\n[models.health]\nmodel = \"gemma-3-270m-q4_k_m.gguf\"\n";
    let (a, b) = estimates(config);
    let engine = Arc::new(engine_with(config, a.max(b) + a.min(b) / 2, None));
    let gemma = ModelRef::Name(GEMMA3_270M.into());
    let keep_busy = |tokens| {
        let worker = Arc::clone(&engine);
        let handle = std::thread::spawn(move || {
            worker.generate(Agent::Detection, &smol(), &Prompt::user(LONG), &greedy(tokens))
        });
        while !engine.pool().loaded().contains(&model_dir().join(SMOLLM2_135M)) {
            std::thread::sleep(Duration::from_millis(5));
        }
        handle
    };

    // SmolLM2 is busy generating; gemma needs its room: the request waits, then evicts it.
    let busy = keep_busy(48);
    let started = Instant::now();
    let answer = engine.generate(Agent::Health, &gemma, &Prompt::user("Hi"), &greedy(2));
    let waited = started.elapsed();
    let first = busy.join().unwrap().unwrap();
    assert!(answer.is_ok(), "{answer:?}");
    assert!(first.generated_tokens > 8, "{first:?}");
    assert_eq!(engine.pool().loaded(), vec![model_dir().join(GEMMA3_270M)]);
    let kinds: Vec<&str> = engine
        .telemetry()
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Load { .. } => Some("load"),
            Event::Evict { .. } => Some("evict"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["load", "evict", "load"]);
    eprintln!("gemma waited for the busy model and loaded in {waited:?}");

    // With a deadline shorter than the busy request, the wait ends at the deadline.
    let busy = keep_busy(64);
    let started = Instant::now();
    let short = Options { timeout: Some(Duration::from_millis(300)), ..greedy(2) };
    let err = engine.generate(Agent::Health, &gemma, &Prompt::user("Hi"), &short).unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::PoolBusy { waited, .. } if waited >= Duration::from_millis(250)), "{err}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(err.to_string().contains("--memory-budget"), "{err}");
    assert!(busy.join().unwrap().is_ok());
}

#[test]
fn concurrent_first_requests_load_a_model_once() {
    let engine = Arc::new(engine(""));
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (engine, barrier) = (Arc::clone(&engine), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                engine.generate(Agent::Detection, &smol(), &Prompt::user("Hi"), &greedy(2))
            })
        })
        .collect();
    for handle in handles {
        assert!(handle.join().unwrap().is_ok());
    }
    assert_eq!(count_loads(&engine), 1);
}

#[test]
fn a_pinned_model_is_not_evicted() {
    let config = "[models.health]\nmodel = \"gemma-3-270m-q4_k_m.gguf\"\nfallback = \"none\"\n";
    let probe = engine(config);
    let row = probe.table().get(Agent::Detection);
    let spec = probe.spec_for(&row.model);
    assert!(spec.pinned, "the orchestrator pins the shared default model");
    let need = ModelInfo::read(&model_dir().join(SMOLLM2_135M)).unwrap().estimate_bytes(spec.n_ctx());
    let engine = engine_with(config, need + 1, None);
    let first = engine.complete(Agent::Detection, &Prompt::user("Hi"), &greedy(2), || "rule".into());
    assert!(matches!(first.source, Source::Primary(_)));
    let second = engine.complete(Agent::Health, &Prompt::user("Hi"), &greedy(2), || "rule".into());
    assert_eq!(second.source, Source::RuleBased);
    assert!(matches!(second.failures[0].1, Error::PoolBusy { .. } | Error::TooLarge { .. }), "{:?}", second.failures);
}

#[test]
fn concurrent_requests_share_decode_steps() {
    let engine = Arc::new(engine(""));
    // Load first so all four requests reach the worker together.
    engine.generate(Agent::Fixer, &smol(), &Prompt::user("Hi"), &greedy(1)).unwrap();
    let prompts = ["List four fruits.", "List four animals.", "List four cities.", "List four colours."];
    let run_all = |concurrent: bool| {
        let started = Instant::now();
        let barrier = Arc::new(Barrier::new(prompts.len()));
        let results: Vec<_> = if concurrent {
            let handles: Vec<_> = prompts
                .iter()
                .map(|p| {
                    let (engine, barrier, p) = (Arc::clone(&engine), Arc::clone(&barrier), p.to_string());
                    std::thread::spawn(move || {
                        barrier.wait();
                        engine.generate(Agent::Fixer, &smol(), &Prompt::user(p), &greedy(32)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        } else {
            prompts
                .iter()
                .map(|p| engine.generate(Agent::Fixer, &smol(), &Prompt::user(*p), &greedy(32)).unwrap())
                .collect()
        };
        let tokens: u32 = results.iter().map(|g| g.generated_tokens).sum();
        (results, tokens as f64 / started.elapsed().as_secs_f64())
    };
    let (sequential, sequential_rate) = run_all(false);
    let (concurrent, concurrent_rate) = run_all(true);
    assert!(sequential.iter().all(|g| g.shared_steps == 0));
    let shared: u32 = concurrent.iter().map(|g| g.shared_steps).sum();
    assert!(shared > 0, "no decode step was shared: {concurrent:?}");
    // Not compared with the sequential texts: llama.cpp's sums differ with the batch shape, so
    // greedy output in a batch may diverge from the same request alone after some tokens.
    assert!(concurrent.iter().all(|g| g.generated_tokens > 0 && !g.text.trim().is_empty()), "{concurrent:?}");
    let shared_in_telemetry = engine
        .telemetry()
        .events()
        .iter()
        .any(|e| matches!(e, Event::Generate { shared_decode_steps, .. } if *shared_decode_steps > 0));
    assert!(shared_in_telemetry);
    eprintln!("sequential {sequential_rate:.1} tok/s, concurrent {concurrent_rate:.1} tok/s, shared steps {shared}");
}

#[test]
fn timeout_returns_promptly_and_frees_the_slot() {
    // A link gives the model its own pool entry with a single sequence, so the second request
    // can only run if the timed-out one gave its sequence back.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("single.gguf");
    std::os::unix::fs::symlink(model_dir().join(SMOLLM2_135M), &link).unwrap();
    let engine = engine(&format!("[models.review]\nmodel = \"{}\"\nmax_concurrency = 1\n", link.display()));
    let model = engine.table().get(Agent::Review).model.clone();
    assert_eq!(engine.spec_for(&model).max_concurrency, 1);
    engine.generate(Agent::Review, &model, &Prompt::user("Hi"), &greedy(1)).unwrap();
    let started = Instant::now();
    let options = Options { timeout: Some(Duration::from_millis(300)), ..greedy(4000) };
    let result = engine.generate(Agent::Review, &model, &Prompt::user(LONG), &options);
    assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(800), "{:?}", started.elapsed());
    let after = engine.generate(Agent::Review, &model, &Prompt::user("Say yes."), &greedy(4));
    assert!(after.is_ok(), "{after:?}");
}

#[test]
fn cancellation_returns_promptly_and_uses_the_rule_based_answer() {
    let engine = engine("");
    engine.generate(Agent::Refactor, &smol(), &Prompt::user("Hi"), &greedy(1)).unwrap();
    let cancel = CancelToken::new();
    let canceller = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    let options = Options { cancel: Some(cancel), ..greedy(4000) };
    let answer = engine.complete(Agent::Refactor, &Prompt::user(LONG), &options, || "rule".into());
    assert!(started.elapsed() < Duration::from_millis(700), "{:?}", started.elapsed());
    assert_eq!((answer.value.as_str(), &answer.source), ("rule", &Source::RuleBased));
    assert!(matches!(answer.failures.last(), Some((_, Error::Cancelled))), "{:?}", answer.failures);
    assert!(engine.generate(Agent::Refactor, &smol(), &Prompt::user("Say yes."), &greedy(4)).is_ok());
}

#[test]
fn fallback_chain_records_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = dir.path().join(".repo-run/telemetry.jsonl");
    let config = format!(
        "[models.db]\nmodel = \"{}\"\nfallback = \"{SMOLLM2_135M}\"\n",
        dir.path().join("absent.gguf").display()
    );
    let engine = engine_with(&config, 4 << 30, Some(telemetry.clone()));
    let answer = engine.complete(Agent::Db, &Prompt::user("Name a database."), &greedy(8), || "rule".into());
    assert_eq!(answer.source, Source::Fallback(smol()));
    assert!(matches!(answer.failures[0].1, Error::MissingModel { .. }));

    let config =
        format!("[models.db]\nmodel = \"{0}\"\nfallback = \"{0}\"\n", dir.path().join("absent.gguf").display());
    let engine = engine_with(&config, 4 << 30, Some(telemetry.clone()));
    let answer = engine.complete(Agent::Db, &Prompt::user("Name a database."), &greedy(8), || "rule".into());
    assert_eq!((answer.value.as_str(), answer.source, answer.failures.len()), ("rule", Source::RuleBased, 2));

    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&telemetry).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["load", "generate", "fallback", "fallback", "fallback"], "{lines:?}");
    assert_eq!(lines[2]["to"], SMOLLM2_135M);
    assert_eq!(lines[4]["to"], "rule-based");
    assert!(lines[1]["tokens_per_second"].as_f64().is_some() && lines[2]["ts_ms"].as_u64().is_some());
}

#[test]
fn bad_model_files_and_budgets_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine("");
    let generate = |e: &Engine, path: &Path| {
        e.generate(Agent::Health, &ModelRef::Path(path.into()), &Prompt::user("Hi"), &greedy(2))
    };

    let missing = generate(&engine, &dir.path().join("absent.gguf")).unwrap_err();
    assert!(missing.to_string().contains("cargo xtask models"), "{missing}");

    let truncated = dir.path().join("truncated.gguf");
    let bytes = std::fs::read(model_dir().join(SMOLLM2_135M)).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = generate(&engine, &truncated).unwrap_err();
    assert!(matches!(err, Error::BadModel { .. }), "{err}");

    let header_only = dir.path().join("header.gguf");
    std::fs::write(&header_only, &bytes[..100]).unwrap();
    assert!(matches!(generate(&engine, &header_only).unwrap_err(), Error::BadModel { .. }));

    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"this is not a model").unwrap();
    let err = generate(&engine, &garbage).unwrap_err();
    assert!(err.to_string().contains("GGUF magic"), "{err}");

    let tiny = engine_with("", 16 << 20, None);
    let err = generate(&tiny, &model_dir().join(SMOLLM2_135M)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("--memory-budget"), "{err}");

    // Nothing listens on port 1: the remote backend retries, then gives a remote error.
    let err =
        engine.generate(Agent::Health, &ModelRef::parse("http://127.0.0.1:1/v1#m"), &Prompt::user("Hi"), &greedy(2));
    assert!(matches!(err, Err(Error::Remote { status: None, .. })), "{err:?}");
    // https goes through the TLS client: nothing listens there either, the same remote error.
    let err =
        engine.generate(Agent::Health, &ModelRef::parse("https://127.0.0.1:1/v1#m"), &Prompt::user("Hi"), &greedy(2));
    assert!(matches!(err, Err(Error::Remote { status: None, .. })), "{err:?}");

    // The engine still works after all of that.
    assert!(generate(&engine, &model_dir().join(SMOLLM2_135M)).is_ok());
}
