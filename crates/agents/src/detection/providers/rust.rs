//! Rust: a directory with a `Cargo.toml` is a crate or a workspace root. Dependencies (with
//! `workspace = true` resolved against the workspace root), web frameworks, the services that
//! drivers and sqlx/diesel/sea-orm features name, migrations, and `cargo run` for the binaries.

use std::collections::BTreeSet;

use toml::{Table, Value};

use super::services::{env_var_for_service, service_for_dependency};
use crate::detection::{Findings, ProjectContext, Provider, command, manifest, priority};
use crate::plan::{Dependency, Evidence, Framework, Language, PackageManager, ServiceKind};

pub struct Rust;

impl Provider for Rust {
    fn id(&self) -> &'static str {
        "rust"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        if !cx.has("Cargo.toml") {
            return;
        }
        let workspace = WorkspaceRoot::find(cx);
        let parsed = manifest::read_toml(cx, "Cargo.toml");
        let text = parsed.as_ref().map_or("", |(t, _)| t.content.as_str());
        let header =
            manifest::line_starting(text, "[package]").or_else(|| manifest::line_starting(text, "[workspace]"));
        out.add_language(Language::Rust, cx.evidence("Cargo.toml", header, "rust.manifest"));
        package_manager(cx, workspace.as_ref(), out);
        // A malformed manifest was reported by `read_toml`; the crate is still Rust.
        let Some((_, toml)) = &parsed else { return };

        if toml.contains_key("workspace") {
            out.workspace_root = true;
        }
        let Some(package) = toml.get("package").and_then(Value::as_table) else { return };
        if let Some(name) = package.get("name").and_then(Value::as_str) {
            out.set_name(name);
        }
        let deps = dependencies(cx, text, toml, workspace.as_ref());
        for dep in &deps {
            out.add_dependency(Dependency {
                ecosystem: "rust",
                name: dep.package.clone(),
                version: dep.version.clone(),
                dev: dep.dev,
                evidence: dep.evidence("rust.dependency"),
            });
        }
        let runtime: Vec<_> = deps.iter().filter(|d| !d.dev).collect();
        frameworks_and_services(&runtime, out);
        migrations(cx, &runtime, out);

        let bins = binaries(cx, text, toml, package);
        if bins.is_empty() {
            out.library_hint = true;
        }
        starts(package.get("name").and_then(Value::as_str), bins, out);
        rocket_port(cx, &runtime, out);
    }
}

/// The nearest ancestor (or this directory) whose `Cargo.toml` has a `[workspace]` table.
struct WorkspaceRoot {
    /// Directory relative to the repository root.
    dir: String,
    manifest: Table,
}

impl WorkspaceRoot {
    fn find(cx: &ProjectContext<'_>) -> Option<WorkspaceRoot> {
        ancestors(cx.dir).into_iter().find_map(|dir| {
            let path = join(dir, "Cargo.toml");
            // Our own manifest's problems are reported by `read_toml`; an ancestor's by its
            // own project's detection: parse quietly here.
            let text = cx.repo.read_text(&path)?;
            let manifest: Table = text.content.parse().ok()?;
            manifest.contains_key("workspace").then_some(WorkspaceRoot { dir: dir.to_owned(), manifest })
        })
    }

    /// `[workspace.dependencies.<key>]`, for members that inherit with `workspace = true`.
    fn dependency(&self, key: &str) -> Option<&Value> {
        self.manifest.get("workspace")?.get("dependencies")?.get(key)
    }
}

use crate::repo::{join, self_and_ancestors as ancestors};

/// Cargo is the only package manager; the lock file (here, or at the workspace root that
/// members share) is the better evidence.
fn package_manager(cx: &ProjectContext<'_>, workspace: Option<&WorkspaceRoot>, out: &mut Findings) {
    let lock = if cx.has("Cargo.lock") {
        Some(cx.path("Cargo.lock"))
    } else {
        workspace.map(|w| join(&w.dir, "Cargo.lock")).filter(|p| cx.repo.exists(p))
    };
    let evidence = match lock {
        Some(lock) => Evidence::new(lock, None, "rust.pm.cargo-lock"),
        None => cx.evidence("Cargo.toml", None, "rust.pm.cargo"),
    };
    out.add_package_manager(PackageManager::Cargo, evidence);
}

