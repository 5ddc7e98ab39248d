//! Python: `pyproject.toml` (PEP 621, Poetry, uv, PDM), `requirements*.txt`, `Pipfile`,
//! `setup.py`/`setup.cfg` and Django's `manage.py`.
//!
//! Start commands are plain (`uvicorn main:app …`, never `poetry run uvicorn …`): the runner
//! puts the project's virtualenv first on `PATH`, so the tools the package manager installed
//! are found whichever package manager that was.

use std::collections::BTreeSet;

use toml::{Table, Value};

use crate::detection::code::MAX_PARSE_BYTES;
use crate::detection::manifest::{self, line_of};
use crate::detection::{Findings, ProjectContext, Provider, command, priority};
use crate::plan::{Dependency, Evidence, Framework, Language, PackageManager, ServiceKind, Warning};
use crate::repo::FileEntry;

use super::services::{service_for_dependency, service_for_env_name, service_for_url};

pub struct Python;

const ID: &str = "python";

/// Files that make a directory a Python project, besides `requirements*.txt`.
const MANIFESTS: &[&str] = &["pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "manage.py"];

/// Group and file-name words that mean "only for development": `requirements-dev.txt`,
/// `[project.optional-dependencies] test`, cookiecutter-django's `requirements/local.txt`.
const DEV_WORDS: &[&str] =
    &["dev", "develop", "development", "test", "tests", "testing", "lint", "docs", "ci", "local"];

const FRAMEWORKS: &[(&str, Framework)] = &[
    ("django", Framework::Django),
    ("flask", Framework::Flask),
    ("fastapi", Framework::FastApi),
    ("starlette", Framework::Starlette),
    ("streamlit", Framework::Streamlit),
];

/// A dependency as read, before it becomes a [`Dependency`].
struct Dep {
    /// Normalised per PEP 503.
    name: String,
    version: Option<String>,
    dev: bool,
    /// An extra (`[project.optional-dependencies]`, Poetry `optional = true`): not installed by
    /// default, so it says nothing about the services the app needs.
    optional: bool,
    evidence: Evidence,
}

impl Provider for Python {
    fn id(&self) -> &'static str {
        ID
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        let requirement_files = requirement_files(cx);
        let pyproject = if cx.has("pyproject.toml") { manifest::read_toml(cx, "pyproject.toml") } else { None };
        let pyproject = pyproject.as_ref().map(|(text, table)| (text.content.as_str(), table));
        // A malformed pyproject.toml still says "Python"; one with only tool settings does not.
        let present: Vec<&str> = MANIFESTS
            .iter()
            .copied()
            .filter(|m| cx.has(m))
            .filter(|m| *m != "pyproject.toml" || pyproject.is_none_or(|(_, t)| is_python_pyproject(t)))
            .collect();
        if present.is_empty() && requirement_files.is_empty() {
            return;
        }
        for name in &present {
            out.add_language(Language::Python, cx.evidence(name, None, "python.manifest"));
        }
        for file in &requirement_files {
            out.add_language(Language::Python, Evidence::new(file.clone(), None, "python.manifest"));
        }
        if let Some((_, t)) = pyproject {
            let name = str_at(t, &["project", "name"]).or_else(|| str_at(t, &["tool", "poetry", "name"]));
            if let Some(name) = name {
                out.set_name(name);
            }
        }

        package_managers(cx, pyproject, &requirement_files, out);

        let mut deps = Vec::new();
        let mut seen = BTreeSet::new();
        for file in &requirement_files {
            read_requirements(cx, file, &mut seen, &mut deps);
        }
        if let Some((text, t)) = pyproject {
            pyproject_dependencies(cx, text, t, &mut deps);
        }
        if let Some(text) = cx.has("setup.cfg").then(|| cx.read("setup.cfg")).flatten() {
            setup_cfg_dependencies(cx, &text.content, &mut deps);
        }
        if let Some(text) = cx.has("setup.py").then(|| cx.read("setup.py")).flatten() {
            setup_py_dependencies(cx, &text.content, &mut deps);
        }
        if cx.has("Pipfile")
            && let Some((text, t)) = manifest::read_toml(cx, "Pipfile")
        {
            pipfile_dependencies(cx, &text.content, &t, &mut deps);
        }
        for d in &deps {
            out.add_dependency(Dependency {
                ecosystem: ID,
                name: d.name.clone(),
                version: d.version.clone(),
                dev: d.dev,
                evidence: d.evidence.clone(),
            });
        }

        frameworks(cx, &deps, out);
        services(cx, &deps, out);
        let flask = out.has_framework(Framework::Flask).then(|| find_app(cx, &["Flask"])).flatten();
        migrations(cx, &deps, flask.as_ref(), out);
        let served = starts(cx, pyproject, flask.as_ref(), out);
        // A framework with no app to serve is a library for it (a reusable Django app, a
        // FastAPI extension); a Procfile or Dockerfile can still make it an app.
        if served.is_empty() && FRAMEWORKS.iter().any(|(_, f)| out.has_framework(*f)) {
            out.library_hint = true;
        }
        default_ports(served, out);
    }
}

/// A pyproject.toml that describes a Python package, not just tool settings in another
/// ecosystem's repository (`[tool.black]` beside a package.json).
fn is_python_pyproject(t: &Table) -> bool {
    ["project", "build-system", "dependency-groups"].iter().any(|k| t.contains_key(*k))
        || ["poetry", "uv", "pdm"].iter().any(|k| table_at(t, &["tool", k]).is_some())
}

// ---- package managers ------------------------------------------------------------------------

fn package_managers(cx: &ProjectContext<'_>, pyproject: Option<(&str, &Table)>, reqs: &[String], out: &mut Findings) {
    let header = |name: &str| {
        pyproject.and_then(|(text, _)| {
            header_line(text, name).or_else(|| manifest::line_starting(text, &format!("[{name}.")))
        })
    };
    let has_tool = |name: &str| pyproject.is_some_and(|(_, t)| table_at(t, &["tool", name]).is_some());
    let mut found = false;
    let mut add = |out: &mut Findings, pm: PackageManager, file: &str, line: Option<u32>, rule: &str| {
        out.add_package_manager(pm, cx.evidence(file, line, rule));
        found = true;
    };
    for (lock, pm, rule) in [
        ("poetry.lock", PackageManager::Poetry, "python.pm.poetry"),
        ("uv.lock", PackageManager::Uv, "python.pm.uv"),
        ("Pipfile.lock", PackageManager::Pipenv, "python.pm.pipenv"),
        ("Pipfile", PackageManager::Pipenv, "python.pm.pipenv"),
        ("pdm.lock", PackageManager::Pdm, "python.pm.pdm"),
    ] {
        if cx.has(lock) {
            add(out, pm, lock, None, rule);
        }
    }
    if has_tool("poetry") {
        add(out, PackageManager::Poetry, "pyproject.toml", header("tool.poetry"), "python.pm.poetry");
    }
    if has_tool("uv") {
        add(out, PackageManager::Uv, "pyproject.toml", header("tool.uv"), "python.pm.uv");
    }
    // A member of a uv workspace is locked by the workspace root's uv.lock.
    if !found && let Some(lock) = ancestors(cx.dir).map(|d| join_name(d, "uv.lock")).find(|l| cx.repo.exists(l)) {
        out.add_package_manager(PackageManager::Uv, Evidence::new(lock, None, "python.pm.uv"));
        found = true;
    }
    if found {
        return;
    }
    // No lock and no tool table: pip installs from whatever was declared.
    for file in reqs {
        out.add_package_manager(PackageManager::Pip, Evidence::new(file.clone(), None, "python.pm.pip"));
    }
    for file in ["setup.py", "setup.cfg"] {
        if cx.has(file) {
            out.add_package_manager(PackageManager::Pip, cx.evidence(file, None, "python.pm.pip"));
        }
    }
    if pyproject.is_some_and(|(_, t)| t.contains_key("project")) {
        out.add_package_manager(PackageManager::Pip, cx.evidence("pyproject.toml", header("project"), "python.pm.pip"));
    }
}

/// The directories above `dir` (a repository path), nearest first, ending with the root `.`.
fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    crate::repo::self_and_ancestors(dir).skip(1)
}

use crate::repo::join as join_name;

