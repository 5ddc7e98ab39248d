//! `cargo xtask <task>`: development tasks, written in Rust so they need nothing but cargo.

mod models;

const USAGE: &str = "usage: cargo xtask <task>\n\ntasks:\n  bench plan   benchmark `repo-run plan`\n  models       fetch the test and default GGUF models into ~/.cache/repo-run/models (or $REPO_RUN_MODEL_DIR)";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("models") => models::run(),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    }
}