/// One dependency as declared, after following `workspace = true`.
struct Dep {
    /// The crate's real name (`package = "…"` of a renamed dependency, else the key).
    package: String,
    version: Option<String>,
    features: BTreeSet<String>,
    dev: bool,
    file: String,
    line: Option<u32>,
}

impl Dep {
    fn evidence(&self, rule: &str) -> Evidence {
        Evidence::new(self.file.clone(), self.line, rule)
    }
}

fn dependencies(cx: &ProjectContext<'_>, text: &str, toml: &Table, workspace: Option<&WorkspaceRoot>) -> Vec<Dep> {
    let kinds = [("dependencies", false), ("build-dependencies", false), ("dev-dependencies", true)];
    // (table path, dev)
    let mut tables: Vec<(Vec<String>, bool)> = kinds.iter().map(|(k, dev)| (vec![(*k).to_owned()], *dev)).collect();
    if let Some(targets) = toml.get("target").and_then(Value::as_table) {
        for cfg in targets.keys() {
            tables.extend(kinds.iter().map(|(k, dev)| (vec!["target".to_owned(), cfg.clone(), (*k).to_owned()], *dev)));
        }
    }
    let mut out = Vec::new();
    for (path, dev) in tables {
        let Some(table) = lookup(toml, &path).and_then(Value::as_table) else { continue };
        for (key, spec) in table {
            let mut dep = Dep {
                package: key.clone(),
                version: None,
                features: BTreeSet::new(),
                dev,
                file: cx.path("Cargo.toml"),
                line: key_line(text, &path, key),
            };
            read_spec(spec, &mut dep);
            if spec.get("workspace").and_then(Value::as_bool) == Some(true) {
                if let Some(inherited) = workspace.and_then(|w| w.dependency(key)) {
                    read_spec(inherited, &mut dep);
                }
            }
            out.push(dep);
        }
    }
    out
}

/// `"1"`, or `{ version, package, features }`; features add up (a member adds to the workspace's).
fn read_spec(spec: &Value, dep: &mut Dep) {
    match spec {
        Value::String(v) => dep.version = Some(v.clone()),
        Value::Table(t) => {
            if let Some(v) = t.get("version").and_then(Value::as_str) {
                dep.version = Some(v.to_owned());
            }
            if let Some(p) = t.get("package").and_then(Value::as_str) {
                dep.package = p.to_owned();
            }
            let features = t.get("features").and_then(Value::as_array).into_iter().flatten();
            dep.features.extend(features.filter_map(Value::as_str).map(str::to_owned));
        }
        _ => {}
    }
}

fn lookup<'t>(toml: &'t Table, path: &[String]) -> Option<&'t Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(toml.get(first)?, |v, k| v.get(k))
}

/// 1-based line of `key` inside the table `[path]`, or of a `[path.key]` header. The TOML
/// parser keeps no positions, so this reads the lines, splitting dotted keys outside quotes.
fn key_line(text: &str, path: &[String], key: &str) -> Option<u32> {
    let mut current: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(header) = l.strip_prefix('[') {
            current = if header.starts_with('[') { Vec::new() } else { split_key(header.split(']').next()?) };
            if current.len() == path.len() + 1 && current[..path.len()] == *path && current[path.len()] == key {
                return Some(i as u32 + 1);
            }
        } else if current == path && split_key(l.split('=').next()?).first().is_some_and(|k| k == key) {
            return Some(i as u32 + 1);
        }
    }
    None
}

/// `target.'cfg(unix)'.dependencies` → `["target", "cfg(unix)", "dependencies"]`.
fn split_key(key: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quote = None;
    for c in key.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '.') => parts.push(String::new()),
            (_, c) => parts.last_mut().into_iter().for_each(|p| p.push(c)),
        }
    }
    parts.iter().map(|p| p.trim().to_owned()).collect()
}

