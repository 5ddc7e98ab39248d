//! `rust.dbg`: a `dbg!` left in code.

use super::{Fix, Hit, Rule, always, remove_statement, replace, text};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "rust.dbg",
    severity: Severity::Warning,
    message: "dbg! left in code",
    docs: "`dbg!` prints to stderr with file and line: a debugging leftover that ends up in users' \
           terminals and logs. Remove it; use `tracing` for diagnostics that should stay.",
    queries: &[(
        &[Lang::Rust],
        "(macro_invocation macro: (identifier) @n (token_tree) @args (#eq? @n \"dbg\")) @finding",
    )],
    accept: always,
    fix,
};

/// `dbg!(x);` goes away; `dbg!(x)` used as a value becomes `x` (it returns its argument).
fn fix(hit: &Hit<'_>) -> Option<Fix> {
    let call = hit.node("finding")?;
    if let Some(stmt) = call.parent().filter(|p| p.kind() == "expression_statement") {
        return Some(remove_statement("Remove dbg!", stmt, hit.source));
    }
    let args = text(hit.node("args")?, hit.source);
    let inner = args.get(1..args.len().checked_sub(1)?)?.trim().trim_end_matches(',').trim_end();
    (!inner.is_empty() && !has_top_level_comma(inner)).then(|| replace("Remove dbg!, keep the value", call, inner))
}

/// `dbg!(a, b)` returns a tuple: no simple rewrite.
fn has_top_level_comma(s: &str) -> bool {
    let mut depth = 0i32;
    let mut in_str = false;
    let mut prev = ' ';
    for c in s.chars() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => return true,
            _ => {}
        }
        prev = c;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{findings, fixed, hits};

    #[test]
    fn flags_and_fixes_dbg() {
        let stmt = "fn f(x: u8) {\n    dbg!(x);\n    g(x);\n}\n";
        assert_eq!(hits(&RULE, "src/lib.rs", stmt), ["dbg!(x)"]);
        assert_eq!(fixed(&RULE, "src/lib.rs", stmt), "fn f(x: u8) {\n    g(x);\n}\n");
        let value = "fn f(x: u8) -> u8 { dbg!(g(x, 1)) + 1 }\n";
        assert_eq!(fixed(&RULE, "src/main.rs", value), "fn f(x: u8) -> u8 { g(x, 1) + 1 }\n");
    }

    #[test]
    fn tuple_dbg_has_no_fix_and_others_are_clean() {
        assert_eq!(findings(&RULE, "a.rs", "fn f() -> (u8, u8) { dbg!(1, 2) }\n")[0].1, None);
        assert!(hits(&RULE, "a.rs", "fn f() { debug!(\"x\"); eprintln!(\"x\"); }\n").is_empty());
    }
}
