//! `python.tls-verify-disabled`: `verify=False` on an HTTP call.

use super::{Fix, Hit, Rule, always, replace};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.tls-verify-disabled",
    severity: Severity::Error,
    message: "TLS certificate verification disabled (verify=False)",
    docs: "`verify=False` makes `requests`/`httpx` accept any certificate, so anyone on the network \
           path can read and change the traffic. Keep verification on; for a private CA pass its \
           bundle: `verify=\"/path/to/ca.pem\"`.",
    queries: &[(
        &[Lang::Python],
        "(keyword_argument name: (identifier) @k value: (false) @v (#eq? @k \"verify\")) @finding",
    )],
    accept: always,
    fix,
};

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    Some(replace("Turn TLS verification back on (verify=True)", hit.node("v")?, "True"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_fixes_verify_false() {
        let src = "r = requests.get(url, verify=False)\n";
        assert_eq!(hits(&RULE, "a.py", src), ["verify=False"]);
        assert_eq!(fixed(&RULE, "a.py", src), "r = requests.get(url, verify=True)\n");
    }

    #[test]
    fn ignores_verification_on() {
        assert!(hits(&RULE, "a.py", "requests.get(url, verify=ca_path)\nrequests.get(url, verify=True)\n").is_empty());
    }
}
