//! `rust.sql-format`: SQL built with `format!` passed to `query`/`execute`.

use super::{Hit, Rule, looks_like_sql, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "rust.sql-format",
    severity: Severity::Error,
    message: "SQL built with format!: bind parameters instead",
    docs: "The query is built with `format!` and executed; a value from outside can rewrite the \
           statement (SQL injection). Bind values: `sqlx::query(\"… WHERE id = $1\").bind(id)`, \
           `conn.execute(\"… ?1\", params![id])`.",
    queries: &[(
        &[Lang::Rust],
        "(call_expression
           function: [(field_expression field: (field_identifier) @m) (scoped_identifier name: (identifier) @m) (identifier) @m]
           arguments: (arguments . [
             (macro_invocation macro: (identifier) @fm)
             (reference_expression (macro_invocation macro: (identifier) @fm))
           ] @finding)
           (#any-of? @m \"query\" \"query_as\" \"query_scalar\" \"execute\" \"prepare\" \"batch_execute\" \"query_one\" \"query_row\")
           (#eq? @fm \"format\"))",
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
    fn flags_formatted_queries() {
        let src = "async fn f() { sqlx::query(&format!(\"SELECT * FROM t WHERE id = {id}\")).fetch_one(&pool).await; \
                   conn.execute(&format!(\"DELETE FROM t WHERE n = '{}'\", n), []); }\n";
        assert_eq!(hits(&RULE, "src/db.rs", src).len(), 2);
    }

    #[test]
    fn ignores_bound_queries() {
        let src = "async fn f() { sqlx::query(\"SELECT * FROM t WHERE id = $1\").bind(id); log(&format!(\"SELECT {x}\")); }\n";
        assert!(hits(&RULE, "src/db.rs", src).is_empty());
    }
}
