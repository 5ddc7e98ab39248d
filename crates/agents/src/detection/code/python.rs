//! Python: `os.environ["X"]`, `os.environ.get("X", default)`, `os.getenv("X", default)`, the
//! same through `from os import environ, getenv` (aliases included), python-decouple's
//! `config("X", default=…)`, django-environ's `env("X")`/`env.int("X", default=…)`/`env.db()`
//! and the fields of a pydantic `BaseSettings` class; ports from the `port=` keyword of
//! `app.run(…)`, `uvicorn.run(…)`, `web.run_app(…)`, `serve(…)`, following a variable such as
//! `port = int(os.environ.get("PORT", 8000))`; the entry point from a module-level
//! `if __name__ == "__main__":`.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use tree_sitter::{Node, Query, Tree};

use super::{CodeFacts, Scanner, compile, for_each_match, is_env_name, line, port_number, text, unquote};

pub struct Python;

const QUERIES: &str = r#"
(call function: (_) @fn arguments: (argument_list) @args)

(subscript value: (_) @obj subscript: (string) @key) @index

(assignment left: (identifier) @var right: (_) @value)

(module (if_statement condition: (comparison_operator) @main))

(import_from_statement module_name: (_) @module) @from

(import_statement) @import

(class_definition superclasses: (argument_list) @bases body: (block) @body)
"#;

/// django-environ's typed readers (`env.int("X")`); the URL readers (`env.db()`) read a
/// conventional variable when given none.
const ENV_READERS: &[(&str, Option<&str>)] = &[
    ("str", None),
    ("bool", None),
    ("int", None),
    ("float", None),
    ("list", None),
    ("tuple", None),
    ("dict", None),
    ("json", None),
    ("url", None),
    ("path", None),
    ("db", Some("DATABASE_URL")),
    ("db_url", Some("DATABASE_URL")),
    ("cache", Some("CACHE_URL")),
    ("cache_url", Some("CACHE_URL")),
    ("email", Some("EMAIL_URL")),
    ("email_url", Some("EMAIL_URL")),
    ("search_url", Some("SEARCH_URL")),
];

/// Calls whose `port=` keyword is the port a server listens on.
const SERVE_CALLS: &[&str] = &["run", "run_app", "run_server", "serve"];

fn query() -> &'static Query {
    static Q: OnceLock<Query> = OnceLock::new();
    Q.get_or_init(|| compile(&tree_sitter_python::LANGUAGE.into(), QUERIES))
}

