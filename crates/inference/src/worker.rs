//! One thread per loaded model owns its llama.cpp context and decodes every active request
//! together: each request is a sequence in one KV cache (unified), and each step is one
//! `decode` of a batch holding the next token (or prompt chunk) of every sequence.
//!
//! Requests wait in the channel while all sequences are busy: that channel is the model's
//! queue, and `n_seq` its concurrency bound.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::backend::{CONTEXT_CREATION, backend};
use crate::error::{Error, Result};

/// Shared flag a caller sets to stop a request; the worker frees its sequence at the next step.
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    own: Arc<AtomicBool>,
    /// The flags of the tokens this one was made from: cancelling any of them cancels this.
    parents: Vec<Arc<AtomicBool>>,
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// A token cancelled with this one, that can also be cancelled alone (one request of a
    /// server whose shutdown cancels them all).
    pub fn child(&self) -> CancelToken {
        let mut parents = self.parents.clone();
        parents.push(Arc::clone(&self.own));
        CancelToken { own: Arc::new(AtomicBool::new(false)), parents }
    }

    pub fn cancel(&self) {
        self.own.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::SeqCst) || self.parents.iter().any(|p| p.load(Ordering::SeqCst))
    }
}

/// Receives the answer's text as it is generated (`models serve` streams it). Pieces are sent
/// whole characters at a time, never text a stop string will cut; together they are exactly
/// the final text.
#[derive(Clone)]
pub struct TextSink(Arc<dyn Fn(&str) + Send + Sync>);

impl TextSink {
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> TextSink {
        TextSink(Arc::new(f))
    }

    pub fn send(&self, text: &str) {
        if !text.is_empty() {
            (self.0)(text);
        }
    }
}

impl std::fmt::Debug for TextSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextSink")
    }
}

/// How to sample one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    pub max_tokens: u32,
    /// 0 means greedy.
    pub temperature: f32,
    pub seed: u32,
    pub stop: Vec<String>,
    /// GBNF grammar with a `root` rule constraining the output.
    pub grammar: Option<String>,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    EndOfGeneration,
    Stop,
    Length,
}

#[derive(Clone, Debug)]
pub struct Generation {
    pub text: String,
    pub finish: Finish,
    pub prompt_tokens: u32,
    pub generated_tokens: u32,
    /// From the moment the request was queued.
    pub time_to_first_token: Duration,
    /// From the first generated token to the last.
    pub generation_time: Duration,
    /// Decode steps this request shared with at least one other sequence.
    pub shared_steps: u32,
}

impl Generation {
    pub fn tokens_per_second(&self) -> f64 {
        let secs = self.generation_time.as_secs_f64();
        if secs > 0.0 { self.generated_tokens.saturating_sub(1) as f64 / secs } else { 0.0 }
    }
}

pub(crate) struct Job {
    pub prompt: String,
    pub sampling: Sampling,
    pub deadline: Instant,
    pub timeout: Duration,
    pub cancel: CancelToken,
    pub queued_at: Instant,
    pub reply: Sender<Result<Generation>>,
    pub on_text: Option<TextSink>,
}

/// Counters of a worker, read by telemetry and tests.
#[derive(Debug, Default)]
pub struct DecodeStats {
    pub decode_steps: AtomicU64,
    /// Steps whose batch held more than one sequence.
    pub shared_steps: AtomicU64,
    pub max_sequences_in_step: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct WorkerConfig {
    /// Cells per sequence: a request's prompt plus its output must fit.
    pub context_length: u32,
    pub n_seq: u32,
}

/// Handle to a running worker; dropping it closes the queue and joins the thread, so the
/// context (and with the last reference, the model) is freed when this returns.
pub(crate) struct Worker {
    sender: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    pub stats: Arc<DecodeStats>,
}

impl Worker {
    pub fn start(model: Arc<LlamaModel>, config: WorkerConfig) -> Result<Worker> {
        let (sender, jobs) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::channel::<Result<()>>();
        let stats = Arc::new(DecodeStats::default());
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("repo-run-inference".into())
            .spawn(move || run(&model, config, &jobs, &ready_tx, &thread_stats))
            .map_err(|e| Error::Inference(format!("cannot start a worker thread: {e}")))?;
        match ready.recv() {
            Ok(Ok(())) => Ok(Worker { sender: Some(sender), thread: Some(thread), stats }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::Inference("the worker thread stopped while creating its context".into()))
            }
        }
    }

