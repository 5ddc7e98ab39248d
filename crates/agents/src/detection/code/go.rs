//! Go: `os.Getenv("X")` and `os.LookupEnv("X")`, with the fallback of a following
//! `if v == "" { v = "8080" }`, of `cmp.Or(os.Getenv("X"), "8080")`, or of a helper call
//! `getEnv("X", "8080")`; ports from `http.ListenAndServe`, gin's `Run`, echo's `Start`,
//! fiber's `Listen`, `net.Listen` and `http.Server{Addr: …}`, following variables of the same
//! function and constants of the file. `func main` in `package main` is an entry point.

use std::sync::OnceLock;

use tree_sitter::{Node, Query, Tree};

use super::{CodeFacts, Scanner, compile, for_each_match, is_env_name, line, port_number, text, unquote};

pub struct Go;

const QUERIES: &str = r#"
(call_expression
  function: [(selector_expression operand: (_) @recv field: (field_identifier) @fn) (identifier) @fn]
  arguments: (argument_list) @args) @call

(composite_literal
  type: (_) @type
  body: (literal_value
    (keyed_element key: (literal_element (identifier) @key) value: (literal_element (_) @addr))))

(short_var_declaration left: (expression_list . (identifier) @var) right: (expression_list . (_) @value)) @decl
(var_spec name: (identifier) @var value: (expression_list . (_) @value)) @decl
(const_spec name: (identifier) @var value: (expression_list . (_) @value)) @decl
"#;

fn query() -> &'static Query {
    static Q: OnceLock<Query> = OnceLock::new();
    Q.get_or_init(|| compile(&tree_sitter_go::LANGUAGE.into(), QUERIES))
}

impl Scanner for Go {
    fn id(&self) -> &'static str {
        "code.go"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["go"]
    }

    fn grammar(&self, _ext: &str) -> tree_sitter::Language {
        tree_sitter_go::LANGUAGE.into()
    }

    fn entry_file(&self, path: &str) -> bool {
        !path.ends_with("_test.go")
    }

    fn scan(&self, _ext: &str, tree: &Tree, source: &str, out: &mut CodeFacts) {
        let mut bindings = Vec::new();
        let mut calls = Vec::new();
        let mut addrs = Vec::new();
        for_each_match(query(), tree, source, |caps| {
            let get = |n: &str| caps.iter().find(|(c, _)| *c == n).map(|(_, node)| *node);
            if let (Some(var), Some(value), Some(decl)) = (get("var"), get("value"), get("decl")) {
                bindings.push(Binding { name: text(var, source), value, decl, scope: scope_of(decl) });
            } else if let (Some(ty), Some(key), Some(addr)) = (get("type"), get("key"), get("addr")) {
                // `http.Server{Addr: ":8080"}`, `&fasthttp.Server{…}` has no Addr: precise enough.
                if text(key, source) == "Addr" && text(ty, source).ends_with("Server") {
                    addrs.push(addr);
                }
            } else if let (Some(call), Some(function), Some(args)) = (get("call"), get("fn"), get("args")) {
                calls.push((call, get("recv"), function, args));
            }
        });
        let cx = Resolve { source, bindings: &bindings };
        for (call, recv, function, args) in calls {
            let function = text(function, source);
            let recv = recv.map(|r| text(r, source));
            if let Some((name, default)) = cx.env_call(call, recv, function, args) {
                out.env_vars.push((name, default, line(call)));
                continue;
            }
            let addr = match (recv, function, args.named_child_count()) {
                (Some("net"), "Listen", 2..) => args.named_child(1),
                (Some(_), "ListenAndServe" | "ListenAndServeTLS" | "Run" | "Start" | "StartTLS" | "Listen", 1..) => {
                    args.named_child(0)
                }
                (Some(r), "Run", 0) if cx.is_gin_engine(r, call) => {
                    // gin's `Run()` with no address listens on $PORT, else 8080.
                    out.ports.push((8080, Some("PORT".to_owned()), line(call)));
                    None
                }
                _ => None,
            };
            addrs.extend(addr);
        }
        for addr in addrs {
            if let Some((port, env)) = cx.addr_port(addr, 0) {
                out.ports.push((port, env, line(addr)));
            }
        }
        out.entry = main_line(tree.root_node(), source);
    }
}