impl Scanner for Python {
    fn id(&self) -> &'static str {
        "code.python"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["py"]
    }

    fn grammar(&self, _ext: &str) -> tree_sitter::Language {
        tree_sitter_python::LANGUAGE.into()
    }

    fn worth_parsing(&self, source: &str) -> bool {
        // Every construct the queries look for spells one of these: most modules of a large
        // Django app (models, views, tests) spell none, and are not parsed at all.
        ["env", "config", "Settings", "port=", "port =", "__main__"].iter().any(|w| source.contains(w))
    }

    fn scan(&self, _ext: &str, tree: &Tree, source: &str, out: &mut CodeFacts) {
        let mut calls = Vec::new();
        let mut indexes = Vec::new();
        let mut imports = Imports::default();
        let mut vars: HashMap<&str, Node<'_>> = HashMap::new();
        let mut settings = Vec::new();
        for_each_match(query(), tree, source, |caps| {
            let get = |n: &str| caps.iter().find(|(c, _)| *c == n).map(|(_, node)| *node);
            if let (Some(f), Some(args)) = (get("fn"), get("args")) {
                calls.push((f, args));
            } else if let (Some(obj), Some(key), Some(index)) = (get("obj"), get("key"), get("index")) {
                indexes.push((obj, key, index));
            } else if let (Some(var), Some(value)) = (get("var"), get("value")) {
                vars.entry(text(var, source)).or_insert(value);
            } else if let Some(cond) = get("main") {
                let t: String = text(cond, source).chars().filter(|c| !c.is_whitespace()).collect();
                let t = t.replace('\'', "\"");
                if t == r#"__name__=="__main__""# || t == r#""__main__"==__name__"# {
                    out.entry.get_or_insert(line(cond));
                }
            } else if let (Some(module), Some(from)) = (get("module"), get("from")) {
                imports.add_from(text(module, source), from, source);
            } else if let Some(import) = get("import") {
                imports.add_import(import, source);
            } else if let (Some(bases), Some(body)) = (get("bases"), get("body")) {
                if is_settings_class(bases, source) {
                    settings.push(body);
                }
            }
        });
        let env_objects = vars
            .iter()
            .filter(|(_, value)| value.kind() == "call")
            .filter(|(_, value)| {
                let f = value.child_by_field_name("function").map_or("", |f| text(f, source));
                f.rsplit_once('.').map_or(imports.is(f, "environ.Env"), |(m, c)| {
                    c == "Env" && imports.modules.get(m).is_some_and(|m| m == "environ")
                })
            })
            .map(|(var, _)| *var)
            .chain(imports.names.iter().filter(|(_, n)| *n == "environ.Env()").map(|(local, _)| local.as_str()))
            .collect();
        let cx = Cx { source, imports: &imports, vars: &vars, env_objects };
        for body in settings {
            settings_fields(body, source, &mut out.env_vars);
        }
        for (obj, key, index) in indexes {
            let written = index
                .parent()
                .is_some_and(|p| p.kind() == "assignment" && p.child_by_field_name("left") == Some(index));
            if written || !cx.is_environ(obj) {
                continue;
            }
            if let Some(name) = string_value(key, source).filter(|n| is_env_name(n)) {
                out.env_vars.push((name.to_owned(), None, line(key)));
            }
        }
        for (f, args) in calls {
            if let Some((name, default)) = cx.env_call(f, args) {
                let default = default.or_else(|| or_fallback(f.parent()?)).and_then(|d| literal(d, source));
                out.env_vars.push((name.to_owned(), default, line(args)));
            }
            if SERVE_CALLS.contains(&last_name(f, source)) {
                let Some(value) = keyword(args, "port", source) else { continue };
                if let Some((port, env)) = cx.port_of(value, 0) {
                    out.ports.push((port, env, line(value)));
                }
            }
        }
        out.env_vars.sort_by_key(|e| e.2);
    }
}

/// What the file imported that reads the environment, by local name.
#[derive(Default)]
struct Imports {
    /// Local name → module (`o` → `os` after `import os as o`; `environ` is django-environ).
    modules: HashMap<String, String>,
    /// Local name → the imported name: `environ`, `getenv`, `decouple.config`, `environ.Env`,
    /// or `environ.Env()` for an `Env` instance imported from the settings.
    names: HashMap<String, String>,
}

impl Imports {
    fn add_import(&mut self, node: Node<'_>, source: &str) {
        let mut cursor = node.walk();
        for name in node.children_by_field_name("name", &mut cursor) {
            let (module, local) = aliased(name, source);
            if matches!(module, "os" | "environ") {
                self.modules.insert(local.to_owned(), module.to_owned());
            }
        }
    }

    fn add_from(&mut self, module: &str, node: Node<'_>, source: &str) {
        let mut cursor = node.walk();
        for name in node.children_by_field_name("name", &mut cursor) {
            let (imported, local) = aliased(name, source);
            let known = match (module, imported) {
                ("os", "environ" | "getenv") => imported.to_owned(),
                ("decouple", "config") => "decouple.config".to_owned(),
                ("environ", "Env") => "environ.Env".to_owned(),
                // cookiecutter-django's `from .base import env`: the settings' shared `Env()`.
                (m, "env") if m.starts_with('.') || m.contains("settings") => "environ.Env()".to_owned(),
                _ => continue,
            };
            self.names.insert(local.to_owned(), known);
        }
    }

