//! Start commands a project's own documentation gives, for a project where no rule found one:
//! shell lines in the README's (and `docs/`') code blocks, the Makefile's run targets, the
//! Procfile's processes other than `web` (and all of `Procfile.dev`'s), package.json scripts.
//!
//! Rules do not start these on their own: a README also shows how to test, build, lint and
//! deploy, and prose cannot say which line is "the app". Each candidate is checked against
//! the repository here (the module, file, script or target it names exists; the program it
//! runs is a declared dependency), so the Detection model only chooses among commands that
//! can run; it never writes one.

use std::sync::LazyLock;

use regex::Regex;

use super::ProjectContext;
use super::findings::{command, shell_command};
use crate::plan::{Command, Dependency, StartCandidate};

/// At most this many candidates per project: the model's prompt stays short, and a README
/// with more run lines than this is a tutorial, not a start command.
const MAX_CANDIDATES: usize = 8;

/// Makefile targets whose name says they run the app.
const RUN_TARGETS: &[&str] = &["run", "serve", "server", "start", "dev", "runserver", "up", "web"];

static MAKE_TARGET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][A-Za-z0-9_.:-]*)\s*:(?:[^=]|$)").expect("valid pattern"));

/// The targets a Makefile declares, with their 1-based lines, in order (a target named twice
/// once). Shared with the Fixer's `run_script` validation.
pub fn make_targets(text: &str) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = MAKE_TARGET.captures(line) {
            if !out.iter().any(|(t, _)| *t == c[1]) {
                out.push((c[1].to_owned(), i as u32 + 1));
            }
        }
    }
    out
}

/// Python modules whose `python -m` runs a tool, not an app.
const TOOL_MODULES: &[&str] = &[
    "pip",
    "venv",
    "virtualenv",
    "pytest",
    "unittest",
    "doctest",
    "build",
    "twine",
    "black",
    "flake8",
    "mypy",
    "ruff",
    "isort",
    "pylint",
    "coverage",
    "tox",
    "nox",
    "ensurepip",
    "compileall",
    "http.server",
    "pipx",
    "pip_tools",
    "piptools",
    "poetry",
    "pdm",
    "uv",
    "json.tool",
    "timeit",
    "cProfile",
    "pdb",
    "sphinx",
    "mkdocs",
    "alembic",
    "django",
    "setuptools",
    "wheel",
    "spacy",
    "nltk",
    "site",
];

/// Python servers a project declares as a dependency and runs by their own name.
const PYTHON_SERVERS: &[&str] = &[
    "uvicorn",
    "gunicorn",
    "hypercorn",
    "daphne",
    "waitress-serve",
    "flask",
    "fastapi",
    "streamlit",
    "panel",
    "gradio",
    "chainlit",
    "granian",
    "sanic",
    "litestar",
    "bokeh",
    "voila",
    "datasette",
];

/// The candidates found for the project in `cx`: the documentation's, the Makefile's run
/// targets, then package.json scripts, ordered serving commands first (stable otherwise).
pub fn find(cx: &ProjectContext<'_>, dependencies: &[Dependency]) -> Vec<StartCandidate> {
    let mut out: Vec<StartCandidate> = Vec::new();
    let mut push = |candidate: StartCandidate| {
        if out.len() < MAX_CANDIDATES && !out.iter().any(|c| c.command.display == candidate.command.display) {
            out.push(candidate);
        }
    };
    for doc in documents(cx) {
        let Some(text) = cx.repo.read_text(&doc) else { continue };
        for (line, shell) in code_lines(&text.content) {
            let evidence = crate::plan::Evidence::new(doc.clone(), Some(line), "docs.code-block");
            if let Some(candidate) = candidate(cx, dependencies, &shell, evidence) {
                push(candidate);
            }
        }
    }
    for name in ["Makefile", "makefile", "GNUmakefile"] {
        let Some(text) = cx.read(name) else { continue };
        for (target, line) in make_targets(&text.content) {
            if RUN_TARGETS.contains(&target.as_str()) {
                let evidence = cx.evidence(name, Some(line), "make.run-target");
                push(StartCandidate {
                    command: command(&["make", &target], evidence),
                    validated: format!("target `{target}` is declared in {}", cx.path(name)),
                    port: None,
                });
            }
        }
        break;
    }
    for candidate in procfile_processes(cx, dependencies) {
        push(candidate);
    }
    for candidate in package_scripts(cx) {
        push(candidate);
    }
    // Commands that say they serve first, one-off tasks last: the order the model sees them
    // in (small models lean towards the first), and the no-model baseline of `repo-run eval`.
    out.sort_by_key(|c| std::cmp::Reverse(serve_score(&c.command.argv)));
    out
}