/// A name bound by `:=`, `var` or `const`, and the function it is visible in (`None`: the file).
struct Binding<'s, 't> {
    name: &'s str,
    value: Node<'t>,
    decl: Node<'t>,
    scope: Option<usize>,
}

/// The id of the function (declaration, method or literal) enclosing `node`.
fn scope_of(node: Node<'_>) -> Option<usize> {
    let mut n = node.parent();
    while let Some(p) = n {
        if matches!(p.kind(), "function_declaration" | "method_declaration" | "func_literal") {
            return Some(p.id());
        }
        n = p.parent();
    }
    None
}

/// Line of `func main()` when the file is `package main`.
fn main_line(root: Node<'_>, source: &str) -> Option<u32> {
    let mut cursor = root.walk();
    let children: Vec<_> = root.named_children(&mut cursor).collect();
    let is_main = children
        .iter()
        .any(|c| c.kind() == "package_clause" && c.named_child(0).is_some_and(|p| text(p, source) == "main"));
    if !is_main {
        return None;
    }
    children
        .iter()
        .find(|c| {
            c.kind() == "function_declaration"
                && c.child_by_field_name("name").is_some_and(|n| text(n, source) == "main")
        })
        .map(|f| line(*f))
}

/// A Go string literal's content (interpreted or raw).
fn string_content<'s>(node: Node<'_>, source: &'s str) -> Option<&'s str> {
    matches!(node.kind(), "interpreted_string_literal" | "raw_string_literal").then(|| unquote(text(node, source)))
}

/// Whether `name` looks like a helper that reads an env var with a fallback: `getEnv`,
/// `GetEnvOrDefault`, `envOr`, `lookupEnvOrString`, `getEnvInt` (never `Setenv`).
fn is_env_helper(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let rest = lower.strip_prefix("get").or_else(|| lower.strip_prefix("lookup")).unwrap_or(&lower);
    rest.starts_with("env") && !lower.contains("set")
}

struct Resolve<'a, 's, 't> {
    source: &'s str,
    bindings: &'a [Binding<'s, 't>],
}

impl<'t> Resolve<'_, '_, 't> {
    /// The binding of `name` visible at `at`: the closest one before it in the same function,
    /// else one at file level.
    fn lookup(&self, name: &str, at: Node<'t>) -> Option<&Binding<'_, 't>> {
        let scope = scope_of(at);
        let local = self.bindings.iter().rfind(|b| {
            b.name == name && b.scope.is_some() && b.scope == scope && b.decl.start_byte() < at.start_byte()
        });
        local.or_else(|| self.bindings.iter().find(|b| b.name == name && b.scope.is_none()))
    }

    /// An env read: `os.Getenv("X")`, `os.LookupEnv("X")` (with the fallback written after
    /// it), or `getEnv("X", "fallback")`.
    fn env_call(
        &self,
        call: Node<'t>,
        recv: Option<&str>,
        function: &str,
        args: Node<'t>,
    ) -> Option<(String, Option<String>)> {
        let source = self.source;
        let name = string_content(args.named_child(0)?, source)?;
        if !is_env_name(name) {
            return None;
        }
        match (recv, function) {
            (Some("os"), "Getenv" | "LookupEnv") => Some((name.to_owned(), self.fallback_of(call))),
            (_, helper) if is_env_helper(helper) && args.named_child_count() == 2 && is_upper(name) => {
                Some((name.to_owned(), self.literal(args.named_child(1)?)))
            }
            _ => None,
        }
    }

