//! Go: a directory with a `go.mod` is a module (a `go.work` makes it a workspace root).
//! Requirements give the dependencies, frameworks and services; `package main` at the module
//! root or under `cmd/<name>/` gives `go run`.

use super::services::{env_var_for_service, service_for_dependency};
use crate::detection::{Findings, ProjectContext, Provider, command, manifest, priority};
use crate::plan::{Dependency, Evidence, Framework, Language, PackageManager};

pub struct Go;

impl Provider for Go {
    fn id(&self) -> &'static str {
        "go"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        if cx.has("go.work") {
            out.workspace_root = true;
            out.add_language(Language::Go, cx.evidence("go.work", None, "go.manifest"));
            out.add_package_manager(PackageManager::GoModules, cx.evidence("go.work", None, "go.pm.go-work"));
        }
        if !cx.has("go.mod") {
            return;
        }
        let Some(text) = cx.read("go.mod") else { return };
        let module = parse_go_mod(cx, &text.content);
        out.add_language(Language::Go, cx.evidence("go.mod", module.path.as_ref().map(|m| m.1), "go.manifest"));
        let pm = if cx.has("go.sum") {
            cx.evidence("go.sum", None, "go.pm.go-sum")
        } else {
            cx.evidence("go.mod", module.path.as_ref().map(|m| m.1), "go.pm.go-mod")
        };
        out.add_package_manager(PackageManager::GoModules, pm);
        let name = module.path.as_ref().map(|(p, _)| module_name(p).to_owned());
        if let Some(name) = &name {
            out.set_name(name);
        }
        for req in &module.requires {
            let evidence = |rule: &str| cx.evidence("go.mod", Some(req.line), rule);
            out.add_dependency(Dependency {
                ecosystem: "go",
                name: req.path.clone(),
                version: Some(req.version.clone()),
                dev: false,
                evidence: evidence("go.dependency"),
            });
            // An indirect requirement is not imported by this module: it names no framework
            // or service of its own.
            if req.indirect {
                continue;
            }
            let base = strip_major(&req.path);
            let framework = match base {
                "github.com/gin-gonic/gin" => Some(Framework::Gin),
                "github.com/labstack/echo" => Some(Framework::Echo),
                "github.com/gofiber/fiber" => Some(Framework::Fiber),
                "github.com/go-chi/chi" => Some(Framework::Chi),
                _ => None,
            };
            if let Some(f) = framework {
                out.add_framework(f, evidence(&format!("go.framework.{f}")));
            }
            let service = service_for_dependency("go", &req.path).or_else(|| service_for_dependency("go", base));
            if let Some(service) = service {
                let env_var = env_var_for_service(service, out.env_var_names());
                out.add_service(service, env_var, evidence(&format!("go.service.{service}")));
            }
        }
        starts(cx, name.as_deref(), out);
    }
}

/// What detection needs from a `go.mod`.
#[derive(Debug, Default)]
struct GoMod {
    /// The module path and its line.
    path: Option<(String, u32)>,
    requires: Vec<Require>,
}

#[derive(Debug)]
struct Require {
    path: String,
    version: String,
    indirect: bool,
    line: u32,
}

