//! `js.eval`: `eval` of a computed string, `new Function(…)`.

use super::{Hit, Rule, is_plain_string, no_fix};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.eval",
    severity: Severity::Error,
    message: "eval of computed code",
    docs: "`eval(text)` and `new Function(text)` compile and run a string with the page's or the \
           process's full rights; when the text is computed it can carry an attacker's code. Parse \
           data with `JSON.parse`, and dispatch on names with an object map.",
    queries: &[(
        JS_FAMILY,
        "(call_expression function: (identifier) @f arguments: (arguments . (_) @arg) (#eq? @f \"eval\")) @finding
         (new_expression constructor: (identifier) @f (#eq? @f \"Function\")) @finding",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    hit.node("arg").is_none_or(|a| !is_plain_string(a))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_eval_and_function_constructor() {
        assert_eq!(hits(&RULE, "a.js", "const r = eval(input);\n"), ["eval(input)"]);
        assert_eq!(hits(&RULE, "a.ts", "const f = new Function('a', body);\n").len(), 1);
    }

    #[test]
    fn ignores_constant_eval_and_methods() {
        assert!(hits(&RULE, "a.js", "eval('1 + 1');\nmodel.eval(x);\n").is_empty());
    }
}
