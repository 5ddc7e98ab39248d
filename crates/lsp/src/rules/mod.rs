//! Review rules: each is a tree-sitter query plus, where a query cannot say it, a check in Rust,
//! and an optional safe fix. One file per rule; [`RULES`] lists them in the order they run.

mod go_empty_err_check;
mod go_ignored_error;
mod go_insecure_skip_verify;
mod go_shell_exec;
mod go_sql_format;
mod js_child_process_exec;
mod js_console_log;
mod js_debugger;
mod js_empty_catch;
mod js_eval;
mod js_insecure_random;
mod js_sql_format;
mod js_tls_reject_unauthorized;
mod python_bare_except_pass;
mod python_breakpoint;
mod python_debug_mode;
mod python_eval;
mod python_insecure_random;
mod python_shell_command;
mod python_sql_format;
mod python_tls_verify;
mod python_yaml_load;
mod rust_dbg;
mod rust_panic_in_lib;
mod rust_sql_format;
mod rust_tls_accept_invalid;
mod rust_unwrap_in_lib;
mod secrets_aws_key;
mod secrets_password;
mod secrets_private_key;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, Query, QueryCursor, Tree};

use crate::lang::Lang;
use crate::{Config, Edit, FileInfo, Finding, Fix, Severity};

/// One review rule. Queries mark the range to report with the capture `@finding` (or their
/// first capture); other captures are for `accept` and `fix`.
pub struct Rule {
    /// Stable id, `<language>.<what>`: SARIF `ruleId`, settings keys and docs use it.
    pub id: &'static str,
    pub severity: Severity,
    /// One line, shown on the finding.
    pub message: &'static str,
    /// Why a reviewer flags this and what to write instead (SARIF `help`, hover docs).
    pub docs: &'static str,
    /// Queries and the grammars they are written for.
    pub queries: &'static [(&'static [Lang], &'static str)],
    /// Checks a query cannot express (file roles, literal contents).
    pub accept: fn(&Hit<'_>) -> bool,
    /// A safe edit, when there is one.
    pub fix: fn(&Hit<'_>) -> Option<Fix>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

pub fn always(_: &Hit<'_>) -> bool {
    true
}

pub fn no_fix(_: &Hit<'_>) -> Option<Fix> {
    None
}

/// Every rule, in the order findings are reported for the same range.
pub static RULES: &[&Rule] = &[
    &secrets_private_key::RULE,
    &secrets_aws_key::RULE,
    &secrets_password::RULE,
    &python_sql_format::RULE,
    &python_eval::RULE,
    &python_shell_command::RULE,
    &python_bare_except_pass::RULE,
    &python_tls_verify::RULE,
    &python_debug_mode::RULE,
    &python_insecure_random::RULE,
    &python_breakpoint::RULE,
    &python_yaml_load::RULE,
    &js_sql_format::RULE,
    &js_eval::RULE,
    &js_child_process_exec::RULE,
    &js_empty_catch::RULE,
    &js_console_log::RULE,
    &js_debugger::RULE,
    &js_tls_reject_unauthorized::RULE,
    &js_insecure_random::RULE,
    &rust_unwrap_in_lib::RULE,
    &rust_panic_in_lib::RULE,
    &rust_dbg::RULE,
    &rust_tls_accept_invalid::RULE,
    &rust_sql_format::RULE,
    &go_ignored_error::RULE,
    &go_empty_err_check::RULE,
    &go_insecure_skip_verify::RULE,
    &go_sql_format::RULE,
    &go_shell_exec::RULE,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// A query match as a rule sees it.
pub struct Hit<'a> {
    pub file: &'a FileInfo,
    pub source: &'a str,
    captures: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Hit<'a> {
    /// The first node captured as `name`.
    pub fn node(&self, name: &str) -> Option<Node<'a>> {
        self.captures.iter().find(|(n, _)| *n == name).map(|(_, node)| *node)
    }

    /// The source text of capture `name`, or "" when absent.
    pub fn text(&self, name: &str) -> &'a str {
        self.node(name).map_or("", |n| text(n, self.source))
    }

    /// The reported node: `@finding`, else the first capture.
    fn finding(&self) -> Option<Node<'a>> {
        self.node("finding").or_else(|| self.captures.first().map(|(_, n)| *n))
    }
}

pub fn text<'a>(node: Node<'_>, source: &'a str) -> &'a str {
    source.get(node.byte_range()).unwrap_or("")
}

/// All rules of one language in one query, so a check walks the tree once; `rules[i]` owns
/// pattern `i`.
struct Compiled {
    query: Query,
    rules: Vec<&'static Rule>,
}

/// Queries compiled once per grammar. A query that does not compile is a bug in the rule,
/// caught by `every_query_compiles`; here it is left out with a log line.
static COMPILED: LazyLock<HashMap<Lang, Compiled>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for lang in Lang::ALL {
        let mut source = String::new();
        let mut segments = Vec::new();
        for rule in RULES {
            for (langs, q) in rule.queries {
                if !langs.contains(&lang) {
                    continue;
                }
                if let Err(e) = Query::new(&lang.grammar(), q) {
                    tracing::error!("rule {} does not compile for {lang:?}: {e}", rule.id);
                    continue;
                }
                segments.push((source.len(), *rule));
                source.push_str(q);
                source.push('\n');
            }
        }
        let Ok(query) = Query::new(&lang.grammar(), &source) else { continue };
        let rules = (0..query.pattern_count())
            .map(|i| {
                let at = query.start_byte_for_pattern(i);
                segments.iter().rev().find(|(start, _)| *start <= at).map_or(RULES[0], |(_, r)| *r)
            })
            .collect();
        map.insert(lang, Compiled { query, rules });
    }
    map
});

