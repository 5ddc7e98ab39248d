//! The language server: the only module that knows LSP. Documents are kept with their
//! tree-sitter trees and reparsed incrementally; diagnostics are pushed after a short debounce
//! (or pulled by clients that ask); quick fixes come back as `WorkspaceEdit`s.
//!
//! Each notification applies its edits before its first `await`, so a document's changes are
//! applied in the order they arrive; analysis runs later on a snapshot, off the async threads,
//! and is dropped when a newer change has come in meanwhile.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};
use tree_sitter::{InputEdit, Parser, Tree};

use crate::model_actions::ModelSlot;
use crate::refactor::{RefactorKind, RefactorModel, RefactorRequest, Suggestion};
use crate::text::{self, LineIndex};
use crate::{Config, FileInfo, Finding, Lang, Severity};

/// Time to wait after a change before checking, so a burst of keystrokes is checked once.
const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(5);

/// Time to wait after a manifest changes before planning again: planning reads the whole
/// workspace and asks the host for runtime versions, so a burst of edits plans once.
const PLAN_DEBOUNCE: Duration = Duration::from_millis(300);

/// `source` of the diagnostics that come from `repo-run plan`.
const PLAN_SOURCE: &str = "repo-run plan";

/// `workspace/executeCommand` that applies every safe fix in a document (argument: its URI).
pub const FIX_ALL: &str = "repo-run.fixAll";

/// `workspace/executeCommand` that explains a finding with the Review agent's model, else with
/// its rule's docs (arguments: the document's URI, the rule id, the finding's start position).
pub const EXPLAIN: &str = "repo-run.explain";

/// Title of the code action that runs [`EXPLAIN`].
const EXPLAIN_TITLE: &str = "Explain this finding (repo-run model)";

/// `workspace/executeCommand` that asks the Refactor agent's model for an edit (arguments: the
/// document's URI, `"extract"`, `"simplify"` or `"rename"`, the selection's range, the
/// document's version). The edit comes back as `workspace/applyEdit` if the result still
/// parses; otherwise `window/showMessage` says why nothing changed.
pub const REFACTOR: &str = "repo-run.refactor";

/// Fixes for documents up to this size are re-parsed before they are offered.
const CHECK_FIX_LIMIT: usize = 512 * 1024;

/// Serve on stdin/stdout until the client says `exit`.
pub fn run_stdio() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let (service, socket) = LspService::new(Backend::new);
        let (input, output) = crate::transport::guard(tokio::io::stdin(), tokio::io::stdout());
        Server::new(input, output, socket).serve(service).await;
    });
    Ok(())
}

struct Document {
    text: Arc<String>,
    index: Arc<LineIndex>,
    version: i32,
    /// `None` for languages no rule reads: the document is kept, nothing is reported.
    file: Option<FileInfo>,
    parser: Option<Parser>,
    tree: Option<Tree>,
    /// Findings for the current text, kept up to date edit by edit.
    findings: Arc<Vec<Finding>>,
    /// Bytes of the current text that edits touched since the last check; `None` after a
    /// full replacement, when everything is checked again.
    dirty: Option<Option<(usize, usize)>>,
    /// Bumped on every change; a publish for an older generation is dropped.
    generation: u64,
}

impl Document {
    fn new(uri: &Uri, language_id: &str, text: String, version: i32, config: &Config) -> Document {
        let path = uri.path().as_str().to_string();
        let lang = Lang::from_path(std::path::Path::new(&path)).or_else(|| Lang::from_language_id(language_id));
        let file = lang.map(|l| FileInfo::with_lang(&path, l));
        let parser = lang.map(Lang::parser);
        let mut doc = Document {
            index: Arc::new(LineIndex::new(&text)),
            text: Arc::new(text),
            version,
            file,
            parser,
            tree: None,
            findings: Arc::default(),
            dirty: None,
            generation: 0,
        };
        doc.update(config);
        doc
    }

    /// Reparse (incrementally when there is a tree) and check again: only the top-level items
    /// the edits touched, with one neighbour on each side (a Rust `#[cfg(test)]` sits beside the
    /// module it governs); findings elsewhere were shifted by `apply`.
    fn update(&mut self, config: &Config) {
        let Some(parser) = &mut self.parser else { return };
        let old = self.tree.take();
        self.tree = parser.parse(self.text.as_str(), old.as_ref());
        let (Some(file), Some(tree)) = (&self.file, &self.tree) else { return };
        let (old, Some(Some((mut lo, mut hi)))) = (old, self.dirty.take()) else {
            self.findings = Arc::new(crate::rules::check(file, tree, &self.text, config));
            return;
        };
        if let Some(old) = old {
            for r in old.changed_ranges(tree) {
                lo = lo.min(r.start_byte);
                hi = hi.max(r.end_byte);
            }
        }
        let root = tree.root_node();
        let mut cursor = root.walk();
        let items: Vec<_> = root.children(&mut cursor).collect();
        let first = items.iter().position(|n| n.end_byte() >= lo).unwrap_or(items.len());
        let last = items.iter().rposition(|n| n.start_byte() <= hi);
        let (lo, hi) = match last {
            Some(last) if first <= last => (
                items[first.saturating_sub(1)].start_byte().min(lo),
                items[(last + 1).min(items.len() - 1)].end_byte().max(hi),
            ),
            _ => (0, self.text.len()),
        };
        let hi = hi.min(self.text.len());
        let mut findings: Vec<Finding> =
            self.findings.iter().filter(|f| f.end <= lo || f.start >= hi).cloned().collect();
        findings.extend(crate::rules::check_in(file, tree, &self.text, config, lo..hi));
        findings.sort_by_key(|f| (f.start, f.end, f.rule.id));
        self.findings = Arc::new(findings);
    }

