//! Node.js projects (JavaScript and TypeScript): a directory with a `package.json`.
//!
//! The manifest gives the name, the dependencies (and through them frameworks and services),
//! the scripts (start, dev, build) and workspaces; lock files give the package manager, also
//! from an ancestor directory for workspace members; ORM configuration (Prisma, Knex,
//! Sequelize, Drizzle) gives the database and how to migrate it, and without one a `migrate`
//! script is the project's own migration. Ports found in the code win over a framework's
//! default port, which is added only when the code names none.

use serde_json::{Map, Value};

use super::services::{service_for_dependency, service_for_url};
use crate::detection::manifest::{line_at, line_of, read_json};
use crate::detection::{Findings, ProjectContext, Provider, command, priority, projects};
use crate::plan::{Command, Dependency, Evidence, Framework, Language, PackageManager, ServiceKind};

pub struct Node;

const MANIFEST: &str = "package.json";

/// Lock files and the package manager each proves, in the order that decides which one runs
/// the scripts when a project has several (an npm lock beside another is usually a leftover).
const LOCK_FILES: &[(&str, PackageManager)] = &[
    ("pnpm-lock.yaml", PackageManager::Pnpm),
    ("yarn.lock", PackageManager::Yarn),
    ("bun.lockb", PackageManager::Bun),
    ("bun.lock", PackageManager::Bun),
    ("package-lock.json", PackageManager::Npm),
    ("npm-shrinkwrap.json", PackageManager::Npm),
];

/// Frameworks that make a package a server, counted only from runtime `dependencies`: a
/// library names them as peer or dev dependencies.
const SERVER_FRAMEWORKS: &[(&str, Framework)] = &[
    ("express", Framework::Express),
    ("fastify", Framework::Fastify),
    ("koa", Framework::Koa),
    ("@hapi/hapi", Framework::Hapi),
    ("hapi", Framework::Hapi),
    ("@nestjs/core", Framework::NestJs),
];

/// Application frameworks and build tools, often declared as dev dependencies.
const APP_FRAMEWORKS: &[(&str, Framework)] = &[
    ("next", Framework::NextJs),
    ("nuxt", Framework::Nuxt),
    ("nuxt3", Framework::Nuxt),
    ("astro", Framework::Astro),
    ("@sveltejs/kit", Framework::SvelteKit),
    ("react-scripts", Framework::CreateReactApp),
    ("@angular/core", Framework::Angular),
];

/// Files that are a server's entry point by convention, in order of preference. The first
/// existing one becomes a start candidate.
const CONVENTIONAL_ENTRIES: &[&str] = &[
    "server.js",
    "app.js",
    "index.js",
    "server.mjs",
    "index.mjs",
    "src/server.js",
    "src/app.js",
    "src/index.js",
    "src/main.js",
    "src/main.ts",
    "src/server.ts",
    "src/index.ts",
    "server.ts",
    "index.ts",
];

impl Provider for Node {
    fn id(&self) -> &'static str {
        "node"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        if !cx.has(MANIFEST) {
            if !projects::MANIFESTS.iter().any(|m| cx.has(m)) {
                static_site(cx, out);
            }
            return;
        }
        let pkg = PackageJson::read(cx);
        if let Some(name) = pkg.string(cx, &["name"]) {
            out.set_name(name);
        }
        if pkg.root.contains_key("workspaces") || cx.has("pnpm-workspace.yaml") {
            out.workspace_root = true;
        }
        let deps = pkg.dependencies(cx);
        for dep in &deps {
            out.add_dependency(Dependency {
                ecosystem: "node",
                name: dep.name.clone(),
                version: dep.version.clone(),
                dev: dep.dev,
                evidence: cx.evidence(MANIFEST, dep.line, "node.dependency"),
            });
            if let Some(service) = service_for_dependency("node", &dep.name) {
                out.add_service(service, None, cx.evidence(MANIFEST, dep.line, "node.service.dependency"));
            }
        }
        let pm = package_manager(cx, &pkg, out);
        languages(cx, &deps, out);
        let frameworks = frameworks(cx, &deps, out);
        databases(cx, &pkg, &deps, pm, out);
        starts(cx, &pkg, &deps, &frameworks, pm, out);
    }
}

// ---- package.json -------------------------------------------------------------------------

/// A parsed `package.json`. A malformed one is reported once and read as empty, so lock
/// files, configuration files and code are still detected.
struct PackageJson {
    text: String,
    root: Map<String, Value>,
}

struct Dep {
    name: String,
    version: Option<String>,
    dev: bool,
    line: Option<u32>,
}

impl PackageJson {
    fn read(cx: &ProjectContext<'_>) -> PackageJson {
        let empty = || PackageJson { text: String::new(), root: Map::new() };
        let Some(text) = cx.read(MANIFEST) else { return empty() };
        // npm accepts a byte order mark; serde_json does not.
        let content = text.content.strip_prefix('\u{feff}').unwrap_or(&text.content).to_owned();
        if content.trim().is_empty() {
            cx.warn(MANIFEST, None, "empty file: read as `{}`");
            return empty();
        }
        let root = match serde_json::from_str(&content) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                cx.warn(MANIFEST, Some(1), format!("expected a JSON object, found {}: ignored", kind(&other)));
                return empty();
            }
            Err(e) => {
                cx.warn(MANIFEST, Some(e.line().max(1) as u32), format!("malformed JSON: {e}"));
                return empty();
            }
        };
        PackageJson { text: content, root }
    }

    /// 1-based line of the key at `path` (`["scripts", "start"]`). serde_json keeps no
    /// positions, so each quoted key is searched for after the previous one.
    fn line(&self, path: &[&str]) -> Option<u32> {
        let mut from = 0;
        for key in path {
            let needle = format!("\"{key}\"");
            loop {
                let at = from + self.text[from..].find(&needle)?;
                from = at + needle.len();
                if self.text[from..].trim_start().starts_with(':') {
                    break;
                }
            }
        }
        Some(line_at(&self.text, from))
    }

    fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(self.root.get(*first)?, |value, key| value.as_object()?.get(*key))
    }

    /// The string at `path`; anything else there is reported and ignored.
    fn string(&self, cx: &ProjectContext<'_>, path: &[&str]) -> Option<&str> {
        match self.get(path)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(cx, path, "a string", other);
                None
            }
        }
    }

    /// The object at `path`; anything else there is reported and ignored.
    fn object(&self, cx: &ProjectContext<'_>, path: &[&str]) -> Option<&Map<String, Value>> {
        match self.get(path)? {
            Value::Object(map) => Some(map),
            other => {
                self.wrong_type(cx, path, "an object", other);
                None
            }
        }
    }

    fn wrong_type(&self, cx: &ProjectContext<'_>, path: &[&str], expected: &str, found: &Value) {
        let message = format!("`{}` should be {expected}, found {}: ignored", path.join("."), kind(found));
        cx.warn(MANIFEST, self.line(path), message);
    }

    fn script(&self, cx: &ProjectContext<'_>, name: &str) -> Option<Script> {
        self.object(cx, &["scripts"])?;
        let text = self.string(cx, &["scripts", name])?.trim();
        (!text.is_empty()).then(|| Script {
            name: name.to_owned(),
            text: text.to_owned(),
            line: self.line(&["scripts", name]),
        })
    }

    /// `dependencies` then `devDependencies`, in file order.
    fn dependencies(&self, cx: &ProjectContext<'_>) -> Vec<Dep> {
        let mut deps = Vec::new();
        for (section, dev) in [("dependencies", false), ("devDependencies", true)] {
            let Some(map) = self.object(cx, &[section]) else { continue };
            for (name, version) in map {
                let version = version.as_str().map(str::to_owned);
                deps.push(Dep { name: name.clone(), version, dev, line: self.line(&[section, name]) });
            }
        }
        deps
    }
}

struct Script {
    name: String,
    text: String,
    line: Option<u32>,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn find<'d>(deps: &'d [Dep], name: &str) -> Option<&'d Dep> {
    deps.iter().find(|d| d.name == name)
}

// ---- package manager ----------------------------------------------------------------------

