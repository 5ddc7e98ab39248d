//! The `auto` profile: the largest tier of models this machine holds, has room for, and runs
//! fast enough that a model step ends within its agent's timeout.
//!
//! Tiers, largest first: `production` (7B and 1.5B coder models), `medium` (the 1.5B coder
//! model for every agent), `local` (the two small models `cargo xtask models` fetches, the
//! floor). A tier is passed over, with the reason kept for `models list`, when one of its
//! models is not on this machine, does not fit the memory (free RAM, or free VRAM in a CUDA
//! build), or would take longer than a row's timeout on a typical step. Speed comes from
//! `models bench` history when this very file was measured, else an estimate from its size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::backend::ModelInfo;
use crate::error::MIB;
use crate::table::{ModelLocation, ModelRef, ModelTable, Profile};

/// Where `models bench` keeps its figures, in the user's data directory.
pub const BENCH_HISTORY_FILE: &str = "bench-history.jsonl";

/// A typical model step, what the timeout must allow: a question of about this many prompt
/// tokens (a Requirements or Fixer question with its excerpts) and an answer of this many.
pub const STEP_PROMPT_TOKENS: f64 = 800.0;
pub const STEP_ANSWER_TOKENS: f64 = 100.0;

/// What the tier choice needs to know about this machine.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// Memory models may take: 3/4 of the available RAM, or the free VRAM of a GPU build.
    pub memory: u64,
    pub gpu: bool,
    /// CPU threads that decode (llama.cpp uses them all).
    pub threads: usize,
}

impl Machine {
    /// This machine: a CUDA build that sees a GPU uses its free VRAM, else 3/4 of the free RAM.
    pub fn this() -> Machine {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        match free_vram() {
            Some(memory) => Machine { memory, gpu: true, threads },
            None => Machine { memory: crate::pool::default_budget(), gpu: false, threads },
        }
    }

    fn describe_memory(&self) -> String {
        format!(
            "{} MiB of {}",
            self.memory / MIB,
            if self.gpu { "free VRAM" } else { "memory budget (3/4 of free RAM)" }
        )
    }
}

/// Free memory of the first GPU, in a CUDA build only (a CPU build decodes on the CPU whatever
/// cards the machine has).
fn free_vram() -> Option<u64> {
    if !cfg!(feature = "cuda") {
        return None;
    }
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.free", "--format=csv,noheader,nounits"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let mib: u64 = String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()?;
    Some(mib * MIB)
}

/// Tokens per second of one model on this machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Speed {
    pub prompt_tps: f64,
    pub generation_tps: f64,
    /// Measured by `models bench` (else estimated from the file's size).
    pub measured: bool,
}

impl Speed {
    /// Seconds a typical step takes at this speed.
    pub fn step_seconds(&self) -> f64 {
        STEP_PROMPT_TOKENS / self.prompt_tps.max(0.001) + STEP_ANSWER_TOKENS / self.generation_tps.max(0.001)
    }

    /// A guess from the file's size: decoding reads every weight once per token, so it runs at
    /// about the memory bandwidth over the size; reading a prompt is compute-bound and runs
    /// several times faster. The CPU figures are this project's 2-core machine's, scaled by
    /// threads (up to 8, past which bandwidth, not cores, bounds decoding).
    pub fn estimate(file_size: u64, machine: &Machine) -> Speed {
        let size = file_size.max(1) as f64;
        let (bandwidth, prompt_ratio) = if machine.gpu {
            (300e9, 40.0)
        } else {
            (CPU_BYTES_PER_SECOND_PER_THREAD * machine.threads.clamp(1, 8) as f64, CPU_PROMPT_RATIO)
        };
        let generation_tps = bandwidth / size;
        Speed { prompt_tps: generation_tps * prompt_ratio, generation_tps, measured: false }
    }
}

/// Calibrated with `repo-run models bench` on the 2-core CI machine, where Qwen2.5-Coder-1.5B
/// Q4_K_M (1.07 GB) read prompts at 32 tokens/s and generated 12.9 tokens/s (SmolLM2-135M,
/// whose speed per-token overheads bound, 188 and 27.5): 14 GB/s over 2 threads.
const CPU_BYTES_PER_SECOND_PER_THREAD: f64 = 7.0e9;
const CPU_PROMPT_RATIO: f64 = 2.5;

/// The tier `auto` chose, and why each larger one was passed over.
#[derive(Clone, Debug, PartialEq)]
pub struct TierChoice {
    pub chosen: Profile,
    pub reason: String,
    pub passed_over: Vec<(Profile, String)>,
}

impl TierChoice {
    /// One line for `models list` and logs.
    pub fn describe(&self) -> String {
        let mut text = format!("auto chose {}: {}", self.chosen, self.reason);
        for (tier, why) in &self.passed_over {
            text.push_str(&format!("; not {tier}: {why}"));
        }
        text
    }
}

