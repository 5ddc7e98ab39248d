//! PHP: Composer (`composer.json`, `composer.lock`), packages as dependencies, Laravel and
//! Symfony with their development servers, and the services their environment files select
//! (Laravel's `.env.example` drivers, Symfony's committed `.env` URLs).

use serde_json::Value;

use crate::detection::manifest::{line_at, read_json};
use crate::detection::{Findings, ProjectContext, Provider, command, priority};
use crate::plan::{Dependency, Framework, Language, PackageManager, ServiceKind};

use super::env_file::parse_env;
use super::services::{service_for_dependency, service_for_url};

pub struct Php;

/// Names of project templates: every app made from one carries it, so it names nothing.
const SKELETONS: &[&str] = &["laravel/laravel", "symfony/skeleton", "symfony/website-skeleton"];

/// Requirements that are the platform, not packages to install.
const PLATFORM: &[&str] = &["php", "php-64bit", "composer", "composer-plugin-api", "composer-runtime-api"];

impl Provider for Php {
    fn id(&self) -> &'static str {
        "php"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        let Some((text, json)) = read_json(cx, "composer.json") else { return };
        let text = text.content;
        out.add_language(Language::Php, cx.evidence("composer.json", None, "php.manifest"));
        if let Some(name) = json.get("name").and_then(Value::as_str).filter(|n| !SKELETONS.contains(n)) {
            out.set_name(name);
        }
        let pm_file = if cx.has("composer.lock") { "composer.lock" } else { "composer.json" };
        out.add_package_manager(PackageManager::Composer, cx.evidence(pm_file, None, "php.pm.composer"));

        let mut runtime = Vec::new();
        for (section, dev) in [("require", false), ("require-dev", true)] {
            let Some(deps) = json.get(section).and_then(Value::as_object) else { continue };
            for (name, version) in deps {
                if PLATFORM.contains(&name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                let line = dependency_line(&text, section, name);
                out.add_dependency(Dependency {
                    ecosystem: "php",
                    name: name.clone(),
                    version: version.as_str().map(str::to_owned),
                    dev,
                    evidence: cx.evidence("composer.json", line, "php.dependency"),
                });
                if !dev {
                    runtime.push((name.to_ascii_lowercase(), line));
                }
            }
        }
        let package = |name: &str| runtime.iter().find(|(n, _)| n == name).map(|(_, line)| *line);

        if let Some(line) = package("laravel/framework") {
            let evidence = cx.evidence("composer.json", line, "php.framework.laravel");
            out.add_framework(Framework::Laravel, evidence.clone());
            let artisan = if cx.has("artisan") { cx.evidence("artisan", None, "php.start.laravel") } else { evidence };
            let serve = ["php", "artisan", "serve", "--host", "0.0.0.0", "--port", "8000"];
            out.add_start(priority::FRAMEWORK, command(&serve, artisan.clone()));
            out.add_migration("laravel", command(&["php", "artisan", "migrate", "--force"], artisan.clone()));
            out.add_port(8000, None, crate::plan::Evidence { rule: "php.port.laravel".into(), ..artisan });
            laravel_env(cx, out);
        } else if let Some(line) = package("symfony/framework-bundle") {
            let evidence = cx.evidence("composer.json", line, "php.framework.symfony");
            out.add_framework(Framework::Symfony, evidence.clone());
            builtin_server(cx, out, priority::FRAMEWORK, evidence);
            if let Some(line) = package("doctrine/doctrine-migrations-bundle") {
                let migrate = ["php", "bin/console", "doctrine:migrations:migrate", "--no-interaction"];
                out.add_migration(
                    "doctrine",
                    command(&migrate, cx.evidence("composer.json", line, "php.migration.doctrine")),
                );
            }
            symfony_env(cx, out);
        } else if json.pointer("/scripts/start").is_some() {
            // Composer kills scripts after 300 s unless told otherwise; a server runs longer.
            let line = crate::detection::manifest::line_of(&text, "\"start\"");
            let evidence = cx.evidence("composer.json", line, "php.start.script");
            out.add_start(
                priority::MANIFEST_SCRIPT,
                command(&["composer", "run-script", "--timeout=0", "start"], evidence),
            );
        } else if cx.has("public/index.php") || cx.has("index.php") {
            let file = if cx.has("public/index.php") { "public/index.php" } else { "index.php" };
            builtin_server(cx, out, priority::CONVENTION, cx.evidence(file, None, "php.start.builtin"));
        }

        for (name, line) in &runtime {
            if let Some(kind) = service_for_dependency("php", name) {
                out.add_service(kind, None, cx.evidence("composer.json", *line, "php.service"));
            }
        }
    }
}

