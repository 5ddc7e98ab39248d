//! `js.tls-verify-disabled`: `rejectUnauthorized: false`, `NODE_TLS_REJECT_UNAUTHORIZED = "0"`.

use super::{Fix, Hit, Rule, replace, unquote};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.tls-verify-disabled",
    severity: Severity::Error,
    message: "TLS certificate verification disabled",
    docs: "`rejectUnauthorized: false` (or `NODE_TLS_REJECT_UNAUTHORIZED=0`) makes Node accept any \
           certificate, so anyone on the network path can read and change the traffic. Keep it on; \
           for a private CA pass it with the `ca` option or `NODE_EXTRA_CA_CERTS`.",
    queries: &[(
        JS_FAMILY,
        "(pair key: [(property_identifier) (string)] @k value: (false) @v (#match? @k \"rejectUnauthorized\")) @finding
         (assignment_expression left: (member_expression property: (property_identifier) @k) right: (string) @v
           (#eq? @k \"NODE_TLS_REJECT_UNAUTHORIZED\")) @finding",
    )],
    accept,
    fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    hit.node("v").is_some_and(|v| v.kind() == "false" || unquote(hit.text("v")) == "0")
}

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    let v = hit.node("v")?;
    (v.kind() == "false").then(|| replace("Turn TLS verification back on", v, "true"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_fixes_disabled_verification() {
        let src = "const agent = new https.Agent({ rejectUnauthorized: false });\n";
        assert_eq!(hits(&RULE, "a.js", src), ["rejectUnauthorized: false"]);
        assert_eq!(fixed(&RULE, "a.js", src), "const agent = new https.Agent({ rejectUnauthorized: true });\n");
        assert_eq!(hits(&RULE, "a.ts", "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';\n").len(), 1);
    }

    #[test]
    fn ignores_verification_on() {
        let src = "new https.Agent({ rejectUnauthorized: true });\nprocess.env.NODE_TLS_REJECT_UNAUTHORIZED = '1';\n";
        assert!(hits(&RULE, "a.js", src).is_empty());
    }
}
