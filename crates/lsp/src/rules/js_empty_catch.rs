//! `js.empty-catch`: a `catch` block with nothing in it, not even a comment saying why.

use super::{Hit, Rule, no_fix};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.empty-catch",
    severity: Severity::Warning,
    message: "error swallowed by an empty catch block",
    docs: "An empty `catch {}` hides every failure in the `try`, bugs included, and leaves no trace \
           to debug. Handle the error, log it, or rethrow; if ignoring it is right, say why in a \
           comment inside the block.",
    queries: &[(JS_FAMILY, "(catch_clause body: (statement_block) @body) @finding")],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    hit.node("body").is_some_and(|b| b.named_child_count() == 0)
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_empty_catch() {
        assert_eq!(hits(&RULE, "a.js", "try { go(); } catch (e) {}\n"), ["catch (e) {}"]);
        assert_eq!(hits(&RULE, "a.ts", "try { go(); } catch {\n}\n").len(), 1);
    }

    #[test]
    fn ignores_handled_or_explained_catch() {
        let src = "try { go(); } catch (e) { log(e); }\ntry { go(); } catch { /* optional file */ }\n";
        assert!(hits(&RULE, "a.js", src).is_empty());
    }
}
