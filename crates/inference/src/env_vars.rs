//! Every environment variable the engine reads, in one place, so none is spelled twice.

/// Folder where model names are resolved and `cargo xtask models` puts its files.
/// Default: `~/.cache/repo-run/models`.
pub const REPO_RUN_MODEL_DIR: &str = "REPO_RUN_MODEL_DIR";

/// Model profile (`local` or `production`) when neither the caller nor `repo-run.toml` names one.
pub const REPO_RUN_MODEL_PROFILE: &str = "REPO_RUN_MODEL_PROFILE";

/// Sent as `Authorization: Bearer …` to remote model endpoints (a `models serve --api-key`,
/// a vLLM or llama-server started with one, a hosted OpenAI-compatible API).
pub const REPO_RUN_REMOTE_API_KEY: &str = "REPO_RUN_REMOTE_API_KEY";

/// The key `repo-run models serve` requires of its clients (same as `--api-key`).
pub const REPO_RUN_SERVE_API_KEY: &str = "REPO_RUN_SERVE_API_KEY";

/// Per-agent model overrides. They win over `repo-run.toml` and the compiled-in table.
/// The names are those users of the original design already export.
pub const DETECTION_AGENT_MODEL: &str = "DETECTION_AGENT_MODEL";
pub const REQUIREMENTS_AGENT_MODEL: &str = "REQUIREMENTS_AGENT_MODEL";
pub const SETUP_AGENT_MODEL: &str = "SETUP_AGENT_MODEL";
pub const DB_AGENT_MODEL: &str = "DB_AGENT_MODEL";
pub const RUNNER_AGENT_MODEL: &str = "RUNNER_AGENT_MODEL";
pub const HEALTH_AGENT_MODEL: &str = "HEALTH_AGENT_MODEL";
pub const FIXER_AGENT_MODEL: &str = "FIXER_AGENT_MODEL";
/// No `AGENT` in this one, as in the original design.
pub const ORCHESTRATOR_MODEL: &str = "ORCHESTRATOR_MODEL";
pub const REVIEW_AGENT_MODEL: &str = "REVIEW_AGENT_MODEL";
pub const REFACTOR_AGENT_MODEL: &str = "REFACTOR_AGENT_MODEL";
