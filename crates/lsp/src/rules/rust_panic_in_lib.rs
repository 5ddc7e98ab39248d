//! `rust.panic-in-lib`: `panic!`, `todo!`, `unimplemented!` in library code outside tests.

use super::Rule;
use super::rust_unwrap_in_lib::library_code;
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "rust.panic-in-lib",
    severity: Severity::Warning,
    message: "panic in library code: return an error instead",
    docs: "`panic!` in a library takes the decision to stop the program away from its caller, and \
           `todo!`/`unimplemented!` are unfinished code that compiles. Return a `Result` with a typed \
           error; use `unreachable!` only for states the types rule out.",
    queries: &[(
        &[Lang::Rust],
        "(macro_invocation macro: (identifier) @finding (#any-of? @finding \"panic\" \"todo\" \"unimplemented\"))",
    )],
    accept: library_code,
    fix: super::no_fix,
};

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_panics_in_library_code() {
        let src = "pub fn f(x: u8) -> u8 {\n    if x > 9 { panic!(\"too big\") }\n    todo!()\n}\n";
        assert_eq!(hits(&RULE, "src/lib.rs", src), ["panic", "todo"]);
    }

    #[test]
    fn ignores_tests_and_unreachable() {
        assert!(
            hits(&RULE, "src/lib.rs", "fn f() { unreachable!() }\n#[cfg(test)]\nmod t { fn g() { panic!() } }\n")
                .is_empty()
        );
        assert!(hits(&RULE, "src/main.rs", "fn main() { panic!(\"usage\") }\n").is_empty());
    }
}
