//! Docker: the project's Dockerfile (the container's command, exposed ports, `ENV PORT`) and the
//! Compose files in the project's directory or above it (the images it runs beside, and the
//! ports and environment of the service built from this project).
//!
//! A monorepo often keeps one Compose file at its root while the apps live in subdirectories,
//! so Compose files are looked for in every ancestor directory and attached by what they say:
//! a service built from this project's directory, and the image services it depends on.

use serde_yaml_ng::Value;

use crate::detection::projects::MANIFESTS;
use crate::detection::{Findings, ProjectContext, Provider, command, priority, shell_command};
use crate::plan::{Command, Evidence, Warning};

use super::services::{service_for_image, service_for_url};

pub struct Docker;

impl Provider for Docker {
    fn id(&self) -> &'static str {
        "docker"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        if let Some(file) = DOCKERFILES.iter().find(|f| cx.has(f)) {
            if let Some(text) = cx.read(file) {
                dockerfile(cx, file, &text.content, out);
            }
        }
        for path in compose_files(cx) {
            compose(cx, &path, out);
        }
    }
}

// ---- Dockerfile -----------------------------------------------------------------------------

/// The Dockerfile to read: the plain one, else a development variant (which describes a local
/// run better than a production one would).
const DOCKERFILES: &[&str] =
    &["Dockerfile", "Dockerfile.dev", "Dockerfile.development", "Dockerfile.local", "dev.Dockerfile"];

/// One instruction with its continuation lines joined, and the line it starts on.
#[derive(Debug, PartialEq, Eq)]
struct Instruction {
    keyword: String,
    args: String,
    line: u32,
}

/// Split a Dockerfile into instructions: comments dropped, `\` continuations joined (or the
/// character an `# escape=` directive names), heredoc bodies (`RUN <<EOF … EOF`) skipped.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut escape = '\\';
    let mut out = Vec::new();
    let mut current: Option<Instruction> = None;
    let mut heredoc: Option<String> = None;
    let mut directives = true;
    for (i, raw) in text.lines().enumerate() {
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let line = raw.trim();
        if line.starts_with('#') {
            if directives {
                if let Some(c) = line.trim_start_matches('#').trim().strip_prefix("escape=") {
                    escape = c.trim().chars().next().unwrap_or('\\');
                }
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        directives = false;
        let (body, continues) = match line.strip_suffix(escape) {
            Some(body) => (body.trim_end(), true),
            None => (line, false),
        };
        match current.as_mut() {
            Some(inst) => {
                inst.args.push(' ');
                inst.args.push_str(body);
            }
            None => {
                let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                current = Some(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_owned(),
                    line: i as u32 + 1,
                });
            }
        }
        if !continues {
            if let Some(inst) = current.take() {
                heredoc = heredoc_end(&inst.args);
                out.push(inst);
            }
        }
    }
    out.extend(current);
    out
}

/// The terminator of a heredoc opened in `args` (`<<EOF`, `<<-"EOF"`).
fn heredoc_end(args: &str) -> Option<String> {
    let rest = &args[args.find("<<")? + 2..];
    let word = rest.trim_start_matches('-').trim_start_matches(['"', '\'']);
    let end = word.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(word.len());
    (end > 0).then(|| word[..end].to_owned())
}

/// CMD and ENTRYPOINT come in exec form (a JSON array) or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    Exec(Vec<String>),
    Shell(String),
}

fn form(args: &str) -> Form {
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(argv) if args.trim_start().starts_with('[') => Form::Exec(argv),
        _ => Form::Shell(args.to_owned()),
    }
}

/// What a build stage sets, inherited by stages built `FROM` it.
#[derive(Debug, Clone, Default)]
struct Stage {
    name: Option<String>,
    cmd: Option<(Form, u32)>,
    /// The CMD came from the parent stage: a new ENTRYPOINT resets it.
    cmd_inherited: bool,
    entrypoint: Option<(Form, u32)>,
    expose: Vec<(String, u32)>,
    /// ENV and ARG values, for `$VAR` in EXPOSE; `true` for ENV.
    vars: Vec<(String, String, u32, bool)>,
    workdir: Option<String>,
}