// ---- dependencies ----------------------------------------------------------------------------

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A PEP 508 requirement: the normalised name and the version specifier, extras and markers
/// dropped. `None` for paths, URLs and file names, which name no package.
fn parse_requirement(spec: &str) -> Option<(String, Option<String>)> {
    let spec = spec.trim();
    let end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(spec.len());
    let (name, rest) = spec.split_at(end);
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || [".whl", ".zip", ".tar.gz", ".tgz"].iter().any(|ext| name.ends_with(ext))
    {
        return None;
    }
    let rest = rest.trim_start();
    if !(rest.is_empty() || rest.starts_with(['[', ';', '@', '(', '=', '<', '>', '!', '~'])) {
        return None;
    }
    let rest = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']').map_or("", |(_, after)| after),
        None => rest,
    };
    let rest = rest.split(';').next().unwrap_or("").trim();
    let version = if rest.starts_with('@') {
        None
    } else {
        Some(rest.trim_start_matches('(').trim_end_matches(')').trim().to_owned()).filter(|v| !v.is_empty())
    };
    Some((normalise(name), version))
}

/// Whether a requirements file name or group name is for development only.
fn is_dev_name(name: &str) -> bool {
    let stem = name.rsplit('/').next().unwrap_or(name).trim_end_matches(".txt").to_ascii_lowercase();
    stem.split(['-', '_', '.']).any(|w| DEV_WORDS.contains(&w))
}

/// `requirements*.txt`, `*-requirements.txt` and `requirements/*.txt` of the project, as
/// repository paths.
fn requirement_files(cx: &ProjectContext<'_>) -> Vec<String> {
    let prefix = cx.path("requirements/");
    let mut files: Vec<String> = cx
        .own_files()
        .iter()
        .filter(|f| {
            let direct = f.dir() == cx.dir && f.file_name().contains("requirements");
            let in_dir = f.path.starts_with(&prefix) && !f.path[prefix.len()..].contains('/');
            (direct || in_dir) && f.file_name().ends_with(".txt")
        })
        .map(|f| f.path.clone())
        .collect();
    // requirements.txt first: it is the one the rest include.
    files.sort_by_key(|f| (!f.ends_with("/requirements.txt") && f != "requirements.txt", f.clone()));
    files
}

/// Read one requirements file (a repository path) and the files it includes with `-r`.
fn read_requirements(cx: &ProjectContext<'_>, file: &str, seen: &mut BTreeSet<String>, deps: &mut Vec<Dep>) {
    if !seen.insert(file.to_owned()) {
        return;
    }
    let Some(text) = cx.repo.read_text(file) else { return };
    let dev = is_dev_name(file);
    let dir = file.rfind('/').map_or(".", |i| &file[..i]);
    for (line_no, line) in logical_lines(&text.content) {
        let line = strip_comment(&line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(option) = line.strip_prefix('-') {
            let (flag, value) = split_option(option);
            match flag {
                "r" | "-requirement" => match join(dir, value) {
                    Some(path) if cx.repo.exists(&path) => read_requirements(cx, &path, seen, deps),
                    _ => cx.repo.warn(Warning {
                        file: file.to_owned(),
                        line: Some(line_no),
                        message: format!("includes `{value}`, which is not in the repository"),
                    }),
                },
                // `-e .` and local paths are the project itself; a VCS URL names its egg.
                "e" | "-editable" => {
                    if let Some(name) = egg(value) {
                        let evidence = Evidence::new(file, Some(line_no), "python.dependency.requirements");
                        deps.push(Dep { name, version: None, dev, optional: false, evidence });
                    }
                }
                _ => {} // index URLs, constraints, pip options
            }
            continue;
        }
        // Per-requirement options (`--hash=…`) follow the specifier.
        let spec = line.split(" --").next().unwrap_or(line).split("\t--").next().unwrap_or(line);
        let parsed = parse_requirement(spec).or_else(|| egg(spec).map(|name| (name, None)));
        if let Some((name, version)) = parsed {
            deps.push(Dep {
                name,
                version,
                dev,
                optional: false,
                evidence: Evidence::new(file, Some(line_no), "python.dependency.requirements"),
            });
        }
    }
}

/// The package a URL names with `#egg=name` (`git+https://…/tool.git@v1#egg=tool`).
fn egg(url: &str) -> Option<String> {
    let egg = url.split("#egg=").nth(1)?;
    parse_requirement(egg.split('&').next().unwrap_or(egg)).map(|(name, _)| name)
}

/// Lines joined across trailing backslashes, each with the 1-based line it starts on.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut current: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut buf) = current.take().unwrap_or((i as u32 + 1, String::new()));
        match raw.strip_suffix('\\') {
            Some(part) => {
                buf.push_str(part);
                buf.push(' ');
                current = Some((start, buf));
            }
            None => {
                buf.push_str(raw);
                out.push((start, buf));
            }
        }
    }
    out.extend(current);
    out
}

/// A `#` at the start of a line or after whitespace starts a comment (`#egg=` in a URL does not).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    match (0..bytes.len()).find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace())) {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The files a requirements file's `text` includes, resolved against its directory `dir` (a
/// path in whatever frame the caller uses, `.` for its root): `-r`/`--requirement` always,
/// `-c`/`--constraint` too when `constraints`. An include that climbs out of that frame is
/// left out.
pub fn requirement_includes(text: &str, dir: &str, constraints: bool) -> Vec<String> {
    logical_lines(text)
        .iter()
        .filter_map(|(_, line)| {
            let option = strip_comment(line).trim().strip_prefix('-')?;
            let (flag, value) = split_option(option);
            let wanted = matches!(flag, "r" | "-requirement") || (constraints && matches!(flag, "c" | "-constraint"));
            if wanted { join(dir, value) } else { None }
        })
        .collect()
}

/// `r file`, `rfile`, `-requirement=file`, `-requirement file` → (flag, value).
fn split_option(option: &str) -> (&str, &str) {
    if let Some(long) = option.strip_prefix('-') {
        let i = long.find(['=', ' ', '\t']).unwrap_or(long.len());
        (&option[..i + 1], long[i..].trim_start_matches('=').trim())
    } else {
        let i = option.char_indices().nth(1).map_or(option.len(), |(i, _)| i);
        (&option[..i], option[i..].trim_start_matches('=').trim())
    }
}

/// `dir/rel` normalised (`.` and `..` resolved); `None` when it leaves the repository or names
/// the root itself (a file or script directory is wanted, never the root).
fn join(dir: &str, rel: &str) -> Option<String> {
    crate::repo::normalize_join(dir, rel).filter(|p| p != ".")
}

fn pyproject_dependencies(cx: &ProjectContext<'_>, text: &str, t: &Table, deps: &mut Vec<Dep>) {
    let file = cx.path("pyproject.toml");
    let pep508 = |header: &str, list: Option<&Value>, dev: bool, optional: bool, deps: &mut Vec<Dep>| {
        for spec in list.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if let Some((name, version)) = parse_requirement(spec) {
                let line = line_in_section(text, header, |l| l.contains(&format!("\"{spec}\"")))
                    .or_else(|| line_in_section(text, header, |l| l.contains(&format!("'{spec}'"))));
                let evidence = Evidence::new(file.clone(), line, "python.dependency.pyproject");
                deps.push(Dep { name, version, dev, optional, evidence });
            }
        }
    };
    pep508("project", value_at(t, &["project", "dependencies"]), false, false, deps);
    for (group, list) in table_at(t, &["project", "optional-dependencies"]).into_iter().flatten() {
        pep508("project.optional-dependencies", Some(list), is_dev_name(group), true, deps);
    }
    // PEP 735 groups, uv's and PDM's development lists: never installed in production.
    for list in table_at(t, &["dependency-groups"]).into_iter().flat_map(Table::values) {
        pep508("dependency-groups", Some(list), true, false, deps);
    }
    pep508("tool.uv", value_at(t, &["tool", "uv", "dev-dependencies"]), true, false, deps);
    for list in table_at(t, &["tool", "pdm", "dev-dependencies"]).into_iter().flat_map(Table::values) {
        pep508("tool.pdm.dev-dependencies", Some(list), true, false, deps);
    }

    let poetry = |header: String, table: Option<&Table>, dev: bool, deps: &mut Vec<Dep>| {
        for (key, spec) in table.into_iter().flatten() {
            if key == "python" {
                continue;
            }
            let line = line_in_section(text, &header, |l| starts_with_key(l, key));
            deps.push(table_dependency(key, spec, dev, Evidence::new(file.clone(), line, "python.dependency.poetry")));
        }
    };
    poetry("tool.poetry.dependencies".into(), table_at(t, &["tool", "poetry", "dependencies"]), false, deps);
    poetry("tool.poetry.dev-dependencies".into(), table_at(t, &["tool", "poetry", "dev-dependencies"]), true, deps);
    for (group, body) in table_at(t, &["tool", "poetry", "group"]).into_iter().flatten() {
        let table = body.as_table().and_then(|b| b.get("dependencies")).and_then(Value::as_table);
        poetry(format!("tool.poetry.group.{group}.dependencies"), table, group != "main", deps);
    }
}