fn frameworks_and_services(deps: &[&Dep], out: &mut Findings) {
    for dep in deps {
        let framework = match dep.package.as_str() {
            "axum" => Some(Framework::Axum),
            "actix-web" => Some(Framework::ActixWeb),
            "rocket" => Some(Framework::Rocket),
            "warp" => Some(Framework::Warp),
            _ => None,
        };
        if let Some(f) = framework {
            out.add_framework(f, dep.evidence(&format!("rust.framework.{f}")));
        }
        let mut services: Vec<ServiceKind> = service_for_dependency("rust", &dep.package).into_iter().collect();
        if matches!(dep.package.as_str(), "sqlx" | "diesel" | "diesel-async" | "sea-orm") {
            // The database is a feature of the ORM: `sqlx = { features = ["postgres"] }`,
            // `sea-orm = { features = ["sqlx-mysql"] }`. SQLite needs no service.
            for feature in &dep.features {
                if feature.contains("postgres") {
                    services.push(ServiceKind::Postgres);
                } else if feature.contains("mysql") {
                    services.push(ServiceKind::Mysql);
                }
            }
        }
        for service in services {
            let env_var = env_var_for_service(service, out.env_var_names());
            out.add_service(service, env_var, dep.evidence(&format!("rust.service.{service}")));
        }
    }
}

/// `sqlx migrate run` and `diesel migration run` when their migrations are in the project.
fn migrations(cx: &ProjectContext<'_>, deps: &[&Dep], out: &mut Findings) {
    let first_migration = cx.repo.files_under(&cx.path("migrations")).first().map(|f| f.path.clone());
    let uses = |name: &str| deps.iter().any(|d| d.package == name);
    if let Some(file) = &first_migration {
        if uses("sqlx") {
            let evidence = Evidence::new(file.clone(), None, "rust.migrations.sqlx");
            let sqlx = command(&["sqlx", "migrate", "run"], evidence);
            // An app that embeds its migrations (`sqlx::migrate!().run(&pool)`) applies them at
            // start; repo-run leaves them to it, unless the build needs them first: `query!`
            // macros compile against the database (then they are recorded as sqlx records
            // them, and the app's own run finds them applied).
            if !embeds_sqlx_migrations(cx) {
                out.add_migration("sqlx", sqlx);
            } else if let Some(reason) = sqlx_build_needs_schema(cx) {
                out.add_migration_because("sqlx", sqlx, reason);
            }
        }
    }
    let diesel = if cx.has("diesel.toml") {
        Some(cx.evidence("diesel.toml", None, "rust.migrations.diesel"))
    } else if uses("diesel") || uses("diesel-async") || uses("diesel_migrations") {
        first_migration.map(|file| Evidence::new(file, None, "rust.migrations.diesel"))
    } else {
        None
    };
    if let Some(evidence) = diesel {
        out.add_migration("diesel", command(&["diesel", "migration", "run"], evidence));
    }
}

/// Whether the project's sources call `sqlx::migrate!`.
fn embeds_sqlx_migrations(cx: &ProjectContext<'_>) -> bool {
    sources(cx).any(|(_, text)| text.contains("migrate!("))
}

/// The project's `src/**/*.rs` with their text.
fn sources<'a>(cx: &'a ProjectContext<'_>) -> impl Iterator<Item = (String, String)> + 'a {
    cx.repo
        .files_under(&cx.path("src"))
        .iter()
        .filter(|f| f.extension() == Some("rs"))
        .filter_map(|f| cx.repo.read_text(&f.path).map(|t| (f.path.clone(), t.content)))
}

/// sqlx's macros that check a query against `DATABASE_URL` while compiling.
const SQLX_QUERY_MACROS: &[&str] = &[
    "query",
    "query_as",
    "query_scalar",
    "query_file",
    "query_file_as",
    "query_file_scalar",
    "query_unchecked",
    "query_as_unchecked",
    "query_scalar_unchecked",
    "query_file_unchecked",
    "query_file_as_unchecked",
    "query_file_scalar_unchecked",
];

/// The first call of a compile-time query macro: (line, macro) in `text`.
fn first_query_macro(text: &str) -> Option<(u32, &'static str)> {
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for name in SQLX_QUERY_MACROS {
            let mut from = 0;
            while let Some(at) = code[from..].find(name).map(|a| a + from) {
                let before = code[..at].chars().next_back();
                let after = code[at + name.len()..].trim_start();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with('!') {
                    return Some((i as u32 + 1, name));
                }
                from = at + name.len();
            }
        }
    }
    None
}

