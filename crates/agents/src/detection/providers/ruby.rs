//! Ruby: Bundler (`Gemfile`, `Gemfile.lock`), gems as dependencies, Rails and Sinatra with their
//! start commands and ports, the database `config/database.yml` names, and the `ENV[…]` reads
//! of Ruby files. There is no Ruby grammar in the workspace: the Gemfile and the code are read
//! line by line, which is enough for the declarative shapes they take in practice.

use crate::detection::code::MAX_PARSE_BYTES;
use crate::detection::{Findings, ProjectContext, Provider, command, priority};
use crate::plan::{Dependency, Evidence, Framework, Language, PackageManager, ServiceKind};

use super::services::service_for_dependency;

pub struct Ruby;

impl Provider for Ruby {
    fn id(&self) -> &'static str {
        "ruby"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        let Some(gemfile) = cx.read("Gemfile") else { return };
        out.add_language(Language::Ruby, cx.evidence("Gemfile", None, "ruby.manifest"));
        let lock = cx.has("Gemfile.lock");
        let pm_file = if lock { "Gemfile.lock" } else { "Gemfile" };
        out.add_package_manager(PackageManager::Bundler, cx.evidence(pm_file, None, "ruby.pm.bundler"));

        let gems = parse_gemfile(&gemfile.content);
        for gem in &gems {
            out.add_dependency(Dependency {
                ecosystem: "ruby",
                name: gem.name.clone(),
                version: gem.version.clone(),
                dev: gem.dev,
                evidence: cx.evidence("Gemfile", Some(gem.line), "ruby.dependency"),
            });
        }
        let gem = |name: &str| gems.iter().find(|g| g.name == name && !g.dev);
        env_reads(cx, out);

        let rails = gem("rails")
            .or_else(|| gem("railties"))
            .map(|g| cx.evidence("Gemfile", Some(g.line), "ruby.framework.rails"));
        let rails = rails.or_else(|| {
            let text = cx.read("config/application.rb")?;
            let line = crate::detection::manifest::line_of(&text.content, "Rails::Application");
            Some(cx.evidence("config/application.rb", line, "ruby.framework.rails"))
        });
        if let Some(evidence) = rails.clone() {
            out.add_framework(Framework::Rails, evidence.clone());
            out.add_start(
                priority::FRAMEWORK,
                command(&["bundle", "exec", "rails", "server", "-b", "0.0.0.0"], evidence.clone()),
            );
            out.add_migration("rails", command(&["bundle", "exec", "rails", "db:migrate"], evidence.clone()));
            puma_port(cx, out);
            if !out.has_ports() {
                // `rails server` listens on $PORT, else 3000.
                out.add_port(3000, Some("PORT".into()), Evidence { rule: "ruby.port.default".into(), ..evidence });
            }
        } else if let Some(g) = gem("sinatra") {
            let evidence = cx.evidence("Gemfile", Some(g.line), "ruby.framework.sinatra");
            out.add_framework(Framework::Sinatra, evidence.clone());
            sinatra(cx, out, evidence);
        } else if cx.has("config.ru") {
            let evidence = cx.evidence("config.ru", None, "ruby.start.rackup");
            out.add_start(priority::CONVENTION, command(&["bundle", "exec", "rackup"], evidence.clone()));
            if !out.has_ports() {
                out.add_port(9292, None, Evidence { rule: "ruby.port.default".into(), ..evidence });
            }
        }

        database_yml(cx, out, rails.is_some());
        for g in gems.iter().filter(|g| g.in_development()) {
            if let Some(kind) = service_for_dependency("ruby", &g.name) {
                let env_var = match kind {
                    // redis-rb and Sidekiq read REDIS_URL; Rails merges DATABASE_URL into its config.
                    ServiceKind::Redis => Some("REDIS_URL"),
                    ServiceKind::Postgres | ServiceKind::Mysql if rails.is_some() => Some("DATABASE_URL"),
                    _ => None,
                };
                out.add_service(kind, env_var.map(str::to_owned), cx.evidence("Gemfile", Some(g.line), "ruby.service"));
            }
        }
    }
}

