//! `cargo xtask <task>`: development tasks, written in Rust so they need nothing but cargo.

mod bench;
mod models;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  bench plan     benchmark `repo-run plan`
  bench engine   the inference engine against a direct llama-cpp-2 loop (add --features cuda on a GPU)
  models         fetch the test and default GGUF models into ~/.cache/repo-run/models (or $REPO_RUN_MODEL_DIR)";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("models") => models::run(),
        Some("bench") if args.get(1).map(String::as_str) == Some("engine") => bench::run(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    }
}
