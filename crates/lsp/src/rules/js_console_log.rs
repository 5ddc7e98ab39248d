//! `js.console-log`: `console.log`/`debug`/`trace` statements left in library code.

use super::{Fix, Hit, Rule, remove_statement};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.console-log",
    severity: Severity::Info,
    message: "console.log left in code",
    docs: "`console.log` calls are usually debugging leftovers: they leak data to browser consoles \
           and clutter server logs without levels. Remove them, or use the project's logger. \
           Scripts, tests and `bin/` entry points are not checked.",
    queries: &[(
        JS_FAMILY,
        "(expression_statement (call_expression function: (member_expression object: (identifier) @o property: (property_identifier) @p))
           (#eq? @o \"console\") (#any-of? @p \"log\" \"debug\" \"trace\" \"dir\")) @finding",
    )],
    accept,
    fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    !hit.file.is_test && !hit.file.is_entry
}

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    let stmt = hit.node("finding")?;
    Some(remove_statement("Remove console.log", stmt, hit.source))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_removes_console_log() {
        let src = "function f(x) {\n  console.log('x', x);\n  return x;\n}\n";
        assert_eq!(hits(&RULE, "src/f.ts", src), ["console.log('x', x);"]);
        assert_eq!(fixed(&RULE, "src/f.ts", src), "function f(x) {\n  return x;\n}\n");
    }

    #[test]
    fn ignores_errors_tests_and_scripts() {
        assert!(hits(&RULE, "src/f.js", "console.error(err);\nlogger.log('x');\n").is_empty());
        assert!(hits(&RULE, "src/f.test.js", "console.log(x);\n").is_empty());
        assert!(hits(&RULE, "scripts/build.js", "console.log(x);\n").is_empty());
    }
}
