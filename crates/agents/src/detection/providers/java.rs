//! Java and Kotlin on the JVM: Maven (`pom.xml`) and Gradle (`build.gradle`, `build.gradle.kts`)
//! with their wrappers, dependencies as `group:artifact`, Spring Boot and Quarkus with their
//! development run goals, and the port and services of `application.properties` / `.yml`.
//!
//! The workspace has no XML crate: `pom.xml` is read by a small element scanner (comments,
//! CDATA, attributes, self-closing tags), which is all a POM uses. Gradle scripts are code;
//! their dependency and plugin declarations are read line by line.

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::detection::manifest::line_of;
use crate::detection::{Findings, ProjectContext, Provider, command, priority};
use crate::plan::{Dependency, Evidence, Framework, Language, PackageManager, ServiceKind, Warning};

use super::docker::yaml_key_line;
use super::services::{service_for_dependency, service_for_url};

pub struct Java;

/// What a build file says, whichever tool it is for.
#[derive(Default)]
struct Build {
    deps: Vec<Dependency>,
    /// Plugin ids (Gradle) or plugin artifact ids (Maven), with their lines.
    plugins: Vec<(String, u32)>,
    /// `group:artifact` of a parent POM or an imported BOM, with its line.
    parents: Vec<(String, u32)>,
}

impl Build {
    fn plugin(&self, names: &[&str]) -> Option<u32> {
        self.plugins
            .iter()
            .filter(|(p, _)| names.iter().any(|n| p == n || p.starts_with(&format!("{n}."))))
            .map(|p| p.1)
            .min()
    }

    /// Earliest line of a dependency, parent or BOM whose `group:artifact` satisfies `f`.
    fn coordinate(&self, f: impl Fn(&str) -> bool) -> Option<u32> {
        let deps = self.deps.iter().filter(|d| !d.dev && f(&d.name)).filter_map(|d| d.evidence.line);
        deps.chain(self.parents.iter().filter(|p| f(&p.0)).map(|p| p.1)).min()
    }

    /// The earliest line that shows a framework: a plugin or a coordinate (a POM's parent
    /// comes before its plugins; a Gradle `plugins {}` block before its dependencies).
    fn earliest(&self, plugins: &[&str], f: impl Fn(&str) -> bool) -> Option<u32> {
        [self.plugin(plugins), self.coordinate(f)].into_iter().flatten().min()
    }
}

impl Provider for Java {
    fn id(&self) -> &'static str {
        "java"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        if let Some(text) = cx.read("pom.xml") {
            let build = maven(cx, &text.content, out);
            let wrapper = if cx.has("mvnw") { "./mvnw" } else { "mvn" };
            if cx.has("mvnw") {
                out.add_package_manager(PackageManager::Maven, cx.evidence("mvnw", None, "java.pm.maven.wrapper"));
            }
            out.add_package_manager(PackageManager::Maven, cx.evidence("pom.xml", None, "java.pm.maven"));
            from_build(cx, out, &build, "pom.xml", |goal| match goal {
                Goal::SpringBoot => Some(vec![wrapper, "spring-boot:run"]),
                Goal::Quarkus => Some(vec![wrapper, "quarkus:dev"]),
                Goal::Application => None,
            });
        }
        for file in ["build.gradle.kts", "build.gradle"] {
            let Some(text) = cx.read(file) else { continue };
            let build = gradle(cx, file, &text.content, out);
            let wrapper = if cx.has("gradlew") { "./gradlew" } else { "gradle" };
            if cx.has("gradlew") {
                out.add_package_manager(PackageManager::Gradle, cx.evidence("gradlew", None, "java.pm.gradle.wrapper"));
            }
            out.add_package_manager(PackageManager::Gradle, cx.evidence(file, None, "java.pm.gradle"));
            from_build(cx, out, &build, file, |goal| match goal {
                Goal::SpringBoot => Some(vec![wrapper, "bootRun"]),
                Goal::Quarkus => Some(vec![wrapper, "quarkusDev"]),
                Goal::Application => Some(vec![wrapper, "run"]),
            });
            break;
        }
    }
}

enum Goal {
    SpringBoot,
    Quarkus,
    /// Gradle's `application` plugin.
    Application,
}

