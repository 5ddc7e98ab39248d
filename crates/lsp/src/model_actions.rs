//! [`RefactorModel`] on the shared inference engine. The Review agent's model explains a
//! finding; the rule's own documentation is the rule-based end of that chain, so an
//! explanation always comes back, with or without a model. The Refactor agent's model answers
//! the edit actions (extract function, simplify condition, rename for clarity) with JSON
//! constrained by a schema per action; there is no rule-based refactoring, so when no model
//! answers the action says so and nothing changes.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use repo_run_inference::{
    Agent, Answer, CancelToken, Engine, EngineConfig, ModelLocation, ModelTable, Options, Prompt, Source,
    default_budget,
};
use serde::Deserialize;

use crate::refactor::{RefactorKind, RefactorModel, RefactorRequest, Suggestion};
use crate::{FileInfo, Finding};

/// Enough for two sentences; the 135M model writes that in about two seconds on a CPU.
const MAX_TOKENS: u32 = 96;

/// Longer than a cold load and a short answer on a slow machine; then the rule docs answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Code shown to the model around a finding, in bytes.
const SNIPPET_LIMIT: usize = 600;

/// What the model must answer.
#[derive(Debug, Deserialize)]
pub struct Explanation {
    pub explanation: String,
}

fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"explanation": {"type": "string", "minLength": 1, "maxLength": 240}},
        "required": ["explanation"]
    })
}

pub struct EngineModel {
    engine: Engine,
}

impl EngineModel {
    /// Cheap: models load on the first request.
    pub fn new(table: ModelTable) -> EngineModel {
        let config = EngineConfig { table, memory_budget: default_budget(), n_gpu_layers: 0, telemetry: None };
        EngineModel { engine: Engine::new(config) }
    }

    /// The finding explained by the model, else by its rule's documentation.
    pub fn explain(
        &self,
        file: &FileInfo,
        source: &str,
        finding: &Finding,
        cancel: CancelToken,
    ) -> Answer<Explanation> {
        let rule = finding.rule;
        let snippet = snippet(source, finding.start, finding.end);
        let prompt = Prompt {
            system: Some("You are a senior code reviewer. Be brief and concrete.".into()),
            user: format!(
                "A review rule flagged this {:?} code in {}.\nRule {}: {}\n\nCode:\n{snippet}\n\nExplain in one or two \
                 sentences why it is a problem and what to write instead.",
                file.lang, file.path, rule.id, rule.message,
            ),
            ..Prompt::default()
        };
        let options = Options {
            max_tokens: Some(MAX_TOKENS),
            timeout: Some(TIMEOUT),
            cancel: Some(cancel),
            ..Options::default()
        };
        let mut answer = self.engine.complete_json(Agent::Review, &prompt, &schema(), &options, || Explanation {
            explanation: rule.docs.to_string(),
        });
        if answer.value.explanation.trim().is_empty() {
            answer.value.explanation = rule.docs.to_string();
        }
        answer
    }
}