    /// The fallback of an `os.Getenv` call: `cmp.Or(os.Getenv("X"), "d")`, or
    /// `v := os.Getenv("X")` followed by `if v == "" { v = "d" }` (`if !ok` for `LookupEnv`).
    fn fallback_of(&self, call: Node<'t>) -> Option<String> {
        let source = self.source;
        let parent = call.parent()?;
        if parent.kind() == "argument_list" {
            let outer = parent.parent()?;
            if text(outer.child_by_field_name("function")?, source) == "cmp.Or" {
                return self.literal(parent.named_child(parent.named_child_count().checked_sub(1)?)?);
            }
            return None;
        }
        // `v := os.Getenv("X")` / `var v = os.Getenv("X")`
        if parent.kind() != "expression_list" {
            return None;
        }
        let decl = parent.parent()?;
        let (names, statement) = match decl.kind() {
            "short_var_declaration" => (decl.child_by_field_name("left")?, decl),
            "var_spec" => (decl, decl.parent()?),
            _ => return None,
        };
        let mut cursor = names.walk();
        let idents: Vec<_> =
            names.named_children(&mut cursor).filter(|n| n.kind() == "identifier").map(|n| text(n, source)).collect();
        let var = *idents.first()?;
        let next = statement.next_named_sibling().filter(|n| n.kind() == "if_statement")?;
        let condition: String = text(next.child_by_field_name("condition")?, source).split_whitespace().collect();
        let empty = [format!("{var}==\"\""), format!("\"\"=={var}"), format!("len({var})==0")];
        let missing = idents.get(1).map(|ok| format!("!{ok}"));
        if !empty.contains(&condition) && missing.as_ref() != Some(&condition) {
            return None;
        }
        let block = next.child_by_field_name("consequence")?;
        let first = block.named_child(0)?;
        let assign = if first.kind() == "statement_list" { first.named_child(0)? } else { first };
        if assign.kind() != "assignment_statement" || text(assign.child_by_field_name("left")?, source) != var {
            return None;
        }
        self.literal(assign.child_by_field_name("right")?.named_child(0)?)
    }

    /// A literal value, or a constant naming one.
    fn literal(&self, node: Node<'t>) -> Option<String> {
        self.literal_at(node, 0)
    }

    fn literal_at(&self, node: Node<'t>, depth: u8) -> Option<String> {
        if depth > 6 {
            // `const a = b; const b = a` does not compile, but must not loop here either.
            return None;
        }
        match node.kind() {
            "interpreted_string_literal" | "raw_string_literal" => string_content(node, self.source).map(str::to_owned),
            "int_literal" => Some(text(node, self.source).to_owned()),
            "identifier" => {
                let b = self.lookup(text(node, self.source), node)?;
                (b.decl.kind() == "const_spec").then(|| self.literal_at(b.value, depth + 1))?
            }
            _ => None,
        }
    }

    /// Whether `recv` was bound to `gin.Default()` or `gin.New()` in this function.
    fn is_gin_engine(&self, recv: &str, at: Node<'t>) -> bool {
        self.lookup(recv, at).is_some_and(|b| matches!(text(b.value, self.source), "gin.Default()" | "gin.New()"))
    }

    /// The port of an address: `":8080"`, `":" + port`, `fmt.Sprintf(":%s", port)`, or a
    /// variable holding one.
    fn addr_port(&self, node: Node<'t>, depth: u8) -> Option<(u16, Option<String>)> {
        if depth > 6 {
            return None;
        }
        let source = self.source;
        match node.kind() {
            "interpreted_string_literal" | "raw_string_literal" => {
                let (_, port) = string_content(node, source)?.rsplit_once(':')?;
                port_number(port).map(|p| (p, None))
            }
            "parenthesized_expression" => self.addr_port(node.named_child(0)?, depth + 1),
            "unary_expression" => self.addr_port(deref(node, source)?, depth + 1),
            "binary_expression" => {
                let left = node.child_by_field_name("left")?;
                let ok =
                    text(node.child_by_field_name("operator")?, source) == "+" && text(left, source).ends_with(":\"");
                ok.then(|| self.port_value(node.child_by_field_name("right")?, depth + 1))?
            }
            "identifier" => self.addr_port(self.lookup(text(node, source), node)?.value, depth + 1),
            "call_expression" => {
                let args = node.child_by_field_name("arguments")?;
                match text(node.child_by_field_name("function")?, source) {
                    // addr := flag.String("addr", ":8080", "listen address")
                    "flag.String" => return self.addr_port(args.named_child(1)?, depth + 1),
                    // fmt.Sprintf(":%d", port), fmt.Sprintf("%s:%s", host, port)
                    "fmt.Sprintf" => {}
                    // address := os.Getenv("SERVER_ADDRESS") with an `if address == ""`
                    // fallback. The variable holds an address, not a port: setting it to a
                    // port number would break the app, so it is not given as the override.
                    _ => {
                        let (_, default) = self.as_env_call(node)?;
                        return port_number(default?.rsplit_once(':')?.1).map(|p| (p, None));
                    }
                }
                let format = string_content(args.named_child(0)?, source)?;
                let (_, after) = format.rsplit_once(':')?;
                if let Some(p) = port_number(after) {
                    return Some((p, None));
                }
                let verbs = format.matches('%').count();
                if !matches!(after, "%s" | "%d" | "%v") || args.named_child_count() != verbs + 1 {
                    return None;
                }
                self.port_value(args.named_child(verbs)?, depth + 1)
            }
            _ => None,
        }
    }

