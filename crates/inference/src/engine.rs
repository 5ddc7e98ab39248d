//! The engine agents call: a request names its agent, the table picks the model, the pool
//! loads it, the model's worker batches it, and the fallback chain guarantees an answer.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use llama_cpp_2::model::LlamaChatMessage;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::pool::{ModelPool, ModelSpec, PoolEvents};
use crate::remote::{RemoteClient, RemoteRequest};
use crate::table::{Agent, ModelLocation, ModelRef, ModelTable};
use crate::telemetry::{Event, Telemetry};
use crate::worker::{CancelToken, Generation, Job, Sampling, TextSink};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub table: ModelTable,
    /// Bytes all loaded models together may use.
    pub memory_budget: u64,
    /// Layers offloaded to the GPU in `cuda` builds; ignored on CPU.
    pub n_gpu_layers: u32,
    /// Where events are appended, usually `<repo>/`[`crate::telemetry::TELEMETRY_FILE`].
    pub telemetry: Option<PathBuf>,
}

/// A chat request: an optional system message, the earlier turns of the conversation (if
/// any), and the user's message to answer.
#[derive(Clone, Debug, Default)]
pub struct Prompt {
    pub system: Option<String>,
    pub history: Vec<Turn>,
    pub user: String,
}

/// One earlier message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

impl Prompt {
    pub fn user(text: impl Into<String>) -> Prompt {
        Prompt { user: text.into(), ..Prompt::default() }
    }

    /// The messages in order, as (role, content): the system text, the history, the user's.
    pub fn messages(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let system = self.system.as_deref().map(|s| ("system", s));
        let history = self.history.iter().map(|t| (t.role.as_str(), t.text.as_str()));
        system.into_iter().chain(history).chain(std::iter::once(("user", self.user.as_str())))
    }
}

/// Per-request settings; unset ones come from the agent's row of the table.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// Seed for non-greedy sampling (same seed, same prompt, same model: same output).
    pub seed: Option<u32>,
    pub stop: Vec<String>,
    pub timeout: Option<Duration>,
    pub cancel: Option<CancelToken>,
    /// Receives the text as it is generated (a remote model's answer arrives in one piece).
    pub on_text: Option<TextSink>,
}

/// Who produced an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Primary(ModelRef),
    Fallback(ModelRef),
    RuleBased,
}

/// An answer and how it was reached.
#[derive(Debug)]
pub struct Answer<T> {
    pub value: T,
    pub source: Source,
    /// The generation that produced `value`, unless it is the rule-based answer.
    pub generation: Option<Generation>,
    /// Each model tried before the one that answered, with why it failed.
    pub failures: Vec<(ModelRef, Error)>,
}

pub struct Engine {
    table: ModelTable,
    pool: ModelPool,
    n_gpu_layers: u32,
    telemetry: Telemetry,
    /// For models at `http://` endpoints (see [`crate::remote`]).
    remote: RemoteClient,
}

/// Output constrained to a JSON Schema: the grammar local models sample under, and the schema
/// itself for remote ones (sent as `response_format`).
struct JsonConstraint {
    schema: serde_json::Value,
    grammar: String,
}

