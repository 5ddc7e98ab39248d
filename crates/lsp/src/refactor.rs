//! The interface of model-backed actions, implemented on the shared inference engine by
//! [`crate::model_actions`]; the server offers explaining a finding. Whatever a model proposes
//! is checked here before an editor sees it: an edit that leaves the file unparsable is dropped
//! with a reason.

use crate::{FileInfo, Finding, Fix};

/// What the user asked for; each maps to the Refactor or Review entry of the agent model table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefactorKind {
    ExtractFunction,
    SimplifyCondition,
    RenameForClarity,
    ExplainFinding,
}

/// Everything a model call needs, so it can run off the edit path on a snapshot.
pub struct RefactorRequest<'a> {
    pub kind: RefactorKind,
    pub file: &'a FileInfo,
    pub source: &'a str,
    /// The selection, in bytes.
    pub start: usize,
    pub end: usize,
    /// The finding to explain, for [`RefactorKind::ExplainFinding`].
    pub finding: Option<&'a Finding>,
}

/// A model's answer.
pub enum Suggestion {
    Edit(Fix),
    Explanation(String),
}

/// Implemented on the inference engine. Calls may take seconds: the server runs them as
/// commands with work-done progress, and `cancelled` turns true when the user moves on.
pub trait RefactorModel: Send + Sync {
    fn suggest(&self, request: &RefactorRequest<'_>, cancelled: &dyn Fn() -> bool) -> Result<Suggestion, String>;
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
    let mut parser = file.lang.parser();
    let mut broken = |text: &str| parser.parse(text, None).is_none_or(|t| t.root_node().has_error());
    if broken(&after) && !broken(source) {
        return Err(format!("`{}` would leave the file unparsable; dropped", fix.title));
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Edit;

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
}