fn pipfile_dependencies(cx: &ProjectContext<'_>, text: &str, t: &Table, deps: &mut Vec<Dep>) {
    for (section, dev) in [("packages", false), ("dev-packages", true)] {
        for (key, spec) in table_at(t, &[section]).into_iter().flatten() {
            let line = line_in_section(text, section, |l| starts_with_key(l, key));
            deps.push(table_dependency(key, spec, dev, cx.evidence("Pipfile", line, "python.dependency.pipfile")));
        }
    }
}

/// `[options] install_requires =` in setup.cfg: one requirement per indented line.
fn setup_cfg_dependencies(cx: &ProjectContext<'_>, text: &str, deps: &mut Vec<Dep>) {
    let mut section = "";
    let mut in_key = false;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            section = l;
            in_key = false;
            continue;
        }
        let continuation = raw.starts_with(char::is_whitespace);
        let value = if section == "[options]" && !continuation {
            let (key, value) = l.split_once('=').unwrap_or((l, ""));
            in_key = key.trim() == "install_requires";
            value
        } else if in_key && continuation {
            l
        } else {
            in_key = false;
            continue;
        };
        if !in_key || value.starts_with(['#', ';']) {
            continue;
        }
        if let Some((name, version)) = parse_requirement(value) {
            let evidence = cx.evidence("setup.cfg", Some(i as u32 + 1), "python.dependency.setup");
            deps.push(Dep { name, version, dev: false, optional: false, evidence });
        }
    }
}

/// `install_requires=["flask>=3", …]` in setup.py, when written as a list literal.
fn setup_py_dependencies(cx: &ProjectContext<'_>, text: &str, deps: &mut Vec<Dep>) {
    let Some(start) = text.find("install_requires") else { return };
    let rest = text[start + "install_requires".len()..].trim_start();
    let Some(list) = rest.strip_prefix('=').map(str::trim_start).and_then(|r| r.strip_prefix('[')) else { return };
    let list_start = text.len() - list.len();
    let list = &list[..list.find(']').unwrap_or(list.len())];
    let mut offset = 0;
    while let Some(open) = list[offset..].find(['"', '\'']).map(|i| i + offset) {
        let quote = &list[open..open + 1];
        let Some(len) = list[open + 1..].find(quote) else { break };
        let spec = &list[open + 1..open + 1 + len];
        if let Some((name, version)) = parse_requirement(spec) {
            let line = manifest::line_at(text, list_start + open);
            let evidence = cx.evidence("setup.py", Some(line), "python.dependency.setup");
            deps.push(Dep { name, version, dev: false, optional: false, evidence });
        }
        offset = open + len + 2;
    }
}

/// A Poetry or Pipfile entry: `name = "^1.2"` or `name = { version = "…", optional = true }`.
fn table_dependency(key: &str, spec: &Value, dev: bool, evidence: Evidence) -> Dep {
    let version = match spec {
        Value::String(v) => Some(v.clone()),
        Value::Table(t) => t.get("version").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
    .filter(|v| v != "*");
    let optional = spec.get("optional").and_then(Value::as_bool).unwrap_or(false);
    Dep { name: normalise(key), version, dev, optional, evidence }
}

// ---- frameworks, services, migrations --------------------------------------------------------

/// A dependency installed by default: neither for development nor an extra.
fn runtime_dep<'d>(deps: &'d [Dep], name: &str) -> Option<&'d Dep> {
    deps.iter().find(|d| d.name == name && !d.dev && !d.optional)
}

fn frameworks(cx: &ProjectContext<'_>, deps: &[Dep], out: &mut Findings) {
    for (name, framework) in FRAMEWORKS {
        if let Some(d) = runtime_dep(deps, name) {
            let e = &d.evidence;
            out.add_framework(*framework, Evidence::new(e.file.clone(), e.line, format!("python.framework.{name}")));
        }
    }
    if let Some(text) = cx.has("manage.py").then(|| cx.read("manage.py")).flatten()
        && text.content.contains("django")
    {
        let line = line_of(&text.content, "django");
        out.add_framework(Framework::Django, cx.evidence("manage.py", line, "python.framework.django"));
    }
}

fn services(cx: &ProjectContext<'_>, deps: &[Dep], out: &mut Findings) {
    let dj_database_url = runtime_dep(deps, "dj-database-url");
    if let Some(d) = dj_database_url {
        let evidence = Evidence::new(d.evidence.file.clone(), d.evidence.line, "python.env.dj-database-url");
        out.add_env_var("DATABASE_URL", None, evidence);
    }
    let names: Vec<String> = out.env_var_names().map(str::to_owned).collect();
    // The shortest URL-like name of the service's kind: `REDIS_URL` before `REDIS_TLS_URL`.
    let env_for = |service: ServiceKind| {
        let url = |n: &&String| ["_URL", "_URI", "_DSN"].iter().any(|s| n.ends_with(s));
        let named = names.iter().filter(url).filter(|n| service_for_env_name(n) == Some(service));
        named.min_by_key(|n| (n.len(), n.as_str())).cloned().or_else(|| {
            let sql = matches!(service, ServiceKind::Postgres | ServiceKind::Mysql | ServiceKind::Mariadb);
            (sql && (dj_database_url.is_some() || names.iter().any(|n| n == "DATABASE_URL")))
                .then(|| "DATABASE_URL".to_owned())
        })
    };
    for d in deps.iter().filter(|d| !d.dev && !d.optional) {
        if let Some(service) = service_for_dependency(ID, &d.name) {
            let evidence = Evidence::new(d.evidence.file.clone(), d.evidence.line, "python.service.dependency");
            out.add_service(service, env_for(service), evidence);
        }
    }
    if !out.has_framework(Framework::Django) {
        return;
    }
    // DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", …}} in the settings.
    for file in cx.own_files().iter().filter(|f| is_settings(cx, f)) {
        let Some(text) = cx.repo.read_text(&file.path) else { continue };
        for (i, l) in text.content.lines().enumerate() {
            let l = l.trim_start();
            if l.starts_with('#') {
                continue;
            }
            let service = if l.contains("db.backends.postgresql") || l.contains("db.backends.postgis") {
                ServiceKind::Postgres
            } else if l.contains("db.backends.mysql") {
                ServiceKind::Mysql
            } else {
                continue;
            };
            let evidence = Evidence::new(file.path.clone(), Some(i as u32 + 1), "python.service.django-databases");
            out.add_service(service, env_for(service), evidence);
        }
    }
}

/// Django settings modules: `settings.py` or anything in a `settings/` package.
fn is_settings(cx: &ProjectContext<'_>, f: &FileEntry) -> bool {
    let rel = cx.relative(&f.path);
    f.size <= MAX_PARSE_BYTES
        && f.extension() == Some("py")
        && (f.file_name() == "settings.py" || rel.split('/').rev().skip(1).any(|d| d == "settings"))
}

fn migrations(cx: &ProjectContext<'_>, deps: &[Dep], flask: Option<&App>, out: &mut Findings) {
    if out.has_framework(Framework::Django) && cx.has("manage.py") {
        let evidence = cx.evidence("manage.py", None, "python.migration.django");
        out.add_migration("django", command(&["python", "manage.py", "migrate"], evidence));
    }
    if cx.has("alembic.ini")
        && let Some(text) = cx.read("alembic.ini")
    {
        // script_location = %(here)s/alembic, or the default `alembic` directory.
        let configured = text.content.lines().enumerate().find_map(|(i, l)| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "script_location").then(|| (i as u32 + 1, value.trim().trim_start_matches("%(here)s/")))
        });
        let (line, dir) = configured.map_or((None, "alembic"), |(line, dir)| (Some(line), dir));
        // `sqlalchemy.url = postgresql+psycopg://…` names the database (the template's
        // `driver://…` names none).
        for (i, l) in text.content.lines().enumerate() {
            if let Some((key, value)) = l.split_once('=')
                && key.trim() == "sqlalchemy.url"
                && let Some(service) = service_for_url(value)
            {
                out.add_service(
                    service,
                    None,
                    cx.evidence("alembic.ini", Some(i as u32 + 1), "python.service.alembic-url"),
                );
            }
        }
        // `pkg:migrations` names a directory inside a package.
        let dir = dir.replace(':', "/");
        let has_files = |d: &str| join(cx.dir, d).is_some_and(|d| !cx.repo.files_under(&d).is_empty());
        if has_files(&dir) || has_files(&format!("src/{dir}")) {
            let evidence = cx.evidence("alembic.ini", line, "python.migration.alembic");
            out.add_migration("alembic", command(&["alembic", "upgrade", "head"], evidence));
        }
    }
    // Flask-Migrate keeps Alembic's scripts in `migrations/` and runs them through `flask db`.
    if let (Some(d), Some(app)) = (runtime_dep(deps, "flask-migrate"), flask)
        && cx.has("migrations/env.py")
    {
        let evidence = Evidence::new(d.evidence.file.clone(), d.evidence.line, "python.migration.flask-migrate");
        out.add_migration(
            "flask-migrate",
            command(&["flask", "--app", &app.flask_target(), "db", "upgrade"], evidence),
        );
    }
}