    pub fn submit(&self, job: Job) -> Result<()> {
        let sender = self.sender.as_ref().ok_or_else(|| Error::Inference("worker stopped".into()))?;
        sender.send(job).map_err(|_| Error::Inference("worker stopped".into()))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One active sequence in the context.
struct Active {
    job: Job,
    seq: i32,
    tokens: Vec<LlamaToken>,
    /// Prompt tokens already put in a batch.
    fed: usize,
    prompt_len: usize,
    /// Position of the next token in this sequence.
    pos: i32,
    sampler: LlamaSampler,
    /// Row of this sequence's logits in the last batch, when it asked for some.
    logits_row: Option<i32>,
    output: Vec<u8>,
    /// Bytes of `output` already given to the job's text sink.
    streamed: usize,
    generated: u32,
    first_token_at: Option<Instant>,
    shared_steps: u32,
}

fn run(
    model: &LlamaModel,
    config: WorkerConfig,
    jobs: &Receiver<Job>,
    ready: &Sender<Result<()>>,
    stats: &DecodeStats,
) {
    let n_ctx = config.context_length.saturating_mul(config.n_seq).max(64);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_seq_max(config.n_seq)
        .with_kv_unified(true);
    let ctx = {
        let _guard = CONTEXT_CREATION.lock().unwrap_or_else(PoisonError::into_inner);
        backend().and_then(|b| {
            model.new_context(b, params).map_err(|e| Error::Inference(format!("cannot create a context: {e}")))
        })
    };
    let mut ctx = match ctx {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    Decoder { model, ctx: &mut ctx, config, n_ctx, stats, slots: (0..config.n_seq).map(|_| None).collect() }.run(jobs);
}

struct Decoder<'m, 'c> {
    model: &'m LlamaModel,
    ctx: &'c mut LlamaContext<'m>,
    config: WorkerConfig,
    n_ctx: u32,
    stats: &'c DecodeStats,
    slots: Vec<Option<Active>>,
}

impl Decoder<'_, '_> {
    fn run(mut self, jobs: &Receiver<Job>) {
        let mut batch = LlamaBatch::new(self.n_ctx as usize, self.config.n_seq as i32);
        let mut open = true;
        loop {
            // Admit queued requests into free sequences; block only when nothing is active.
            while open && self.slots.iter().any(Option::is_none) {
                let idle = self.slots.iter().all(Option::is_none);
                let next = if idle {
                    jobs.recv_timeout(Duration::from_secs(3600)).map_err(|e| match e {
                        RecvTimeoutError::Timeout => TryRecvError::Empty,
                        RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                    })
                } else {
                    jobs.try_recv()
                };
                match next {
                    Ok(job) => self.admit(job),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => open = false,
                }
            }
            self.drop_abandoned();
            if self.slots.iter().all(Option::is_none) {
                if open {
                    continue;
                }
                return;
            }
            self.step(&mut batch);
        }
    }

    fn admit(&mut self, job: Job) {
        let Some(seq) = self.slots.iter().position(Option::is_none) else { return };
        let tokens = self.model.vocab().tokenize(job.prompt.as_bytes(), true, true);
        let limit = self.config.context_length as usize;
        if tokens.is_empty() || tokens.len() + 1 >= limit {
            let _ = job.reply.send(Err(Error::Inference(format!(
                "the prompt has {} tokens; the context holds {limit}",
                tokens.len()
            ))));
            return;
        }
        let sampler = match sampler(self.model, &job.sampling) {
            Ok(s) => s,
            Err(e) => {
                let _ = job.reply.send(Err(e));
                return;
            }
        };
        let prompt_len = tokens.len();
        self.slots[seq] = Some(Active {
            job,
            seq: seq as i32,
            tokens,
            fed: 0,
            prompt_len,
            pos: 0,
            sampler,
            logits_row: None,
            output: Vec::new(),
            streamed: 0,
            generated: 0,
            first_token_at: None,
            shared_steps: 0,
        });
    }

    /// Cancelled and expired requests answer at once and give their sequence back.
    fn drop_abandoned(&mut self) {
        let now = Instant::now();
        for seq in 0..self.slots.len() {
            let Some(active) = &self.slots[seq] else { continue };
            let error = if active.job.cancel.is_cancelled() {
                Error::Cancelled
            } else if now >= active.job.deadline {
                Error::Timeout(active.job.timeout)
            } else {
                continue;
            };
            self.finish(seq, Err(error));
        }
    }

    fn step(&mut self, batch: &mut LlamaBatch) {
        batch.clear();
        let capacity = self.n_ctx as usize;
        let mut row = 0i32;
        let mut sequences = 0u64;
        for active in self.slots.iter_mut().flatten() {
            active.logits_row = None;
            if row as usize >= capacity {
                continue;
            }
            let pending: Vec<LlamaToken> = if active.fed < active.prompt_len {
                let end = active.prompt_len.min(active.fed + capacity - row as usize);
                active.tokens[active.fed..end].to_vec()
            } else {
                active.tokens.last().copied().into_iter().collect()
            };
            let last_of_prompt = active.fed + pending.len() >= active.prompt_len;
            for (i, token) in pending.iter().enumerate() {
                let wants_logits = last_of_prompt && i + 1 == pending.len();
                if batch.add(*token, active.pos, &[active.seq], wants_logits).is_err() {
                    break;
                }
                if wants_logits {
                    active.logits_row = Some(row);
                }
                active.pos += 1;
                row += 1;
            }
            active.fed = (active.fed + pending.len()).min(active.prompt_len);
            sequences += 1;
        }
        if let Err(e) = self.ctx.decode(batch) {
            for seq in 0..self.slots.len() {
                if self.slots[seq].is_some() {
                    self.finish(seq, Err(Error::Inference(format!("decode failed: {e}"))));
                }
            }
            return;
        }
        self.stats.decode_steps.fetch_add(1, Ordering::Relaxed);
        self.stats.max_sequences_in_step.fetch_max(sequences, Ordering::Relaxed);
        if sequences > 1 {
            self.stats.shared_steps.fetch_add(1, Ordering::Relaxed);
        }
        for seq in 0..self.slots.len() {
            let Some(active) = self.slots[seq].as_mut() else { continue };
            if sequences > 1 {
                active.shared_steps += 1;
            }
            let Some(row) = active.logits_row else { continue };
            let token = active.sampler.sample(self.ctx, row);
            active.first_token_at.get_or_insert_with(Instant::now);
            let vocab = self.model.vocab();
            if vocab.is_eog(token) {
                self.finish_ok(seq, Finish::EndOfGeneration);
                continue;
            }
            active.output.extend(vocab.token_to_piece(token, false, None));
            active.tokens.push(token);
            active.generated += 1;
            if let Some(cut) = stop_at(&active.output, &active.job.sampling.stop) {
                active.output.truncate(cut);
                self.finish_ok(seq, Finish::Stop);
            } else if active.generated >= active.job.sampling.max_tokens
                || active.pos as u32 + 1 >= self.config.context_length
            {
                self.finish_ok(seq, Finish::Length);
            } else {
                active.stream_safe_text();
            }
        }
    }

    fn finish_ok(&mut self, seq: usize, finish: Finish) {
        let Some(active) = &mut self.slots[seq] else { return };
        if let Some(sink) = &active.job.on_text {
            sink.send(&String::from_utf8_lossy(active.output.get(active.streamed..).unwrap_or_default()));
            active.streamed = active.output.len();
        }
        let first = active.first_token_at.unwrap_or_else(Instant::now);
        let generation = Generation {
            text: String::from_utf8_lossy(&active.output).into_owned(),
            finish,
            prompt_tokens: active.prompt_len as u32,
            generated_tokens: active.generated,
            time_to_first_token: first.saturating_duration_since(active.job.queued_at),
            generation_time: first.elapsed(),
            shared_steps: active.shared_steps,
        };
        self.finish(seq, Ok(generation));
    }

    /// Answers the request and frees its sequence's cells for the next one.
    fn finish(&mut self, seq: usize, result: Result<Generation>) {
        if let Some(active) = self.slots[seq].take() {
            let _ = self.ctx.clear_kv_cache_seq(Some(active.seq as u32), None, None);
            let _ = active.job.reply.send(result);
        }
    }
}

impl Active {
    /// Gives the sink the new text that no stop string can still cut, in whole characters.
    fn stream_safe_text(&mut self) {
        let Some(sink) = &self.job.on_text else { return };
        let hold = self.job.sampling.stop.iter().map(|s| s.len().saturating_sub(1)).max().unwrap_or(0);
        let end = self.output.len().saturating_sub(hold);
        if end <= self.streamed {
            return;
        }
        let fresh = &self.output[self.streamed..end];
        let valid = match std::str::from_utf8(fresh) {
            Ok(text) => text,
            // A character split across tokens waits for its last byte.
            Err(e) => std::str::from_utf8(&fresh[..e.valid_up_to()]).unwrap_or_default(),
        };
        sink.send(valid);
        self.streamed += valid.len();
    }
}

/// Byte offset where the first stop string begins, if the output now contains one.
fn stop_at(output: &[u8], stops: &[String]) -> Option<usize> {
    stops.iter().filter(|s| !s.is_empty()).filter_map(|s| output.windows(s.len()).position(|w| w == s.as_bytes())).min()
}

fn sampler(model: &LlamaModel, sampling: &Sampling) -> Result<LlamaSampler> {
    let mut chain = Vec::new();
    if let Some(gbnf) = &sampling.grammar {
        chain.push(
            LlamaSampler::grammar(model, gbnf, "root")
                .map_err(|e| Error::Inference(format!("the grammar was refused: {e}")))?,
        );
    }
    if sampling.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        chain.push(LlamaSampler::top_k(40));
        chain.push(LlamaSampler::top_p(0.95, 1));
        chain.push(LlamaSampler::temp(sampling.temperature));
        chain.push(LlamaSampler::dist(sampling.seed));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_token_is_cancelled_by_its_parent_but_not_the_other_way() {
        let server = CancelToken::new();
        let (one, two) = (server.child(), server.child());
        let grandchild = one.child();
        one.cancel();
        assert!(one.is_cancelled() && grandchild.is_cancelled());
        assert!(!server.is_cancelled() && !two.is_cancelled());
        server.cancel();
        assert!(two.is_cancelled());
    }
}