/// The largest tier whose models are here, fit `machine`, and answer a step within their
/// rows' timeouts; `local` when none does. `measured` gives `models bench` figures of a file.
pub fn choose(model_dir: &Path, machine: &Machine, measured: &dyn Fn(&Path, u64) -> Option<Speed>) -> TierChoice {
    let mut passed_over = Vec::new();
    for tier in [Profile::Production, Profile::Medium] {
        let table = ModelTable::defaults(tier, model_dir.to_path_buf());
        match usable(&table, machine, measured) {
            Ok(reason) => return TierChoice { chosen: tier, reason, passed_over },
            Err(why) => passed_over.push((tier, why)),
        }
    }
    TierChoice { chosen: Profile::Local, reason: "the small models, which run on any machine".into(), passed_over }
}

/// Why `table`'s models can run here (`Ok`), or why not.
fn usable(
    table: &ModelTable,
    machine: &Machine,
    measured: &dyn Fn(&Path, u64) -> Option<Speed>,
) -> Result<String, String> {
    let mut reasons = Vec::new();
    let primaries: Vec<ModelRef> = {
        let mut seen = Vec::new();
        for (_, row) in table.rows() {
            if !seen.contains(&row.model) {
                seen.push(row.model.clone());
            }
        }
        seen
    };
    // Each model's header read once: the local ones' infos, the remote ones' URLs.
    let mut located = Vec::new();
    let mut missing = Vec::new();
    for model in primaries {
        match table.locate(&model) {
            ModelLocation::Remote(url) => located.push((model, Err(url))),
            ModelLocation::File(path) => match ModelInfo::read(&path) {
                Ok(info) => located.push((model, Ok((path, info)))),
                Err(_) => missing.push(model.to_string()),
            },
        }
    }
    if !missing.is_empty() {
        let verb = if missing.len() == 1 { "is" } else { "are" };
        return Err(format!("{} {verb} not in {}", missing.join(" and "), table.model_dir.display()));
    }
    for (model, location) in located {
        let (path, info) = match location {
            Err(url) => {
                reasons.push(format!("{model} at {url}"));
                continue;
            }
            Ok(found) => found,
        };
        let spec = table.spec_for(&model);
        let needs = info.estimate_bytes(spec.n_ctx());
        if needs > machine.memory {
            return Err(format!("{model} needs {} MiB, over {}", needs.div_ceil(MIB), machine.describe_memory()));
        }
        let speed = measured(&path, info.file_size).unwrap_or_else(|| Speed::estimate(info.file_size, machine));
        let step = speed.step_seconds();
        let how = if speed.measured { "measured by `models bench`" } else { "estimated from its size" };
        // The tightest timeout among the rows that ask this model.
        let timeout = table
            .rows()
            .filter(|(_, row)| row.model == model)
            .map(|(agent, row)| (row.timeout, agent))
            .min_by_key(|(timeout, _)| *timeout);
        if let Some((timeout, agent)) = timeout
            && Duration::from_secs_f64(step) > timeout
        {
            return Err(format!(
                "{model} would take ~{step:.0} s a step ({how}), over the {} s timeout of the {agent} row",
                timeout.as_secs()
            ));
        }
        reasons.push(format!(
            "{model} ({} MiB with context, of {}; ~{step:.0} s a step, {how})",
            needs.div_ceil(MIB),
            machine.describe_memory()
        ));
    }
    Ok(reasons.join(", "))
}

/// One `models bench` measurement, as kept in [`BENCH_HISTORY_FILE`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BenchRecord {
    pub time: u64,
    pub path: PathBuf,
    pub size: u64,
    pub prompt_tps: f64,
    pub generation_tps: f64,
}

/// Appends `records` to the bench history in `data_dir`.
pub fn append_bench_history(data_dir: &Path, records: &[BenchRecord]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(BENCH_HISTORY_FILE);
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    for record in records {
        writeln!(file, "{}", serde_json::to_string(record).map_err(std::io::Error::other)?)?;
    }
    Ok(path)
}

/// The latest measured speed of the file at `path` with `size` bytes (a file replaced by
/// another of a different size is not the one measured). Unreadable lines are skipped.
pub fn measured_speed(data_dir: Option<&Path>, path: &Path, size: u64) -> Option<Speed> {
    let text = std::fs::read_to_string(data_dir?.join(BENCH_HISTORY_FILE)).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<BenchRecord>(l).ok())
        .filter(|r| r.path == path && r.size == size && r.prompt_tps > 0.0 && r.generation_tps > 0.0)
        .max_by_key(|r| r.time)
        .map(|r| Speed { prompt_tps: r.prompt_tps, generation_tps: r.generation_tps, measured: true })
}