impl JsonConstraint {
    fn new(schema: &serde_json::Value) -> Result<JsonConstraint> {
        let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
            .map_err(|e| Error::InvalidJson(format!("the schema cannot be turned into a grammar: {e}")))?;
        Ok(JsonConstraint { schema: schema.clone(), grammar })
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            remote: RemoteClient::new(config.table.remote_api_key.as_ref()),
            pool: ModelPool::new(config.memory_budget, config.n_gpu_layers),
            table: config.table,
            n_gpu_layers: config.n_gpu_layers,
            telemetry: Telemetry::new(config.telemetry),
        }
    }

    pub fn table(&self) -> &ModelTable {
        &self.table
    }

    pub fn pool(&self) -> &ModelPool {
        &self.pool
    }

    pub fn n_gpu_layers(&self) -> u32 {
        self.n_gpu_layers
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// One model, no fallback: the building block of the chain, and what benchmarks call.
    pub fn generate(&self, agent: Agent, model: &ModelRef, prompt: &Prompt, options: &Options) -> Result<Generation> {
        self.generate_constrained(agent, model, prompt, options, None)
    }

    /// One model, no fallback, output constrained to JSON of `schema` (a grammar for local
    /// models, `response_format` for remote ones). The prompt is used as given: unlike
    /// [`Engine::complete_json`] it does not describe the schema. `models serve` calls this.
    pub fn generate_json(
        &self,
        agent: Agent,
        model: &ModelRef,
        prompt: &Prompt,
        schema: &serde_json::Value,
        options: &Options,
    ) -> Result<Generation> {
        let constraint = JsonConstraint::new(schema)?;
        self.generate_constrained(agent, model, prompt, options, Some(&constraint))
    }

    fn generate_constrained(
        &self,
        agent: Agent,
        model: &ModelRef,
        prompt: &Prompt,
        options: &Options,
        constraint: Option<&JsonConstraint>,
    ) -> Result<Generation> {
        let row = self.table.get(agent);
        let timeout = options.timeout.unwrap_or(row.timeout);
        let cancel = options.cancel.clone().unwrap_or_default();
        let sampling = Sampling {
            max_tokens: options.max_tokens.unwrap_or(row.max_tokens),
            temperature: options.temperature.unwrap_or(row.temperature),
            seed: options.seed.unwrap_or(0),
            stop: options.stop.clone(),
            grammar: constraint.map(|c| c.grammar.clone()),
        };
        let queued_at = Instant::now();
        let deadline = queued_at + timeout;
        let path = match self.table.locate(model) {
            ModelLocation::File(path) => path,
            ModelLocation::Remote(url) => {
                let request = RemoteRequest {
                    prompt,
                    sampling: &sampling,
                    schema: constraint.map(|c| &c.schema),
                    timeout,
                    deadline,
                    cancel: &cancel,
                };
                let generation = self.remote.chat(&url, &request)?;
                if let Some(sink) = &options.on_text {
                    sink.send(&generation.text);
                }
                self.record_generation(agent, model, &generation);
                return Ok(generation);
            }
        };
        let spec = self.table.spec_for(model);
        let (lease, events) = self.pool.acquire(&path, spec, deadline, &cancel)?;
        self.record_pool(&events, model);
        let loaded = &lease.model;

        let text = render_prompt(loaded, prompt)?;
        let (reply, answer) = mpsc::channel();
        loaded.worker.submit(Job {
            prompt: text,
            sampling,
            deadline,
            timeout,
            cancel: cancel.clone(),
            queued_at,
            reply,
            on_text: options.on_text.clone(),
        })?;
        // Poll so a cancellation or deadline returns at once even while the worker is mid-step;
        // the worker frees the sequence itself at its next step.
        let generation = loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                cancel.cancel();
                return Err(Error::Timeout(timeout));
            }
            match answer.recv_timeout(left.min(Duration::from_millis(20))) {
                Ok(result) => break result?,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Err(Error::Inference("the worker stopped".into())),
            }
        };
        self.record_generation(agent, model, &generation);
        Ok(generation)
    }

    fn record_generation(&self, agent: Agent, model: &ModelRef, generation: &Generation) {
        self.telemetry.record(Event::Generate {
            agent: agent.to_string(),
            model: model.to_string(),
            prompt_tokens: generation.prompt_tokens,
            generated_tokens: generation.generated_tokens,
            time_to_first_token_ms: generation.time_to_first_token.as_secs_f64() * 1e3,
            tokens_per_second: generation.tokens_per_second(),
            shared_decode_steps: generation.shared_steps,
        });
    }

    /// Free text from the agent's model, else its fallback model, else `rule_based()`.
    pub fn complete(
        &self,
        agent: Agent,
        prompt: &Prompt,
        options: &Options,
        rule_based: impl FnOnce() -> String,
    ) -> Answer<String> {
        self.chain(agent, prompt, options, None, |g| Ok(g.text.trim().to_string()), rule_based)
    }

    /// JSON of the schema's shape: generation is constrained by a grammar made from `schema`
    /// (which is also described in the prompt), and the result must deserialize into `T`.
    /// Any failure moves on along the chain, ending at `rule_based()`.
    pub fn complete_json<T: DeserializeOwned>(
        &self,
        agent: Agent,
        prompt: &Prompt,
        schema: &serde_json::Value,
        options: &Options,
        rule_based: impl FnOnce() -> T,
    ) -> Answer<T> {
        let constraint = match JsonConstraint::new(schema) {
            Ok(c) => c,
            Err(error) => return self.rule_based(agent, Vec::new(), error, rule_based),
        };
        let mut prompt = prompt.clone();
        prompt.user = format!(
            "{}\n\nAnswer with only a JSON value matching this JSON Schema:\n{}",
            prompt.user,
            serde_json::to_string(schema).unwrap_or_default()
        );
        let parse = |g: &Generation| {
            serde_json::from_str::<T>(g.text.trim()).map_err(|e| Error::InvalidJson(format!("{e}: {}", g.text)))
        };
        self.chain(agent, &prompt, options, Some(&constraint), parse, rule_based)
    }

    fn chain<T>(
        &self,
        agent: Agent,
        prompt: &Prompt,
        options: &Options,
        constraint: Option<&JsonConstraint>,
        parse: impl Fn(&Generation) -> Result<T>,
        rule_based: impl FnOnce() -> T,
    ) -> Answer<T> {
        let row = self.table.get(agent);
        let mut failures = Vec::new();
        let candidates = std::iter::once((row.model.clone(), true)).chain(row.fallback.clone().map(|f| (f, false)));
        for (model, primary) in candidates {
            let result = self.generate_constrained(agent, &model, prompt, options, constraint).and_then(|g| {
                let value = parse(&g)?;
                Ok((value, g))
            });
            match result {
                Ok((value, generation)) => {
                    if let Some((failed, error)) = failures.last() {
                        self.record_fallback(agent, failed, &model.to_string(), error);
                    }
                    let source = if primary { Source::Primary(model) } else { Source::Fallback(model) };
                    return Answer { value, source, generation: Some(generation), failures };
                }
                Err(Error::Cancelled) => {
                    // The caller wants out: no further model, straight to the rule-based answer.
                    return self.rule_based(agent, failures, Error::Cancelled, rule_based);
                }
                Err(error) => {
                    if let Some((failed, previous)) = failures.last() {
                        self.record_fallback(agent, failed, &model.to_string(), previous);
                    }
                    failures.push((model, error));
                }
            }
        }
        match failures.pop() {
            Some((model, error)) => {
                self.record_fallback(agent, &model, "rule-based", &error);
                failures.push((model, error));
                Answer { value: rule_based(), source: Source::RuleBased, generation: None, failures }
            }
            None => Answer { value: rule_based(), source: Source::RuleBased, generation: None, failures },
        }
    }

    fn rule_based<T>(
        &self,
        agent: Agent,
        failures: Vec<(ModelRef, Error)>,
        error: Error,
        rule_based: impl FnOnce() -> T,
    ) -> Answer<T> {
        self.telemetry.record(Event::Fallback {
            agent: agent.to_string(),
            from: self.table.get(agent).model.to_string(),
            to: "rule-based".into(),
            reason: error.to_string(),
        });
        let mut failures = failures;
        failures.push((self.table.get(agent).model.clone(), error));
        Answer { value: rule_based(), source: Source::RuleBased, generation: None, failures }
    }

    fn record_fallback(&self, agent: Agent, from: &ModelRef, to: &str, error: &Error) {
        self.telemetry.record(Event::Fallback {
            agent: agent.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            reason: error.to_string(),
        });
    }

    fn record_pool(&self, events: &PoolEvents, model: &ModelRef) {
        for (path, took) in &events.evicted {
            self.telemetry
                .record(Event::Evict { model: path.display().to_string(), evict_ms: took.as_secs_f64() * 1e3 });
        }
        if let Some(took) = events.loaded {
            self.telemetry.record(Event::Load { model: model.to_string(), load_ms: took.as_secs_f64() * 1e3 });
        }
    }

    pub fn spec_for(&self, model: &ModelRef) -> ModelSpec {
        self.table.spec_for(model)
    }
}

/// The chat template of the GGUF (ChatML when it has none) applied to the prompt.
fn render_prompt(loaded: &crate::pool::LoadedModel, prompt: &Prompt) -> Result<String> {
    let messages = prompt
        .messages()
        .map(|(role, content)| {
            LlamaChatMessage::new(role.into(), content.into())
                .map_err(|e| Error::Inference(format!("bad message: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    loaded
        .model
        .apply_chat_template(&loaded.template, &messages, true)
        .map_err(|e| Error::Inference(format!("cannot apply the chat template: {e}")))
}
