//! `python.sql-format`: SQL built with f-strings, `%`, `+` or `.format` passed to `execute`.

use super::{Hit, Rule, looks_like_sql, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.sql-format",
    severity: Severity::Error,
    message: "SQL built from a formatted string: use query parameters",
    docs: "The query text is built by formatting or concatenating values into it and then executed. \
           Any value that reaches it from outside can change the statement (SQL injection). Pass \
           values as parameters: `cursor.execute(\"SELECT … WHERE id = %s\", (user_id,))`.",
    queries: &[(
        &[Lang::Python],
        "(call
           function: (attribute attribute: (identifier) @method)
           arguments: (argument_list . [
             (binary_operator)
             (string (interpolation))
             (call function: (attribute object: (string) attribute: (identifier) @fmt (#eq? @fmt \"format\")))
           ] @finding)
           (#any-of? @method \"execute\" \"executemany\" \"executescript\" \"raw\" \"mogrify\"))",
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
        let src = "cur.execute(f\"SELECT * FROM users WHERE id = {uid}\")\n\
                   cur.execute(\"DELETE FROM t WHERE name = '%s'\" % name)\n\
                   cur.execute(\"SELECT * FROM t WHERE a = \" + a)\n\
                   cur.executemany(\"INSERT INTO t VALUES ({})\".format(v), rows)\n";
        assert_eq!(
            hits(&RULE, "db.py", src),
            [
                "f\"SELECT * FROM users WHERE id = {uid}\"",
                "\"DELETE FROM t WHERE name = '%s'\" % name",
                "\"SELECT * FROM t WHERE a = \" + a",
                "\"INSERT INTO t VALUES ({})\".format(v)"
            ]
        );
    }

    #[test]
    fn ignores_parameters_and_constant_text() {
        let src = "cur.execute(\"SELECT * FROM users WHERE id = %s\", (uid,))\n\
                   cur.execute(f\"SELECT 1\")\n\
                   log.execute(f\"run {job}\")\n";
        assert!(hits(&RULE, "db.py", src).is_empty());
    }
}
