//! Loaded models within a memory budget.
//!
//! A model's memory is estimated from its GGUF header before it is loaded. When it does not
//! fit beside the loaded ones, the least recently used idle unpinned models are evicted
//! until it does; a model larger than the whole budget is refused, not loaded. When the room
//! is held by models that are busy now, the request waits for them (until its deadline)
//! instead of failing. Loading happens outside the pool's lock, with the model's memory
//! reserved, so requests for loaded models are never held up by a load, and concurrent
//! requests for one model load it once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};

use crate::backend::{self, ModelInfo};
use crate::error::{Error, Result};
use crate::worker::{CancelToken, DecodeStats, Worker, WorkerConfig};

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
    pool: Arc<Shared>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Under the lock, so a request about to wait for room cannot miss this wake-up.
        let _state = self.pool.lock();
        self.model.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.pool.changed.notify_all();
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
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a lease ends or a load finishes: room or a model may be there now.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct State {
    models: HashMap<PathBuf, Entry>,
    /// Models being loaded, with the memory reserved for each.
    loading: HashMap<PathBuf, u64>,
}

impl State {
    fn used(&self) -> u64 {
        self.models.values().map(|e| e.model.estimate).sum::<u64>() + self.loading.values().sum::<u64>()
    }
}

struct Entry {
    model: Arc<LoadedModel>,
    last_used: Instant,
}

/// What the pool lacks for a model, with the lock held.
enum Room {
    Fits,
    /// Busy models hold the room (or another load is under way): worth waiting.
    Later,
    /// Only pinned models hold it: waiting would not help.
    Never,
}

impl ModelPool {
    pub fn new(budget: u64, n_gpu_layers: u32) -> ModelPool {
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), changed: Condvar::new() });
        ModelPool { budget, n_gpu_layers, shared }
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Paths of the loaded models, most recently used first.
    pub fn loaded(&self) -> Vec<PathBuf> {
        let state = self.shared.lock();
        let mut v: Vec<_> = state.models.iter().map(|(p, e)| (e.last_used, p.clone())).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// The model at `path`, loading it (and evicting others) when needed. Waits, until
    /// `deadline` or a cancellation, while the room is held by busy models or the model is
    /// being loaded for another request.
    pub fn acquire(
        &self,
        path: &Path,
        spec: ModelSpec,
        deadline: Instant,
        cancel: &CancelToken,
    ) -> Result<(Lease, PoolEvents)> {
        let mut events = PoolEvents::default();
        let started = Instant::now();
        // The header is read before taking the lock: it is file IO.
        let mut info = None;
        let mut state = self.shared.lock();
        let need = loop {
            if let Some(entry) = state.models.get_mut(path) {
                entry.last_used = Instant::now();
                return Ok((self.lease(&entry.model), events));
            }
            if !state.loading.contains_key(path) {
                let info = match &info {
                    Some(info) => info,
                    None => {
                        drop(state);
                        info = Some(ModelInfo::read(path)?);
                        state = self.shared.lock();
                        continue;
                    }
                };
                let need = info.estimate_bytes(spec.n_ctx());
                if need > self.budget {
                    return Err(Error::TooLarge { path: path.to_path_buf(), need, budget: self.budget });
                }
                let give_up = match self.make_room(&mut state, need, &mut events) {
                    Room::Fits => break need,
                    Room::Never => true,
                    Room::Later => Instant::now() >= deadline,
                };
                if give_up {
                    return Err(Error::PoolBusy { path: path.to_path_buf(), need, waited: started.elapsed() });
                }
            } else if Instant::now() >= deadline {
                return Err(Error::Timeout(started.elapsed()));
            }
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // Short waits: the deadline and the cancel flag are checked between them.
            let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
            state = self.shared.changed.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
        };
        state.loading.insert(path.to_path_buf(), need);
        drop(state);

        let loaded = self.load(path, spec, info.expect("read before reserving"), need);
        let mut state = self.shared.lock();
        state.loading.remove(path);
        self.shared.changed.notify_all();
        let loaded = loaded?;
        events.loaded = Some(loaded.load_time);
        let lease = self.lease(&loaded);
        state.models.insert(path.to_path_buf(), Entry { model: loaded, last_used: Instant::now() });
        Ok((lease, events))
    }

    /// Evicts least recently used idle unpinned models until `need` more bytes fit.
    fn make_room(&self, state: &mut State, need: u64, events: &mut PoolEvents) -> Room {
        while state.used() + need > self.budget {
            let idle = state
                .models
                .iter()
                .filter(|(_, e)| !e.model.spec.pinned && e.model.in_flight.load(Ordering::SeqCst) == 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(p, _)| p.clone());
            let Some(victim) = idle else {
                // Waiting helps only if the models that may become idle (and loads that may
                // fail) hold enough: pinned models never give their room back.
                let pinned: u64 = state.models.values().filter(|e| e.model.spec.pinned).map(|e| e.model.estimate).sum();
                let could_free = pinned + need <= self.budget;
                let busy = state.models.values().any(|e| !e.model.spec.pinned) || !state.loading.is_empty();
                return if busy && could_free { Room::Later } else { Room::Never };
            };
            let started = Instant::now();
            // The last reference: dropping it joins the worker and frees context and weights.
            drop(state.models.remove(&victim));
            events.evicted.push((victim, started.elapsed()));
        }
        Room::Fits
    }

    fn load(&self, path: &Path, spec: ModelSpec, info: ModelInfo, estimate: u64) -> Result<Arc<LoadedModel>> {
        let started = Instant::now();
        let model = Arc::new(backend::load_model(path, self.n_gpu_layers)?);
        let template = backend::chat_template(&model);
        let config = WorkerConfig { context_length: spec.context_length, n_seq: spec.max_concurrency.max(1) };
        let worker = Worker::start(Arc::clone(&model), config)?;
        Ok(Arc::new(LoadedModel {
            path: path.to_path_buf(),
            info,
            spec,
            estimate,
            load_time: started.elapsed(),
            model,
            template,
            worker,
            in_flight: AtomicUsize::new(0),
        }))
    }

    fn lease(&self, model: &Arc<LoadedModel>) -> Lease {
        model.in_flight.fetch_add(1, Ordering::SeqCst);
        Lease { model: Arc::clone(model), pool: Arc::clone(&self.shared) }
    }
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