/// Record every package manager the project proves and return the one that runs its
/// scripts: the `packageManager` field (corepack) first, then lock files. A workspace
/// member's lock file lives at the workspace root, so ancestors are searched too, nearest
/// first.
fn package_manager(cx: &ProjectContext<'_>, pkg: &PackageJson, out: &mut Findings) -> PackageManager {
    let mut dir = Some(cx.dir);
    while let Some(d) = dir {
        let field = if d == cx.dir {
            field_package_manager(cx, pkg).map(|pm| (pm, cx.path(MANIFEST), pkg.line(&["packageManager"])))
        } else {
            ancestor_package_manager(cx, d)
        };
        let mut chosen = None;
        if let Some((pm, file, line)) = field {
            out.add_package_manager(pm, Evidence::new(file, line, "node.pm.package_manager_field"));
            chosen = Some(pm);
        }
        let locks = LOCK_FILES.iter().filter(|(file, _)| cx.repo.exists(&join(d, file)));
        for (file, pm) in locks {
            out.add_package_manager(*pm, Evidence::new(join(d, file), None, "node.pm.lockfile"));
            chosen.get_or_insert(*pm);
        }
        if let Some(pm) = chosen {
            return pm;
        }
        dir = parent(d);
    }
    out.add_package_manager(PackageManager::Npm, cx.evidence(MANIFEST, None, "node.pm.default"));
    PackageManager::Npm
}

fn field_package_manager(cx: &ProjectContext<'_>, pkg: &PackageJson) -> Option<PackageManager> {
    let value = pkg.string(cx, &["packageManager"])?;
    let pm = parse_package_manager(value);
    if pm.is_none() {
        cx.warn(MANIFEST, pkg.line(&["packageManager"]), format!("unknown packageManager `{value}`: ignored"));
    }
    pm
}

/// The `packageManager` field of an ancestor's package.json. Its problems are reported by
/// the ancestor's own project, so a malformed one is silently skipped here.
fn ancestor_package_manager(cx: &ProjectContext<'_>, dir: &str) -> Option<(PackageManager, String, Option<u32>)> {
    let path = join(dir, MANIFEST);
    if !cx.repo.exists(&path) {
        return None;
    }
    let text = cx.repo.read_text(&path)?;
    let value: Value = serde_json::from_str(text.content.trim_start_matches('\u{feff}')).ok()?;
    let pm = parse_package_manager(value.get("packageManager")?.as_str()?)?;
    let line = line_of(&text.content, "\"packageManager\"");
    Some((pm, path, line))
}

/// `pnpm@9.1.0+sha512.…` → pnpm.
fn parse_package_manager(value: &str) -> Option<PackageManager> {
    Some(match value.split('@').next()?.trim() {
        "npm" => PackageManager::Npm,
        "yarn" => PackageManager::Yarn,
        "pnpm" => PackageManager::Pnpm,
        "bun" => PackageManager::Bun,
        _ => return None,
    })
}

use crate::repo::join;

fn parent(dir: &str) -> Option<&str> {
    match dir {
        "." => None,
        _ => Some(dir.rfind('/').map_or(".", |i| &dir[..i])),
    }
}

// ---- languages and frameworks -------------------------------------------------------------

fn languages(cx: &ProjectContext<'_>, deps: &[Dep], out: &mut Findings) {
    let mut typescript = false;
    if cx.has("tsconfig.json") {
        out.add_language(Language::TypeScript, cx.evidence("tsconfig.json", None, "node.lang.tsconfig"));
        typescript = true;
    }
    if let Some(dep) = find(deps, "typescript") {
        out.add_language(Language::TypeScript, cx.evidence(MANIFEST, dep.line, "node.lang.typescript"));
        typescript = true;
    }
    if !typescript {
        out.add_language(Language::JavaScript, cx.evidence(MANIFEST, None, "node.lang.package_json"));
    }
}

/// Record the frameworks the dependencies name and return them with their lines in the
/// manifest, in detection order.
fn frameworks(cx: &ProjectContext<'_>, deps: &[Dep], out: &mut Findings) -> Vec<(Framework, Option<u32>)> {
    let mut found: Vec<(Framework, Option<u32>)> = Vec::new();
    for dep in deps {
        let server = SERVER_FRAMEWORKS.iter().find(|(n, _)| *n == dep.name).filter(|_| !dep.dev);
        let app = APP_FRAMEWORKS.iter().find(|(n, _)| *n == dep.name);
        let framework = match (server.or(app), dep.name.strip_prefix("@remix-run/")) {
            (Some((_, f)), _) => *f,
            // `@remix-run/router` is React Router's, not Remix.
            (None, Some(pkg)) if pkg != "router" => Framework::Remix,
            _ => continue,
        };
        if !found.iter().any(|(f, _)| *f == framework) {
            found.push((framework, dep.line));
        }
    }
    // Vite alone is an app only with its `index.html`; otherwise it builds a library, or
    // serves one of the frameworks above.
    if found.is_empty() && cx.has("index.html") {
        if let Some(dep) = find(deps, "vite") {
            found.push((Framework::Vite, dep.line));
        }
    }
    for (framework, line) in &found {
        let rule = format!("node.framework.{}", framework.as_str().replace('-', "_"));
        out.add_framework(*framework, cx.evidence(MANIFEST, *line, &rule));
    }
    found
}

// ---- databases: ORMs and migration tools --------------------------------------------------

fn databases(cx: &ProjectContext<'_>, pkg: &PackageJson, deps: &[Dep], pm: PackageManager, out: &mut Findings) {
    let tools = [prisma(cx, pkg, out), knex(cx, out), sequelize(cx, deps, out), drizzle(cx, out)];
    if !tools.contains(&true) {
        npm_script_migration(cx, pkg, pm, out);
    }
}

/// Scripts that migrate a database by convention, in order of preference.
const MIGRATION_SCRIPTS: &[&str] = &["migrate", "db:migrate", "migrate:latest"];

/// Tools whose migrations are detected from their own configuration (above, or by the Ruby,
/// PHP and Python providers beside a package.json): a script that runs one of them is theirs,
/// not a migration of its own.
const MIGRATION_TOOLS: &[&str] =
    &["knex", "prisma", "sequelize", "sequelize-cli", "drizzle-kit", "rails", "artisan", "manage.py", "alembic"];

/// A project's own migration script (`"migrate": "node scripts/migrate.js"`), for projects that
/// migrate without a known tool: run as `<pm> run <script>`. Only when no tool was detected, so
/// a script wrapping knex or Prisma does not migrate twice.
fn npm_script_migration(cx: &ProjectContext<'_>, pkg: &PackageJson, pm: PackageManager, out: &mut Findings) {
    if !pkg.root.get("scripts").is_some_and(Value::is_object) {
        return;
    }
    let Some(script) = MIGRATION_SCRIPTS.iter().find_map(|name| pkg.script(cx, name)) else { return };
    let runs_a_tool = script.text.split(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | '|')).any(|word| {
        let program = word.rsplit('/').next().unwrap_or(word);
        MIGRATION_TOOLS.contains(&program)
    });
    if runs_a_tool {
        return;
    }
    let pm_name = match pm {
        PackageManager::Yarn => "yarn",
        PackageManager::Pnpm => "pnpm",
        PackageManager::Bun => "bun",
        _ => "npm",
    };
    let evidence = cx.evidence(MANIFEST, script.line, "node.migration.npm_script");
    out.add_migration("npm-script", command(&[pm_name, "run", &script.name], evidence));
}

/// `datasource db { provider = "postgresql" url = env("DATABASE_URL") }` in the Prisma schema
/// (`prisma.schema` in package.json, `prisma/schema.prisma`, `schema.prisma`, or a
/// `prisma/schema/` folder).
fn prisma(cx: &ProjectContext<'_>, pkg: &PackageJson, out: &mut Findings) -> bool {
    let configured = pkg.string(cx, &["prisma", "schema"]).map(|s| s.trim_start_matches("./").to_owned());
    let mut candidates: Vec<String> = configured.into_iter().collect();
    candidates.extend(["prisma/schema.prisma", "schema.prisma"].map(String::from));
    let folder = cx.repo.files_in_dir(&cx.path("prisma/schema")).filter(|f| f.extension() == Some("prisma"));
    candidates.extend(folder.map(|f| cx.relative(&f.path).to_owned()));
    let Some(schema) = candidates.into_iter().find(|c| cx.has(c)) else { return false };
    let Some(text) = cx.read(&schema) else { return false };
    let Some(source) = prisma_datasource(&text.content) else {
        cx.warn(&schema, None, "no `datasource` block with a provider: database unknown");
        return false;
    };
    let evidence = cx.evidence(&schema, Some(source.line), "node.service.prisma");
    if let Some(service) = source.service {
        out.add_service(service, source.env_var, evidence.clone());
    }
    // Without migration files, `migrate deploy` would apply nothing and leave no tables.
    let dir = schema.rsplit_once('/').map_or(".", |(d, _)| d);
    let migrations = if dir == "." { "migrations".to_owned() } else { format!("{dir}/migrations") };
    let argv: &[&str] = if cx.repo.files_under(&cx.path(&migrations)).is_empty() {
        &["npx", "prisma", "db", "push"]
    } else {
        &["npx", "prisma", "migrate", "deploy"]
    };
    out.add_migration("prisma", command(argv, Evidence { rule: "node.migration.prisma".into(), ..evidence }));
    true
}