/// Words in a command that say it runs the app, and words that say it does a one-off task.
const SERVE_WORDS: &[&str] = &["serve", "server", "runserver", "start", "web", "up", "dev", "run", "worker", "bot"];
const TASK_WORDS: &[&str] = &[
    "test",
    "tests",
    "lint",
    "migrate",
    "seed",
    "reset",
    "export",
    "import",
    "build",
    "check",
    "format",
    "install",
    "deploy",
    "shell",
    "console",
    "init",
    "setup",
    "clean",
    "bench",
    "docs",
    "count",
    "generate",
    "dump",
    "load",
    "preview",
    "typecheck",
    "fmt",
    "client",
];

/// +1 for each word that says "runs the app", -1 for each that says "one-off task"; `run`
/// counts only as a make target (`npm run`, `cargo run`, `flask run` say nothing by it).
pub fn serve_score(argv: &[String]) -> i32 {
    let words: Vec<String> = argv
        .iter()
        .skip(1)
        .flat_map(|w| w.split([':', '-', '_', '/', '.']).map(str::to_ascii_lowercase).collect::<Vec<_>>())
        .collect();
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let mut score = 0;
    for word in &words {
        if word == "run" && program != "make" {
            continue;
        }
        if SERVE_WORDS.contains(&word.as_str()) {
            score += 1;
        }
        if TASK_WORDS.contains(&word.as_str()) {
            score -= 1;
        }
    }
    score
}

/// README files of the project, then markdown under its `docs/` (not deeper: API references
/// and changelogs live there).
fn documents(cx: &ProjectContext<'_>) -> Vec<String> {
    let mut readmes: Vec<String> = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    let docs_dir = cx.path("docs/");
    for f in cx.own_files() {
        let rel = cx.relative(&f.path);
        let lower = rel.to_ascii_lowercase();
        let markup =
            lower.ends_with(".md") || lower.ends_with(".rst") || lower.ends_with(".txt") || !lower.contains('.');
        if !rel.contains('/') && lower.starts_with("readme") && markup {
            readmes.push(f.path.clone());
        } else if f.path.starts_with(&docs_dir) && !rel["docs/".len()..].contains('/') && lower.ends_with(".md") {
            docs.push(f.path.clone());
        }
    }
    readmes.sort();
    docs.sort();
    readmes.extend(docs);
    readmes
}

/// Shell lines inside code blocks of a markdown or reStructuredText document, with their
/// 1-based line numbers: fenced blocks whose language is a shell (or none), indented blocks,
/// and `$ ` prompt lines anywhere.
pub fn code_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut fence: Option<(String, bool)> = None; // (marker, is shell)
    let mut previous_blank = true;
    let mut in_indented = false;
    for (i, raw) in text.lines().enumerate() {
        let number = i as u32 + 1;
        let trimmed = raw.trim_start();
        if let Some((marker, shell)) = &fence {
            if trimmed.starts_with(marker.as_str()) {
                fence = None;
            } else if *shell {
                out.push((number, raw.trim().to_owned()));
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let marker = trimmed[..3].to_owned();
            let info = trimmed[3..].trim().to_ascii_lowercase();
            let shell = matches!(
                info.split([' ', '{', ',']).next().unwrap_or(""),
                "" | "sh" | "bash" | "shell" | "console" | "zsh" | "text" | "shell-session" | "terminal" | "cmd"
            );
            fence = Some((marker, shell));
            continue;
        }
        let indented = raw.starts_with("    ") || raw.starts_with('\t');
        if indented && !trimmed.is_empty() && (previous_blank || in_indented) {
            in_indented = true;
            out.push((number, trimmed.trim_end().to_owned()));
        } else if let Some(rest) = trimmed.strip_prefix("$ ") {
            out.push((number, rest.trim().to_owned()));
        } else if !trimmed.is_empty() {
            in_indented = false;
        }
        previous_blank = trimmed.is_empty();
    }
    // Prompts and trailing comments are not part of the command.
    for (_, line) in &mut out {
        for prompt in ["$ ", "% ", "> "] {
            if let Some(rest) = line.strip_prefix(prompt) {
                *line = rest.trim().to_owned();
            }
        }
        *line = strip_comment(line).to_owned();
    }
    out.retain(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    out
}

/// The line without a trailing shell comment (` # start the db`); a `#` inside quotes or a
/// word (`C#`, `url#anchor`) is kept.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if previous.is_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
        previous = c;
    }
    line
}

