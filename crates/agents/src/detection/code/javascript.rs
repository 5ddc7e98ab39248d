//! JavaScript and TypeScript: `process.env.X`, `process.env["X"]`, `const { X } = process.env`,
//! `const { X = "default" } = process.env`, `import.meta.env.X`, `Bun.env.X`,
//! `Deno.env.get("X")`; ports from `.listen(…)` calls, following a few levels of
//! `const port = Number(process.env.PORT) || 3000`.

use std::collections::HashMap;
use std::sync::OnceLock;

use tree_sitter::{Node, Query, Tree};

use super::{CodeFacts, Scanner, compile, for_each_match, is_env_name, line, port_number, text, unquote};

pub struct JavaScript;

const QUERIES: &str = r#"
(member_expression
  object: (member_expression object: (identifier) @obj property: (property_identifier) @env)
  property: (property_identifier) @name) @read

(subscript_expression
  object: (member_expression object: (identifier) @obj property: (property_identifier) @env)
  index: (string (string_fragment) @name)) @read

(member_expression
  object: (member_expression object: (meta_property) @obj property: (property_identifier) @env)
  property: (property_identifier) @name) @read

(variable_declarator
  name: (object_pattern (shorthand_property_identifier_pattern) @name)
  value: (member_expression object: (identifier) @obj property: (property_identifier) @env)) @destructure

(variable_declarator
  name: (object_pattern
    (object_assignment_pattern left: (shorthand_property_identifier_pattern) @name right: (_) @default) @pattern)
  value: (member_expression object: (identifier) @obj property: (property_identifier) @env)) @destructure

(call_expression
  function: (member_expression
    object: (member_expression object: (identifier) @obj property: (property_identifier) @env)
    property: (property_identifier) @get)
  arguments: (arguments . (string (string_fragment) @name))) @read

(variable_declarator name: (identifier) @var value: (_) @value) @decl

(call_expression
  function: (member_expression property: (property_identifier) @listen)
  arguments: (arguments . (_) @port)) @call
"#;

/// The query for one grammar, compiled on first use: compiling is tens of milliseconds per
/// grammar, and most projects use one of the three.
fn query(ext: &str) -> &'static Query {
    static JS: OnceLock<Query> = OnceLock::new();
    static TS: OnceLock<Query> = OnceLock::new();
    static TSX: OnceLock<Query> = OnceLock::new();
    match ext {
        "ts" | "mts" | "cts" => {
            TS.get_or_init(|| compile(&tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(), QUERIES))
        }
        "tsx" => TSX.get_or_init(|| compile(&tree_sitter_typescript::LANGUAGE_TSX.into(), QUERIES)),
        _ => JS.get_or_init(|| compile(&tree_sitter_javascript::LANGUAGE.into(), QUERIES)),
    }
}

impl Scanner for JavaScript {
    fn id(&self) -> &'static str {
        "code.javascript"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"]
    }

    fn grammar(&self, ext: &str) -> tree_sitter::Language {
        match ext {
            "ts" | "mts" | "cts" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            "tsx" => tree_sitter_typescript::LANGUAGE_TSX.into(),
            _ => tree_sitter_javascript::LANGUAGE.into(),
        }
    }

    fn scan(&self, ext: &str, tree: &Tree, source: &str, out: &mut CodeFacts) {
        let query = query(ext);
        let mut vars: HashMap<&str, Node<'_>> = HashMap::new();
        let mut listens = Vec::new();
        for_each_match(query, tree, source, |caps| {
            let get = |n: &str| caps.iter().find(|(c, _)| *c == n).map(|(_, node)| *node);
            if let (Some(var), Some(value)) = (get("var"), get("value")) {
                vars.entry(text(var, source)).or_insert(value);
                return;
            }
            if let (Some(listen), Some(port)) = (get("listen"), get("port")) {
                if text(listen, source) == "listen" {
                    listens.push(port);
                }
                return;
            }
            let (Some(obj), Some(env), Some(name)) = (get("obj"), get("env"), get("name")) else { return };
            let ok = matches!(
                (text(obj, source), text(env, source), get("get").map(|g| text(g, source))),
                ("process" | "Bun" | "import.meta", "env", None) | ("Deno", "env", Some("get"))
            );
            let name = text(name, source);
            if !ok || !is_env_name(name) {
                return;
            }
            let default = match (get("read"), get("default")) {
                (Some(read), _) => fallback_of(read, source),
                (None, Some(default)) => literal(default, source),
                (None, None) => None,
            };
            // `const { PORT = 3000 } = process.env` binds PORT for a later `listen(PORT)`.
            if let Some(pattern) = get("pattern") {
                vars.entry(name).or_insert(pattern);
            }
            out.env_vars.push((name.to_owned(), default, line(name_node(caps))));
        });
        for arg in listens {
            if let Some((port, env)) = port_of(arg, source, &vars, 0) {
                out.ports.push((port, env, line(arg)));
                out.entry.get_or_insert(line(arg));
            }
        }
    }
}

