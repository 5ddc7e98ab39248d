//! `cargo xtask <task>`: development tasks, written in Rust so they need nothing but cargo.

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        _ => {
            eprintln!("usage: cargo xtask <task>\n\ntasks:\n  bench plan   benchmark `repo-run plan`");
            std::process::exit(2)
        }
    }
}
