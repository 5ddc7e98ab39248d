//! The closed set of fix actions: one versioned, serde-tagged enum.
//!
//! The same type is the Fixer model's grammar (its JSON Schema, `docs/fix-action.schema.json`),
//! the shape of `.repo-run/fixes.toml`, the `fixes` of the `--report` file and what plugins will
//! answer. Free strings in an action (paths, script and variable names) are checked against the
//! repository by [`super::validate`] before anything runs; nothing in an action is ever run as
//! shell text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failure::StepKind;
use crate::pipeline::Stage;

/// The longest string any field takes: the grammar made from the schema stops a small model
/// that repeats itself inside a string (a package name of `path_path_path…`) before the answer
/// runs out of tokens and stops being JSON at all.
const MAX_STRING: u64 = 256;

/// Gives every free string of `schema` (not an enum or a constant) a `maxLength`.
fn bound_strings(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(object) => {
            let free_string = object.get("type").is_some_and(|t| t == "string")
                && !object.contains_key("enum")
                && !object.contains_key("const")
                && !object.contains_key("maxLength");
            if free_string {
                object.insert("maxLength".into(), MAX_STRING.into());
            }
            object.values_mut().for_each(bound_strings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(bound_strings),
        _ => {}
    }
}

/// The version of the action schema; `fixes.toml` and the report carry it.
pub const ACTION_SCHEMA_VERSION: u32 = 1;

/// One fix, as rules and the model propose it and `.repo-run/fixes.toml` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum FixAction {
    /// Set an environment variable for the project's commands (migrations, builds, the app).
    SetEnv {
        /// The project's path relative to the repository root (`.` for the root).
        project: String,
        /// The variable's name; the code must read it.
        name: String,
        value: EnvValue,
    },
    /// Constrain a dependency without editing the manifest: a constraints file under
    /// `.repo-run/` that the package manager reads (`PIP_CONSTRAINT`, `UV_CONSTRAINT`).
    ConstrainDependency {
        project: String,
        /// The package's name as the manifest writes it.
        package: String,
        /// A version specifier in the ecosystem's syntax (`<2`, `==0.27.0`).
        constraint: String,
    },
    /// Resolve dependencies as they were on a date (the project's last commit): packages
    /// published after it are not considered.
    ResolveAsOf {
        project: String,
        /// `YYYY-MM-DD`.
        date: String,
    },
    /// Build and run the project with another installed interpreter or toolchain.
    ChooseRuntime {
        project: String,
        runtime: RuntimeName,
        /// An installed version (`3.10.13`, a rustup toolchain name).
        version: String,
    },
    /// Run a script the project declares before a step (a setup/seed/migrate script).
    RunScript {
        project: String,
        runner: ScriptRunner,
        /// The script's name as the project declares it.
        script: String,
        /// The step it runs before.
        before: StepKind,
    },
    /// Create a database (or schema) in a running service.
    CreateDatabase { service: String, name: String },
    /// Start the app with another command: a file of the project, run by its runtime.
    SetStartCommand {
        project: String,
        /// argv; the first element is a runtime (`node`, `python`) or a file of the project.
        argv: Vec<String>,
    },
    /// Install a Debian package on the host (only with `--allow-system`).
    InstallSystemPackage { package: String },
    /// Pass a flag to the project's installs.
    AddInstallFlag { project: String, flag: InstallFlag },
    /// Skip a step the app does not need.
    SkipStep { project: String, step: StepKind },
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnvValue {
    /// A random value of `length` URL-safe characters, generated when the fix is applied.
    GeneratedSecret { length: u32 },
    /// This exact value.
    Literal { value: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeName {
    Python,
    Node,
    Rust,
}

/// Who runs a declared script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScriptRunner {
    /// A `scripts` entry of package.json, through `npm run`.
    Npm,
    /// A Makefile target, through `make`.
    Make,
    /// A Django management command, `python manage.py <script>`.
    DjangoManage,
    /// A Flask CLI command, `flask <script>`.
    Flask,
    /// A Python file of the project, `python <script>`.
    PythonFile,
}

/// Install flags from a fixed set; each maps to the package manager's own setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstallFlag {
    /// npm's `--legacy-peer-deps` (peer dependency conflicts, `ERESOLVE`).
    LegacyPeerDeps,
    /// npm's `--engine-strict=false` (an `engines` field the runtime does not match).
    IgnoreEngines,
}

impl FixAction {
    /// The project the action is about, if one.
    pub fn project(&self) -> Option<&str> {
        match self {
            FixAction::SetEnv { project, .. }
            | FixAction::ConstrainDependency { project, .. }
            | FixAction::ResolveAsOf { project, .. }
            | FixAction::ChooseRuntime { project, .. }
            | FixAction::RunScript { project, .. }
            | FixAction::SetStartCommand { project, .. }
            | FixAction::AddInstallFlag { project, .. }
            | FixAction::SkipStep { project, .. } => Some(project),
            FixAction::CreateDatabase { .. } | FixAction::InstallSystemPackage { .. } => None,
        }
    }

    /// The earliest stage that reads this fix: the pipeline goes back to it (or to the failed
    /// stage, if that is earlier) once the fix is in force.
    pub fn redo_from(&self) -> Stage {
        match self {
            FixAction::ChooseRuntime { .. } => Stage::Requirements,
            FixAction::ConstrainDependency { .. }
            | FixAction::ResolveAsOf { .. }
            | FixAction::InstallSystemPackage { .. }
            | FixAction::AddInstallFlag { .. } => Stage::Setup,
            FixAction::SetEnv { .. }
            | FixAction::RunScript { .. }
            | FixAction::CreateDatabase { .. }
            | FixAction::SkipStep { .. } => Stage::Db,
            FixAction::SetStartCommand { .. } => Stage::Runner,
        }
    }

    /// The one line shown before the fix applies.
    pub fn describe(&self) -> String {
        let at = |project: &str| if project == "." { String::new() } else { format!(" in {project}") };
        match self {
            FixAction::SetEnv { project, name, value } => match value {
                EnvValue::GeneratedSecret { length } => {
                    format!("set {name} to a generated secret of {length} characters{}", at(project))
                }
                EnvValue::Literal { value } => format!("set {name}={value}{}", at(project)),
            },
            FixAction::ConstrainDependency { project, package, constraint } => {
                format!("constrain {package} to {constraint}{} (a constraints file in .repo-run/)", at(project))
            }
            FixAction::ResolveAsOf { project, date } => {
                format!("install dependencies as they were on {date}{}", at(project))
            }
            FixAction::ChooseRuntime { project, runtime, version } => {
                format!("use {} {version}{}", runtime.name(), at(project))
            }
            FixAction::RunScript { project, runner, script, before } => {
                format!("run `{}` before {}{}", runner.display(script), before.name(), at(project))
            }
            FixAction::CreateDatabase { service, name } => format!("create database {name} in {service}"),
            FixAction::SetStartCommand { project, argv } => {
                format!("start the app with `{}`{}", argv.join(" "), at(project))
            }
            FixAction::InstallSystemPackage { package } => format!("install the system package {package} (apt-get)"),
            FixAction::AddInstallFlag { project, flag } => {
                format!("install with {}{}", flag.description(), at(project))
            }
            FixAction::SkipStep { project, step } => format!("skip the {} step{}", step.name(), at(project)),
        }
    }

    /// The action's tag (`set_env`), for logs and the report.
    pub fn kind(&self) -> &'static str {
        match self {
            FixAction::SetEnv { .. } => "set_env",
            FixAction::ConstrainDependency { .. } => "constrain_dependency",
            FixAction::ResolveAsOf { .. } => "resolve_as_of",
            FixAction::ChooseRuntime { .. } => "choose_runtime",
            FixAction::RunScript { .. } => "run_script",
            FixAction::CreateDatabase { .. } => "create_database",
            FixAction::SetStartCommand { .. } => "set_start_command",
            FixAction::InstallSystemPackage { .. } => "install_system_package",
            FixAction::AddInstallFlag { .. } => "add_install_flag",
            FixAction::SkipStep { .. } => "skip_step",
        }
    }
}

