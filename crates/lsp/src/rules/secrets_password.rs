//! `secrets.hardcoded-password`: a password, token or API key assigned a string literal.

use super::{Hit, Rule, is_plain_string, no_fix, unquote};
use crate::Severity;
use crate::lang::{JS_FAMILY, Lang};

pub static RULE: Rule = Rule {
    id: "secrets.hardcoded-password",
    severity: Severity::Warning,
    message: "credential assigned a string literal",
    docs: "A variable, field or argument named like a password, secret, token or API key is given a \
           literal value. Credentials in source end up in every clone and log of the repository. \
           Read them from the environment or a secret store; keep only placeholders in examples.",
    queries: &[
        (
            &[Lang::Python],
            "(assignment left: [(identifier) @name (attribute attribute: (identifier) @name)] right: (string) @finding)
             (keyword_argument name: (identifier) @name value: (string) @finding)
             (pair key: (string) @name value: (string) @finding)",
        ),
        (
            JS_FAMILY,
            "(variable_declarator name: (identifier) @name value: (string) @finding)
             (pair key: [(property_identifier) (string)] @name value: (string) @finding)
             (assignment_expression left: (member_expression property: (property_identifier) @name) right: (string) @finding)",
        ),
        (
            &[Lang::Rust],
            "(let_declaration pattern: (identifier) @name value: (string_literal) @finding)
             (const_item name: (identifier) @name value: (string_literal) @finding)
             (static_item name: (identifier) @name value: (string_literal) @finding)
             (field_initializer field: (field_identifier) @name value: (string_literal) @finding)",
        ),
        (
            &[Lang::Go],
            "(const_spec name: (identifier) @name value: (expression_list . (interpreted_string_literal) @finding))
             (var_spec name: (identifier) @name value: (expression_list . (interpreted_string_literal) @finding))
             (short_var_declaration left: (expression_list . (identifier) @name) right: (expression_list . (interpreted_string_literal) @finding))",
        ),
    ],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    let Some(value) = hit.node("finding") else { return false };
    !hit.file.is_test
        && is_plain_string(value)
        && secretish(unquote(hit.text("name")))
        && plausible(unquote(hit.text("finding")))
}

/// Is this a name people give credentials? Names of settings *about* a credential (the env var
/// that holds it, a form label, a header name) are not.
pub fn secretish(name: &str) -> bool {
    let n: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    const WORDS: &[&str] = &["password", "passwd", "secret", "apikey", "token", "privatekey", "credential"];
    const ABOUT: &[&str] =
        &["env", "var", "field", "label", "prompt", "name", "path", "file", "url", "header", "length", "len", "type"];
    WORDS.iter().any(|w| n.contains(w)) && !ABOUT.iter().any(|s| n.ends_with(s))
}

/// Could this literal be a real credential rather than a placeholder, a message or a key name?
fn plausible(value: &str) -> bool {
    value.chars().count() >= 6
        && !value.contains(char::is_whitespace)
        && !value.contains(['{', '$', '<', '%'])
        && !value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !value.chars().all(|c| c == value.chars().next().unwrap_or('*'))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_literal_credentials() {
        assert_eq!(hits(&RULE, "app/db.py", "password = \"hunter2hunter2\"\n"), ["\"hunter2hunter2\""]);
        assert_eq!(hits(&RULE, "app/db.py", "connect(host='db', password='s3cr3t!x')\n"), ["'s3cr3t!x'"]);
        assert_eq!(hits(&RULE, "src/c.ts", "const apiKey = 'sk_live_abcdef123';\n").len(), 1);
        assert_eq!(hits(&RULE, "src/c.js", "const c = { clientSecret: 'abcdef123' };\n").len(), 1);
        assert_eq!(hits(&RULE, "src/c.rs", "const API_TOKEN: &str = \"ghp_abcdef123\";\n").len(), 1);
        assert_eq!(hits(&RULE, "c.go", "const dbPassword = \"hunter2hunter2\"\n").len(), 1);
    }

    #[test]
    fn ignores_placeholders_env_names_and_tests() {
        assert!(hits(&RULE, "app/db.py", "password = os.environ['DB_PASSWORD']\n").is_empty());
        assert!(hits(&RULE, "app/db.py", "PASSWORD_ENV = \"DB_PASSWORD\"\n").is_empty());
        assert!(hits(&RULE, "app/db.py", "password = \"\"\n").is_empty());
        assert!(hits(&RULE, "app/db.py", "password_prompt = \"Enter your password\"\n").is_empty());
        assert!(hits(&RULE, "src/c.ts", "const token = `${prefix}abc`;\n").is_empty());
        assert!(hits(&RULE, "tests/test_db.py", "password = \"hunter2hunter2\"\n").is_empty());
        assert!(hits(&RULE, "app/db.py", "username = \"hunter2hunter2\"\n").is_empty());
    }
}