/// A documented line as a start candidate, when it runs something this project has.
fn candidate(
    cx: &ProjectContext<'_>,
    dependencies: &[Dependency],
    line: &str,
    evidence: crate::plan::Evidence,
) -> Option<StartCandidate> {
    // Pipes, chains, redirections and substitutions are scripts, not a start command.
    if line.contains(['|', ';', '>', '<', '`']) || line.contains("&&") || line.contains("$(") || line.ends_with('\\') {
        return None;
    }
    let mut words = super::providers::shell_words(line);
    // The project's own shell script (`./scripts/run-server.sh`) runs through bash, so that
    // it needs no execute bit.
    if words.first().is_some_and(|w| w.ends_with(".sh")) {
        let script = words[0].trim_start_matches("./").to_owned();
        words.splice(0..1, ["bash".to_owned(), script]);
    }
    let assignments = words.iter().take_while(|w| is_assignment(w)).count();
    let argv: Vec<&str> = words[assignments..].iter().map(String::as_str).collect();
    let validated = validate(cx, dependencies, &argv)?;
    let command: Command = if assignments > 0 { shell_command(line, evidence) } else { command(&argv, evidence) };
    Some(StartCandidate { port: port_in(&argv), command, validated })
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// What the repository confirms about `argv` as this project's start command, or `None`
/// when it is not one (a tool, a test run, an install, a file that is not there).
pub fn validate(cx: &ProjectContext<'_>, dependencies: &[Dependency], argv: &[&str]) -> Option<String> {
    let (&program, args) = argv.split_first()?;
    let program = program.trim_start_matches("./");
    let declares = |name: &str| {
        let wanted = name.to_ascii_lowercase().replace('_', "-");
        dependencies.iter().any(|d| d.name.to_ascii_lowercase().replace('_', "-") == wanted)
    };
    let file = |path: &str| cx.has(path.trim_start_matches("./")).then(|| format!("{} exists", cx.path(path)));
    match program {
        "python" | "python3" | "py" => {
            let args: Vec<&str> = args.iter().copied().skip_while(|a| a.starts_with('-') && *a != "-m").collect();
            match args.as_slice() {
                ["-m", module, ..] => python_module(cx, module).or_else(|| {
                    let top = module.split('.').next().unwrap_or(module);
                    (PYTHON_SERVERS.contains(&top) && declares(top)).then(|| format!("{top} is a declared dependency"))
                }),
                ["manage.py", sub, ..] if *sub == "runserver" => file("manage.py"),
                [script, ..] if script.ends_with(".py") && !matches!(*script, "setup.py" | "manage.py") => file(script),
                _ => None,
            }
        }
        "uvicorn" | "gunicorn" | "hypercorn" | "daphne" | "waitress-serve" | "granian" => {
            // The program's package (`waitress-serve` comes with `waitress`).
            let package = program.strip_suffix("-serve").unwrap_or(program);
            declares(package).then(|| format!("{package} is a declared dependency"))
        }
        "flask" | "fastapi" | "streamlit" | "panel" | "chainlit" | "datasette" | "bokeh" | "voila" | "gradio" => {
            let runs = args.iter().any(|a| matches!(*a, "run" | "dev" | "serve"));
            (runs && declares(program)).then(|| format!("{program} is a declared dependency"))
        }
        "node" | "nodemon" | "deno" | "bun" | "ts-node" | "tsx" if !args.is_empty() => match (program, args) {
            ("bun" | "deno", ["run", rest @ ..]) => rest
                .iter()
                .find(|a| !a.starts_with('-'))
                .and_then(|f| if cx.has(f) { file(f) } else { package_script(cx, f) }),
            (_, args) => args.iter().find(|a| !a.starts_with('-')).and_then(|f| file(f)),
        },
        "npm" | "yarn" | "pnpm" => {
            let script = match args {
                ["start", ..] => "start",
                ["run" | "run-script", script, ..] => script,
                [script, ..] if program != "npm" && !matches!(*script, "install" | "add" | "test" | "build") => script,
                _ => return None,
            };
            if matches!(script, "test" | "build" | "lint" | "format" | "typecheck" | "install") {
                return None;
            }
            package_script(cx, script)
        }
        "bash" | "sh" => args.first().filter(|f| f.ends_with(".sh")).and_then(|f| file(f)),
        "cargo" if matches!(args.first(), Some(&"run")) => file("Cargo.toml"),
        "go" if matches!(args.first(), Some(&"run")) => {
            let target = args.iter().skip(1).find(|a| !a.starts_with('-')).copied().unwrap_or(".");
            let target = target.trim_start_matches("./").trim_end_matches('/');
            if target.is_empty() || target == "." || target.ends_with("...") {
                file("go.mod")
            } else if cx.has(target) {
                file(target)
            } else {
                // A package directory (`go run ./cmd/server`): Go files in it.
                let dir = cx.path(target);
                cx.repo
                    .files_in_dir(&dir)
                    .any(|f| f.path.ends_with(".go"))
                    .then(|| format!("package {dir} has Go files"))
            }
        }
        "gradlew" if args.iter().any(|a| *a == "bootRun" || *a == "run") => file("gradlew"),
        "mvnw" | "mvn" if args.iter().any(|a| *a == "spring-boot:run" || *a == "exec:java") => file("pom.xml"),
        "rails" | "bin/rails" if matches!(args.first(), Some(&("s" | "server"))) => file("config.ru"),
        "bundle" if args.starts_with(&["exec"]) => validate(cx, dependencies, &args[1..]),
        "rackup" | "puma" => file("config.ru"),
        "ruby" => args.first().filter(|f| f.ends_with(".rb")).and_then(|f| file(f)),
        "php" => match args {
            ["artisan", "serve", ..] => file("artisan"),
            ["-S", ..] => file("composer.json").or_else(|| file("index.php")),
            _ => None,
        },
        "make" => {
            let target = args.first()?;
            (RUN_TARGETS.contains(target) && make_declares(cx, target))
                .then(|| format!("target `{target}` is declared in the Makefile"))
        }
        _ => None,
    }
}

/// `python -m module` is this project's own module: a package with `__main__.py`, or a
/// module file, at the project root or under `src/`.
fn python_module(cx: &ProjectContext<'_>, module: &str) -> Option<String> {
    let top = module.split('.').next().unwrap_or(module);
    if TOOL_MODULES.contains(&module) || TOOL_MODULES.contains(&top) {
        return None;
    }
    let path = module.replace('.', "/");
    for base in ["", "src/"] {
        for candidate in [format!("{base}{path}/__main__.py"), format!("{base}{path}.py")] {
            if cx.has(&candidate) {
                return Some(format!("module {module} is {}", cx.path(&candidate)));
            }
        }
    }
    None
}

/// Scripts package.json declares that may run the app (`"server": "node server/ws.js"`), as
/// the project's package manager runs them; builds, tests and install hooks are left out.
fn package_scripts(cx: &ProjectContext<'_>) -> Vec<StartCandidate> {
    let Some(text) = cx.read("package.json") else { return Vec::new() };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text.content) else { return Vec::new() };
    let Some(scripts) = json.get("scripts").and_then(|s| s.as_object()) else { return Vec::new() };
    let manager = if cx.has("pnpm-lock.yaml") {
        "pnpm"
    } else if cx.has("yarn.lock") {
        "yarn"
    } else if cx.has("bun.lockb") || cx.has("bun.lock") {
        "bun"
    } else {
        "npm"
    };
    let one_off = |name: &str| {
        let lower = name.to_ascii_lowercase();
        lower.starts_with("pre")
            || lower.starts_with("post")
            || lower.split([':', '-', '_']).any(|w| {
                TASK_WORDS.contains(&w)
                    || matches!(
                        w,
                        "coverage" | "release" | "publish" | "version" | "compile" | "watch" | "e2e" | "client"
                    )
            })
    };
    scripts
        .keys()
        .filter(|name| !one_off(name))
        .map(|name| {
            let line = text.content.lines().position(|l| l.contains(&format!("\"{name}\""))).map(|i| i as u32 + 1);
            let evidence = cx.evidence("package.json", line, "node.script");
            StartCandidate {
                command: command(&[manager, "run", name], evidence),
                validated: format!("script `{name}` is declared in {}", cx.path("package.json")),
                port: None,
            }
        })
        .collect()
}

