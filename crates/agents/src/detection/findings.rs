//! What providers see (`ProjectContext`) and what they write (`Findings`), and how findings
//! become a deterministic [`Project`].

use std::collections::BTreeMap;

use crate::plan::{
    Command, Dependency, EntryPoint, EnvVarFinding, Evidence, Finding, Framework, HealthPathFinding, Language,
    LanguageFinding, MigrationFinding, PackageManager, PortFinding, Project, ProjectRole, ServiceFinding, ServiceKind,
    Warning,
};
use crate::repo::{FileEntry, RepoView, Text};

use super::projects;

/// One project as a provider sees it: the repository, the project's directory and the files
/// that belong to it (files of nested projects excluded).
pub struct ProjectContext<'a> {
    pub repo: &'a RepoView,
    /// Directory relative to the root, `.` for the root.
    pub dir: &'a str,
    own: Vec<&'a FileEntry>,
}

impl<'a> ProjectContext<'a> {
    pub fn new(repo: &'a RepoView, dir: &'a str, all_dirs: &[String]) -> Self {
        let own = repo.files_under(dir).iter().filter(|f| projects::owner(&f.path, all_dirs) == Some(dir)).collect();
        ProjectContext { repo, dir, own }
    }

    /// Path of `name` (relative to the project) from the repository root.
    pub fn path(&self, name: &str) -> String {
        if self.dir == "." { name.to_owned() } else { format!("{}/{name}", self.dir) }
    }

    /// Path of a repository file relative to this project (for commands run in its directory).
    pub fn relative<'p>(&self, repo_path: &'p str) -> &'p str {
        if self.dir == "." {
            repo_path
        } else {
            repo_path.strip_prefix(self.dir).map_or(repo_path, |p| p.trim_start_matches('/'))
        }
    }

    /// Whether `name` (relative to the project) exists.
    pub fn has(&self, name: &str) -> bool {
        self.repo.exists(&self.path(name))
    }

    /// Read `name` (relative to the project) as text, within the read limit.
    pub fn read(&self, name: &str) -> Option<Text> {
        self.repo.read_text(&self.path(name))
    }

    /// The project's own files (nested projects' files excluded), sorted by path.
    pub fn own_files(&self) -> &[&'a FileEntry] {
        &self.own
    }

    /// The directory name, used as the project name when the manifest gives none.
    pub fn dir_name(&self) -> String {
        if self.dir == "." {
            self.repo.root().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".into())
        } else {
            self.dir.rsplit('/').next().unwrap_or(self.dir).to_owned()
        }
    }

    /// Record a warning about a file of this project (`file` relative to the project).
    pub fn warn(&self, file: &str, line: Option<u32>, message: impl Into<String>) {
        self.repo.warn(Warning { file: self.path(file), line, message: message.into() });
    }

    /// Evidence for a file of this project (`file` relative to the project).
    pub fn evidence(&self, file: &str, line: Option<u32>, rule: &str) -> Evidence {
        Evidence::new(self.path(file), line, rule)
    }
}

/// Findings accumulated by all providers for one project. Every `add_*` merges duplicates, so
/// two providers reporting the same thing give one finding with two pieces of evidence.
#[derive(Default, Debug)]
pub struct Findings {
    /// The package name from a manifest; the first one wins.
    pub name: Option<String>,
    /// The project is a workspace root (npm/pnpm/yarn workspaces, Cargo `[workspace]`).
    pub workspace_root: bool,
    /// The project is a library (a crate without binaries, a package with nothing to start).
    pub library_hint: bool,
    /// Languages a manifest proves, besides file counts.
    languages: BTreeMap<Language, Vec<Evidence>>,
    package_managers: BTreeMap<PackageManager, Vec<Evidence>>,
    frameworks: BTreeMap<Framework, Vec<Evidence>>,
    /// Start commands with a priority; the highest wins.
    starts: Vec<(u8, Command)>,
    builds: Vec<(u8, Command)>,
    entry_points: BTreeMap<String, Evidence>,
    ports: BTreeMap<u16, (Option<String>, Vec<Evidence>)>,
    health_paths: BTreeMap<String, Vec<Evidence>>,
    env_vars: BTreeMap<String, (Option<String>, Vec<Evidence>)>,
    services: BTreeMap<ServiceKind, (Option<String>, Vec<Evidence>)>,
    migrations: BTreeMap<String, (Command, Option<String>)>,
    dependencies: Vec<Dependency>,
}

