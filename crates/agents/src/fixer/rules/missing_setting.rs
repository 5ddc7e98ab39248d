//! A secret or setting read at startup and missing: `KeyError: 'SECRET_KEY'`, Django's "The
//! SECRET_KEY setting must not be empty", "Missing required environment variable JWT_SECRET",
//! pydantic's "Field required" for a settings field. Fix: set it to a generated value, of the
//! length the app asks for when it says one.

use std::sync::LazyLock;

use regex::Regex;

use super::{Context, Diagnosis, Rule, env_name};
use crate::failure::StepKind;
use crate::fixer::action::{EnvValue, FixAction};

pub struct MissingSetting;

/// The length used when the app names none: long enough for every framework's own check.
const DEFAULT_LENGTH: u32 = 50;

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Python: os.environ["X"] (the traceback's last line).
        r#"^KeyError: ['"]([A-Z_][A-Z0-9_]*)['"]$"#,
        // Django and django-environ.
        r"The ([A-Z_][A-Z0-9_]*) setting must not be empty",
        r"Set the ([A-Z_][A-Z0-9_]*) environment variable",
        // Common wordings in Node, Python and Go apps.
        r"(?i:missing (?:required )?(?:environment|env) (?:variable|var))s?:? ['`]?([A-Z_][A-Z0-9_]*)",
        r"(?i:environment variable) ['`]?([A-Z_][A-Z0-9_]*)['`]? (?i:is (?:not set|required|missing|undefined))",
        r"\b([A-Z_][A-Z0-9_]{2,})['`]? (?i:(?:environment )?(?:variable )?(?:is not set|is required|must be set|is missing|is undefined|must not be empty))",
        r"\b([A-Z_][A-Z0-9_]{2,}) (?i:must be at least \d+ characters)",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid pattern"))
    .collect()
});

static LENGTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:at least|minimum(?: length)?(?: of)?|length of at least)\s+(\d{1,3})\s*(?:characters|chars|bytes)?",
    )
    .expect("valid pattern")
});

/// pydantic-settings: `secret_key\n  Field required` after "validation error for Settings".
static PYDANTIC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([a-z_][a-z0-9_]*)$").expect("valid pattern"));

impl Rule for MissingSetting {
    fn id(&self) -> &'static str {
        "env.missing-setting"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if !matches!(f.step, StepKind::Start | StepKind::Health | StepKind::Migrate | StepKind::Build) {
            return None;
        }
        let name = named_variable(cx)?;
        let asked = cx.lines().rev().find_map(|l| LENGTH.captures(l)).and_then(|c| c[1].parse::<u32>().ok());
        let diagnosis =
            Diagnosis::new(self.id(), vec![("name", name.clone())], format!("{name} is read at startup and not set"));
        // A random value is right for a secret (or a value whose only rule is its length), not
        // for a host list or a mode: those the user must give.
        if !crate::setup::looks_secret(&name) && asked.is_none() {
            return Some(diagnosis.explain(format!(
                "{name} is read at startup and not set, and it is not a secret repo-run can generate: set it in the \
                 project's .env"
            )));
        }
        let length = asked.map_or(DEFAULT_LENGTH, |n| n.clamp(8, 256));
        Some(diagnosis.with(FixAction::SetEnv {
            project: f.project.clone(),
            name: name.clone(),
            value: EnvValue::GeneratedSecret { length },
        }))
    }
}

/// The variable the output names, newest line first.
fn named_variable(cx: &Context<'_>) -> Option<String> {
    let from_patterns = cx.lines().rev().find_map(|line| {
        PATTERNS.iter().find_map(|p| p.captures(line.trim()).map(|c| c[1].to_owned())).filter(|n| env_name(n))
    });
    if from_patterns.is_some() {
        return from_patterns;
    }
    // pydantic: the field line comes right before "Field required".
    let lines: Vec<&str> = cx.lines().collect();
    if !lines.iter().any(|l| l.contains("validation error for") && l.contains("Settings")) {
        return None;
    }
    lines.windows(2).find_map(|w| {
        let field = w[0].trim();
        (w[1].trim_start().starts_with("Field required") && PYDANTIC.is_match(field)).then(|| field.to_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    fn diagnose(step: StepKind, log: &str) -> Option<Diagnosis> {
        let f = failure(Stage::Health, step, &["python", "app.py"], log);
        MissingSetting.diagnose(&Context::bare(&f, std::path::Path::new("/nonexistent")))
    }

    fn secret(d: &Diagnosis) -> (String, u32) {
        match &d.candidates[0] {
            FixAction::SetEnv { name, value: EnvValue::GeneratedSecret { length }, .. } => (name.clone(), *length),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_error_from_environ() {
        let log = "Traceback (most recent call last):\n  File \"/srv/app/app.py\", line 7, in <module>\n    \
                   app.secret_key = os.environ[\"FLASK_SECRET\"]\n  File \"<frozen os>\", line 679, in __getitem__\n\
                   KeyError: 'FLASK_SECRET'";
        let d = diagnose(StepKind::Health, log).unwrap();
        assert_eq!(secret(&d), ("FLASK_SECRET".into(), DEFAULT_LENGTH));
        assert_eq!(d.signal.keys, [("name", "FLASK_SECRET".to_owned())]);
    }

    #[test]
    fn a_setting_that_is_not_a_secret_is_explained_not_invented() {
        let d = diagnose(StepKind::Migrate, "KeyError: 'DJANGO_ALLOWED_HOSTS'").unwrap();
        assert!(d.candidates.is_empty());
        assert!(d.explanation.unwrap().contains("DJANGO_ALLOWED_HOSTS is read at startup and not set"));
    }

    #[test]
    fn django_and_node_wordings_and_a_length() {
        let django = "  File \"/usr/lib/python3/dist-packages/django/conf/__init__.py\", line 90, in __getattr__\n    \
                      raise ImproperlyConfigured(\"The SECRET_KEY setting must not be empty.\")\n\
                      django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.";
        assert_eq!(secret(&diagnose(StepKind::Migrate, django).unwrap()).0, "SECRET_KEY");
        let node = "/app/src/config.js:12\n    throw new Error('Missing required environment variable: JWT_SECRET');\n\
                    Error: Missing required environment variable: JWT_SECRET\n    at Object.<anonymous> \
                    (/app/src/config.js:12:11)";
        assert_eq!(secret(&diagnose(StepKind::Start, node).unwrap()).0, "JWT_SECRET");
        let length = "Error: SESSION_SECRET must be at least 32 characters long";
        assert_eq!(secret(&diagnose(StepKind::Health, length).unwrap()), ("SESSION_SECRET".into(), 32));
    }

    #[test]
    fn pydantic_settings() {
        let log = "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings\napi_token\n  \
                   Field required [type=missing, input_value={}, input_type=dict]";
        assert_eq!(secret(&diagnose(StepKind::Start, log).unwrap()).0, "API_TOKEN");
    }

    #[test]
    fn other_key_errors_and_install_steps_are_not_settings() {
        assert!(diagnose(StepKind::Health, "KeyError: 'user_id'").is_none());
        assert!(diagnose(StepKind::Health, "Traceback ...\nKeyError: 0").is_none());
        assert!(diagnose(StepKind::Install, "KeyError: 'SECRET_KEY'").is_none());
        assert!(diagnose(StepKind::Health, "ERROR: relation \"users\" does not exist").is_none());
        assert!(diagnose(StepKind::Health, "Field required").is_none(), "pydantic needs its header");
    }
}