fn stages(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for inst in instructions(text) {
        let args = inst.args.as_str();
        if inst.keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
            let base = words.first().copied().unwrap_or("");
            let mut stage = stages
                .iter()
                .rev()
                .find(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(base)))
                .cloned()
                .unwrap_or_default();
            stage.cmd_inherited = stage.cmd.is_some();
            stage.name = match words.as_slice() {
                [_, kw, name, ..] if kw.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                _ => None,
            };
            stages.push(stage);
            continue;
        }
        let Some(stage) = stages.last_mut() else { continue };
        match inst.keyword.as_str() {
            "CMD" => {
                stage.cmd = Some((form(args), inst.line));
                stage.cmd_inherited = false;
            }
            "ENTRYPOINT" => {
                stage.entrypoint = Some((form(args), inst.line));
                if stage.cmd_inherited {
                    stage.cmd = None;
                }
            }
            "EXPOSE" => stage.expose.extend(args.split_whitespace().map(|p| (p.to_owned(), inst.line))),
            "ENV" | "ARG" => {
                for (k, v) in assignments(args, inst.keyword == "ENV") {
                    stage.vars.push((k, v, inst.line, inst.keyword == "ENV"));
                }
            }
            "WORKDIR" => {
                let dir = args.trim().trim_matches('"').trim_end_matches('/');
                stage.workdir = match (&stage.workdir, dir.starts_with('/')) {
                    (Some(prev), false) => Some(format!("{prev}/{dir}")),
                    _ => Some(dir.to_owned()),
                };
            }
            _ => {}
        }
    }
    stages
}

/// `A=1 B="two words"`, or the legacy `ENV KEY value with spaces`; ARG `NAME` without a value
/// has none.
fn assignments(args: &str, legacy_env: bool) -> Vec<(String, String)> {
    let words = shell_words(args);
    match words.first() {
        Some(first) if legacy_env && !first.contains('=') => {
            let value = args.trim().split_once(char::is_whitespace).map_or("", |(_, v)| v);
            vec![(first.clone(), value.trim().trim_matches('"').to_owned())]
        }
        _ => words.iter().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    }
}

