//! Every environment variable the engine reads, in one place, so none is spelled twice.

/// Folder where model names are resolved and `cargo xtask models` puts its files.
/// Default: `~/.cache/repo-run/models`.
pub const REPO_RUN_MODEL_DIR: &str = "REPO_RUN_MODEL_DIR";

/// Model profile (`auto`, `local`, `medium` or `production`) when neither the caller nor
/// `repo-run.toml` names one. Default: `auto`, the largest tier this machine runs.
pub const REPO_RUN_MODEL_PROFILE: &str = "REPO_RUN_MODEL_PROFILE";

/// The measured accuracy (0 to 1, default 0.8) a model needs for the router to send it an
/// agent's questions ahead of the agent's own model; `[models.orchestrator]
/// accuracy_threshold` in `repo-run.toml` wins over it.
pub const REPO_RUN_ROUTER_THRESHOLD: &str = "REPO_RUN_ROUTER_THRESHOLD";

/// The user's data directory for repo-run: evaluation and bench history, the router's and the
/// `auto` profile's inputs. Default: the platform's data directory + `repo-run`.
pub const REPO_RUN_DATA_DIR: &str = "REPO_RUN_DATA_DIR";

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
