//! `go.sql-format`: SQL built with `fmt.Sprintf` or `+` passed to `Query`/`Exec`.

use super::{Hit, Rule, looks_like_sql, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "go.sql-format",
    severity: Severity::Error,
    message: "SQL built with Sprintf or concatenation: use query parameters",
    docs: "The query text is built with `fmt.Sprintf` or `+` and executed; a value from outside can \
           rewrite the statement (SQL injection). Pass values as arguments: \
           `db.Query(\"SELECT … WHERE id = $1\", id)`.",
    queries: &[(
        &[Lang::Go],
        "(call_expression
           function: (selector_expression field: (field_identifier) @m)
           arguments: (argument_list [
             (call_expression function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
               (#eq? @pkg \"fmt\") (#match? @fn \"^Sprint\"))
             (binary_expression)
           ] @finding)
           (#match? @m \"^(Query|QueryRow|Exec|Prepare)(Context)?$\"))",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    looks_like_sql(hit.text("finding"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_built_queries() {
        let src = "package a\nfunc f() {\n\tdb.Query(fmt.Sprintf(\"SELECT * FROM t WHERE id = %s\", id))\n\
                   \tdb.ExecContext(ctx, \"DELETE FROM t WHERE n = '\" + n + \"'\")\n}\n";
        assert_eq!(hits(&RULE, "a.go", src).len(), 2);
    }

    #[test]
    fn ignores_parameters() {
        let src = "package a\nfunc f() {\n\tdb.Query(\"SELECT * FROM t WHERE id = $1\", id)\n\tlog.Print(fmt.Sprintf(\"SELECT %d\", n))\n}\n";
        assert!(hits(&RULE, "a.go", src).is_empty());
    }
}