/// How sure a start command is, from most to least: higher wins.
pub mod priority {
    /// Declared by the user for exactly this purpose (Procfile `web:`).
    pub const DECLARED: u8 = 90;
    /// A manifest script named for it (`scripts.start`, `[project.scripts]`).
    pub const MANIFEST_SCRIPT: u8 = 80;
    /// The framework's own way to serve (`manage.py runserver`, `rails server`).
    pub const FRAMEWORK: u8 = 70;
    /// The container's command (Dockerfile `CMD`).
    pub const DOCKERFILE: u8 = 50;
    /// A conventional entry point (`main.go`, `src/main.rs`, `app.py`).
    pub const CONVENTION: u8 = 40;
    /// A development script (`scripts.dev`), used only when nothing else exists.
    pub const DEV_SCRIPT: u8 = 30;
}

impl Findings {
    pub fn set_name(&mut self, name: &str) {
        if self.name.is_none() && !name.trim().is_empty() {
            self.name = Some(name.trim().to_owned());
        }
    }

    pub fn add_language(&mut self, language: Language, evidence: Evidence) {
        push_unique(self.languages.entry(language).or_default(), evidence);
    }

    pub fn add_package_manager(&mut self, pm: PackageManager, evidence: Evidence) {
        push_unique(self.package_managers.entry(pm).or_default(), evidence);
    }

    pub fn has_package_manager(&self, pm: PackageManager) -> bool {
        self.package_managers.contains_key(&pm)
    }

    pub fn add_framework(&mut self, framework: Framework, evidence: Evidence) {
        push_unique(self.frameworks.entry(framework).or_default(), evidence);
    }

    pub fn has_framework(&self, framework: Framework) -> bool {
        self.frameworks.contains_key(&framework)
    }

    pub fn add_start(&mut self, priority: u8, command: Command) {
        self.starts.push((priority, command));
    }

    pub fn add_build(&mut self, priority: u8, command: Command) {
        self.builds.push((priority, command));
    }

    pub fn add_entry_point(&mut self, file: String, evidence: Evidence) {
        self.entry_points.entry(file).or_insert(evidence);
    }

    pub fn add_health_path(&mut self, path: String, evidence: Evidence) {
        push_unique(self.health_paths.entry(path).or_default(), evidence);
    }

    pub fn add_port(&mut self, port: u16, env_var: Option<String>, evidence: Evidence) {
        let slot = self.ports.entry(port).or_default();
        if slot.0.is_none() {
            slot.0 = env_var;
        }
        push_unique(&mut slot.1, evidence);
    }

    pub fn add_env_var(&mut self, name: &str, default: Option<String>, evidence: Evidence) {
        let slot = self.env_vars.entry(name.to_owned()).or_default();
        if slot.0.is_none() {
            slot.0 = default;
        }
        push_unique(&mut slot.1, evidence);
    }

    pub fn add_service(&mut self, service: ServiceKind, env_var: Option<String>, evidence: Evidence) {
        let slot = self.services.entry(service).or_default();
        if slot.0.is_none() {
            slot.0 = env_var;
        }
        push_unique(&mut slot.1, evidence);
    }

    pub fn has_service(&self, service: ServiceKind) -> bool {
        self.services.contains_key(&service)
    }

    pub fn add_migration(&mut self, tool: &str, command: Command) {
        self.migrations.entry(tool.to_owned()).or_insert((command, None));
    }

    /// A migration step with the reason it runs (shown by the plan).
    pub fn add_migration_because(&mut self, tool: &str, command: Command, reason: String) {
        self.migrations.entry(tool.to_owned()).or_insert((command, Some(reason)));
    }

    /// Record a declared dependency (for the Requirements agent).
    pub fn add_dependency(&mut self, dependency: Dependency) {
        if !self.dependencies.contains(&dependency) {
            self.dependencies.push(dependency);
        }
    }

    /// Whether the code or a provider already named a port.
    pub fn has_ports(&self) -> bool {
        !self.ports.is_empty()
    }

    /// Env var names found so far (code, example files), for providers that map them.
    pub fn env_var_names(&self) -> impl Iterator<Item = &str> {
        self.env_vars.keys().map(String::as_str)
    }

