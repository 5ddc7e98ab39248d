//! `python.shell-command`: a shell command built from variables (`shell=True`, `os.system`).

use super::{Hit, Rule, is_plain_string, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.shell-command",
    severity: Severity::Error,
    message: "shell command built from a variable",
    docs: "The command line is computed and handed to a shell (`subprocess` with `shell=True`, \
           `os.system`, `os.popen`). Quotes, spaces or `;` in a value change what runs (command \
           injection). Pass an argument list without a shell: `subprocess.run([\"git\", \"log\", ref])`.",
    queries: &[(
        &[Lang::Python],
        "(call
           function: (attribute object: (identifier) @mod)
           arguments: (argument_list . (_) @cmd (keyword_argument name: (identifier) @k value: (true)))
           (#eq? @mod \"subprocess\") (#eq? @k \"shell\")) @finding
         (call
           function: (attribute object: (identifier) @mod attribute: (identifier) @fn)
           arguments: (argument_list . (_) @cmd)
           (#eq? @mod \"os\") (#any-of? @fn \"system\" \"popen\")) @finding",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    hit.node("cmd").is_some_and(|c| c.kind() != "keyword_argument" && !is_plain_string(c))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_computed_shell_commands() {
        let src = "subprocess.run(f\"tar xf {path}\", shell=True)\nos.system(\"rm -rf \" + d)\nos.popen(cmd)\n";
        assert_eq!(
            hits(&RULE, "a.py", src),
            ["subprocess.run(f\"tar xf {path}\", shell=True)", "os.system(\"rm -rf \" + d)", "os.popen(cmd)"]
        );
    }

    #[test]
    fn ignores_argument_lists_and_constants() {
        let src = "subprocess.run([\"tar\", \"xf\", path])\nsubprocess.run(\"make all\", shell=True)\nos.system(\"clear\")\nsubprocess.run(cmd, shell=False)\n";
        assert!(hits(&RULE, "a.py", src).is_empty());
    }
}
