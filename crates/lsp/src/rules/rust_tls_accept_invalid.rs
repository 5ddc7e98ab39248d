//! `rust.tls-verify-disabled`: `danger_accept_invalid_certs(true)` and friends.

use super::{Fix, Hit, Rule, always, replace};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "rust.tls-verify-disabled",
    severity: Severity::Error,
    message: "TLS certificate verification disabled",
    docs: "`danger_accept_invalid_certs(true)` / `danger_accept_invalid_hostnames(true)` make the \
           client accept any certificate, so anyone on the network path can read and change the \
           traffic. Keep verification on; add a private CA with `add_root_certificate`.",
    queries: &[(
        &[Lang::Rust],
        "(call_expression
           function: (field_expression field: (field_identifier) @m)
           arguments: (arguments . (boolean_literal) @v .)
           (#any-of? @m \"danger_accept_invalid_certs\" \"danger_accept_invalid_hostnames\")
           (#eq? @v \"true\")) @finding",
    )],
    accept: always,
    fix,
};

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    Some(replace("Turn TLS verification back on", hit.node("v")?, "false"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_fixes() {
        let src = "fn c() { Client::builder().danger_accept_invalid_certs(true).build(); }\n";
        assert_eq!(hits(&RULE, "a.rs", src).len(), 1);
        assert_eq!(fixed(&RULE, "a.rs", src), src.replace("(true)", "(false)"));
    }

    #[test]
    fn ignores_false_and_variables() {
        let src = "fn c() { b.danger_accept_invalid_certs(false).danger_accept_invalid_hostnames(cfg.insecure); }\n";
        assert!(hits(&RULE, "a.rs", src).is_empty());
    }
}
