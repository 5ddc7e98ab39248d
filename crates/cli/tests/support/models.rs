//! The GGUF models `cargo xtask models` fetches, for tests that run them.

use std::path::PathBuf;

use repo_run_inference::env_vars;
use repo_run_inference::table::{SMOLLM2_135M, default_model_dir};

/// The model folder; fails (never skips) when SmolLM2 is not in it.
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os(env_vars::REPO_RUN_MODEL_DIR).map(PathBuf::from).unwrap_or_else(default_model_dir);
    assert!(
        dir.join(SMOLLM2_135M).is_file(),
        "{SMOLLM2_135M} is missing in {}: run `cargo xtask models`",
        dir.display()
    );
    dir
}