    fn is(&self, local: &str, imported: &str) -> bool {
        self.names.get(local).is_some_and(|n| n == imported)
    }
}

/// `(imported name, local name)` of a `dotted_name` or `aliased_import`.
fn aliased<'s>(node: Node<'_>, source: &'s str) -> (&'s str, &'s str) {
    match (node.child_by_field_name("name"), node.child_by_field_name("alias")) {
        (Some(name), Some(alias)) => (text(name, source), text(alias, source)),
        _ => (text(node, source), text(node, source)),
    }
}

struct Cx<'a, 't> {
    source: &'a str,
    imports: &'a Imports,
    vars: &'a HashMap<&'a str, Node<'t>>,
    /// Variables holding a django-environ `Env()`.
    env_objects: HashSet<&'a str>,
}

impl<'t> Cx<'_, 't> {
    fn is_os(&self, node: Node<'_>) -> bool {
        node.kind() == "identifier" && {
            let t = text(node, self.source);
            t == "os" || self.imports.modules.get(t).is_some_and(|m| m == "os")
        }
    }

    /// `os.environ`, or a name imported for it. A bare `environ` without the import is not
    /// one: in WSGI code it is the request (`environ["PATH_INFO"]`).
    fn is_environ(&self, node: Node<'_>) -> bool {
        match node.kind() {
            "attribute" => {
                node.child_by_field_name("object").is_some_and(|o| self.is_os(o))
                    && node.child_by_field_name("attribute").is_some_and(|a| text(a, self.source) == "environ")
            }
            "identifier" => self.imports.is(text(node, self.source), "environ"),
            _ => false,
        }
    }

    /// An environment read through a call: the variable name and the default argument.
    fn env_call(&self, f: Node<'t>, args: Node<'t>) -> Option<(&str, Option<Node<'t>>)> {
        let mut cursor = args.walk();
        let positional: Vec<_> = args.named_children(&mut cursor).filter(|a| a.kind() != "keyword_argument").collect();
        let name = || positional.first().and_then(|n| string_value(*n, self.source)).filter(|n| is_env_name(n));
        let keyword_default = || keyword(args, "default", self.source);
        let (name, default) = match f.kind() {
            "attribute" => {
                let object = f.child_by_field_name("object")?;
                let method = text(f.child_by_field_name("attribute")?, self.source);
                let env_object = object.kind() == "identifier" && self.env_objects.contains(text(object, self.source));
                match method {
                    "getenv" if self.is_os(object) => (name()?, positional.get(1).copied().or_else(keyword_default)),
                    "get" if self.is_environ(object) => (name()?, positional.get(1).copied().or_else(keyword_default)),
                    m if env_object => {
                        let (_, conventional) = ENV_READERS.iter().find(|(r, _)| *r == m)?;
                        let default =
                            if name().is_some() { positional.get(1).copied() } else { positional.first().copied() };
                        (name().or(*conventional)?, default.or_else(keyword_default))
                    }
                    _ => return None,
                }
            }
            "identifier" => {
                let t = text(f, self.source);
                if self.imports.is(t, "getenv") || self.imports.is(t, "decouple.config") {
                    (name()?, positional.get(1).copied().or_else(keyword_default))
                } else if self.env_objects.contains(t) {
                    // `env("X", cast, default)`: the second positional argument is a cast.
                    (name()?, positional.get(2).copied().or_else(keyword_default))
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        Some((name, default))
    }

    /// The env read in an expression (`os.environ.get("PORT", 8000)`, `os.environ["PORT"]`):
    /// its name and default.
    fn env_read(&self, node: Node<'t>) -> Option<(&str, Option<Node<'t>>)> {
        match node.kind() {
            "call" => self.env_call(node.child_by_field_name("function")?, node.child_by_field_name("arguments")?),
            "subscript" if self.is_environ(node.child_by_field_name("value")?) => {
                let name = string_value(node.child_by_field_name("subscript")?, self.source)?;
                is_env_name(name).then_some((name, None))
            }
            _ => None,
        }
    }

    /// Resolve a `port=` value: a literal, `int(…)`, an env read with a default,
    /// `env or literal`, or a variable assigned in the same file (followed a few levels).
    fn port_of(&self, node: Node<'t>, depth: u8) -> Option<(u16, Option<String>)> {
        if depth > 3 {
            return None;
        }
        match node.kind() {
            "integer" | "string" => port_number(text(node, self.source)).map(|p| (p, None)),
            "parenthesized_expression" => self.port_of(node.named_child(0)?, depth + 1),
            "identifier" => self.port_of(*self.vars.get(text(node, self.source))?, depth + 1),
            "boolean_operator" => {
                let (port, env) = self.port_of(node.child_by_field_name("right")?, depth + 1)?;
                let left = node.child_by_field_name("left")?;
                Some((port, env.or_else(|| self.env_read(left).map(|(n, _)| n.to_owned()))))
            }
            "call" | "subscript" => {
                if let Some((name, default)) = self.env_read(node) {
                    let (port, _) = self.port_of(default?, depth + 1)?;
                    return Some((port, Some(name.to_owned())));
                }
                // int(x), str(x)
                let f = node.child_by_field_name("function")?;
                if !matches!(text(f, self.source), "int" | "str") {
                    return None;
                }
                self.port_of(node.child_by_field_name("arguments")?.named_child(0)?, depth + 1)
            }
            _ => None,
        }
    }
}

/// `os.getenv("X") or "fallback"`: the right side of an `or` whose left side is the call.
fn or_fallback(call: Node<'_>) -> Option<Node<'_>> {
    let parent = call.parent()?;
    let is_or = parent.child_by_field_name("operator").is_some_and(|o| o.kind() == "or");
    (parent.kind() == "boolean_operator" && is_or && parent.child_by_field_name("left")? == call)
        .then(|| parent.child_by_field_name("right"))
        .flatten()
}

/// A pydantic settings class: `BaseSettings` among its bases, or a base named `…Settings`
/// (`class AppSettings(BaseAppSettings)`) in a module that uses pydantic.
fn is_settings_class(bases: Node<'_>, source: &str) -> bool {
    let mut cursor = bases.walk();
    let names: Vec<&str> = bases
        .named_children(&mut cursor)
        .filter(|b| matches!(b.kind(), "identifier" | "attribute"))
        .map(|b| text(b, source).rsplit('.').next().unwrap_or(""))
        .collect();
    names.contains(&"BaseSettings") || (names.iter().any(|n| n.ends_with("Settings")) && source.contains("pydantic"))
}

/// The fields of a pydantic `BaseSettings` class: `database_url: str = "…"` reads
/// `DATABASE_URL` (with the class's `env_prefix`), `Field(alias="X")` reads `X`.
fn settings_fields(body: Node<'_>, source: &str, out: &mut Vec<(String, Option<String>, u32)>) {
    let prefix = env_prefix(body, source).unwrap_or("").to_ascii_uppercase();
    let mut cursor = body.walk();
    for statement in body.named_children(&mut cursor) {
        let Some(assignment) = statement.named_child(0).filter(|a| a.kind() == "assignment") else { continue };
        let Some(field) = assignment.child_by_field_name("left").filter(|l| l.kind() == "identifier") else { continue };
        let field = text(field, source);
        if assignment.child_by_field_name("type").is_none() || field.starts_with('_') || field == "model_config" {
            continue;
        }
        let value = assignment.child_by_field_name("right");
        let call_args = value.filter(|v| v.kind() == "call").and_then(|v| v.child_by_field_name("arguments"));
        let (name, default) = match call_args {
            Some(args) => {
                let alias = ["validation_alias", "alias", "env"]
                    .iter()
                    .find_map(|k| keyword(args, k, source).and_then(|v| string_value(v, source)));
                let default = keyword(args, "default", source).or_else(|| args.named_child(0));
                (alias.map_or_else(|| format!("{prefix}{}", field.to_ascii_uppercase()), str::to_owned), default)
            }
            None => (format!("{prefix}{}", field.to_ascii_uppercase()), value),
        };
        if is_env_name(&name) {
            out.push((name, default.and_then(|d| literal(d, source)), line(assignment)));
        }
    }
}

/// `env_prefix="APP_"` in `model_config = SettingsConfigDict(…)` or a nested `class Config`.
fn env_prefix<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    let value = match node.kind() {
        "keyword_argument" | "assignment" => {
            let key = node.child_by_field_name(if node.kind() == "assignment" { "left" } else { "name" })?;
            let value = node.child_by_field_name(if node.kind() == "assignment" { "right" } else { "value" });
            if text(key, source) == "env_prefix" { value } else { None }
        }
        _ => None,
    };
    if let Some(prefix) = value.and_then(|v| string_value(v, source)) {
        return Some(prefix);
    }
    let mut cursor = node.walk();
    let children: Vec<_> = node.named_children(&mut cursor).collect();
    children.into_iter().find_map(|c| env_prefix(c, source))
}

/// The value of the keyword argument `name` in an argument list.
fn keyword<'t>(args: Node<'t>, name: &str, source: &str) -> Option<Node<'t>> {
    let mut cursor = args.walk();
    args.named_children(&mut cursor)
        .filter(|a| a.kind() == "keyword_argument")
        .find(|a| a.child_by_field_name("name").is_some_and(|n| text(n, source) == name))
        .and_then(|a| a.child_by_field_name("value"))
}