struct Datasource {
    service: Option<ServiceKind>,
    env_var: Option<String>,
    line: u32,
}

fn prisma_datasource(schema: &str) -> Option<Datasource> {
    let mut lines = schema.lines().enumerate();
    let (start, _) = lines.by_ref().find(|(_, l)| {
        let mut words = l.split_whitespace();
        words.next() == Some("datasource") && l.contains('{')
    })?;
    let mut provider = None;
    let mut url = None;
    for (_, line) in lines.take_while(|(_, l)| !l.trim_start().starts_with('}')) {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.split("//").next().unwrap_or("").trim();
        match key.trim() {
            "provider" => provider = Some(value.trim_matches('"').to_owned()),
            "url" => url = Some(value.to_owned()),
            _ => {}
        }
    }
    let provider = provider?;
    let env_var = url.as_deref().and_then(|u| u.strip_prefix("env(")).and_then(|u| u.strip_suffix(')'));
    let literal = url.as_deref().filter(|u| u.starts_with('"')).and_then(service_for_url);
    let service = match provider.as_str() {
        "postgresql" | "postgres" => Some(ServiceKind::Postgres),
        "mysql" => Some(ServiceKind::Mysql),
        "mongodb" => Some(ServiceKind::Mongodb),
        _ => literal,
    };
    Some(Datasource {
        service,
        env_var: env_var.map(|e| e.trim().trim_matches('"').to_owned()),
        line: start as u32 + 1,
    })
}

const KNEXFILES: &[&str] = &["knexfile.js", "knexfile.ts", "knexfile.mjs", "knexfile.cjs"];

/// A knexfile's `client: 'pg'` names the database, and `connection` the variable with its URL.
fn knex(cx: &ProjectContext<'_>, out: &mut Findings) -> bool {
    let Some(file) = KNEXFILES.iter().find(|f| cx.has(f)) else { return false };
    let Some(text) = cx.read(file) else { return false };
    let client = string_after_key(&text.content, "client");
    if let Some((client, at)) = &client {
        let service = match client.as_str() {
            "postgresql" | "pg-native" => Some(ServiceKind::Postgres),
            other => service_for_dependency("node", other),
        };
        if let Some(service) = service {
            let env_var = env_after_key(&text.content, "connection");
            out.add_service(
                service,
                env_var,
                cx.evidence(file, Some(line_at(&text.content, *at)), "node.service.knex"),
            );
        }
    }
    let line = client.map(|(_, at)| line_at(&text.content, at));
    let evidence = cx.evidence(file, line, "node.migration.knex");
    out.add_migration("knex", command(&["npx", "knex", "migrate:latest"], evidence));
    true
}

/// Sequelize: `sequelize-cli` or `.sequelizerc` means migrations; `config/config.json`
/// (`dialect`, `use_env_variable`) names the database.
fn sequelize(cx: &ProjectContext<'_>, deps: &[Dep], out: &mut Findings) -> bool {
    let cli = find(deps, "sequelize-cli");
    let rc = cx.has(".sequelizerc");
    let config = "config/config.json";
    let has_config = cx.has(config) && (cli.is_some() || rc || find(deps, "sequelize").is_some());
    if has_config {
        if let Some((text, value)) = read_json(cx, config) {
            let pkg = PackageJson { text: text.content, root: value.as_object().cloned().unwrap_or_default() };
            // `development` is what a fresh checkout runs; other environments only if it is absent.
            let env = std::iter::once("development")
                .chain(pkg.root.keys().map(String::as_str))
                .find(|env| pkg.get(&[env, "dialect"]).is_some_and(Value::is_string));
            if let Some(env) = env {
                let dialect = pkg.get(&[env, "dialect"]).and_then(Value::as_str).unwrap_or("");
                let service = match dialect {
                    "postgres" => Some(ServiceKind::Postgres),
                    "mysql" => Some(ServiceKind::Mysql),
                    "mariadb" => Some(ServiceKind::Mariadb),
                    _ => None,
                };
                if let Some(service) = service {
                    let env_var = pkg.get(&[env, "use_env_variable"]).and_then(Value::as_str).map(str::to_owned);
                    let line = pkg.line(&[env, "dialect"]);
                    out.add_service(service, env_var, cx.evidence(config, line, "node.service.sequelize"));
                }
            }
        }
    }
    let evidence = match (rc, cli) {
        (true, _) => cx.evidence(".sequelizerc", None, "node.migration.sequelize"),
        (false, Some(dep)) => cx.evidence(MANIFEST, dep.line, "node.migration.sequelize"),
        (false, None) => return false,
    };
    out.add_migration("sequelize", command(&["npx", "sequelize-cli", "db:migrate"], evidence));
    true
}

const DRIZZLE_CONFIGS: &[&str] =
    &["drizzle.config.ts", "drizzle.config.js", "drizzle.config.mjs", "drizzle.config.cjs"];

/// drizzle-kit: `dialect: "postgresql"` (or the older `driver: "pg"`) in its config.
fn drizzle(cx: &ProjectContext<'_>, out: &mut Findings) -> bool {
    let Some(file) = DRIZZLE_CONFIGS.iter().find(|f| cx.has(f)) else { return false };
    let Some(text) = cx.read(file) else { return false };
    let dialect = string_after_key(&text.content, "dialect").or_else(|| string_after_key(&text.content, "driver"));
    let line = dialect.as_ref().map(|(_, at)| line_at(&text.content, *at));
    let service = dialect.as_ref().and_then(|(d, _)| match d.as_str() {
        "postgresql" | "pg" => Some(ServiceKind::Postgres),
        "mysql" | "mysql2" => Some(ServiceKind::Mysql),
        _ => None,
    });
    if let Some(service) = service {
        let env_var = env_after_key(&text.content, "dbCredentials");
        out.add_service(service, env_var, cx.evidence(file, line, "node.service.drizzle"));
    }
    out.add_migration(
        "drizzle",
        command(&["npx", "drizzle-kit", "migrate"], cx.evidence(file, line, "node.migration.drizzle")),
    );
    true
}

/// The string value of the first `key: 'value'` in JavaScript source, with its offset.
fn string_after_key(source: &str, key: &str) -> Option<(String, usize)> {
    let mut from = 0;
    while let Some(i) = source[from..].find(key) {
        let at = from + i;
        from = at + key.len();
        let before = source[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = source[from..].trim_start_matches(['"', '\'']).trim_start();
        let Some(rest) = rest.strip_prefix(':') else { continue };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'' | '`')) else { continue };
        let value = rest[1..].split(quote).next()?;
        return Some((value.to_owned(), at));
    }
    None
}

/// The first `process.env.NAME` after `key`, for the variable a connection is read from.
fn env_after_key(source: &str, key: &str) -> Option<String> {
    let rest = &source[source.find(key)?..];
    let rest = &rest[rest.find("process.env.")? + "process.env.".len()..];
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

// ---- start, build and ports ---------------------------------------------------------------

/// The command a framework serves with when the manifest has no start script, and the build
/// it needs first.
fn framework_commands(
    cx: &ProjectContext<'_>,
    framework: Framework,
) -> Option<(&'static [&'static str], Option<&'static [&'static str]>)> {
    Some(match framework {
        Framework::NextJs => (&["npx", "next", "start"], Some(&["npx", "next", "build"])),
        Framework::Nuxt => (&["npx", "nuxt", "start"], Some(&["npx", "nuxt", "build"])),
        Framework::Astro => (&["npx", "astro", "preview"], Some(&["npx", "astro", "build"])),
        Framework::NestJs => (&["npx", "nest", "start"], None),
        Framework::SvelteKit => (&["npx", "vite", "preview"], Some(&["npx", "vite", "build"])),
        Framework::Remix if has_vite_config(cx) => {
            (&["npx", "remix-serve", "build/server/index.js"], Some(&["npx", "remix", "vite:build"]))
        }
        Framework::Remix => (&["npx", "remix-serve", "build/index.js"], Some(&["npx", "remix", "build"])),
        _ => return None,
    })
}

fn has_vite_config(cx: &ProjectContext<'_>) -> bool {
    ["vite.config.ts", "vite.config.js", "vite.config.mjs", "vite.config.mts"].iter().any(|f| cx.has(f))
}

/// Frameworks whose production start serves the output of a build.
fn needs_build(framework: Framework) -> bool {
    matches!(
        framework,
        Framework::NextJs
            | Framework::Nuxt
            | Framework::Remix
            | Framework::Astro
            | Framework::SvelteKit
            | Framework::NestJs
    )
}

