//! Reading source code with tree-sitter: the environment variables the code reads, the ports it
//! listens on, and whether a file is an entry point. One file per language; each exposes a
//! [`Scanner`] listed in [`SCANNERS`].

mod go;
mod javascript;
mod python;
mod rust;

use std::cell::RefCell;
use std::collections::HashMap;

use rayon::prelude::*;
use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, Parser, Query, QueryCursor, Tree};

use super::{Findings, ProjectContext};

/// Source files larger than this are not parsed: generated or minified code says nothing
/// about the ports and settings a person wrote.
pub const MAX_PARSE_BYTES: u64 = 256 * 1024;

/// Facts one source file gives, with 1-based lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CodeFacts {
    /// `(name, default, line)`: an environment variable read, with the fallback written beside it.
    pub env_vars: Vec<(String, Option<String>, u32)>,
    /// `(port, env var that overrides it, line)`.
    pub ports: Vec<(u16, Option<String>, u32)>,
    /// The line that makes this file an entry point (`if __name__ == "__main__"`, `func main`).
    pub entry: Option<u32>,
    /// `(path, line)`: health-check routes the file declares (see `detection::health_routes`).
    pub health_paths: Vec<(String, u32)>,
}

/// Source files of languages without a grammar here whose route declarations still name a
/// health path (Ruby, PHP, Java, Kotlin, C#): read as text only.
const ROUTE_ONLY_EXTENSIONS: &[&str] = &["rb", "php", "java", "kt", "cs", "ex", "exs"];

/// Whether a text may declare a health route at all, before it is read line by line.
fn may_declare_health(source: &str) -> bool {
    ["health", "status", "ping", "ready", "livez", "/up"].iter().any(|w| source.contains(w))
}

/// A language's queries over a parsed tree.
pub trait Scanner: Sync {
    /// Rule id prefix, e.g. `code.javascript`.
    fn id(&self) -> &'static str;
    /// File extensions this scanner reads.
    fn extensions(&self) -> &'static [&'static str];
    /// The grammar for a file with extension `ext`.
    fn grammar(&self, ext: &str) -> tree_sitter::Language;
    /// A cheap text check before parsing: `false` when the file cannot hold anything
    /// [`Scanner::scan`] looks for, so it is not parsed at all.
    fn worth_parsing(&self, _source: &str) -> bool {
        true
    }
    /// Collect facts from one parsed file.
    fn scan(&self, ext: &str, tree: &Tree, source: &str, out: &mut CodeFacts);
    /// Whether a file (path relative to its project) can be an entry point at all: a Rust
    /// `fn main` in `build.rs` or `examples/` is not what `up` runs.
    fn entry_file(&self, _path: &str) -> bool {
        true
    }
}

pub static SCANNERS: &[&dyn Scanner] = &[&javascript::JavaScript, &python::Python, &rust::Rust, &go::Go];

fn scanner_for(ext: &str) -> Option<&'static dyn Scanner> {
    SCANNERS.iter().copied().find(|s| s.extensions().contains(&ext))
}

thread_local! {
    // A parser per thread and grammar: parsers are not Sync and cheap to keep.
    static PARSERS: RefCell<HashMap<&'static str, Parser>> = RefCell::new(HashMap::new());
}

/// Parse `source` with the grammar for `ext` on this thread's parser.
pub fn parse(scanner: &dyn Scanner, ext: &'static str, source: &str) -> Option<Tree> {
    PARSERS.with(|parsers| {
        let mut parsers = parsers.borrow_mut();
        let parser = parsers.entry(ext).or_insert_with(|| {
            let mut p = Parser::new();
            p.set_language(&scanner.grammar(ext)).expect("grammar compatible with tree-sitter core");
            p
        });
        parser.parse(source, None)
    })
}