    /// Check everything again (settings changed).
    fn recheck(&mut self, config: &Config) {
        if let (Some(file), Some(tree)) = (&self.file, &self.tree) {
            self.findings = Arc::new(crate::rules::check(file, tree, &self.text, config));
        }
    }

    /// Apply one LSP change; ranges are UTF-16 positions in the text before the change.
    fn apply(&mut self, change: TextDocumentContentChangeEvent) {
        let Some(range) = change.range else {
            self.text = Arc::new(change.text);
            self.index = Arc::new(LineIndex::new(&self.text));
            self.tree = None;
            self.dirty = Some(None);
            return;
        };
        let start = self.index.offset(&self.text, pos(range.start));
        let old_end = self.index.offset(&self.text, pos(range.end)).max(start);
        let start_position = self.index.point(start);
        let old_end_position = self.index.point(old_end);
        Arc::make_mut(&mut self.text).replace_range(start..old_end, &change.text);
        self.index = Arc::new(LineIndex::new(&self.text));
        let new_end = start + change.text.len();
        self.shift(start, old_end, new_end);
        if let Some(tree) = &mut self.tree {
            tree.edit(&InputEdit {
                start_byte: start,
                old_end_byte: old_end,
                new_end_byte: new_end,
                start_position,
                old_end_position,
                new_end_position: self.index.point(new_end),
            });
        }
    }

    /// Move findings and the dirty range over an edit of `start..old_end` into `start..new_end`.
    fn shift(&mut self, start: usize, old_end: usize, new_end: usize) {
        let map = |p: usize| match p {
            p if p <= start => p,
            p if p >= old_end => p - old_end + new_end,
            _ => new_end,
        };
        self.dirty = match self.dirty {
            Some(None) => Some(None),
            Some(Some((a, b))) => Some(Some((map(a).min(start), map(b).max(new_end)))),
            None => Some(Some((start, new_end))),
        };
        let moved: Vec<Finding> = self
            .findings
            .iter()
            .filter(|f| f.end < start || f.start > old_end)
            .map(|f| {
                let mut f = f.clone();
                (f.start, f.end) = (map(f.start), map(f.end));
                if let Some(fix) = &mut f.fix {
                    for e in &mut fix.edits {
                        (e.start, e.end) = (map(e.start), map(e.end));
                    }
                }
                f
            })
            .collect();
        self.findings = Arc::new(moved);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            text: self.text.clone(),
            index: self.index.clone(),
            file: self.file.clone(),
            findings: self.findings.clone(),
            version: self.version,
            tree: self.tree.clone(),
        }
    }
}

/// What a check needs, taken under the lock and used without it.
struct Snapshot {
    text: Arc<String>,
    index: Arc<LineIndex>,
    file: Option<FileInfo>,
    findings: Arc<Vec<Finding>>,
    version: i32,
    /// The tree of `text` (a cheap, reference-counted copy).
    tree: Option<Tree>,
}

impl Snapshot {
    fn findings(&self) -> Vec<Finding> {
        self.findings.to_vec()
    }

    fn range(&self, start: usize, end: usize) -> Range {
        Range {
            start: lsp_pos(self.index.position(&self.text, start)),
            end: lsp_pos(self.index.position(&self.text, end)),
        }
    }

    fn diagnostic(&self, f: &Finding) -> Diagnostic {
        Diagnostic {
            range: self.range(f.start, f.end),
            severity: Some(lsp_severity(f.severity)),
            code: Some(NumberOrString::String(f.rule.id.to_string())),
            source: Some("repo-run".to_string()),
            message: f.rule.message.to_string(),
            ..Default::default()
        }
    }

    fn diagnostics(&self) -> Vec<Diagnostic> {
        self.findings().iter().map(|f| self.diagnostic(f)).collect()
    }
}

fn pos(p: Position) -> text::Position {
    text::Position { line: p.line, character: p.character }
}

fn lsp_pos(p: text::Position) -> Position {
    Position { line: p.line, character: p.character }
}

#[derive(Default)]
struct State {
    docs: HashMap<Uri, Document>,
    config: Config,
    debounce: Option<Duration>,
    /// The client pulls diagnostics (`textDocument/diagnostic`); then none are pushed.
    pull: bool,
    /// The pulling client can be told to pull again (`workspace/diagnostic/refresh`).
    refresh: bool,
    /// The workspace folder that is planned; `None` when the client named none.
    root: Option<PathBuf>,
    /// The `plan` setting is `false`: no plan problems are shown.
    plan_off: bool,
    /// Plan problems by file, from the last plan run; merged with the review findings of open
    /// documents.
    plan: HashMap<Uri, Vec<Diagnostic>>,
    /// Bumped when a plan run is asked for; a run for an older generation is dropped.
    plan_generation: u64,
    /// The `model` setting; unset, the model actions are on when the model file exists.
    model: Option<bool>,
}