/// Language, frameworks, start commands, ports and services from one build file.
fn from_build(
    cx: &ProjectContext<'_>,
    out: &mut Findings,
    build: &Build,
    file: &str,
    run: impl Fn(Goal) -> Option<Vec<&'static str>>,
) {
    let kotlin = build.earliest(&["org.jetbrains.kotlin", "kotlin-maven-plugin"], |c| {
        c.starts_with("org.jetbrains.kotlin:kotlin-stdlib")
    });
    match kotlin {
        Some(line) => out.add_language(Language::Kotlin, cx.evidence(file, Some(line), "java.language.kotlin")),
        None => out.add_language(Language::Java, cx.evidence(file, None, "java.manifest")),
    }

    let spring = build.earliest(&["org.springframework.boot", "spring-boot-maven-plugin"], |c| {
        c.starts_with("org.springframework.boot:spring-boot-starter")
            || c == "org.springframework.boot:spring-boot-dependencies"
    });
    let quarkus = build.earliest(&["io.quarkus", "quarkus-maven-plugin"], |c| {
        c.starts_with("io.quarkus:") || c.starts_with("io.quarkus.platform:")
    });
    let (framework, goal, line, port_key, port_env) = if let Some(line) = spring {
        (Framework::SpringBoot, Goal::SpringBoot, line, "server.port", "SERVER_PORT")
    } else if let Some(line) = quarkus {
        (Framework::Quarkus, Goal::Quarkus, line, "quarkus.http.port", "QUARKUS_HTTP_PORT")
    } else {
        if let Some(line) = build.plugin(&["application"]) {
            if let Some(argv) = run(Goal::Application) {
                out.add_start(
                    priority::CONVENTION,
                    command(&argv, cx.evidence(file, Some(line), "java.start.application")),
                );
            }
        }
        services(out, build);
        return;
    };
    let rule = format!("java.framework.{}", framework.as_str().replace('-', "_"));
    let evidence = cx.evidence(file, Some(line), &rule);
    out.add_framework(framework, evidence.clone());
    if let Some(argv) = run(goal) {
        out.add_start(priority::FRAMEWORK, command(&argv, evidence.clone()));
    }
    let config = read_config(cx);
    match config.iter().find(|p| p.key == port_key) {
        Some(p) => {
            if let Some(port) = p.value.parse::<u16>().ok().filter(|&n| n > 0) {
                let env = p.env.clone().unwrap_or_else(|| port_env.to_owned());
                out.add_port(port, Some(env), cx.evidence(&p.file, p.line, "java.port.config"));
            }
        }
        None if !out.has_ports() => {
            out.add_port(8080, Some(port_env.to_owned()), Evidence { rule: "java.port.default".into(), ..evidence });
        }
        None => {}
    }
    for p in &config {
        for (env, default) in &p.placeholders {
            out.add_env_var(env, default.clone(), cx.evidence(&p.file, p.line, "java.env.placeholder"));
        }
        if let Some(kind) = config_service(&p.key, &p.value) {
            out.add_service(kind, None, cx.evidence(&p.file, p.line, "java.service.config"));
        }
    }
    services(out, build);
}

fn services(out: &mut Findings, build: &Build) {
    for dep in build.deps.iter().filter(|d| !d.dev) {
        if let Some(kind) = service_for_dependency("java", &dep.name) {
            out.add_service(kind, None, Evidence { rule: "java.service".into(), ..dep.evidence.clone() });
        }
    }
}

/// The service a Spring or Quarkus setting points at.
fn config_service(key: &str, value: &str) -> Option<ServiceKind> {
    match key {
        "spring.datasource.url" | "quarkus.datasource.jdbc.url" | "spring.r2dbc.url" => {
            let url = value.strip_prefix("jdbc:").unwrap_or(value);
            let url = url.strip_prefix("r2dbc:").unwrap_or(url);
            service_for_url(url)
        }
        "quarkus.datasource.db-kind" => match value {
            "postgresql" | "postgres" | "pgsql" => Some(ServiceKind::Postgres),
            "mysql" => Some(ServiceKind::Mysql),
            "mariadb" => Some(ServiceKind::Mariadb),
            _ => None,
        },
        "spring.data.redis.host"
        | "spring.redis.host"
        | "spring.data.redis.url"
        | "spring.redis.url"
        | "quarkus.redis.hosts" => Some(ServiceKind::Redis),
        "spring.data.mongodb.uri" | "spring.data.mongodb.host" | "quarkus.mongodb.connection-string" => {
            Some(ServiceKind::Mongodb)
        }
        "spring.rabbitmq.host" | "spring.rabbitmq.addresses" => Some(ServiceKind::Rabbitmq),
        "spring.kafka.bootstrap-servers" | "kafka.bootstrap.servers" => Some(ServiceKind::Kafka),
        _ => None,
    }
}

// ---- Maven ----------------------------------------------------------------------------------

/// An element event of the XML scanner, with the `/`-joined path of element names.
#[derive(Debug, PartialEq, Eq)]
enum Xml {
    End(String),
    /// Text of an element that has some, at its closing tag, with the line it starts on.
    Text(String, String, u32),
}

