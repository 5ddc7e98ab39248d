//! `js.shell-command`: `child_process.exec` with a command built by a template or `+`.

use super::{Rule, always, no_fix};
use crate::Severity;
use crate::lang::JS_FAMILY;

pub static RULE: Rule = Rule {
    id: "js.shell-command",
    severity: Severity::Error,
    message: "shell command built from a template or concatenation",
    docs: "`exec`/`execSync` run their argument through a shell; an interpolated value containing \
           `;`, quotes or `$(…)` runs other commands (command injection). Use `execFile`/`spawn` \
           with an argument array: `execFile(\"git\", [\"log\", ref])`.",
    queries: &[(
        JS_FAMILY,
        "(call_expression
           function: [(identifier) @f (member_expression property: (property_identifier) @f)]
           arguments: (arguments . [(template_string (template_substitution)) (binary_expression)] @finding)
           (#any-of? @f \"exec\" \"execSync\"))",
    )],
    accept: always,
    fix: no_fix,
};

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_built_commands() {
        let src = "exec(`git clone ${url}`, cb);\nchild_process.execSync('rm -rf ' + dir);\n";
        assert_eq!(hits(&RULE, "a.js", src), ["`git clone ${url}`", "'rm -rf ' + dir"]);
    }

    #[test]
    fn ignores_argument_arrays_and_constants() {
        let src = "execFile('git', ['clone', url]);\nexec('ls -la', cb);\nspawn(cmd, args);\n";
        assert!(hits(&RULE, "a.ts", src).is_empty());
    }
}
