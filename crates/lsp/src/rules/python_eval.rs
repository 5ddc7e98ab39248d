//! `python.eval`: `eval`/`exec` on a value that is not a constant string.

use super::{Hit, Rule, is_plain_string, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.eval",
    severity: Severity::Error,
    message: "eval/exec of a computed string",
    docs: "`eval` and `exec` run whatever text they are given with the program's full rights; with \
           a computed argument that text may come from a user. Parse data with `ast.literal_eval`, \
           `json.loads` or a dispatch table instead.",
    queries: &[(
        &[Lang::Python],
        "(call function: (identifier) @f arguments: (argument_list . (_) @arg) (#any-of? @f \"eval\" \"exec\")) @finding",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    hit.node("arg").is_some_and(|a| !is_plain_string(a))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_computed_code() {
        assert_eq!(hits(&RULE, "a.py", "x = eval(request.args['q'])\n"), ["eval(request.args['q'])"]);
        assert_eq!(hits(&RULE, "a.py", "exec(f\"run_{name}()\")\n").len(), 1);
    }

    #[test]
    fn ignores_constants_and_methods() {
        assert!(hits(&RULE, "a.py", "eval(\"1 + 2\")\nmodel.eval()\nsession.exec(stmt)\n").is_empty());
    }
}
