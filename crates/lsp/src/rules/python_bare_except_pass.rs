//! `python.swallowed-exception`: `except:` / `except Exception:` whose body is only `pass`.

use super::{Hit, Rule, no_fix, text};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.swallowed-exception",
    severity: Severity::Warning,
    message: "exception swallowed: `except` that only passes",
    docs: "A bare `except:` or `except Exception:` whose body is `pass` hides every error, including \
           bugs, `KeyboardInterrupt` (for a bare except) and failed I/O, and the program goes on in a \
           bad state. Catch the exceptions you expect, and log or re-raise the rest.",
    queries: &[(&[Lang::Python], "(except_clause) @finding")],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    let Some(clause) = hit.node("finding") else { return false };
    let mut cursor = clause.walk();
    let children: Vec<_> = clause.named_children(&mut cursor).filter(|c| c.kind() != "comment").collect();
    let Some((body, caught)) = children.split_last() else { return false };
    let mut cursor = body.walk();
    let only_pass = body.kind() == "block"
        && body.named_children(&mut cursor).all(|s| s.kind() == "pass_statement" || s.kind() == "comment");
    let broad = match caught {
        [] => true,
        [one] => {
            let t = text(*one, hit.source);
            let name = t.split(" as ").next().unwrap_or(t).trim();
            matches!(name, "Exception" | "BaseException")
        }
        _ => false,
    };
    only_pass && broad
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_broad_silent_excepts() {
        let src = "try:\n    go()\nexcept:\n    pass\ntry:\n    go()\nexcept Exception as e:\n    pass\n";
        assert_eq!(hits(&RULE, "a.py", src), ["except:\n    pass", "except Exception as e:\n    pass"]);
    }

    #[test]
    fn ignores_narrow_or_handled_excepts() {
        let src =
            "try:\n    go()\nexcept KeyError:\n    pass\ntry:\n    go()\nexcept Exception:\n    log.exception('x')\n";
        assert!(hits(&RULE, "a.py", src).is_empty());
    }
}