impl State {
    /// What to publish for `uri`: its review findings (when open) and its plan problems.
    fn published(&self, uri: &Uri) -> (Vec<Diagnostic>, Option<i32>) {
        let mut diags = Vec::new();
        let mut version = None;
        if let Some(doc) = self.docs.get(uri) {
            diags = doc.snapshot().diagnostics();
            version = Some(doc.version);
        }
        diags.extend(self.plan.get(uri).into_iter().flatten().cloned());
        (diags, version)
    }
}

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    /// Only touched in blocking tasks: looking the model up stats files, loading it takes seconds.
    model: Arc<ModelSlot>,
}

impl Backend {
    fn new(client: Client) -> Backend {
        Backend { client, state: Arc::default(), model: Arc::default() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Check `uri` after the debounce, unless it changes again meanwhile.
    fn schedule(&self, uri: Uri) {
        let (generation, delay) = {
            let mut st = self.state();
            if st.pull {
                return;
            }
            let delay = st.debounce.unwrap_or(DEFAULT_DEBOUNCE);
            let Some(doc) = st.docs.get_mut(&uri) else { return };
            doc.generation += 1;
            (doc.generation, delay)
        };
        let state = self.state.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let snapshot = {
                let st = lock(&state);
                match st.docs.get(&uri) {
                    Some(doc) if doc.generation == generation => doc.snapshot(),
                    _ => return,
                }
            };
            let Ok((version, diagnostics)) =
                tokio::task::spawn_blocking(move || (snapshot.version, snapshot.diagnostics())).await
            else {
                return;
            };
            let mut diagnostics = diagnostics;
            {
                let st = lock(&state);
                if st.docs.get(&uri).map(|d| d.generation) != Some(generation) {
                    return;
                }
                diagnostics.extend(st.plan.get(&uri).into_iter().flatten().cloned());
            }
            client.publish_diagnostics(uri, diagnostics, Some(version)).await;
        });
    }

    /// Plan the workspace again after [`PLAN_DEBOUNCE`], off the async threads, and publish
    /// the problems of every file that has some now or had some before. A run that a newer
    /// one overtakes is dropped.
    fn schedule_plan(&self) {
        let (generation, root) = {
            let mut st = self.state();
            let Some(root) = st.root.clone().filter(|_| !st.plan_off) else { return };
            st.plan_generation += 1;
            (st.plan_generation, root)
        };
        let state = self.state.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PLAN_DEBOUNCE).await;
            if lock(&state).plan_generation != generation {
                return;
            }
            let Ok(plan) = tokio::task::spawn_blocking(move || plan_diagnostics(&root)).await else { return };
            let updates = {
                let mut st = lock(&state);
                if st.plan_generation != generation || st.plan_off {
                    return;
                }
                let old = std::mem::replace(&mut st.plan, plan);
                let uris: HashSet<Uri> = old.into_keys().chain(st.plan.keys().cloned()).collect();
                publish_all(&st, uris)
            };
            send(&client, updates).await;
        });
    }

    /// Forget the plan problems (the `plan` setting went off) and publish what is left.
    async fn clear_plan(&self) {
        let updates = {
            let mut st = self.state();
            st.plan_generation += 1;
            let uris: HashSet<Uri> = std::mem::take(&mut st.plan).into_keys().collect();
            publish_all(&st, uris)
        };
        send(&self.client, updates).await;
    }

    fn snapshot(&self, uri: &Uri) -> Option<Snapshot> {
        let st = self.state();
        st.docs.get(uri).map(|d| d.snapshot())
    }
}

/// Diagnostics to push after the plan problems changed.
struct Updates {
    /// Per file: the merged diagnostics and the open document's version.
    push: Vec<(Uri, Vec<Diagnostic>, Option<i32>)>,
    /// A pulling client has open documents whose problems changed: ask it to pull again.
    refresh: bool,
}

/// The merged diagnostics to push for `uris`; nothing for open documents of a client that
/// pulls (it asks for them).
fn publish_all(st: &State, uris: HashSet<Uri>) -> Updates {
    let (pulled, pushed): (Vec<Uri>, Vec<Uri>) = uris.into_iter().partition(|uri| st.pull && st.docs.contains_key(uri));
    let push = pushed
        .into_iter()
        .map(|uri| {
            let (diags, version) = st.published(&uri);
            (uri, diags, version)
        })
        .collect();
    Updates { push, refresh: st.refresh && !pulled.is_empty() }
}

async fn send(client: &Client, updates: Updates) {
    for (uri, diags, version) in updates.push {
        client.publish_diagnostics(uri, diags, version).await;
    }
    if updates.refresh {
        // The client answers once it has pulled; the answer carries nothing.
        let _ = client.workspace_diagnostic_refresh().await;
    }
}

/// `repo-run plan`'s problems under `root`, as diagnostics by file.
fn plan_diagnostics(root: &std::path::Path) -> HashMap<Uri, Vec<Diagnostic>> {
    let mut out: HashMap<Uri, Vec<Diagnostic>> = HashMap::new();
    for p in crate::plan::problems(root) {
        let Some(uri) = Uri::from_file_path(root.join(&p.file)) else { continue };
        out.entry(uri).or_default().push(Diagnostic {
            range: Range::new(Position::new(p.line, 0), Position::new(p.line, p.width)),
            severity: Some(lsp_severity(p.severity)),
            code: Some(NumberOrString::String(p.code.to_string())),
            source: Some(PLAN_SOURCE.to_string()),
            message: p.message,
            ..Default::default()
        });
    }
    out
}