/// Process types of a Procfile other than `web` (which is the declared start) and `release`
/// (a migration), and every process of `Procfile.dev` (foreman's and bin/dev's file for
/// development, whose `web` is only one of several): which of them is the app is the
/// question (`api:` and `worker:`, `server:` and `clock:`).
fn procfile_processes(cx: &ProjectContext<'_>, dependencies: &[Dependency]) -> Vec<StartCandidate> {
    let mut out = Vec::new();
    for name in ["Procfile", "Procfile.dev"] {
        let Some(text) = cx.read(name) else { continue };
        for (i, raw) in text.content.lines().enumerate() {
            let Some((kind, line)) = raw.trim().split_once(':') else { continue };
            let (kind, line) = (kind.trim(), line.trim());
            let declared = name == "Procfile" && kind == "web";
            if declared || kind == "release" || kind.starts_with('#') || line.is_empty() {
                continue;
            }
            if line.contains(['|', ';', '>', '<', '`']) || line.contains("&&") || line.contains("$(") {
                continue;
            }
            let words = super::providers::shell_words(line);
            let argv: Vec<&str> = words.iter().map(String::as_str).collect();
            let Some(validated) = validate(cx, dependencies, &argv) else { continue };
            let evidence = cx.evidence(name, Some(i as u32 + 1), "procfile.process");
            // `$PORT` and friends need a shell to expand them.
            let command = if line.contains('$') { shell_command(line, evidence) } else { command(&argv, evidence) };
            out.push(StartCandidate {
                port: port_in(&argv),
                command,
                validated: format!("process `{kind}` of {}; {validated}", cx.path(name)),
            });
        }
    }
    out
}