fn name_node<'t>(caps: &[(&str, Node<'t>)]) -> Node<'t> {
    caps.iter().find(|(c, _)| *c == "name").map(|(_, n)| *n).expect("query captures @name")
}

/// `process.env.X || "fallback"` / `?? 3000`: the literal on the right of the read.
fn fallback_of(read: Node<'_>, source: &str) -> Option<String> {
    let parent = read.parent()?;
    if parent.kind() != "binary_expression" || parent.child_by_field_name("left")? != read {
        return None;
    }
    let op = text(parent.child_by_field_name("operator")?, source);
    if op != "||" && op != "??" {
        return None;
    }
    literal(parent.child_by_field_name("right")?, source)
}

/// The value of a number or string literal.
fn literal(node: Node<'_>, source: &str) -> Option<String> {
    match node.kind() {
        "number" => Some(text(node, source).to_owned()),
        "string" | "template_string" => Some(unquote(text(node, source)).to_owned()),
        _ => None,
    }
}

/// The env var read in an expression: `process.env.PORT`, also through a conversion
/// (`Number(…)`, `parseInt(…, 10)`, `+…`, `…!`).
fn env_read(node: Node<'_>, source: &str) -> Option<String> {
    match node.kind() {
        "call_expression" => env_read(node.child_by_field_name("arguments")?.named_child(0)?, source),
        "unary_expression" | "parenthesized_expression" | "non_null_expression" => {
            env_read(node.named_child(0)?, source)
        }
        _ => {
            let t = text(node, source);
            let name = t.strip_prefix("process.env.").or_else(|| t.strip_prefix("Bun.env."))?;
            is_env_name(name).then(|| name.to_owned())
        }
    }
}

