//! `cargo xtask <task>`: development tasks, written in Rust so they need nothing but cargo.

mod bench_lsp;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["bench", "lsp"] => bench_lsp::run(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  bench plan   benchmark `repo-run plan`\n  bench lsp    benchmark `repo-run lsp` latency and `repo-run review` throughput"
            );
            std::process::exit(2)
        }
    }
}