/// Scan XML into element events. On malformed input, returns the events so far and the line
/// and reason of the problem.
fn xml_events(text: &str) -> (Vec<Xml>, Option<(u32, String)>) {
    let mut events = Vec::new();
    let mut stack: Vec<(String, u32)> = Vec::new();
    let mut buf = String::new();
    let mut buf_line = 1;
    let mut line = 1u32;
    let mut rest = text;
    let path = |stack: &[(String, u32)]| stack.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join("/");
    while !rest.is_empty() {
        let skip = |rest: &str, open: &str, close: &str| -> Option<usize> {
            rest.strip_prefix(open).map(|r| r.find(close).map_or(usize::MAX, |i| open.len() + i + close.len()))
        };
        let special =
            skip(rest, "<!--", "-->").or_else(|| skip(rest, "<?", "?>")).or_else(|| skip(rest, "<!DOCTYPE", ">"));
        let (consumed, cdata) = if let Some(n) = special {
            (n, None)
        } else if let Some(n) = skip(rest, "<![CDATA[", "]]>") {
            (n, Some(()))
        } else if rest.starts_with('<') {
            let Some(end) = rest.find('>') else { return (events, Some((line, "unterminated tag".into()))) };
            let tag = &rest[1..end];
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim();
                match stack.pop() {
                    Some((open, _)) if open == name => {}
                    Some((open, open_line)) => {
                        let msg = format!("</{name}> closes <{open}> opened on line {open_line}");
                        return (events, Some((line, msg)));
                    }
                    None => return (events, Some((line, format!("</{name}> closes nothing")))),
                }
                let full = format!("{}/{name}", path(&stack)).trim_start_matches('/').to_owned();
                let value = buf.trim();
                if !value.is_empty() {
                    events.push(Xml::Text(full.clone(), decode_entities(value), buf_line));
                }
                events.push(Xml::End(full));
            } else if !tag.ends_with('/') {
                let name = tag.split(|c: char| c.is_whitespace()).next().unwrap_or("").to_owned();
                stack.push((name, line));
            }
            buf.clear();
            (end + 1, None)
        } else {
            let next = rest.find('<').unwrap_or(rest.len());
            let chunk = &rest[..next];
            if buf.trim().is_empty() {
                let lead = chunk.len() - chunk.trim_start().len();
                buf_line = line + chunk[..lead].matches('\n').count() as u32;
            }
            buf.push_str(chunk);
            (next, None)
        };
        if consumed == usize::MAX {
            return (events, Some((line, "unterminated comment or declaration".into())));
        }
        if let Some(()) = cdata {
            if buf.trim().is_empty() {
                buf_line = line;
            }
            buf.push_str(&rest[9..consumed - 3]);
        }
        line += rest[..consumed].matches('\n').count() as u32;
        rest = &rest[consumed..];
    }
    match stack.last() {
        Some((open, open_line)) => (events, Some((*open_line, format!("<{open}> is never closed")))),
        None => (events, None),
    }
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

fn maven(cx: &ProjectContext<'_>, text: &str, out: &mut Findings) -> Build {
    let (events, error) = xml_events(text);
    if let Some((line, reason)) = error {
        cx.warn("pom.xml", Some(line), format!("malformed XML: {reason}"));
    }
    let mut build = Build::default();
    // Fields of the dependency, parent or plugin being read: group, artifact, version, scope, line.
    let mut current: [Option<(String, u32)>; 4] = Default::default();
    const DEP: &str = "project/dependencies/dependency";
    const BOM: &str = "project/dependencyManagement/dependencies/dependency";
    const PARENT: &str = "project/parent";
    const PLUGIN: &str = "project/build/plugins/plugin";
    for event in events {
        match event {
            Xml::Text(path, value, line) => {
                let Some((parent, field)) = path.rsplit_once('/') else { continue };
                if [DEP, BOM, PARENT, PLUGIN].contains(&parent) {
                    let slot = match field {
                        "groupId" => 0,
                        "artifactId" => 1,
                        "version" => 2,
                        "scope" => 3,
                        _ => continue,
                    };
                    current[slot] = Some((value, line));
                } else if path == "project/artifactId" {
                    out.set_name(&value);
                } else if path == "project/packaging" && value == "pom" {
                    out.workspace_root = true;
                }
            }
            Xml::End(path) if [DEP, BOM, PARENT, PLUGIN].contains(&path.as_str()) => {
                let [group, artifact, version, scope] = std::mem::take(&mut current);
                let Some((artifact, line)) = artifact else { continue };
                // Maven's default plugin group.
                let group = group.map_or_else(|| "org.apache.maven.plugins".to_owned(), |g| g.0);
                let coordinate = format!("{group}:{artifact}");
                match path.as_str() {
                    DEP => {
                        let dependency = Dependency {
                            ecosystem: "java",
                            name: coordinate,
                            version: version.map(|v| v.0),
                            dev: scope.is_some_and(|s| s.0 == "test"),
                            evidence: cx.evidence("pom.xml", Some(line), "java.dependency"),
                        };
                        out.add_dependency(dependency.clone());
                        build.deps.push(dependency);
                    }
                    PLUGIN => build.plugins.push((artifact, line)),
                    _ => build.parents.push((coordinate, line)),
                }
            }
            Xml::End(_) => {}
        }
    }
    build
}

