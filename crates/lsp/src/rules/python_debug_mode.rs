//! `python.debug-mode`: `DEBUG = True` in Django settings, `app.run(debug=True)` in Flask.

use super::{Hit, Rule, no_fix};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.debug-mode",
    severity: Severity::Warning,
    message: "debug mode switched on in code",
    docs: "Django's `DEBUG = True` shows settings and stack traces to visitors; Flask's \
           `app.run(debug=True)` starts the Werkzeug debugger, which runs Python sent from the \
           browser. Read the switch from the environment so production cannot ship with it on.",
    queries: &[(
        &[Lang::Python],
        "(module (expression_statement (assignment left: (identifier) @n right: (true)) @finding) (#eq? @n \"DEBUG\"))
         (call
           function: (attribute attribute: (identifier) @run)
           arguments: (argument_list (keyword_argument name: (identifier) @k value: (true)) @finding)
           (#eq? @run \"run\") (#eq? @k \"debug\"))",
    )],
    accept,
    fix: no_fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    let is_settings = hit.file.path.rsplit('/').next().is_some_and(|n| n.contains("settings"));
    !hit.file.is_test && (hit.node("run").is_some() || is_settings)
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::hits;

    #[test]
    fn flags_debug_switched_on() {
        assert_eq!(hits(&RULE, "mysite/settings.py", "DEBUG = True\n"), ["DEBUG = True"]);
        assert_eq!(hits(&RULE, "app.py", "if __name__ == '__main__':\n    app.run(debug=True)\n"), ["debug=True"]);
    }

    #[test]
    fn ignores_env_driven_and_other_files() {
        assert!(hits(&RULE, "mysite/settings.py", "DEBUG = os.environ.get('DEBUG') == '1'\n").is_empty());
        assert!(hits(&RULE, "app/consts.py", "DEBUG = True\n").is_empty());
        assert!(hits(&RULE, "app.py", "app.run(debug=False)\n").is_empty());
    }
}