/// Scan the project's own source files in parallel and add what they read to `out`.
/// Returns how many files were parsed.
pub fn scan(cx: &ProjectContext<'_>, out: &mut Findings) -> u64 {
    let files: Vec<_> = cx
        .own_files()
        .iter()
        .filter(|f| f.size <= MAX_PARSE_BYTES && !is_test_or_example(cx.relative(&f.path)))
        .filter_map(|f| {
            let ext = f.extension()?;
            let scanner = scanner_for(ext)?;
            let ext = *scanner.extensions().iter().find(|e| **e == ext)?;
            Some((*f, scanner, ext))
        })
        .collect();
    let results: Vec<_> = files
        .par_iter()
        .filter_map(|(file, scanner, ext)| {
            let text = cx.repo.read_text(&file.path)?;
            let mut facts = CodeFacts::default();
            if may_declare_health(&text.content) {
                facts.health_paths = super::health_routes::in_source(&text.content);
            }
            if let Some(path) = super::health_routes::from_file_path(cx.relative(&file.path)) {
                facts.health_paths.push((path, 1));
            }
            if !scanner.worth_parsing(&text.content) {
                return (!facts.health_paths.is_empty()).then_some((file.path.as_str(), *scanner, facts, false));
            }
            let tree = parse(*scanner, ext, &text.content)?;
            scanner.scan(ext, &tree, &text.content, &mut facts);
            Some((file.path.as_str(), *scanner, facts, true))
        })
        .collect();
    let parsed = results.iter().filter(|r| r.3).count() as u64;
    // Languages with no grammar here: their health routes only.
    let route_only: Vec<_> = cx
        .own_files()
        .iter()
        .filter(|f| f.size <= MAX_PARSE_BYTES && !is_test_or_example(cx.relative(&f.path)))
        .filter(|f| f.extension().is_some_and(|e| ROUTE_ONLY_EXTENSIONS.contains(&e)))
        .collect();
    let routes: Vec<_> = route_only
        .par_iter()
        .filter_map(|f| {
            let text = cx.repo.read_text(&f.path)?;
            let found = if may_declare_health(&text.content) {
                super::health_routes::in_source(&text.content)
            } else {
                Vec::new()
            };
            (!found.is_empty()).then_some((f.path.as_str(), found))
        })
        .collect();
    for (path, found) in routes {
        for (route, line) in found {
            out.add_health_path(route, crate::plan::Evidence::new(path, Some(line), "code.route.health"));
        }
    }
    for (path, scanner, facts, _) in results {
        let id = scanner.id();
        for (route, line) in facts.health_paths {
            out.add_health_path(route, crate::plan::Evidence::new(path, Some(line), format!("{id}.route.health")));
        }
        for (name, default, line) in facts.env_vars {
            out.add_env_var(&name, default, crate::plan::Evidence::new(path, Some(line), format!("{id}.env")));
        }
        for (port, env_var, line) in facts.ports {
            out.add_port(port, env_var, crate::plan::Evidence::new(path, Some(line), format!("{id}.port")));
        }
        if let Some(line) = facts.entry.filter(|_| scanner.entry_file(cx.relative(path))) {
            out.add_entry_point(path.to_owned(), crate::plan::Evidence::new(path, Some(line), format!("{id}.entry")));
        }
    }
    parsed
}

/// Directories whose code configures tests, examples or docs, not the app being run.
const NOT_APP_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "spec",
    "specs",
    "e2e",
    "fixtures",
    "__fixtures__",
    "testdata",
    "examples",
    "_examples",
    "example",
    "docs",
    "benches",
    "bench",
    "__mocks__",
    "cypress",
    "playwright",
];

/// Whether a project-relative path is test, example or doc code: the env vars and ports it
/// names belong to test harnesses and samples, so they would mislead the plan.
fn is_test_or_example(path: &str) -> bool {
    let mut parts = path.split('/');
    let name = parts.next_back().unwrap_or(path);
    if parts.any(|dir| NOT_APP_DIRS.contains(&dir)) {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    name.ends_with("_test.go")
        || name.contains(".test.")
        || name.contains(".spec.")
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || name == "conftest.py"
}

// ---- helpers for scanners -------------------------------------------------------------------

/// Compile a query once; a query that does not compile is a bug caught by every test.
pub fn compile(language: &tree_sitter::Language, source: &str) -> Query {
    Query::new(language, source).unwrap_or_else(|e| panic!("query does not compile: {e}\n{source}"))
}

/// Run `query` over `tree`, calling `f` with each match's captures as `(capture name, node)`.
pub fn for_each_match<'t>(query: &Query, tree: &'t Tree, source: &str, mut f: impl FnMut(&[(&str, Node<'t>)])) {
    let mut cursor = QueryCursor::new();
    let names = query.capture_names();
    let mut matches = cursor.matches(query, tree.root_node(), source.as_bytes());
    let mut caps = Vec::new();
    while let Some(m) = matches.next() {
        caps.clear();
        caps.extend(m.captures.iter().map(|c| (names[c.index as usize], c.node)));
        f(&caps);
    }
}

/// The text of a node.
pub fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    node.utf8_text(source.as_bytes()).unwrap_or("")
}

/// 1-based line of a node.
pub fn line(node: Node<'_>) -> u32 {
    node.start_position().row as u32 + 1
}

/// A string literal's content without quotes (`"X"`, `'X'`, `` `X` ``, `r"X"`).
pub fn unquote(literal: &str) -> &str {
    let s = literal.trim_start_matches(['r', 'b', 'f', 'u', 'R', 'B', 'F', 'U']);
    let s = s.trim_start_matches('#');
    for q in ["\"\"\"", "'''", "\"", "'", "`"] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.trim_end_matches('#').strip_suffix(q)) {
            return inner;
        }
    }
    literal
}

/// A port number from a literal, if it is a plausible TCP port.
pub fn port_number(literal: &str) -> Option<u16> {
    let n: u32 = unquote(literal.trim()).replace('_', "").parse().ok()?;
    (1..=65535).contains(&n).then_some(n as u16)
}

/// Whether a name is an environment variable name worth reporting (`PORT`, `DATABASE_URL`).
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::is_test_or_example;

    #[test]
    fn test_and_example_paths_are_not_app_code() {
        for p in [
            "tests/api.py",
            "src/__tests__/a.js",
            "pkg/server_test.go",
            "app.test.ts",
            "x.spec.js",
            "test_views.py",
            "conftest.py",
            "examples/basic/main.rs",
            "benches/b.rs",
            "a/testdata/x.go",
        ] {
            assert!(is_test_or_example(p), "{p}");
        }
        for p in ["server.js", "src/main.rs", "app/testing_utils.py", "latest.py", "contest.go", "src/attest.ts"] {
            assert!(!is_test_or_example(p), "{p}");
        }
    }
}