/// A line-based reading of `go.mod`: `module`, single-line and block `require`s; other
/// directives are skipped. The first malformed line is reported, and reading goes on.
fn parse_go_mod(cx: &ProjectContext<'_>, text: &str) -> GoMod {
    let mut module = GoMod::default();
    let mut problem: Option<(u32, String)> = None;
    // The directive of the block being read and the line it opened on.
    let mut block: Option<(String, u32)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let (code, comment) = raw.split_once("//").unwrap_or((raw, ""));
        let indirect = comment.trim() == "indirect" || comment.trim().starts_with("indirect;");
        // `require(` is as valid as `require (`.
        let code = code.replace('(', " ( ").replace(')', " ) ");
        let words: Vec<&str> = code.split_whitespace().map(|w| w.trim_matches('"')).collect();
        if words.is_empty() {
            continue;
        }
        let mut bad = |message: String| {
            problem.get_or_insert((n, message));
        };
        if let Some((directive, _)) = &block {
            if words == [")"] {
                block = None;
            } else if directive == "require" {
                match words[..] {
                    [path, version] => {
                        module.requires.push(Require { path: path.into(), version: version.into(), indirect, line: n })
                    }
                    _ => bad(format!(
                        "malformed go.mod: expected `path version` in the require block, found `{}`",
                        code.trim()
                    )),
                }
            }
            continue;
        }
        match words[..] {
            [directive, "("] => block = Some((directive.to_owned(), n)),
            ["module", path] => module.path = Some((path.to_owned(), n)),
            ["require", path, version] => {
                module.requires.push(Require { path: path.into(), version: version.into(), indirect, line: n })
            }
            ["go" | "toolchain" | "godebug" | "replace" | "exclude" | "retract" | "tool" | "ignore", ..] => {}
            ["require" | "module", ..] => bad(format!("malformed go.mod: `{}`", code.trim())),
            [other, ..] => bad(format!("malformed go.mod: unknown directive `{other}`")),
            [] => {}
        }
    }
    if let Some((directive, line)) = block {
        problem.get_or_insert((line, format!("malformed go.mod: `{directive} (` block is never closed")));
    }
    if let Some((line, message)) = problem {
        cx.warn("go.mod", Some(line), message);
    }
    module
}

/// `github.com/labstack/echo/v4` → `github.com/labstack/echo`.
fn strip_major(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((base, v)) if v.len() > 1 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit()) => base,
        _ => path,
    }
}

/// The project name: the last segment of the module path that is not a major version.
fn module_name(path: &str) -> &str {
    strip_major(path).rsplit('/').next().unwrap_or(path)
}

/// `go run .` for `package main` at the module root, `go run ./cmd/<name>` for each command,
/// the one named like the module first, then one named like a server (`cmd/api`). With neither, any other `main.go` of `package main`
/// (`app/main.go`, `server/main.go`), the one named like the module (else the shallowest) first.
fn starts(cx: &ProjectContext<'_>, module: Option<&str>, out: &mut Findings) {
    // Package directory relative to the project → the file with `func main`.
    let mut mains: Vec<(String, Evidence)> = Vec::new();
    for file in cx.own_files() {
        if file.extension() != Some("go") || file.path.ends_with("_test.go") {
            continue;
        }
        let dir = if file.dir() == cx.dir { "." } else { cx.relative(file.dir()) };
        let conventional = dir == "." || dir.strip_prefix("cmd/").is_some_and(|c| !c.contains('/'));
        let skipped = dir.split('/').any(|c| {
            c.starts_with(['_', '.']) || matches!(c, "testdata" | "example" | "examples" | "scripts" | "tools" | "hack")
        });
        if mains.iter().any(|(d, _)| d == dir) || !conventional && (file.file_name() != "main.go" || skipped) {
            continue;
        }
        let Some(line) = cx.repo.read_text(&file.path).and_then(|t| main_func_line(&t.content)) else { continue };
        let rule = match dir {
            "." => "go.start.root",
            _ if conventional => "go.start.cmd",
            _ => "go.start.main-package",
        };
        mains.push((dir.to_owned(), Evidence::new(file.path.clone(), Some(line), rule)));
    }
    if mains.iter().any(|(_, e)| e.rule != "go.start.main-package") {
        mains.retain(|(_, e)| e.rule != "go.start.main-package");
    }
    let last = |d: &str| d.rsplit('/').next().unwrap_or(d).to_owned();
    let serves = |d: &str| last(d).split(['-', '_']).any(|w| matches!(w, "server" | "serve" | "api" | "web" | "http"));
    mains.sort_by_key(|(dir, _)| {
        (dir != ".", Some(last(dir).as_str()) != module, !serves(dir), dir.matches('/').count(), dir.clone())
    });
    for (dir, evidence) in mains {
        let target = if dir == "." { ".".to_owned() } else { format!("./{dir}") };
        out.add_start(priority::CONVENTION, command(&["go", "run", &target], evidence));
    }
}