/// Why an app that runs `sqlx::migrate!()` itself still needs its migrations before the build:
/// it uses `query!`-style macros and has no offline query data (`.sqlx/`, or the older
/// `sqlx-data.json`, here or in a directory above).
fn sqlx_build_needs_schema(cx: &ProjectContext<'_>) -> Option<String> {
    let offline = ancestors(cx.dir)
        .any(|d| !cx.repo.files_under(&join(d, ".sqlx")).is_empty() || cx.repo.exists(&join(d, "sqlx-data.json")));
    if offline {
        return None;
    }
    let (file, line, name) =
        sources(cx).find_map(|(file, text)| first_query_macro(&text).map(|(line, name)| (file, line, name)))?;
    Some(format!(
        "migrations before build: sqlx query! macros check against the database ({file}:{line} uses `{name}!`, and \
         no .sqlx/ offline data is committed); recorded as sqlx records them, so the app's own migrate!() finds \
         them applied"
    ))
}

/// A binary target: its name and where it is declared.
struct Bin {
    name: String,
    evidence: Evidence,
}

/// Binary targets as Cargo finds them: `[[bin]]` tables, then (unless `autobins = false`)
/// `src/main.rs` and `src/bin/*.rs` / `src/bin/*/main.rs`.
fn binaries(cx: &ProjectContext<'_>, text: &str, toml: &Table, package: &Table) -> Vec<Bin> {
    let mut bins: Vec<Bin> = Vec::new();
    let mut paths = BTreeSet::new();
    let bin_lines = text.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with("[[bin]]"));
    let declared = toml.get("bin").and_then(Value::as_array).into_iter().flatten();
    for (table, (i, _)) in declared.zip(bin_lines) {
        let path = table.get("path").and_then(Value::as_str);
        let name = table
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| path.and_then(|p| p.rsplit('/').next()).map(|f| f.trim_end_matches(".rs")));
        if let Some(name) = name {
            paths.extend(path.map(|p| p.trim_start_matches("./").to_owned()));
            bins.push(Bin {
                name: name.to_owned(),
                evidence: cx.evidence("Cargo.toml", Some(i as u32 + 1), "rust.start.bin"),
            });
        }
    }
    if package.get("autobins").and_then(Value::as_bool) == Some(false) {
        return bins;
    }
    let package_name = package.get("name").and_then(Value::as_str).unwrap_or_default();
    let mut found = Vec::new();
    if cx.has("src/main.rs") {
        found.push((package_name.to_owned(), "src/main.rs".to_owned()));
    }
    let bin_dir = cx.path("src/bin");
    for file in cx.repo.files_under(&bin_dir) {
        let rel = &file.path[bin_dir.len() + 1..];
        let name = match rel.split_once('/') {
            Some((dir, "main.rs")) => dir,
            None => match rel.strip_suffix(".rs") {
                Some(stem) => stem,
                None => continue,
            },
            Some(_) => continue,
        };
        found.push((name.to_owned(), format!("src/bin/{rel}")));
    }
    for (name, path) in found {
        if paths.contains(&path) || bins.iter().any(|b| b.name == name) {
            continue;
        }
        let line = cx.read(&path).and_then(|t| fn_main_line(&t.content));
        bins.push(Bin { name, evidence: cx.evidence(&path, line, "rust.start.bin") });
    }
    bins
}

/// Line of `fn main` (`pub`, `async` allowed), for evidence.
fn fn_main_line(source: &str) -> Option<u32> {
    source
        .lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("pub ").trim_start_matches("async ");
            l.starts_with("fn main(") || l.starts_with("fn main (")
        })
        .map(|i| i as u32 + 1)
}

/// One binary: `cargo run --release`. Several: `--bin` for each, the one named like the
/// package preferred, else one named like a server (`mini-redis-server`), else the first.
fn starts(package: Option<&str>, mut bins: Vec<Bin>, out: &mut Findings) {
    // Compiling is its own step, so a build is shown (and timed) as one and the health
    // check's deadline only covers starting.
    if let Some(first) = bins.first() {
        out.add_build(priority::CONVENTION, command(&["cargo", "build", "--release"], first.evidence.clone()));
    }
    if bins.len() == 1 {
        let bin = bins.remove(0);
        out.add_start(priority::CONVENTION, command(&["cargo", "run", "--release"], bin.evidence));
        return;
    }
    let serves = |b: &Bin| b.name.split(['-', '_']).any(|w| matches!(w, "server" | "serve" | "api" | "web" | "http"));
    let preferred = bins
        .iter()
        .position(|b| Some(b.name.as_str()) == package)
        .or_else(|| bins.iter().position(serves))
        .unwrap_or(0);
    if !bins.is_empty() {
        let first = bins.remove(preferred);
        bins.insert(0, first);
    }
    for bin in bins {
        out.add_start(priority::CONVENTION, command(&["cargo", "run", "--release", "--bin", &bin.name], bin.evidence));
    }
}