impl RuntimeName {
    pub fn name(self) -> &'static str {
        match self {
            RuntimeName::Python => "python",
            RuntimeName::Node => "node",
            RuntimeName::Rust => "rust",
        }
    }
}

impl ScriptRunner {
    /// The argv that runs `script` (never a shell line).
    pub fn argv(self, script: &str) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match self {
            ScriptRunner::Npm => v(&["npm", "run", script]),
            ScriptRunner::Make => v(&["make", script]),
            ScriptRunner::DjangoManage => v(&["python", "manage.py", script]),
            ScriptRunner::Flask => v(&["flask", script]),
            ScriptRunner::PythonFile => v(&["python", script]),
        }
    }

    pub fn display(self, script: &str) -> String {
        self.argv(script).join(" ")
    }
}

impl InstallFlag {
    pub fn description(self) -> &'static str {
        match self {
            InstallFlag::LegacyPeerDeps => "npm's --legacy-peer-deps",
            InstallFlag::IgnoreEngines => {
                "the engines check relaxed (npm --engine-strict=false, yarn --ignore-engines)"
            }
        }
    }

    /// The package managers' environment settings for the flag (npm reads `npm_config_*`,
    /// yarn 1 `YARN_*`), so the install command itself stays as the plan says.
    pub fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            InstallFlag::LegacyPeerDeps => &[("npm_config_legacy_peer_deps", "true")],
            InstallFlag::IgnoreEngines => &[("npm_config_engine_strict", "false"), ("YARN_IGNORE_ENGINES", "true")],
        }
    }
}