impl EngineModel {
    /// The Refactor agent's answer for an edit action, as a typed [`Suggestion`]; `Err` when
    /// no model answered (there is no rule-based refactoring to fall back on).
    pub fn refactor(&self, request: &RefactorRequest<'_>, cancel: CancelToken) -> Result<Suggestion, String> {
        let target = request.source.get(request.start..request.end).ok_or("the target does not fit the document")?;
        let context = context(request.source, request.start, request.end);
        let lang = request.file.lang;
        let (task, schema, max_tokens) = match request.kind {
            RefactorKind::ExtractFunction => (
                format!(
                    "Extract these {lang:?} statements into a new function with a clear name. Give the complete new \
                     function definition, and the statement that replaces the selection by calling it.\n\nStatements:\n{target}"
                ),
                extract_schema(),
                EXTRACT_TOKENS,
            ),
            RefactorKind::SimplifyCondition => (
                format!(
                    "Simplify this {lang:?} condition without changing what it means. Give only the new condition \
                     expression.\n\nCondition:\n{target}"
                ),
                simplify_schema(),
                SIMPLIFY_TOKENS,
            ),
            RefactorKind::RenameForClarity => (
                format!(
                    "Propose a clearer name for the {lang:?} variable `{target}` in the code below. Give only the new \
                     name, a valid identifier."
                ),
                rename_schema(),
                RENAME_TOKENS,
            ),
            RefactorKind::ExplainFinding => return Err("explaining works on a finding".into()),
        };
        let prompt = Prompt {
            system: Some("You are a senior engineer who refactors code carefully. Answer only with JSON.".into()),
            user: format!("{task}\n\nCode around it, in {}:\n{context}", request.file.path),
            ..Prompt::default()
        };
        let options = Options {
            max_tokens: Some(max_tokens),
            timeout: Some(REFACTOR_TIMEOUT),
            cancel: Some(cancel),
            ..Options::default()
        };
        let answer = self.engine.complete_json(Agent::Refactor, &prompt, &schema, &options, Refactored::default);
        if answer.source == Source::RuleBased {
            let why = answer.failures.last().map_or("no model is configured".to_string(), |(m, e)| format!("{m}: {e}"));
            return Err(format!("the Refactor model gave no answer ({why})"));
        }
        let value = answer.value;
        Ok(match request.kind {
            RefactorKind::ExtractFunction => Suggestion::Extract {
                function: value.function.unwrap_or_default(),
                call: value.call.unwrap_or_default(),
            },
            RefactorKind::SimplifyCondition => Suggestion::Condition(value.condition.unwrap_or_default()),
            _ => Suggestion::Name(value.new_name.unwrap_or_default()),
        })
    }
}

impl RefactorModel for EngineModel {
    fn suggest(&self, request: &RefactorRequest<'_>, cancelled: &dyn Fn() -> bool) -> Result<Suggestion, String> {
        let cancel = CancelToken::new();
        // The engine watches a token; the caller's flag is a closure: poll one into the other.
        let answer = std::thread::scope(|s| {
            let token = cancel.clone();
            let work = s.spawn(move || match (request.kind, request.finding) {
                (RefactorKind::ExplainFinding, Some(finding)) => Ok(Suggestion::Explanation(
                    self.explain(request.file, request.source, finding, token).value.explanation,
                )),
                (RefactorKind::ExplainFinding, None) => Err("no finding to explain".to_string()),
                _ => self.refactor(request, token),
            });
            while !work.is_finished() {
                if cancelled() {
                    cancel.cancel();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            work.join()
        });
        match answer {
            Ok(answer) if !cancel.is_cancelled() => answer,
            Ok(_) => Err("cancelled".to_string()),
            Err(_) => Err("the model call failed".to_string()),
        }
    }
}

/// Enough for a short function; the schema caps the strings so the grammar ends the answer.
const EXTRACT_TOKENS: u32 = 320;
const SIMPLIFY_TOKENS: u32 = 96;
const RENAME_TOKENS: u32 = 24;

/// A cold load and a few hundred tokens on a slow CPU.
const REFACTOR_TIMEOUT: Duration = Duration::from_secs(60);

/// Code shown to the model around an edit target, in bytes.
const CONTEXT_LIMIT: usize = 1200;

/// The union of the edit actions' answers; each schema requires its own fields.
#[derive(Debug, Default, Deserialize)]
struct Refactored {
    function: Option<String>,
    call: Option<String>,
    condition: Option<String>,
    new_name: Option<String>,
}

fn extract_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "function": {"type": "string", "minLength": 1, "maxLength": 900},
            "call": {"type": "string", "minLength": 1, "maxLength": 160}
        },
        "required": ["function", "call"]
    })
}

fn simplify_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"condition": {"type": "string", "minLength": 1, "maxLength": 240}},
        "required": ["condition"]
    })
}

/// The grammar only lets identifier characters through; keywords and clashes are refused later.
fn rename_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"new_name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,39}$"}},
        "required": ["new_name"]
    })
}

/// Whole lines around `start..end`, about [`CONTEXT_LIMIT`] bytes.
fn context(source: &str, start: usize, end: usize) -> String {
    let half = CONTEXT_LIMIT.saturating_sub(end - start) / 2;
    let mut lo = start.saturating_sub(half);
    while !source.is_char_boundary(lo) {
        lo -= 1;
    }
    let lo = if lo == 0 { 0 } else { source[..lo].rfind('\n').map_or(0, |i| i + 1) };
    let mut hi = (end + half).min(source.len());
    while !source.is_char_boundary(hi) {
        hi += 1;
    }
    let hi = source[hi..].find('\n').map_or(source.len(), |i| hi + i);
    source[lo..hi].to_string()
}