fn lsp_severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
    }
}

/// The folder to plan: the first workspace folder, else the root URI.
#[allow(deprecated)] // `root_uri` is what older clients send.
fn workspace_root(params: &InitializeParams) -> Option<PathBuf> {
    let uri = params.workspace_folders.as_ref().and_then(|f| f.first()).map(|f| &f.uri).or(params.root_uri.as_ref())?;
    uri.to_file_path().map(|p| p.into_owned())
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Settings, with or without a `repoRun` wrapper:
/// `{"rules": {"python.eval": false, "js.console-log": "error"}, "debounceMs": 10, "plan": false,
/// "model": false}`. A rule set to `true` or `"on"` gets its default severity back; `plan: false`
/// hides the problems `repo-run plan` finds; `model` switches the model actions.
fn apply_settings(
    settings: &Value,
    config: &mut Config,
    debounce: &mut Option<Duration>,
    plan_off: &mut bool,
    model: &mut Option<bool>,
) {
    let s = settings.get("repoRun").or_else(|| settings.get("repo-run")).unwrap_or(settings);
    if let Some(rules) = s.get("rules").and_then(Value::as_object) {
        *config = Config::default();
        for (id, v) in rules {
            match v {
                Value::Bool(false) => drop(config.disabled.insert(id.clone())),
                Value::String(s) if s == "off" => drop(config.disabled.insert(id.clone())),
                Value::String(s) => {
                    if let Some(sev) = Severity::parse(s) {
                        config.severities.insert(id.clone(), sev);
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(ms) = s.get("debounceMs").and_then(Value::as_u64) {
        *debounce = Some(Duration::from_millis(ms.min(5_000)));
    }
    if let Some(on) = s.get("plan").and_then(Value::as_bool) {
        *plan_off = !on;
    }
    if let Some(on) = s.get("model").and_then(Value::as_bool) {
        *model = Some(on);
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        {
            let mut st = self.state();
            st.pull = params.capabilities.text_document.as_ref().and_then(|t| t.diagnostic.as_ref()).is_some();
            if let Some(opts) = &params.initialization_options {
                let State { config, debounce, plan_off, model, .. } = &mut *st;
                apply_settings(opts, config, debounce, plan_off, model);
            }
            st.refresh = params
                .capabilities
                .workspace
                .as_ref()
                .and_then(|w| w.diagnostics.as_ref())
                .and_then(|d| d.refresh_support)
                .unwrap_or(false);
            st.root = workspace_root(&params);
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                })),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![
                        CodeActionKind::QUICKFIX,
                        CodeActionKind::REFACTOR_EXTRACT,
                        CodeActionKind::REFACTOR_REWRITE,
                    ]),
                    ..Default::default()
                })),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: vec![FIX_ALL.to_string(), EXPLAIN.to_string(), REFACTOR.to_string()],
                    work_done_progress_options: WorkDoneProgressOptions { work_done_progress: Some(true) },
                }),
                diagnostic_provider: Some(DiagnosticServerCapabilities::Options(DiagnosticOptions {
                    identifier: Some("repo-run".to_string()),
                    inter_file_dependencies: false,
                    workspace_diagnostics: false,
                    ..Default::default()
                })),
                ..Default::default()
            },
            server_info: Some(ServerInfo {
                name: "repo-run".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            ..Default::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.schedule_plan();
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let d = params.text_document;
        let mut st = self.state();
        let doc = Document::new(&d.uri, &d.language_id, d.text, d.version, &st.config);
        st.docs.insert(d.uri.clone(), doc);
        drop(st);
        self.schedule(d.uri);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        {
            let mut st = self.state();
            let State { docs, config, .. } = &mut *st;
            let Some(doc) = docs.get_mut(&uri) else { return };
            for change in params.content_changes {
                doc.apply(change);
            }
            doc.version = params.text_document.version;
            doc.update(config);
        }
        if crate::plan::is_plan_input(uri.path().as_str()) {
            self.schedule_plan();
        }
        self.schedule(uri);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        if crate::plan::is_plan_input(params.text_document.uri.path().as_str()) {
            self.schedule_plan();
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        let (pull, remaining) = {
            let mut st = self.state();
            st.docs.remove(&uri);
            (st.pull, st.published(&uri).0)
        };
        // A closed file keeps its plan problems (the problems panel lists them).
        if !pull || !remaining.is_empty() {
            self.client.publish_diagnostics(uri, remaining, None).await;
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        let was_off = self.state().plan_off;
        let uris: Vec<Uri> = {
            let mut st = self.state();
            let State { config, debounce, plan_off, model, .. } = &mut *st;
            apply_settings(&params.settings, config, debounce, plan_off, model);
            let State { docs, config, .. } = &mut *st;
            for doc in docs.values_mut() {
                doc.recheck(config);
            }
            docs.keys().cloned().collect()
        };
        for uri in uris {
            self.schedule(uri);
        }
        let now_off = self.state().plan_off;
        match (was_off, now_off) {
            (false, true) => self.clear_plan().await,
            (true, false) => self.schedule_plan(),
            _ => {}
        }
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        let uri = &params.text_document.uri;
        let mut items = match self.snapshot(uri) {
            Some(s) => tokio::task::spawn_blocking(move || s.diagnostics()).await.unwrap_or_default(),
            None => Vec::new(),
        };
        items.extend(self.state().plan.get(uri).into_iter().flatten().cloned());
        Ok(DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(
            RelatedFullDocumentDiagnosticReport {
                related_documents: None,
                full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: None, items },
            },
        )))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        match params.command.as_str() {
            FIX_ALL => self.fix_all(params).await,
            EXPLAIN => self.explain(params).await,
            REFACTOR => self.refactor(params).await,
            other => Err(Error::invalid_params(format!("unknown command {other}"))),
        }
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let Some(snapshot) = self.snapshot(&params.text_document.uri) else { return Ok(None) };
        let (setting, root) = {
            let st = self.state();
            (st.model, st.root.clone())
        };
        let slot = self.model.clone();
        let uri = params.text_document.uri;
        let wanted = params.range;
        let actions = tokio::task::spawn_blocking(move || {
            let overlapping: Vec<Finding> = snapshot
                .findings()
                .into_iter()
                .filter(|f| {
                    let range = snapshot.range(f.start, f.end);
                    range.start <= wanted.end && wanted.start <= range.end
                })
                .collect();
            let mut actions = quick_fixes(&snapshot, &uri, &overlapping);
            if !overlapping.is_empty() && setting.unwrap_or_else(|| slot.present(root.as_deref())) {
                actions.extend(overlapping.iter().map(|f| explain_action(&snapshot, &uri, f)));
            }
            // Offering costs a tree walk per action, never a model call.
            if setting != Some(false) && slot.refactor_present(root.as_deref()) {
                actions.extend(refactor_actions(&snapshot, &uri, wanted));
            }
            actions
        })
        .await
        .unwrap_or_default();
        Ok(Some(actions))
    }
}