/// Resolve a `listen` argument to a port: a literal, `env || literal`, `parseInt(…)`, a
/// `{ port }` object, or a variable declared in the same file (followed a few levels).
fn port_of(node: Node<'_>, source: &str, vars: &HashMap<&str, Node<'_>>, depth: u8) -> Option<(u16, Option<String>)> {
    if depth > 3 {
        return None;
    }
    match node.kind() {
        "number" | "string" => port_number(text(node, source)).map(|p| (p, None)),
        "parenthesized_expression" => port_of(node.named_child(0)?, source, vars, depth + 1),
        "binary_expression" => {
            let left = node.child_by_field_name("left")?;
            let right = node.child_by_field_name("right")?;
            let (port, env) = port_of(right, source, vars, depth + 1)?;
            Some((port, env.or_else(|| env_read(left, source))))
        }
        "call_expression" => {
            // parseInt(x, 10), Number(x)
            let args = node.child_by_field_name("arguments")?;
            port_of(args.named_child(0)?, source, vars, depth + 1)
        }
        // `process.env.PORT ? Number(process.env.PORT) : 3000`
        "ternary_expression" => {
            let condition = node.child_by_field_name("condition")?;
            let (port, env) = port_of(node.child_by_field_name("alternative")?, source, vars, depth + 1)?;
            Some((port, env.or_else(|| env_read(condition, source))))
        }
        // `{ PORT = 3000 } = process.env`
        "object_assignment_pattern" => {
            let (port, _) = port_of(node.child_by_field_name("right")?, source, vars, depth + 1)?;
            Some((port, Some(text(node.child_by_field_name("left")?, source).to_owned())))
        }
        "identifier" => port_of(*vars.get(text(node, source))?, source, vars, depth + 1),
        "object" => {
            let mut cursor = node.walk();
            for pair in node.named_children(&mut cursor) {
                if pair.kind() == "pair"
                    && pair.child_by_field_name("key").is_some_and(|k| unquote(text(k, source)) == "port")
                {
                    return port_of(pair.child_by_field_name("value")?, source, vars, depth + 1);
                }
                if pair.kind() == "shorthand_property_identifier" && text(pair, source) == "port" {
                    return port_of(*vars.get("port")?, source, vars, depth + 1);
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::code::parse;

    fn scan(ext: &'static str, src: &str) -> CodeFacts {
        let tree = parse(&JavaScript, ext, src).unwrap();
        let mut facts = CodeFacts::default();
        JavaScript.scan(ext, &tree, src, &mut facts);
        facts
    }

    #[test]
    fn env_reads_and_defaults() {
        let f = scan(
            "js",
            "const db = process.env.DATABASE_URL;\nconst s = process.env['SECRET'] || 'dev';\nconst { A, B } = process.env;\nconst v = import.meta.env.VITE_API;\n",
        );
        let names: Vec<_> = f.env_vars.iter().map(|(n, d, l)| (n.as_str(), d.as_deref(), *l)).collect();
        assert_eq!(
            names,
            [
                ("DATABASE_URL", None, 1),
                ("SECRET", Some("dev"), 2),
                ("A", None, 3),
                ("B", None, 3),
                ("VITE_API", None, 4)
            ]
        );
    }

    #[test]
    fn ports_through_a_variable() {
        let f = scan("js", "const port = parseInt(process.env.PORT || '3000', 10);\napp.listen(port, () => {});\n");
        assert_eq!(f.ports, [(3000, Some("PORT".to_owned()), 2)]);
        assert_eq!(f.entry, Some(2));
    }

    #[test]
    fn typescript_object_listen() {
        let f = scan(
            "ts",
            "await app.listen({ port: 8080, host: '0.0.0.0' });\nconst x: string = process.env.NODE_ENV ?? 'development';\n",
        );
        assert_eq!(f.ports, [(8080, None, 1)]);
        assert_eq!(f.env_vars, [("NODE_ENV".to_owned(), Some("development".to_owned()), 2)]);
    }

    #[test]
    fn not_a_port() {
        let f = scan("js", "server.listen(socketPath);\nemitter.listen(99999);\n");
        assert!(f.ports.is_empty());
    }

    #[test]
    fn ports_through_conversions_ternaries_and_destructuring() {
        let f = scan("js", "const port = Number(process.env.PORT) || 3000;\napp.listen(port);\n");
        assert_eq!(f.ports, [(3000, Some("PORT".to_owned()), 2)]);
        let f = scan("ts", "app.listen(process.env.PORT ? parseInt(process.env.PORT!, 10) : 8080);\n");
        assert_eq!(f.ports, [(8080, Some("PORT".to_owned()), 1)]);
        let f = scan("js", "const { PORT = 4000, HOST } = process.env;\nserver.listen(PORT, HOST);\n");
        assert_eq!(f.ports, [(4000, Some("PORT".to_owned()), 2)]);
        let names: Vec<_> = f.env_vars.iter().map(|(n, d, l)| (n.as_str(), d.as_deref(), *l)).collect();
        assert_eq!(names, [("HOST", None, 1), ("PORT", Some("4000"), 1)]);
    }

    #[test]
    fn destructuring_other_objects_is_not_an_env_read() {
        let f = scan("js", "const { PORT = 4000 } = config.server;\napp.listen(PORT);\n");
        assert!(f.env_vars.is_empty());
        assert!(f.ports.is_empty());
    }
}
