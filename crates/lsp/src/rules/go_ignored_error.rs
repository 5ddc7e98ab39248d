//! `go.ignored-error`: `_ = err`, an error dropped on purpose but without handling.

use super::{Rule, always, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "go.ignored-error",
    severity: Severity::Warning,
    message: "error discarded with `_ = err`",
    docs: "`_ = err` silences the compiler's unused-variable check and throws the error away: the \
           failure it reports is never seen. Return it (wrapped with `fmt.Errorf(\"…: %w\", err)`), \
           log it, or handle it.",
    queries: &[(
        &[Lang::Go],
        "(assignment_statement left: (expression_list . (identifier) @l .) right: (expression_list . (identifier) @r .)
           (#eq? @l \"_\") (#eq? @r \"err\")) @finding",
    )],
    accept: always,
    fix: no_fix,
};

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_discarded_err() {
        let src = "package a\nfunc f() {\n\terr := g()\n\t_ = err\n}\n";
        assert_eq!(hits(&RULE, "a.go", src), ["_ = err"]);
    }

    #[test]
    fn ignores_other_blanks() {
        let src = "package a\nfunc f() {\n\t_ = x\n\tv, _ := m[k]\n\tif err != nil { return }\n}\n";
        assert!(hits(&RULE, "a.go", src).is_empty());
    }
}
