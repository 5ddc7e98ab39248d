//! `rust.unwrap-in-lib`: `.unwrap()` / `.expect()` in library code outside tests.

use super::{Hit, Rule, in_rust_test, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "rust.unwrap-in-lib",
    severity: Severity::Warning,
    message: "unwrap/expect in library code: return an error instead",
    docs: "In a library, `unwrap()` and `expect()` turn a recoverable error into a panic that the \
           caller cannot handle. Propagate it with `?` and a typed error. Binaries (`main.rs`, \
           `src/bin/`), build scripts, examples, tests and test helpers (`testing.rs`) are not \
           checked.",
    queries: &[(
        &[Lang::Rust],
        "(call_expression function: (field_expression field: (field_identifier) @finding) arguments: (arguments)
           (#any-of? @finding \"unwrap\" \"expect\"))",
    )],
    accept: library_code,
    fix: no_fix,
};

/// Outside tests, binaries and `#[cfg(test)]` code.
pub fn library_code(hit: &Hit<'_>) -> bool {
    !hit.file.is_test && !hit.file.is_entry && hit.node("finding").is_some_and(|n| !in_rust_test(n, hit.source))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_unwrap_in_library_code() {
        let src = "pub fn port(s: &str) -> u16 {\n    s.parse().unwrap()\n}\npub fn f(m: &M) { m.lock().expect(\"poisoned\"); }\n";
        assert_eq!(hits(&RULE, "src/lib.rs", src), ["unwrap", "expect"]);
    }

    #[test]
    fn ignores_tests_binaries_and_other_methods() {
        let test_mod = "fn f() -> u8 { x.unwrap_or(0) }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() { f().unwrap(); }\n}\n";
        assert!(hits(&RULE, "src/lib.rs", test_mod).is_empty());
        let test_fn = "#[test]\nfn t() { f().unwrap(); }\n";
        assert!(hits(&RULE, "src/lib.rs", test_fn).is_empty());
        assert!(hits(&RULE, "src/main.rs", "fn main() { run().unwrap(); }\n").is_empty());
        assert!(hits(&RULE, "src/bin/tool.rs", "fn main() { run().unwrap(); }\n").is_empty());
        assert!(hits(&RULE, "tests/it.rs", "fn t() { run().unwrap(); }\n").is_empty());
    }
}
