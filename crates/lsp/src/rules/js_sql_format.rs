//! `js.sql-format`: SQL built with template literals or `+` passed to `query`/`execute`.

use super::{Hit, Rule, looks_like_sql, no_fix};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.sql-format",
    severity: Severity::Error,
    message: "SQL built from a template or concatenation: use query parameters",
    docs: "The query text is built by interpolating values and then executed; a value from outside \
           can rewrite the statement (SQL injection). Use placeholders and pass values apart: \
           `db.query(\"SELECT … WHERE id = $1\", [id])`, or a tagged template your driver escapes.",
    queries: &[(
        JS_FAMILY,
        "(call_expression
           function: (member_expression property: (property_identifier) @m)
           arguments: (arguments . [(template_string (template_substitution)) (binary_expression)] @finding)
           (#any-of? @m \"query\" \"execute\" \"raw\" \"exec\" \"run\" \"all\" \"get\" \"prepare\" \"$queryRawUnsafe\" \"$executeRawUnsafe\"))",
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
    fn flags_interpolated_queries() {
        let src = "await pool.query(`SELECT * FROM users WHERE id = ${req.params.id}`);\n\
                   db.execute(\"DELETE FROM t WHERE name = '\" + name + \"'\");\n";
        assert_eq!(hits(&RULE, "a.ts", src).len(), 2);
        assert_eq!(hits(&RULE, "a.js", src)[0], "`SELECT * FROM users WHERE id = ${req.params.id}`");
    }

    #[test]
    fn ignores_placeholders() {
        let src = "pool.query('SELECT * FROM users WHERE id = $1', [id]);\n\
                   pool.query(`SELECT * FROM users`);\napp.get(`/users/${id}`, h);\n";
        assert!(hits(&RULE, "a.js", src).is_empty());
    }
}
