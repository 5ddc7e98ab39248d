//! `cargo xtask bench engine`: the engine against a minimal direct llama-cpp-2 loop on the
//! same model, 4 concurrent requests against the same 4 in sequence, and load/evict times.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use repo_run_inference::bench::{BenchSettings, PROMPTS, bench_model};
use repo_run_inference::table::{GEMMA3_270M, SMOLLM2_135M};
use repo_run_inference::telemetry::Event;
use repo_run_inference::{Agent, Engine, EngineConfig, ModelRef, ModelTable, Options, Prompt};

const TOKENS: u32 = 64;
const ROUNDS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = ModelTable::from_env(None, None)?;
    let path = table.model_dir.join(SMOLLM2_135M);
    if !path.is_file() {
        return Err(format!("{} is missing: run `cargo xtask models`", path.display()).into());
    }
    let config = EngineConfig { table, memory_budget: 4 << 30, n_gpu_layers: 999, telemetry: None };
    let smol = ModelRef::Name(SMOLLM2_135M.into());
    let greedy = Options { temperature: Some(0.0), max_tokens: Some(TOKENS), ..Options::default() };

    // (a) The engine and a direct loop, the same prompt and token count, interleaved request
    // by request (so drift of the machine hits both alike), 3 rounds; medians.
    let direct = direct_loop_setup(&path)?;
    let one_engine = Engine::new(config.clone());
    one_engine.generate(Agent::Fixer, &smol, &Prompt::user(PROMPTS[0]), &greedy)?;
    direct.run(PROMPTS[0], TOKENS)?;
    let (mut e_pp, mut e_tg, mut d_pp, mut d_tg) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _round in 0..ROUNDS {
        for prompt in PROMPTS {
            let g = one_engine.generate(Agent::Fixer, &smol, &Prompt::user(prompt), &greedy)?;
            e_pp.push(f64::from(g.prompt_tokens) / g.time_to_first_token.as_secs_f64());
            e_tg.push(g.tokens_per_second());
            let (pp, tg) = direct.run(prompt, g.generated_tokens)?;
            d_pp.push(pp);
            d_tg.push(tg);
        }
    }
    drop(one_engine);
    let (e_pp, e_tg, d_pp, d_tg) = (median(e_pp), median(e_tg), median(d_pp), median(d_tg));
    println!("(a) prompt tokens/s: engine {e_pp:.1}, direct {d_pp:.1} ({:+.1} %)", (e_pp / d_pp - 1.0) * 100.0);
    println!("    generation tokens/s: engine {e_tg:.1}, direct {d_tg:.1} ({:+.1} %)", (e_tg / d_tg - 1.0) * 100.0);

    // (b) through `models bench`'s measurement: load, one at a time, then all at once.
    let settings = BenchSettings { tokens: TOKENS, concurrency: 4, agent: Agent::Fixer };
    let engine = bench_model(&config, &smol, &settings, &|phase| eprintln!("engine: {phase}"))?;

    // (b) Four requests at once versus the same four one after another.
    println!(
        "(b) aggregate tokens/s: sequential {:.1}, 4 concurrent {:.1} ({:.2}x, {} shared decode steps)",
        engine.sequential_tokens_per_second,
        engine.concurrent_tokens_per_second,
        engine.speedup(),
        engine.shared_decode_steps
    );

    // (c) Load and eviction: a budget for one model at a time, alternating two models.
    // Unpin the shared default model (the orchestrator pins it) so it can be evicted.
    let unpinned = "[models.orchestrator]\npinned = false\n";
    let table = ModelTable::load(None, Some((std::path::Path::new("bench"), unpinned)), &|v| std::env::var(v).ok())?;
    let budget = 600 << 20;
    let engine = Engine::new(EngineConfig { table, memory_budget: budget, n_gpu_layers: 999, telemetry: None });
    let gemma = ModelRef::Name(GEMMA3_270M.into());
    let one = Options { max_tokens: Some(1), ..greedy.clone() };
    for model in [&smol, &gemma, &smol, &gemma] {
        let _ = engine.generate(Agent::Health, model, &Prompt::user("Hi"), &one);
    }
    for event in engine.telemetry().events() {
        match event {
            Event::Load { model, load_ms } => println!("(c) load  {model}: {load_ms:.0} ms"),
            Event::Evict { model, evict_ms } => println!("(c) evict {model}: {evict_ms:.0} ms"),
            _ => {}
        }
    }
    Ok(())
}

/// A minimal loop: one context, decode the prompt, then one token per decode, greedy.
struct Direct {
    backend: &'static LlamaBackend,
    model: LlamaModel,
}

fn direct_loop_setup(path: &std::path::Path) -> Result<Direct, Box<dyn std::error::Error>> {
    // llama.cpp is initialised once per process: share the engine's.
    let backend = repo_run_inference::llama_backend()?;
    let params = LlamaModelParams::default().with_n_gpu_layers(999);
    let model = LlamaModel::load_from_file(backend, path, &params)?;
    Ok(Direct { backend, model })
}

impl Direct {
    /// Returns (prompt tokens/s, generation tokens/s) for `n` generated tokens.
    fn run(&self, prompt: &str, n: u32) -> Result<(f64, f64), Box<dyn std::error::Error>> {
        let tmpl = self.model.chat_template(None)?;
        let text =
            self.model.apply_chat_template(&tmpl, &[LlamaChatMessage::new("user".into(), prompt.into())?], true)?;
        let params = LlamaContextParams::default().with_n_ctx(NonZeroU32::new(2048)).with_n_batch(2048);
        let mut ctx = self.model.new_context(self.backend, params)?;
        let tokens = self.model.vocab().tokenize(text.as_bytes(), true, true);
        let mut batch = LlamaBatch::new(2048, 1);
        let last = tokens.len() - 1;
        for (i, t) in tokens.iter().enumerate() {
            batch.add(*t, i as i32, &[0], i == last)?;
        }
        let started = Instant::now();
        ctx.decode(&mut batch)?;
        let mut sampler = LlamaSampler::greedy();
        let mut token = sampler.sample(&ctx, batch.n_tokens() - 1);
        let pp = tokens.len() as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for pos in (tokens.len() as i32..).take(n.saturating_sub(1) as usize) {
            if self.model.vocab().is_eog(token) {
                break;
            }
            batch.clear();
            batch.add(token, pos, &[0], true)?;
            ctx.decode(&mut batch)?;
            token = sampler.sample(&ctx, 0);
        }
        let tg = f64::from(n.saturating_sub(1))
            / started.elapsed().as_secs_f64().max(Duration::from_micros(1).as_secs_f64());
        Ok((pp, tg))
    }
}