// ---- start commands --------------------------------------------------------------------------

/// The app object of a web framework, found by a plain text search of the project's modules.
struct App {
    /// File relative to the project.
    file: String,
    /// The variable (`app`) or factory function (`create_app`).
    target: String,
    factory: bool,
    line: u32,
    /// The file's `if __name__ == "__main__":` block calls `….run(`: running the file is how the
    /// author starts it, with the host and port the code sets.
    main_runs: bool,
}

impl App {
    /// The `--app` value of the `flask` command: `flask --app pkg` finds `app`,
    /// `application` and `create_app` by itself.
    fn flask_target(&self) -> String {
        let (module, _) = self.module();
        if self.factory || ["app", "application"].contains(&self.target.as_str()) {
            module
        } else {
            format!("{module}:{}", self.target)
        }
    }

    /// The dotted module, and `src` when the file is in a src layout.
    fn module(&self) -> (String, Option<&'static str>) {
        let path = self.file.trim_end_matches(".py");
        let path = path.strip_suffix("/__init__").unwrap_or(path);
        match path.strip_prefix("src/") {
            Some(p) => (p.replace('/', "."), Some("src")),
            None => (path.replace('/', "."), None),
        }
    }
}

fn starts(
    cx: &ProjectContext<'_>,
    pyproject: Option<(&str, &Table)>,
    flask: Option<&App>,
    out: &mut Findings,
) -> Vec<(Framework, Evidence)> {
    let mut served = Vec::new();
    if let Some((text, t)) = pyproject {
        scripts(cx, text, t, out);
    }
    if out.has_framework(Framework::Django) && cx.has("manage.py") {
        let line = cx.read("manage.py").and_then(|t| line_of(&t.content, "execute_from_command_line"));
        let evidence = cx.evidence("manage.py", line, "python.start.django");
        out.add_start(priority::FRAMEWORK, command(&["python", "manage.py", "runserver", "0.0.0.0:8000"], evidence));
        served.push((Framework::Django, cx.evidence("manage.py", line, "python.port.default")));
    }
    let asgi = [Framework::FastApi, Framework::Starlette].into_iter().find(|f| out.has_framework(*f));
    if let Some(framework) = asgi
        && let Some(app) = find_app(cx, &["FastAPI", "Starlette"])
    {
        let rule = format!("python.start.{}", framework.as_str());
        run_file(cx, &app, &rule, out);
        let (module, app_dir) = app.module();
        let target = format!("{module}:{}", app.target);
        let mut argv = vec!["uvicorn", &target];
        if app.factory {
            argv.push("--factory");
        }
        if let Some(dir) = app_dir {
            argv.extend(["--app-dir", dir]);
        }
        argv.extend(["--host", "0.0.0.0", "--port", "8000"]);
        out.add_start(priority::FRAMEWORK, command(&argv, cx.evidence(&app.file, Some(app.line), &rule)));
        served.push((framework, cx.evidence(&app.file, Some(app.line), "python.port.default")));
    }
    if let Some(app) = flask {
        run_file(cx, app, "python.start.flask", out);
        let target = app.flask_target();
        let argv = ["flask", "--app", &target, "run", "--host", "0.0.0.0", "--port", "5000"];
        out.add_start(
            priority::FRAMEWORK,
            command(&argv, cx.evidence(&app.file, Some(app.line), "python.start.flask")),
        );
        served.push((Framework::Flask, cx.evidence(&app.file, Some(app.line), "python.port.default")));
    }
    if out.has_framework(Framework::Streamlit)
        && let Some((file, line)) = find_streamlit(cx)
    {
        let evidence = cx.evidence(&file, Some(line), "python.start.streamlit");
        out.add_start(priority::FRAMEWORK, command(&["streamlit", "run", &file], evidence));
        served.push((Framework::Streamlit, cx.evidence(&file, Some(line), "python.port.default")));
        streamlit_config_port(cx, out);
    }
    for file in ["main.py", "app.py", "server.py", "run.py"] {
        if let Some(line) = cx.read(file).and_then(|t| main_block(&t.content)) {
            let evidence = cx.evidence(file, Some(line), "python.start.main");
            out.add_start(priority::CONVENTION, command(&["python", file], evidence));
        }
    }
    served
}

/// `python app.py` ahead of the framework's own command when the file runs the app itself.
fn run_file(cx: &ProjectContext<'_>, app: &App, rule: &str, out: &mut Findings) {
    if app.main_runs {
        let evidence = cx.evidence(&app.file, Some(app.line), rule);
        out.add_start(priority::FRAMEWORK, command(&["python", &app.file], evidence));
    }
}

/// `[project.scripts]` / `[tool.poetry.scripts]` entries that look like servers. A console
/// script is usually a CLI tool, which is not something `up` should start.
fn scripts(cx: &ProjectContext<'_>, text: &str, t: &Table, out: &mut Findings) {
    for (header, path) in
        [("project.scripts", &["project", "scripts"][..]), ("tool.poetry.scripts", &["tool", "poetry", "scripts"])]
    {
        for (name, target) in table_at(t, path).into_iter().flatten() {
            let target = match target {
                Value::String(s) => s.as_str(),
                Value::Table(t) => {
                    t.get("callable").or_else(|| t.get("reference")).and_then(Value::as_str).unwrap_or("")
                }
                _ => "",
            };
            if looks_like_server(name, target) {
                let line = line_in_section(text, header, |l| starts_with_key(l, name));
                let evidence = cx.evidence("pyproject.toml", line, "python.start.script");
                out.add_start(priority::MANIFEST_SCRIPT, command(&[name], evidence));
            }
        }
    }
}

/// A script named like a server (`serve`, `start`, `web`) or pointing into a server module
/// (`app.server:main`, `project.asgi:run`), and not into a CLI module. The callable's name is
/// not a hint: Typer's convention is `pkg.main:app` for a command-line tool.
fn looks_like_server(name: &str, target: &str) -> bool {
    const NAMES: &[&str] = &["serve", "server", "start", "run", "runserver", "web", "api", "app", "dev"];
    const MODULES: &[&str] = &["server", "serve", "wsgi", "asgi", "web", "api"];
    const CLI: &[&str] = &["cli", "cmd", "command", "commands", "console", "tool", "tools", "manage"];
    let words = |s: &str| s.split(['-', '_', '.']).map(str::to_ascii_lowercase).collect::<Vec<_>>();
    let (name, module) = (words(name), words(target.split(':').next().unwrap_or(target)));
    if name.iter().chain(&module).any(|w| CLI.contains(&w.as_str())) {
        return false;
    }
    name.iter().any(|w| NAMES.contains(&w.as_str())) || module.iter().any(|w| MODULES.contains(&w.as_str()))
}

/// The project's Python modules, shallowest first, tests left out.
fn modules<'a>(cx: &'a ProjectContext<'_>) -> Vec<&'a FileEntry> {
    let mut files: Vec<&FileEntry> = cx
        .own_files()
        .iter()
        .copied()
        .filter(|f| f.extension() == Some("py") && f.size <= MAX_PARSE_BYTES)
        .filter(|f| {
            let name = f.file_name();
            let in_tests = cx.relative(&f.path).split('/').any(|d| matches!(d, "tests" | "test" | "migrations"));
            !(in_tests || name.starts_with("test_") || name.ends_with("_test.py") || name == "conftest.py")
        })
        .collect();
    files.sort_by_key(|f| (f.path.matches('/').count(), f.path.clone()));
    files
}