/// Whitespace-separated words with `"…"` and `'…'` quoting, quotes removed.
pub(crate) fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Programs that only supervise the real command (`tini --`, an entrypoint script that ends in
/// `exec "$@"`): the command a person runs on the host is what follows them.
fn is_wrapper(word: &str) -> bool {
    let name = word.rsplit('/').next().unwrap_or(word);
    matches!(name, "tini" | "tini-static" | "dumb-init" | "--")
        || (word.starts_with('/') && name.ends_with(".sh"))
        || name.starts_with("docker-entrypoint")
}

fn dockerfile(cx: &ProjectContext<'_>, file: &str, text: &str, out: &mut Findings) {
    let Some(stage) = stages(text).pop() else { return };
    if let Some(start) = start_command(cx, file, &stage) {
        // `--port 8000` in the command is where the process listens, EXPOSE or not.
        if let Some((Some(port), env)) = super::procfile::port_in_command(&start.display) {
            out.add_port(port, env, Evidence { rule: "docker.cmd.port".into(), ..start.evidence.clone() });
        }
        out.add_start(priority::DOCKERFILE, start);
    }
    let var = |name: &str| stage.vars.iter().rev().find(|v| v.0 == name);
    for (key, value, line, env) in &stage.vars {
        if *env && key == "PORT" {
            let default = (!value.is_empty()).then(|| value.clone());
            out.add_env_var(key, default, cx.evidence(file, Some(*line), "docker.env"));
        }
    }
    for (spec, line) in &stage.expose {
        let spec = spec.split('/').next().unwrap_or(spec);
        let (value, env_var) = match spec.strip_prefix('$') {
            Some(name) => {
                let name = name.trim_start_matches('{').trim_end_matches('}');
                let name = name.split(":-").next().unwrap_or(name);
                (var(name).map(|v| v.1.as_str()).unwrap_or(""), Some(name.to_owned()))
            }
            None => (spec, None),
        };
        let Ok(port) = value.parse::<u16>() else { continue };
        if port == 0 {
            continue;
        }
        let env_var = env_var.or_else(|| var("PORT").filter(|v| v.1 == value).map(|_| "PORT".to_owned()));
        out.add_port(port, env_var, cx.evidence(file, Some(*line), "docker.expose"));
    }
}

/// The last stage's command as the host would run it: wrappers dropped, container paths under
/// the WORKDIR made relative to the project.
fn start_command(cx: &ProjectContext<'_>, file: &str, stage: &Stage) -> Option<Command> {
    let local = |w: &String| local_path(stage.workdir.as_deref(), w);
    let (argv, line, rule) = match (&stage.entrypoint, &stage.cmd) {
        (Some((Form::Shell(s), line)), _) => {
            return Some(shell_command(s, cx.evidence(file, Some(*line), "docker.entrypoint")));
        }
        (Some((Form::Exec(ep), ep_line)), cmd) => {
            let ep: Vec<String> = ep.iter().skip_while(|w| is_wrapper(w)).map(local).collect();
            let cmd_words = match cmd {
                Some((Form::Exec(c), _)) => c.iter().map(local).collect(),
                Some((Form::Shell(s), _)) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
                None => Vec::new(),
            };
            match (ep.is_empty(), cmd) {
                (true, Some((_, cmd_line))) => (cmd_words, *cmd_line, "docker.cmd"),
                (true, None) => return None,
                (false, _) => ([ep, cmd_words].concat(), *ep_line, "docker.entrypoint"),
            }
        }
        (None, Some((Form::Shell(s), line))) => {
            return Some(shell_command(s, cx.evidence(file, Some(*line), "docker.cmd")));
        }
        (None, Some((Form::Exec(c), line))) => (c.iter().map(local).collect(), *line, "docker.cmd"),
        (None, None) => return None,
    };
    let evidence = cx.evidence(file, Some(line), rule);
    match argv.as_slice() {
        [] => None,
        [sh, flag, script] if is_shell(sh) && flag == "-c" => Some(shell_command(script, evidence)),
        _ => Some(command(&argv.iter().map(String::as_str).collect::<Vec<_>>(), evidence)),
    }
}

fn is_shell(program: &str) -> bool {
    matches!(program.rsplit('/').next(), Some("sh" | "bash" | "ash" | "dash" | "zsh"))
}

/// A container path under the WORKDIR as a path relative to the project; `/app/server` becomes
/// `./server`, since a bare name would be looked up on the PATH.
fn local_path(workdir: Option<&str>, word: &str) -> String {
    let rest = workdir.filter(|wd| *wd != "/").and_then(|wd| word.strip_prefix(wd)?.strip_prefix('/'));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => format!("./{rest}"),
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => word.to_owned(),
    }
}

// ---- Compose --------------------------------------------------------------------------------

const COMPOSE_FILES: &[&str] = &["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// Compose files in the project's directory and every directory above it, nearest first.
fn compose_files(cx: &ProjectContext<'_>) -> Vec<String> {
    let mut dirs = vec![cx.dir.to_owned()];
    let mut dir = cx.dir;
    while dir != "." {
        dir = dir.rfind('/').map_or(".", |i| &dir[..i]);
        dirs.push(dir.to_owned());
    }
    dirs.iter()
        .flat_map(|d| COMPOSE_FILES.iter().map(move |f| if d == "." { (*f).to_owned() } else { format!("{d}/{f}") }))
        .filter(|p| cx.repo.exists(p))
        .collect()
}

/// One Compose service, as far as detection cares.
struct Service<'a> {
    name: &'a str,
    def: &'a Value,
    image: Option<&'a str>,
    /// Directories (repository-relative) the service builds from: the context, and the
    /// Dockerfile's own directory when it is elsewhere.
    builds: Vec<String>,
    depends_on: Vec<&'a str>,
}

