//! Typed errors of the engine. Each says what to do next where there is something to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}{}: {message} (key `{key}`)", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config { file: PathBuf, line: Option<usize>, key: String, message: String },

    #[error(
        "unknown agent `{0}` (known: detection, requirements, setup, db, runner, health, fixer, orchestrator, review, refactor)"
    )]
    UnknownAgent(String),

    #[error("model file {} does not exist; `cargo xtask models` fetches the local models, or point {var} at the folder that holds it", path.display(), var = crate::env_vars::REPO_RUN_MODEL_DIR)]
    MissingModel { path: PathBuf },

    #[error("{} is not a readable GGUF model: {reason}", path.display())]
    BadModel { path: PathBuf, reason: String },

    #[error("model {} needs about {need} MiB but the memory budget is {budget} MiB; raise --memory-budget or pick a smaller model", path.display(), need = need / MIB, budget = budget / MIB)]
    TooLarge { path: PathBuf, need: u64, budget: u64 },

    #[error("no room for model {} ({need} MiB) within the memory budget: the loaded models are pinned or stayed busy (waited {waited:.1?}); raise --memory-budget or unpin a model", path.display(), need = need / MIB)]
    PoolBusy { path: PathBuf, need: u64, waited: std::time::Duration },

    /// A remote endpoint failed: unreachable, an HTTP error status, or an unreadable answer.
    /// `status` is the last HTTP status when there was one.
    #[error("remote model endpoint {url}: {message}")]
    Remote { url: String, status: Option<u16>, message: String },

    #[error("inference failed: {0}")]
    Inference(String),

    #[error("the request timed out after {0:?}")]
    Timeout(std::time::Duration),

    #[error("the request was cancelled")]
    Cancelled,

    #[error("the model's answer is not valid JSON for the schema: {0}")]
    InvalidJson(String),
}

pub const MIB: u64 = 1024 * 1024;

pub type Result<T, E = Error> = std::result::Result<T, E>;
