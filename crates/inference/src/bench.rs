//! How fast a model runs through the engine on this machine: load time, prompt and generation
//! tokens per second, time to first token, and what batching gains when requests arrive
//! together. `repo-run models bench` prints it; `cargo xtask bench engine` compares it with a
//! direct llama-cpp-2 loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::{Engine, EngineConfig, Options, Prompt};
use crate::error::{Error, Result};
use crate::table::{Agent, ModelLocation, ModelRef};
use crate::telemetry::Event;
use crate::worker::Generation;

/// Varied prompts that each ask for a long answer, so every request generates `tokens`.
pub const PROMPTS: [&str; 4] = [
    "Explain what a Dockerfile is, in detail.",
    "Explain what a database migration is, in detail.",
    "Explain what an HTTP health check is, in detail.",
    "Explain what a lock file is, in detail.",
];

#[derive(Clone, Debug)]
pub struct BenchSettings {
    /// Tokens generated per request (greedy, so runs are comparable).
    pub tokens: u32,
    /// Requests sent at once in the batching phase (and one after another before it).
    pub concurrency: u32,
    /// The agent whose row the model runs under (its context length, for one).
    pub agent: Agent,
}

impl Default for BenchSettings {
    fn default() -> Self {
        BenchSettings { tokens: 64, concurrency: 4, agent: Agent::Orchestrator }
    }
}

/// One request's figures.
#[derive(Clone, Debug, Serialize)]
pub struct RequestFigures {
    pub prompt: String,
    pub prompt_tokens: u32,
    pub generated_tokens: u32,
    pub time_to_first_token_ms: f64,
    /// Prompt tokens over the time to the first token (queueing included: none when alone).
    pub prompt_tokens_per_second: f64,
    pub generation_tokens_per_second: f64,
}

impl RequestFigures {
    fn of(prompt: &str, g: &Generation) -> RequestFigures {
        let ttft = g.time_to_first_token.as_secs_f64();
        RequestFigures {
            prompt: prompt.to_string(),
            prompt_tokens: g.prompt_tokens,
            generated_tokens: g.generated_tokens,
            time_to_first_token_ms: ttft * 1e3,
            prompt_tokens_per_second: if ttft > 0.0 { f64::from(g.prompt_tokens) / ttft } else { 0.0 },
            generation_tokens_per_second: g.tokens_per_second(),
        }
    }
}

/// A model's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ModelBench {
    pub model: String,
    /// Loading the file into a fresh pool; `None` for a remote model.
    pub load_ms: Option<f64>,
    /// A remote endpoint answers whole: its times are whole-request latencies, and it has no
    /// prompt speed or time to first token of its own (those are `None`).
    pub remote: bool,
    /// Each request of the one-after-another phase.
    pub requests: Vec<RequestFigures>,
    pub prompt_tokens_per_second: Option<f64>,
    pub generation_tokens_per_second: f64,
    pub time_to_first_token_ms: Option<f64>,
    pub concurrency: u32,
    /// Generated tokens over wall time, the requests one after another.
    pub sequential_tokens_per_second: f64,
    /// Generated tokens over wall time, the requests all at once.
    pub concurrent_tokens_per_second: f64,
    /// Decode steps the concurrent requests shared with another one (0: not batched).
    pub shared_decode_steps: u64,
}

impl ModelBench {
    pub fn speedup(&self) -> f64 {
        if self.sequential_tokens_per_second > 0.0 {
            self.concurrent_tokens_per_second / self.sequential_tokens_per_second
        } else {
            0.0
        }
    }
}

/// Benchmarks `model` in an engine of its own built from `config` (so the load is measured
/// cold and the memory is freed afterwards). `phase` is told what runs next.
pub fn bench_model(
    config: &EngineConfig,
    model: &ModelRef,
    settings: &BenchSettings,
    phase: &dyn Fn(&str),
) -> Result<ModelBench> {
    let concurrency = settings.concurrency.max(1);
    let mut config = config.clone();
    // The model runs as the agent's model, with room for `concurrency` sequences and enough
    // time for a slow CPU.
    let mut row = config.table.get(settings.agent).clone();
    row.model = model.clone();
    row.max_concurrency = concurrency;
    row.max_tokens = settings.tokens;
    row.temperature = 0.0;
    row.timeout = row.timeout.max(Duration::from_secs(600));
    row.fallback = None;
    config.table.set(settings.agent, row);
    let engine = Arc::new(Engine::new(config));
    let greedy = Options { temperature: Some(0.0), max_tokens: Some(settings.tokens), ..Options::default() };
    let prompts: Vec<&str> = PROMPTS.iter().copied().cycle().take(concurrency as usize).collect();

    phase("loading");
    let remote = matches!(engine.table().locate(model), ModelLocation::Remote(_));
    let started = Instant::now();
    engine.generate(settings.agent, model, &Prompt::user("Hi"), &Options { max_tokens: Some(1), ..greedy.clone() })?;
    let load_ms = (!remote).then(|| {
        engine
            .telemetry()
            .events()
            .iter()
            .find_map(|e| match e {
                Event::Load { load_ms, .. } => Some(*load_ms),
                _ => None,
            })
            .unwrap_or_else(|| started.elapsed().as_secs_f64() * 1e3)
    });
    // One full request first, so caches and threads are warm for what is measured.
    phase("warming up");
    engine.generate(settings.agent, model, &Prompt::user(prompts[0]), &greedy)?;

    phase("one request at a time");
    let started = Instant::now();
    let mut requests = Vec::new();
    for prompt in &prompts {
        let g = engine.generate(settings.agent, model, &Prompt::user(*prompt), &greedy)?;
        requests.push(RequestFigures::of(prompt, &g));
    }
    let sequential_secs = started.elapsed().as_secs_f64();
    let sequential_tokens: u32 = requests.iter().map(|r| r.generated_tokens).sum();

    phase(&format!("{concurrency} requests at once"));
    let started = Instant::now();
    let handles: Vec<_> = prompts
        .iter()
        .map(|prompt| {
            let (engine, model, greedy) = (Arc::clone(&engine), model.clone(), greedy.clone());
            let prompt = prompt.to_string();
            let agent = settings.agent;
            std::thread::spawn(move || engine.generate(agent, &model, &Prompt::user(prompt), &greedy))
        })
        .collect();
    let mut concurrent_tokens = 0u32;
    let mut shared_decode_steps = 0u64;
    for handle in handles {
        let g = handle.join().map_err(|_| Error::Inference("a benchmark request panicked".into()))??;
        concurrent_tokens += g.generated_tokens;
        shared_decode_steps += u64::from(g.shared_steps);
    }
    let concurrent_secs = started.elapsed().as_secs_f64();

    let mean = |f: fn(&RequestFigures) -> f64| requests.iter().map(f).sum::<f64>() / requests.len() as f64;
    Ok(ModelBench {
        model: model.to_string(),
        load_ms,
        remote,
        prompt_tokens_per_second: (!remote).then(|| mean(|r| r.prompt_tokens_per_second)),
        generation_tokens_per_second: mean(|r| r.generation_tokens_per_second),
        time_to_first_token_ms: (!remote).then(|| mean(|r| r.time_to_first_token_ms)),
        concurrency,
        sequential_tokens_per_second: f64::from(sequential_tokens) / sequential_secs.max(1e-9),
        concurrent_tokens_per_second: f64::from(concurrent_tokens) / concurrent_secs.max(1e-9),
        shared_decode_steps,
        requests,
    })
}
