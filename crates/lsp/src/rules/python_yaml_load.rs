//! `python.yaml-load`: `yaml.load` without a safe `Loader`.

use super::{Fix, Hit, Rule, replace};
use crate::Severity;
use crate::lang::Lang;

pub static RULE: Rule = Rule {
    id: "python.yaml-load",
    severity: Severity::Warning,
    message: "yaml.load without a Loader can build arbitrary objects",
    docs: "With PyYAML's full loader, a YAML document can construct Python objects and run code \
           (`!!python/object/apply`). Use `yaml.safe_load`, or pass `Loader=yaml.SafeLoader`.",
    queries: &[(
        &[Lang::Python],
        "(call function: (attribute object: (identifier) @m attribute: (identifier) @f) arguments: (argument_list) @args
           (#eq? @m \"yaml\") (#eq? @f \"load\")) @finding",
    )],
    accept,
    fix,
};

fn accept(hit: &Hit<'_>) -> bool {
    !hit.text("args").contains("Loader")
}

fn fix(hit: &Hit<'_>) -> Option<Fix> {
    Some(replace("Use yaml.safe_load", hit.node("f")?, "safe_load"))
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::rules::testing::{fixed, hits};

    #[test]
    fn flags_and_fixes_unsafe_load() {
        let src = "cfg = yaml.load(open(path))\n";
        assert_eq!(hits(&RULE, "a.py", src), ["yaml.load(open(path))"]);
        assert_eq!(fixed(&RULE, "a.py", src), "cfg = yaml.safe_load(open(path))\n");
    }

    #[test]
    fn ignores_safe_loads() {
        assert!(
            hits(&RULE, "a.py", "yaml.safe_load(f)\nyaml.load(f, Loader=yaml.SafeLoader)\njson.load(f)\n").is_empty()
        );
    }
}