// ---- Gradle ---------------------------------------------------------------------------------

/// Dependency configurations; those starting with `test` are development-only.
const CONFIGURATIONS: &[&str] = &[
    "implementation",
    "api",
    "compileOnly",
    "runtimeOnly",
    "developmentOnly",
    "annotationProcessor",
    "kapt",
    "ksp",
    "compile",
    "runtime",
    "testImplementation",
    "testRuntimeOnly",
    "testCompileOnly",
    "testCompile",
];

fn gradle(cx: &ProjectContext<'_>, file: &str, text: &str, out: &mut Findings) -> Build {
    let mut build = Build::default();
    for settings in ["settings.gradle.kts", "settings.gradle"] {
        let Some(s) = cx.read(settings) else { continue };
        for line in s.content.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("rootProject.name").and_then(|r| r.trim_start().strip_prefix('=')) {
                out.set_name(name.trim().trim_matches(['"', '\'']));
            }
            if line.starts_with("include(") || line.starts_with("include ") || line.starts_with("include\"") {
                out.workspace_root = true;
            }
        }
    }
    let catalog = catalog(cx);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i as u32 + 1;
        if line.starts_with("//") {
            continue;
        }
        if let Some(alias) = line.strip_prefix("alias(libs.plugins.") {
            let alias = accessor(alias);
            if let Some((_, id)) = catalog.plugins.iter().find(|(a, _)| *a == alias) {
                build.plugins.push((id.clone(), n));
            }
            continue;
        }
        // Plugins: `id("x")`, `id 'x'`, `kotlin("jvm")`, `apply plugin: 'x'`, and the bare
        // core plugins of a `plugins {}` block (`application`, `java`).
        if let Some(id) = line.strip_prefix("id").and_then(|r| first_string(r.trim_start().trim_start_matches('('))) {
            build.plugins.push((id, n));
        } else if let Some(id) = line.strip_prefix("kotlin(").and_then(first_string) {
            build.plugins.push((format!("org.jetbrains.kotlin.{id}"), n));
        } else if let Some(id) = line.strip_prefix("apply plugin:").and_then(first_string) {
            build.plugins.push((id, n));
        } else if matches!(line, "application" | "`application`") {
            build.plugins.push(("application".into(), n));
        }
        let Some(config) = CONFIGURATIONS.iter().find(|c| {
            line.strip_prefix(**c).is_some_and(|r| r.starts_with('(') || r.starts_with(' ') || r.starts_with('"'))
        }) else {
            continue;
        };
        let args = line[config.len()..].trim_start().trim_start_matches('(').trim_start();
        let coordinate = if let Some(alias) = args.strip_prefix("libs.") {
            let alias = accessor(alias);
            catalog.libraries.iter().find(|(a, _)| *a == alias).map(|(_, c)| c.clone())
        } else if args.starts_with('"') || args.starts_with('\'') {
            first_string(args)
        } else if args.starts_with("group") {
            // `implementation group: 'g', name: 'a', version: 'v'`
            let field =
                |key: &str| args.find(&format!("{key}:")).and_then(|i| first_string(&args[i + key.len() + 1..]));
            field("group").zip(field("name")).map(|(g, a)| format!("{g}:{a}"))
        } else {
            None
        };
        let Some(coordinate) = coordinate else { continue };
        let mut parts = coordinate.splitn(3, ':');
        let (Some(group), Some(artifact)) = (parts.next(), parts.next()) else { continue };
        let dependency = Dependency {
            ecosystem: "java",
            name: format!("{group}:{artifact}"),
            version: parts.next().map(str::to_owned),
            dev: config.starts_with("test") || *config == "developmentOnly",
            evidence: cx.evidence(file, Some(n), "java.dependency"),
        };
        out.add_dependency(dependency.clone());
        build.deps.push(dependency);
    }
    build
}

