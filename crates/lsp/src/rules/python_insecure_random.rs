//! `python.insecure-random`: a token, secret or password made with `random`.

use super::secrets_password::secretish;
use super::{Hit, Rule, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.insecure-random",
    severity: Severity::Warning,
    message: "secret generated with the non-cryptographic `random` module",
    docs: "`random` is a Mersenne Twister: its output can be predicted from a few values, so tokens, \
           passwords and keys made with it can be guessed. Use `secrets.token_urlsafe()`, \
           `secrets.choice()` or `os.urandom()`.",
    queries: &[(
        &[Lang::Python],
        "(assignment left: [(identifier) @name (attribute attribute: (identifier) @name)] right: (_) @finding)",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    let value = hit.text("finding");
    secretish(hit.text("name")) && value.contains("random.") && !value.contains("SystemRandom")
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_random_secrets() {
        let src =
            "token = ''.join(random.choice(ALPHABET) for _ in range(32))\nuser.reset_token = random.getrandbits(64)\n";
        assert_eq!(hits(&RULE, "a.py", src).len(), 2);
    }

    #[test]
    fn ignores_secrets_module_and_other_names() {
        let src = "token = secrets.token_urlsafe(32)\ndelay = random.random()\nkey = random.SystemRandom().random()\n";
        assert!(hits(&RULE, "a.py", src).is_empty());
    }
}