    /// A port number: a literal, a variable (an env read with its fallback), `cmp.Or(…)`, or
    /// `getEnv("PORT", "8080")`.
    fn port_value(&self, node: Node<'t>, depth: u8) -> Option<(u16, Option<String>)> {
        if depth > 6 {
            return None;
        }
        let source = self.source;
        match node.kind() {
            "interpreted_string_literal" | "raw_string_literal" | "int_literal" => {
                port_number(&self.literal(node)?).map(|p| (p, None))
            }
            "unary_expression" => self.port_value(deref(node, source)?, depth + 1),
            "identifier" => {
                let binding = self.lookup(text(node, source), node)?;
                // `port := os.Getenv("PORT")` with its `if port == ""` fallback.
                match self.as_env_call(binding.value) {
                    Some((env, default)) => Some((port_number(&default?)?, Some(env))),
                    None => self.port_value(binding.value, depth + 1),
                }
            }
            "call_expression" => {
                let function = node.child_by_field_name("function")?;
                let args = node.child_by_field_name("arguments")?;
                if text(function, source) == "cmp.Or" {
                    let env = (0..args.named_child_count())
                        .filter_map(|i| args.named_child(i))
                        .find_map(|a| self.as_env_call(a).map(|(n, _)| n));
                    let last = args.named_child(args.named_child_count().checked_sub(1)?)?;
                    return Some((port_number(&self.literal(last)?)?, env));
                }
                match text(function, source) {
                    "strconv.Itoa" => return self.port_value(args.named_child(0)?, depth + 1),
                    // port := flag.Int("port", 8080, "…")
                    "flag.Int" | "flag.String" => return self.port_value(args.named_child(1)?, depth + 1),
                    _ => {}
                }
                let (env, default) = self.as_env_call(node)?;
                Some((port_number(&default?)?, Some(env)))
            }
            _ => None,
        }
    }

    /// `node` as an env read, with its fallback.
    fn as_env_call(&self, node: Node<'t>) -> Option<(String, Option<String>)> {
        if node.kind() != "call_expression" {
            return None;
        }
        let function = node.child_by_field_name("function")?;
        let args = node.child_by_field_name("arguments")?;
        let (recv, name) = match function.kind() {
            "selector_expression" => (
                Some(text(function.child_by_field_name("operand")?, self.source)),
                text(function.child_by_field_name("field")?, self.source),
            ),
            "identifier" => (None, text(function, self.source)),
            _ => return None,
        };
        self.env_call(node, recv, name, args)
    }
}

/// The operand of `*flagValue`.
fn deref<'t>(node: Node<'t>, source: &str) -> Option<Node<'t>> {
    (text(node.child_by_field_name("operator")?, source) == "*").then(|| node.child_by_field_name("operand"))?
}