impl Backend {
    async fn fix_all(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let uri: Option<Uri> = params.arguments.first().and_then(Value::as_str).and_then(|s| s.parse().ok());
        let Some((uri, snapshot)) = uri.and_then(|u| Some((u.clone(), self.snapshot(&u)?))) else {
            return Err(Error::invalid_params("expected the URI of an open document"));
        };
        let progress = match params.work_done_progress_params.work_done_token {
            Some(token) => Some(self.client.progress(token, "repo-run: fixing").begin().await),
            None => None,
        };
        let edits = tokio::task::spawn_blocking(move || {
            // Fixes in order, leaving out any that overlaps one already taken.
            let mut taken: Vec<crate::Edit> = Vec::new();
            for fix in snapshot.findings().into_iter().filter_map(|f| f.fix) {
                let clear = fix.edits.iter().all(|e| taken.iter().all(|t| e.end <= t.start || t.end <= e.start));
                if clear {
                    taken.extend(fix.edits);
                }
            }
            taken
                .iter()
                .map(|e| TextEdit { range: snapshot.range(e.start, e.end), new_text: e.new_text.clone() })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let count = edits.len();
        let applied = if count > 0 {
            let edit = WorkspaceEdit { changes: Some(HashMap::from([(uri, edits)])), ..Default::default() };
            self.client.apply_edit(edit).await.map(|r| r.applied).unwrap_or(false)
        } else {
            true
        };
        if let Some(p) = progress {
            p.finish().await;
        }
        Ok(Some(serde_json::json!({"edits": count, "applied": applied})))
    }

    /// The model's explanation of one finding (its rule's docs when there is no model or it
    /// fails), shown as a message and returned. Runs off the async threads; a cancelled
    /// request stops the model at its next step.
    async fn explain(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let args = &params.arguments;
        let uri: Option<Uri> = args.first().and_then(Value::as_str).and_then(|s| s.parse().ok());
        let rule = args.get(1).and_then(Value::as_str).map(str::to_string);
        let at: Option<Position> = args.get(2).and_then(|v| serde_json::from_value(v.clone()).ok());
        let (Some(uri), Some(rule), Some(at)) = (uri, rule, at) else {
            return Err(Error::invalid_params("expected a document URI, a rule id and a position"));
        };
        let Some(snapshot) = self.snapshot(&uri) else {
            return Err(Error::invalid_params("expected the URI of an open document"));
        };
        let root = self.state().root.clone();
        let slot = self.model.clone();
        let progress = match params.work_done_progress_params.work_done_token {
            Some(token) => Some(self.client.progress(token, "repo-run: explaining").begin().await),
            None => None,
        };
        // Dropped with this future when the client cancels the request.
        let cancel = CancelOnDrop(Arc::default());
        let cancelled = cancel.0.clone();
        let explained = tokio::task::spawn_blocking(move || {
            let file = snapshot.file.as_ref()?;
            let finding = snapshot
                .findings()
                .into_iter()
                .find(|f| f.rule.id == rule && snapshot.range(f.start, f.end).start == at)?;
            let request = RefactorRequest {
                kind: RefactorKind::ExplainFinding,
                file,
                source: &snapshot.text,
                start: finding.start,
                end: finding.end,
                finding: Some(&finding),
            };
            let text =
                match slot.get(root.as_deref()).map(|m| m.suggest(&request, &|| cancelled.load(Ordering::SeqCst))) {
                    Some(Ok(Suggestion::Explanation(text))) => text,
                    _ => finding.rule.docs.to_string(),
                };
            Some((finding.rule, text))
        })
        .await
        .ok()
        .flatten();
        if let Some(p) = progress {
            p.finish().await;
        }
        let Some((rule, text)) = explained else {
            return Err(Error::invalid_params("no such finding any more: ask for code actions again"));
        };
        let source = if text == rule.docs { "rule docs" } else { "model" };
        self.client.show_message(MessageType::INFO, format!("{}: {text}", rule.id)).await;
        Ok(Some(serde_json::json!({"rule": rule.id, "explanation": text, "source": source})))
    }
}

impl Backend {
    /// One of the model edit actions: the model runs off the async threads with work-done
    /// progress (begin, a report per phase, end) and stops when the client cancels; its typed
    /// answer becomes an edit that is sent with `workspace/applyEdit` only if the document
    /// still parses as well as it did, and has not changed meanwhile. Otherwise the client is
    /// told why with `window/showMessage` and nothing changes.
    async fn refactor(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let args = &params.arguments;
        let uri: Option<Uri> = args.first().and_then(Value::as_str).and_then(|s| s.parse().ok());
        let kind = args.get(1).and_then(Value::as_str).and_then(RefactorKind::parse);
        let range: Option<Range> = args.get(2).and_then(|v| serde_json::from_value(v.clone()).ok());
        let (Some(uri), Some(kind), Some(range)) = (uri, kind.filter(|k| *k != RefactorKind::ExplainFinding), range)
        else {
            return Err(Error::invalid_params(
                "expected a document URI, \"extract\", \"simplify\" or \"rename\", and a range",
            ));
        };
        let Some(snapshot) = self.snapshot(&uri) else {
            return Err(Error::invalid_params("expected the URI of an open document"));
        };
        // The range was computed for the version the action was offered on.
        if args.get(3).and_then(Value::as_i64).is_some_and(|v| v != i64::from(snapshot.version)) {
            return Err(Error::content_modified());
        }
        let (setting, root) = {
            let st = self.state();
            (st.model, st.root.clone())
        };
        if setting == Some(false) {
            return Err(request_error("model actions are off (setting `model: false`)"));
        }
        let slot = self.model.clone();
        let present = {
            let (slot, root) = (slot.clone(), root.clone());
            tokio::task::spawn_blocking(move || slot.refactor_present(root.as_deref())).await.unwrap_or(false)
        };
        if !present {
            return Err(request_error(
                "no Refactor model: set REFACTOR_AGENT_MODEL or `[models.refactor]` in repo-run.toml, or run \
                 `cargo xtask models`",
            ));
        }
        // Dropped with this future when the client cancels the request; the work goes on in
        // its own task until the model sees the flag, so the progress still ends.
        let cancel = CancelOnDrop(Arc::default());
        let job = RefactorJob {
            client: self.client.clone(),
            state: self.state.clone(),
            slot,
            root,
            uri,
            kind,
            range,
            snapshot: Arc::new(snapshot),
            cancelled: cancel.0.clone(),
        };
        let token = params.work_done_progress_params.work_done_token;
        let result = tokio::spawn(job.run(token)).await;
        drop(cancel);
        result.map(Some).map_err(|_| Error::internal_error())
    }
}

/// One run of a model edit action, owned by its own task.
struct RefactorJob {
    client: Client,
    state: Arc<Mutex<State>>,
    slot: Arc<ModelSlot>,
    root: Option<PathBuf>,
    uri: Uri,
    kind: RefactorKind,
    range: Range,
    snapshot: Arc<Snapshot>,
    cancelled: Arc<AtomicBool>,
}

impl RefactorJob {
    async fn run(self, token: Option<ProgressToken>) -> Value {
        let RefactorJob { client, state, slot, root, uri, kind, range, snapshot, cancelled } = self;
        let title = kind.title();
        let progress = match token {
            Some(token) => Some(client.progress(token, format!("repo-run: {title}")).begin().await),
            None => None,
        };
        if let Some(p) = &progress {
            p.report("asking the Refactor model").await;
        }
        let started = std::time::Instant::now();
        let (shared, flag) = (snapshot.clone(), cancelled.clone());
        let suggested = tokio::task::spawn_blocking(move || {
            let (file, tree) = (shared.file.as_ref().ok_or("no grammar for this document")?, shared.tree.as_ref());
            let tree = tree.ok_or("the document did not parse")?;
            let start = shared.index.offset(&shared.text, pos(range.start));
            let end = shared.index.offset(&shared.text, pos(range.end));
            let (start, end) = crate::refactor::target(kind, &shared.text, tree, start, end)?;
            let request = RefactorRequest { kind, file, source: &shared.text, start, end, finding: None };
            let model = slot.get(root.as_deref()).ok_or("the model table is invalid")?;
            let suggestion = model.suggest(&request, &|| flag.load(Ordering::SeqCst))?;
            Ok::<_, String>((suggestion, start, end))
        })
        .await
        .unwrap_or_else(|_| Err("the model call failed".into()));
        let model_ms = started.elapsed().as_millis() as u64;
        if cancelled.load(Ordering::SeqCst) {
            if let Some(p) = progress {
                p.finish_with_message("cancelled").await;
            }
            return serde_json::json!({"action": kind.as_str(), "applied": false, "reason": "cancelled"});
        }
        if let (Some(p), Ok(_)) = (&progress, &suggested) {
            p.report("checking that the edit parses").await;
        }
        let shared = snapshot.clone();
        let checked = match suggested {
            Ok((suggestion, start, end)) => tokio::task::spawn_blocking(move || {
                let (Some(file), Some(tree)) = (shared.file.as_ref(), shared.tree.as_ref()) else {
                    return Err("the document did not parse".to_string());
                };
                let request = RefactorRequest { kind, file, source: &shared.text, start, end, finding: None };
                crate::refactor::check(&request, tree, &suggestion).map(|(fix, _)| fix)
            })
            .await
            .unwrap_or_else(|_| Err("the check failed".into())),
            Err(why) => Err(why),
        };
        let current = lock(&state).docs.get(&uri).map(|d| d.version);
        let checked = checked.and_then(|fix| match current == Some(snapshot.version) {
            true => Ok(fix),
            false => Err("the document changed while the model was working".to_string()),
        });
        let result = match checked {
            Ok(fix) => {
                let edits: Vec<TextEdit> = fix
                    .edits
                    .iter()
                    .map(|e| TextEdit { range: snapshot.range(e.start, e.end), new_text: e.new_text.clone() })
                    .collect();
                let count = edits.len();
                let edit = WorkspaceEdit { changes: Some(HashMap::from([(uri, edits)])), ..Default::default() };
                let applied = client.apply_edit(edit).await.map(|r| r.applied).unwrap_or(false);
                serde_json::json!({"action": kind.as_str(), "applied": applied, "edits": count, "model_ms": model_ms})
            }
            Err(why) => {
                client.show_message(MessageType::WARNING, format!("repo-run: {title}: nothing changed: {why}")).await;
                serde_json::json!({"action": kind.as_str(), "applied": false, "reason": why, "model_ms": model_ms})
            }
        };
        if let Some(p) = progress {
            p.finish().await;
        }
        result
    }
}

/// A request the server understood but cannot carry out now.
fn request_error(message: &'static str) -> Error {
    Error { code: tower_lsp_server::jsonrpc::ErrorCode::InvalidRequest, message: message.into(), data: None }
}

/// The model edit actions that apply at `range`: commands, so offering them runs no model.
fn refactor_actions(snapshot: &Snapshot, uri: &Uri, range: Range) -> Vec<CodeActionOrCommand> {
    let (Some(_), Some(tree)) = (&snapshot.file, &snapshot.tree) else { return Vec::new() };
    let start = snapshot.index.offset(&snapshot.text, pos(range.start));
    let end = snapshot.index.offset(&snapshot.text, pos(range.end));
    RefactorKind::EDITS
        .into_iter()
        .filter(|k| crate::refactor::target(*k, &snapshot.text, tree, start, end).is_ok())
        .map(|kind| {
            let title = format!("{} (repo-run model)", kind.title());
            let code_kind = match kind {
                RefactorKind::ExtractFunction => CodeActionKind::REFACTOR_EXTRACT,
                _ => CodeActionKind::REFACTOR_REWRITE,
            };
            CodeActionOrCommand::CodeAction(CodeAction {
                title: title.clone(),
                kind: Some(code_kind),
                command: Some(Command {
                    title,
                    command: REFACTOR.to_string(),
                    arguments: Some(vec![
                        Value::String(uri.as_str().to_string()),
                        Value::String(kind.as_str().to_string()),
                        serde_json::json!(range),
                        Value::from(snapshot.version),
                    ]),
                }),
                ..Default::default()
            })
        })
        .collect()
}

/// Sets its flag when dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The rule fixes of `findings` that keep the file parsing.
fn quick_fixes(snapshot: &Snapshot, uri: &Uri, findings: &[Finding]) -> Vec<CodeActionOrCommand> {
    findings
        .iter()
        .filter_map(|f| {
            let fix = f.fix.as_ref()?;
            let file = snapshot.file.as_ref()?;
            // The same check model edits get; skipped on huge files, where two extra parses
            // would make the editor wait.
            if snapshot.text.len() <= CHECK_FIX_LIMIT
                && crate::refactor::checked_apply(file, &snapshot.text, fix).is_err()
            {
                return None;
            }
            let edits = fix
                .edits
                .iter()
                .map(|e| TextEdit { range: snapshot.range(e.start, e.end), new_text: e.new_text.clone() })
                .collect();
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![snapshot.diagnostic(f)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(true),
                ..Default::default()
            }))
        })
        .collect()
}

