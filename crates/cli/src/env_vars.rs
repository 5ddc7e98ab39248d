//! Every environment variable repo-run reads, in one place.

/// Log filter for repo-run's own diagnostics (tracing `EnvFilter` syntax).
pub const REPO_RUN_LOG: &str = "REPO_RUN_LOG";
/// Directory for clones of git URLs and other caches.
pub const REPO_RUN_CACHE_DIR: &str = "REPO_RUN_CACHE_DIR";
/// Set to `true` by GitHub Actions: `review` then also prints workflow annotations.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// Set by most CI systems: `up` then runs as with `--ci` (plain output, no prompts).
pub const CI: &str = "CI";
/// `off`: the Fixer's rules are not consulted and every failure goes to the Fixer's model
/// (for measuring the model on its own: `cargo xtask eval fixer`).
pub const REPO_RUN_FIXER_RULES: &str = "REPO_RUN_FIXER_RULES";
// `REPO_RUN_ROUTER_THRESHOLD`, `REPO_RUN_DATA_DIR` (where `eval` and `models bench` keep
// their history) and the model variables are the engine's: `repo_run_inference::env_vars`.