/// How a package manager runs a script, as people type it.
fn run_script(pm: PackageManager, script: &Script, rule: &str, cx: &ProjectContext<'_>) -> Command {
    let name = script.name.as_str();
    let argv: Vec<&str> = match pm {
        PackageManager::Yarn => vec!["yarn", name],
        PackageManager::Pnpm => vec!["pnpm", name],
        PackageManager::Bun => vec!["bun", "run", name],
        _ if name == "start" => vec!["npm", "start"],
        _ => vec!["npm", "run", name],
    };
    command(&argv, cx.evidence(MANIFEST, script.line, rule))
}

fn starts(
    cx: &ProjectContext<'_>,
    pkg: &PackageJson,
    deps: &[Dep],
    frameworks: &[(Framework, Option<u32>)],
    pm: PackageManager,
    out: &mut Findings,
) {
    // The text of the best start candidate, to read the port from and to tell whether it
    // serves a build.
    let mut best: Option<String> = None;
    let mut build_first = false;

    if let Some(script) = pkg.script(cx, "start") {
        out.add_start(priority::MANIFEST_SCRIPT, run_script(pm, &script, "node.start.script", cx));
        // A start script that runs a dev server (`next dev`, `nest start --watch`) builds itself.
        let dev = script.text.split_whitespace().any(|w| matches!(w, "dev" | "--watch" | "vite:dev"));
        build_first = (!dev && frameworks.iter().any(|(f, _)| needs_build(*f))) || runs_missing_file(cx, &script.text);
        script_port(cx, &script, out);
        best = Some(script.text);
    } else if let Some((framework, line, (run, build))) =
        frameworks.iter().find_map(|(f, line)| framework_commands(cx, *f).map(|c| (*f, *line, c)))
    {
        let rule = format!("node.start.{}", framework.as_str().replace('-', "_"));
        let cmd = command(run, cx.evidence(MANIFEST, line, &rule));
        best = Some(cmd.display.clone());
        out.add_start(priority::FRAMEWORK, cmd);
        match (build, pkg.script(cx, "build")) {
            (Some(_), Some(_)) => build_first = true,
            (Some(build), None) => {
                out.add_build(priority::FRAMEWORK, command(build, cx.evidence(MANIFEST, line, "node.build.framework")))
            }
            (None, _) => {}
        }
    }

    if !out.workspace_root {
        let server = frameworks.iter().any(|(f, _)| SERVER_FRAMEWORKS.iter().any(|(_, s)| s == f));
        if let Some(cmd) = entry_command(cx, pkg, deps, server || out.has_ports(), out) {
            // `npm start` running `node server.js` makes `node server.js` no alternative.
            let file = cmd.argv.last().map(|f| f.as_str()).unwrap_or_default();
            if !best.as_deref().is_some_and(|b| b.split_whitespace().any(|w| w.trim_start_matches("./") == file)) {
                best.get_or_insert_with(|| cmd.display.clone());
                out.add_start(priority::CONVENTION, cmd);
            }
        }
        // A workspace root's dev script usually starts every member at once: the members
        // are the projects to run.
        if let Some(script) = pkg.script(cx, "dev") {
            out.add_start(priority::DEV_SCRIPT, run_script(pm, &script, "node.start.dev_script", cx));
            if best.is_none() {
                script_port(cx, &script, out);
                best = Some(script.text);
            }
        }
    }
    if build_first {
        if let Some(script) = pkg.script(cx, "build") {
            out.add_build(priority::MANIFEST_SCRIPT, run_script(pm, &script, "node.build.script", cx));
        }
    }
    if let Some(best) = best {
        default_port(cx, frameworks, &best, out);
    } else if frameworks.is_empty()
        && !["main", "exports", "bin", "dependencies"].iter().any(|k| pkg.root.contains_key(*k))
    {
        // A package.json that only holds tooling (linters, formatters) beside an index.html.
        static_site(cx, out);
    }
}

/// A plain static site: an `index.html` with nothing to build or start, served by `serve`
/// (which reads `PORT`, 3000 by default).
fn static_site(cx: &ProjectContext<'_>, out: &mut Findings) {
    if !cx.has("index.html") {
        return;
    }
    out.add_framework(Framework::StaticSite, cx.evidence("index.html", None, "node.framework.static"));
    out.add_start(
        priority::CONVENTION,
        command(&["npx", "serve", "."], cx.evidence("index.html", None, "node.start.static")),
    );
    if !out.has_ports() {
        out.add_port(3000, Some("PORT".into()), cx.evidence("index.html", None, "node.port.default"));
    }
}

/// `node <file>` for `main` or the first conventional entry file that exists. `main` and
/// `index.*` are also what a library exports, so they count only for a server (a server
/// framework, or code that listens); `server.*` and `app.*` count anyway. TypeScript runs
/// through `tsx` or `ts-node` when the project has one, and is left to its scripts otherwise.
fn entry_command(
    cx: &ProjectContext<'_>,
    pkg: &PackageJson,
    deps: &[Dep],
    server: bool,
    out: &mut Findings,
) -> Option<Command> {
    let main = pkg.string(cx, &["main"]).map(|m| m.trim_start_matches("./")).and_then(|main| {
        let candidates = [main.to_owned(), format!("{main}.js"), format!("{main}/index.js")];
        candidates.into_iter().find(|f| cx.has(f))
    });
    let (file, evidence) = match main {
        Some(file) if server => (file, cx.evidence(MANIFEST, pkg.line(&["main"]), "node.start.main")),
        _ => {
            let file = CONVENTIONAL_ENTRIES.iter().find(|f| cx.has(f))?;
            let name = file.rsplit('/').next().unwrap_or(file);
            if !(server || name.starts_with("server.") || name.starts_with("app.")) {
                return None;
            }
            ((*file).to_owned(), cx.evidence(file, None, "node.start.convention"))
        }
    };
    let typescript = matches!(file.rsplit('.').next(), Some("ts" | "mts" | "cts"));
    let runner = ["tsx", "ts-node"].into_iter().find(|r| find(deps, r).is_some());
    let cmd = match (typescript, runner) {
        (false, _) => command(&["node", &file], evidence.clone()),
        (true, Some(runner)) => command(&["npx", runner, &file], evidence.clone()),
        (true, None) => return None,
    };
    out.add_entry_point(cx.path(&file), evidence);
    Some(cmd)
}

/// Whether a script runs `node <file>` on a file the repository lacks: build output.
fn runs_missing_file(cx: &ProjectContext<'_>, script: &str) -> bool {
    let mut words = script.split_whitespace().skip_while(|w| *w != "node").skip(1);
    let Some(file) = words.find(|w| !w.starts_with('-')) else { return false };
    let file = file.trim_start_matches("./");
    ![file.to_owned(), format!("{file}.js"), format!("{file}/index.js")].iter().any(|f| cx.has(f))
}

/// `--port 4000`, `-p 4000`, `--port=4000` or `PORT=4000` in the script that starts the app.
fn script_port(cx: &ProjectContext<'_>, script: &Script, out: &mut Findings) {
    let words: Vec<&str> = script.text.split_whitespace().collect();
    let port = words.iter().enumerate().find_map(|(i, w)| {
        let value = match *w {
            "--port" | "-p" => words.get(i + 1).copied(),
            _ => w.strip_prefix("--port=").or_else(|| w.strip_prefix("PORT=")),
        };
        value?.parse::<u16>().ok().filter(|p| *p > 0)
    });
    if let Some(port) = port {
        out.add_port(port, None, cx.evidence(MANIFEST, script.line, "node.port.script"));
    }
}

/// The port a framework serves on when neither the code nor the script names one, and
/// whether it honours `PORT`.
fn default_port(cx: &ProjectContext<'_>, frameworks: &[(Framework, Option<u32>)], start: &str, out: &mut Findings) {
    if out.has_ports() {
        return;
    }
    let preview = start.contains("preview");
    let port = frameworks.iter().find_map(|&(f, line)| {
        let (port, reads_env) = match f {
            Framework::NextJs | Framework::Nuxt | Framework::CreateReactApp => (3000, true),
            Framework::Remix if start.contains("vite:dev") => (5173, false),
            Framework::Remix => (3000, true),
            Framework::NestJs => (3000, false),
            Framework::Angular => (4200, false),
            Framework::Astro => (4321, false),
            Framework::SvelteKit | Framework::Vite if preview => (4173, false),
            Framework::SvelteKit | Framework::Vite => (5173, false),
            // express-generator's `bin/www` reads PORT and defaults to 3000; it has no
            // extension, so the code scan never reads it.
            Framework::Express if start.contains("bin/www") => (3000, true),
            _ => return None,
        };
        Some((port, reads_env, line))
    });
    if let Some((port, reads_env, line)) = port {
        out.add_port(port, reads_env.then(|| "PORT".to_owned()), cx.evidence(MANIFEST, line, "node.port.default"));
    }
}

