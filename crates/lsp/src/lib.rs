//! Code review for editors and CI: rules written as tree-sitter queries ([`rules`]), run on
//! whole trees by `repo-run review` ([`review`]) and per document, as people type, by the
//! language server ([`server`]). Only `server` knows LSP; everything else speaks bytes, lines
//! and rule ids. [`plan`] lists `repo-run plan`'s problems for the server to show.

pub mod lang;
pub mod model_actions;
pub mod plan;
pub mod refactor;
pub mod review;
pub mod rules;
pub mod server;
pub mod text;
mod transport;

use std::collections::{BTreeMap, BTreeSet};

pub use lang::Lang;
pub use rules::{RULES, Rule};

/// How much a finding matters; `--fail-on` and editors' colours follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" | "hint" | "information" | "note" => Severity::Info,
            "warning" | "warn" => Severity::Warning,
            "error" => Severity::Error,
            _ => return None,
        })
    }
}

/// Which rules run and how loud they are; the same for the server and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Rule ids turned off.
    pub disabled: BTreeSet<String>,
    /// Severity per rule id, over the rule's default.
    pub severities: BTreeMap<String, Severity>,
}

impl Config {
    pub fn enabled(&self, rule: &str) -> bool {
        !self.disabled.contains(rule)
    }

    pub fn severity(&self, rule: &Rule) -> Severity {
        self.severities.get(rule.id).copied().unwrap_or(rule.severity)
    }
}

/// A file as the rules see it: its language and what role its path gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Relative to the review root (or the document's URI path), `/`-separated.
    pub path: String,
    pub lang: Lang,
    /// Tests, fixtures and examples: rules about library hygiene skip them.
    pub is_test: bool,
    /// An executable's own code (`main.rs`, `src/bin/`, `build.rs`, `__main__.py`), where
    /// panicking and printing are how programs talk.
    pub is_entry: bool,
}

impl FileInfo {
    /// `None` for a language no rule reads.
    pub fn new(path: &str) -> Option<FileInfo> {
        let lang = Lang::from_path(std::path::Path::new(path))?;
        Some(FileInfo::with_lang(path, lang))
    }

    pub fn with_lang(path: &str, lang: Lang) -> FileInfo {
        let path = path.replace('\\', "/");
        let parts: Vec<&str> = path.split('/').collect();
        let name = parts.last().copied().unwrap_or("");
        let dirs = &parts[..parts.len().saturating_sub(1)];
        let is_test = dirs.iter().any(|d| matches!(*d, "tests" | "test" | "__tests__" | "testdata" | "fixtures"))
            || name.starts_with("test_")
            || name.ends_with("_test.go")
            || name.ends_with("_test.py")
            || name.contains(".test.")
            || name.contains(".spec.")
            || matches!(name, "conftest.py" | "testing.rs" | "test_utils.rs" | "test_helpers.rs");
        let is_entry = matches!(name, "main.rs" | "build.rs" | "__main__.py" | "manage.py")
            || dirs.iter().any(|d| matches!(*d, "bin" | "examples" | "benches" | "scripts" | "xtask"));
        FileInfo { path, lang, is_test, is_entry }
    }
}

/// A text edit in byte offsets of the text it was computed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub new_text: String,
}

/// A safe fix: edits that do not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
}

impl Fix {
    /// The text after the edits.
    pub fn apply(&self, source: &str) -> String {
        let mut edits: Vec<&Edit> = self.edits.iter().collect();
        edits.sort_by_key(|e| std::cmp::Reverse(e.start));
        let mut out = source.to_string();
        for e in edits {
            out.replace_range(e.start..e.end, &e.new_text);
        }
        out
    }
}

/// One rule's finding, in byte offsets of the checked text.
#[derive(Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub severity: Severity,
    pub start: usize,
    pub end: usize,
    pub fix: Option<Fix>,
}

impl std::fmt::Debug for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}..{}", self.rule.id, self.start, self.end)
    }
}

/// Parse `source` and run the rules on it.
pub fn analyze(file: &FileInfo, source: &str, config: &Config) -> Vec<Finding> {
    match file.lang.parser().parse(source, None) {
        Some(tree) => rules::check(file, &tree, source, config),
        None => Vec::new(),
    }
}
