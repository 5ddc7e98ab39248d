//! The interface of model-backed actions, implemented on the shared inference engine by
//! [`crate::model_actions`]: explaining a finding, extracting a function, simplifying a
//! condition and renaming an identifier for clarity. Everything here is tree-sitter and bytes,
//! no LSP and no model: what the action works on ([`target`]), how a model's typed answer
//! becomes an edit ([`fix_for`]), and the check every edit passes before an editor sees it
//! ([`checked_apply`]): an edit that leaves the file unparsable is dropped with a reason.
//!
//! A model's answer is data, never code that runs: it is spliced into the document as text,
//! and only after the parser accepts the result.

use tree_sitter::{Node, Tree};

use crate::{Edit, FileInfo, Finding, Fix, Lang};

/// What the user asked for; each maps to the Refactor or Review entry of the agent model table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefactorKind {
    ExtractFunction,
    SimplifyCondition,
    RenameForClarity,
    ExplainFinding,
}

impl RefactorKind {
    /// The model-edit actions, in the order they are offered.
    pub const EDITS: [RefactorKind; 3] =
        [RefactorKind::ExtractFunction, RefactorKind::SimplifyCondition, RefactorKind::RenameForClarity];

    /// The name used in command arguments.
    pub fn as_str(self) -> &'static str {
        match self {
            RefactorKind::ExtractFunction => "extract",
            RefactorKind::SimplifyCondition => "simplify",
            RefactorKind::RenameForClarity => "rename",
            RefactorKind::ExplainFinding => "explain",
        }
    }

    pub fn parse(s: &str) -> Option<RefactorKind> {
        [RefactorKind::ExplainFinding].into_iter().chain(RefactorKind::EDITS).find(|k| k.as_str() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            RefactorKind::ExtractFunction => "Extract function",
            RefactorKind::SimplifyCondition => "Simplify condition",
            RefactorKind::RenameForClarity => "Rename for clarity",
            RefactorKind::ExplainFinding => "Explain this finding",
        }
    }
}

/// Everything a model call needs, so it can run off the edit path on a snapshot.
pub struct RefactorRequest<'a> {
    pub kind: RefactorKind,
    pub file: &'a FileInfo,
    pub source: &'a str,
    /// What the action works on, in bytes: the finding, or the [`target`] of an edit action.
    pub start: usize,
    pub end: usize,
    /// The finding to explain, for [`RefactorKind::ExplainFinding`].
    pub finding: Option<&'a Finding>,
}

/// A model's answer, typed per action (each is the JSON the model was constrained to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suggestion {
    Explanation(String),
    /// A new function, and the statements that replace the selection (a call to it).
    Extract {
        function: String,
        call: String,
    },
    /// The condition that replaces the target.
    Condition(String),
    /// A new name for the identifier.
    Name(String),
}