fn package_script(cx: &ProjectContext<'_>, script: &str) -> Option<String> {
    let text = cx.read("package.json")?;
    let json: serde_json::Value = serde_json::from_str(&text.content).ok()?;
    json.get("scripts")?
        .get(script)?
        .as_str()
        .map(|_| format!("script `{script}` is declared in {}", cx.path("package.json")))
}

fn make_declares(cx: &ProjectContext<'_>, target: &str) -> bool {
    ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .filter_map(|n| cx.read(n))
        .any(|t| make_targets(&t.content).iter().any(|(t, _)| t == target))
}

/// The port a command's arguments give: `--port 8000`, `-p 8000`, `--bind 0.0.0.0:8000`,
/// `0.0.0.0:8000`, or a bare number where servers take one (`runserver 8000`, `serve 8000`).
pub fn port_in(argv: &[&str]) -> Option<u16> {
    let parse = |s: &str| s.parse::<u16>().ok().filter(|p| *p >= 80);
    let mut words = argv.iter().peekable();
    while let Some(word) = words.next() {
        if let Some((flag, value)) = word.split_once('=') {
            if matches!(flag, "--port" | "-p" | "--bind" | "-b" | "--listen") {
                if let Some(p) = value.rsplit(':').next().and_then(parse) {
                    return Some(p);
                }
            }
            continue;
        }
        if matches!(*word, "--port" | "-p" | "--bind" | "-b" | "--listen" | "-S") {
            if let Some(p) = words.peek().and_then(|v| v.rsplit(':').next()).and_then(parse) {
                return Some(p);
            }
        } else if let Some((_, p)) = word.rsplit_once(':') {
            if word.contains('.') || word.starts_with("localhost") {
                if let Some(p) = parse(p) {
                    return Some(p);
                }
            }
        } else if let Some(p) = parse(word).filter(|p| *p >= 1024) {
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_lines_come_from_shell_blocks_indents_and_prompts() {
        let md = "# app\n\nInstall:\n\n```bash\n$ pip install -e .\n# a comment\npython -m app serve\n```\n\n\
                  ```python\nimport app\n```\n\nOr:\n\n    make run\n    make test\nText again\n\n$ npm start\n";
        let lines = code_lines(md);
        let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(texts, ["pip install -e .", "python -m app serve", "make run", "make test", "npm start"]);
        assert_eq!(lines[1].0, 8);
        assert_eq!(lines[4].0, 21);
    }

    #[test]
    fn ports_come_from_flags_binds_and_bare_numbers() {
        assert_eq!(port_in(&["python", "-m", "app", "serve", "8000"]), Some(8000));
        assert_eq!(port_in(&["uvicorn", "main:app", "--port", "8080"]), Some(8080));
        assert_eq!(port_in(&["gunicorn", "-b", "0.0.0.0:5000", "app:app"]), Some(5000));
        assert_eq!(port_in(&["flask", "run", "--port=5001"]), Some(5001));
        assert_eq!(port_in(&["python", "manage.py", "runserver", "0.0.0.0:8000"]), Some(8000));
        assert_eq!(port_in(&["uvicorn", "main:app"]), None);
        assert_eq!(port_in(&["python", "-m", "app", "--workers", "4"]), None);
    }

    #[test]
    fn serving_commands_rank_before_one_off_tasks() {
        let score = |line: &str| serve_score(&line.split(' ').map(str::to_owned).collect::<Vec<_>>());
        assert!(score("python -m hits serve") > score("python -m hits reset"));
        assert!(score("make run") > score("make test"));
        assert!(score("npm run dev") > score("npm run build"));
        assert_eq!(score("cargo run"), 0, "cargo's own `run` says nothing");
        assert!(score("make run") > 0);
        assert!(score("npm run db:migrate") < 0);
    }

    #[test]
    fn make_targets_keep_colons_in_names_and_skip_assignments() {
        let text = ".PHONY: run\nrun: deps\n\tpython app.py\ndb:setup:\n\t./setup\nCC := gcc\nrun:\n";
        assert_eq!(make_targets(text), [("run".to_owned(), 2), ("db:setup".to_owned(), 4)]);
    }

    #[test]
    fn package_scripts_and_shell_scripts_are_candidates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"name": "ws", "scripts": {"server": "node server/ws.js", "client": "node client/ws.js", "test": "node t.js", "prepare": "husky"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("scripts/run-server.sh"), "exec node server/ws.js\n").unwrap();
        std::fs::write(dir.path().join("README.md"), "```bash\n./scripts/run-server.sh\n./scripts/missing.sh\n```\n")
            .unwrap();
        let repo = crate::repo::RepoView::open(dir.path()).unwrap();
        let detection = crate::detection::detect(&repo);
        let found: Vec<&str> =
            detection.projects[0].start_candidates.iter().map(|c| c.command.display.as_str()).collect();
        assert_eq!(found, ["bash scripts/run-server.sh", "npm run server"], "{:?}", detection.projects[0].start);
    }

    #[test]
    fn procfile_processes_without_a_web_one_are_the_question() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("hub")).unwrap();
        for (file, text) in [
            ("requirements.txt", "gunicorn\nrq\n"),
            ("hub/__init__.py", ""),
            ("hub/wsgi.py", "def application(environ, start):\n    pass\n"),
            ("worker.py", "import rq\n"),
            (
                "Procfile",
                "# the HTTP API\napi: gunicorn hub.wsgi --bind 0.0.0.0:$PORT\nworker: python worker.py\n\
                 release: python -m hub.migrate\nclock: ./bin/missing-clock\n",
            ),
        ] {
            std::fs::write(dir.path().join(file), text).unwrap();
        }
        let repo = crate::repo::RepoView::open(dir.path()).unwrap();
        let detection = crate::detection::detect(&repo);
        let project = &detection.projects[0];
        assert!(project.start.is_none(), "no `web:` process: no rule decides ({:?})", project.start);
        let found: Vec<(&str, &str)> = project
            .start_candidates
            .iter()
            .map(|c| (c.command.display.as_str(), c.command.evidence.rule.as_str()))
            .collect();
        assert_eq!(
            found,
            [("python worker.py", "procfile.process"), ("gunicorn hub.wsgi --bind 0.0.0.0:$PORT", "procfile.process")],
            "release is a migration and a missing program is no candidate"
        );
        assert_eq!(
            project.start_candidates[1].validated,
            "process `api` of Procfile; gunicorn is a declared dependency"
        );
        assert_eq!(project.start_candidates[1].command.evidence.line, Some(2));
    }

    #[test]
    fn trailing_comments_are_not_part_of_the_command() {
        assert_eq!(strip_comment("make up   # start PostgreSQL (port 5433)"), "make up");
        assert_eq!(strip_comment("echo 'a # b'"), "echo 'a # b'");
        assert_eq!(strip_comment("dotnet run --project C#app"), "dotnet run --project C#app");
    }

    #[test]
    fn assignments_are_upper_case_names() {
        assert!(is_assignment("FLASK_APP=app.py"));
        assert!(!is_assignment("--port=5000"));
        assert!(!is_assignment("main:app"));
    }
}