/// `PORT`, `DATABASE_URL`: the shape of env var names passed to helpers.
fn is_upper(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::code::parse;

    fn scan(src: &str) -> CodeFacts {
        let tree = parse(&Go, "go", src).unwrap();
        let mut facts = CodeFacts::default();
        Go.scan("go", &tree, src, &mut facts);
        facts
    }

    fn env(f: &CodeFacts) -> Vec<(&str, Option<&str>, u32)> {
        f.env_vars.iter().map(|(n, d, l)| (n.as_str(), d.as_deref(), *l)).collect()
    }

    #[test]
    fn env_reads_and_fallbacks() {
        let f = scan(
            r#"package main

const defaultLevel = "info"

func main() {
	db := os.Getenv("DATABASE_URL")
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	level, ok := os.LookupEnv("LOG_LEVEL")
	if !ok {
		level = defaultLevel
	}
	addr := cmp.Or(os.Getenv("ADDR"), "localhost:1")
	secret := getEnv("SECRET", "dev")
	os.Setenv("NOT_READ", "x")
	name := os.Getenv(key)
}
"#,
        );
        assert_eq!(
            env(&f),
            [
                ("DATABASE_URL", None, 6),
                ("PORT", Some("8080"), 7),
                ("LOG_LEVEL", Some("info"), 11),
                ("ADDR", Some("localhost:1"), 15),
                ("SECRET", Some("dev"), 16),
            ]
        );
        assert_eq!(f.entry, Some(5));
    }

    #[test]
    fn framework_listen_calls() {
        let f = scan(
            r#"package main

func main() {
	r := gin.Default()
	go r.Run(":8080")
	e := echo.New()
	e.Logger.Fatal(e.Start(":1323"))
	app := fiber.New()
	log.Fatal(app.Listen("0.0.0.0:3000"))
	ln, _ := net.Listen("tcp", ":9000")
	http.ListenAndServe("localhost:7000", nil)
}
"#,
        );
        let ports: Vec<_> = f.ports.iter().map(|(p, e, l)| (*p, e.clone(), *l)).collect();
        assert_eq!(ports, [(8080, None, 5), (1323, None, 7), (3000, None, 9), (9000, None, 10), (7000, None, 11)]);
    }

    #[test]
    fn port_from_env_with_fallback() {
        let f = scan(
            r#"package main

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "4000"
	}
	srv := &http.Server{Addr: ":" + port, Handler: mux}
	log.Fatal(srv.ListenAndServe())
}

const defaultAddress = ":9090"

func third() {
	address := os.Getenv("SERVER_ADDRESS")
	if address == "" {
		address = defaultAddress
	}
	log.Fatal(e.Start(address))
}

func other() {
	port := os.Getenv("OTHER_PORT")
	http.ListenAndServe(":"+port, nil)
	p := cmp.Or(os.Getenv("ALT_PORT"), "5000")
	http.ListenAndServe(fmt.Sprintf(":%s", p), nil)
}
"#,
        );
        let ports: Vec<_> = f.ports.iter().map(|(p, e, l)| (*p, e.as_deref(), *l)).collect();
        // OTHER_PORT has no fallback: no number to report.
        assert_eq!(ports, [(4000, Some("PORT"), 8), (9090, None, 19), (5000, Some("ALT_PORT"), 26)]);
    }

    #[test]
    fn ports_from_flags() {
        let f = scan(
            r#"package main

var addr = flag.String("addr", ":8081", "listen address")

func main() {
	port := flag.Int("port", 8082, "port")
	flag.Parse()
	go http.ListenAndServe(*addr, nil)
	http.ListenAndServe(":"+strconv.Itoa(*port), nil)
	http.ListenAndServe(fmt.Sprintf(":%d", *port), nil)
}
"#,
        );
        let ports: Vec<_> = f.ports.iter().map(|(p, e, l)| (*p, e.is_some(), *l)).collect();
        assert_eq!(ports, [(8081, false, 8), (8082, false, 9), (8082, false, 10)]);
    }

    #[test]
    fn cyclic_constants_end() {
        let f = scan("package main\n\nconst a = b\nconst b = a\n\nfunc main() {\n\tv := getEnv(\"X\", a)\n}\n");
        assert_eq!(env(&f), [("X", None, 7)]);
    }

    #[test]
    fn gin_run_without_address() {
        let f = scan("package main\n\nfunc main() {\n\tr := gin.Default()\n\tr.Run()\n\tcmd.Run()\n}\n");
        assert_eq!(f.ports, [(8080, Some("PORT".to_owned()), 5)]);
    }

    #[test]
    fn not_ports_and_not_main() {
        let f = scan(
            r#"package server

func main() {}

func Start() {
	worker.Run(ctx)
	job.Start(time.Second)
	cache.Listen(events)
}
"#,
        );
        assert!(f.ports.is_empty(), "{:?}", f.ports);
        assert_eq!(f.entry, None);
    }

    #[test]
    fn test_files_are_not_entries() {
        assert!(Go.entry_file("cmd/server/main.go"));
        assert!(!Go.entry_file("main_test.go"));
    }
}
