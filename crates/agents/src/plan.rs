//! The typed data that flows between agents, and the plan document built from it.
//!
//! These types *are* a file format: `repo-run plan --json` serialises them, tools and CI read
//! them, and the snapshots under `tests/snapshots/` pin them. Changing a field name or an enum
//! spelling is a breaking change: bump [`SCHEMA_VERSION`] and say so in `docs/plan-schema.md`.

use serde::Serialize;

/// Version of the JSON plan document. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 4;

/// Where a finding came from: the file (relative to the repository root, `/`-separated), the
/// 1-based line when one can be named, and the id of the rule that made the finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Evidence {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub rule: String,
}

impl Evidence {
    pub fn new(file: impl Into<String>, line: Option<u32>, rule: impl Into<String>) -> Self {
        Evidence { file: file.into(), line, rule: rule.into() }
    }
}

/// Something the user should know about the repository that did not stop detection:
/// a malformed manifest, a symlink that was not followed, a file too large to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Warning {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),*
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A programming language, detected from manifests and source file counts.
    pub enum Language {
        JavaScript => "javascript",
        TypeScript => "typescript",
        Python => "python",
        Rust => "rust",
        Go => "go",
        Ruby => "ruby",
        Java => "java",
        Kotlin => "kotlin",
        Php => "php",
        Shell => "shell",
        Html => "html",
        Css => "css",
    }
}

string_enum! {
    /// A package manager, detected from lock files first and manifests second.
    pub enum PackageManager {
        Npm => "npm",
        Yarn => "yarn",
        Pnpm => "pnpm",
        Bun => "bun",
        Pip => "pip",
        Poetry => "poetry",
        Uv => "uv",
        Pipenv => "pipenv",
        Pdm => "pdm",
        Cargo => "cargo",
        GoModules => "go-modules",
        Bundler => "bundler",
        Maven => "maven",
        Gradle => "gradle",
        Composer => "composer",
    }
}

string_enum! {
    /// A web or application framework.
    pub enum Framework {
        Express => "express",
        Fastify => "fastify",
        Koa => "koa",
        Hapi => "hapi",
        NestJs => "nestjs",
        NextJs => "nextjs",
        Nuxt => "nuxt",
        Remix => "remix",
        Astro => "astro",
        SvelteKit => "sveltekit",
        Vite => "vite",
        CreateReactApp => "create-react-app",
        Angular => "angular",
        StaticSite => "static",
        Django => "django",
        Flask => "flask",
        FastApi => "fastapi",
        Starlette => "starlette",
        Streamlit => "streamlit",
        Rails => "rails",
        Sinatra => "sinatra",
        Axum => "axum",
        ActixWeb => "actix-web",
        Rocket => "rocket",
        Warp => "warp",
        Gin => "gin",
        Echo => "echo",
        Fiber => "fiber",
        Chi => "chi",
        SpringBoot => "spring-boot",
        Quarkus => "quarkus",
        Laravel => "laravel",
        Symfony => "symfony",
    }
}

string_enum! {
    /// A backing service the code needs, provisioned as a container by the DB agent.
    pub enum ServiceKind {
        Postgres => "postgres",
        Mysql => "mysql",
        Mariadb => "mariadb",
        Redis => "redis",
        Mongodb => "mongodb",
        Rabbitmq => "rabbitmq",
        Memcached => "memcached",
        Elasticsearch => "elasticsearch",
        Kafka => "kafka",
        Minio => "minio",
    }
}

string_enum! {
    /// A language runtime or toolchain that an app needs on the host.
    pub enum Runtime {
        Node => "node",
        Bun => "bun",
        Python => "python",
        Rust => "rust",
        Go => "go",
        Ruby => "ruby",
        Java => "java",
        Php => "php",
    }
}

/// Everything the Detection agent found in one repository.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Detection {
    /// Projects in the repository: one for a simple repo, several for a monorepo.
    pub projects: Vec<Project>,
    /// Problems met while reading the repository (never fatal).
    pub warnings: Vec<Warning>,
    pub stats: WalkStats,
}

/// Counters from the repository walk, for `--json` readers and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WalkStats {
    /// Files seen by the walk (after `.gitignore` and the skipped directories).
    pub files: u64,
    /// Source files parsed with tree-sitter.
    pub parsed: u64,
    /// Files skipped because they are larger than the read limit.
    pub skipped_large: u64,
}

/// Whether a project is something to run or something other projects use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    /// Has a start command or a server framework: `up` runs it.
    App,
    /// A library or workspace member with nothing to start.
    Library,
    /// The root of a workspace (npm/yarn/pnpm workspaces, a Cargo workspace, a Go workspace).
    WorkspaceRoot,
}