/// Implemented on the inference engine. Calls may take seconds: the server runs them as
/// commands with work-done progress, and `cancelled` turns true when the user moves on.
pub trait RefactorModel: Send + Sync {
    fn suggest(&self, request: &RefactorRequest<'_>, cancelled: &dyn Fn() -> bool) -> Result<Suggestion, String>;
}

/// The bytes an edit action works on, for a selection `start..end` (equal for a cursor):
/// whole statements for extract, the condition of the `if` (or the boolean expression) under
/// the cursor for simplify, the identifier under the cursor for rename.
pub fn target(
    kind: RefactorKind,
    source: &str,
    tree: &Tree,
    start: usize,
    end: usize,
) -> Result<(usize, usize), String> {
    let root = tree.root_node();
    match kind {
        RefactorKind::ExtractFunction => statements(source, root, start, end),
        RefactorKind::SimplifyCondition => {
            let node = root.named_descendant_for_byte_range(start, start).ok_or("no code at the cursor")?;
            condition(node, start)
                .map(|n| (n.start_byte(), n.end_byte()))
                .ok_or_else(|| "no condition at the cursor".into())
        }
        RefactorKind::RenameForClarity => {
            let node = identifier_at(root, start).ok_or("no identifier at the cursor")?;
            Ok((node.start_byte(), node.end_byte()))
        }
        RefactorKind::ExplainFinding => Err("explaining works on a finding".into()),
    }
}

/// The selection grown to whole lines, if those lines are whole statements of one block.
fn statements(source: &str, root: Node<'_>, start: usize, end: usize) -> Result<(usize, usize), String> {
    let (start, end) = (start.min(source.len()), end.min(source.len()));
    if start >= end {
        return Err("select the statements to extract".into());
    }
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    // A selection ending at the start of a line ends on the line before.
    let end = if end > start && source[..end].ends_with('\n') { end - 1 } else { end };
    let line_end = source[end..].find('\n').map_or(source.len(), |i| end + i);
    let text = &source[line_start..line_end];
    let s = line_start + (text.len() - text.trim_start().len());
    let e = line_end - (text.len() - text.trim_end().len());
    if s >= e {
        return Err("select the statements to extract".into());
    }
    let node = root.descendant_for_byte_range(s, e).ok_or("no code selected")?;
    if (node.start_byte(), node.end_byte()) == (s, e) && node.is_named() && node.id() != root.id() {
        return Ok((s, e));
    }
    let mut cursor = node.walk();
    let inside: Vec<Node<'_>> =
        node.named_children(&mut cursor).filter(|c| c.end_byte() > s && c.start_byte() < e).collect();
    let whole = inside.iter().all(|c| c.start_byte() >= s && c.end_byte() <= e);
    match (inside.first(), inside.last()) {
        (Some(first), Some(last)) if whole && first.start_byte() == s && last.end_byte() == e => Ok((s, e)),
        _ => Err("select whole statements of one block".into()),
    }
}

/// Node kinds whose `condition` field is what "simplify condition" rewrites.
const CONDITIONAL: &[&str] =
    &["if_statement", "if_expression", "elif_clause", "while_statement", "while_expression", "conditional_expression"];

/// Node kinds that end the search for a condition: past them the cursor is in another statement.
const STATEMENT_LIKE: &[&str] = &[
    "block",
    "statement_block",
    "module",
    "program",
    "source_file",
    "function_definition",
    "function_declaration",
    "function_item",
    "expression_statement",
];

/// The condition of the `if`/`while` whose condition holds the cursor (or whose keyword it is
/// on), else the outermost boolean expression around the cursor within one statement.
fn condition(node: Node<'_>, at: usize) -> Option<Node<'_>> {
    let mut outermost_boolean = None;
    let mut n = Some(node);
    while let Some(cur) = n {
        if CONDITIONAL.contains(&cur.kind())
            && let Some(cond) = cur.child_by_field_name("condition")
        {
            let on_keyword = at < cond.start_byte();
            if on_keyword || (cond.start_byte() <= at && at <= cond.end_byte()) {
                return Some(unparenthesized(cond));
            }
        }
        if is_boolean(cur) {
            outermost_boolean = Some(cur);
        }
        if STATEMENT_LIKE.contains(&cur.kind()) && outermost_boolean.is_some() {
            break;
        }
        n = cur.parent();
    }
    outermost_boolean
}

/// `(a && b)` in JavaScript's and Go's `if`: the inside.
fn unparenthesized(node: Node<'_>) -> Node<'_> {
    if node.kind() == "parenthesized_expression" && node.named_child_count() == 1 {
        node.named_child(0).unwrap_or(node)
    } else {
        node
    }
}

fn is_boolean(node: Node<'_>) -> bool {
    match node.kind() {
        "boolean_operator" | "not_operator" => true,
        "binary_expression" | "unary_expression" => node
            .child_by_field_name("operator")
            .or_else(|| node.child(if node.kind() == "unary_expression" { 0 } else { 1 }))
            .is_some_and(|op| matches!(op.kind(), "&&" | "||" | "!")),
        _ => false,
    }
}

/// Only plain identifiers are renamed: fields, properties and types name things other files see.
fn identifier_at(root: Node<'_>, at: usize) -> Option<Node<'_>> {
    let found = |at: usize| root.named_descendant_for_byte_range(at, at).filter(|n| n.kind() == "identifier");
    // A cursor just past the name (`x|`) still means `x`.
    found(at).or_else(|| at.checked_sub(1).and_then(found)).filter(|n| renamable(*n))
}

/// Function-like nodes: the scope a rename stays in.
const SCOPES: &[&str] = &[
    "function_definition",
    "lambda",
    "function_declaration",
    "generator_function_declaration",
    "function_expression",
    "function",
    "arrow_function",
    "method_definition",
    "function_item",
    "closure_expression",
    "method_declaration",
    "func_literal",
];

/// An identifier whose text is not a variable's name: a Python keyword argument's name
/// (`f(x=1)`) or attribute (`self.x`).
fn renamable(node: Node<'_>) -> bool {
    let Some(parent) = node.parent() else { return true };
    let is_field = |field: &str| parent.child_by_field_name(field).is_some_and(|f| f.id() == node.id());
    !((parent.kind() == "keyword_argument" && is_field("name"))
        || (parent.kind() == "attribute" && is_field("attribute")))
}

/// The function the identifier lives in (for a function's own name, the one around it), else
/// the whole file.
fn scope_of<'t>(node: Node<'t>, root: Node<'t>) -> Node<'t> {
    let mut n = node.parent();
    while let Some(cur) = n {
        if SCOPES.contains(&cur.kind()) {
            let own_name = cur.child_by_field_name("name").is_some_and(|name| name.id() == node.id());
            if !own_name {
                return cur;
            }
        }
        n = cur.parent();
    }
    root
}

/// Every renamable node of `kind` spelled `name` under `scope`.
fn occurrences<'t>(scope: Node<'t>, source: &str, kind: &str, name: &str) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![scope];
    while let Some(n) = stack.pop() {
        if n.kind() == kind && &source[n.byte_range()] == name && renamable(n) {
            out.push(n);
        }
        let mut cursor = n.walk();
        stack.extend(n.children(&mut cursor));
    }
    out.sort_by_key(Node::start_byte);
    out
}

/// Every node under `node`, itself included.
fn descendants(node: Node<'_>) -> impl Iterator<Item = Node<'_>> {
    let mut stack = vec![node];
    std::iter::from_fn(move || {
        let n = stack.pop()?;
        let mut cursor = n.walk();
        stack.extend(n.children(&mut cursor));
        Some(n)
    })
}

/// Whether `name` (already spelled somewhere in the file) would be captured by a rename:
/// any identifier-like node with that text.
fn spelled_anywhere(root: Node<'_>, source: &str, name: &str) -> bool {
    descendants(root).any(|n| n.kind().ends_with("identifier") && &source[n.byte_range()] == name)
}

/// Reserved words a model might propose as a name.
fn is_keyword(lang: Lang, name: &str) -> bool {
    let words: &[&str] = match lang {
        Lang::Python => &[
            "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
            "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
            "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
        ],
        Lang::JavaScript | Lang::TypeScript | Lang::Tsx => &[
            "break",
            "case",
            "catch",
            "class",
            "const",
            "continue",
            "debugger",
            "default",
            "delete",
            "do",
            "else",
            "export",
            "extends",
            "false",
            "finally",
            "for",
            "function",
            "if",
            "import",
            "in",
            "instanceof",
            "let",
            "new",
            "null",
            "return",
            "super",
            "switch",
            "this",
            "throw",
            "true",
            "try",
            "typeof",
            "undefined",
            "var",
            "void",
            "while",
            "with",
            "yield",
            "await",
            "enum",
            "interface",
            "type",
        ],
        Lang::Rust => &[
            "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
            "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
            "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
        ],
        Lang::Go => &[
            "break",
            "case",
            "chan",
            "const",
            "continue",
            "default",
            "defer",
            "else",
            "fallthrough",
            "for",
            "func",
            "go",
            "goto",
            "if",
            "import",
            "interface",
            "map",
            "package",
            "range",
            "return",
            "select",
            "struct",
            "switch",
            "type",
            "var",
            "nil",
            "true",
            "false",
        ],
    };
    words.contains(&name)
}

/// Whether `name` can stand for a variable: ASCII letters, digits and `_`, not a keyword.
pub fn valid_identifier(lang: Lang, name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
        && !is_keyword(lang, name)
}

/// The edit a suggestion makes on `request`'s target (`request.start..end`, from [`target`]).
/// Not yet checked: [`run`] passes it through [`checked_apply`].
pub fn fix_for(request: &RefactorRequest<'_>, tree: &Tree, suggestion: &Suggestion) -> Result<Fix, String> {
    let (source, start, end) = (request.source, request.start, request.end);
    if start > end || end > source.len() || !source.is_char_boundary(start) || !source.is_char_boundary(end) {
        return Err("the target does not fit the document".into());
    }
    let title = request.kind.title().to_string();
    let edits = match (request.kind, suggestion) {
        (RefactorKind::SimplifyCondition, Suggestion::Condition(new)) => {
            let new = new.trim();
            if new.is_empty() {
                return Err("the model proposed an empty condition".into());
            }
            if new == &source[start..end] {
                return Err("the model proposed the same condition".into());
            }
            vec![Edit { start, end, new_text: new.to_string() }]
        }
        (RefactorKind::ExtractFunction, Suggestion::Extract { function, call }) => {
            extract_edits(request.file.lang, source, tree, start, end, function, call)?
        }
        (RefactorKind::RenameForClarity, Suggestion::Name(name)) => {
            rename_edits(request.file.lang, source, tree, start, name.trim())?
        }
        (kind, _) => return Err(format!("the answer does not fit `{}`", kind.title())),
    };
    Ok(Fix { title, edits })
}

/// The new function goes before the top-level item holding the selection; the call replaces
/// the selection at its indentation.
fn extract_edits(
    lang: Lang,
    source: &str,
    tree: &Tree,
    start: usize,
    end: usize,
    function: &str,
    call: &str,
) -> Result<Vec<Edit>, String> {
    let (function, call) = (function.trim(), call.trim());
    if function.is_empty() || call.is_empty() {
        return Err("the model proposed no function or no call".into());
    }
    // The function must be one function definition with a body, under a new name, and the
    // call must parse on its own and call it: checks tree-sitter's forgiving grammars (an
    // empty Python body parses) would not make on the whole file.
    let parsed = lang.parser().parse(function, None).ok_or("the proposed function is unparsable")?;
    let top = parsed.root_node();
    let def = top.named_child(0).filter(|n| {
        top.named_child_count() == 1
            && !top.has_error()
            && matches!(n.kind(), "function_definition" | "function_declaration" | "function_item")
            && n.child_by_field_name("body").is_some_and(|b| b.named_child_count() > 0)
    });
    let Some(def) = def else {
        return Err("the proposed function is not a single function definition with a body".into());
    };
    let name = def.child_by_field_name("name").map(|n| &function[n.byte_range()]).unwrap_or_default();
    if name.is_empty() || spelled_anywhere(tree.root_node(), source, name) {
        return Err(format!("the proposed function name `{name}` is already used in this file"));
    }
    let call_tree = lang.parser().parse(call, None).ok_or("the proposed call is unparsable")?;
    if call_tree.root_node().has_error() {
        return Err(format!("the proposed call `{call}` is unparsable; dropped"));
    }
    let calls_it = descendants(call_tree.root_node()).any(|n| {
        matches!(n.kind(), "call" | "call_expression")
            && n.child_by_field_name("function").is_some_and(|f| &call[f.byte_range()] == name)
    });
    let defines = descendants(call_tree.root_node()).any(|n| SCOPES.contains(&n.kind()));
    if !calls_it || defines {
        return Err(format!("the proposed call `{call}` does not just call `{name}`"));
    }
    let root = tree.root_node();
    let mut cursor = root.walk();
    let item = root.children(&mut cursor).find(|n| n.start_byte() <= start && start < n.end_byte().max(start + 1));
    let at = item.map_or(start, |n| n.start_byte()).min(start);
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = source[line_start..start].chars().take_while(|c| c.is_whitespace()).collect();
    let call = call.lines().map(str::trim_end).collect::<Vec<_>>().join(&format!("\n{indent}"));
    let gap = if lang == Lang::Python { "\n\n\n" } else { "\n\n" };
    Ok(vec![Edit { start: at, end: at, new_text: format!("{function}{gap}") }, Edit { start, end, new_text: call }])
}

/// Every occurrence of the identifier at `at` in its scope, renamed: same node kind, same
/// text, not a keyword argument's name or an attribute. Refused when the new name is not an
/// identifier, or is already spelled in the file (it could capture another binding).
fn rename_edits(lang: Lang, source: &str, tree: &Tree, at: usize, new: &str) -> Result<Vec<Edit>, String> {
    let root = tree.root_node();
    let node = identifier_at(root, at).ok_or("no identifier at the cursor any more")?;
    let old = &source[node.byte_range()];
    if !valid_identifier(lang, new) {
        return Err(format!("the model proposed `{new}`, which is not an identifier"));
    }
    if new == old {
        return Err(format!("the model kept the name `{old}`"));
    }
    if spelled_anywhere(root, source, new) {
        return Err(format!("`{new}` is already used in this file"));
    }
    let scope = scope_of(node, root);
    Ok(occurrences(scope, source, node.kind(), old)
        .into_iter()
        .map(|n| Edit { start: n.start_byte(), end: n.end_byte(), new_text: new.to_string() })
        .collect())
}

/// Ask `model`, turn its answer into an edit and check it: the edit and the text after it, or
/// why nothing is applied.
pub fn run(
    model: &dyn RefactorModel,
    request: &RefactorRequest<'_>,
    tree: &Tree,
    cancelled: &dyn Fn() -> bool,
) -> Result<(Fix, String), String> {
    let suggestion = model.suggest(request, cancelled)?;
    if cancelled() {
        return Err("cancelled".into());
    }
    check(request, tree, &suggestion)
}

/// [`fix_for`] then [`checked_apply`].
pub fn check(request: &RefactorRequest<'_>, tree: &Tree, suggestion: &Suggestion) -> Result<(Fix, String), String> {
    let fix = fix_for(request, tree, suggestion)?;
    let after = checked_apply(request.file, request.source, &fix)?;
    Ok((fix, after))
}

/// The text after `fix`, if it still parses as well as the original did (no new syntax
/// errors); otherwise why it was dropped.
pub fn checked_apply(file: &FileInfo, source: &str, fix: &Fix) -> Result<String, String> {
    let in_bounds = fix.edits.iter().all(|e| {
        e.start <= e.end && e.end <= source.len() && source.is_char_boundary(e.start) && source.is_char_boundary(e.end)
    });
    if !in_bounds {
        return Err("the edit does not fit the document".to_string());
    }
    let after = fix.apply(source);
    if parses_as_well(file.lang, source, &after) {
        Ok(after)
    } else {
        Err(format!("`{}` would leave the file unparsable; dropped", fix.title))
    }
}

/// Whether `after` has no syntax error, or `before` already had one.
pub fn parses_as_well(lang: Lang, before: &str, after: &str) -> bool {
    let mut parser = lang.parser();
    let mut broken = |text: &str| parser.parse(text, None).is_none_or(|t| t.root_node().has_error());
    !broken(after) || broken(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_that_break_the_syntax_are_dropped() {
        let file = FileInfo::new("a.py").unwrap();
        let src = "def f(x):\n    return x\n";
        let good = Fix { title: "rename".into(), edits: vec![Edit { start: 4, end: 5, new_text: "g".into() }] };
        assert_eq!(checked_apply(&file, src, &good).unwrap(), "def g(x):\n    return x\n");
        let bad = Fix { title: "extract".into(), edits: vec![Edit { start: 9, end: 10, new_text: "(".into() }] };
        assert!(checked_apply(&file, src, &bad).unwrap_err().contains("unparsable"));
        let outside = Fix { title: "x".into(), edits: vec![Edit { start: 90, end: 99, new_text: String::new() }] };
        assert!(checked_apply(&file, src, &outside).is_err());
    }

    #[test]
    fn every_rule_fix_in_the_tests_keeps_files_parsing() {
        let cases = [
            ("a.py", "r = requests.get(u, verify=False)\ncfg = yaml.load(f)\n"),
            (
                "a.js",
                "function f() {\n  debugger;\n  console.log(x);\n  return new https.Agent({ rejectUnauthorized: false });\n}\n",
            ),
            (
                "src/lib.rs",
                "fn f(x: u8) -> u8 { dbg!(x);\n    Client::builder().danger_accept_invalid_certs(true);\n    dbg!(x + 1)\n}\n",
            ),
            ("a.go", "package a\nvar c = &tls.Config{InsecureSkipVerify: true}\n"),
        ];
        for (path, src) in cases {
            let file = FileInfo::new(path).unwrap();
            let fixes: Vec<_> =
                crate::analyze(&file, src, &crate::Config::default()).into_iter().filter_map(|f| f.fix).collect();
            assert!(!fixes.is_empty(), "{path}");
            for fix in fixes {
                assert!(checked_apply(&file, src, &fix).is_ok(), "{path}: {}", fix.title);
            }
        }
    }

    const PY: &str = "def total(items, x=0):\n    t = x\n    for x in items:\n        if x > 0 and not x > 100:\n            t = t + x\n    print(\"x\", f(x=x), self.x)\n    return t\n\n\ndef other(x):\n    return x\n";

    fn parse(lang: Lang, src: &str) -> Tree {
        lang.parser().parse(src, None).unwrap()
    }

    fn at(src: &str, needle: &str) -> usize {
        src.find(needle).unwrap()
    }

    /// A model that answers whatever it was built with: the faults a real model makes only
    /// sometimes, made on purpose.
    struct Canned(Suggestion);

    impl RefactorModel for Canned {
        fn suggest(&self, _: &RefactorRequest<'_>, _: &dyn Fn() -> bool) -> Result<Suggestion, String> {
            Ok(self.0.clone())
        }
    }

    /// Returns code that does not parse, for every action.
    struct FakeBrokenModel;

    impl RefactorModel for FakeBrokenModel {
        fn suggest(&self, request: &RefactorRequest<'_>, _: &dyn Fn() -> bool) -> Result<Suggestion, String> {
            Ok(match request.kind {
                RefactorKind::ExtractFunction => Suggestion::Extract {
                    function: "def helper(t, x):\n    return t + x\n".into(),
                    call: "t = helper(t, x))(".into(),
                },
                RefactorKind::SimplifyCondition => Suggestion::Condition("x > 0 and and (".into()),
                _ => Suggestion::Name("x y".into()),
            })
        }
    }

    fn request<'a>(
        kind: RefactorKind,
        file: &'a FileInfo,
        src: &'a str,
        tree: &Tree,
        s: usize,
        e: usize,
    ) -> RefactorRequest<'a> {
        let (start, end) = target(kind, src, tree, s, e).unwrap();
        RefactorRequest { kind, file, source: src, start, end, finding: None }
    }

    #[test]
    fn targets_are_found_with_tree_sitter() {
        let tree = parse(Lang::Python, PY);
        let cursor = at(PY, "x > 0");
        let (s, e) = target(RefactorKind::SimplifyCondition, PY, &tree, cursor, cursor).unwrap();
        assert_eq!(&PY[s..e], "x > 0 and not x > 100");
        let keyword = at(PY, "if x");
        assert_eq!(target(RefactorKind::SimplifyCondition, PY, &tree, keyword, keyword), Ok((s, e)));
        assert!(target(RefactorKind::SimplifyCondition, PY, &tree, 0, 0).is_err());

        let (s, e) = target(RefactorKind::ExtractFunction, PY, &tree, cursor, at(PY, "t + x") + 2).unwrap();
        assert_eq!(&PY[s..e], "if x > 0 and not x > 100:\n            t = t + x");
        // Half a statement is refused.
        let half = at(PY, "for x");
        assert!(target(RefactorKind::ExtractFunction, PY, &tree, half, cursor).is_err());

        let (s, e) = target(RefactorKind::RenameForClarity, PY, &tree, cursor, cursor).unwrap();
        assert_eq!(&PY[s..e], "x");
        assert!(target(RefactorKind::RenameForClarity, PY, &tree, at(PY, "\"x\"") + 1, at(PY, "\"x\"") + 1).is_err());

        let js = "function f(a, b) {\n  if (a && !b) { return 1; }\n}\n";
        let tree = parse(Lang::JavaScript, js);
        let c = at(js, "a &&");
        let (s, e) = target(RefactorKind::SimplifyCondition, js, &tree, c, c).unwrap();
        assert_eq!(&js[s..e], "a && !b");
    }

    #[test]
    fn rename_touches_the_same_binding_in_its_scope_only() {
        let file = FileInfo::new("calc.py").unwrap();
        let tree = parse(Lang::Python, PY);
        let cursor = at(PY, "x > 0");
        let req = request(RefactorKind::RenameForClarity, &file, PY, &tree, cursor, cursor);
        let (fix, after) = check(&req, &tree, &Suggestion::Name("item".into())).unwrap();
        assert_eq!(fix.edits.len(), 7, "{after}");
        assert_eq!(
            after,
            "def total(items, item=0):\n    t = item\n    for item in items:\n        if item > 0 and not item > 100:\n            t = t + item\n    print(\"x\", f(x=item), self.x)\n    return t\n\n\ndef other(x):\n    return x\n"
        );
        // Names that are not identifiers, keywords, the same name or one already in use.
        for bad in ["x y", "class", "x", "t", "9lives", ""] {
            let err = check(&req, &tree, &Suggestion::Name(bad.into())).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn extract_and_simplify_edits_are_spliced_and_checked() {
        let file = FileInfo::new("calc.py").unwrap();
        let tree = parse(Lang::Python, PY);
        let cursor = at(PY, "x > 0");
        let req = request(RefactorKind::SimplifyCondition, &file, PY, &tree, cursor, cursor);
        let (_, after) = check(&req, &tree, &Suggestion::Condition("0 < x <= 100".into())).unwrap();
        assert!(after.contains("        if 0 < x <= 100:\n"), "{after}");

        let req = request(RefactorKind::ExtractFunction, &file, PY, &tree, cursor, at(PY, "t + x") + 2);
        let good = Suggestion::Extract {
            function: "def add_positive(t, x):\n    if 0 < x <= 100:\n        t = t + x\n    return t".into(),
            call: "t = add_positive(t, x)".into(),
        };
        let (_, after) = check(&req, &tree, &good).unwrap();
        assert!(after.starts_with("def add_positive(t, x):\n"), "{after}");
        assert!(after.contains("    for x in items:\n        t = add_positive(t, x)\n    print"), "{after}");
        // Not a function definition: refused before parsing the result.
        let not_a_function = Suggestion::Extract { function: "t = t + x".into(), call: "t".into() };
        assert!(check(&req, &tree, &not_a_function).unwrap_err().contains("not a single function"));
        // An empty body, a name in use, a call that calls something else: refused.
        for (function, call) in [
            ("def add_positive(t, x):", "t = add_positive(t, x)"),
            ("def total(t, x):\n    return t + x", "t = total(t, x)"),
            ("def add_positive(t, x):\n    return t + x", "t = other(t, x)"),
            ("def add_positive(t, x):\n    return t + x", "def add_positive(t, x):\n    pass"),
        ] {
            let answer = Suggestion::Extract { function: function.into(), call: call.into() };
            assert!(check(&req, &tree, &answer).is_err(), "{function} / {call}");
        }
        let same = request(RefactorKind::SimplifyCondition, &file, PY, &tree, cursor, cursor);
        assert!(check(&same, &tree, &Suggestion::Condition("x > 0 and not x > 100".into())).is_err());
        // The wrong answer type for the action.
        assert!(check(&req, &tree, &Suggestion::Name("y".into())).is_err());
    }

    #[test]
    fn unparsable_model_edits_are_dropped_with_a_message() {
        let file = FileInfo::new("calc.py").unwrap();
        let tree = parse(Lang::Python, PY);
        let cursor = at(PY, "x > 0");
        let selection = at(PY, "t + x") + 2;
        for (kind, expected) in [
            (RefactorKind::SimplifyCondition, "unparsable"),
            (RefactorKind::ExtractFunction, "unparsable"),
            (RefactorKind::RenameForClarity, "not an identifier"),
        ] {
            let end = if kind == RefactorKind::ExtractFunction { selection } else { cursor };
            let req = request(kind, &file, PY, &tree, cursor, end);
            let err = run(&FakeBrokenModel, &req, &tree, &|| false).unwrap_err();
            assert!(err.contains(expected), "{kind:?}: {err}");
        }
        // The same path with a sound answer applies.
        let req = request(RefactorKind::SimplifyCondition, &file, PY, &tree, cursor, cursor);
        let (_, after) = run(&Canned(Suggestion::Condition("0 < x <= 100".into())), &req, &tree, &|| false).unwrap();
        assert!(parses_as_well(Lang::Python, PY, &after));
        // Cancelled while the model ran: nothing is applied.
        let cancelled = run(&Canned(Suggestion::Condition("0 < x".into())), &req, &tree, &|| true);
        assert_eq!(cancelled.unwrap_err(), "cancelled");
    }
}