fn compose(cx: &ProjectContext<'_>, path: &str, out: &mut Findings) {
    let Some(text) = cx.repo.read_text(path) else { return };
    let mut doc: Value = match serde_yaml_ng::from_str(&text.content) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.location().map(|l| l.line() as u32);
            cx.repo.warn(Warning { file: path.to_owned(), line, message: format!("malformed Compose file: {e}") });
            return;
        }
    };
    // Anchors and `<<: *defaults` are common in Compose files; a failed merge keeps the rest.
    let _ = doc.apply_merge();
    let compose_dir = path.rfind('/').map_or(".", |i| &path[..i]);
    let Some(services) = doc.get("services").and_then(Value::as_mapping) else { return };
    let services: Vec<Service<'_>> = services
        .iter()
        .filter_map(|(name, def)| {
            let name = name.as_str()?;
            Some(Service {
                name,
                def,
                image: def.get("image").and_then(Value::as_str),
                builds: build_dirs(compose_dir, def.get("build")),
                depends_on: match def.get("depends_on") {
                    Some(Value::Sequence(s)) => s.iter().filter_map(Value::as_str).collect(),
                    Some(Value::Mapping(m)) => m.keys().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                },
            })
        })
        .collect();
    let builders: Vec<&Service<'_>> = services.iter().filter(|s| s.builds.iter().any(|d| d == cx.dir)).collect();
    let root_is_project = cx.dir == "." || MANIFESTS.iter().any(|m| cx.repo.exists(m));
    // A root Compose file of a monorepo whose root is no project: its images serve the apps
    // it builds (those that name no dependencies), or every app when it builds none.
    let shared_root = compose_dir == "." && !root_is_project;
    let builds_any = services.iter().any(|s| !s.builds.is_empty());
    let names: Vec<&str> = services.iter().map(|s| s.name).collect();

    for s in &services {
        let Some(kind) = s.image.filter(|_| s.builds.is_empty()).and_then(service_for_image) else { continue };
        let attach = compose_dir == cx.dir
            || builders.iter().any(|b| b.depends_on.contains(&s.name))
            || (shared_root && (!builds_any || builders.iter().any(|b| b.depends_on.is_empty())));
        if attach {
            let line = yaml_key_line(&text.content, &["services", s.name, "image"]);
            out.add_service(kind, None, Evidence::new(path, line, "docker.compose.image"));
        }
    }

    for b in builders {
        let service_line = yaml_key_line(&text.content, &["services", b.name]).unwrap_or(1);
        let line_of = |key: &str, needle: &str| {
            yaml_key_line(&text.content, &["services", b.name, key])
                .map(|l| line_after(&text.content, l, needle).unwrap_or(l))
                .or(Some(service_line))
        };
        let container_ports = ["ports", "expose"]
            .into_iter()
            .flat_map(|key| b.def.get(key).and_then(Value::as_sequence).into_iter().flatten().map(move |p| (key, p)));
        for (key, entry) in container_ports {
            let (port, needle) = match entry {
                Value::Number(n) => (n.as_u64().and_then(|n| u16::try_from(n).ok()), n.to_string()),
                Value::String(s) => (container_port(s), s.clone()),
                Value::Mapping(_) => {
                    (entry.get("target").and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok()), "target".into())
                }
                _ => (None, String::new()),
            };
            if let Some(port) = port.filter(|&p| p > 0) {
                out.add_port(port, None, Evidence::new(path, line_of(key, &needle), "docker.compose.port"));
            }
        }
        for (key, value) in environment(b.def.get("environment")) {
            let evidence = Evidence::new(path, line_of("environment", &key), "docker.compose.env");
            if let Some(kind) = value.as_deref().and_then(service_for_url) {
                out.add_service(kind, Some(key.clone()), evidence.clone());
            }
            // A value naming another Compose service (`DB_HOST=db`) or a URL into the Compose
            // network means nothing on the host: keep only the name.
            let default = value
                .filter(|v| !v.is_empty() && !v.contains("${") && !v.contains("://") && !names.contains(&v.as_str()));
            out.add_env_var(&key, default, evidence);
        }
    }
}

