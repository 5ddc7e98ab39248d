//! `js.debugger`: a `debugger;` statement left in code.

use super::{Fix, Hit, Rule, always, remove_statement};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.debugger",
    severity: Severity::Warning,
    message: "debugger statement left in code",
    docs: "`debugger;` pauses every user with developer tools open, and Node under an inspector. It \
           is a debugging leftover: remove it.",
    queries: &[(JS_FAMILY, "(debugger_statement) @finding")],
    accept: always,
    fix,
};

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    Some(remove_statement("Remove debugger statement", hit.node("finding")?, hit.source))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_removes_debugger() {
        let src = "function f() {\n  debugger;\n  go();\n}\n";
        assert_eq!(hits(&RULE, "a.js", src), ["debugger;"]);
        assert_eq!(fixed(&RULE, "a.js", src), "function f() {\n  go();\n}\n");
    }

    #[test]
    fn ignores_the_word_elsewhere() {
        assert!(hits(&RULE, "a.ts", "const debuggerEnabled = false;\n// debugger;\n").is_empty());
    }
}
