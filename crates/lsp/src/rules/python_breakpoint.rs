//! `python.breakpoint`: `breakpoint()` / `pdb.set_trace()` left in code.

use super::{Fix, Hit, Rule, remove_statement, text};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.breakpoint",
    severity: Severity::Warning,
    message: "debugger breakpoint left in code",
    docs: "`breakpoint()` and `pdb.set_trace()` stop the program and wait for a debugger on stdin: \
           a server hangs, a CI job times out. Remove them before committing.",
    queries: &[(
        &[Lang::Python],
        "(expression_statement (call function: (identifier) @f (#eq? @f \"breakpoint\"))) @finding
         (expression_statement (call function: (attribute object: (identifier) @m attribute: (identifier) @f)
           (#any-of? @m \"pdb\" \"ipdb\") (#eq? @f \"set_trace\"))) @finding",
    )],
    accept: super::always,
    fix,
};

/// Removing the only statement of a block would leave it empty, which Python rejects.
fn fix(hit: &Hit<'_>) -> Option<Fix> {
    let stmt = hit.node("finding")?;
    let parent = stmt.parent()?;
    let mut cursor = parent.walk();
    let siblings = parent.named_children(&mut cursor).filter(|c| c.kind() != "comment").count();
    (parent.kind() == "module" || siblings > 1)
        .then(|| remove_statement(&format!("Remove `{}`", text(stmt, hit.source)), stmt, hit.source))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{findings, fixed, hits};

    #[test]
    fn flags_and_removes_breakpoints() {
        let src = "def f(x):\n    import pdb; pdb.set_trace()\n    return x\n";
        assert_eq!(hits(&RULE, "a.py", src), ["pdb.set_trace()"]);
        let src = "def f(x):\n    breakpoint()\n    return x\n";
        assert_eq!(fixed(&RULE, "a.py", src), "def f(x):\n    return x\n");
    }

    #[test]
    fn no_fix_when_it_would_empty_a_block() {
        let src = "def f(x):\n    breakpoint()\n";
        assert_eq!(findings(&RULE, "a.py", src), [("breakpoint()".to_string(), None)]);
    }

    #[test]
    fn ignores_other_calls() {
        assert!(hits(&RULE, "a.py", "debugger.set_trace()\nbreakpoints = load()\n").is_empty());
    }
}