/// One project: a directory with a manifest (or the repository root when there is none).
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// A short name: the manifest's package name, else the directory name.
    pub name: String,
    /// Directory relative to the repository root, `.` for the root.
    pub path: String,
    pub role: ProjectRole,
    pub languages: Vec<LanguageFinding>,
    pub package_managers: Vec<Finding<PackageManager>>,
    pub frameworks: Vec<Finding<Framework>>,
    /// The command `up` will run, best candidate first.
    pub start: Option<Command>,
    /// Other start commands that were found, in order of preference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_alternatives: Vec<Command>,
    /// Start commands the project's documentation gives (README code blocks, Makefile run
    /// targets), found only when no rule found a start command; each checked against the
    /// repository. Rules do not choose among them: the Detection model does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_candidates: Vec<StartCandidate>,
    /// Decisions a model made for this project, with what validation checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<ModelDecision>,
    /// A build step to run before start (e.g. `npm run build` for Next.js).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Command>,
    pub entry_points: Vec<EntryPoint>,
    pub ports: Vec<PortFinding>,
    /// Health-check routes the code declares, preferred first: Health probes the first one
    /// before `/` (a 5xx there is a failure, not a healthy app).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health_paths: Vec<HealthPathFinding>,
    pub env_vars: Vec<EnvVarFinding>,
    pub services: Vec<ServiceFinding>,
    /// Database migration tools in use (prisma, alembic, django, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<MigrationFinding>,
    /// Declared dependencies, for the Requirements agent (system packages). Not part of the
    /// JSON plan: a lock file already lists them, and they would drown the plan.
    #[serde(skip)]
    pub dependencies: Vec<Dependency>,
}

/// A dependency declared in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dependency {
    /// Provider id of the ecosystem (`node`, `python`, `ruby`, `php`, `java`, `go`, `rust`).
    pub ecosystem: &'static str,
    /// The name as the ecosystem spells it (`psycopg2`, `@nestjs/core`, `org.postgresql:postgresql`).
    pub name: String,
    /// The version requirement as written, if any.
    pub version: Option<String>,
    /// Only needed for development or tests.
    pub dev: bool,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguageFinding {
    pub language: Language,
    /// Source files of this language in the project (not counting nested projects).
    pub files: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// A detected value with every piece of evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding<T> {
    pub value: T,
    pub evidence: Vec<Evidence>,
}

/// A command line, as argv for the runner and as display text for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// The command as a person would type it in the project directory.
    pub display: String,
    pub argv: Vec<String>,
    pub evidence: Evidence,
}

/// A start command the documentation gives, and what the repository confirms about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartCandidate {
    pub command: Command,
    /// What was checked: the module, file, script or target it names exists, or the program
    /// it runs is a declared dependency.
    pub validated: String,
    /// The port its arguments give (`serve 8000`, `--port 8080`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// A decision a model made where rules left the question open: provenance for `plan --json`,
