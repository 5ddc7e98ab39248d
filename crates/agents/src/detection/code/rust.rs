//! Rust: `std::env::var("X")`, `env::var_os("X")`, `dotenvy::var("X")` with the fallback of a
//! following `.unwrap_or(…)`; ports from the address given to `bind`/`run`/`serve` calls
//! (`"0.0.0.0:3000"`, `("0.0.0.0", 8080)`, `SocketAddr::from(([0, 0, 0, 0], 3000))`,
//! `format!("0.0.0.0:{port}")`), following `let`s and consts of the same file; clap arguments
//! with `env = "X"`. `env!` and `option_env!` are read at compile time and are not reported.

use std::sync::OnceLock;

use tree_sitter::{Node, Query, Tree};

use super::{CodeFacts, Scanner, compile, for_each_match, is_env_name, line, port_number, text, unquote};

pub struct Rust;

const QUERIES: &str = r#"
(call_expression
  function: (scoped_identifier)
  arguments: (arguments . (string_literal))) @read

(call_expression
  function: [(scoped_identifier name: (identifier) @method) (field_expression field: (field_identifier) @method)]
  arguments: (arguments . (_) @addr)) @call

(attribute_item (attribute (identifier) @attr arguments: (token_tree) @options)) @attr_item

(let_declaration pattern: (identifier) @var value: (_) @value)
(const_item name: (identifier) @var value: (_) @value)
(static_item name: (identifier) @var value: (_) @value)
"#;

/// Methods whose first argument is an address to listen on: `TcpListener::bind`,
/// actix's `HttpServer::bind`, warp's `run`, tonic's `serve`.
const LISTEN_METHODS: &[&str] = &["bind", "run", "serve"];

/// Methods between an env read and its fallback that keep the fallback meaning the same value
/// (`env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000)`).
const PASS_THROUGH: &[&str] =
    &["ok", "as_deref", "parse", "unwrap", "expect", "into", "to_string", "to_owned", "clone"];

fn query() -> &'static Query {
    static Q: OnceLock<Query> = OnceLock::new();
    Q.get_or_init(|| compile(&tree_sitter_rust::LANGUAGE.into(), QUERIES))
}

impl Scanner for Rust {
    fn id(&self) -> &'static str {
        "code.rust"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["rs"]
    }

    fn grammar(&self, _ext: &str) -> tree_sitter::Language {
        tree_sitter_rust::LANGUAGE.into()
    }

    /// Only binaries start: `build.rs`, examples and benches have a `fn main` too.
    fn entry_file(&self, path: &str) -> bool {
        path == "src/main.rs" || path.starts_with("src/bin/")
    }

    fn scan(&self, _ext: &str, tree: &Tree, source: &str, out: &mut CodeFacts) {
        let mut vars = Vars::default();
        let mut listens = Vec::new();
        let mut args = Vec::new();
        for_each_match(query(), tree, source, |caps| {
            let get = |n: &str| caps.iter().find(|(c, _)| *c == n).map(|(_, node)| *node);
            if let (Some(var), Some(value)) = (get("var"), get("value")) {
                vars.0.push((text(var, source), value));
            } else if let Some(read) = get("read") {
                if let Some(name) = env_read(read, source) {
                    out.env_vars.push((name, fallback_of(read, source), line(read)));
                }
            } else if let (Some(attr), Some(options), Some(item)) = (get("attr"), get("options"), get("attr_item")) {
                if matches!(text(attr, source), "arg" | "clap" | "structopt") {
                    args.push((item, options));
                }
            } else if let (Some(method), Some(addr)) = (get("method"), get("addr")) {
                if LISTEN_METHODS.contains(&text(method, source)) {
                    listens.push(addr);
                }
            }
        });
        let cx = Resolve { source, vars: &vars };
        for addr in listens {
            if let Some((port, env)) = cx.addr_port(addr, 0) {
                out.ports.push((port, env, line(addr)));
            }
        }
        for (item, options) in args {
            clap_arg(item, options, source, out);
        }
        out.entry = main_line(tree.root_node(), source);
    }
}

