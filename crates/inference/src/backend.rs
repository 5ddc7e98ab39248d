//! The llama.cpp side: one backend per process, GGUF metadata, memory estimates, model loading.
//!
//! Only this module and [`crate::worker`] touch `llama-cpp-2`.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use llama_cpp_2::gguf::GgufContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};

use crate::error::{Error, MIB, Result};

/// llama.cpp allows one initialisation per process; every engine shares it.
pub fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            // llama.cpp logs every tensor at load; the engine reports what matters itself.
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| Error::Inference(format!("cannot initialise llama.cpp: {e}")))
}

/// Creating contexts of one model in parallel is unsound in llama.cpp (it mutates the
/// model); every context creation takes this lock.
pub(crate) static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// What the GGUF header says about a model, read without loading its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub architecture: String,
    pub file_size: u64,
    pub n_layer: u64,
    pub n_embd: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    /// Per-head key and value widths (`n_embd / n_head` unless the file says otherwise).
    pub key_length: u64,
    pub value_length: u64,
    pub n_ctx_train: u64,
}

impl ModelInfo {
    pub fn read(path: &Path) -> Result<ModelInfo> {
        let meta = std::fs::metadata(path).map_err(|_| Error::MissingModel { path: path.to_path_buf() })?;
        let bad = |reason: &str| Error::BadModel { path: path.to_path_buf(), reason: reason.to_string() };
        if !meta.is_file() {
            return Err(bad("not a file"));
        }
        // Check the magic ourselves: llama.cpp would only log why it refuses the file.
        let mut magic = [0u8; 4];
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .map_err(|_| bad("too short to be a GGUF file"))?;
        if &magic != b"GGUF" {
            return Err(bad("no GGUF magic at the start of the file"));
        }
        let gguf = GgufContext::from_file(path).ok_or_else(|| bad("the GGUF header is truncated or corrupt"))?;
        let arch = string_key(&gguf, "general.architecture").ok_or_else(|| bad("no general.architecture"))?;
        let key = |k: &str| uint_key(&gguf, &format!("{arch}.{k}"));
        let n_layer = key("block_count").ok_or_else(|| bad("no block_count"))?;
        let n_embd = key("embedding_length").ok_or_else(|| bad("no embedding_length"))?;
        let n_head = key("attention.head_count").filter(|h| *h > 0).ok_or_else(|| bad("no attention.head_count"))?;
        let n_head_kv = key("attention.head_count_kv").unwrap_or(n_head);
        let key_length = key("attention.key_length").unwrap_or(n_embd / n_head);
        let value_length = key("attention.value_length").unwrap_or(key_length);
        let n_ctx_train = key("context_length").unwrap_or(0);
        Ok(ModelInfo {
            architecture: arch,
            file_size: meta.len(),
            n_layer,
            n_embd,
            n_head,
            n_head_kv,
            key_length,
            value_length,
            n_ctx_train,
        })
    }

    /// Bytes of KV cache for `n_ctx` cells at f16 (llama.cpp's default cache type).
    pub fn kv_cache_bytes(&self, n_ctx: u64) -> u64 {
        let per_token = self.n_layer * self.n_head_kv * (self.key_length + self.value_length) * 2;
        per_token * n_ctx
    }

    /// Weights (mapped from the file) + KV cache + a compute-buffer allowance. The allowance
    /// (a tenth of the weights, at least 32 MiB) covers llama.cpp's scratch buffers and logits.
    pub fn estimate_bytes(&self, n_ctx: u64) -> u64 {
        let compute = (self.file_size / 10).max(32 * MIB);
        self.file_size + self.kv_cache_bytes(n_ctx) + compute
    }
}

fn string_key(gguf: &GgufContext, key: &str) -> Option<String> {
    let idx = gguf.find_key(key);
    (idx >= 0 && gguf.kv_type(idx) == llama_cpp_sys_2::GGUF_TYPE_STRING)
        .then(|| gguf.val_str(idx).map(str::to_string))?
}

/// Reads an integer key of any width; llama.cpp aborts when a getter meets the wrong type.
fn uint_key(gguf: &GgufContext, key: &str) -> Option<u64> {
    let idx = gguf.find_key(key);
    if idx < 0 {
        return None;
    }
    match gguf.kv_type(idx) {
        llama_cpp_sys_2::GGUF_TYPE_UINT32 => Some(gguf.val_u32(idx).into()),
        llama_cpp_sys_2::GGUF_TYPE_INT32 => u64::try_from(gguf.val_i32(idx)).ok(),
        llama_cpp_sys_2::GGUF_TYPE_UINT64 => Some(gguf.val_u64(idx)),
        _ => None,
    }
}

/// Loads weights memory-mapped, offloading `n_gpu_layers` layers when a GPU backend is built in.
pub(crate) fn load_model(path: &Path, n_gpu_layers: u32) -> Result<LlamaModel> {
    let params = LlamaModelParams::default().with_n_gpu_layers(n_gpu_layers).with_use_mmap(true);
    LlamaModel::load_from_file(backend()?, path, &params).map_err(|e| Error::BadModel {
        path: path.to_path_buf(),
        reason: format!("llama.cpp could not load it ({e}); the file may be truncated, re-run `cargo xtask models`"),
    })
}

/// The GGUF's own chat template, or ChatML (what SmolLM2 and most small instruct models use).
pub(crate) fn chat_template(model: &LlamaModel) -> LlamaChatTemplate {
    model.chat_template(None).unwrap_or_else(|_| chatml())
}

fn chatml() -> LlamaChatTemplate {
    LlamaChatTemplate::new("chatml").expect("literal without NUL")
}