    /// Turn the findings into a project, sorted and deduplicated.
    pub fn finish(self, cx: &ProjectContext<'_>) -> Project {
        let mut counts: BTreeMap<Language, u64> = BTreeMap::new();
        for file in cx.own_files() {
            if let Some(lang) = file.extension().and_then(language_of_extension) {
                *counts.entry(lang).or_default() += 1;
            }
        }
        let mut languages: Vec<LanguageFinding> = counts
            .iter()
            .map(|(&language, &files)| LanguageFinding {
                language,
                files,
                evidence: self.languages.get(&language).cloned().unwrap_or_default(),
            })
            .collect();
        for (language, evidence) in &self.languages {
            if !counts.contains_key(language) {
                languages.push(LanguageFinding { language: *language, files: 0, evidence: evidence.clone() });
            }
        }
        // Most files first; ties by name, so the order is stable.
        languages.sort_by(|a, b| b.files.cmp(&a.files).then(a.language.cmp(&b.language)));

        let (start, start_alternatives) = rank(self.starts);
        let (build, _) = rank(self.builds);

        let is_server = self.frameworks.keys().next().is_some();
        let role = if self.workspace_root && start.is_none() {
            ProjectRole::WorkspaceRoot
        } else if start.is_some() || (is_server && !self.library_hint) {
            ProjectRole::App
        } else {
            ProjectRole::Library
        };

        Project {
            name: self.name.clone().unwrap_or_else(|| cx.dir_name()),
            path: cx.dir.to_owned(),
            role,
            languages,
            package_managers: findings(self.package_managers),
            frameworks: findings(self.frameworks),
            start,
            start_alternatives,
            start_candidates: Vec::new(),
            decisions: Vec::new(),
            build,
            entry_points: self.entry_points.into_iter().map(|(file, evidence)| EntryPoint { file, evidence }).collect(),
            ports: self
                .ports
                .into_iter()
                .map(|(port, (env_var, evidence))| PortFinding { port, env_var, evidence: sorted(evidence) })
                .collect(),
            health_paths: {
                let mut paths: Vec<HealthPathFinding> = self
                    .health_paths
                    .into_iter()
                    .map(|(path, evidence)| HealthPathFinding { path, evidence: sorted(evidence) })
                    .collect();
                paths.sort_by_key(|p| super::health_routes::rank(&p.path).unwrap_or(usize::MAX));
                paths
            },
            env_vars: self
                .env_vars
                .into_iter()
                .map(|(name, (default, evidence))| EnvVarFinding { name, default, evidence: sorted(evidence) })
                .collect(),
            services: self
                .services
                .into_iter()
                .map(|(service, (env_var, evidence))| ServiceFinding { service, env_var, evidence: sorted(evidence) })
                .collect(),
            migrations: self
                .migrations
                .into_iter()
                .map(|(tool, (command, reason))| MigrationFinding { tool, command, reason })
                .collect(),
            dependencies: {
                let mut d = self.dependencies;
                d.sort();
                d
            },
        }
    }
}

fn push_unique(list: &mut Vec<Evidence>, evidence: Evidence) {
    if !list.contains(&evidence) {
        list.push(evidence);
    }
}

fn sorted(mut evidence: Vec<Evidence>) -> Vec<Evidence> {
    evidence.sort();
    evidence
}

fn findings<T: Copy>(map: BTreeMap<T, Vec<Evidence>>) -> Vec<Finding<T>> {
    map.into_iter().map(|(value, evidence)| Finding { value, evidence: sorted(evidence) }).collect()
}

/// Best command first (highest priority, then the order providers ran), duplicates dropped.
fn rank(mut candidates: Vec<(u8, Command)>) -> (Option<Command>, Vec<Command>) {
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0)); // stable: equal priorities keep provider order
    let mut seen = Vec::<String>::new();
    let mut out = Vec::new();
    for (_, cmd) in candidates {
        if !seen.contains(&cmd.display) {
            seen.push(cmd.display.clone());
            out.push(cmd);
        }
    }
    let mut it = out.into_iter();
    (it.next(), it.collect())
}

/// The language a file extension is written in, for file counts.
pub fn language_of_extension(ext: &str) -> Option<Language> {
    Some(match ext {
        "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
        "ts" | "mts" | "cts" | "tsx" => Language::TypeScript,
        "py" | "pyi" => Language::Python,
        "rs" => Language::Rust,
        "go" => Language::Go,
        "rb" | "erb" | "rake" => Language::Ruby,
        "java" => Language::Java,
        "kt" | "kts" => Language::Kotlin,
        "php" => Language::Php,
        "sh" | "bash" => Language::Shell,
        "html" | "htm" => Language::Html,
        "css" | "scss" | "sass" | "less" => Language::Css,
        _ => return None,
    })
}

/// Build a [`Command`] from argv words.
pub fn command(argv: &[&str], evidence: Evidence) -> Command {
    Command {
        display: argv.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" "),
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        evidence,
    }
}

/// A command given as shell text in a manifest (`"start": "node server.js"`, a Procfile line):
/// run through `sh -c`, displayed as written. The text is the repository's own, never a model's.
pub fn shell_command(text: &str, evidence: Evidence) -> Command {
    Command { display: text.trim().to_owned(), argv: vec!["sh".into(), "-c".into(), text.trim().to_owned()], evidence }
}

fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