/// `up --report` and the human output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelDecision {
    /// What was decided (`start`).
    pub question: String,
    /// The answer, as shown to people (the chosen command).
    pub answer: String,
    /// The agent whose model row answered (`detection`).
    pub agent: String,
    /// The model file (or remote model) that answered.
    pub model: String,
    pub latency_ms: u64,
    /// How many candidates the model chose among.
    pub candidates: usize,
    /// The model's own one-line reason.
    pub reason: String,
    /// What validation checked before the answer counted.
    pub validated: String,
    /// Why the answer was rejected when it was tried (the chosen command exited before the
    /// app was healthy): the next model of the chain was asked instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthPathFinding {
    /// The path as served, with its leading slash (`/healthz`).
    pub path: String,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryPoint {
    /// File relative to the repository root.
    pub file: String,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortFinding {
    pub port: u16,
    /// The environment variable that overrides the port in code (`process.env.PORT || 3000`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_var: Option<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVarFinding {
    pub name: String,
    /// The default the code or the example file gives, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceFinding {
    pub service: ServiceKind,
    /// Environment variable the app reads the service's address from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_var: Option<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationFinding {
    pub tool: String,
    pub command: Command,
    /// Why repo-run runs them, when it is not the plain "migrations found" (omitted then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Requirements
// ---------------------------------------------------------------------------------------------

/// What the Requirements agent worked out from a [`Detection`] and the host.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Requirements {
    pub projects: Vec<ProjectRequirements>,
    /// Runtimes found on the host (`node --version`, …), by runtime.
    pub host: Vec<HostRuntime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRuntime {
    pub runtime: Runtime,
    /// The version the host reports, `None` when the runtime is not installed.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectRequirements {
    /// Path of the project this belongs to (matches [`Project::path`]).
    pub project: String,
    pub runtimes: Vec<RuntimeRequirement>,
    /// Dependency installation, in order.
    pub install: Vec<InstallStep>,
    /// Requirements files the rules could not choose among (no `requirements.txt`, several
    /// that could each run the app), the one `install` uses first: the Setup model's question.
    /// Omitted when the rules decided.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub install_candidates: Vec<String>,
    pub system_packages: Vec<SystemPackage>,
    pub env: Vec<EnvRequirement>,
    /// Package managers the install needs and the host lacks, which `up` installs first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provide: Vec<ProvidedTool>,
    /// Decisions the Requirements model made for this project (the class of a variable no
    /// rule classifies), with what validation checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<ModelDecision>,
}

impl ProjectRequirements {
    /// Requirements that hold only an environment (the rest empty), for evaluating the
    /// environment question alone.
    pub fn with_env(project: &str, env: Vec<EnvRequirement>) -> Self {
        ProjectRequirements {
            project: project.to_owned(),
            runtimes: Vec::new(),
            install: Vec::new(),
            install_candidates: Vec::new(),
            system_packages: Vec::new(),
            env,
            provide: Vec::new(),
            decisions: Vec::new(),
        }
    }
}

/// A package manager an install step needs and the host lacks (pipenv, Poetry, PDM, uv, Yarn):
/// `up` installs it into a directory of its own in repo-run's cache (a virtualenv for the Python
/// ones), apart from the host's and the project's Pythons, and puts only its program on the
/// project's `PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvidedTool {
    /// The program: `pipenv`, `poetry`, `pdm`, `uv`, `yarn`.
    pub tool: String,
    /// The install step's evidence: the file that makes the tool necessary.
    pub needed_by: Evidence,
    /// The directory it is installed into (absolute); the program is its `bin/<tool>`.
    pub into: String,
    /// The commands that install it, in order.
    pub commands: Vec<Command>,
    /// What is downloaded, for people.
    pub downloads: String,
    /// Variables the program needs, set for the project's commands (Debian's `yarnpkg` finds
    /// its modules through `NODE_PATH` on a Node that is not Debian's).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeRequirement {
    pub runtime: Runtime,
    /// The version constraint as written in the file (`>=18 <21`, `3.11`, `1.75`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The version the project runs with: the chosen one when [`Self::selected`] is set, else
    /// what the host has, if anything.
    pub installed: Option<String>,
    pub status: RuntimeStatus,
    /// What a person should know about the status: the toolchain to install, a pin read
    /// loosely, the version manager that decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The installed interpreter or toolchain repo-run builds with when it is not the one on
    /// `PATH` (a pyenv Python, a rustup toolchain, an nvm Node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected: Option<SelectedRuntime>,
}

/// One interpreter or toolchain a version manager installed, chosen because it satisfies the
/// project's constraints (or comes nearest, with a `note` saying how).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectedRuntime {
    /// Its version (`3.7.16`, `1.95.0`, `20.19.0`).
    pub version: String,
    /// The version manager that installed it: `pyenv`, `uv`, `rustup`, `nvm`, `fnm`, `volta`.
    pub manager: String,
    /// The interpreter (Python) or `bin` directory (Node) to run, absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The name the manager knows it by, when that selects it (rustup's
    /// `nightly-x86_64-unknown-linux-gnu`, set as `RUSTUP_TOOLCHAIN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// Why it was chosen, and what is only approximate about it (a nearest patch, a newer
    /// minor than anything installed).
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeStatus {
    /// Installed and within the constraint (or no constraint), or near enough to a version
    /// file's pin to go on with, with a warning in `message`.
    Ok,
    /// Installed, but outside the constraint.
    Mismatch,
    /// Not installed on the host.
    Missing,
    /// The constraint could not be understood; it is shown as written.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallStep {
    pub command: Command,
    /// Why this command (e.g. "package-lock.json present: npm ci installs exactly the lock").
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemPackage {
    /// Debian/Ubuntu package name.
    pub apt: String,
    /// Why it is needed (the dependency that needs it).
    pub reason: String,
    pub evidence: Evidence,
    /// The program the build runs from it (a linker `.cargo/config.toml` names), which Setup
    /// looks for on `PATH` before anything is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvRequirement {
    pub name: String,
    pub source: EnvSource,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// Where the value of an environment variable will come from at `up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EnvSource {
    /// The URL (or a part) of a service the DB agent starts.
    Service { service: ServiceKind },
    /// A random secret generated once and kept in `.env`.
    GeneratedSecret,
    /// The port the runner assigns to the app.
    Port,
    /// A default from the code or the example file.
    Default { value: String },
    /// Nothing known: the user must provide it (reported, not invented).
    User,
    /// The code works without it (the Requirements model's reading of its use): left unset,
    /// and not reported as missing.
    Optional,
}