/// Line of `func main()` in a `package main` file.
fn main_func_line(source: &str) -> Option<u32> {
    let package = source.lines().find_map(|l| l.trim().strip_prefix("package "))?;
    if package.split("//").next()?.trim() != "main" {
        return None;
    }
    manifest::line_starting(source, "func main()")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, project};
    use crate::plan::{ProjectRole, ServiceKind};

    fn names<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> Vec<String> {
        items.into_iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn gin_redis_fixture() {
        let d = detect_fixture("go-gin-redis");
        let p = project(&d, ".");
        assert_eq!(p.name, "go-gin-redis");
        assert_eq!(p.role, ProjectRole::App);
        assert_eq!(p.languages[0].language, Language::Go);
        assert_eq!(names(p.package_managers.iter().map(|f| f.value)), ["go-modules"]);
        assert_eq!(p.package_managers[0].evidence[0], Evidence::new("go.sum", None, "go.pm.go-sum"));
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["gin"]);
        assert_eq!(p.frameworks[0].evidence[0], Evidence::new("go.mod", Some(6), "go.framework.gin"));
        assert_eq!(p.services.len(), 1);
        assert_eq!(p.services[0].service, ServiceKind::Redis);
        assert_eq!(p.services[0].env_var.as_deref(), Some("REDIS_URL"));
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "go run .");
        assert_eq!(start.evidence, Evidence::new("main.go", Some(13), "go.start.root"));
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].evidence[0].line), (8080, Some(29)));
        assert_eq!(names(p.env_vars.iter().map(|e| &e.name)), ["REDIS_URL"]);
        assert_eq!(names(p.entry_points.iter().map(|e| &e.file)), ["main.go"]);
        // Indirect requirements are dependencies, but name no service.
        assert_eq!(p.dependencies.len(), 4);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn echo_fixture() {
        let d = detect_fixture("go-echo");
        let p = project(&d, ".");
        assert_eq!(p.name, "echo-api");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["echo"]);
        // go.mod alone: go-modules, with the module line as evidence.
        assert_eq!(p.package_managers[0].evidence[0], Evidence::new("go.mod", Some(1), "go.pm.go-mod"));
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "go run ./cmd/server");
        assert_eq!(start.evidence.file, "cmd/server/main.go");
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (1323, None));
        assert_eq!(names(p.entry_points.iter().map(|e| &e.file)), ["cmd/server/main.go"]);
        assert!(p.services.is_empty());
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn chi_postgres_fixture() {
        let d = detect_fixture("go-chi-postgres");
        let p = project(&d, ".");
        assert_eq!(p.name, "chi-notes");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["chi"]);
        assert_eq!(p.frameworks[0].evidence[0], Evidence::new("go.mod", Some(6), "go.framework.chi"));
        assert_eq!(names(p.services.iter().map(|s| s.service)), ["postgres"]);
        assert_eq!(p.services[0].env_var.as_deref(), Some("DATABASE_URL"));
        assert_eq!(p.start.as_ref().unwrap().display, "go run .");
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (3000, Some("PORT")));
        assert_eq!(p.ports[0].evidence[0], Evidence::new("main.go", Some(33), "code.go.port"));
        let env: Vec<_> = p.env_vars.iter().map(|e| (e.name.as_str(), e.default.as_deref())).collect();
        assert_eq!(env, [("DATABASE_URL", None), ("PORT", Some("3000"))]);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn several_commands_prefer_the_module_name() {
        let main = "package main\n\nfunc main() {}\n";
        let d = detect_files(&[
            ("go.mod", "module example.com/shop/v2\n\ngo 1.22\n\nrequire github.com/go-chi/chi/v5 v5.1.0\n"),
            ("cmd/migrate/main.go", main),
            ("cmd/shop/main.go", main),
            ("cmd/shop-api/main.go", main),
            ("cmd/zz/util.go", "package util\n"),
            ("internal/x.go", "package internal\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.name, "shop");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["chi"]);
        assert_eq!(p.start.as_ref().unwrap().display, "go run ./cmd/shop");
        assert_eq!(
            names(p.start_alternatives.iter().map(|c| &c.display)),
            ["go run ./cmd/shop-api", "go run ./cmd/migrate"]
        );
    }

    #[test]
    fn main_package_outside_cmd() {
        let main = "package main\n\nfunc main() {}\n";
        let d = detect_files(&[
            ("go.mod", "module github.com/acme/articles\n"),
            ("app/main.go", main),
            ("scripts/seed/main.go", main),
            ("internal/tools/gen/main.go", main),
            ("tools/lint/main.go", main),
        ]);
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "go run ./app");
        assert_eq!(start.evidence, Evidence::new("app/main.go", Some(3), "go.start.main-package"));
        assert!(p.start_alternatives.is_empty(), "{:?}", p.start_alternatives);
        // A conventional place wins over the others.
        let d = detect_files(&[("go.mod", "module m\n"), ("app/main.go", main), ("cmd/api/main.go", main)]);
        let p = project(&d, ".");
        assert_eq!(p.start.as_ref().unwrap().display, "go run ./cmd/api");
        assert!(p.start_alternatives.is_empty());
    }

    #[test]
    fn library_module_has_no_start() {
        let d = detect_files(&[
            (
                "go.mod",
                "module github.com/acme/lib\n\ngo 1.21\n\nrequire (\n\tgithub.com/lib/pq v1.10.9 // indirect\n)\n",
            ),
            ("lib.go", "package lib\n\nfunc main() {}\n"),
        ]);
        let p = project(&d, ".");
        assert!(p.start.is_none());
        assert_eq!(p.role, ProjectRole::Library);
        assert!(p.services.is_empty());
        assert!(p.entry_points.is_empty());
    }

    #[test]
    fn versioned_drivers_and_fiber() {
        let d = detect_files(&[
            (
                "go.mod",
                "module app\n\nrequire (\n\tgithub.com/gofiber/fiber/v2 v2.52.0\n\tgithub.com/go-redis/redis/v7 v7.4.1\n\tgithub.com/jackc/pgx/v5 v5.6.0\n)\n",
            ),
            ("main.go", "package main\n\nfunc main() {\n\tapp := fiber.New()\n\tapp.Listen(\":3000\")\n}\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["fiber"]);
        assert_eq!(names(p.services.iter().map(|s| s.service)), ["postgres", "redis"]);
        assert_eq!(p.services[1].evidence[0], Evidence::new("go.mod", Some(5), "go.service.redis"));
        assert_eq!(p.ports[0].port, 3000);
    }

    #[test]
    fn malformed_go_mod_warns_and_goes_on() {
        let d = detect_files(&[
            (
                "go.mod",
                "module example.com/m\n\nrequire(\n\tgithub.com/gin-gonic/gin\n\tgithub.com/labstack/echo/v4 v4.12.0\n",
            ),
            ("main.go", "package main\n\nfunc main() {}\n"),
        ]);
        assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
        assert_eq!((d.warnings[0].file.as_str(), d.warnings[0].line), ("go.mod", Some(4)));
        let p = project(&d, ".");
        assert_eq!(names(p.frameworks.iter().map(|f| f.value)), ["echo"]);
        assert_eq!(p.start.as_ref().unwrap().display, "go run .");
    }

    #[test]
    fn go_work_is_a_workspace_root() {
        let d = detect_files(&[
            ("go.work", "go 1.22\n\nuse (\n\t./api\n\t./lib\n)\n"),
            ("api/go.mod", "module example.com/api\n"),
            ("api/main.go", "package main\n\nfunc main() {}\n"),
            ("lib/go.mod", "module example.com/lib\n"),
            ("lib/lib.go", "package lib\n"),
        ]);
        let root = project(&d, ".");
        assert_eq!(root.role, ProjectRole::WorkspaceRoot);
        assert_eq!(root.languages[0].language, Language::Go);
        assert_eq!(project(&d, "api").start.as_ref().unwrap().display, "go run .");
        assert_eq!(project(&d, "lib").role, ProjectRole::Library);
    }

    #[test]
    fn module_names() {
        assert_eq!(module_name("github.com/labstack/echo/v4"), "echo");
        assert_eq!(module_name("app"), "app");
        assert_eq!(strip_major("gopkg.in/yaml.v3"), "gopkg.in/yaml.v3");
        assert_eq!(strip_major("github.com/x/v"), "github.com/x/v");
    }
}
