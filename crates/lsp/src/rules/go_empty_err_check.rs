//! `go.empty-error-check`: `if err != nil {}` with nothing inside.

use super::{Hit, Rule, no_fix, text};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "go.empty-error-check",
    severity: Severity::Warning,
    message: "error checked but not handled (empty `if err != nil` block)",
    docs: "An empty `if err != nil {}` looks like handling but swallows the error; the code after it \
           runs with a zero value. Return or log the error; if ignoring it is right, say why in a \
           comment inside the block.",
    queries: &[(
        &[Lang::Go],
        "(if_statement condition: (binary_expression left: (identifier) @e right: (nil)) consequence: (block) @body
           (#eq? @e \"err\")) @finding",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    let Some(body) = hit.node("body") else { return false };
    let inner = text(body, hit.source);
    inner.trim_start_matches('{').trim_end_matches('}').trim().is_empty() && hit.text("finding").contains("!=")
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_empty_check() {
        let src = "package a\nfunc f() {\n\tif err != nil {\n\t}\n}\n";
        assert_eq!(hits(&RULE, "a.go", src), ["if err != nil {\n\t}"]);
    }

    #[test]
    fn ignores_handled_or_explained() {
        let src = "package a\nfunc f() error {\n\tif err != nil {\n\t\treturn err\n\t}\n\tif err != nil {\n\t\t// best effort\n\t}\n\treturn nil\n}\n";
        assert!(hits(&RULE, "a.go", src).is_empty());
    }
}
