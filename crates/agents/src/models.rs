//! How agents ask the shared inference engine.
//!
//! Agents reach the engine through the narrow [`Models`] trait: this crate describes the
//! request (a prompt and the JSON Schema its answer must follow), the CLI implements the trait
//! with `repo-run-inference` (one engine per process, created on the first ask). So the
//! pipeline builds and tests without llama.cpp, and a run whose rules decide everything never
//! loads a model.

use crate::pipeline::Stage;
use crate::plan::Project;

/// One question to an agent's model: JSON under `schema` is the only answer accepted.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    pub system: String,
    pub user: String,
    pub schema: serde_json::Value,
    pub max_tokens: u32,
    /// How many models of the agent's chain to pass over: 0 asks the row's model (then its
    /// fallback); 1, after the first model's answer failed validation, asks the next one.
    pub escalation: usize,
}

/// A model's answer: the JSON it produced, or why there is none.
#[derive(Debug, Clone)]
pub struct ModelReply {
    /// The model that answered (or was tried last).
    pub model: String,
    pub json: Result<serde_json::Value, String>,
    /// Wall time of the question, loading included.
    pub elapsed_ms: u64,
}

/// The shared engine, as agents see it.
pub trait Models: Send + Sync {
    /// Asks `stage`'s model (the table's row of the same name), then its fallback.
    fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply;
}

/// A question whose answer is one of `count` candidates: ids `<prefix>1`, `<prefix>2`, … forced
/// by the grammar, and a short reason. Detection's start command, Setup's requirements file and
/// the DB model's script are all of this shape.
pub(crate) fn choice_request(system: &str, user: String, prefix: char, count: usize) -> ModelRequest {
    let ids: Vec<String> = (0..count).map(|i| choice_id(prefix, i)).collect();
    ModelRequest {
        system: system.to_owned(),
        user,
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "choice": {"type": "string", "enum": ids},
                "reason": {"type": "string", "maxLength": 120}
            },
            "required": ["choice", "reason"],
            "additionalProperties": false
        }),
        max_tokens: 80,
        escalation: 0,
    }
}

/// The id of candidate `index` (from 0) in a [`choice_request`]: `c1`, `f2`, `s3`.
pub(crate) fn choice_id(prefix: char, index: usize) -> String {
    format!("{prefix}{}", index + 1)
}

/// The candidate a [`choice_request`]'s answer names, when it is one of the `count` offered.
pub(crate) fn chosen_index(json: &serde_json::Value, prefix: char, count: usize) -> Option<usize> {
    let id = json.get("choice")?.as_str()?;
    id.strip_prefix(prefix)?.parse::<usize>().ok()?.checked_sub(1).filter(|i| *i < count)
}

/// The model's one-line reason in a [`choice_request`]'s answer, at most 200 characters.
pub(crate) fn choice_reason(json: &serde_json::Value) -> String {
    json.get("reason").and_then(|r| r.as_str()).unwrap_or("").chars().take(200).collect()
}

/// The lines every agent's question starts with: the project's directory, languages and
/// frameworks.
pub(crate) fn describe_project(project: &Project) -> String {
    let languages: Vec<&str> = project.languages.iter().map(|l| l.language.as_str()).collect();
    let frameworks: Vec<String> = project.frameworks.iter().map(|f| format!("{:?}", f.value).to_lowercase()).collect();
    format!(
        "Project directory: {}\nLanguages: {}\nFrameworks: {}\n",
        project.path,
        or_none(&languages.join(", ")),
        or_none(&frameworks.join(", "))
    )
}

/// `none` for an empty list in a prompt.
pub(crate) fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}
