//! `go.tls-verify-disabled`: `InsecureSkipVerify: true` in a `tls.Config`.

use super::{Fix, Hit, Rule, replace, text};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "go.tls-verify-disabled",
    severity: Severity::Error,
    message: "TLS certificate verification disabled (InsecureSkipVerify)",
    docs: "`InsecureSkipVerify: true` makes the client accept any certificate for any host, so \
           anyone on the network path can read and change the traffic. Keep it false; trust a \
           private CA through `RootCAs`.",
    queries: &[(
        &[Lang::Go],
        "(keyed_element) @finding
         (assignment_statement left: (expression_list (selector_expression field: (field_identifier) @k))
           right: (expression_list (true) @v) (#eq? @k \"InsecureSkipVerify\")) @finding",
    )],
    accept,
    fix,
};

/// The `true` that switches verification off. Keyed elements are matched by text, since their
/// node shapes differ between grammar versions.
fn value<'a>(hit: &Hit<'a>) -> Option<tree_sitter::Node<'a>> {
    if let Some(v) = hit.node("v") {
        return Some(v);
    }
    let el = hit.node("finding")?;
    let key = el.named_child(0)?;
    let value = el.named_child(el.named_child_count().checked_sub(1)?)?;
    (text(key, hit.source) == "InsecureSkipVerify" && text(value, hit.source) == "true").then_some(value)
}

fn accept(hit: &Hit<'_>) -> bool {
    value(hit).is_some()
}

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    Some(replace("Turn TLS verification back on", value(hit)?, "false"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_fixes_skip_verify() {
        let src = "package a\nvar c = &tls.Config{InsecureSkipVerify: true}\n";
        assert_eq!(hits(&RULE, "a.go", src), ["InsecureSkipVerify: true"]);
        assert_eq!(fixed(&RULE, "a.go", src), src.replace("true", "false"));
        assert_eq!(hits(&RULE, "a.go", "package a\nfunc f() {\n\tcfg.InsecureSkipVerify = true\n}\n").len(), 1);
    }

    #[test]
    fn ignores_verification_on() {
        let src = "package a\nvar c = &tls.Config{InsecureSkipVerify: false, MinVersion: tls.VersionTLS12}\n";
        assert!(hits(&RULE, "a.go", src).is_empty());
    }
}