/// Matches beyond this in one query are dropped by tree-sitter; we log when it happens.
const MATCH_LIMIT: u32 = 4096;

/// Run every enabled rule on one parsed file.
pub fn check(file: &FileInfo, tree: &Tree, source: &str, config: &Config) -> Vec<Finding> {
    check_in(file, tree, source, config, 0..source.len())
}

/// Run every enabled rule on the part of a parsed file in `range` (bytes): the findings that
/// lie inside it.
pub fn check_in(file: &FileInfo, tree: &Tree, source: &str, config: &Config, range: Range<usize>) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(compiled) = COMPILED.get(&file.lang) else { return out };
    let mut cursor = QueryCursor::new();
    cursor.set_match_limit(MATCH_LIMIT);
    cursor.set_byte_range(range.clone());
    let names = compiled.query.capture_names();
    let mut matches = cursor.matches(&compiled.query, tree.root_node(), source.as_bytes());
    while let Some(m) = matches.next() {
        let rule = compiled.rules[m.pattern_index];
        if !config.enabled(rule.id) {
            continue;
        }
        let captures = m.captures.iter().map(|cap| (names[cap.index as usize], cap.node)).collect();
        let hit = Hit { file, source, captures };
        let Some(node) = hit.finding().filter(|n| n.start_byte() >= range.start && n.end_byte() <= range.end) else {
            continue;
        };
        if !(rule.accept)(&hit) {
            continue;
        }
        out.push(Finding {
            rule,
            severity: config.severity(rule),
            start: node.start_byte(),
            end: node.end_byte(),
            fix: (rule.fix)(&hit),
        });
    }
    if cursor.did_exceed_match_limit() {
        tracing::warn!("{}: the review query hit its match limit; some findings were dropped", file.path);
    }
    out.sort_by_key(|f| (f.start, f.end, f.rule.id));
    out.dedup_by(|a, b| a.rule.id == b.rule.id && a.start == b.start && a.end == b.end);
    out
}

/// Is `node` inside test code: a `#[cfg(test)]` module or a `#[test]` function (Rust)?
pub fn in_rust_test(node: Node<'_>, source: &str) -> bool {
    let mut cur = Some(node);
    while let Some(n) = cur {
        if matches!(n.kind(), "mod_item" | "function_item") {
            let mut prev = n.prev_sibling();
            while let Some(p) = prev.filter(|p| p.kind() == "attribute_item" || p.kind() == "line_comment") {
                let t = text(p, source);
                if t.contains("cfg(test)") || t.contains("test]") || t.contains("::test") {
                    return true;
                }
                prev = p.prev_sibling();
            }
        }
        cur = n.parent();
    }
    false
}

/// The contents of a string literal without its quotes and prefixes (`f`, `r#`, backticks).
pub fn unquote(literal: &str) -> &str {
    let prefix = literal.find(['"', '\'', '`']).unwrap_or(0);
    if !literal[..prefix].chars().all(|c| c.is_ascii_alphabetic() || c == '#') {
        return literal;
    }
    let s = literal[prefix..].trim_end_matches('#');
    for q in ["\"\"\"", "'''", "\"", "'", "`"] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// Replace `node` with `new_text`.
pub fn replace(title: &str, node: Node<'_>, new_text: &str) -> Fix {
    Fix {
        title: title.to_string(),
        edits: vec![Edit { start: node.start_byte(), end: node.end_byte(), new_text: new_text.to_string() }],
    }
}

/// Remove a statement: its whole lines when nothing else is on them, else just its text.
pub fn remove_statement(title: &str, node: Node<'_>, source: &str) -> Fix {
    let (mut start, mut end) = (node.start_byte(), node.end_byte());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[end..].find('\n').map_or(source.len(), |i| end + i + 1);
    let before = &source[line_start..start];
    let after = source[end..line_end].trim_end_matches(['\n', '\r']);
    let after = after.strip_prefix(';').unwrap_or(after);
    if before.trim().is_empty() && after.trim().is_empty() {
        start = line_start;
        end = line_end;
    }
    Fix { title: title.to_string(), edits: vec![Edit { start, end, new_text: String::new() }] }
}

/// A string literal with nothing interpolated into it.
pub fn is_plain_string(node: Node<'_>) -> bool {
    let literal = matches!(
        node.kind(),
        "string" | "string_literal" | "raw_string_literal" | "interpreted_string_literal" | "template_string"
    );
    let mut cursor = node.walk();
    let interpolated =
        node.named_children(&mut cursor).any(|c| matches!(c.kind(), "interpolation" | "template_substitution"));
    literal && !interpolated
}

/// Does this text read like a SQL statement? Keeps format-built strings that are not queries
/// (log lines, URLs) out of the SQL rules.
pub fn looks_like_sql(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE ", "DROP ", "CREATE ", " FROM "]
        .iter()
        .any(|k| upper.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_compiles() {
        for rule in RULES {
            for (langs, source) in rule.queries {
                for lang in *langs {
                    if let Err(e) = Query::new(&lang.grammar(), source) {
                        panic!("{} for {lang:?}: {e}", rule.id);
                    }
                }
            }
        }
    }

    #[test]
    fn ids_are_unique_and_documented() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        assert!(RULES.len() >= 20);
        for r in RULES {
            assert!(r.id.split('.').count() == 2, "{}", r.id);
            assert!(r.docs.len() > 40 && !r.message.is_empty(), "{}", r.id);
        }
    }
}