/// The aliases of a Gradle version catalog, as the build script spells them after `libs.`
/// (`spring-boot-web` → `spring.boot.web`): library coordinates and plugin ids.
#[derive(Default)]
struct Catalog {
    libraries: Vec<(String, String)>,
    plugins: Vec<(String, String)>,
}

/// `gradle/libs.versions.toml` of this project or the nearest directory above it (a
/// multi-project build keeps one at its root).
fn catalog(cx: &ProjectContext<'_>) -> Catalog {
    let mut dir = cx.dir;
    let path = loop {
        let path = if dir == "." { CATALOG.to_owned() } else { format!("{dir}/{CATALOG}") };
        if cx.repo.exists(&path) {
            break path;
        }
        if dir == "." {
            return Catalog::default();
        }
        dir = dir.rfind('/').map_or(".", |i| &dir[..i]);
    };
    let Some(text) = cx.repo.read_text(&path) else { return Catalog::default() };
    let table = match text.content.parse::<toml::Table>() {
        Ok(table) => table,
        Err(e) => {
            let line = e.span().map(|s| crate::detection::manifest::line_at(&text.content, s.start));
            cx.repo.warn(Warning { file: path, line, message: format!("malformed TOML: {}", e.message()) });
            return Catalog::default();
        }
    };
    let entries = |section: &str| table.get(section).and_then(toml::Value::as_table).into_iter().flatten();
    let libraries = entries("libraries")
        .filter_map(|(alias, v)| {
            let coordinate = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Table(t) => match t.get("module").and_then(toml::Value::as_str) {
                    Some(module) => module.to_owned(),
                    None => format!("{}:{}", t.get("group")?.as_str()?, t.get("name")?.as_str()?),
                },
                _ => return None,
            };
            Some((accessor(alias), coordinate))
        })
        .collect();
    let plugins = entries("plugins")
        .filter_map(|(alias, v)| {
            let id = match v {
                toml::Value::String(s) => s.split(':').next()?.to_owned(),
                toml::Value::Table(t) => t.get("id")?.as_str()?.to_owned(),
                _ => return None,
            };
            Some((accessor(alias), id))
        })
        .collect();
    Catalog { libraries, plugins }
}

const CATALOG: &str = "gradle/libs.versions.toml";

/// A catalog alias as written after `libs.` in a script, up to the first character that is
/// not part of it: `spring-boot_web` and `spring.boot.web)` both give `spring.boot.web`.
fn accessor(alias: &str) -> String {
    alias
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .map(|c| if c == '-' || c == '_' { '.' } else { c })
        .collect()
}

/// The content of the first `"…"` or `'…'` literal in `s`.
fn first_string(s: &str) -> Option<String> {
    let start = s.find(['"', '\''])?;
    let q = s[start..].chars().next()?;
    let end = s[start + 1..].find(q)?;
    let value = &s[start + 1..start + 1 + end];
    (!value.is_empty()).then(|| value.to_owned())
}

// ---- application.properties / application.yml ------------------------------------------------

/// One configuration property, with `${ENV:default}` placeholders resolved to their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Property {
    key: String,
    value: String,
    /// The environment variable that sets the whole value (`${PORT:8080}`).
    env: Option<String>,
    /// Every environment variable the value reads, with its default.
    placeholders: Vec<(String, Option<String>)>,
    /// File relative to the project.
    file: String,
    line: Option<u32>,
}

const CONFIG_DIR: &str = "src/main/resources";

fn read_config(cx: &ProjectContext<'_>) -> Vec<Property> {
    let mut props = Vec::new();
    let file = format!("{CONFIG_DIR}/application.properties");
    if let Some(text) = cx.read(&file) {
        for (i, raw) in text.content.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some(sep) = line.find(['=', ':']) else { continue };
            let (key, value) = (line[..sep].trim(), line[sep + 1..].trim());
            props.push(property(key, value, &file, Some(i as u32 + 1)));
        }
    }
    for name in ["application.yml", "application.yaml"] {
        let file = format!("{CONFIG_DIR}/{name}");
        let Some(text) = cx.read(&file) else { continue };
        for document in serde_yaml_ng::Deserializer::from_str(&text.content) {
            let doc = match Value::deserialize(document) {
                Ok(doc) => doc,
                Err(e) => {
                    cx.warn(&file, e.location().map(|l| l.line() as u32), format!("malformed YAML: {e}"));
                    break;
                }
            };
            // Profile-specific documents describe other environments than development.
            let mut flat = Vec::new();
            flatten(&doc, String::new(), &mut flat);
            if flat.iter().any(|(k, _)| k == "spring.config.activate.on-profile" || k == "spring.profiles") {
                continue;
            }
            for (key, value) in flat {
                let path: Vec<&str> = key.split('.').collect();
                let line = yaml_key_line(&text.content, &path).or_else(|| line_of(&text.content, &key));
                props.push(property(&key, &value, &file, line));
            }
        }
    }
    // Quarkus profiles: `%dev.` settings are what `quarkus:dev` runs with; other profiles are not.
    let (dev, base): (Vec<_>, Vec<_>) = props.into_iter().partition(|p| p.key.starts_with("%dev."));
    let dev = dev.into_iter().map(|p| Property { key: p.key["%dev.".len()..].to_owned(), ..p });
    dev.chain(base.into_iter().filter(|p| !p.key.starts_with('%'))).collect()
}