/// PHP's built-in server on the project's document root (`public/` when there is one).
fn builtin_server(cx: &ProjectContext<'_>, out: &mut Findings, priority: u8, evidence: crate::plan::Evidence) {
    let argv: &[&str] = if cx.has("public/index.php") || !cx.has("index.php") {
        &["php", "-S", "0.0.0.0:8000", "-t", "public"]
    } else {
        &["php", "-S", "0.0.0.0:8000"]
    };
    if let Some(index) = ["public/index.php", "index.php"].into_iter().find(|f| cx.has(f)) {
        out.add_entry_point(cx.path(index), cx.evidence(index, None, "php.entry"));
    }
    out.add_start(priority, command(argv, evidence.clone()));
    out.add_port(8000, None, crate::plan::Evidence { rule: "php.port.builtin".into(), ..evidence });
}

/// 1-based line of `"name"` inside the `"section"` object of composer.json.
fn dependency_line(text: &str, section: &str, name: &str) -> Option<u32> {
    let start = text.find(&format!("\"{section}\""))?;
    let offset = text[start..].find(&format!("\"{name}\""))?;
    Some(line_at(text, start + offset))
}

/// Laravel's example environment: `DB_CONNECTION` picks the database; Redis and Memcached are
/// needed only when a driver (cache, queue, session, broadcast) is set to them, since the stock
/// file names their hosts in every app.
fn laravel_env(cx: &ProjectContext<'_>, out: &mut Findings) {
    let Some(text) = cx.read(".env.example") else { return };
    let entries = parse_env(&text.content);
    let evidence = |line: u32| cx.evidence(".env.example", Some(line), "php.service.laravel_env");
    for entry in &entries {
        let value = entry.value.trim().to_ascii_lowercase();
        let kind = match (entry.key.as_str(), value.as_str()) {
            ("DB_CONNECTION", "pgsql") => ServiceKind::Postgres,
            ("DB_CONNECTION", "mysql") => ServiceKind::Mysql,
            ("DB_CONNECTION", "mariadb") => ServiceKind::Mariadb,
            (
                "CACHE_STORE"
                | "CACHE_DRIVER"
                | "QUEUE_CONNECTION"
                | "SESSION_DRIVER"
                | "BROADCAST_CONNECTION"
                | "BROADCAST_DRIVER",
                "redis",
            ) => ServiceKind::Redis,
            ("CACHE_STORE" | "CACHE_DRIVER" | "SESSION_DRIVER", "memcached") => ServiceKind::Memcached,
            _ => continue,
        };
        out.add_service(kind, None, evidence(entry.line));
        let host_key = match kind {
            ServiceKind::Redis => "REDIS_HOST",
            ServiceKind::Memcached => "MEMCACHED_HOST",
            _ => "DB_HOST",
        };
        if let Some(host) = entries.iter().find(|e| e.key == host_key) {
            out.add_service(kind, None, evidence(host.line));
        }
    }
}