/// The model behind the model actions: looked up and created on first use, by the blocking
/// tasks that need it, so the typing path never waits for it.
#[derive(Default)]
pub struct ModelSlot {
    table: OnceLock<Option<ModelTable>>,
    engine: OnceLock<Option<EngineModel>>,
}

impl ModelSlot {
    /// The model table from the environment and `<root>/repo-run.toml`; `None` when that
    /// file is wrong (then no model runs and explanations come from the rule docs).
    fn table(&self, root: Option<&Path>) -> Option<&ModelTable> {
        self.table
            .get_or_init(|| {
                let config = root.map(|r| r.join("repo-run.toml"));
                ModelTable::from_env(None, config.as_deref())
                    .map_err(|e| tracing::warn!("model table: {e}; model actions use the rule docs"))
                    .ok()
            })
            .as_ref()
    }

    /// Whether the Review agent's model file exists: the default of the `model` setting.
    pub fn present(&self, root: Option<&Path>) -> bool {
        self.table(root).is_some_and(|t| match t.locate(&t.get(Agent::Review).model) {
            ModelLocation::File(path) => path.is_file(),
            ModelLocation::Remote(_) => false,
        })
    }

    /// Whether the Refactor agent has a model file to run (its own or its fallback): without
    /// one the edit actions are not offered.
    pub fn refactor_present(&self, root: Option<&Path>) -> bool {
        self.table(root).is_some_and(|t| {
            let row = t.get(Agent::Refactor);
            std::iter::once(&row.model).chain(row.fallback.as_ref()).any(|m| match t.locate(m) {
                ModelLocation::File(path) => path.is_file(),
                ModelLocation::Remote(_) => false,
            })
        })
    }

    pub fn get(&self, root: Option<&Path>) -> Option<&EngineModel> {
        self.engine.get_or_init(|| self.table(root).cloned().map(EngineModel::new)).as_ref()
    }
}