/// A clap argument read from the environment: `#[arg(long, env = "PORT", default_value_t = 8080)]`
/// on a field, or a bare `env` (the field name in capitals). A field named `port`, or an
/// address field (`addr`, `bind`, `listen`…), with a default is the port the app listens on.
fn clap_arg(item: Node<'_>, options: Node<'_>, source: &str, out: &mut CodeFacts) {
    let mut field = item.next_named_sibling();
    while let Some(f) = field.filter(|f| matches!(f.kind(), "attribute_item" | "line_comment" | "block_comment")) {
        field = f.next_named_sibling();
    }
    let Some(field) = field.filter(|f| f.kind() == "field_declaration") else { return };
    let Some(field_name) = field.child_by_field_name("name").map(|n| text(n, source)) else { return };
    let mut cursor = options.walk();
    let tokens: Vec<_> = options.children(&mut cursor).collect();
    let mut env = None;
    let mut default = None;
    for (i, token) in tokens.iter().enumerate() {
        if token.kind() != "identifier" {
            continue;
        }
        let value = (tokens.get(i + 1).map(|t| t.kind()) == Some("=")).then(|| tokens.get(i + 2)).flatten();
        match (text(*token, source), value) {
            ("env", None) => env = Some(field_name.to_ascii_uppercase()),
            ("env", Some(v)) => env = string_content(*v, source).map(str::to_owned),
            ("default_value" | "default_value_t", Some(v)) => default = literal_value(*v, source),
            _ => {}
        }
    }
    let Some(env) = env.filter(|e| is_env_name(e)) else { return };
    // An address variable is not a port override: setting it to a bare port would break it.
    let port = match field_name {
        "port" => default.as_deref().and_then(port_number).map(|p| (p, Some(env.clone()))),
        "addr" | "address" | "bind" | "bind_addr" | "listen" | "listen_addr" => {
            default.as_deref().and_then(|d| port_number(d.rsplit_once(':')?.1)).map(|p| (p, None))
        }
        _ => None,
    };
    if let Some((port, env_var)) = port {
        out.ports.push((port, env_var, line(item)));
    }
    out.env_vars.push((env, default, line(item)));
}

/// `let`s, consts and statics of the file, in source order.
#[derive(Default)]
struct Vars<'s, 't>(Vec<(&'s str, Node<'t>)>);

impl<'t> Vars<'_, 't> {
    /// The value bound to `name` closest before `at` (a `let` shadows earlier ones), else the
    /// first one (a const declared below its use).
    fn lookup(&self, name: &str, at: usize) -> Option<Node<'t>> {
        let mut found = self.0.iter().filter(|(n, _)| *n == name);
        let first = found.clone().next().map(|(_, v)| *v);
        found.rfind(|(_, v)| v.start_byte() < at).map(|(_, v)| *v).or(first)
    }
}

/// Line of the top-level `fn main`, or of Rocket's `#[launch]` function, which replaces it.
fn main_line(root: Node<'_>, source: &str) -> Option<u32> {
    let mut cursor = root.walk();
    let items: Vec<_> = root.named_children(&mut cursor).collect();
    items.iter().enumerate().find_map(|(i, item)| {
        if item.kind() != "function_item" {
            return None;
        }
        let is_main = item.child_by_field_name("name").is_some_and(|n| text(n, source) == "main");
        let launched = i > 0
            && items[i - 1].kind() == "attribute_item"
            && matches!(text(items[i - 1], source), "#[launch]" | "#[rocket::launch]");
        (is_main || launched).then(|| line(*item))
    })
}

/// The variable name of an env read (`std::env::var("X")`, `env::var_os("X")`,
/// `dotenvy::var("X")`), if `call` is one.
fn env_read(call: Node<'_>, source: &str) -> Option<String> {
    if call.kind() != "call_expression" {
        return None;
    }
    let function = call.child_by_field_name("function")?;
    if function.kind() != "scoped_identifier" {
        return None;
    }
    let path = text(function.child_by_field_name("path")?, source);
    let name = text(function.child_by_field_name("name")?, source);
    let ok = match path.trim_start_matches("::") {
        "env" | "std::env" => name == "var" || name == "var_os",
        "dotenvy" | "dotenv" => name == "var",
        _ => false,
    };
    let arg = call.child_by_field_name("arguments")?.named_child(0)?;
    let var = string_content(arg, source)?;
    (ok && is_env_name(var)).then(|| var.to_owned())
}