#[cfg(test)]
mod tests {
    use crate::detection::testing::{detect_files, detect_fixture, project};
    use crate::plan::{
        Command, Detection, Framework, Language, PackageManager, Project, ProjectRole, ServiceKind, Warning,
    };

    fn start(p: &Project) -> Option<&str> {
        p.start.as_ref().map(|c| c.display.as_str())
    }

    fn build(p: &Project) -> Option<&str> {
        p.build.as_ref().map(|c| c.display.as_str())
    }

    fn alternatives(p: &Project) -> Vec<&str> {
        p.start_alternatives.iter().map(|c| c.display.as_str()).collect()
    }

    fn pms(p: &Project) -> Vec<PackageManager> {
        p.package_managers.iter().map(|f| f.value).collect()
    }

    fn frameworks(p: &Project) -> Vec<Framework> {
        p.frameworks.iter().map(|f| f.value).collect()
    }

    fn ports(p: &Project) -> Vec<(u16, Option<&str>, &str)> {
        p.ports.iter().map(|f| (f.port, f.env_var.as_deref(), f.evidence[0].rule.as_str())).collect()
    }

    fn services(p: &Project) -> Vec<(ServiceKind, Option<&str>)> {
        p.services.iter().map(|s| (s.service, s.env_var.as_deref())).collect()
    }

    fn migrations(p: &Project) -> Vec<(&str, &str)> {
        p.migrations.iter().map(|m| (m.tool.as_str(), m.command.display.as_str())).collect()
    }

    fn has_language(p: &Project, language: Language) -> bool {
        p.languages.iter().any(|l| l.language == language)
    }

    fn rule(c: &Command) -> (&str, Option<u32>, &str) {
        (c.evidence.file.as_str(), c.evidence.line, c.evidence.rule.as_str())
    }

    fn root(d: &Detection) -> &Project {
        project(d, ".")
    }

    fn one(package_json: &str) -> Detection {
        detect_files(&[("package.json", package_json)])
    }

    // ---- fixtures ----------------------------------------------------------------------

    #[test]
    fn fixture_express_postgres() {
        let d = detect_fixture("node-express-postgres");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(p.name, "todo-api");
        assert_eq!(p.role, ProjectRole::App);
        assert!(has_language(p, Language::JavaScript));
        assert_eq!(pms(p), [PackageManager::Npm]);
        assert_eq!(p.package_managers[0].evidence[0].file, "package-lock.json");
        assert_eq!(frameworks(p), [Framework::Express]);
        assert_eq!(p.frameworks[0].evidence[0].line, Some(12));
        assert_eq!(start(p), Some("npm start"));
        assert_eq!(rule(p.start.as_ref().unwrap()), ("package.json", Some(7), "node.start.script"));
        // `npm start` runs `node server.js`, so it is no alternative; the dev script is.
        assert_eq!(alternatives(p), ["npm run dev"]);
        assert_eq!(build(p), None);
        assert_eq!(ports(p), [(3000, Some("PORT"), "code.javascript.port")]);
        assert_eq!(services(p), [(ServiceKind::Postgres, Some("DATABASE_URL"))]);
        assert_eq!(migrations(p), [("knex", "npx knex migrate:latest")]);
        let pg = p.dependencies.iter().find(|d| d.name == "pg").unwrap();
        assert_eq!(
            (pg.ecosystem, pg.version.as_deref(), pg.dev, pg.evidence.line),
            ("node", Some("^8.8.0"), false, Some(14))
        );
        assert!(p.dependencies.iter().any(|d| d.name == "nodemon" && d.dev));
    }

    #[test]
    fn fixture_fastify_redis() {
        let d = detect_fixture("node-fastify-redis");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(p.name, "rate-limiter");
        assert_eq!(pms(p), [PackageManager::Pnpm]);
        assert_eq!(frameworks(p), [Framework::Fastify]);
        assert_eq!(start(p), Some("pnpm start"));
        assert_eq!(ports(p), [(8080, Some("PORT"), "code.javascript.port")]);
        assert_eq!(services(p), [(ServiceKind::Redis, None)]);
        assert_eq!(p.services[0].evidence[0].rule, "node.service.dependency");
        assert!(p.migrations.is_empty());
    }

    #[test]
    fn fixture_nestjs() {
        let d = detect_fixture("node-nestjs");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(p.languages[0].language, Language::TypeScript);
        let ts_rules: Vec<_> = p.languages[0].evidence.iter().map(|e| e.rule.as_str()).collect();
        assert_eq!(ts_rules, ["node.lang.tsconfig", "node.lang.typescript"]);
        assert!(!has_language(p, Language::JavaScript));
        assert_eq!(pms(p), [PackageManager::Yarn]);
        assert_eq!(frameworks(p), [Framework::NestJs]);
        assert_eq!(start(p), Some("yarn start"));
        assert_eq!(build(p), Some("yarn build"));
        assert_eq!(ports(p), [(3000, None, "code.javascript.port")]);
        assert_eq!(p.ports[0].evidence[0].file, "src/main.ts");
    }

    #[test]
    fn fixture_nextjs() {
        let d = detect_fixture("node-nextjs");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(p.name, "marketing-site");
        assert_eq!(frameworks(p), [Framework::NextJs]);
        assert_eq!(start(p), Some("npm start"));
        assert_eq!(alternatives(p), ["npm run dev"]);
        assert_eq!(build(p), Some("npm run build"));
        assert_eq!(rule(p.build.as_ref().unwrap()), ("package.json", Some(7), "node.build.script"));
        assert_eq!(ports(p), [(3000, Some("PORT"), "node.port.default")]);
    }

    #[test]
    fn fixture_vite_static() {
        let d = detect_fixture("node-vite-static");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(frameworks(p), [Framework::Vite]);
        assert_eq!(pms(p), [PackageManager::Npm]);
        assert_eq!(p.package_managers[0].evidence[0].rule, "node.pm.default");
        assert_eq!(start(p), Some("npm run dev"));
        assert_eq!(rule(p.start.as_ref().unwrap()).2, "node.start.dev_script");
        assert_eq!(build(p), None);
        assert_eq!(ports(p), [(5173, None, "node.port.default")]);
        assert_eq!(p.role, ProjectRole::App);
    }

    #[test]
    fn fixture_prisma_postgres() {
        let d = detect_fixture("node-prisma-postgres");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert!(p.frameworks.is_empty());
        assert_eq!(p.role, ProjectRole::App);
        assert_eq!(start(p), Some("npm start"));
        assert_eq!(services(p), [(ServiceKind::Postgres, Some("DATABASE_URL"))]);
        let e = &p.services[0].evidence[0];
        assert_eq!(
            (e.file.as_str(), e.line, e.rule.as_str()),
            ("prisma/schema.prisma", Some(5), "node.service.prisma")
        );
        assert_eq!(migrations(p), [("prisma", "npx prisma migrate deploy")]);
        assert_eq!(ports(p), [(4000, Some("PORT"), "code.javascript.port")]);
    }

    #[test]
    fn fixture_monorepo_pnpm() {
        let d = detect_fixture("node-monorepo-pnpm");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let paths: Vec<_> = d.projects.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, [".", "apps/api", "apps/web", "packages/shared"]);

        let r = root(&d);
        assert_eq!(r.role, ProjectRole::WorkspaceRoot);
        assert_eq!(start(r), None, "the root's dev script starts every member");
        let rules: Vec<_> = r.package_managers[0].evidence.iter().map(|e| e.rule.as_str()).collect();
        assert_eq!(rules, ["node.pm.package_manager_field", "node.pm.lockfile"]);

        let api = project(&d, "apps/api");
        assert_eq!(api.name, "@acme/api");
        assert_eq!(api.role, ProjectRole::App);
        assert_eq!(pms(api), [PackageManager::Pnpm]);
        assert!(api.package_managers[0].evidence.iter().any(|e| e.file == "pnpm-lock.yaml"));
        assert_eq!(frameworks(api), [Framework::Express]);
        assert_eq!(start(api), Some("pnpm start"));
        assert_eq!(services(api), [(ServiceKind::Mongodb, None)]);
        assert_eq!(ports(api), [(4000, Some("PORT"), "code.javascript.port")]);

        let web = project(&d, "apps/web");
        assert_eq!(frameworks(web), [Framework::NextJs]);
        assert_eq!(start(web), Some("pnpm start"));
        assert_eq!(build(web), Some("pnpm build"));
        assert_eq!(ports(web), [(3001, None, "node.port.script")]);