/// Seconds since the epoch, for history records.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * MIB;

    fn machine(memory: u64, threads: usize) -> Machine {
        Machine { memory, gpu: false, threads }
    }

    /// A GGUF header with the keys the memory estimate reads, padded to `size` bytes: the
    /// tier choice reads headers and sizes only, never weights.
    fn fake_gguf(path: &Path, size: u64) {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u64).to_le_bytes());
            out.extend(s.as_bytes());
        }
        let keys: [(&str, u32); 4] = [
            ("qwen2.block_count", 28),
            ("qwen2.embedding_length", 1536),
            ("qwen2.attention.head_count", 12),
            ("qwen2.attention.head_count_kv", 2),
        ];
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(0u64.to_le_bytes()); // tensors
        out.extend((keys.len() as u64 + 1).to_le_bytes());
        string(&mut out, "general.architecture");
        out.extend(8u32.to_le_bytes()); // string
        string(&mut out, "qwen2");
        for (key, value) in keys {
            string(&mut out, key);
            out.extend(4u32.to_le_bytes()); // uint32
            out.extend(value.to_le_bytes());
        }
        let file = std::fs::File::create(path).unwrap();
        (&file).write_all(&out).unwrap();
        // Sparse: the size is what counts, not the bytes.
        file.set_len(size).unwrap();
    }

    #[test]
    fn with_no_larger_model_here_auto_is_local() {
        let dir = tempfile::tempdir().unwrap();
        let choice = choose(dir.path(), &machine(16 * GIB, 8), &|_, _| None);
        assert_eq!(choice.chosen, Profile::Local);
        let why: Vec<&str> = choice.passed_over.iter().map(|(_, w)| w.as_str()).collect();
        assert!(why[0].contains("qwen2.5-coder-7b") && why[0].contains("are not in"), "{why:?}");
        assert!(why[1].contains("qwen2.5-coder-1.5b") && why[1].contains("is not in"), "{why:?}");
    }

    #[test]
    fn the_medium_model_present_and_fast_enough_is_chosen() {
        let dir = tempfile::tempdir().unwrap();
        fake_gguf(&dir.path().join(crate::table::QWEN_CODER_1_5B), GIB);
        let choice = choose(dir.path(), &machine(16 * GIB, 8), &|_, _| None);
        assert_eq!(choice.chosen, Profile::Medium, "{}", choice.describe());
        assert!(choice.reason.contains("estimated from its size"), "{}", choice.reason);
        assert!(choice.describe().contains("not production: qwen2.5-coder-7b"), "{}", choice.describe());
    }

    #[test]
    fn too_little_memory_or_too_slow_passes_a_tier_over() {
        let dir = tempfile::tempdir().unwrap();
        fake_gguf(&dir.path().join(crate::table::QWEN_CODER_1_5B), GIB);
        let small = choose(dir.path(), &machine(GIB / 2, 8), &|_, _| None);
        assert_eq!(small.chosen, Profile::Local);
        assert!(small.passed_over[1].1.contains("MiB, over 512 MiB"), "{}", small.describe());

        // Measured slow: 2 tokens a second cannot answer in a 60 s timeout.
        let slow = |_: &Path, _| Some(Speed { prompt_tps: 20.0, generation_tps: 2.0, measured: true });
        let choice = choose(dir.path(), &machine(16 * GIB, 8), &slow);
        assert_eq!(choice.chosen, Profile::Local);
        let why = &choice.passed_over[1].1;
        assert!(why.contains("measured by `models bench`") && why.contains("timeout"), "{why}");
    }

    #[test]
    fn on_two_cores_the_large_tier_is_too_slow_for_its_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        fake_gguf(&dir.path().join(crate::table::QWEN_CODER_1_5B), 1_117_320_768);
        fake_gguf(&dir.path().join(crate::table::QWEN_CODER_7B), 4_683_073_184);
        let choice = choose(dir.path(), &machine(16 * GIB, 2), &|_, _| None);
        assert_eq!(choice.chosen, Profile::Medium, "{}", choice.describe());
        let (tier, why) = &choice.passed_over[0];
        assert_eq!(*tier, Profile::Production);
        assert!(why.contains("qwen2.5-coder-7b") && why.contains("timeout"), "{why}");
        // With a GPU's speed the same files make the large tier.
        let gpu = Machine { memory: 24 * GIB, gpu: true, threads: 2 };
        assert_eq!(choose(dir.path(), &gpu, &|_, _| None).chosen, Profile::Production);
    }

    #[test]
    fn bench_history_gives_the_latest_speed_of_the_same_file() {
        let data = tempfile::tempdir().unwrap();
        let model = Path::new("/m/a.gguf");
        let record = |time, size, tps| BenchRecord {
            time,
            path: model.to_path_buf(),
            size,
            prompt_tps: tps * 5.0,
            generation_tps: tps,
        };
        append_bench_history(data.path(), &[record(1, 100, 10.0), record(3, 100, 30.0), record(2, 100, 20.0)]).unwrap();
        append_bench_history(data.path(), &[record(4, 999, 40.0)]).unwrap();
        let speed = measured_speed(Some(data.path()), model, 100).unwrap();
        assert_eq!((speed.generation_tps, speed.measured), (30.0, true));
        assert_eq!(measured_speed(Some(data.path()), model, 5), None);
        assert_eq!(measured_speed(Some(data.path()), Path::new("/m/b.gguf"), 100), None);
    }
}
