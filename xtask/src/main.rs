//! `cargo xtask <task>`: development tasks, written in Rust so they need nothing but cargo.
//! Few dependencies on purpose: this builds before anything else.

mod bench;
mod bench_lsp;
mod bench_plan;
mod bench_up;
mod eval;
mod example;
mod images;
mod models;
mod npm_registry;
mod setup;
mod test;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  setup        install what the build and the tests need (apt packages, models), once
  test         setup, then run every test and print a summary line
  images       build local PostgreSQL, Redis, MariaDB and RabbitMQ images from Debian packages (or only those named)
  example      `repo-run up` on a bundled example (a counter on Redis; the model picks its start), show it answering, `down` (--keep)
  bench plan   benchmark `repo-run plan` on a generated 50,000-file repository and the fixtures
  bench up     time `repo-run up` to healthy on fixtures (cold and warm), per agent, with overhead
  bench lsp    benchmark `repo-run lsp` latency and `repo-run review` throughput
  bench engine the inference engine against a direct llama-cpp-2 loop (add --features cuda on a GPU)
  npm-registry build a local npm registry from Debian's node-* packages (--out DIR, --serve to serve it)
  models       fetch the test and default GGUF models into ~/.cache/repo-run/models (or $REPO_RUN_MODEL_DIR);
               --eval also the Qwen2.5-Coder 1.5B model evaluations use
  eval fixer   the Fixer on the broken repositories: rules only, then the model alone (--skip-model, --only a,b)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["setup"] => setup::run(),
        ["example", rest @ ..] => example::run(rest),
        ["test", rest @ ..] => test::run(rest),
        ["images", rest @ ..] => images::run(rest),
        ["bench", "plan", rest @ ..] => bench_plan::run(rest),
        ["bench", "lsp"] => bench_lsp::run(),
        ["bench", "up", rest @ ..] => bench_up::run(rest),
        ["bench", "engine", ..] => bench::run(&args[1..].iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        ["models", rest @ ..] => models::run_with(rest),
        ["eval", "fixer", rest @ ..] => eval::run(rest),
        ["npm-registry", rest @ ..] => npm_registry::run(rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_owned()
}

/// Builds `repo-run` in release mode (what benchmarks and the example run) and returns its path.
pub fn release_binary(who: &str) -> anyhow::Result<std::path::PathBuf> {
    let root = workspace_root();
    eprintln!("{who}: building repo-run (release)");
    let status = cargo().args(["build", "--release", "-q", "-p", "repo-run"]).current_dir(&root).status()?;
    if !status.success() {
        anyhow::bail!("cargo build --release -p repo-run failed");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    Ok(target.join("release/repo-run"))
}

/// Environment variables for a child process, in order.
pub type Env = Vec<(String, String)>;

/// What `repo-run up` on fixtures needs here: the local service images (on a machine without a
/// registry), the local npm registry served for Node installs (keep the server alive while the
/// runs go on), and one `CARGO_TARGET_DIR` for Rust fixtures, `target/<target_dir>`, so a second
/// run is not a cold compile of their dependencies.
pub fn up_env(bin: &std::path::Path, target_dir: &str) -> anyhow::Result<(Env, Option<testkit::NpmRegistry>)> {
    use anyhow::Context;
    let mut env: Env = crate::images::for_tests()?;
    let built = crate::npm_registry::for_tests()?;
    let registry_dir = std::env::var_os(testkit::NPM_REGISTRY_ENV)
        .map(std::path::PathBuf::from)
        .or_else(|| built.first().map(|(_, dir)| std::path::PathBuf::from(dir)));
    let registry = match registry_dir {
        Some(dir) => {
            let server = testkit::NpmRegistry::serve(&dir).context("serving the local npm registry")?;
            env.push(("npm_config_registry".into(), server.url().to_owned()));
            Some(server)
        }
        None => None,
    };
    env.push((
        "CARGO_TARGET_DIR".into(),
        bin.parent().expect("target/<profile>").join("..").join(target_dir).display().to_string(),
    ));
    Ok((env, registry))
}

/// Copies a directory tree (fixtures into scratch directories).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `cargo`, as the one that runs us (works under rustup and plain installs).
pub fn cargo() -> std::process::Command {
    std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}