/// The JSON Schema of [`FixAction`], as written to `docs/fix-action.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(FixAction)).expect("a schema serialises");
    bound_strings(&mut schema);
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            format!("https://repo-run.dev/schemas/fix-action-v{ACTION_SCHEMA_VERSION}.json").into(),
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_json_and_toml() {
        let actions = [
            FixAction::SetEnv {
                project: ".".into(),
                name: "SECRET_KEY".into(),
                value: EnvValue::GeneratedSecret { length: 32 },
            },
            FixAction::RunScript {
                project: "web".into(),
                runner: ScriptRunner::Npm,
                script: "db:setup".into(),
                before: StepKind::Start,
            },
            FixAction::AddInstallFlag { project: ".".into(), flag: InstallFlag::LegacyPeerDeps },
        ];
        for action in actions {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(serde_json::from_str::<FixAction>(&json).unwrap(), action, "{json}");
            #[derive(Serialize, Deserialize)]
            struct Holder {
                action: FixAction,
            }
            let toml = toml::to_string(&Holder { action: action.clone() }).unwrap();
            assert_eq!(toml::from_str::<Holder>(&toml).unwrap().action, action, "{toml}");
        }
        let json = r#"{"action":"set_env","project":".","name":"X","value":{"kind":"literal","value":"1"}}"#;
        assert!(matches!(serde_json::from_str::<FixAction>(json).unwrap(), FixAction::SetEnv { .. }));
        let unknown = r#"{"action":"run_shell","command":"rm -rf /"}"#;
        assert!(serde_json::from_str::<FixAction>(unknown).is_err());
        let extra = r#"{"action":"skip_step","project":".","step":"migrate","shell":"x"}"#;
        assert!(serde_json::from_str::<FixAction>(extra).is_err(), "unknown fields are refused");
    }

    #[test]
    fn each_action_says_where_to_go_back_to() {
        let start =
            FixAction::SetStartCommand { project: ".".into(), argv: vec!["node".into(), "src/index.js".into()] };
        assert_eq!(start.redo_from(), Stage::Runner);
        assert_eq!(start.describe(), "start the app with `node src/index.js`");
        let skip = FixAction::SkipStep { project: "api".into(), step: StepKind::Migrate };
        assert_eq!(skip.redo_from(), Stage::Db);
        assert_eq!(skip.describe(), "skip the migrate step in api");
        assert_eq!(skip.project(), Some("api"));
    }

    #[test]
    fn every_free_string_of_the_schema_is_bounded() {
        fn strings(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
            match v {
                serde_json::Value::Object(o) => {
                    if o.get("type").is_some_and(|t| t == "string") {
                        out.push(v.clone());
                    }
                    o.values().for_each(|v| strings(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        strings(&json_schema(), &mut found);
        assert!(found.len() > 10, "{found:?}");
        for s in &found {
            assert!(s.get("maxLength").is_some() || s.get("enum").is_some() || s.get("const").is_some(), "{s}");
        }
    }

    /// The committed schema is the generated one: docs, grammar and plugins cannot drift.
    /// `REPO_RUN_WRITE_SCHEMA=1 cargo test -p repo-run-agents fix_action_schema` rewrites it.
    #[test]
    fn fix_action_schema_is_committed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fix-action.schema.json");
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("REPO_RUN_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/fix-action.schema.json is out of date: run REPO_RUN_WRITE_SCHEMA=1 cargo test -p repo-run-agents \
             fix_action_schema"
        );
        let variants = json_schema()["oneOf"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(variants, 10, "one schema branch per action");
    }
}
