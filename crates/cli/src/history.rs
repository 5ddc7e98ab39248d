//! What `repo-run eval` measured, kept for the router: one JSON line per agent and model in
//! `eval-history.jsonl` of the user's data directory, keyed by the model file's SHA-256 (a
//! renamed file keeps its history; a re-quantised one starts afresh).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub const HISTORY_FILE: &str = "eval-history.jsonl";
/// SHA-256 of model files by path, size and modification time: a 1 GB model is hashed once,
/// not on every `up` that routes a question.
const HASH_CACHE_FILE: &str = "model-sha256.json";

/// The user's data directory for repo-run (`REPO_RUN_DATA_DIR` overrides it).
pub fn data_dir() -> Option<PathBuf> {
    repo_run_inference::table::data_dir(&|name| std::env::var(name).ok())
}

/// One evaluation of one model for one agent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub time: u64,
    pub agent: String,
    pub model: String,
    pub sha256: String,
    pub cases: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub mean_latency_ms: f64,
}

/// Appends `records` to the history.
pub fn append(records: &[Record]) -> std::io::Result<PathBuf> {
    let dir = data_dir().ok_or_else(|| std::io::Error::other("no data directory (set REPO_RUN_DATA_DIR)"))?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(HISTORY_FILE);
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    for record in records {
        writeln!(file, "{}", serde_json::to_string(record).map_err(std::io::Error::other)?)?;
    }
    Ok(path)
}

/// The latest record of each model (by SHA-256) for `agent`, by SHA-256; lines that do not
/// parse are skipped (a history written by a newer repo-run, a torn last line).
pub fn latest(agent: &str) -> BTreeMap<String, Record> {
    let Some(text) = data_dir().and_then(|d| std::fs::read_to_string(d.join(HISTORY_FILE)).ok()) else {
        return BTreeMap::new();
    };
    let mut latest: BTreeMap<String, Record> = BTreeMap::new();
    for record in text.lines().filter_map(|l| serde_json::from_str::<Record>(l).ok()) {
        let newer = latest.get(&record.sha256).is_none_or(|r| record.time >= r.time);
        if record.agent == agent && !record.sha256.is_empty() && newer {
            latest.insert(record.sha256.clone(), record);
        }
    }
    latest
}

/// The SHA-256 of a model file, from the cache when its size and modification time match.
pub fn model_sha256(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let key = format!("{}|{}|{mtime}", path.display(), meta.len());
    let cache_path = data_dir().map(|d| d.join(HASH_CACHE_FILE));
    let mut cache: BTreeMap<String, String> = cache_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if let Some(sha) = cache.get(&key) {
        return Ok(sha.clone());
    }
    let (_, sha) = repo_run_inference::pull::file_sha256(path)?;
    cache.insert(key, sha.clone());
    if let Some(cache_path) = cache_path {
        // Best effort: a cache that cannot be written only costs a hash next time.
        let _ = cache_path.parent().map(std::fs::create_dir_all);
        let _ = std::fs::write(&cache_path, serde_json::to_string_pretty(&cache).unwrap_or_default());
    }
    Ok(sha)
}