/// A `gem` line of a Gemfile.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gem {
    name: String,
    /// Requirements as written, joined with `, ` (`~> 7.1, >= 7.1.2`).
    version: Option<String>,
    /// Only in the development or test groups.
    dev: bool,
    /// Bundler groups; none means the default group.
    groups: Vec<String>,
    line: u32,
}

impl Gem {
    /// Loaded when the app runs in development (`Bundler.require(*Rails.groups)`): gems only
    /// for production or tests do not make a service necessary locally.
    fn in_development(&self) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == "default" || g == "development")
    }
}

const DEV_GROUPS: &[&str] = &["development", "test"];

/// Gems of a Gemfile, with `group :development, :test do … end` blocks and `group:` options
/// marking development gems. Other blocks (`platforms`, `if`, `source … do`) are tracked only
/// so that their `end` closes the right one.
fn parse_gemfile(text: &str) -> Vec<Gem> {
    let mut gems = Vec::new();
    // The groups each open block puts its gems in (none for blocks that are not `group`).
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let first = line.split(|c: char| c.is_whitespace() || c == '(' || c == ';').next().unwrap_or("");
        match first {
            "end" => {
                blocks.pop();
                continue;
            }
            "gem" => {
                let enclosing = blocks.iter().rev().find(|g| !g.is_empty()).cloned().unwrap_or_default();
                if let Some(gem) = parse_gem(&line[3..], enclosing, i as u32 + 1) {
                    gems.push(gem);
                }
            }
            "group" => {
                let groups = symbols(line[5..].trim_end_matches(" do").trim_end_matches("do"));
                blocks.push(groups);
                continue;
            }
            "if" | "unless" | "case" | "begin" | "while" | "until" => {
                blocks.push(Vec::new());
                continue;
            }
            _ => {}
        }
        let opens = line.ends_with(" do") || line.split_once(" do |").is_some_and(|(_, r)| r.ends_with('|'));
        if opens {
            blocks.push(Vec::new());
        }
    }
    gems
}

fn parse_gem(args: &str, enclosing: Vec<String>, line: u32) -> Option<Gem> {
    let args = args.trim().trim_start_matches('(').trim_end_matches(')');
    let parts = split_top_level(args);
    let name = unquote_ruby(parts.first()?)?;
    let mut versions = Vec::new();
    let mut groups = enclosing;
    for part in &parts[1..] {
        let part = part.trim();
        if let Some(v) = unquote_ruby(part) {
            versions.push(v);
        } else if let Some(value) = option_value(part, "group").or_else(|| option_value(part, "groups")) {
            groups = symbols(value);
        }
    }
    let dev = !groups.is_empty() && groups.iter().all(|g| DEV_GROUPS.contains(&g.as_str()));
    Some(Gem { name, version: (!versions.is_empty()).then(|| versions.join(", ")), dev, groups, line })
}

/// The value of a `key: value` or `:key => value` option.
fn option_value<'a>(part: &'a str, key: &str) -> Option<&'a str> {
    part.strip_prefix(&format!("{key}:"))
        .or_else(|| part.strip_prefix(&format!(":{key}")).and_then(|r| r.trim_start().strip_prefix("=>")))
        .map(str::trim)
}