/// The fallback given to an env read further up its method chain: `.unwrap_or("x")`,
/// `.unwrap_or_else(|_| "x".into())`, after `.ok()` or a `parse`.
fn fallback_of(read: Node<'_>, source: &str) -> Option<String> {
    let mut node = read;
    for _ in 0..8 {
        let (method, args, call) = method_call_on(node, source)?;
        match method {
            "unwrap_or" | "unwrap_or_else" => return literal_value(args.named_child(0)?, source),
            "and_then" | "map" if text(args, source).contains("parse") => {}
            m if PASS_THROUGH.contains(&m) => {}
            _ => return None,
        }
        node = call;
    }
    None
}

/// When `receiver` is the receiver of a method call, `(method, arguments, call)`.
fn method_call_on<'t>(receiver: Node<'t>, source: &str) -> Option<(&'static str, Node<'t>, Node<'t>)> {
    let field = receiver.parent()?;
    if field.kind() != "field_expression" || field.child_by_field_name("value")? != receiver {
        return None;
    }
    let mut call = field.parent()?;
    if call.kind() == "generic_function" {
        // `.parse::<u16>()`
        call = call.parent()?;
    }
    if call.kind() != "call_expression" {
        return None;
    }
    let method = text(field.child_by_field_name("field")?, source);
    let method = known_method(method)?;
    Some((method, call.child_by_field_name("arguments")?, call))
}

/// Method names the chain walkers understand, as statics so they can be matched on.
fn known_method(method: &str) -> Option<&'static str> {
    ["unwrap_or", "unwrap_or_else", "and_then", "map"]
        .into_iter()
        .chain(PASS_THROUGH.iter().copied())
        .find(|m| *m == method)
}

