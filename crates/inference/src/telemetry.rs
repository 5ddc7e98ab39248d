//! Telemetry events, one JSON object a line in `.repo-run/telemetry.jsonl`.
//!
//! This is a file format other tools read (`repo-run models stats`, through [`Stats`]), so it
//! is the one place here that derives `Serialize` and `Deserialize`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where events go, relative to the repository being run.
pub const TELEMETRY_FILE: &str = ".repo-run/telemetry.jsonl";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    /// An agent's question answered by a model during `up` (or `plan`): counted whether
    /// validation kept the answer or refused it (then the next model of the chain was asked).
    Decision {
        agent: String,
        model: String,
        question: String,
        accepted: bool,
        /// The question's time, loading included; 0 on the further answers of a question that
        /// answered several things at once (a project's variables), so that sums are time spent.
        latency_ms: u64,
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

/// What `repo-run models stats` shows: the events of a telemetry file added up.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    /// Per `agent` and `model`.
    pub generations: Vec<GenerationStats>,
    /// Per model.
    pub loads: Vec<LoadStats>,
    /// Per agent, what failed over to what.
    pub fallbacks: Vec<FallbackStats>,
    /// Per agent, the questions its models answered in runs, and how many answers validation
    /// refused (each sent the question one model down the chain).
    pub decisions: Vec<DecisionStats>,
    /// Lines that were not telemetry events (a newer format, a torn last line).
    pub skipped_lines: usize,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct GenerationStats {
    pub agent: String,
    pub model: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub generated_tokens: u64,
    pub median_time_to_first_token_ms: f64,
    /// Generated tokens over the time spent generating them, all requests together.
    pub mean_tokens_per_second: f64,
    pub shared_decode_steps: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct LoadStats {
    pub model: String,
    pub loads: u64,
    pub mean_load_ms: f64,
    pub evictions: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct FallbackStats {
    pub agent: String,
    pub from: String,
    pub to: String,
    pub count: u64,
    pub last_reason: String,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct DecisionStats {
    pub agent: String,
    /// Answers given (kept and refused).
    pub answers: u64,
    pub accepted: u64,
    /// Refused by validation: each escalated the question to the next model.
    pub refused: u64,
    /// Time in model questions, loading included.
    pub total_ms: u64,
}

/// One line of the file: the event with its time stamp.
#[derive(Deserialize)]
struct ReadLine {
    #[serde(flatten)]
    event: Event,
}

impl Stats {
    /// Adds up the events of a telemetry file's text.
    pub fn from_jsonl(text: &str) -> Stats {
        let mut stats = Stats::default();
        let mut generations: BTreeMap<(String, String), (GenerationStats, Vec<f64>, f64)> = BTreeMap::new();
        let mut loads: BTreeMap<String, (LoadStats, f64)> = BTreeMap::new();
        let mut fallbacks: BTreeMap<(String, String, String), FallbackStats> = BTreeMap::new();
        let mut decisions: BTreeMap<String, DecisionStats> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(ReadLine { event }) = serde_json::from_str::<ReadLine>(line) else {
                stats.skipped_lines += 1;
                continue;
            };
            match event {
                Event::Generate {
                    agent,
                    model,
                    prompt_tokens,
                    generated_tokens,
                    time_to_first_token_ms,
                    tokens_per_second,
                    shared_decode_steps,
                } => {
                    let key = (agent.clone(), model.clone());
                    let (g, ttfts, seconds) = generations.entry(key).or_insert_with(|| {
                        (GenerationStats { agent, model, ..GenerationStats::default() }, Vec::new(), 0.0)
                    });
                    g.requests += 1;
                    g.prompt_tokens += u64::from(prompt_tokens);
                    g.generated_tokens += u64::from(generated_tokens);
                    g.shared_decode_steps += u64::from(shared_decode_steps);
                    ttfts.push(time_to_first_token_ms);
                    if tokens_per_second > 0.0 {
                        *seconds += f64::from(generated_tokens) / tokens_per_second;
                    }
                }
                Event::Load { model, load_ms } => {
                    let (l, total) = loads
                        .entry(model.clone())
                        .or_insert_with(|| (LoadStats { model, ..LoadStats::default() }, 0.0));
                    l.loads += 1;
                    *total += load_ms;
                }
                Event::Evict { model, .. } => {
                    loads
                        .entry(model.clone())
                        .or_insert_with(|| (LoadStats { model, ..LoadStats::default() }, 0.0))
                        .0
                        .evictions += 1;
                }
                Event::Fallback { agent, from, to, reason } => {
                    let f = fallbacks
                        .entry((agent.clone(), from.clone(), to.clone()))
                        .or_insert_with(|| FallbackStats { agent, from, to, ..FallbackStats::default() });
                    f.count += 1;
                    f.last_reason = reason;
                }
                Event::Decision { agent, accepted, latency_ms, .. } => {
                    let d = decisions
                        .entry(agent.clone())
                        .or_insert_with(|| DecisionStats { agent, ..DecisionStats::default() });
                    d.answers += 1;
                    if accepted {
                        d.accepted += 1;
                    } else {
                        d.refused += 1;
                    }
                    d.total_ms += latency_ms;
                }
            }
        }
        stats.generations = generations
            .into_values()
            .map(|(mut g, mut ttfts, seconds)| {
                ttfts.sort_by(f64::total_cmp);
                g.median_time_to_first_token_ms = ttfts.get(ttfts.len() / 2).copied().unwrap_or(0.0);
                g.mean_tokens_per_second = if seconds > 0.0 { g.generated_tokens as f64 / seconds } else { 0.0 };
                g
            })
            .collect();
        stats.loads = loads
            .into_values()
            .map(|(mut l, total)| {
                l.mean_load_ms = if l.loads > 0 { total / l.loads as f64 } else { 0.0 };
                l
            })
            .collect();
        stats.fallbacks = fallbacks.into_values().collect();
        stats.decisions = decisions.into_values().collect();
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_written_adds_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TELEMETRY_FILE);
        let t = Telemetry::new(Some(path.clone()));
        let generate = |ttft: f64, tokens: u32, tps: f64| Event::Generate {
            agent: "fixer".into(),
            model: "small.gguf".into(),
            prompt_tokens: 10,
            generated_tokens: tokens,
            time_to_first_token_ms: ttft,
            tokens_per_second: tps,
            shared_decode_steps: 2,
        };
        t.record(Event::Load { model: "small.gguf".into(), load_ms: 100.0 });
        t.record(generate(30.0, 20, 40.0));
        t.record(generate(10.0, 10, 20.0));
        t.record(generate(20.0, 0, 0.0));
        t.record(Event::Evict { model: "small.gguf".into(), evict_ms: 1.0 });
        t.record(Event::Load { model: "small.gguf".into(), load_ms: 300.0 });
        t.record(Event::Fallback {
            agent: "fixer".into(),
            from: "small.gguf".into(),
            to: "rule-based".into(),
            reason: "timeout".into(),
        });
        for (accepted, latency_ms) in [(false, 900), (true, 1100)] {
            t.record(Event::Decision {
                agent: "requirements".into(),
                model: "small.gguf".into(),
                question: "env BROKER".into(),
                accepted,
                latency_ms,
            });
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"torn\n");
        let stats = Stats::from_jsonl(&text);
        assert_eq!(stats.skipped_lines, 1);
        let g = &stats.generations[0];
        assert_eq!((g.requests, g.prompt_tokens, g.generated_tokens, g.shared_decode_steps), (3, 30, 30, 6));
        assert_eq!(g.median_time_to_first_token_ms, 20.0);
        // 30 tokens in 0.5 s + 0.5 s.
        assert!((g.mean_tokens_per_second - 30.0).abs() < 1e-9, "{}", g.mean_tokens_per_second);
        assert_eq!(
            stats.loads,
            vec![LoadStats { model: "small.gguf".into(), loads: 2, mean_load_ms: 200.0, evictions: 1 }]
        );
        assert_eq!(stats.fallbacks[0].count, 1);
        assert_eq!(stats.fallbacks[0].last_reason, "timeout");
        let d = &stats.decisions[0];
        assert_eq!((d.agent.as_str(), d.answers, d.accepted, d.refused, d.total_ms), ("requirements", 2, 1, 1, 2000));
    }
}
