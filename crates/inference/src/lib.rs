//! The shared inference engine: every agent asks it for completions by agent name.
//!
//! - [`table`]: which model each agent uses (compiled-in profiles, `repo-run.toml`, env).
//! - [`tiers`]: the `auto` profile, the largest tier of models this machine runs.
//! - [`pool`]: loaded models within a memory budget, LRU eviction of idle unpinned ones.
//! - [`worker`]: one thread per model decoding all its requests together (batching).
//! - [`engine`]: the API agents call, with the fallback chain ending at the caller's
//!   rule-based answer.
//! - [`remote`]: models at OpenAI-compatible `http://` endpoints, behind the same API.
//! - [`bench`]: a model's speed through the engine (`repo-run models bench`).
//! - [`pull`]: GGUF downloads into the model directory (`repo-run models pull`), resumable.
//! - [`serve`]: the engine as an OpenAI-compatible HTTP server (`repo-run models serve`).
//!
//! Invariant: only this crate links llama.cpp; a model is never a requirement.

mod backend;
pub mod bench;
pub mod engine;
pub mod env_vars;
pub mod error;
pub mod pool;
pub mod pull;
pub mod remote;
pub mod serve;
pub mod table;
pub mod telemetry;
pub mod tiers;
pub mod worker;

pub use backend::ModelInfo;
/// The process's llama.cpp backend, for code that drives llama-cpp-2 beside the engine
/// (the benchmark's direct loop).
pub use backend::backend as llama_backend;
pub use engine::{Answer, Engine, EngineConfig, Options, Prompt, Role, Source, Turn};
pub use error::{Error, Result};
pub use pool::{ModelPool, ModelSpec, default_budget};
pub use table::{Agent, AgentModel, ModelLocation, ModelRef, ModelTable, Profile};
pub use worker::{CancelToken, Finish, Generation, TextSink};
