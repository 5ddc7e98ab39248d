//! `go.shell-command`: `exec.Command("sh", "-c", <built string>)`.

use super::{Hit, Rule, is_plain_string, no_fix, unquote};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "go.shell-command",
    severity: Severity::Error,
    message: "shell command built from a variable",
    docs: "`exec.Command(\"sh\", \"-c\", cmd)` with a computed `cmd` hands the string to a shell; \
           quotes, `;` or `$(…)` in a value run other commands (command injection). Call the program \
           directly with separate arguments: `exec.Command(\"git\", \"log\", ref)`.",
    queries: &[(
        &[Lang::Go],
        "(call_expression
           function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
           arguments: (argument_list (interpreted_string_literal) @sh . (interpreted_string_literal) @c . (_) @cmd)
           (#eq? @pkg \"exec\") (#match? @fn \"^Command(Context)?$\")) @finding",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    let shell = unquote(hit.text("sh"));
    let shell = shell.rsplit('/').next().unwrap_or(shell);
    matches!(shell, "sh" | "bash" | "zsh" | "dash" | "cmd" | "powershell")
        && matches!(unquote(hit.text("c")), "-c" | "/C" | "/c" | "-Command")
        && hit.node("cmd").is_some_and(|c| !is_plain_string(c))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_built_shell_commands() {
        let src = "package a\nfunc f() {\n\texec.Command(\"sh\", \"-c\", \"tar xf \"+path).Run()\n\
                   \texec.CommandContext(ctx, \"/bin/bash\", \"-c\", cmd)\n}\n";
        assert_eq!(hits(&RULE, "a.go", src).len(), 2);
    }

    #[test]
    fn ignores_direct_commands() {
        let src = "package a\nfunc f() {\n\texec.Command(\"tar\", \"xf\", path)\n\texec.Command(\"sh\", \"-c\", \"make all\")\n}\n";
        assert!(hits(&RULE, "a.go", src).is_empty());
    }
}
