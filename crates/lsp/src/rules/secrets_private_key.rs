//! `secrets.private-key`: a PEM private key written into a string literal.

use super::{Hit, Rule, no_fix, text, unquote};
use crate::Severity;
use crate::lang::Lang;

pub const STRING_QUERIES: &[(&[Lang], &str)] = &[
    (&[Lang::Python], "(string) @finding"),
    (crate::lang::JS_FAMILY, "[(string) (template_string)] @finding"),
    (&[Lang::Rust], "[(string_literal) (raw_string_literal)] @finding"),
    (&[Lang::Go], "[(interpreted_string_literal) (raw_string_literal)] @finding"),
];

pub static RULE: Rule = Rule {
    id: "secrets.private-key",
    severity: Severity::Error,
    message: "private key in source code",
    docs: "A PEM private key is written into the source. Anyone who can read the repository (and its \
           history) can impersonate its owner. Revoke the key, remove it from history, and load keys \
           from a secret store or a file outside the repository at run time.",
    queries: STRING_QUERIES,
    accept,
    fix: no_fix,
};

/// A `-----BEGIN … PRIVATE KEY-----` header, found without regular expressions.
fn accept(hit: &Hit<'_>) -> bool {
    let Some(node) = hit.node("finding") else { return false };
    let s = unquote(text(node, hit.source));
    let Some(begin) = s.find("-----BEGIN ") else { return false };
    let rest = &s[begin + "-----BEGIN ".len()..];
    rest.find("-----").is_some_and(|end| rest[..end].ends_with("PRIVATE KEY"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    fn pem(kind: &str) -> String {
        format!("-----{} {kind}-----\\nMIIEow\\n-----END {kind}-----", "BEGIN")
    }

    #[test]
    fn flags_keys_in_every_language() {
        let key = pem("RSA PRIVATE KEY");
        assert_eq!(hits(&RULE, "a.py", &format!("K = \"{key}\"\n")), [format!("\"{key}\"")]);
        assert_eq!(hits(&RULE, "a.ts", &format!("const k = `{key}`;\n")).len(), 1);
        assert_eq!(hits(&RULE, "a.rs", &format!("const K: &str = \"{key}\";\n")).len(), 1);
        assert_eq!(hits(&RULE, "a.go", &format!("var k = \"{key}\"\n")).len(), 1);
    }

    #[test]
    fn ignores_public_keys_and_mentions() {
        let public = pem("PUBLIC KEY");
        assert!(hits(&RULE, "a.py", &format!("K = \"{public}\"\n")).is_empty());
        assert!(hits(&RULE, "a.py", "doc = \"paste your PRIVATE KEY here\"\n").is_empty());
    }
}