/// `build: ./api` or `build: {context: ., dockerfile: api/Dockerfile}`, resolved against the
/// Compose file's directory.
fn build_dirs(compose_dir: &str, build: Option<&Value>) -> Vec<String> {
    let (context, dockerfile) = match build {
        Some(Value::String(s)) => (s.as_str(), None),
        Some(b @ Value::Mapping(_)) => {
            (b.get("context").and_then(Value::as_str).unwrap_or("."), b.get("dockerfile").and_then(Value::as_str))
        }
        _ => return Vec::new(),
    };
    // Remote contexts (git URLs) build nothing in this repository.
    if context.contains("://") || context.starts_with("git@") {
        return Vec::new();
    }
    let Some(context_dir) = join(compose_dir, context) else { return Vec::new() };
    let mut dirs = vec![context_dir.clone()];
    if let Some(dockerfile_dir) = dockerfile.and_then(|f| join(&context_dir, f.rsplit_once('/')?.0)) {
        if !dirs.contains(&dockerfile_dir) {
            dirs.push(dockerfile_dir);
        }
    }
    dirs
}

/// `base` + a relative path, normalised to a repository-relative directory (`.` for the root);
/// `None` when it leaves the repository or is absolute.
fn join(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return None;
    }
    crate::repo::normalize_join(base, rel)
}

/// The container side of a port mapping: `"3000"`, `"8080:80"`, `"127.0.0.1:8080:80/tcp"`.
/// Ranges are left out.
fn container_port(spec: &str) -> Option<u16> {
    let spec = spec.split('/').next()?;
    spec.rsplit(':').next()?.parse().ok()
}

/// `environment:` as a list of `KEY=value` / `KEY`, or a mapping; values as strings.
fn environment(env: Option<&Value>) -> Vec<(String, Option<String>)> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match env {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.trim().to_owned(), Some(v.to_owned())),
                None => (item.trim().to_owned(), None),
            })
            .collect(),
        Some(Value::Mapping(m)) => m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar(v)))).collect(),
        _ => Vec::new(),
    }
}

/// 1-based line of a block-style YAML key path (`["services", "db", "image"]`): each key is
/// looked for among the direct children of the previous one. `None` for flow style or when
/// the path is absent. The YAML parser keeps no positions, so evidence needs this.
pub(super) fn yaml_key_line(text: &str, path: &[&str]) -> Option<u32> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        let mut child_indent = None;
        let mut hit = None;
        for (i, l) in lines.iter().enumerate().skip(start) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') || t == "---" {
                continue;
            }
            let indent = l.len() - t.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                break;
            }
            let child = *child_indent.get_or_insert(indent);
            if indent == child && is_key(t, key) {
                hit = Some((i, indent));
                break;
            }
        }
        let (i, indent) = hit?;
        start = i + 1;
        parent_indent = Some(indent);
        found = Some(i as u32 + 1);
    }
    found
}