/// The last name of a callee: `run` for `app.run`, `serve` for `serve`.
fn last_name<'s>(f: Node<'_>, source: &'s str) -> &'s str {
    match f.kind() {
        "attribute" => f.child_by_field_name("attribute").map_or("", |a| text(a, source)),
        "identifier" => text(f, source),
        _ => "",
    }
}

/// A plain string literal's content (no f-string interpolation).
fn string_value<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    let mut cursor = node.walk();
    let interpolated = node.children(&mut cursor).any(|c| c.kind() == "interpolation");
    (node.kind() == "string" && !interpolated).then(|| unquote(text(node, source)))
}

/// A default worth reporting: a string or number literal.
fn literal(node: Node<'_>, source: &str) -> Option<String> {
    match node.kind() {
        "string" => string_value(node, source).map(str::to_owned),
        "integer" | "float" | "true" | "false" => Some(text(node, source).to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::code::parse;

    fn scan(src: &str) -> CodeFacts {
        let tree = parse(&Python, "py", src).unwrap();
        let mut facts = CodeFacts::default();
        Python.scan("py", &tree, src, &mut facts);
        facts
    }

    fn envs(f: &CodeFacts) -> Vec<(&str, Option<&str>, u32)> {
        f.env_vars.iter().map(|(n, d, l)| (n.as_str(), d.as_deref(), *l)).collect()
    }

    #[test]
    fn os_environ_reads_and_defaults() {
        let f = scan(concat!(
            "import os\n",
            "db = os.environ[\"DATABASE_URL\"]\n",
            "secret = os.environ.get('SECRET_KEY', 'dev')\n",
            "debug = os.getenv(\"DEBUG\", default=\"0\")\n",
            "workers = os.getenv('WORKERS', 4)\n",
            "other = os.environ.get(\"NO_DEFAULT\")\n",
        ));
        assert_eq!(
            envs(&f),
            [
                ("DATABASE_URL", None, 2),
                ("SECRET_KEY", Some("dev"), 3),
                ("DEBUG", Some("0"), 4),
                ("WORKERS", Some("4"), 5),
                ("NO_DEFAULT", None, 6),
            ]
        );
    }

    #[test]
    fn from_os_imports_and_aliases() {
        let f = scan(concat!(
            "from os import environ, getenv as ge\n",
            "import os as o\n",
            "a = environ.get(\"A\", \"x\")\n",
            "b = ge(\"B\")\n",
            "c = environ[\"C\"]\n",
            "d = o.environ.get(\"D\")\n",
        ));
        assert_eq!(envs(&f), [("A", Some("x"), 3), ("B", None, 4), ("C", None, 5), ("D", None, 6)]);
    }

    #[test]
    fn decouple_config() {
        let f = scan(
            "from decouple import config\nSECRET_KEY = config('SECRET_KEY')\nDEBUG = config('DEBUG', default=False, cast=bool)\n",
        );
        assert_eq!(envs(&f), [("SECRET_KEY", None, 2), ("DEBUG", Some("False"), 3)]);
    }

    #[test]
    fn or_fallback_is_the_default() {
        let f = scan("import os\nhost = os.getenv(\"HOST\") or \"0.0.0.0\"\nx = os.getenv(\"X\") or other\n");
        assert_eq!(envs(&f), [("HOST", Some("0.0.0.0"), 2), ("X", None, 3)]);
    }

    #[test]
    fn django_environ() {
        let f = scan(concat!(
            "import environ\n",
            "env = environ.Env(DEBUG=(bool, False))\n",
            "SECRET_KEY = env(\"DJANGO_SECRET_KEY\")\n",
            "DEBUG = env.bool(\"DEBUG\", False)\n",
            "PORT = env.int(\"PORT\", default=8000)\n",
            "DATABASES = {\"default\": env.db()}\n",
            "CACHES = {\"default\": env.cache(\"REDIS_URL\")}\n",
            "env.read_env(\"NOT_A_VAR\")\n",
        ));
        assert_eq!(
            envs(&f),
            [
                ("DJANGO_SECRET_KEY", None, 3),
                ("DEBUG", Some("False"), 4),
                ("PORT", Some("8000"), 5),
                ("DATABASE_URL", None, 6),
                ("REDIS_URL", None, 7),
            ]
        );
    }

    #[test]
    fn django_environ_imported_from_base_settings() {
        let f = scan("from .base import env\nREDIS_URL = env(\"REDIS_URL\", default=\"redis://redis:6379/0\")\n");
        assert_eq!(envs(&f), [("REDIS_URL", Some("redis://redis:6379/0"), 2)]);
        let f = scan(
            "from .helpers import environment\nenvironment(\"NOT_ENV\")\nfrom utils import env\nenv(\"NOT_SETTINGS\")\n",
        );
        assert!(f.env_vars.is_empty(), "{:?}", f.env_vars);
    }

    #[test]
    fn pydantic_settings_fields() {
        let f = scan(concat!(
            "from pydantic import Field\n",
            "from pydantic_settings import BaseSettings, SettingsConfigDict\n",
            "class Settings(BaseSettings):\n",
            "    model_config = SettingsConfigDict(env_prefix=\"app_\")\n",
            "    database_url: str\n",
            "    port: int = 8000\n",
            "    redis: str = Field(\"redis://localhost\", alias=\"REDIS_URL\")\n",
            "    _private: int = 1\n",
            "    def url(self) -> str:\n",
            "        return self.database_url\n",
            "class Plain:\n",
            "    name: str = \"not settings\"\n",
            "class AppSettings(Settings):\n",
            "    secret_key: str\n",
        ));
        assert_eq!(
            envs(&f),
            [
                ("APP_DATABASE_URL", None, 5),
                ("APP_PORT", Some("8000"), 6),
                ("REDIS_URL", Some("redis://localhost"), 7),
                ("SECRET_KEY", None, 14)
            ]
        );
        // A `…Settings` base without pydantic in sight is someone else's class.
        let f = scan("from conf import Settings\nclass Local(Settings):\n    debug: bool = True\n");
        assert!(f.env_vars.is_empty(), "{:?}", f.env_vars);
    }

    #[test]
    fn not_env_reads() {
        let f = scan(concat!(
            "foo.get(\"X\")\n",
            "getenv(\"NOT_IMPORTED\")\n",
            "config(\"NOT_DECOUPLE\")\n",
            "os.environ.get(f\"{prefix}_URL\")\n",
            "os.environ.get(name)\n",
            "os.environ[\"WRITTEN\"] = \"1\"\n",
            "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")\n",
            "settings[\"KEY\"]\n",
            "os.environ.get(\"not an env name\")\n",
            "def wsgi(environ, start_response):\n    return environ[\"PATH_INFO\"], environ.get(\"HTTP_HOST\")\n",
            "env = Env()\nenv(\"NOT_DJANGO_ENVIRON\")\n",
        ));
        assert!(f.env_vars.is_empty(), "{:?}", f.env_vars);
    }

    #[test]
    fn flask_port_through_env() {
        let f = scan(concat!(
            "import os\n",
            "from flask import Flask\n",
            "app = Flask(__name__)\n",
            "if __name__ == \"__main__\":\n",
            "    app.run(host=\"0.0.0.0\", port=int(os.environ.get(\"PORT\", 5000)))\n",
        ));
        assert_eq!(f.ports, [(5000, Some("PORT".to_owned()), 5)]);
        assert_eq!(f.entry, Some(4));
        assert_eq!(envs(&f), [("PORT", Some("5000"), 5)]);
    }

    #[test]
    fn uvicorn_port_through_a_variable() {
        let f = scan(concat!(
            "import os, uvicorn\n",
            "port = int(os.getenv(\"APP_PORT\", \"8080\"))\n",
            "if '__main__' == __name__:\n",
            "    uvicorn.run(app, host=\"0.0.0.0\", port=port)\n",
        ));
        assert_eq!(f.ports, [(8080, Some("APP_PORT".to_owned()), 4)]);
        assert_eq!(f.entry, Some(3));
    }

    #[test]
    fn literal_ports_and_or_fallback() {
        let f = scan(concat!(
            "uvicorn.run(\"main:app\", port=8000)\n",
            "web.run_app(app, port=int(os.environ.get(\"PORT\") or 8081))\n",
            "serve(app, port=\"9000\")\n",
        ));
        assert_eq!(f.ports, [(8000, None, 1), (8081, Some("PORT".to_owned()), 2), (9000, None, 3)]);
    }

    #[test]
    fn not_ports() {
        let f = scan(concat!(
            "app.run(debug=True)\n",
            "app.run(port=os.environ[\"PORT\"])\n",
            "app.run(port=99999)\n",
            "client.connect(port=6379)\n",
            "app.run(port=unknown)\n",
        ));
        assert!(f.ports.is_empty(), "{:?}", f.ports);
        assert_eq!(envs(&f), [("PORT", None, 2)]);
    }

    #[test]
    fn plain_modules_are_not_parsed() {
        assert!(!Python.worth_parsing("from django.db import models\n\nclass Report(models.Model):\n    pass\n"));
        for src in [
            "os.environ['A']",
            "getenv('A')",
            "config('A')",
            "class S(BaseSettings): pass",
            "app.run(port=1)",
            "run(port = 1)",
            "if __name__ == '__main__': pass",
        ] {
            assert!(Python.worth_parsing(src), "{src}");
        }
    }

    #[test]
    fn entry_only_at_module_level() {
        let f =
            scan("def f():\n    if __name__ == \"__main__\":\n        pass\nif __name__ != \"__main__\":\n    pass\n");
        assert_eq!(f.entry, None);
        let f = scan("x = 1\n\nif __name__ == '__main__':\n    main()\n");
        assert_eq!(f.entry, Some(3));
    }
}
