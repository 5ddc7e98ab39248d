//! Loaded models within a memory budget.
//!
//! A model's memory is estimated from its GGUF header before it is loaded. When it does not
//! fit beside the loaded ones, the least recently used idle unpinned models are evicted
//! until it does; a model larger than the whole budget is refused, not loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};

use crate::backend::{self, ModelInfo};
use crate::error::{Error, Result};
use crate::worker::{DecodeStats, Worker, WorkerConfig};

/// How one model is to be run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    pub context_length: u32,
    /// Sequences decoded together (the concurrency bound); more requests queue.
    pub max_concurrency: u32,
    pub pinned: bool,
}

impl ModelSpec {
    /// The context holds `context_length` cells for each concurrent sequence.
    pub fn n_ctx(&self) -> u64 {
        u64::from(self.context_length) * u64::from(self.max_concurrency.max(1))
    }
}

/// A loaded model with the worker that decodes for it.
pub struct LoadedModel {
    pub path: PathBuf,
    pub info: ModelInfo,
    pub spec: ModelSpec,
    pub estimate: u64,
    pub load_time: Duration,
    pub(crate) model: Arc<LlamaModel>,
    pub(crate) template: LlamaChatTemplate,
    pub(crate) worker: Worker,
    in_flight: AtomicUsize,
}

impl LoadedModel {
    pub fn stats(&self) -> &DecodeStats {
        &self.worker.stats
    }
}

/// Keeps a model counted as busy (not evictable) while a request uses it.
pub struct Lease {
    pub model: Arc<LoadedModel>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.model.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What acquiring a model did, for telemetry.
#[derive(Debug, Default)]
pub struct PoolEvents {
    pub loaded: Option<Duration>,
    /// Evicted models and how long freeing each took.
    pub evicted: Vec<(PathBuf, Duration)>,
}

pub struct ModelPool {
    budget: u64,
    n_gpu_layers: u32,
    models: Mutex<HashMap<PathBuf, Entry>>,
}

struct Entry {
    model: Arc<LoadedModel>,
    last_used: Instant,
}

impl ModelPool {
    pub fn new(budget: u64, n_gpu_layers: u32) -> ModelPool {
        ModelPool { budget, n_gpu_layers, models: Mutex::new(HashMap::new()) }
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Paths of the loaded models, most recently used first.
    pub fn loaded(&self) -> Vec<PathBuf> {
        let models = self.models.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<_> = models.iter().map(|(p, e)| (e.last_used, p.clone())).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// The model at `path`, loading it (and evicting others) when needed. Loads happen under
    /// the pool lock: they are short, and it keeps the budget arithmetic simple and exact.
    pub fn acquire(&self, path: &Path, spec: ModelSpec) -> Result<(Lease, PoolEvents)> {
        let mut models = self.models.lock().unwrap_or_else(PoisonError::into_inner);
        let mut events = PoolEvents::default();
        if let Some(entry) = models.get_mut(path) {
            entry.last_used = Instant::now();
            return Ok((lease(&entry.model), events));
        }
        let info = ModelInfo::read(path)?;
        let need = info.estimate_bytes(spec.n_ctx());
        if need > self.budget {
            return Err(Error::TooLarge { path: path.to_path_buf(), need, budget: self.budget });
        }
        loop {
            let used: u64 = models.values().map(|e| e.model.estimate).sum();
            if used + need <= self.budget {
                break;
            }
            let victim = models
                .iter()
                .filter(|(_, e)| !e.model.spec.pinned && e.model.in_flight.load(Ordering::SeqCst) == 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(p, _)| p.clone());
            let Some(victim) = victim else {
                return Err(Error::PoolBusy { path: path.to_path_buf(), need });
            };
            let started = Instant::now();
            // The last reference: dropping it joins the worker and frees context and weights.
            drop(models.remove(&victim));
            events.evicted.push((victim, started.elapsed()));
        }
        let started = Instant::now();
        let model = Arc::new(backend::load_model(path, self.n_gpu_layers)?);
        let template = backend::chat_template(&model);
        let config = WorkerConfig { context_length: spec.context_length, n_seq: spec.max_concurrency.max(1) };
        let worker = Worker::start(Arc::clone(&model), config)?;
        let load_time = started.elapsed();
        events.loaded = Some(load_time);
        let loaded = Arc::new(LoadedModel {
            path: path.to_path_buf(),
            info,
            spec,
            estimate: need,
            load_time,
            model,
            template,
            worker,
            in_flight: AtomicUsize::new(0),
        });
        let lease = lease(&loaded);
        models.insert(path.to_path_buf(), Entry { model: loaded, last_used: Instant::now() });
        Ok((lease, events))
    }
}

fn lease(model: &Arc<LoadedModel>) -> Lease {
    model.in_flight.fetch_add(1, Ordering::SeqCst);
    Lease { model: Arc::clone(model) }
}

/// A default budget from the machine: three quarters of the memory available now.
pub fn default_budget() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    available.map_or(4 << 30, |a| a / 4 * 3)
}