/// Rocket listens on 8000 unless `Rocket.toml` or `ROCKET_PORT` says otherwise. Only used
/// when the code named no port.
fn rocket_port(cx: &ProjectContext<'_>, deps: &[&Dep], out: &mut Findings) {
    let Some(rocket) = deps.iter().find(|d| d.package == "rocket") else { return };
    if out.has_ports() {
        return;
    }
    if let Some((text, config)) = manifest::read_toml(cx, "Rocket.toml") {
        // `cargo run --release` selects the release profile; `default` and `global` apply to all.
        for profile in ["release", "default", "global"] {
            let Some(port) = config.get(profile).and_then(|p| p.get("port")).and_then(Value::as_integer) else {
                continue;
            };
            if let Ok(port) = u16::try_from(port) {
                let line = key_line(&text.content, &[profile.to_owned()], "port");
                out.add_port(
                    port,
                    Some("ROCKET_PORT".into()),
                    cx.evidence("Rocket.toml", line, "rust.port.rocket-toml"),
                );
                return;
            }
        }
    }
    out.add_port(8000, Some("ROCKET_PORT".into()), rocket.evidence("rust.port.rocket-default"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, project};
    use crate::plan::ProjectRole;

    fn names<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> Vec<String> {
        items.into_iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn key_lines_follow_tables() {
        let text = "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\ntokio.workspace = true\n\n[dependencies.sqlx]\nversion = \"0.8\"\n\n[target.'cfg(unix)'.dependencies]\nnix = \"0.29\"\n\n[dev-dependencies]\nserde = \"1\"\n";
        let deps = ["dependencies".to_owned()];
        assert_eq!(key_line(text, &deps, "serde"), Some(5));
        assert_eq!(key_line(text, &deps, "tokio"), Some(6));
        assert_eq!(key_line(text, &deps, "sqlx"), Some(8));
        assert_eq!(key_line(text, &["dev-dependencies".to_owned()], "serde"), Some(15));
        let target = ["target".to_owned(), "cfg(unix)".to_owned(), "dependencies".to_owned()];
        assert_eq!(key_line(text, &target, "nix"), Some(12));
        assert_eq!(key_line(text, &deps, "nix"), None);
    }

    #[test]
    fn axum_postgres_fixture() {
        let d = detect_fixture("rust-axum-postgres");
        let p = project(&d, ".");
        assert_eq!(p.name, "todo-api");
        assert_eq!(p.role, ProjectRole::App);
        assert_eq!(p.languages[0].language, Language::Rust);
        assert_eq!(names(p.package_managers.iter().map(|f| f.value)), ["cargo"]);
        assert_eq!(p.package_managers[0].evidence[0].file, "Cargo.lock");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["axum"]);
        assert_eq!(p.frameworks[0].evidence[0], Evidence::new("Cargo.toml", Some(7), "rust.framework.axum"));
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "cargo run --release");
        assert_eq!(start.evidence, Evidence::new("src/main.rs", Some(11), "rust.start.bin"));
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (3000, Some("PORT")));
        assert_eq!(p.ports[0].evidence[0].file, "src/main.rs");
        let env: Vec<_> = p.env_vars.iter().map(|e| (e.name.as_str(), e.default.as_deref())).collect();
        assert_eq!(env, [("DATABASE_URL", None), ("PORT", Some("3000"))]);
        assert_eq!(p.services.len(), 1);
        assert_eq!(p.services[0].service, ServiceKind::Postgres);
        assert_eq!(p.services[0].env_var.as_deref(), Some("DATABASE_URL"));
        assert_eq!(p.services[0].evidence[0].rule, "rust.service.postgres");
        // main.rs runs `sqlx::migrate!()` itself: nothing to run before it.
        assert!(p.migrations.is_empty());
        assert_eq!(p.build.as_ref().unwrap().display, "cargo build --release");
        assert_eq!(names(p.entry_points.iter().map(|e| &e.file)), ["src/main.rs"]);
        let dev: Vec<_> = p.dependencies.iter().filter(|d| d.dev).map(|d| d.name.as_str()).collect();
        assert_eq!(dev, ["tower"]);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn actix_fixture() {
        let d = detect_fixture("rust-actix");
        let p = project(&d, ".");
        assert_eq!(p.name, "hello-actix");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["actix-web"]);
        assert_eq!(p.start.as_ref().unwrap().display, "cargo run --release");
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8080, None));
        assert!(p.services.is_empty());
        assert!(p.migrations.is_empty());
    }

    #[test]
    fn workspace_fixture() {
        let d = detect_fixture("rust-workspace");
        assert_eq!(names(d.projects.iter().map(|p| &p.path)), [".", "crates/core", "crates/server"]);
        let root = project(&d, ".");
        assert_eq!(root.role, ProjectRole::WorkspaceRoot);
        assert!(root.start.is_none());
        let core = project(&d, "crates/core");
        assert_eq!(core.name, "shop-core");
        assert_eq!(core.role, ProjectRole::Library);
        assert!(core.start.is_none());
        let server = project(&d, "crates/server");
        assert_eq!(server.name, "shop-server");
        assert_eq!(server.role, ProjectRole::App);
        // The lock file lives at the workspace root.
        assert_eq!(server.package_managers[0].evidence[0], Evidence::new("Cargo.lock", None, "rust.pm.cargo-lock"));
        assert_eq!(names(server.frameworks.iter().map(|f| f.value)), ["axum"]);
        // `redis.workspace = true`, and sqlx's features come from the workspace table.
        assert_eq!(names(server.services.iter().map(|s| s.service)), ["postgres", "redis"]);
        let redis = server.dependencies.iter().find(|d| d.name == "redis").unwrap();
        assert_eq!(redis.version.as_deref(), Some("0.27"));
        assert_eq!(redis.evidence.file, "crates/server/Cargo.toml");
        let start = server.start.as_ref().unwrap();
        assert_eq!(start.display, "cargo run --release --bin shop-server");
        assert_eq!(names(server.start_alternatives.iter().map(|c| &c.display)), ["cargo run --release --bin seed"]);
        assert_eq!(server.ports[0].port, 8080);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn rocket_fixture() {
        let d = detect_fixture("rust-rocket");
        let p = project(&d, ".");
        assert_eq!(p.name, "rocket-hello");
        assert_eq!(p.role, ProjectRole::App);
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["rocket"]);
        assert_eq!(p.start.as_ref().unwrap().display, "cargo run --release");
        // `#[launch]` replaces `fn main`.
        assert_eq!(p.entry_points[0].evidence, Evidence::new("src/main.rs", Some(10), "code.rust.entry"));
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8001, Some("ROCKET_PORT")));
        assert_eq!(p.ports[0].evidence, [Evidence::new("Rocket.toml", Some(3), "rust.port.rocket-toml")]);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn malformed_manifest_is_one_warning() {
        let d = detect_fixture("rust-malformed");
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert_eq!(d.warnings[0].file, "Cargo.toml");
        assert_eq!(d.warnings[0].line, Some(4));
        let p = project(&d, ".");
        assert_eq!(p.languages[0].language, Language::Rust);
        assert!(p.frameworks.is_empty());
    }

    #[test]
    fn renamed_and_dev_dependencies() {
        let d = detect_files(&[
            (
                "Cargo.toml",
                "[package]\nname = \"r\"\n\n[dependencies]\npg = { package = \"tokio-postgres\", version = \"0.7\" }\n\n[dev-dependencies]\nredis = \"0.27\"\nwarp = \"0.3\"\n",
            ),
            ("src/lib.rs", "pub fn f() {}\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(names(p.services.iter().map(|s| s.service)), ["postgres"]);
        assert_eq!(p.services[0].evidence[0].line, Some(5));
        // Test-only crates start no service and make no framework.
        assert!(p.frameworks.is_empty());
        assert_eq!(p.role, ProjectRole::Library);
        // Cargo.toml alone: cargo, with the manifest as evidence.
        assert_eq!(p.package_managers[0].evidence[0].rule, "rust.pm.cargo");
    }

    #[test]
    fn sqlite_needs_no_service_and_diesel_migrates() {
        let d = detect_files(&[
            (
                "Cargo.toml",
                "[package]\nname = \"r\"\n\n[dependencies]\ndiesel = { version = \"2\", features = [\"sqlite\"] }\n",
            ),
            ("diesel.toml", "[print_schema]\nfile = \"src/schema.rs\"\n"),
            ("src/main.rs", "fn main() {}\n"),
        ]);
        let p = project(&d, ".");
        assert!(p.services.is_empty());
        assert_eq!(p.migrations[0].command.display, "diesel migration run");
        assert_eq!(p.migrations[0].command.evidence.file, "diesel.toml");
    }

    #[test]
    fn sqlx_migrations_run_first_unless_the_app_embeds_them() {
        let manifest = (
            "Cargo.toml",
            "[package]\nname = \"r\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n",
        );
        let migration = ("migrations/0001_init.sql", "CREATE TABLE t (id int);\n");
        let d = detect_files(&[manifest, migration, ("src/main.rs", "fn main() {}\n")]);
        let p = project(&d, ".");
        assert_eq!(p.migrations[0].command.display, "sqlx migrate run");
        assert_eq!(p.migrations[0].command.evidence.file, "migrations/0001_init.sql");
        let embeds = "fn main() { let _ = sqlx::migrate!(); }\n";
        let d = detect_files(&[manifest, migration, ("src/main.rs", embeds)]);
        assert!(project(&d, ".").migrations.is_empty());
    }

    #[test]
    fn query_macros_are_found_by_a_cheap_scan() {
        let main = "use sqlx::query;\n// sqlx::query!(\"in a comment\")\nlet a = sqlx::query(\"SELECT 1\");\nlet u = sqlx::query_as!(User, \"SELECT * FROM users\")\n";
        assert_eq!(first_query_macro(main), Some((4, "query_as")));
        assert_eq!(first_query_macro("let n = query_scalar! (\"SELECT 1\");\n"), Some((1, "query_scalar")));
        assert_eq!(first_query_macro("sqlx::query_file!(\"queries/a.sql\")"), Some((1, "query_file")));
        assert_eq!(first_query_macro("let r = sqlx::query!(\"SELECT 1\")"), Some((1, "query")));
        // Functions, not macros; and a longer name that merely ends like one.
        assert_eq!(first_query_macro("sqlx::query_as::<_, User>(\"SELECT\"); my_query!(x)"), None);
    }

    #[test]
    fn query_macros_without_offline_data_need_the_migrations_before_the_build() {
        let manifest = (
            "Cargo.toml",
            "[package]\nname = \"r\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\", \"macros\", \"migrate\"] }\n",
        );
        let migration = ("migrations/20240101000000_users.sql", "CREATE TABLE \"user\" (id int);\n");
        let main =
            ("src/main.rs", "async fn run(pool: &sqlx::PgPool) {\n    sqlx::migrate!().run(pool).await.unwrap();\n}\n");
        let queries = (
            "src/users.rs",
            "pub async fn first(pool: &sqlx::PgPool) {\n    let _ = sqlx::query!(\"SELECT id FROM \\\"user\\\"\").fetch_one(pool).await;\n}\n",
        );
        let d = detect_files(&[manifest, migration, main, queries]);
        let p = project(&d, ".");
        assert_eq!(p.migrations.len(), 1);
        assert_eq!(p.migrations[0].command.display, "sqlx migrate run");
        let reason = p.migrations[0].reason.as_deref().unwrap();
        assert!(
            reason.starts_with("migrations before build: sqlx query! macros check against the database"),
            "{reason}"
        );
        assert!(reason.contains("src/users.rs:2 uses `query!`"), "{reason}");
        // Offline query data (either form) builds without the database: the app migrates itself.
        for offline in [(".sqlx/query-0123.json", "{}"), ("sqlx-data.json", "{}")] {
            let d = detect_files(&[manifest, migration, main, queries, offline]);
            assert!(project(&d, ".").migrations.is_empty(), "{offline:?}");
        }
        // No compile-time macros: left to the app, as before.
        let d = detect_files(&[manifest, migration, main]);
        assert!(project(&d, ".").migrations.is_empty());
    }

    #[test]
    fn diesel_migrations_without_diesel_toml() {
        let d = detect_files(&[
            (
                "Cargo.toml",
                "[package]\nname = \"r\"\n\n[dependencies]\ndiesel = { version = \"2\", features = [\"postgres\"] }\ndiesel_migrations = \"2\"\n",
            ),
            ("migrations/2024-01-15-120000_create/up.sql", "CREATE TABLE t (id int);\n"),
            ("src/main.rs", "fn main() {}\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.migrations[0].command.display, "diesel migration run");
        assert_eq!(p.migrations[0].command.evidence.file, "migrations/2024-01-15-120000_create/up.sql");
        assert_eq!(p.migrations[0].reason, None);
    }

    #[test]
    fn sqlx_without_migrations_dir_has_no_migration() {
        let d = detect_files(&[
            (
                "Cargo.toml",
                "[package]\nname = \"r\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"mysql\"] }\n",
            ),
            ("src/main.rs", "fn main() {}\n"),
        ]);
        let p = project(&d, ".");
        assert!(p.migrations.is_empty());
        assert_eq!(names(p.services.iter().map(|s| s.service)), ["mysql"]);
        assert_eq!(p.services[0].env_var, None);
    }

    #[test]
    fn rocket_default_port_and_rocket_toml() {
        let manifest = "[package]\nname = \"r\"\n\n[dependencies]\nrocket = \"0.5\"\n";
        let main = "#[macro_use] extern crate rocket;\n#[launch]\nfn rocket() -> _ { rocket::build() }\n";
        let d = detect_files(&[("Cargo.toml", manifest), ("src/main.rs", main)]);
        let p = project(&d, ".");
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8000, Some("ROCKET_PORT")));
        assert_eq!(p.ports[0].evidence[0].rule, "rust.port.rocket-default");
        let d = detect_files(&[
            ("Cargo.toml", manifest),
            ("src/main.rs", main),
            ("Rocket.toml", "[default]\naddress = \"0.0.0.0\"\nport = 8123\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.ports.len(), 1);
        assert_eq!(p.ports[0].port, 8123);
        assert_eq!(p.ports[0].evidence[0], Evidence::new("Rocket.toml", Some(3), "rust.port.rocket-toml"));
    }

    #[test]
    fn explicit_bins_and_autobins_off() {
        let d = detect_files(&[
            (
                "Cargo.toml",
                "[package]\nname = \"tool\"\nautobins = false\n\n[[bin]]\nname = \"cli\"\npath = \"src/cli.rs\"\n",
            ),
            ("src/cli.rs", "fn main() {}\n"),
            ("src/main.rs", "fn main() {}\n"),
        ]);
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "cargo run --release");
        assert_eq!(start.evidence, Evidence::new("Cargo.toml", Some(5), "rust.start.bin"));
        assert!(p.start_alternatives.is_empty());
    }

    #[test]
    fn server_binary_preferred_over_the_first() {
        let d = detect_files(&[
            (
                "Cargo.toml",
                "[package]\nname = \"kv\"\n\n[[bin]]\nname = \"kv-cli\"\npath = \"src/bin/cli.rs\"\n\n[[bin]]\nname = \"kv-server\"\npath = \"src/bin/server.rs\"\n",
            ),
            ("src/bin/cli.rs", "fn main() {}\n"),
            ("src/bin/server.rs", "fn main() {}\n"),
            ("src/lib.rs", ""),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.start.as_ref().unwrap().display, "cargo run --release --bin kv-server");
        assert_eq!(names(p.start_alternatives.iter().map(|c| &c.display)), ["cargo run --release --bin kv-cli"]);
    }

    #[test]
    fn build_script_is_not_an_entry_point() {
        let d = detect_files(&[
            ("Cargo.toml", "[package]\nname = \"b\"\n"),
            ("build.rs", "fn main() {}\n"),
            ("src/lib.rs", "pub fn f() {}\n"),
        ]);
        let p = project(&d, ".");
        assert!(p.entry_points.is_empty());
        assert!(p.start.is_none());
        assert_eq!(p.role, ProjectRole::Library);
    }
}