/// The app, by a text search of the project's modules (shallowest first), best evidence first:
/// a top-level `app = FastAPI(…)`; else a top-level `app = get_application()` in a module that
/// names the framework; else a factory (`def create_app(`) in a module that calls the
/// constructor.
fn find_app(cx: &ProjectContext<'_>, constructors: &[&str]) -> Option<App> {
    const FACTORIES: &[&str] = &["create_app", "make_app", "get_app", "create_application", "get_application"];
    let (mut assigned, mut factory) = (None, None);
    for file in modules(cx) {
        let Some(text) = cx.repo.read_text(&file.path) else { continue };
        let text = &text.content;
        let app = |target: &str, factory: bool, i: usize| App {
            file: cx.relative(&file.path).to_owned(),
            target: target.to_owned(),
            factory,
            line: i as u32 + 1,
            main_runs: main_runs(text, target),
        };
        let names_framework = constructors.iter().any(|c| text.contains(c));
        let calls_constructor = constructors.iter().any(|c| text.contains(&format!("{c}(")));
        for (i, l) in text.lines().enumerate() {
            if l.starts_with(char::is_whitespace) {
                continue;
            }
            if let Some((lhs, rhs)) = l.split_once('=')
                && let var = lhs.split(':').next().unwrap_or("").trim()
                && is_identifier(var)
                && let Some(callee) = rhs.trim().split_once('(').map(|(c, _)| c.trim())
            {
                let last = callee.rsplit('.').next().unwrap_or(callee);
                if constructors.contains(&last) {
                    return Some(app(var, false, i));
                }
                if assigned.is_none()
                    && names_framework
                    && matches!(var, "app" | "application")
                    && callee.split('.').all(is_identifier)
                {
                    assigned = Some(app(var, false, i));
                }
            }
            let def = l.strip_prefix("def ").and_then(|d| d.split_once('(')).map(|(name, _)| name.trim());
            if factory.is_none()
                && calls_constructor
                && let Some(name) = def.filter(|n| FACTORIES.contains(n))
            {
                factory = Some(app(name, true, i));
            }
        }
    }
    assigned.or(factory)
}

fn is_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// 1-based line of a module-level `if __name__ == "__main__":`.
fn main_block(text: &str) -> Option<u32> {
    text.lines()
        .position(|l| {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect::<String>().replace('\'', "\"");
            l.starts_with(r#"if__name__=="__main__""#) || l.starts_with(r#"if"__main__"==__name__"#)
        })
        .map(|i| i as u32 + 1)
}

/// Whether the `__main__` block runs the app `target` (`app.run(`, `create_app().run(`,
/// `uvicorn.run(`, `socketio.run(`), not some other `run` (`asyncio.run(main())`).
fn main_runs(text: &str, target: &str) -> bool {
    let needles = [format!("{target}.run("), format!("{target}().run("), "uvicorn.run(".into(), "socketio.run(".into()];
    main_block(text)
        .is_some_and(|line| text.lines().skip(line as usize).any(|l| needles.iter().any(|n| l.contains(n.as_str()))))
}

/// The Streamlit script: a conventional name at the project root that imports streamlit, else
/// the shallowest module that does. Returns the file (relative to the project) and the line.
fn find_streamlit(cx: &ProjectContext<'_>) -> Option<(String, u32)> {
    const NAMES: &[&str] = &["streamlit_app.py", "app.py", "main.py", "Home.py"];
    let mut files = modules(cx);
    files.sort_by_key(|f| NAMES.iter().position(|n| cx.relative(&f.path) == *n).unwrap_or(NAMES.len()));
    files.into_iter().find_map(|f| {
        let text = cx.repo.read_text(&f.path)?;
        let line =
            text.content.lines().position(|l| l.starts_with("import streamlit") || l.starts_with("from streamlit"))?;
        Some((cx.relative(&f.path).to_owned(), line as u32 + 1))
    })
}

/// `[server] port = 8502` in `.streamlit/config.toml`.
fn streamlit_config_port(cx: &ProjectContext<'_>, out: &mut Findings) {
    const CONFIG: &str = ".streamlit/config.toml";
    if !cx.has(CONFIG) {
        return;
    }
    let Some((text, t)) = manifest::read_toml(cx, CONFIG) else { return };
    let port = value_at(&t, &["server", "port"]).and_then(Value::as_integer).and_then(|p| u16::try_from(p).ok());
    if let Some(port) = port.filter(|p| *p > 0) {
        let line = line_in_section(&text.content, "server", |l| starts_with_key(l, "port"));
        out.add_port(port, None, cx.evidence(CONFIG, line, "python.port.streamlit-config"));
    }
}

/// The framework's usual port, only when the code names none.
fn default_ports(served: Vec<(Framework, Evidence)>, out: &mut Findings) {
    if out.has_ports() {
        return;
    }
    for (framework, evidence) in served {
        let port = match framework {
            Framework::Flask => 5000,
            Framework::Streamlit => 8501,
            _ => 8000,
        };
        out.add_port(port, None, evidence);
    }
}

// ---- TOML helpers ----------------------------------------------------------------------------

fn value_at<'t>(t: &'t Table, path: &[&str]) -> Option<&'t Value> {
    let (last, parents) = path.split_last()?;
    let mut table = t;
    for key in parents {
        table = table.get(*key)?.as_table()?;
    }
    table.get(*last)
}

fn table_at<'t>(t: &'t Table, path: &[&str]) -> Option<&'t Table> {
    value_at(t, path)?.as_table()
}

fn str_at<'t>(t: &'t Table, path: &[&str]) -> Option<&'t str> {
    value_at(t, path)?.as_str()
}

/// 1-based line of the `[header]` line.
fn header_line(text: &str, header: &str) -> Option<u32> {
    let wanted = format!("[{header}]");
    text.lines().position(|l| l.trim().starts_with(&wanted)).map(|i| i as u32 + 1)
}

/// 1-based line of the first line of table `[header]` matching `pred`; the whole file when the
/// header is not written out (dotted keys, inline tables).
fn line_in_section(text: &str, header: &str, pred: impl Fn(&str) -> bool) -> Option<u32> {
    let start = header_line(text, header).unwrap_or(0) as usize;
    let lines = text.lines().enumerate().skip(start);
    for (i, l) in lines {
        let t = l.trim_start();
        if start > 0
            && t.starts_with('[')
            && t[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '[' || c == '"')
        {
            break;
        }
        if pred(l) {
            return Some(i as u32 + 1);
        }
    }
    None
}

