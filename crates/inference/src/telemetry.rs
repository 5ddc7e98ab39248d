//! Telemetry events, one JSON object a line in `.repo-run/telemetry.jsonl`.
//!
//! This is a file format other tools read (`repo-run models stats`), so it is the one
//! place here that derives `Serialize`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Where events go, relative to the repository being run.
pub const TELEMETRY_FILE: &str = ".repo-run/telemetry.jsonl";

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Generate {
        agent: String,
        model: String,
        prompt_tokens: u32,
        generated_tokens: u32,
        time_to_first_token_ms: f64,
        tokens_per_second: f64,
        /// Decode steps shared with other sequences of the same model.
        shared_decode_steps: u32,
    },
    Load {
        model: String,
        load_ms: f64,
    },
    Evict {
        model: String,
        evict_ms: f64,
    },
    Fallback {
        agent: String,
        /// The model that failed, and what answered instead (a model, or `rule-based`).
        from: String,
        to: String,
        reason: String,
    },
}

#[derive(Serialize)]
struct Line<'a> {
    ts_ms: u128,
    #[serde(flatten)]
    event: &'a Event,
}

/// Appends events to a file (when given) and keeps them in memory for callers and tests.
#[derive(Debug, Default)]
pub struct Telemetry {
    path: Option<PathBuf>,
    events: Mutex<Vec<Event>>,
}

impl Telemetry {
    pub fn new(path: Option<PathBuf>) -> Telemetry {
        Telemetry { path, events: Mutex::new(Vec::new()) }
    }

    pub fn record(&self, event: Event) {
        if let Some(path) = &self.path {
            let ts_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
            if let Ok(mut line) = serde_json::to_vec(&Line { ts_ms, event: &event }) {
                line.push(b'\n');
                // Telemetry never fails a request: a full disk only loses the line.
                let _ = path.parent().map(std::fs::create_dir_all);
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(&line));
                if let Err(e) = written {
                    tracing::warn!("cannot append telemetry to {}: {e}", path.display());
                }
            }
        }
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(event);
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}