/// The lines of the finding, cut to [`SNIPPET_LIMIT`] bytes.
fn snippet(source: &str, start: usize, end: usize) -> String {
    let start = source[..start.min(source.len())].rfind('\n').map_or(0, |i| i + 1);
    let end = source[end.min(source.len())..].find('\n').map_or(source.len(), |i| end + i);
    let mut cut = end.min(start + SNIPPET_LIMIT);
    while !source.is_char_boundary(cut) {
        cut -= 1;
    }
    source[start..cut].to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use repo_run_inference::table::{SMOLLM2_135M, default_model_dir};
    use repo_run_inference::{Profile, Source, env_vars};

    use super::*;

    const SRC: &str = "import requests\n\ndef get(u):\n    return requests.get(u, verify=False)\n";

    fn table(review_model: &Path) -> ModelTable {
        let dir =
            std::env::var(env_vars::REPO_RUN_MODEL_DIR).unwrap_or_else(|_| default_model_dir().display().to_string());
        let config = format!("[models.review]\nmodel = \"{}\"\nfallback = \"none\"\n", review_model.display());
        let env = move |name: &str| (name == env_vars::REPO_RUN_MODEL_DIR).then(|| dir.clone());
        ModelTable::load(Some(Profile::Local), Some((Path::new("repo-run.toml"), &config)), &env).unwrap()
    }

    fn finding(file: &FileInfo) -> Finding {
        crate::analyze(file, SRC, &crate::Config::default()).into_iter().next().unwrap()
    }

    #[test]
    fn the_model_explains_a_finding() {
        let probe = table(Path::new(SMOLLM2_135M));
        let path = probe.model_dir.join(SMOLLM2_135M);
        assert!(path.is_file(), "{} is missing: run `cargo xtask models` first", path.display());
        let model = EngineModel::new(table(&path));
        let file = FileInfo::new("app.py").unwrap();
        let finding = finding(&file);
        let started = Instant::now();
        let answer = model.explain(&file, SRC, &finding, CancelToken::new());
        let took = started.elapsed();
        assert!(matches!(answer.source, Source::Primary(_)), "{:?}", answer.failures);
        assert!(!answer.value.explanation.trim().is_empty());
        assert_ne!(answer.value.explanation, finding.rule.docs);
        assert!(took < Duration::from_secs(60), "{took:?}");
        eprintln!("explained in {took:?}: {}", answer.value.explanation);

        // Through the trait, as the server calls it.
        let request = RefactorRequest {
            kind: RefactorKind::ExplainFinding,
            file: &file,
            source: SRC,
            start: finding.start,
            end: finding.end,
            finding: Some(&finding),
        };
        let Ok(Suggestion::Explanation(text)) = model.suggest(&request, &|| false) else { panic!("no explanation") };
        assert!(!text.trim().is_empty());
        let cancelled = model.suggest(&request, &|| true);
        assert!(cancelled.is_err());
    }

    fn refactor_table(model: &Path) -> ModelTable {
        let config = format!("[models.refactor]\nmodel = \"{}\"\nfallback = \"none\"\n", model.display());
        ModelTable::load(Some(Profile::Local), Some((Path::new("repo-run.toml"), &config)), &|_| None).unwrap()
    }

    /// The real model's answers go through the same check as any other: a name that passes
    /// `valid_identifier` (the grammar's pattern keeps it to identifier characters), a
    /// condition or a function that parse, or a reason to drop them.
    #[test]
    fn the_refactor_model_answers_typed_json() {
        let path = table(Path::new(SMOLLM2_135M)).model_dir.join(SMOLLM2_135M);
        assert!(path.is_file(), "{} is missing: run `cargo xtask models` first", path.display());
        let model = EngineModel::new(refactor_table(&path));
        let file = FileInfo::new("calc.py").unwrap();
        let src = "def total(items):\n    t = 0\n    for x in items:\n        if x > 0 and not x > 100:\n            t = t + x\n    return t\n";
        let tree = crate::Lang::Python.parser().parse(src, None).unwrap();
        let cursor = src.find("x > 0").unwrap();
        for kind in [RefactorKind::RenameForClarity, RefactorKind::SimplifyCondition] {
            let (start, end) = crate::refactor::target(kind, src, &tree, cursor, cursor).unwrap();
            let request = RefactorRequest { kind, file: &file, source: src, start, end, finding: None };
            let started = Instant::now();
            let suggestion = model.suggest(&request, &|| false).expect("the model answers");
            eprintln!("{kind:?} in {:?}: {suggestion:?}", started.elapsed());
            match (&suggestion, crate::refactor::check(&request, &tree, &suggestion)) {
                (Suggestion::Name(name), _) => {
                    let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    assert!(ok && !name.is_empty(), "{name:?}");
                }
                (Suggestion::Condition(_), Ok((_, after))) => {
                    assert!(crate::refactor::parses_as_well(crate::Lang::Python, src, &after))
                }
                (Suggestion::Condition(_), Err(why)) => assert!(!why.is_empty()),
                (other, _) => panic!("{other:?}"),
            }
        }
        // No model file: an error that says so, not a made-up edit.
        let missing = EngineModel::new(refactor_table(Path::new("/nonexistent/model.gguf")));
        let (start, end) = crate::refactor::target(RefactorKind::RenameForClarity, src, &tree, cursor, cursor).unwrap();
        let request = RefactorRequest {
            kind: RefactorKind::RenameForClarity,
            file: &file,
            source: src,
            start,
            end,
            finding: None,
        };
        let err = missing.suggest(&request, &|| false).unwrap_err();
        assert!(err.contains("gave no answer"), "{err}");
    }

    #[test]
    fn an_unreadable_model_falls_back_to_the_rule_docs() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.gguf");
        std::fs::write(&garbage, b"this is not a model").unwrap();
        let model = EngineModel::new(table(&garbage));
        let file = FileInfo::new("app.py").unwrap();
        let finding = finding(&file);
        let answer = model.explain(&file, SRC, &finding, CancelToken::new());
        assert_eq!(answer.source, Source::RuleBased);
        assert_eq!(answer.value.explanation, finding.rule.docs);
        assert!(answer.failures[0].1.to_string().contains("GGUF"), "{:?}", answer.failures);
    }

    #[test]
    fn snippets_are_whole_lines() {
        assert_eq!(snippet(SRC, 45, 50), "    return requests.get(u, verify=False)");
        assert_eq!(snippet("x", 0, 1), "x");
    }
}