/// Whether a TOML line assigns `key` (bare or quoted).
fn starts_with_key(line: &str, key: &str) -> bool {
    let l = line.trim_start();
    let rest = l
        .strip_prefix(key)
        .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
        .or_else(|| l.strip_prefix(&format!("'{key}'")));
    rest.is_some_and(|r| r.trim_start().starts_with('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, project};
    use crate::plan::{Detection, Project};

    fn root(files: &[(&str, &str)]) -> Project {
        project(&detect_files(files), ".").clone()
    }

    /// The Python package managers found (other providers add npm for a package.json).
    fn pms(p: &Project) -> Vec<PackageManager> {
        use PackageManager::*;
        p.package_managers.iter().map(|f| f.value).filter(|v| matches!(v, Pip | Poetry | Uv | Pipenv | Pdm)).collect()
    }

    fn frameworks(p: &Project) -> Vec<Framework> {
        p.frameworks.iter().map(|f| f.value).collect()
    }

    fn start(p: &Project) -> Option<&str> {
        p.start.as_ref().map(|c| c.display.as_str())
    }

    fn alternatives(p: &Project) -> Vec<&str> {
        p.start_alternatives.iter().map(|c| c.display.as_str()).collect()
    }

    fn deps(p: &Project) -> Vec<(&str, Option<&str>, bool, Option<u32>)> {
        p.dependencies.iter().map(|d| (d.name.as_str(), d.version.as_deref(), d.dev, d.evidence.line)).collect()
    }

    fn services(p: &Project) -> Vec<(ServiceKind, Option<&str>)> {
        p.services.iter().map(|s| (s.service, s.env_var.as_deref())).collect()
    }

    fn ports(p: &Project) -> Vec<(u16, Option<&str>)> {
        p.ports.iter().map(|s| (s.port, s.env_var.as_deref())).collect()
    }

    fn migrations(p: &Project) -> Vec<(&str, &str)> {
        p.migrations.iter().map(|m| (m.tool.as_str(), m.command.display.as_str())).collect()
    }

    fn rules(evidence: &[Evidence]) -> Vec<(&str, Option<u32>, &str)> {
        evidence.iter().map(|e| (e.file.as_str(), e.line, e.rule.as_str())).collect()
    }

    fn no_warnings(d: &Detection) {
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    // ---- fixtures ----------------------------------------------------------------------------

    #[test]
    fn fixture_flask_redis() {
        let d = detect_fixture("python-flask-redis");
        no_warnings(&d);
        let p = project(&d, ".");
        assert_eq!(p.languages[0].language, Language::Python);
        assert_eq!(pms(p), [PackageManager::Pip]);
        assert_eq!(frameworks(p), [Framework::Flask]);
        assert_eq!(rules(&p.frameworks[0].evidence), [("requirements.txt", Some(2), "python.framework.flask")]);
        assert_eq!(start(p), Some("python app.py"));
        assert_eq!(alternatives(p), ["flask --app app run --host 0.0.0.0 --port 5000"]);
        assert_eq!(ports(p), [(5000, Some("PORT"))]);
        assert_eq!(rules(&p.ports[0].evidence), [("app.py", Some(17), "code.python.port")]);
        assert_eq!(services(p), [(ServiceKind::Redis, Some("REDIS_URL"))]);
        assert_eq!(deps(p), [("flask", Some("==3.0.3"), false, Some(2)), ("redis", Some(">=5.0,<6"), false, Some(3))]);
        let redis_url = p.env_vars.iter().find(|e| e.name == "REDIS_URL").unwrap();
        assert_eq!(redis_url.default.as_deref(), Some("redis://localhost:6379/0"));
    }

    #[test]
    fn fixture_fastapi_postgres() {
        let d = detect_fixture("python-fastapi-postgres");
        no_warnings(&d);
        let p = project(&d, ".");
        assert_eq!(p.name, "todo-api");
        assert_eq!(pms(p), [PackageManager::Uv]);
        assert_eq!(frameworks(p), [Framework::FastApi]);
        assert_eq!(start(p), Some("uvicorn main:app --host 0.0.0.0 --port 8000"));
        assert_eq!(rules(&[p.start.clone().unwrap().evidence]), [("main.py", Some(6), "python.start.fastapi")]);
        assert_eq!(ports(p), [(8000, None)]);
        assert_eq!(rules(&p.ports[0].evidence), [("main.py", Some(6), "python.port.default")]);
        assert_eq!(services(p), [(ServiceKind::Postgres, Some("DATABASE_URL"))]);
        assert_eq!(migrations(p), [("alembic", "alembic upgrade head")]);
        assert_eq!(p.migrations[0].command.evidence.line, Some(2));
        assert!(p.services[0].evidence.iter().any(|e| e.rule == "python.service.alembic-url" && e.line == Some(3)));
        let d = deps(p);
        assert!(d.contains(&("asyncpg", Some(">=0.29"), false, Some(8))), "{d:?}");
        assert!(d.contains(&("uvicorn", Some(">=0.30"), false, Some(7))), "{d:?}");
        assert!(d.contains(&("pytest", Some(">=8"), true, Some(14))), "{d:?}");
    }

    #[test]
    fn fixture_django_postgres() {
        let d = detect_fixture("python-django-postgres");
        no_warnings(&d);
        let p = project(&d, ".");
        assert_eq!(pms(p), [PackageManager::Pip]);
        assert_eq!(frameworks(p), [Framework::Django]);
        assert_eq!(start(p), Some("python manage.py runserver 0.0.0.0:8000"));
        assert_eq!(p.start.as_ref().unwrap().argv, ["python", "manage.py", "runserver", "0.0.0.0:8000"]);
        assert_eq!(ports(p), [(8000, None)]);
        assert_eq!(services(p), [(ServiceKind::Postgres, None)]);
        assert_eq!(
            rules(&p.services[0].evidence),
            [
                ("mysite/settings.py", Some(13), "python.service.django-databases"),
                ("requirements.txt", Some(2), "python.service.dependency"),
            ]
        );
        assert_eq!(migrations(p), [("django", "python manage.py migrate")]);
        let secret = p.env_vars.iter().find(|e| e.name == "SECRET_KEY").unwrap();
        assert_eq!((secret.default.as_deref(), secret.evidence[0].line), (None, Some(5)));
        assert_eq!(
            deps(p),
            [
                ("django", Some(">=5.0,<5.1"), false, Some(1)),
                ("gunicorn", Some("==22.0.0"), false, Some(3)),
                ("psycopg2", Some("==2.9.9"), false, Some(2)),
                ("pytest-django", Some("==4.8.0"), true, Some(2)),
            ]
        );
    }

    #[test]
    fn fixture_poetry() {
        let d = detect_fixture("python-poetry");
        no_warnings(&d);
        let p = project(&d, ".");
        assert_eq!(p.name, "inventory");
        assert_eq!(pms(p), [PackageManager::Poetry]);
        assert_eq!(
            rules(&p.package_managers[0].evidence),
            [("poetry.lock", None, "python.pm.poetry"), ("pyproject.toml", Some(1), "python.pm.poetry")]
        );
        // The server script wins; the CLI script is not a start command.
        assert_eq!(start(p), Some("inventory-serve"));
        assert_eq!(rules(&[p.start.clone().unwrap().evidence]), [("pyproject.toml", Some(17), "python.start.script")]);
        assert_eq!(alternatives(p), ["uvicorn inventory.server:app --host 0.0.0.0 --port 8000"]);
        assert_eq!(ports(p), [(8080, Some("PORT"))]);
        assert_eq!(services(p), [(ServiceKind::Mongodb, Some("MONGO_URL"))]);
        assert_eq!(
            deps(p),
            [
                ("fastapi", Some("^0.115"), false, Some(9)),
                ("pymongo", Some("^4.8"), false, Some(11)),
                ("pytest", Some("^8.0"), true, Some(14)),
                ("uvicorn", Some("^0.30"), false, Some(10)),
            ]
        );
    }

    #[test]
    fn fixture_pipenv() {
        let d = detect_fixture("python-pipenv");
        no_warnings(&d);
        let p = project(&d, ".");
        assert_eq!(pms(p), [PackageManager::Pipenv]);
        assert_eq!(frameworks(p), [Framework::Streamlit]);
        assert_eq!(start(p), Some("streamlit run streamlit_app.py"));
        assert_eq!(ports(p), [(8501, None)]);
        assert_eq!(services(p), [(ServiceKind::Mysql, None)]);
        assert_eq!(
            deps(p),
            [
                ("black", None, true, Some(12)),
                ("pandas", None, false, Some(8)),
                ("pymysql", Some(">=1.1"), false, Some(9)),
                ("streamlit", Some("==1.38.0"), false, Some(7)),
            ]
        );
    }

    #[test]
    fn fixture_malformed() {
        let d = detect_fixture("python-malformed");
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert_eq!((d.warnings[0].file.as_str(), d.warnings[0].line), ("pyproject.toml", Some(7)));
        assert!(d.warnings[0].message.contains("malformed TOML"));
        let p = project(&d, ".");
        assert_eq!(pms(p), [PackageManager::Pip]);
        assert_eq!(start(p), Some("python main.py"));
        assert_eq!(
            deps(p),
            [
                ("click", Some("==8.1.7"), false, Some(3)),
                ("requests", Some(">=2.31"), false, Some(1)),
                ("toolkit-lib", None, false, Some(4)),
            ]
        );
    }

    // ---- requirements ------------------------------------------------------------------------

    #[test]
    fn requirement_specifiers() {
        assert_eq!(normalise("Foo.Bar__baz"), "foo-bar-baz");
        let parse = |s: &str| parse_requirement(s).map(|(n, v)| (n, v.unwrap_or_default()));
        assert_eq!(
            parse("Foo.Bar_baz[extra,other] >= 1.0 ; python_version < \"3.12\""),
            Some(("foo-bar-baz".into(), ">= 1.0".into()))
        );
        assert_eq!(parse("requests (>=2,<3)"), Some(("requests".into(), ">=2,<3".into())));
        assert_eq!(parse("pkg @ https://example.com/pkg-1.0.tar.gz"), Some(("pkg".into(), String::new())));
        assert_eq!(parse("flask"), Some(("flask".into(), String::new())));
        assert_eq!(parse("./local/package"), None);
        assert_eq!(parse("https://example.com/x-1.0-py3-none-any.whl"), None);
        assert_eq!(parse("x-1.0-py3-none-any.whl"), None);
    }

    #[test]
    fn requirements_includes_options_and_continuations() {
        let d = detect_files(&[
            (
                "requirements.txt",
                "-r requirements/base.txt\n--index-url https://pypi.example.com/simple\n-c constraints.txt\n-e .\n",
            ),
            (
                "requirements/base.txt",
                "# base\n-r ../shared.txt\nuvicorn==0.30.0 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\nhttpx  # client\n",
            ),
            ("requirements/dev.txt", "--requirement=base.txt\nruff\n"),
            ("shared.txt", "pydantic>=2\ngit+https://example.com/org/kit.git@v2#egg=Kit_Lib\n"),
            ("constraints.txt", "never-a-dependency==1\n"),
        ]);
        no_warnings(&d);
        let p = project(&d, ".");
        let got: Vec<_> = p
            .dependencies
            .iter()
            .map(|d| (d.name.as_str(), d.dev, d.evidence.file.as_str(), d.evidence.line))
            .collect();
        assert_eq!(
            got,
            [
                ("httpx", false, "requirements/base.txt", Some(6)),
                ("kit-lib", false, "shared.txt", Some(2)),
                ("pydantic", false, "shared.txt", Some(1)),
                ("ruff", true, "requirements/dev.txt", Some(2)),
                ("uvicorn", false, "requirements/base.txt", Some(3)),
            ]
        );
    }

    #[test]
    fn missing_include_is_a_warning() {
        let d = detect_files(&[("requirements.txt", "flask\n-r ../../outside.txt\n-r nothere.txt\n")]);
        let w: Vec<_> = d.warnings.iter().map(|w| (w.file.as_str(), w.line)).collect();
        assert_eq!(w, [("requirements.txt", Some(2)), ("requirements.txt", Some(3))]);
        assert_eq!(deps(project(&d, ".")), [("flask", None, false, Some(1))]);
    }

    // ---- package managers --------------------------------------------------------------------

    #[test]
    fn package_manager_from_locks_first() {
        let with = |files: &[(&str, &str)]| pms(&root(files));
        let req = ("requirements.txt", "flask\n");
        assert_eq!(with(&[req, ("poetry.lock", "")]), [PackageManager::Poetry]);
        assert_eq!(with(&[req, ("pdm.lock", "")]), [PackageManager::Pdm]);
        assert_eq!(with(&[req, ("uv.lock", "")]), [PackageManager::Uv]);
        assert_eq!(
            with(&[("pyproject.toml", "[project]\nname = \"x\"\n[tool.uv]\ndev-dependencies = []\n")]),
            [PackageManager::Uv]
        );
        assert_eq!(with(&[("Pipfile", "[packages]\nflask = \"*\"\n")]), [PackageManager::Pipenv]);
        assert_eq!(with(&[("pyproject.toml", "[project]\nname = \"x\"\n")]), [PackageManager::Pip]);
        assert_eq!(with(&[("setup.py", "from setuptools import setup\nsetup()\n")]), [PackageManager::Pip]);
        assert_eq!(with(&[req]), [PackageManager::Pip]);
    }

    #[test]
    fn uv_workspace_member_uses_the_root_lock() {
        let d = detect_files(&[
            ("pyproject.toml", "[project]\nname = \"ws\"\n[tool.uv.workspace]\nmembers = [\"backend\"]\n"),
            ("uv.lock", "version = 1\n"),
            ("backend/pyproject.toml", "[project]\nname = \"backend\"\ndependencies = [\"fastapi\"]\n"),
        ]);
        let p = project(&d, "backend");
        assert_eq!(pms(p), [PackageManager::Uv]);
        assert_eq!(rules(&p.package_managers[0].evidence), [("uv.lock", None, "python.pm.uv")]);
        let d = detect_files(&[("backend/requirements.txt", "flask\n"), ("package.json", "{}")]);
        assert_eq!(pms(project(&d, "backend")), [PackageManager::Pip]);
    }

    #[test]
    fn service_env_var_prefers_the_plain_name() {
        let p = root(&[
            ("requirements.txt", "redis\n"),
            (
                "settings.py",
                "import os\nA = os.getenv(\"REDIS_TLS_URL\")\nB = os.getenv(\"REDIS_URL\")\nC = os.getenv(\"REDIS_PASSWORD\")\n",
            ),
        ]);
        assert_eq!(services(&p), [(ServiceKind::Redis, Some("REDIS_URL"))]);
    }

    #[test]
    fn tool_settings_alone_are_not_a_python_project() {
        let p = root(&[("package.json", "{}"), ("pyproject.toml", "[tool.black]\nline-length = 100\n")]);
        assert!(p.languages.iter().all(|l| l.language != Language::Python), "{:?}", p.languages);
        assert!(pms(&p).is_empty());
    }

    #[test]
    fn nothing_without_a_python_manifest() {
        let p = root(&[("package.json", "{}"), ("tools/gen.py", "if __name__ == '__main__':\n    pass\n")]);
        let python_deps = p.dependencies.iter().filter(|d| d.ecosystem == "python").count();
        assert!(pms(&p).is_empty() && python_deps == 0 && p.start.is_none());
    }

    // ---- pyproject, setup.py, setup.cfg and Pipfile dependencies ------------------------------

    #[test]
    fn setup_py_and_setup_cfg() {
        let p = root(&[(
            "setup.py",
            "from setuptools import setup\n\nsetup(\n    name=\"svc\",\n    install_requires=[\n        \"Flask>=3\",\n        'redis',\n    ],\n    extras_require={\"pg\": [\"psycopg\"]},\n)\n",
        )]);
        assert_eq!(deps(&p), [("flask", Some(">=3"), false, Some(6)), ("redis", None, false, Some(7))]);
        let p = root(&[(
            "setup.cfg",
            "[metadata]\nname = svc\n\n[options]\npackages = find:\ninstall_requires =\n    fastapi>=0.100\n    # comment\n    asyncpg\npython_requires = >=3.10\n\n[options.extras_require]\ntest = pytest\n",
        )]);
        assert_eq!(deps(&p), [("asyncpg", None, false, Some(9)), ("fastapi", Some(">=0.100"), false, Some(7))]);
        assert_eq!(services(&p), [(ServiceKind::Postgres, None)]);
    }

    #[test]
    fn extras_and_dev_groups_need_no_services() {
        let p = root(&[(
            "pyproject.toml",
            concat!(
                "[project]\nname = \"lib\"\ndependencies = ['httpx']\n\n",
                "[project.optional-dependencies]\nredis = [\"redis>=5\"]\ntest = [\"pytest\"]\n\n",
                "[dependency-groups]\ndev = [\"psycopg[binary]\"]\n",
            ),
        )]);
        assert_eq!(
            deps(&p),
            [
                ("httpx", None, false, Some(3)),
                ("psycopg", None, true, Some(10)),
                ("pytest", None, true, Some(7)),
                ("redis", Some(">=5"), false, Some(6)),
            ]
        );
        assert!(p.services.is_empty(), "{:?}", p.services);
    }

    #[test]
    fn poetry_groups_and_optional() {
        let p = root(&[(
            "pyproject.toml",
            concat!(
                "[tool.poetry]\nname = \"svc\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\n",
                "\"Flask\" = \"^3\"\nredis = { version = \"^5\", optional = true }\n\n",
                "[tool.poetry.group.test.dependencies]\npytest = \"*\"\n\n[tool.poetry.dev-dependencies]\nmypy = \"^1\"\n",
            ),
        )]);
        assert_eq!(
            deps(&p),
            [
                ("flask", Some("^3"), false, Some(6)),
                ("mypy", Some("^1"), true, Some(13)),
                ("pytest", None, true, Some(10)),
                ("redis", Some("^5"), false, Some(7)),
            ]
        );
        assert_eq!(frameworks(&p), [Framework::Flask]);
        assert!(p.services.is_empty());
    }

    #[test]
    fn dev_requirements_give_no_framework_or_service() {
        let p = root(&[("requirements.txt", "click\n"), ("requirements-dev.txt", "django\nredis\n")]);
        assert!(frameworks(&p).is_empty() && p.services.is_empty());
        assert!(p.dependencies.iter().filter(|d| d.name != "click").all(|d| d.dev));
    }

    #[test]
    fn malformed_pipfile_is_a_warning() {
        let d = detect_files(&[("Pipfile", "[packages]\nflask = \n"), ("requirements.txt", "flask\n")]);
        assert_eq!(d.warnings.len(), 1);
        assert_eq!((d.warnings[0].file.as_str(), d.warnings[0].line), ("Pipfile", Some(2)));
        assert_eq!(frameworks(project(&d, ".")), [Framework::Flask]);
    }

    // ---- start commands ----------------------------------------------------------------------

    #[test]
    fn scripts_only_when_they_look_like_servers() {
        assert!(looks_like_server("serve", "pkg.app:main"));
        assert!(looks_like_server("myproj", "myproj.server:run"));
        assert!(looks_like_server("web", "myproj.main:run"));
        assert!(!looks_like_server("myproj", "myproj.main:main"));
        assert!(!looks_like_server("start-cli", "myproj.cli:main"));
        assert!(!looks_like_server("black", "black:patched_main"));
        assert!(!looks_like_server("mytool", "mytool.main:app"));
        let p = root(&[(
            "pyproject.toml",
            "[project]\nname = \"tool\"\n[project.scripts]\ntool = \"tool.__main__:main\"\n",
        )]);
        assert_eq!(p.start, None);
        assert_eq!(p.role, crate::plan::ProjectRole::Library);
    }

    #[test]
    fn flask_factory_and_named_app() {
        let p = root(&[
            ("requirements.txt", "flask\n"),
            (
                "myapp/__init__.py",
                "from flask import Flask\n\ndef create_app():\n    app = Flask(__name__)\n    return app\n",
            ),
        ]);
        assert_eq!(start(&p), Some("flask --app myapp run --host 0.0.0.0 --port 5000"));
        assert_eq!(ports(&p), [(5000, None)]);
        let p = root(&[("requirements.txt", "flask\n"), ("wsgi.py", "import flask\nserver = flask.Flask(__name__)\n")]);
        assert_eq!(start(&p), Some("flask --app wsgi:server run --host 0.0.0.0 --port 5000"));
    }

    #[test]
    fn fastapi_src_layout_factory_and_tests_skipped() {
        let p = root(&[
            ("pyproject.toml", "[project]\nname = \"api\"\ndependencies = [\"fastapi\"]\n"),
            ("tests/test_api.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
            ("src/api/main.py", "from fastapi import FastAPI\n\napp: FastAPI = FastAPI()\n"),
        ]);
        assert_eq!(start(&p), Some("uvicorn api.main:app --app-dir src --host 0.0.0.0 --port 8000"));
        let p = root(&[
            ("requirements.txt", "fastapi\n"),
            ("service.py", "from fastapi import FastAPI\n\ndef create_app():\n    return FastAPI()\n"),
        ]);
        assert_eq!(start(&p), Some("uvicorn service:create_app --factory --host 0.0.0.0 --port 8000"));
        // A factory called at top level gives the app variable.
        let p = root(&[
            ("requirements.txt", "fastapi\n"),
            (
                "app/main.py",
                "from fastapi import FastAPI\n\ndef get_application() -> FastAPI:\n    application = FastAPI()\n    return application\n\napp = get_application()\n",
            ),
        ]);
        assert_eq!(start(&p), Some("uvicorn app.main:app --host 0.0.0.0 --port 8000"));
        assert_eq!(p.start.as_ref().unwrap().evidence.line, Some(7));
    }

    #[test]
    fn main_block_that_runs_the_server_is_preferred() {
        let p = root(&[
            ("requirements.txt", "fastapi\nuvicorn\n"),
            (
                "main.py",
                "import uvicorn\nfrom fastapi import FastAPI\napp = FastAPI()\n\nif __name__ == \"__main__\":\n    uvicorn.run(app, port=9000)\n",
            ),
        ]);
        assert_eq!(start(&p), Some("python main.py"));
        assert_eq!(alternatives(&p), ["uvicorn main:app --host 0.0.0.0 --port 8000"]);
        // The code names its port: no framework default beside it.
        assert_eq!(ports(&p), [(9000, None)]);
        let p = root(&[
            ("requirements.txt", "flask\n"),
            (
                "app.py",
                "import asyncio\nfrom flask import Flask\napp = Flask(__name__)\nif __name__ == '__main__':\n    asyncio.run(warm())\n",
            ),
        ]);
        assert_eq!(start(&p), Some("flask --app app run --host 0.0.0.0 --port 5000"));
    }

    #[test]
    fn conventional_main_needs_a_main_block() {
        let p = root(&[("requirements.txt", "requests\n"), ("main.py", "print('hi')\n"), ("app.py", "x = 1\n")]);
        assert_eq!(p.start, None);
        let p = root(&[("requirements.txt", "requests\n"), ("server.py", "if __name__ == '__main__':\n    serve()\n")]);
        assert_eq!(start(&p), Some("python server.py"));
        assert_eq!(p.start.as_ref().unwrap().evidence.rule, "python.start.main");
    }

    #[test]
    fn streamlit_port_from_its_config() {
        let p = root(&[
            ("requirements.txt", "streamlit\n"),
            ("app.py", "import streamlit as st\n"),
            (".streamlit/config.toml", "[theme]\nbase = \"dark\"\n\n[server]\nheadless = true\nport = 8502\n"),
        ]);
        assert_eq!(ports(&p), [(8502, None)]);
        assert_eq!(rules(&p.ports[0].evidence), [(".streamlit/config.toml", Some(6), "python.port.streamlit-config")]);
    }

    #[test]
    fn streamlit_prefers_the_main_script_over_pages() {
        let p = root(&[
            ("requirements.txt", "streamlit\n"),
            ("pages/1_Report.py", "import streamlit as st\n"),
            ("Home.py", "import os\nimport streamlit as st\n"),
        ]);
        assert_eq!(start(&p), Some("streamlit run Home.py"));
        assert_eq!(rules(&p.ports[0].evidence), [("Home.py", Some(2), "python.port.default")]);
    }

    // ---- Django ------------------------------------------------------------------------------

    #[test]
    fn django_library_has_no_start_or_port() {
        let p = root(&[("pyproject.toml", "[project]\nname = \"django-widgets\"\ndependencies = [\"Django>=4\"]\n")]);
        assert_eq!(frameworks(&p), [Framework::Django]);
        assert_eq!((p.start.as_ref(), p.ports.len(), p.migrations.len()), (None, 0, 0));
        assert_eq!(p.role, crate::plan::ProjectRole::Library);
        // An extra for a framework does not make one.
        let p = root(&[(
            "pyproject.toml",
            "[project]\nname = \"x\"\n[project.optional-dependencies]\nflask = [\"flask\"]\n",
        )]);
        assert!(frameworks(&p).is_empty());
    }

    #[test]
    fn django_settings_engines() {
        let manage = ("manage.py", "from django.core.management import execute_from_command_line\n");
        let p = root(&[
            manage,
            ("requirements.txt", "django\nmysqlclient\n"),
            (
                "config/settings/base.py",
                "DATABASES = {\n    # 'ENGINE': 'django.db.backends.postgresql',\n    'default': {'ENGINE': 'django.db.backends.mysql'},\n}\n",
            ),
        ]);
        assert_eq!(services(&p), [(ServiceKind::Mysql, None)]);
        assert_eq!(p.services[0].evidence[0].line, Some(3));
        let p = root(&[
            manage,
            ("requirements.txt", "django\n"),
            ("mysite/settings.py", "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3'}}\n"),
        ]);
        assert!(p.services.is_empty());
    }

    #[test]
    fn dj_database_url_names_the_env_var() {
        let p = root(&[
            ("manage.py", "import django\n"),
            ("requirements.txt", "django\ndj-database-url\npsycopg[binary]\n"),
        ]);
        assert_eq!(services(&p), [(ServiceKind::Postgres, Some("DATABASE_URL"))]);
        let env = p.env_vars.iter().find(|e| e.name == "DATABASE_URL").unwrap();
        assert_eq!(rules(&env.evidence), [("requirements.txt", Some(2), "python.env.dj-database-url")]);
    }

    // ---- migrations --------------------------------------------------------------------------

    #[test]
    fn flask_migrate() {
        let files = [
            ("requirements.txt", "flask\nFlask-Migrate==4.0\n"),
            ("microblog.py", "from app import create_app\napp = create_app()\n"),
            ("app/__init__.py", "from flask import Flask\n\ndef create_app():\n    return Flask(__name__)\n"),
            ("migrations/env.py", "\n"),
        ];
        let p = root(&files);
        assert_eq!(migrations(&p), [("flask-migrate", "flask --app app db upgrade")]);
        assert_eq!(
            rules(&[p.migrations[0].command.evidence.clone()]),
            [("requirements.txt", Some(2), "python.migration.flask-migrate")]
        );
        let p = root(&files[..3]);
        assert!(p.migrations.is_empty());
    }

    #[test]
    fn alembic_needs_its_script_directory() {
        let p = root(&[
            ("requirements.txt", "alembic\n"),
            (
                "alembic.ini",
                "[alembic]\nscript_location = alembic\nsqlalchemy.url = driver://user:pass@localhost/dbname\n",
            ),
        ]);
        assert!(p.migrations.is_empty() && p.services.is_empty());
        let p = root(&[
            ("requirements.txt", "alembic\n"),
            ("alembic.ini", "[alembic]\nscript_location = ./db/migrations/\n"),
            ("db/migrations/env.py", "\n"),
        ]);
        assert_eq!(migrations(&p), [("alembic", "alembic upgrade head")]);
        let p = root(&[
            ("requirements.txt", "alembic\n"),
            ("alembic.ini", "[alembic]\nscript_location = shop:migrations\n"),
            ("src/shop/migrations/env.py", "\n"),
        ]);
        assert_eq!(p.migrations[0].command.evidence.line, Some(2));
    }
}