/// Symfony commits `.env` with development defaults (secrets go to `.env.local`): its URLs
/// (`DATABASE_URL`, `REDIS_URL`, `MESSENGER_TRANSPORT_DSN`) name the services.
fn symfony_env(cx: &ProjectContext<'_>, out: &mut Findings) {
    let Some(text) = cx.read(".env") else { return };
    for entry in parse_env(&text.content) {
        if let Some(kind) = service_for_url(&entry.value) {
            out.add_service(
                kind,
                Some(entry.key.clone()),
                cx.evidence(".env", Some(entry.line), "php.service.symfony_env"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, odd_inputs, project};

    #[test]
    fn symfony_with_doctrine_and_committed_env() {
        let d = detect_files(&[
            (
                "composer.json",
                r#"{
  "name": "acme/shop",
  "require": {
    "php": ">=8.2",
    "ext-ctype": "*",
    "symfony/framework-bundle": "7.0.*",
    "doctrine/doctrine-migrations-bundle": "^3.3"
  }
}"#,
            ),
            ("public/index.php", "<?php\n"),
            (
                ".env",
                "APP_ENV=dev\n# DATABASE_URL=\"mysql://app@127.0.0.1:3306/app\"\nDATABASE_URL=\"postgresql://app:!ChangeMe!@127.0.0.1:5432/app?serverVersion=16\"\n",
            ),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.name, "acme/shop");
        assert_eq!(p.frameworks[0].value, Framework::Symfony);
        assert_eq!(p.frameworks[0].evidence[0].line, Some(6));
        assert_eq!(p.start.as_ref().unwrap().display, "php -S 0.0.0.0:8000 -t public");
        assert_eq!(p.migrations[0].tool, "doctrine");
        assert_eq!(p.ports[0].port, 8000);
        let svc: Vec<_> = p.services.iter().map(|s| (s.service, s.env_var.as_deref(), s.evidence[0].line)).collect();
        assert_eq!(svc, [(ServiceKind::Postgres, Some("DATABASE_URL"), Some(3))]);
        let deps: Vec<_> = p.dependencies.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(deps, ["doctrine/doctrine-migrations-bundle", "ext-ctype", "symfony/framework-bundle"]);
        assert_eq!(p.entry_points[0].file, "public/index.php");
    }

    #[test]
    fn plain_composer_projects() {
        let d = detect_files(&[
            (
                "composer.json",
                r#"{"require": {"slim/slim": "^4"}, "scripts": {"start": "php -S 0.0.0.0:8080 -t public"}}"#,
            ),
            ("public/index.php", "<?php\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.start.as_ref().unwrap().display, "composer run-script --timeout=0 start");
        assert_eq!(p.package_managers[0].evidence[0].file, "composer.json");

        let d = detect_files(&[("composer.json", r#"{"require": {"predis/predis": "^2"}}"#), ("index.php", "<?php\n")]);
        let p = project(&d, ".");
        assert_eq!(p.start.as_ref().unwrap().display, "php -S 0.0.0.0:8000");
        assert_eq!(p.services[0].service, ServiceKind::Redis);

        let d = detect_files(&[("composer.json", r#"{"name": "acme/lib", "require-dev": {"predis/predis": "^2"}}"#)]);
        let p = project(&d, ".");
        assert!(p.start.is_none() && p.services.is_empty() && p.ports.is_empty());
        assert!(p.dependencies[0].dev);
    }

    #[test]
    fn malformed_composer_json_warns() {
        let d =
            detect_files(&[("composer.json", "{\n  \"require\": {\n    \"laravel/framework\": \"^11\",\n  }\n}\n")]);
        assert!(d.warnings.iter().any(|w| w.file == "composer.json" && w.line == Some(4)), "{:?}", d.warnings);
        assert!(project(&d, ".").frameworks.is_empty());
    }

    #[test]
    fn fixture_php_laravel_mysql() {
        let d = detect_fixture("php-laravel-mysql");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = project(&d, ".");
        assert_eq!(p.name, "php-laravel-mysql");
        assert_eq!(p.languages[0].language, Language::Php);
        assert_eq!(p.package_managers[0].value, PackageManager::Composer);
        assert_eq!(p.package_managers[0].evidence[0].file, "composer.lock");
        assert_eq!(p.frameworks[0].value, Framework::Laravel);
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "php artisan serve --host 0.0.0.0 --port 8000");
        assert_eq!(start.evidence.file, "artisan");
        assert_eq!(p.migrations[0].command.display, "php artisan migrate --force");
        assert_eq!(p.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [8000]);
        let svc: Vec<_> = p.services.iter().map(|s| s.service).collect();
        // MEMCACHED_HOST is in the file, but no driver uses Memcached.
        assert_eq!(svc, [ServiceKind::Mysql, ServiceKind::Redis]);
        let mysql = &p.services[0];
        assert!(mysql.evidence.iter().any(|e| e.file == ".env.example" && e.line == Some(8)));
        let env = |n: &str| p.env_vars.iter().find(|e| e.name == n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(env("DB_DATABASE").default.as_deref(), Some("laravel"));
        assert_eq!(env("APP_KEY").default, None);
        let dev: Vec<_> = p.dependencies.iter().filter(|d| d.dev).map(|d| d.name.as_str()).collect();
        assert_eq!(dev, ["fakerphp/faker", "phpunit/phpunit"]);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in odd_inputs() {
            let lines = input.lines().count() as u32;
            assert!(dependency_line(&input, "require", "é").is_none_or(|l| l <= lines), "{input:?}");
            let _ = dependency_line("{\"require\": {}}", "require", &input);
        }
    }
}