fn is_key(line: &str, key: &str) -> bool {
    let rest = [key.to_owned(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .find_map(|k| line.strip_prefix(k.as_str()).map(str::to_owned));
    rest.is_some_and(|r| r.trim_start().starts_with(':'))
}

/// First line at or after `from` (1-based) containing `needle`.
fn line_after(text: &str, from: u32, needle: &str) -> Option<u32> {
    if needle.is_empty() {
        return None;
    }
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1) as usize)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, odd_inputs, project};
    use crate::plan::ServiceKind;

    #[test]
    fn instructions_join_continuations_and_skip_heredocs() {
        let text = "# syntax=docker/dockerfile:1\nFROM node:20 AS build\nRUN <<EOF\nCMD not-an-instruction\nEOF\nCMD [\"node\", \\\n  # a comment inside\n  \"server.js\"]\n";
        let got = instructions(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], Instruction { keyword: "CMD".into(), args: "[\"node\", \"server.js\"]".into(), line: 6 });
    }

    #[test]
    fn last_stage_wins_and_inherits_from_named_stage() {
        let d = detect_files(&[
            ("package.json", "{\"name\": \"web\"}"),
            (
                "Dockerfile",
                "FROM node:20 AS build\nCMD [\"npm\", \"run\", \"build\"]\nFROM node:20-slim AS base\nWORKDIR /app\nENV PORT=8080\nEXPOSE $PORT\nCMD [\"node\", \"/app/dist/server.js\"]\nFROM base\nLABEL stage=final\n",
            ),
        ]);
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!((start.display.as_str(), start.evidence.line), ("node dist/server.js", Some(7)));
        let port = p.ports.iter().find(|p| p.port == 8080).unwrap();
        assert_eq!(port.env_var.as_deref(), Some("PORT"));
        assert_eq!(port.evidence[0].rule, "docker.expose");
        assert_eq!(port.evidence[0].line, Some(6));
        let env = p.env_vars.iter().find(|e| e.name == "PORT").unwrap();
        assert_eq!(env.default.as_deref(), Some("8080"));
    }

    #[test]
    fn cmd_forms() {
        let start = |dockerfile: &str| {
            let d = detect_files(&[("go.mod", "module x\n"), ("Dockerfile", dockerfile)]);
            project(&d, ".").start.clone()
        };
        let s = start("FROM python:3.12\nWORKDIR /srv\nCMD [\"gunicorn\", \"app:app\", \"-b\", \"0.0.0.0:8000\"]\n")
            .unwrap();
        assert_eq!(s.argv, ["gunicorn", "app:app", "-b", "0.0.0.0:8000"]);
        assert_eq!((s.evidence.line, s.evidence.rule.as_str()), (Some(3), "docker.cmd"));
        let s = start("FROM ruby\nCMD bundle exec puma \\\n  -C config/puma.rb\n").unwrap();
        assert_eq!(s.display, "bundle exec puma -C config/puma.rb");
        assert_eq!(s.argv[..2], ["sh", "-c"]);
        let s = start("FROM x\nWORKDIR /app\nENTRYPOINT [\"/docker-entrypoint.sh\"]\nCMD [\"/app/bin/server\", \"--port\", \"9000\"]\n")
            .unwrap();
        assert_eq!(s.argv, ["bin/server", "--port", "9000"]);
        let s = start("FROM x\nWORKDIR /srv\nCMD [\"/srv/server\"]\n").unwrap();
        assert_eq!(s.argv, ["./server"]);
        let s = start("FROM x\nENTRYPOINT [\"java\", \"-jar\", \"app.jar\"]\nCMD [\"--verbose\"]\n").unwrap();
        assert_eq!(
            (s.display.as_str(), s.evidence.rule.as_str()),
            ("java -jar app.jar --verbose", "docker.entrypoint")
        );
        let s = start("FROM x\nCMD [\"sh\", \"-c\", \"./run.sh && echo done\"]\n").unwrap();
        assert_eq!(s.display, "./run.sh && echo done");
        // Not JSON: the shell form, as Docker reads it.
        let s = start("FROM x\nCMD [node, server.js]\n").unwrap();
        assert_eq!(s.argv, ["sh", "-c", "[node, server.js]"]);
        assert!(start("FROM x\nRUN make\n").is_none());
        // An ENTRYPOINT in a stage built on another resets the CMD it inherited.
        assert!(start("FROM x AS a\nCMD [\"a\"]\nFROM a\nENTRYPOINT [\"tini\", \"--\"]\n").is_none());
    }

    #[test]
    fn development_dockerfile_variant() {
        let d = detect_files(&[
            ("go.mod", "module x\n"),
            ("Dockerfile.dev", "FROM golang:1.22\nEXPOSE 8080\nCMD [\"go\", \"run\", \".\"]\n"),
            ("Dockerfile.prod", "FROM scratch\nEXPOSE 9999\n"),
        ]);
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!((start.display.as_str(), start.evidence.file.as_str()), ("go run .", "Dockerfile.dev"));
        assert_eq!(p.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [8080]);
    }

    #[test]
    fn expose_forms() {
        let d = detect_files(&[
            ("go.mod", "module x\n"),
            (
                "Dockerfile",
                "FROM x\nARG HTTP=7000\nENV \"NAMÉ\" legacy value\nEXPOSE 3000/tcp 53/udp ${HTTP} 8000-8010 $MISSING\n",
            ),
        ]);
        let ports: Vec<_> = project(&d, ".").ports.iter().map(|p| (p.port, p.env_var.clone())).collect();
        assert_eq!(ports, [(53, None), (3000, None), (7000, Some("HTTP".into()))]);
    }

    #[test]
    fn key_lines() {
        let text = "version: '3'\nservices:\n  web:\n    build: .\n    environment:\n      image: not-this\n  db:\n    # comment\n    \"image\": postgres:16\n";
        assert_eq!(yaml_key_line(text, &["services", "db", "image"]), Some(9));
        assert_eq!(yaml_key_line(text, &["services", "web", "image"]), None);
        assert_eq!(yaml_key_line(text, &["services"]), Some(2));
        assert_eq!(join("apps", "../api/"), Some("api".into()));
        assert_eq!(join(".", ".."), None);
        assert_eq!(container_port("127.0.0.1:8080:80/tcp"), Some(80));
        assert_eq!(container_port("3000-3005:3000-3005"), None);
    }

    #[test]
    fn compose_in_own_dir_attaches_every_image() {
        let d = detect_files(&[
            ("requirements.txt", "flask\n"),
            (
                "docker-compose.yml",
                "services:\n  web:\n    build: .\n    ports:\n      - \"8000:5000\"\n    environment:\n      - DATABASE_URL=postgres://u:p@db/app\n      - DB_HOST=db\n      - DEBUG=1\n  db:\n    image: postgres:16\n  cache:\n    image: redis:7-alpine\n  tool:\n    image: busybox\n",
            ),
        ]);
        let p = project(&d, ".");
        let kinds: Vec<_> = p.services.iter().map(|s| s.service).collect();
        assert_eq!(kinds, [ServiceKind::Postgres, ServiceKind::Redis]);
        let pg = &p.services[0];
        assert_eq!(pg.env_var.as_deref(), Some("DATABASE_URL"));
        assert!(pg.evidence.contains(&Evidence::new("docker-compose.yml", Some(11), "docker.compose.image")));
        assert_eq!(p.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [5000]);
        assert_eq!(p.ports[0].evidence[0].line, Some(5));
        let env = |n: &str| p.env_vars.iter().find(|e| e.name == n).unwrap().default.clone();
        assert_eq!(env("DEBUG").as_deref(), Some("1"));
        assert_eq!(env("DB_HOST"), None);
        assert_eq!(env("DATABASE_URL"), None);
    }

    #[test]
    fn compose_long_port_syntax_expose_and_env_mapping() {
        let d = detect_files(&[
            ("go.mod", "module x\n"),
            (
                "compose.yml",
                "x-common: &common\n  restart: unless-stopped\nservices:\n  app:\n    <<: *common\n    build:\n      context: .\n    ports:\n      - target: 8080\n        published: 80\n      - 9090\n    expose:\n      - \"7000\"\n    environment:\n      LOG_LEVEL: debug\n      WORKERS: 4\n      SECRET_KEY:\n      API_URL: ${API_URL:-http://localhost}\n",
            ),
        ]);
        let p = project(&d, ".");
        let ports: Vec<_> = p.ports.iter().map(|p| (p.port, p.evidence[0].line)).collect();
        assert_eq!(ports, [(7000, Some(13)), (8080, Some(9)), (9090, Some(11))]);
        let env: Vec<_> = p.env_vars.iter().map(|e| (e.name.as_str(), e.default.as_deref())).collect();
        assert_eq!(
            env,
            [("API_URL", None), ("LOG_LEVEL", Some("debug")), ("SECRET_KEY", None), ("WORKERS", Some("4"))]
        );
    }

    #[test]
    fn ancestor_compose_attaches_by_depends_on() {
        let compose = "services:\n  api:\n    build:\n      context: .\n      dockerfile: services/api/Dockerfile\n    depends_on:\n      mongo:\n        condition: service_healthy\n  mongo:\n    image: mongo:7\n  mq:\n    image: rabbitmq:3\n";
        let d = detect_files(&[
            ("package.json", "{\"name\": \"root\", \"workspaces\": [\"services/*\"]}"),
            ("compose.yaml", compose),
            ("services/api/package.json", "{\"name\": \"api\"}"),
            ("services/mail/package.json", "{\"name\": \"mail\"}"),
        ]);
        let kinds = |path: &str| project(&d, path).services.iter().map(|s| s.service).collect::<Vec<_>>();
        // The root is a project and holds the file: it gets every image.
        assert_eq!(kinds("."), [ServiceKind::Mongodb, ServiceKind::Rabbitmq]);
        assert_eq!(kinds("services/api"), [ServiceKind::Mongodb]);
        assert!(kinds("services/mail").is_empty());
    }

    #[test]
    fn shared_root_compose_without_builds_serves_every_project() {
        let d = detect_files(&[
            ("docker-compose.yaml", "services:\n  db:\n    image: mysql:8\n"),
            ("a/go.mod", "module a\n"),
            ("b/Cargo.toml", "[package]\nname = \"b\"\n"),
        ]);
        for path in ["a", "b"] {
            assert_eq!(project(&d, path).services[0].service, ServiceKind::Mysql);
        }
    }

    #[test]
    fn malformed_root_compose_warns_once_for_many_projects() {
        let d = detect_files(&[
            ("docker-compose.yml", "services:\n  db:\n    image: [postgres\n"),
            ("a/go.mod", "module a\n"),
            ("b/go.mod", "module b\n"),
        ]);
        assert_eq!(d.projects.len(), 2);
        let w: Vec<_> = d.warnings.iter().filter(|w| w.file == "docker-compose.yml").collect();
        assert_eq!(w.len(), 1, "{:?}", d.warnings);
        assert!(w[0].line.is_some());
    }

    #[test]
    fn fixture_docker_compose_monorepo() {
        let d = detect_fixture("docker-compose-monorepo");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let api = project(&d, "api");
        let kinds: Vec<_> = api.services.iter().map(|s| s.service).collect();
        assert_eq!(kinds, [ServiceKind::Postgres, ServiceKind::Redis]);
        assert!(api.services[0].evidence.contains(&Evidence::new(
            "docker-compose.yml",
            Some(5),
            "docker.compose.image"
        )));
        assert!(api.ports.iter().any(|p| p.port == 3000 && p.evidence.iter().any(|e| e.rule == "docker.compose.port")));
        assert!(api.env_vars.iter().any(|e| e.name == "NODE_ENV" && e.default.as_deref() == Some("development")));
        let starts: Vec<_> = api.start.iter().chain(&api.start_alternatives).collect();
        assert!(starts.iter().any(|s| s.display == "node src/server.js" && s.evidence.rule == "docker.cmd"));
        let worker = project(&d, "worker");
        let kinds: Vec<_> = worker.services.iter().map(|s| s.service).collect();
        assert_eq!(kinds, [ServiceKind::Redis]);
        assert_eq!(worker.services[0].env_var.as_deref(), Some("REDIS_URL"));
        assert!(worker.ports.is_empty());
    }

    #[test]
    fn fixture_compose_malformed() {
        let d = detect_fixture("compose-malformed");
        let w: Vec<_> = d.warnings.iter().filter(|w| w.file == "docker-compose.yml").collect();
        assert_eq!(w.len(), 1, "{:?}", d.warnings);
        assert!(w[0].line.is_some());
        assert!(w[0].message.contains("malformed Compose file"));
        // Detection went on: the Dockerfile still gives the start command and its port.
        let p = project(&d, ".");
        assert!(p.start.iter().chain(&p.start_alternatives).any(|s| s.evidence.rule == "docker.cmd"));
        assert!(p.ports.iter().any(|p| p.port == 8000 && p.evidence[0].rule == "docker.cmd.port"));
        assert!(p.services.is_empty());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in odd_inputs() {
            let lines = input.lines().count() as u32;
            for stage in stages(&input) {
                assert!(stage.cmd.is_none_or(|c| c.1 <= lines), "{input:?}");
            }
            assert!(yaml_key_line(&input, &["a"]).is_none_or(|l| l <= lines));
            let _ = shell_words(&input);
            let _ = assignments(&input, true);
            let _ = yaml_key_line(&input, &["a", "é"]);
            let _ = container_port(&input);
            let _ = join(".", &input);
        }
    }
}
