//! `js.insecure-random`: a token, secret or password made with `Math.random`.

use super::secrets_password::secretish;
use super::{Hit, Rule, no_fix};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.insecure-random",
    severity: Severity::Warning,
    message: "secret generated with Math.random",
    docs: "`Math.random` is not a cryptographic generator; its output can be predicted, so tokens \
           and passwords made with it can be guessed. Use `crypto.randomBytes`/`crypto.randomUUID` \
           in Node or `crypto.getRandomValues` in browsers.",
    queries: &[(
        JS_FAMILY,
        "(variable_declarator name: (identifier) @name value: (_) @finding)
         (assignment_expression left: [(identifier) @name (member_expression property: (property_identifier) @name)] right: (_) @finding)
         (pair key: (property_identifier) @name value: (_) @finding)",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    secretish(hit.text("name")) && hit.text("finding").contains("Math.random")
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_math_random_secrets() {
        let src = "const resetToken = Math.random().toString(36).slice(2);\nuser.apiKey = String(Math.random());\n";
        assert_eq!(hits(&RULE, "a.js", src), ["Math.random().toString(36).slice(2)", "String(Math.random())"]);
    }

    #[test]
    fn ignores_crypto_and_other_names() {
        let src = "const token = crypto.randomBytes(32).toString('hex');\nconst jitter = Math.random() * 100;\n";
        assert!(hits(&RULE, "a.ts", src).is_empty());
    }
}