/// Group names from `:development, :test`, `[:development, :test]`, `%i[development test]`,
/// `"test"`.
fn symbols(s: &str) -> Vec<String> {
    let s = s.trim().trim_start_matches("%i").trim_start_matches("%w");
    s.split(|c: char| c == ',' || c.is_whitespace() || "[]()".contains(c))
        .map(|w| w.trim_start_matches(':').trim_matches(['"', '\'']))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Split on commas outside quotes and brackets.
fn split_top_level(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0i32;
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(' | '{') => depth += 1,
            (None, ']' | ')' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts.into_iter().map(|p| p.trim().to_owned()).collect()
}

/// The content of a whole `"…"` or `'…'` literal.
fn unquote_ruby(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = s.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.contains(q)).then(|| inner.to_owned())
}

/// A line without its `#` comment (a `#` inside a string, as in `"#{x}"`, is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `ENV["X"]`, `ENV['X']`, `ENV.fetch("X")`, `ENV.fetch("X", "d")`, `ENV.fetch("X") { 5 }` in
/// one line: the names with the defaults written beside them.
fn env_reads_in(line: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("ENV") {
        let after = &rest[i + 3..];
        rest = after;
        let (args, fetch) = match (after.strip_prefix('['), after.strip_prefix(".fetch(")) {
            (Some(a), _) => (a, false),
            (_, Some(a)) => (a, true),
            _ => continue,
        };
        let Some(q) = args.chars().next().filter(|c| *c == '"' || *c == '\'') else { continue };
        let Some(end) = args[1..].find(q) else { continue };
        let name = &args[1..1 + end];
        if !crate::detection::code::is_env_name(name) {
            continue;
        }
        let tail = args[end + 2..].trim_start();
        let default = if !fetch {
            // `ENV["X"] || "d"`
            tail.strip_prefix(']').and_then(|t| t.trim_start().strip_prefix("||")).and_then(literal)
        } else if let Some(t) = tail.strip_prefix(',') {
            literal(t)
        } else {
            tail.strip_prefix(')').and_then(|t| t.trim_start().strip_prefix('{')).and_then(literal)
        };
        out.push((name.to_owned(), default));
    }
    out
}

/// A string or integer literal at the start of `s`.
fn literal(s: &str) -> Option<String> {
    let s = s.trim_start();
    if let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(q)?;
        return Some(s[1..1 + end].to_owned());
    }
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    (!digits.is_empty()).then_some(digits)
}

/// Environment variables read by the project's Ruby files and YAML configs (ERB tags).
fn env_reads(cx: &ProjectContext<'_>, out: &mut Findings) {
    let files = cx.own_files().iter().filter(|f| {
        let ext = f.extension();
        f.size <= MAX_PARSE_BYTES
            && (matches!(ext, Some("rb" | "ru")) || (ext == Some("yml") && cx.relative(&f.path).starts_with("config/")))
    });
    for file in files {
        let Some(text) = cx.repo.read_text(&file.path) else { continue };
        for (i, line) in text.content.lines().enumerate() {
            if line.trim_start().starts_with('#') || !line.contains("ENV") {
                continue;
            }
            for (name, default) in env_reads_in(line) {
                out.add_env_var(&name, default, Evidence::new(&file.path, Some(i as u32 + 1), "ruby.env"));
            }
        }
    }
}

/// `port ENV.fetch("PORT") { 3000 }` in `config/puma.rb`, which every Rails app has.
fn puma_port(cx: &ProjectContext<'_>, out: &mut Findings) {
    let Some(text) = cx.read("config/puma.rb") else { return };
    for (i, line) in text.content.lines().enumerate() {
        let Some(arg) = line.trim_start().strip_prefix("port ") else { continue };
        let (port, env) = match env_reads_in(arg).into_iter().next() {
            Some((name, default)) => (default, Some(name)),
            None => (literal(arg), None),
        };
        if let Some(port) = port.and_then(|p| p.parse::<u16>().ok()).filter(|&p| p > 0) {
            out.add_port(port, env, cx.evidence("config/puma.rb", Some(i as u32 + 1), "ruby.port.puma"));
            return;
        }
    }
}

/// Sinatra: `rackup` when there is a `config.ru`, else `ruby` on the file that requires
/// Sinatra; the port that way of running uses.
fn sinatra(cx: &ProjectContext<'_>, out: &mut Findings, evidence: Evidence) {
    let mut app: Option<(String, u32, String)> = None;
    let mut candidates: Vec<_> = cx
        .own_files()
        .iter()
        .filter(|f| f.extension() == Some("rb") && f.size <= MAX_PARSE_BYTES)
        .filter(|f| !["spec/", "test/"].iter().any(|d| cx.relative(&f.path).starts_with(d)))
        .collect();
    candidates.sort_by_key(|f| (f.path.matches('/').count(), f.path.as_str()));
    for file in candidates {
        let Some(text) = cx.repo.read_text(&file.path) else { continue };
        let requires = text.content.lines().position(|l| {
            let l = l.trim();
            ["require 'sinatra", "require \"sinatra"].iter().any(|p| l.starts_with(p))
        });
        if let Some(line) = requires {
            app = Some((file.path.clone(), line as u32 + 1, text.content));
            break;
        }
    }
    if cx.has("config.ru") {
        let ev = cx.evidence("config.ru", None, "ruby.start.rackup");
        out.add_start(priority::FRAMEWORK, command(&["bundle", "exec", "rackup"], ev.clone()));
        if !out.has_ports() {
            out.add_port(9292, None, Evidence { rule: "ruby.port.default".into(), ..ev });
        }
    }
    let Some((path, line, text)) = app else {
        if !cx.has("config.ru") && !out.has_ports() {
            out.add_port(4567, None, Evidence { rule: "ruby.port.default".into(), ..evidence });
        }
        return;
    };
    let rel = cx.relative(&path).to_owned();
    out.add_entry_point(path.clone(), Evidence::new(&path, Some(line), "ruby.entry.sinatra"));
    out.add_start(
        priority::FRAMEWORK,
        command(&["bundle", "exec", "ruby", &rel], Evidence::new(&path, Some(line), "ruby.start.sinatra")),
    );
    if cx.has("config.ru") {
        return;
    }
    // `set :port, ENV["PORT"] || 8080` or `set :port, 8080`.
    for (i, l) in text.lines().enumerate() {
        let Some(arg) = l.trim().strip_prefix("set :port,") else { continue };
        let (port, env) = match env_reads_in(arg).into_iter().next() {
            Some((name, default)) => (default, Some(name)),
            None => (literal(arg), None),
        };
        if let Some(port) = port.and_then(|p| p.parse::<u16>().ok()).filter(|&p| p > 0) {
            out.add_port(port, env, Evidence::new(&path, Some(i as u32 + 1), "ruby.port.sinatra"));
        } else if let Some(env) = env {
            out.add_port(4567, Some(env), Evidence::new(&path, Some(i as u32 + 1), "ruby.port.sinatra"));
        }
    }
    if !out.has_ports() {
        out.add_port(4567, None, Evidence { rule: "ruby.port.default".into(), ..evidence });
    }
}

/// The adapter of the `default` or `development` section of `config/database.yml`. Read line by
/// line: the file is ERB, which a YAML parser may reject.
fn database_yml(cx: &ProjectContext<'_>, out: &mut Findings, rails: bool) {
    let Some(text) = cx.read("config/database.yml") else { return };
    let mut section = "";
    for (i, line) in text.content.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            section = line.split(':').next().unwrap_or("").trim();
            continue;
        }
        let Some(adapter) = line.trim().strip_prefix("adapter:") else { continue };
        if !matches!(section, "default" | "development") {
            continue;
        }
        let adapter = adapter.trim().trim_matches(['"', '\'']);
        let kind = if adapter.contains("postgis") || adapter.contains("postgresql") {
            ServiceKind::Postgres
        } else if adapter.contains("mysql2") || adapter.contains("trilogy") {
            ServiceKind::Mysql
        } else {
            continue;
        };
        let env_var = rails.then(|| "DATABASE_URL".to_owned());
        out.add_service(
            kind,
            env_var,
            cx.evidence("config/database.yml", Some(i as u32 + 1), "ruby.service.database_yml"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, odd_inputs, project};

    #[test]
    fn gemfile_groups_versions_and_blocks() {
        let text = r#"source "https://rubygems.org"
ruby "3.3.0"

gem "rails", "~> 7.1.3", ">= 7.1.3.2"
gem 'pg', '~> 1.1' # the database
gem "bootsnap", require: false
gem "rubocop", group: :development
gem "factory_bot", groups: [:development, :test]

platforms :jruby do
  gem "jdbc"
end

group :development, :test do
  gem "debug", platforms: %i[ mri windows ]
  if ENV["CI"]
    gem "ci_reporter"
  end
end

group :production do
  gem "lograge"
end
gem "puma"
"#;
        let gems = parse_gemfile(text);
        let got: Vec<_> = gems.iter().map(|g| (g.name.as_str(), g.version.as_deref(), g.dev, g.line)).collect();
        assert_eq!(
            got,
            [
                ("rails", Some("~> 7.1.3, >= 7.1.3.2"), false, 4),
                ("pg", Some("~> 1.1"), false, 5),
                ("bootsnap", None, false, 6),
                ("rubocop", None, true, 7),
                ("factory_bot", None, true, 8),
                ("jdbc", None, false, 11),
                ("debug", None, true, 15),
                ("ci_reporter", None, true, 17),
                ("lograge", None, false, 22),
                ("puma", None, false, 24),
            ]
        );
    }

    #[test]
    fn env_reads_with_defaults() {
        let got = env_reads_in(
            r#"pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %> ENV['HOST'] || "localhost" ENV.fetch('X', nil) ENV[name]"#,
        );
        assert_eq!(
            got,
            [
                ("RAILS_MAX_THREADS".to_owned(), Some("5".to_owned())),
                ("HOST".to_owned(), Some("localhost".to_owned())),
                ("X".to_owned(), None),
            ]
        );
    }

    #[test]
    fn gemfile_alone_is_bundler_without_framework() {
        let d = detect_files(&[
            ("Gemfile", "source 'https://rubygems.org'\ngem 'nokogiri'\n"),
            ("lib/tool.rb", "puts 1\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.package_managers[0].value, PackageManager::Bundler);
        assert_eq!(p.package_managers[0].evidence[0].file, "Gemfile");
        assert!(p.frameworks.is_empty());
        assert!(p.start.is_none());
        assert!(p.ports.is_empty());
        assert_eq!(p.dependencies[0].name, "nokogiri");
    }

    #[test]
    fn rails_from_application_rb_and_mysql_adapter() {
        let d = detect_files(&[
            ("Gemfile", "gem 'railties'\n"),
            ("config/application.rb", "module Shop\n  class Application < Rails::Application\n  end\nend\n"),
            ("config/database.yml", "production:\n  adapter: postgresql\ndevelopment:\n  adapter: trilogy\n"),
        ]);
        let p = project(&d, ".");
        assert_eq!(p.frameworks[0].value, Framework::Rails);
        let kinds: Vec<_> = p.services.iter().map(|s| (s.service, s.evidence[0].line)).collect();
        assert_eq!(kinds, [(ServiceKind::Mysql, Some(4))]);
        assert_eq!(p.ports[0].port, 3000);
        assert_eq!(p.ports[0].evidence[0].rule, "ruby.port.default");

        let d = detect_files(&[
            ("Gemfile", "gem 'rails'\n"),
            ("config/application.rb", "class Application < Rails::Application; end\n"),
            ("app/main.js", "app.listen(4000)\n"),
        ]);
        assert!(project(&d, ".").ports.iter().all(|p| p.port != 3000), "no default when the code names a port");
    }

    #[test]
    fn sinatra_without_config_ru() {
        let d = detect_files(&[
            ("Gemfile", "gem 'sinatra'\ngem 'redis'\n"),
            ("server.rb", "require 'sinatra'\nset :port, ENV['PORT'] || 8000\nget('/') { 'hi' }\n"),
        ]);
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "bundle exec ruby server.rb");
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (8000, Some("PORT")));
        assert_eq!(p.services[0].service, ServiceKind::Redis);
        assert_eq!(p.services[0].env_var.as_deref(), Some("REDIS_URL"));
    }

    #[test]
    fn production_only_gems_need_no_service() {
        let d = detect_files(&[
            ("Gemfile", "gem 'rails'\ngem 'sqlite3', group: :development\ngroup :production do\n  gem 'pg'\nend\n"),
            ("config/database.yml", "development:\n  adapter: sqlite3\nproduction:\n  adapter: postgresql\n"),
        ]);
        let p = project(&d, ".");
        assert!(p.services.is_empty(), "{:?}", p.services);
        assert!(p.dependencies.iter().any(|d| d.name == "pg" && !d.dev));
    }

    #[test]
    fn plain_rack_app() {
        let d = detect_files(&[("Gemfile", "gem 'rack'\n"), ("config.ru", "run ->(env) { [200, {}, ['ok']] }\n")]);
        let p = project(&d, ".");
        assert_eq!(p.start.as_ref().unwrap().display, "bundle exec rackup");
        assert_eq!(p.ports[0].port, 9292);
    }

    #[test]
    fn fixture_ruby_rails_postgres() {
        let d = detect_fixture("ruby-rails-postgres");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let p = project(&d, ".");
        assert_eq!(p.languages[0].language, Language::Ruby);
        assert_eq!(p.package_managers[0].value, PackageManager::Bundler);
        assert_eq!(p.package_managers[0].evidence[0].file, "Gemfile.lock");
        assert_eq!(p.frameworks[0].value, Framework::Rails);
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "bundle exec rails server -b 0.0.0.0");
        assert_eq!(p.migrations[0].command.display, "bundle exec rails db:migrate");
        assert_eq!(p.ports.len(), 1);
        assert_eq!((p.ports[0].port, p.ports[0].env_var.as_deref()), (3000, Some("PORT")));
        assert_eq!(p.ports[0].evidence[0].rule, "ruby.port.puma");
        let pg = p.services.iter().find(|s| s.service == ServiceKind::Postgres).unwrap();
        assert_eq!(pg.env_var.as_deref(), Some("DATABASE_URL"));
        assert!(pg.evidence.contains(&Evidence::new("config/database.yml", Some(2), "ruby.service.database_yml")));
        assert!(pg.evidence.iter().any(|e| e.file == "Gemfile" && e.rule == "ruby.service"));
        assert!(p.env_vars.iter().any(|e| e.name == "RAILS_MAX_THREADS" && e.default.as_deref() == Some("5")));
        let dev: Vec<_> = p.dependencies.iter().filter(|d| d.dev).map(|d| d.name.as_str()).collect();
        assert_eq!(dev, ["debug", "web-console"]);
    }

    #[test]
    fn fixture_ruby_sinatra() {
        let d = detect_fixture("ruby-sinatra");
        let p = project(&d, ".");
        assert_eq!(p.frameworks[0].value, Framework::Sinatra);
        assert_eq!(p.start.as_ref().unwrap().display, "bundle exec rackup");
        assert_eq!(p.start_alternatives[0].display, "bundle exec ruby app.rb");
        assert_eq!(p.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [9292]);
        assert_eq!(p.entry_points[0].file, "app.rb");
        assert!(p.env_vars.iter().any(|e| e.name == "GREETING" && e.default.as_deref() == Some("Hello")));
        assert!(p.services.is_empty());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in odd_inputs() {
            let lines = input.lines().count() as u32;
            assert!(parse_gemfile(&input).iter().all(|g| !g.name.is_empty() && g.line <= lines), "{input:?}");
            assert!(env_reads_in(&input).iter().all(|(n, _)| crate::detection::code::is_env_name(n)));
            let _ = literal(&input);
            let _ = strip_comment(&input);
        }
    }
}