fn property(key: &str, value: &str, file: &str, line: Option<u32>) -> Property {
    let mut placeholders = Vec::new();
    let resolved = resolve(value, &mut placeholders, 0);
    let whole = value.starts_with("${") && value.ends_with('}');
    let env = placeholders.first().filter(|_| whole).map(|p| p.0.clone());
    Property { key: key.to_owned(), value: resolved, env, placeholders, file: file.to_owned(), line }
}

/// Replace `${NAME:default}` placeholders by their defaults, collecting the environment
/// variables among them (`UPPER_SNAKE` names; the others refer to properties), outermost first.
fn resolve(value: &str, vars: &mut Vec<(String, Option<String>)>, depth: u8) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let body = &rest[start + 2..];
        let mut level = 1;
        let end = body.char_indices().find_map(|(i, c)| {
            match c {
                '{' => level += 1,
                '}' => level -= 1,
                _ => {}
            }
            (level == 0).then_some(i)
        });
        let Some(end) = end else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &body[..end];
        let (name, default) = inner.split_once(':').map_or((inner, None), |(n, d)| (n, Some(d)));
        let is_env = crate::detection::code::is_env_name(name) && name.bytes().any(|b| b.is_ascii_uppercase());
        let slot = vars.len();
        if is_env {
            vars.push((name.to_owned(), None));
        }
        let default = default.map(|d| if depth < 4 { resolve(d, vars, depth + 1) } else { d.to_owned() });
        if is_env {
            vars[slot].1 = default.clone().filter(|d| !d.is_empty());
        }
        out.push_str(default.as_deref().unwrap_or(""));
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `server: {port: 8081}` → `("server.port", "8081")`.
fn flatten(value: &Value, prefix: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Mapping(m) => {
            for (k, v) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                let full = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
                flatten(v, full, out);
            }
        }
        Value::String(s) => out.push((prefix, s.clone())),
        Value::Number(n) => out.push((prefix, n.to_string())),
        Value::Bool(b) => out.push((prefix, b.to_string())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, odd_inputs, project};

    #[test]
    fn xml_scanner() {
        let text = "<?xml version=\"1.0\"?>\n<project a=\"1\">\n  <!-- <artifactId>no</artifactId> -->\n  <name><![CDATA[a & b]]></name>\n  <empty/>\n  <artifactId>\n    demo &amp; co\n  </artifactId>\n</project>\n";
        let (events, error) = xml_events(text);
        assert_eq!(error, None);
        assert_eq!(
            events,
            [
                Xml::Text("project/name".into(), "a & b".into(), 4),
                Xml::End("project/name".into()),
                Xml::Text("project/artifactId".into(), "demo & co".into(), 7),
                Xml::End("project/artifactId".into()),
                Xml::End("project".into()),
            ]
        );
        let (_, error) = xml_events("<project>\n<a>\n</b>\n</project>");
        assert_eq!(error, Some((3, "</b> closes <a> opened on line 2".into())));
        let (_, error) = xml_events("<project>\n<a></a>\n");
        assert_eq!(error, Some((1, "<project> is never closed".into())));
    }

    #[test]
    fn maven_dependencies_scopes_and_boms() {
        let d = detect_files(&[(
            "pom.xml",
            r#"<project>
  <artifactId>svc</artifactId>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>io.quarkus.platform</groupId>
        <artifactId>quarkus-bom</artifactId>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>io.quarkus</groupId>
      <artifactId>quarkus-rest</artifactId>
    </dependency>
    <dependency>
      <groupId>org.mariadb.jdbc</groupId>
      <artifactId>mariadb-java-client</artifactId>
      <version>3.3.2</version>
    </dependency>
    <dependency>
      <groupId>io.quarkus</groupId>
      <artifactId>quarkus-junit5</artifactId>
      <scope>test</scope>
    </dependency>
  </dependencies>
</project>
"#,
        )]);
        let p = project(&d, ".");
        assert_eq!(p.name, "svc");
        assert_eq!(p.frameworks[0].value, Framework::Quarkus);
        // The imported BOM is the first mention.
        assert_eq!(p.frameworks[0].evidence[0].line, Some(7));
        assert_eq!(p.start.as_ref().unwrap().display, "mvn quarkus:dev");
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8080, Some("QUARKUS_HTTP_PORT")));
        let deps: Vec<_> = p.dependencies.iter().map(|d| (d.name.as_str(), d.dev, d.evidence.line)).collect();
        assert_eq!(
            deps,
            [
                ("io.quarkus:quarkus-junit5", true, Some(23)),
                ("io.quarkus:quarkus-rest", false, Some(14)),
                ("org.mariadb.jdbc:mariadb-java-client", false, Some(18)),
            ]
        );
        assert_eq!(p.services[0].service, ServiceKind::Mariadb);
        assert_eq!(p.languages.iter().map(|l| l.language).collect::<Vec<_>>(), [Language::Java]);
    }

    #[test]
    fn malformed_pom_warns_and_keeps_what_it_read() {
        let d = detect_files(&[(
            "pom.xml",
            "<project>\n  <artifactId>half</artifactId>\n  <dependencies>\n    <dependency>\n      <groupId>org.postgresql</groupId>\n      <artifactId>postgresql</artifactId>\n    </dependency>\n  </dependencies>\n",
        )]);
        assert!(d.warnings.iter().any(|w| w.file == "pom.xml" && w.line == Some(1)), "{:?}", d.warnings);
        let p = project(&d, ".");
        assert_eq!(p.name, "half");
        assert_eq!(p.dependencies[0].name, "org.postgresql:postgresql");
    }

    #[test]
    fn gradle_groovy_application_and_map_notation() {
        let d = detect_files(&[
            (
                "build.gradle",
                "plugins {\n    id 'java'\n    id 'application'\n}\n\ndependencies {\n    implementation group: 'redis.clients', name: 'jedis', version: '5.1.0'\n    implementation(platform(\"org.junit:junit-bom:5.10.0\"))\n    testImplementation 'org.junit.jupiter:junit-jupiter'\n}\n",
            ),
            ("settings.gradle", "rootProject.name = 'cli-tool'\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.name, "cli-tool");
        assert!(p.frameworks.is_empty());
        assert_eq!(p.start.as_ref().unwrap().display, "gradle run");
        assert_eq!(p.start.as_ref().unwrap().evidence.line, Some(3));
        assert!(p.ports.is_empty());
        let deps: Vec<_> = p.dependencies.iter().map(|d| (d.name.as_str(), d.dev)).collect();
        assert_eq!(deps, [("org.junit.jupiter:junit-jupiter", true), ("redis.clients:jedis", false)]);
        assert_eq!(p.services[0].service, ServiceKind::Redis);
    }

    #[test]
    fn yaml_config_with_profiles_and_placeholders() {
        let d = detect_files(&[
            (
                "pom.xml",
                "<project><parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId></parent></project>",
            ),
            (
                "src/main/resources/application.yml",
                "server:\n  port: ${PORT:9000}\nspring:\n  data:\n    redis:\n      host: localhost\n---\nspring:\n  config:\n    activate:\n      on-profile: prod\nserver:\n  port: 80\n",
            ),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.frameworks[0].value, Framework::SpringBoot);
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (9000, Some("PORT")));
        assert_eq!(p.ports[0].evidence[0].line, Some(2));
        assert_eq!(p.services[0].service, ServiceKind::Redis);
        assert_eq!(p.services[0].evidence[0].line, Some(6));
        assert!(p.env_vars.iter().any(|e| e.name == "PORT" && e.default.as_deref() == Some("9000")));
    }

    #[test]
    fn placeholders_inside_values() {
        let p = property(
            "spring.datasource.url",
            "jdbc:postgresql://${DB_HOST:localhost}:${DB_PORT:5432}/${db.name:app}",
            "f",
            None,
        );
        assert_eq!(p.value, "jdbc:postgresql://localhost:5432/app");
        assert_eq!(p.env, None);
        assert_eq!(
            p.placeholders,
            [("DB_HOST".into(), Some("localhost".into())), ("DB_PORT".into(), Some("5432".into()))]
        );
        let p = property("url", "${DATABASE_URL:${FALLBACK_URL:jdbc:mysql://h/db}}", "f", None);
        assert_eq!(p.value, "jdbc:mysql://h/db");
        assert_eq!(p.env.as_deref(), Some("DATABASE_URL"));
        assert_eq!(p.placeholders.len(), 2);
        assert_eq!(property("k", "${UNCLOSED", "f", None).value, "${UNCLOSED");
    }

    #[test]
    fn quarkus_dev_profile_and_version_catalog() {
        let d = detect_files(&[
            (
                "gradle/libs.versions.toml",
                "[versions]\nquarkus = \"3.8.1\"\n\n[libraries]\nquarkus-rest = { module = \"io.quarkus:quarkus-rest\" }\npg_driver = { group = \"org.postgresql\", name = \"postgresql\", version = \"42.7.1\" }\n\n[plugins]\nquarkus = { id = \"io.quarkus\", version.ref = \"quarkus\" }\n",
            ),
            ("settings.gradle.kts", "rootProject.name = \"shop\"\ninclude(\"app\")\n"),
            (
                "app/build.gradle.kts",
                "plugins {\n    java\n    alias(libs.plugins.quarkus)\n}\ndependencies {\n    implementation(libs.quarkus.rest)\n    runtimeOnly(libs.pg.driver)\n}\n",
            ),
            (
                "app/src/main/resources/application.properties",
                "quarkus.http.port=8080\n%prod.quarkus.http.port=80\n%dev.quarkus.http.port=9090\nquarkus.datasource.db-kind=postgresql\n",
            ),
        ]);
        let p = project(&d, "app");
        assert_eq!(p.frameworks[0].value, Framework::Quarkus);
        assert_eq!(p.frameworks[0].evidence[0].line, Some(3));
        assert_eq!(p.start.as_ref().unwrap().display, "gradle quarkusDev");
        assert_eq!(p.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [9090]);
        let deps: Vec<_> = p.dependencies.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["io.quarkus:quarkus-rest", "org.postgresql:postgresql"]);
        let pg = &p.services[0];
        assert_eq!(pg.service, ServiceKind::Postgres);
        assert_eq!(pg.evidence.len(), 2, "{:?}", pg.evidence);
    }

    #[test]
    fn fixture_java_spring_postgres() {
        let d = detect_fixture("java-spring-postgres");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = project(&d, ".");
        assert_eq!(p.name, "inventory");
        assert_eq!(p.languages[0].language, Language::Java);
        assert_eq!(p.package_managers[0].value, PackageManager::Maven);
        assert!(p.package_managers[0].evidence.iter().any(|e| e.file == "mvnw"));
        assert_eq!(p.frameworks[0].value, Framework::SpringBoot);
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "./mvnw spring-boot:run");
        assert_eq!(start.evidence.rule, "java.framework.spring_boot");
        // The parent POM is the first thing that says Spring Boot.
        assert_eq!((start.evidence.file.as_str(), start.evidence.line), ("pom.xml", Some(8)));
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8081, Some("SERVER_PORT")));
        assert_eq!(p.ports[0].evidence[0].file, "src/main/resources/application.properties");
        let pg = p.services.iter().find(|s| s.service == ServiceKind::Postgres).unwrap();
        assert!(pg.evidence.iter().any(|e| e.rule == "java.service.config" && e.line == Some(2)));
        assert!(pg.evidence.iter().any(|e| e.rule == "java.service" && e.file == "pom.xml"));
        assert!(p.env_vars.iter().any(|e| e.name == "DB_PASSWORD" && e.default.as_deref() == Some("postgres")));
        assert!(p.dependencies.iter().any(|d| d.name == "org.springframework.boot:spring-boot-starter-test" && d.dev));
    }

    #[test]
    fn fixture_java_gradle_kotlin() {
        let d = detect_fixture("java-gradle-kotlin");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = project(&d, ".");
        assert_eq!(p.name, "greeter");
        assert_eq!(p.languages[0].language, Language::Kotlin);
        assert!(p.languages[0].evidence.iter().any(|e| e.rule == "java.language.kotlin"));
        assert_eq!(p.package_managers[0].value, PackageManager::Gradle);
        assert_eq!(p.frameworks[0].value, Framework::SpringBoot);
        assert_eq!(p.start.as_ref().unwrap().display, "./gradlew bootRun");
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8080, Some("SERVER_PORT")));
        assert_eq!(p.ports[0].evidence[0].rule, "java.port.default");
        let svc: Vec<_> = p.services.iter().map(|s| s.service).collect();
        assert_eq!(svc, [ServiceKind::Redis]);
        assert!(p.dependencies.iter().any(|d| d.name == "org.jetbrains.kotlin:kotlin-reflect" && !d.dev));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in odd_inputs() {
            let lines = input.lines().count() as u32;
            let (_, error) = xml_events(&input);
            assert!(error.is_none_or(|(line, _)| line <= lines.max(1)), "{input:?}");
            let _ = property("k", &input, "f", None);
            let _ = first_string(&input);
            let _ = accessor(&input);
        }
    }
}