/// A literal fallback: `"x"`, `3000`, `"x".into()`, `"x".to_string()`, `String::from("x")`,
/// or a closure returning one.
fn literal_value(node: Node<'_>, source: &str) -> Option<String> {
    match node.kind() {
        "string_literal" => string_content(node, source).map(str::to_owned),
        "integer_literal" => Some(int_text(text(node, source)).to_owned()),
        "closure_expression" => literal_value(node.child_by_field_name("body")?, source),
        "call_expression" => {
            let function = node.child_by_field_name("function")?;
            match function.kind() {
                "field_expression" => {
                    let method = text(function.child_by_field_name("field")?, source);
                    matches!(method, "into" | "to_string" | "to_owned")
                        .then(|| literal_value(function.child_by_field_name("value")?, source))?
                }
                "scoped_identifier" if text(function, source) == "String::from" => {
                    literal_value(node.child_by_field_name("arguments")?.named_child(0)?, source)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The function a call calls, seen through a turbofish (`"…".parse::<SocketAddr>()`).
fn callee(call: Node<'_>) -> Option<Node<'_>> {
    let function = call.child_by_field_name("function")?;
    if function.kind() == "generic_function" { function.child_by_field_name("function") } else { Some(function) }
}

/// The content of a plain string literal (escapes are rare in addresses and names and are
/// kept as written).
fn string_content<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    (node.kind() == "string_literal").then(|| unquote(text(node, source)))
}

/// An integer literal without its type suffix (`3000u16`).
fn int_text(literal: &str) -> &str {
    literal.split(['u', 'i']).next().unwrap_or(literal)
}

/// Resolution of addresses and port values through the file's bindings.
struct Resolve<'a, 's, 't> {
    source: &'s str,
    vars: &'a Vars<'s, 't>,
}

impl<'t> Resolve<'_, '_, 't> {
    fn binding(&self, ident: Node<'t>) -> Option<Node<'t>> {
        self.vars.lookup(text(ident, self.source), ident.start_byte())
    }

    /// The port of an address expression (never a bare number: `run(5)` is not an address).
    fn addr_port(&self, node: Node<'t>, depth: u8) -> Option<(u16, Option<String>)> {
        if depth > 6 {
            return None;
        }
        let source = self.source;
        match node.kind() {
            "string_literal" => {
                let (_, port) = string_content(node, source)?.rsplit_once(':')?;
                port_number(port).map(|p| (p, None))
            }
            "reference_expression" | "parenthesized_expression" | "try_expression" | "await_expression" => {
                self.addr_port(node.child_by_field_name("value").or_else(|| node.named_child(0))?, depth + 1)
            }
            "identifier" => self.addr_port(self.binding(node)?, depth + 1),
            "tuple_expression" if node.named_child_count() == 2 => self.port_value(node.named_child(1)?, depth + 1),
            "macro_invocation" => self.format_port(node, depth),
            "call_expression" => {
                let function = callee(node)?;
                let args = node.child_by_field_name("arguments")?;
                match function.kind() {
                    "field_expression" => match text(function.child_by_field_name("field")?, source) {
                        // `env::var("ADDR").unwrap_or("0.0.0.0:3000".into())`: the variable holds
                        // an address, so it is no port override.
                        "unwrap_or" | "unwrap_or_else" => {
                            let fallback = literal_value(args.named_child(0)?, source)?;
                            port_number(fallback.rsplit_once(':')?.1).map(|p| (p, None))
                        }
                        m if PASS_THROUGH.contains(&m) => {
                            self.addr_port(function.child_by_field_name("value")?, depth + 1)
                        }
                        _ => None,
                    },
                    "scoped_identifier" => {
                        let path = function.child_by_field_name("path").map_or("", |p| text(p, source));
                        match text(function.child_by_field_name("name")?, source) {
                            "from" => self.addr_port(args.named_child(0)?, depth + 1),
                            "new" if path.ends_with("SocketAddr") || path.contains("SocketAddrV") => {
                                self.port_value(args.named_child(1)?, depth + 1)
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `format!("0.0.0.0:{}", port)`, `format!("{host}:{port}")`, `format!("0.0.0.0:8080")`.
    fn format_port(&self, mac: Node<'t>, depth: u8) -> Option<(u16, Option<String>)> {
        let source = self.source;
        if !matches!(text(mac.child_by_field_name("macro")?, source), "format" | "std::format") {
            return None;
        }
        let tree = mac.named_child(mac.named_child_count().checked_sub(1)?)?;
        let mut cursor = tree.walk();
        let tokens: Vec<_> = tree.children(&mut cursor).collect();
        let fmt_at = tokens.iter().position(|t| t.kind() == "string_literal")?;
        let fmt = string_content(tokens[fmt_at], source)?;
        let (before, after) = fmt.rsplit_once(':')?;
        if let Some(p) = port_number(after) {
            return Some((p, None));
        }
        let placeholder = after.strip_prefix('{')?.strip_suffix('}')?;
        if !placeholder.is_empty() {
            // `{port}` names a variable in scope.
            let value = self.vars.lookup(placeholder, mac.start_byte())?;
            return self.port_value(value, depth + 1);
        }
        // `{}`: the positional argument after those used before the colon. Every argument
        // must be a single identifier, or the count would be a guess.
        let index = before.matches("{}").count();
        let args: Vec<_> = tokens[fmt_at + 1..].iter().filter(|t| !matches!(t.kind(), "," | ")" | "]" | "}")).collect();
        if args.iter().any(|a| a.kind() != "identifier") || before.replace("{}", "").contains('{') {
            return None;
        }
        self.port_value(**args.get(index)?, depth + 1)
    }

    /// A port number: a literal, a variable, or an env read with a fallback.
    fn port_value(&self, node: Node<'t>, depth: u8) -> Option<(u16, Option<String>)> {
        if depth > 6 {
            return None;
        }
        let source = self.source;
        match node.kind() {
            "integer_literal" => port_number(int_text(text(node, source))).map(|p| (p, None)),
            "string_literal" => port_number(string_content(node, source)?).map(|p| (p, None)),
            "identifier" => self.port_value(self.binding(node)?, depth + 1),
            "reference_expression" | "parenthesized_expression" | "try_expression" | "await_expression" => {
                self.port_value(node.child_by_field_name("value").or_else(|| node.named_child(0))?, depth + 1)
            }
            "type_cast_expression" => self.port_value(node.child_by_field_name("value")?, depth + 1),
            "call_expression" => {
                let function = callee(node)?;
                if function.kind() != "field_expression" {
                    return None;
                }
                let receiver = function.child_by_field_name("value")?;
                match text(function.child_by_field_name("field")?, source) {
                    "unwrap_or" | "unwrap_or_else" => match env_root(receiver, source) {
                        Some((read, name)) => Some((port_number(&fallback_of(read, source)?)?, Some(name))),
                        None => {
                            let arg = node.child_by_field_name("arguments")?.named_child(0)?;
                            port_number(&literal_value(arg, source)?).map(|p| (p, None))
                        }
                    },
                    m if PASS_THROUGH.contains(&m) => self.port_value(receiver, depth + 1),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// The env read at the bottom of a method chain (`env::var("PORT").ok().and_then(…)`).
fn env_root<'t>(mut node: Node<'t>, source: &str) -> Option<(Node<'t>, String)> {
    for _ in 0..8 {
        if let Some(name) = env_read(node, source) {
            return Some((node, name));
        }
        let function = callee(node).filter(|f| f.kind() == "field_expression")?;
        known_method(text(function.child_by_field_name("field")?, source))?;
        node = function.child_by_field_name("value")?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::code::parse;

    fn scan(src: &str) -> CodeFacts {
        let tree = parse(&Rust, "rs", src).unwrap();
        let mut facts = CodeFacts::default();
        Rust.scan("rs", &tree, src, &mut facts);
        facts
    }

    fn env(f: &CodeFacts) -> Vec<(&str, Option<&str>, u32)> {
        f.env_vars.iter().map(|(n, d, l)| (n.as_str(), d.as_deref(), *l)).collect()
    }

    #[test]
    fn env_reads_and_fallbacks() {
        let f = scan(
            r#"use std::env;
fn main() {
    let db = std::env::var("DATABASE_URL").expect("DATABASE_URL must be set");
    let a = env::var("APP_NAME").unwrap_or_else(|_| "demo".to_string());
    let b = env::var("LEVEL").unwrap_or("info".into());
    let c = env::var_os("HOME");
    let d = dotenvy::var("SECRET").unwrap_or_else(|_| String::from("dev"));
    let p: u16 = env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let n = env::var("N").map(|v| v.len()).unwrap_or(0);
}
"#,
        );
        assert_eq!(
            env(&f),
            [
                ("DATABASE_URL", None, 3),
                ("APP_NAME", Some("demo"), 4),
                ("LEVEL", Some("info"), 5),
                ("HOME", None, 6),
                ("SECRET", Some("dev"), 7),
                ("PORT", Some("3000"), 8),
                ("N", None, 9),
            ]
        );
        assert_eq!(f.entry, Some(2));
    }

    #[test]
    fn compile_time_and_other_reads_are_not_env() {
        let f = scan(
            r#"fn f() {
    let v = env!("CARGO_PKG_VERSION");
    let o = option_env!("BUILD_SHA");
    let x = config::var("NOT_ENV");
    let y = std::env::var(name);
}
"#,
        );
        assert!(f.env_vars.is_empty(), "{:?}", f.env_vars);
        assert_eq!(f.entry, None);
    }

    #[test]
    fn axum_port_through_format_and_let() {
        let f = scan(
            r#"#[tokio::main]
async fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{}", port)).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
"#,
        );
        assert_eq!(f.ports, [(3000, Some("PORT".to_owned()), 4)]);
        // The line of `fn main`, not of its attribute.
        assert_eq!(f.entry, Some(2));
    }

    #[test]
    fn literal_and_inline_format_addresses() {
        let f = scan(
            r#"fn main() {
    let l = TcpListener::bind("0.0.0.0:4000");
    let port = 5000u16;
    let m = TcpListener::bind(format!("127.0.0.1:{port}"));
    let h = format!("{}:{}", host, 7000);
}
"#,
        );
        assert_eq!(f.ports, [(4000, None, 2), (5000, None, 4)]);
    }

    #[test]
    fn actix_tuple_and_socket_addr() {
        let f = scan(
            r#"const PORT: u16 = 9090;
async fn main() -> std::io::Result<()> {
    HttpServer::new(|| App::new()).bind(("0.0.0.0", 8080))?.run().await?;
    let addr = SocketAddr::from(([0, 0, 0, 0], PORT));
    axum::Server::bind(&addr).serve(app.into_make_service()).await;
    warp::serve(routes).run(([127, 0, 0, 1], 3030)).await;
    let a: SocketAddr = "0.0.0.0:7070".parse().unwrap();
    Server::builder().serve(a).await;
}
"#,
        );
        let ports: Vec<_> = f.ports.iter().map(|(p, e, l)| (*p, e.is_some(), *l)).collect();
        assert_eq!(ports, [(8080, false, 3), (9090, false, 5), (3030, false, 6), (7070, false, 8)]);
        assert_eq!(f.entry, Some(2));
    }

    #[test]
    fn clap_env_arguments() {
        let f = scan(
            r#"#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, env = "APP_PORT", default_value_t = 8080)]
    port: u16,
    #[clap(long, env = "DATABASE_URL")]
    database_url: String,
    #[arg(long, env, default_value = "0.0.0.0:9000")]
    listen_addr: String,
    #[arg(long, env = "DB_PORT", default_value_t = 5432)]
    db_port: u16,
    #[serde(rename = "x")]
    x: String,
}
"#,
        );
        assert_eq!(
            env(&f),
            [
                ("APP_PORT", Some("8080"), 4),
                ("DATABASE_URL", None, 6),
                ("LISTEN_ADDR", Some("0.0.0.0:9000"), 8),
                ("DB_PORT", Some("5432"), 10),
            ]
        );
        let ports: Vec<_> = f.ports.iter().map(|(p, e, l)| (*p, e.as_deref(), *l)).collect();
        assert_eq!(ports, [(8080, Some("APP_PORT"), 4), (9000, None, 8)]);
    }

    #[test]
    fn turbofish_parse() {
        let f = scan(
            r#"fn main() {
    let port = std::env::var("PORT").unwrap_or("8000".into()).parse::<u16>().unwrap();
    let addr = "0.0.0.0:6000".parse::<SocketAddr>().unwrap();
    let a = TcpListener::bind(addr);
    let b = TcpListener::bind(("0.0.0.0", port));
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "0.0.0.0:6500".to_owned());
    let c = TcpListener::bind(&listen);
}
"#,
        );
        let ports: Vec<_> = f.ports.iter().map(|(p, e, l)| (*p, e.as_deref(), *l)).collect();
        assert_eq!(ports, [(6000, None, 4), (8000, Some("PORT"), 5), (6500, None, 7)]);
    }

    #[test]
    fn not_a_port() {
        let f = scan(
            r#"fn main() {
    socket.bind(addr_from_args());
    runner.run(5);
    thing.bind("no-port-here");
    let q = sqlx::query("SELECT 1").bind(42);
}
"#,
        );
        assert!(f.ports.is_empty(), "{:?}", f.ports);
    }

    #[test]
    fn rocket_launch_is_an_entry() {
        let f = scan("#[macro_use] extern crate rocket;\n\n#[launch]\nfn rocket() -> _ {\n    rocket::build()\n}\n");
        assert_eq!(f.entry, Some(4));
    }

    #[test]
    fn only_binaries_are_entry_files() {
        assert!(Rust.entry_file("src/main.rs"));
        assert!(Rust.entry_file("src/bin/worker.rs"));
        assert!(!Rust.entry_file("build.rs"));
        assert!(!Rust.entry_file("examples/demo.rs"));
    }
}