        let shared = project(&d, "packages/shared");
        assert_eq!(shared.name, "@acme/shared");
        assert_eq!(shared.role, ProjectRole::Library);
        assert_eq!(start(shared), None);
        assert_eq!(pms(shared), [PackageManager::Pnpm]);
    }

    #[test]
    fn fixture_malformed() {
        let d = detect_fixture("node-malformed");
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        let w = &d.warnings[0];
        assert_eq!((w.file.as_str(), w.line), ("package.json", Some(6)));
        assert!(w.message.contains("malformed JSON"), "{}", w.message);
        // The rest of the project is still seen: lock file, code, conventional entry.
        let p = root(&d);
        assert_eq!(p.name, "node-malformed");
        assert_eq!(pms(p), [PackageManager::Npm]);
        assert_eq!(p.package_managers[0].evidence[0].rule, "node.pm.lockfile");
        assert_eq!(start(p), Some("node server.js"));
        assert_eq!(rule(p.start.as_ref().unwrap()), ("server.js", None, "node.start.convention"));
        assert_eq!(ports(p), [(8080, None, "code.javascript.port")]);
    }

    // ---- bad input ---------------------------------------------------------------------

    fn warnings(d: &Detection) -> Vec<(&str, Option<u32>, &str)> {
        d.warnings.iter().map(|w: &Warning| (w.file.as_str(), w.line, w.message.as_str())).collect()
    }

    #[test]
    fn start_script_that_is_not_a_string_is_reported() {
        let d = one("{\n  \"name\": \"x\",\n  \"scripts\": {\n    \"start\": [\"node\", \"a.js\"]\n  }\n}\n");
        assert_eq!(
            warnings(&d),
            [("package.json", Some(4), "`scripts.start` should be a string, found an array: ignored")]
        );
        let p = root(&d);
        assert_eq!(start(p), None);
        assert_eq!(p.name, "x");
    }

    #[test]
    fn scripts_that_are_not_an_object_are_reported() {
        let d = one("{\n  \"scripts\": \"node a.js\"\n}\n");
        assert_eq!(warnings(&d), [("package.json", Some(2), "`scripts` should be an object, found a string: ignored")]);
        assert_eq!(start(root(&d)), None);
    }

    #[test]
    fn dependencies_that_are_not_an_object_are_reported() {
        let d = one(
            "{\n  \"name\": \"x\",\n  \"dependencies\": [\"express\"],\n  \"devDependencies\": { \"vitest\": \"^1\" }\n}\n",
        );
        assert_eq!(
            warnings(&d),
            [("package.json", Some(3), "`dependencies` should be an object, found an array: ignored")]
        );
        let p = root(&d);
        assert!(p.frameworks.is_empty());
        let names: Vec<_> = p.dependencies.iter().map(|d| (d.name.as_str(), d.dev)).collect();
        assert_eq!(names, [("vitest", true)]);
    }

    #[test]
    fn a_package_json_that_is_an_array_is_reported() {
        let d = detect_files(&[("package.json", "[1, 2]\n"), ("yarn.lock", "")]);
        assert_eq!(warnings(&d), [("package.json", Some(1), "expected a JSON object, found an array: ignored")]);
        let p = root(&d);
        assert_eq!(pms(p), [PackageManager::Yarn]);
        assert_eq!(p.role, ProjectRole::Library);
    }

    #[test]
    fn an_empty_package_json_is_reported() {
        let d = detect_files(&[("package.json", ""), ("server.js", "require('http').createServer().listen(5000);\n")]);
        assert_eq!(warnings(&d), [("package.json", None, "empty file: read as `{}`")]);
        let p = root(&d);
        assert_eq!(pms(p), [PackageManager::Npm]);
        assert_eq!(start(p), Some("node server.js"));
        assert_eq!(ports(p), [(5000, None, "code.javascript.port")]);
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let d = one("\u{feff}{ \"name\": \"bom\" }\n");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        assert_eq!(root(&d).name, "bom");
    }

    #[test]
    fn a_binary_bun_lockb_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("package.json"), r#"{ "scripts": { "start": "bun index.ts" } }"#).unwrap();
        std::fs::write(dir.path().join("bun.lockb"), b"\x00\xff\xfe#!bun-lockfile\x00\x01\x02").unwrap();
        let d = crate::detection::detect(&crate::repo::RepoView::open(dir.path()).unwrap());
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(pms(p), [PackageManager::Bun]);
        assert_eq!(start(p), Some("bun run start"));
    }

    #[test]
    fn an_unknown_package_manager_field_is_reported() {
        let d = one("{\n  \"packageManager\": \"deno@2.0.0\"\n}\n");
        assert_eq!(warnings(&d), [("package.json", Some(2), "unknown packageManager `deno@2.0.0`: ignored")]);
        assert_eq!(root(&d).package_managers[0].evidence[0].rule, "node.pm.default");
    }

    // ---- package managers --------------------------------------------------------------

    #[test]
    fn lock_files_name_the_package_manager() {
        for (lock, pm, cmd) in [
            ("package-lock.json", PackageManager::Npm, "npm start"),
            ("npm-shrinkwrap.json", PackageManager::Npm, "npm start"),
            ("yarn.lock", PackageManager::Yarn, "yarn start"),
            ("pnpm-lock.yaml", PackageManager::Pnpm, "pnpm start"),
            ("bun.lock", PackageManager::Bun, "bun run start"),
        ] {
            let d = detect_files(&[("package.json", r#"{"scripts": {"start": "node a.js"}}"#), (lock, "{}")]);
            let p = root(&d);
            assert_eq!(pms(p), [pm], "{lock}");
            assert_eq!(p.package_managers[0].evidence[0].rule, "node.pm.lockfile");
            assert_eq!(start(p), Some(cmd), "{lock}");
        }
    }

    #[test]
    fn the_package_manager_field_wins_over_lock_files() {
        let d = detect_files(&[
            (
                "package.json",
                "{\n  \"packageManager\": \"yarn@4.1.0+sha512.abc\",\n  \"scripts\": {\"dev\": \"vite\"}\n}",
            ),
            ("package-lock.json", "{}"),
        ]);
        let p = root(&d);
        assert_eq!(pms(p), [PackageManager::Npm, PackageManager::Yarn]);
        assert_eq!(start(p), Some("yarn dev"));
        let field = &p.package_managers[1].evidence[0];
        assert_eq!((field.line, field.rule.as_str()), (Some(2), "node.pm.package_manager_field"));
    }

    #[test]
    fn without_lock_or_field_npm_is_the_default() {
        let d = one(r#"{"scripts": {"start": "node a.js"}}"#);
        let p = root(&d);
        assert_eq!(pms(p), [PackageManager::Npm]);
        let e = &p.package_managers[0].evidence[0];
        assert_eq!((e.file.as_str(), e.line, e.rule.as_str()), ("package.json", None, "node.pm.default"));
    }

    #[test]
    fn workspace_members_use_the_root_lock_file() {
        let d = detect_files(&[
            ("package.json", r#"{"name": "root", "workspaces": ["packages/*"]}"#),
            ("yarn.lock", ""),
            ("packages/a/package.json", r#"{"name": "a", "scripts": {"start": "node a.js"}}"#),
        ]);
        assert!(root(&d).name == "root" && root(&d).role == ProjectRole::WorkspaceRoot);
        let a = project(&d, "packages/a");
        assert_eq!(pms(a), [PackageManager::Yarn]);
        assert_eq!(a.package_managers[0].evidence[0].file, "yarn.lock");
        assert_eq!(start(a), Some("yarn start"));
    }

    #[test]
    fn pnpm_workspace_yaml_makes_a_workspace_root() {
        let d = detect_files(&[("package.json", r#"{"name": "root"}"#), ("pnpm-workspace.yaml", "packages: []\n")]);
        assert_eq!(root(&d).role, ProjectRole::WorkspaceRoot);
        let d = one(r#"{"name": "plain"}"#);
        assert_eq!(root(&d).role, ProjectRole::Library);
    }

    // ---- frameworks and languages ------------------------------------------------------

    fn framework_of(deps: &str, extra: &[(&str, &str)]) -> Vec<Framework> {
        let manifest = format!(r#"{{"dependencies": {{{deps}}}}}"#);
        let mut files = vec![("package.json", manifest.as_str())];
        files.extend_from_slice(extra);
        frameworks(root(&detect_files(&files)))
    }

    #[test]
    fn frameworks_from_dependencies() {
        for (dep, framework) in [
            ("express", Framework::Express),
            ("fastify", Framework::Fastify),
            ("koa", Framework::Koa),
            ("@hapi/hapi", Framework::Hapi),
            ("@nestjs/core", Framework::NestJs),
            ("next", Framework::NextJs),
            ("nuxt", Framework::Nuxt),
            ("@remix-run/node", Framework::Remix),
            ("astro", Framework::Astro),
            ("@sveltejs/kit", Framework::SvelteKit),
            ("react-scripts", Framework::CreateReactApp),
            ("@angular/core", Framework::Angular),
        ] {
            assert_eq!(framework_of(&format!(r#""{dep}": "*""#), &[]), [framework], "{dep}");
        }
        assert!(framework_of(r#""@remix-run/router": "*", "lodash": "*""#, &[]).is_empty());
    }

    #[test]
    fn a_server_framework_in_dev_dependencies_is_not_a_server() {
        let d = one(r#"{"main": "index.js", "devDependencies": {"express": "^4", "supertest": "^6"}}"#);
        let p = root(&d);
        assert!(p.frameworks.is_empty());
        assert_eq!(p.role, ProjectRole::Library);
        let d = one(r#"{"devDependencies": {"next": "14"}}"#);
        assert_eq!(frameworks(root(&d)), [Framework::NextJs]);
    }

    #[test]
    fn vite_is_an_app_only_with_index_html_and_no_other_framework() {
        assert!(framework_of(r#""vite": "^5""#, &[]).is_empty());
        assert_eq!(framework_of(r#""vite": "^5""#, &[("index.html", "<html></html>")]), [Framework::Vite]);
        let with_kit = framework_of(r#""@sveltejs/kit": "^2", "vite": "^5""#, &[("index.html", "")]);
        assert_eq!(with_kit, [Framework::SvelteKit]);
    }

    #[test]
    fn typescript_from_a_dependency_alone() {
        let d = one(r#"{"devDependencies": {"typescript": "^5"}}"#);
        let p = root(&d);
        assert!(has_language(p, Language::TypeScript));
        assert!(!has_language(p, Language::JavaScript));
        assert_eq!(p.languages[0].evidence[0].rule, "node.lang.typescript");
        assert!(has_language(root(&one("{}")), Language::JavaScript));
    }

    // ---- start, build, ports -----------------------------------------------------------

    #[test]
    fn a_framework_without_start_script_serves_itself() {
        let d = one(r#"{"dependencies": {"next": "14"}}"#);
        let p = root(&d);
        assert_eq!(start(p), Some("npx next start"));
        assert_eq!(rule(p.start.as_ref().unwrap()).2, "node.start.nextjs");
        assert_eq!(build(p), Some("npx next build"));
        assert_eq!(ports(p), [(3000, Some("PORT"), "node.port.default")]);

        let d = one(r#"{"scripts": {"build": "astro build"}, "dependencies": {"astro": "4"}}"#);
        let p = root(&d);
        assert_eq!(start(p), Some("npx astro preview"));
        assert_eq!(build(p), Some("npm run build"));
        assert_eq!(ports(p), [(4321, None, "node.port.default")]);

        let d = one(r#"{"dependencies": {"@nestjs/core": "10"}}"#);
        assert_eq!((start(root(&d)), build(root(&d))), (Some("npx nest start"), None));
    }

    #[test]
    fn remix_serves_its_build() {
        let d = detect_files(&[
            ("package.json", r#"{"dependencies": {"@remix-run/node": "2", "@remix-run/serve": "2"}}"#),
            ("vite.config.ts", "export default {};\n"),
        ]);
        let p = root(&d);
        assert_eq!(start(p), Some("npx remix-serve build/server/index.js"));
        assert_eq!(build(p), Some("npx remix vite:build"));
        assert_eq!(ports(p), [(3000, Some("PORT"), "node.port.default")]);
    }

    #[test]
    fn default_ports_by_framework() {
        let cases = [
            (r#""@angular/core": "17""#, r#""start": "ng serve""#, 4200),
            (r#""react-scripts": "5""#, r#""start": "react-scripts start""#, 3000),
            // Without a start script SvelteKit is served by `npx vite preview`, not the dev script.
            (r#""@sveltejs/kit": "2""#, r#""dev": "vite dev""#, 4173),
            (r#""@sveltejs/kit": "2""#, r#""start": "vite dev""#, 5173),
            (r#""@sveltejs/kit": "2""#, r#""start": "vite preview""#, 4173),
            (r#""express": "4""#, r#""start": "node ./bin/www""#, 3000),
        ];
        for (deps, scripts, port) in cases {
            let d = one(&format!(r#"{{"scripts": {{{scripts}}}, "dependencies": {{{deps}}}}}"#));
            assert_eq!(root(&d).ports.iter().map(|p| p.port).collect::<Vec<_>>(), [port], "{deps} {scripts}");
        }
        // Express on its own has no default: the code says where it listens, or nothing does.
        let d = one(r#"{"scripts": {"start": "node a.js"}, "dependencies": {"express": "4"}}"#);
        assert!(root(&d).ports.is_empty());
    }

    #[test]
    fn a_port_in_code_or_script_replaces_the_default() {
        let d = detect_files(&[
            ("package.json", r#"{"scripts": {"start": "next start -p 8000"}, "dependencies": {"next": "14"}}"#),
            ("pages/index.js", "export default () => null;\n"),
        ]);
        assert_eq!(ports(root(&d)), [(8000, None, "node.port.script")]);
        let d = detect_files(&[
            ("package.json", r#"{"scripts": {"start": "nest start"}, "dependencies": {"@nestjs/core": "10"}}"#),
            ("src/main.ts", "await app.listen(4500);\n"),
        ]);
        assert_eq!(ports(root(&d)), [(4500, None, "code.javascript.port")]);
        for script in ["vite --port=5000", "PORT=5000 node a.js", "serve --port 5000"] {
            let d = one(&format!(r#"{{"scripts": {{"start": "{script}"}}}}"#));
            assert_eq!(ports(root(&d)), [(5000, None, "node.port.script")], "{script}");
        }
    }

    #[test]
    fn main_starts_a_server_but_not_a_library() {
        let server = detect_files(&[
            ("package.json", "{\n  \"main\": \"lib/app\",\n  \"dependencies\": {\"koa\": \"2\"}\n}"),
            ("lib/app.js", "module.exports = 1;\n"),
        ]);
        let p = root(&server);
        assert_eq!(start(p), Some("node lib/app.js"));
        assert_eq!(rule(p.start.as_ref().unwrap()), ("package.json", Some(2), "node.start.main"));
        assert_eq!(p.entry_points[0].file, "lib/app.js");

        let library = detect_files(&[
            ("package.json", r#"{"name": "left-pad", "main": "index.js"}"#),
            ("index.js", "module.exports = (s) => s;\n"),
        ]);
        let p = root(&library);
        assert_eq!((start(p), p.role), (None, ProjectRole::Library));
    }

    #[test]
    fn conventional_server_files_start_without_a_script() {
        let d = detect_files(&[("package.json", "{}"), ("app.js", "console.log('hi');\n")]);
        assert_eq!(start(root(&d)), Some("node app.js"));
        let d = detect_files(&[("package.json", "{}"), ("index.js", "console.log('hi');\n")]);
        assert_eq!(start(root(&d)), None);
    }

    #[test]
    fn typescript_entries_need_a_runner() {
        let files = |deps: &'static str| {
            detect_files(&[
                ("package.json", deps),
                ("src/index.ts", "import http from 'http';\nhttp.createServer().listen(3000);\n"),
            ])
        };
        assert_eq!(start(root(&files(r#"{"devDependencies": {"tsx": "4"}}"#))), Some("npx tsx src/index.ts"));
        assert_eq!(start(root(&files(r#"{"devDependencies": {"ts-node": "10"}}"#))), Some("npx ts-node src/index.ts"));
        assert_eq!(start(root(&files("{}"))), None);
    }

    #[test]
    fn a_start_script_on_build_output_needs_the_build() {
        let d = one(r#"{"scripts": {"build": "tsc", "start": "node dist/index.js"}}"#);
        assert_eq!((start(root(&d)), build(root(&d))), (Some("npm start"), Some("npm run build")));
        let d = detect_files(&[
            ("package.json", r#"{"scripts": {"build": "tsc", "start": "node server.js"}}"#),
            ("server.js", ""),
        ]);
        assert_eq!(build(root(&d)), None);
    }

    #[test]
    fn a_dev_server_as_start_script_needs_no_build() {
        let d = one(r#"{"scripts": {"start": "next dev", "build": "next build"}, "dependencies": {"next": "14"}}"#);
        assert_eq!((start(root(&d)), build(root(&d))), (Some("npm start"), None));
    }

    #[test]
    fn the_dev_script_is_a_last_resort() {
        let d = one(r#"{"scripts": {"dev": "nodemon a.js", "start": "node a.js"}}"#);
        let p = root(&d);
        assert_eq!(start(p), Some("npm start"));
        assert_eq!(alternatives(p), ["npm run dev"]);
    }

    // ---- databases ---------------------------------------------------------------------

    #[test]
    fn services_from_dependencies() {
        let d = one(r#"{"dependencies": {"mysql2": "3", "amqplib": "0.10", "lodash": "4"}}"#);
        assert_eq!(services(root(&d)), [(ServiceKind::Mysql, None), (ServiceKind::Rabbitmq, None)]);
    }

    #[test]
    fn prisma_schema_path_from_package_json_and_db_push_without_migrations() {
        let d = detect_files(&[
            ("package.json", r#"{"prisma": {"schema": "db/schema.prisma"}}"#),
            ("db/schema.prisma", "datasource main {\n  provider = \"mysql\" // mysql 8\n  url = env(\"DB_URL\")\n}\n"),
        ]);
        let p = root(&d);
        assert_eq!(services(p), [(ServiceKind::Mysql, Some("DB_URL"))]);
        assert_eq!(migrations(p), [("prisma", "npx prisma db push")]);
    }

    #[test]
    fn prisma_sqlite_needs_no_service_and_a_schema_without_datasource_is_reported() {
        let d = detect_files(&[
            ("package.json", "{}"),
            ("prisma/schema.prisma", "datasource db {\n  provider = \"sqlite\"\n  url = \"file:./dev.db\"\n}\n"),
        ]);
        assert!(root(&d).services.is_empty());
        assert_eq!(migrations(root(&d)), [("prisma", "npx prisma db push")]);
        let d = detect_files(&[("package.json", "{}"), ("schema.prisma", "model A { id Int @id }\n")]);
        assert_eq!(d.warnings.len(), 1);
        assert_eq!(d.warnings[0].file, "schema.prisma");
        assert!(root(&d).migrations.is_empty());
    }

    #[test]
    fn knex_client_names_the_database() {
        let d = detect_files(&[
            ("package.json", "{}"),
            ("knexfile.ts", "export default {\n  client: \"mysql2\",\n  connection: process.env.MYSQL_URL,\n};\n"),
        ]);
        let p = root(&d);
        assert_eq!(services(p), [(ServiceKind::Mysql, Some("MYSQL_URL"))]);
        assert_eq!(p.services[0].evidence[0].line, Some(2));
        assert_eq!(migrations(p), [("knex", "npx knex migrate:latest")]);
    }

    #[test]
    fn sequelize_config_and_cli() {
        let config = r#"{
  "development": { "dialect": "postgres", "use_env_variable": "DATABASE_URL" },
  "test": { "dialect": "sqlite" }
}"#;
        let d = detect_files(&[
            ("package.json", r#"{"dependencies": {"sequelize": "6"}, "devDependencies": {"sequelize-cli": "6"}}"#),
            ("config/config.json", config),
        ]);
        let p = root(&d);
        assert_eq!(services(p), [(ServiceKind::Postgres, Some("DATABASE_URL"))]);
        assert_eq!(p.services[0].evidence[0].line, Some(2));
        assert_eq!(migrations(p), [("sequelize", "npx sequelize-cli db:migrate")]);
        // sequelize alone, without the CLI or .sequelizerc, runs no migrations.
        let d = one(r#"{"dependencies": {"sequelize": "6"}}"#);
        assert!(root(&d).migrations.is_empty());
    }

    #[test]
    fn a_migrate_script_without_a_known_tool_runs_through_the_package_manager() {
        let d = one(
            "{\n  \"scripts\": {\n    \"start\": \"node server.js\",\n    \"migrate\": \"node scripts/migrate.js\"\n  }\n}",
        );
        let p = root(&d);
        assert_eq!(migrations(p), [("npm-script", "npm run migrate")]);
        assert_eq!(rule(&p.migrations[0].command), ("package.json", Some(4), "node.migration.npm_script"));
        assert_eq!(p.migrations[0].command.argv, ["npm", "run", "migrate"]);

        // The other conventional names, in order of preference, and the project's package manager.
        let d = detect_files(&[
            ("package.json", r#"{"scripts": {"migrate:latest": "node m.js", "db:migrate": "node-pg-migrate up"}}"#),
            ("pnpm-lock.yaml", ""),
        ]);
        assert_eq!(migrations(root(&d)), [("npm-script", "pnpm run db:migrate")]);
        let d = detect_files(&[("package.json", r#"{"scripts": {"migrate:latest": "node m.js"}}"#), ("yarn.lock", "")]);
        assert_eq!(migrations(root(&d)), [("npm-script", "yarn run migrate:latest")]);
    }

    #[test]
    fn a_migrate_script_of_a_known_tool_or_beside_one_is_not_an_npm_script_migration() {
        // The script runs a tool detected from its own configuration (or that would be).
        let scripts = [
            "knex migrate:latest",
            "npx prisma migrate deploy",
            "sequelize-cli db:migrate",
            "drizzle-kit migrate",
            "bin/rails db:migrate",
            "php artisan migrate",
            "python manage.py migrate",
        ];
        for script in scripts {
            let d = one(&format!(r#"{{"scripts": {{"migrate": "{script}"}}}}"#));
            assert!(root(&d).migrations.is_empty(), "{script}");
        }
        let d = one(r#"{"scripts": {"migrate": "npm run build && ./node_modules/.bin/knex migrate:latest"}}"#);
        assert!(root(&d).migrations.is_empty());
        // A knexfile's migrations win over a script that wraps them.
        let d = detect_files(&[
            ("package.json", r#"{"scripts": {"migrate": "node scripts/migrate.js"}}"#),
            ("knexfile.js", "module.exports = { client: 'pg' };\n"),
        ]);
        assert_eq!(migrations(root(&d)), [("knex", "npx knex migrate:latest")]);
        // Scripts with other names, or none at all, are no migrations; a bad `scripts` warns once.
        assert!(root(&one(r#"{"scripts": {"seed": "node seed.js", "migrations": "ls"}}"#)).migrations.is_empty());
        let d = one(r#"{"scripts": ["migrate"]}"#);
        assert!(root(&d).migrations.is_empty());
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    }

    #[test]
    fn fixture_express_pg_migrate() {
        let d = detect_fixture("node-express-pg-migrate");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = root(&d);
        assert_eq!(p.name, "todo-service");
        assert_eq!(frameworks(p), [Framework::Express]);
        assert_eq!(pms(p), [PackageManager::Npm]);
        assert_eq!(start(p), Some("npm start"));
        assert_eq!(services(p), [(ServiceKind::Postgres, Some("DATABASE_URL"))]);
        assert_eq!(migrations(p), [("npm-script", "npm run migrate")]);
        assert_eq!(rule(&p.migrations[0].command), ("package.json", Some(7), "node.migration.npm_script"));
        assert_eq!(ports(p), [(3000, Some("PORT"), "code.javascript.port")]);
    }

    #[test]
    fn drizzle_config() {
        let d = detect_files(&[
            ("package.json", "{}"),
            (
                "drizzle.config.ts",
                "export default defineConfig({\n  dialect: 'postgresql',\n  dbCredentials: { url: process.env.PG_URL! },\n});\n",
            ),
        ]);
        let p = root(&d);
        assert_eq!(services(p), [(ServiceKind::Postgres, Some("PG_URL"))]);
        assert_eq!(migrations(p), [("drizzle", "npx drizzle-kit migrate")]);
    }

    #[test]
    fn no_package_json_no_node_findings() {
        let d = detect_files(&[("server.js", "require('http').createServer().listen(3000);\n")]);
        let p = root(&d);
        assert!(p.package_managers.is_empty() && p.start.is_none());
    }

    #[test]
    fn a_plain_static_site_is_served() {
        let d = detect_files(&[("index.html", "<html></html>\n"), ("style.css", "body {}\n")]);
        let p = root(&d);
        assert_eq!(frameworks(p), [Framework::StaticSite]);
        assert_eq!(start(p), Some("npx serve ."));
        assert_eq!(ports(p), [(3000, Some("PORT"), "node.port.default")]);
        assert_eq!(p.role, ProjectRole::App);

        let tooling = r#"{"devDependencies": {"prettier": "3"}}"#;
        let d = detect_files(&[("package.json", tooling), ("index.html", "<html></html>\n")]);
        assert_eq!(frameworks(root(&d)), [Framework::StaticSite]);
    }

    #[test]
    fn index_html_beside_something_else_is_not_a_static_site() {
        // A library with a demo page, and a Python app with an index.html.
        let d = detect_files(&[("package.json", r#"{"main": "lib.js"}"#), ("lib.js", ""), ("index.html", "")]);
        assert!(root(&d).frameworks.is_empty());
        let d = detect_files(&[("requirements.txt", "flask\n"), ("index.html", "")]);
        assert!(!root(&d).frameworks.iter().any(|f| f.value == Framework::StaticSite));
        let d = detect_files(&[("package.json", r#"{"scripts": {"start": "node s.js"}}"#), ("index.html", "")]);
        assert!(root(&d).frameworks.is_empty());
    }
}
