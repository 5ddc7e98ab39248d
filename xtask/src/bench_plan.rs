//! `cargo xtask bench plan`: wall time, files per second and peak memory of `repo-run plan`
//! on a generated 50,000-file repository and on every fixture, against a baseline measured in
//! the same run: `find -type f` over the same tree (a bare walk that reads no file).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const RUNS: usize = 3;

pub fn run(args: &[&str]) -> anyhow::Result<()> {
    let files: usize = match args {
        [] => 50_000,
        ["--files", n] => n.parse().context("--files takes a number")?,
        _ => bail!("usage: cargo xtask bench plan [--files N]"),
    };
    let root = crate::workspace_root();
    let bin = crate::release_binary("bench")?;

    let scratch = std::env::temp_dir().join(format!("repo-run-bench-{files}"));
    // The marker sits beside the tree, not in it, so it is not walked.
    let marker = scratch.with_extension("complete");
    if !marker.exists() {
        eprintln!("bench: generating {files} files in {}", scratch.display());
        let _ = fs::remove_dir_all(&scratch);
        generate(&scratch, files)?;
        fs::write(&marker, "")?;
    }

    println!("repo-run plan benchmark ({RUNS} runs each, median)");
    println!();
    let find = measure(RUNS, || {
        let mut c = Command::new("find");
        c.arg(&scratch).arg("-type").arg("f");
        c
    })?;
    let plan = measure(RUNS, || {
        let mut c = Command::new(&bin);
        c.args(["plan", "--json"]).arg(&scratch);
        c
    })?;
    let walked = walked_files(&bin, &scratch)?;
    println!("generated repository: {walked} files walked ({} more under node_modules/target, skipped)", files / 5);
    println!("  baseline find -type f   {:>9.1} ms", ms(find.wall));
    println!(
        "  repo-run plan           {:>9.1} ms   {:>9.0} files/s   peak {:>6.1} MiB   {:.2}x the baseline",
        ms(plan.wall),
        walked as f64 / plan.wall.as_secs_f64(),
        plan.peak_rss_kib as f64 / 1024.0,
        plan.wall.as_secs_f64() / find.wall.as_secs_f64()
    );

    println!();
    println!("fixtures:");
    let mut fixtures: Vec<_> = fs::read_dir(root.join("tests/fixtures"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    fixtures.sort();
    let mut total = Duration::ZERO;
    let mut table = String::new();
    for dir in &fixtures {
        let m = measure(RUNS, || {
            let mut c = Command::new(&bin);
            c.args(["plan", "--json"]).arg(dir);
            c
        })?;
        total += m.wall;
        writeln!(
            table,
            "  {:<32} {:>7.1} ms   peak {:>5.1} MiB",
            dir.file_name().unwrap().to_string_lossy(),
            ms(m.wall),
            m.peak_rss_kib as f64 / 1024.0
        )?;
    }
    print!("{table}");
    println!("  {} fixtures, {:.1} ms in all", fixtures.len(), ms(total));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Measurement {
    wall: Duration,
    peak_rss_kib: i64,
}

/// Median wall time and the largest peak RSS over `runs` runs of a fresh command.
fn measure(runs: usize, make: impl Fn() -> Command) -> anyhow::Result<Measurement> {
    let mut walls = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let mut cmd = make();
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let child = cmd.spawn().context("spawning benchmark command")?;
        let (status, rss) = wait_with_rusage(child.id() as libc::pid_t)?;
        walls.push(started.elapsed());
        if status != 0 {
            bail!("benchmark command {:?} exited with {status}", make());
        }
        peak = peak.max(rss);
    }
    walls.sort();
    Ok(Measurement { wall: walls[walls.len() / 2], peak_rss_kib: peak })
}

/// Wait for a child and return (exit status, peak RSS in KiB) from wait4(2).
fn wait_with_rusage(pid: libc::pid_t) -> anyhow::Result<(i32, i64)> {
    let mut status = 0;
    // SAFETY: plain syscall with out-pointers to locals that live across the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((code, usage.ru_maxrss))
}

fn walked_files(bin: &Path, dir: &Path) -> anyhow::Result<u64> {
    let out = Command::new(bin).args(["plan", "--json"]).arg(dir).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Avoid a JSON dependency in xtask: the stats block is `"files": N` after `"stats"`.
    let stats = text.rfind("\"stats\"").context("plan output has no stats")?;
    let files = text[stats..].split("\"files\":").nth(1).context("stats without files")?;
    Ok(files.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap_or("0").parse()?)
}

/// A monorepo of `total` files: ten apps in five ecosystems, each with source files that read
/// env vars and listen on ports, docs and assets, plus a fifth as many files again under
/// `node_modules`/`target`, which the walk must skip.
fn generate(root: &Path, total: usize) -> anyhow::Result<()> {
    let apps: [(&str, &str, &str); 10] = [
        (
            "web",
            "package.json",
            r#"{"name":"web","dependencies":{"next":"14.0.0"},"scripts":{"build":"next build","start":"next start"}}"#,
        ),
        (
            "api",
            "package.json",
            r#"{"name":"api","dependencies":{"express":"^4.18.2","pg":"^8.8.0"},"scripts":{"start":"node src/index.js"}}"#,
        ),
        ("admin", "requirements.txt", "django==5.0\npsycopg2==2.9.9\n"),
        ("ml", "pyproject.toml", "[project]\nname = \"ml\"\ndependencies = [\"fastapi\", \"uvicorn\", \"redis\"]\n"),
        ("gateway", "go.mod", "module example.com/gateway\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.9.1\n"),
        ("auth", "go.mod", "module example.com/auth\n\ngo 1.22\n\nrequire github.com/labstack/echo/v4 v4.11.0\n"),
        (
            "engine",
            "Cargo.toml",
            "[package]\nname = \"engine\"\nversion = \"0.1.0\"\n\n[dependencies]\naxum = \"0.7\"\n",
        ),
        (
            "worker",
            "Cargo.toml",
            "[package]\nname = \"worker\"\nversion = \"0.1.0\"\n\n[dependencies]\nredis = \"0.25\"\n",
        ),
        ("shop", "Gemfile", "source \"https://rubygems.org\"\ngem \"rails\", \"~> 7.1\"\ngem \"pg\"\n"),
        ("billing", "composer.json", r#"{"require":{"laravel/framework":"^11.0"}}"#),
    ];
    let per_app = total / apps.len();
    for (i, (name, manifest, contents)) in apps.iter().enumerate() {
        let dir = root.join("apps").join(name);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(manifest), contents)?;
        let ext = match *manifest {
            "package.json" => "js",
            "requirements.txt" | "pyproject.toml" => "py",
            "go.mod" => "go",
            "Cargo.toml" => "rs",
            "Gemfile" => "rb",
            _ => "php",
        };
        for f in 0..per_app - 1 {
            let sub = dir.join(format!("src/m{}", f / 100));
            if f % 100 == 0 {
                fs::create_dir_all(&sub)?;
            }
            let (file, body) = match f % 5 {
                4 => (sub.join(format!("notes{f}.md")), format!("# Notes {f}\n\nNothing to see.\n")),
                3 => (sub.join(format!("asset{f}.svg")), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n".to_owned()),
                _ => (sub.join(format!("mod{f}.{ext}")), source(ext, i, f)),
            };
            fs::write(file, body)?;
        }
    }
    for f in 0..total / 5 {
        let sub = root
            .join(if f % 2 == 0 { "apps/api/node_modules" } else { "apps/engine/target" })
            .join(format!("p{}", f / 100));
        if f / 2 % 100 == 0 || !sub.exists() {
            fs::create_dir_all(&sub)?;
        }
        fs::write(sub.join(format!("f{f}.js")), "module.exports = process.env.NEVER_READ;\n")?;
    }
    Ok(())
}

fn source(ext: &str, app: usize, f: usize) -> String {
    // Twenty distinct settings per app, each read in many files, as in a real code base.
    let var = format!("SETTING_{}", f % 20);
    match ext {
        "js" => {
            let listen = if f == 0 {
                format!("require('express')().listen(process.env.PORT || {});\n", 3000 + app)
            } else {
                String::new()
            };
            format!(
                "const x{f} = process.env.{var} || 'v';\nfunction handler{f}(req, res) {{ res.send(x{f}); }}\nmodule.exports = {{ handler{f} }};\n{listen}"
            )
        }
        "py" => format!(
            "import os\n\nVALUE_{f} = os.environ.get(\"{var}\", \"v\")\n\n\ndef handler_{f}():\n    return VALUE_{f}\n"
        ),
        "go" => {
            format!("package m\n\nimport \"os\"\n\nfunc Handler{f}() string {{\n\treturn os.Getenv(\"{var}\")\n}}\n")
        }
        "rs" => format!("pub fn handler_{f}() -> String {{\n    std::env::var(\"{var}\").unwrap_or_default()\n}}\n"),
        "rb" => format!("class Handler{f}\n  def call\n    ENV.fetch(\"{var}\", \"v\")\n  end\nend\n"),
        _ => format!("<?php\nfunction handler_{f}() {{ return getenv('{var}'); }}\n"),
    }
}