/// A command, not an edit: the model runs only when the user picks it.
fn explain_action(snapshot: &Snapshot, uri: &Uri, f: &Finding) -> CodeActionOrCommand {
    let start = snapshot.range(f.start, f.end).start;
    CodeActionOrCommand::CodeAction(CodeAction {
        title: EXPLAIN_TITLE.to_string(),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![snapshot.diagnostic(f)]),
        command: Some(Command {
            title: EXPLAIN_TITLE.to_string(),
            command: EXPLAIN.to_string(),
            arguments: Some(vec![
                Value::String(uri.as_str().to_string()),
                Value::String(f.rule.id.to_string()),
                serde_json::json!({"line": start.line, "character": start.character}),
            ]),
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(range: Option<((u32, u32), (u32, u32))>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|((a, b), (c, d))| Range::new(Position::new(a, b), Position::new(c, d))),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn incremental_reparse_matches_a_fresh_parse() {
        let uri: Uri = "file:///w/app.py".parse().unwrap();
        let mut doc = Document::new(&uri, "python", "s = \"é😀\"\nx = 1\n".to_string(), 1, &Config::default());
        // After the closing quote: UTF-16 column 9 (the emoji counts twice) is byte 12.
        doc.apply(change(Some(((0, 9), (0, 9))), " + eval(y)"));
        doc.apply(change(Some(((1, 4), (1, 5))), "requests.get(u, verify=False)"));
        doc.update(&Config::default());
        assert_eq!(doc.text.as_str(), "s = \"é😀\" + eval(y)\nx = requests.get(u, verify=False)\n");
        let fresh = Lang::Python.parser().parse(doc.text.as_str(), None).unwrap();
        assert_eq!(doc.tree.as_ref().unwrap().root_node().to_sexp(), fresh.root_node().to_sexp());
        let snap = doc.snapshot();
        let codes: Vec<_> =
            snap.diagnostics().into_iter().map(|d| (d.code, d.range.start.line, d.range.start.character)).collect();
        assert_eq!(
            codes,
            [
                (Some(NumberOrString::String("python.eval".into())), 0, 12),
                (Some(NumberOrString::String("python.tls-verify-disabled".into())), 1, 20)
            ]
        );
    }

    /// After any sequence of edits, the findings kept up to date edit by edit are the ones a
    /// full check of the final text gives.
    #[test]
    fn incremental_findings_match_a_full_check() {
        let config = Config::default();
        type Edit<'a> = ((u32, u32), (u32, u32), &'a str);
        let cases: &[(&str, &str, &[Edit<'_>])] = &[
            (
                "file:///w/src/lib.rs",
                "pub fn a() { x.unwrap(); }\n\nmod tests {\n    fn t() { y.unwrap(); }\n}\npub fn b() { dbg!(z); }\n",
                &[
                    ((2, 0), (2, 0), "#[cfg(test)]\n"),
                    ((0, 13), (0, 23), "x?;"),
                    ((6, 13), (6, 13), "panic!(\"no\"); "),
                    ((2, 0), (3, 0), ""),
                ],
            ),
            (
                "file:///w/app.py",
                "import yaml\n\ndef f(u):\n    return requests.get(u, verify=False)\n\ncfg = yaml.load(s)\n",
                &[
                    ((3, 27), (3, 39), "verify=True"),
                    ((1, 0), (1, 0), "x = eval(data)\ntry:\n    go()\nexcept:\n"),
                    ((5, 0), (5, 0), "    pass\n"),
                    ((0, 0), (2, 0), ""),
                ],
            ),
        ];
        for (uri, text, edits) in cases {
            let uri: Uri = uri.parse().unwrap();
            let mut doc = Document::new(&uri, "", text.to_string(), 1, &config);
            for (i, (start, end, new)) in edits.iter().enumerate() {
                doc.apply(change(Some((*start, *end)), new));
                doc.update(&config);
                let full =
                    crate::rules::check(doc.file.as_ref().unwrap(), doc.tree.as_ref().unwrap(), &doc.text, &config);
                let key = |f: &Finding| (f.rule.id, f.start, f.end, f.fix.as_ref().map(|x| x.apply(&doc.text)));
                let kept: Vec<_> = doc.findings.iter().map(key).collect();
                assert_eq!(kept, full.iter().map(key).collect::<Vec<_>>(), "{uri:?} after edit {i}:\n{}", doc.text);
            }
        }
    }

    #[test]
    fn settings_turn_rules_off_and_change_severity() {
        let mut config = Config::default();
        let mut debounce = None;
        let settings =
            serde_json::json!({"repoRun": {"rules": {"python.eval": false, "js.debugger": "error"}, "debounceMs": 50}});
        let (mut plan_off, mut model) = (false, None);
        apply_settings(&settings, &mut config, &mut debounce, &mut plan_off, &mut model);
        assert!(!plan_off && model.is_none());
        let off = serde_json::json!({"plan": false, "model": false});
        apply_settings(&off, &mut config, &mut debounce, &mut plan_off, &mut model);
        assert!(plan_off);
        assert_eq!(model, Some(false));
        assert!(!config.enabled("python.eval"));
        assert_eq!(config.severity(crate::rules::rule("js.debugger").unwrap()), Severity::Error);
        assert_eq!(debounce, Some(Duration::from_millis(50)));
    }

    #[test]
    fn unsupported_languages_are_kept_without_findings() {
        let uri: Uri = "file:///w/notes.cob".parse().unwrap();
        let doc = Document::new(&uri, "cobol", "eval(x)".to_string(), 1, &Config::default());
        assert!(doc.snapshot().diagnostics().is_empty());
    }
}
