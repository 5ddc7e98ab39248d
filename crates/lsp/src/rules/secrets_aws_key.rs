//! `secrets.aws-access-key`: an AWS access key id (`AKIA…`, `ASIA…`) in a string literal.

use super::{Hit, Rule, no_fix, text};
use crate::Severity;

pub static RULE: Rule = Rule {
    id: "secrets.aws-access-key",
    severity: Severity::Error,
    message: "AWS access key id in source code",
    docs: "An AWS access key id is written into the source; its secret key is usually next to it. \
           Deactivate the key in IAM, remove it from history, and read credentials from the \
           environment, an instance role or a secret store.",
    queries: super::secrets_private_key::STRING_QUERIES,
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    hit.node("finding").is_some_and(|n| contains_key_id(text(n, hit.source)))
}

/// `AKIA`/`ASIA` and 16 upper-case letters or digits, standing alone. AWS's documentation
/// example (`…EXAMPLE`) is not a key.
fn contains_key_id(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric();
    (0..b.len().saturating_sub(19)).any(|i| {
        let id = &b[i..i + 20];
        (id.starts_with(b"AKIA") || id.starts_with(b"ASIA"))
            && id[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && !id.ends_with(b"EXAMPLE")
            && (i == 0 || !word(b[i - 1]))
            && b.get(i + 20).is_none_or(|c| !word(*c))
    })
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    const ID: &str = concat!("AKIA", "Z3XQ7PLM2VRT4KDN");

    #[test]
    fn flags_key_ids() {
        assert_eq!(hits(&RULE, "a.py", &format!("key = '{ID}'\n")), [format!("'{ID}'")]);
        assert_eq!(hits(&RULE, "a.js", &format!("const c = {{ id: \"{ID}\" }};\n")).len(), 1);
        assert_eq!(hits(&RULE, "a.go", &format!("const k = \"{ID}\"\n")).len(), 1);
    }

    #[test]
    fn ignores_examples_and_longer_words() {
        assert!(hits(&RULE, "a.py", &format!("key = '{}'\n", concat!("AKIA", "IOSFODNN7EXAMPLE"))).is_empty());
        assert!(hits(&RULE, "a.py", &format!("key = '{ID}X'\n")).is_empty());
        assert!(hits(&RULE, "a.py", "key = 'AKIA'\n").is_empty());
    }
}
