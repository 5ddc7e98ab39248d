//! Procfile (Heroku, foreman, honcho): the `web:` process is the start command the user
//! declared, so it outranks every guess; a `release:` process that migrates is a migration.
//! Other process types (workers, clocks) are not the app to serve and are left out.

use crate::detection::{Findings, ProjectContext, Provider, priority, shell_command};

pub struct Procfile;

impl Provider for Procfile {
    fn id(&self) -> &'static str {
        "procfile"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        let Some(text) = cx.read("Procfile") else { return };
        for (i, raw) in text.content.lines().enumerate() {
            let line = Some(i as u32 + 1);
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((kind, cmd)) = trimmed.split_once(':') else {
                cx.warn("Procfile", line, "not a `type: command` line: ignored");
                continue;
            };
            let (kind, cmd) = (kind.trim(), cmd.trim());
            if cmd.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                cx.warn("Procfile", line, "not a `type: command` line: ignored");
                continue;
            }
            match kind {
                "web" => {
                    out.add_start(
                        priority::DECLARED,
                        shell_command(cmd, cx.evidence("Procfile", line, "procfile.web")),
                    );
                    match port_in_command(cmd) {
                        Some((Some(port), env)) => {
                            out.add_port(port, env, cx.evidence("Procfile", line, "procfile.port"));
                        }
                        Some((None, Some(env))) => {
                            out.add_env_var(&env, None, cx.evidence("Procfile", line, "procfile.port"));
                        }
                        _ => {}
                    }
                }
                "release" => {
                    if let Some(tool) = migration_tool(cmd) {
                        out.add_migration(tool, shell_command(cmd, cx.evidence("Procfile", line, "procfile.release")));
                    }
                }
                _ => {}
            }
        }
    }
}

/// The migration tool a release command runs, if it runs one.
fn migration_tool(cmd: &str) -> Option<&'static str> {
    const TOOLS: &[(&str, &str)] = &[
        ("manage.py migrate", "django"),
        ("alembic upgrade", "alembic"),
        ("flask db upgrade", "flask-migrate"),
        ("prisma migrate", "prisma"),
        ("sequelize", "sequelize"),
        ("knex migrate", "knex"),
        ("typeorm migration:run", "typeorm"),
        ("artisan migrate", "laravel"),
        ("doctrine:migrations:migrate", "doctrine"),
        ("db:migrate", "rails"),
    ];
    let found = TOOLS.iter().find(|(needle, _)| cmd.contains(needle)).map(|(_, tool)| *tool);
    found.or_else(|| cmd.contains("migrat").then_some("release"))
}

/// The port a server command line names (`--port 8000`, `-p 3000`, `--bind 0.0.0.0:$PORT`,
/// `0.0.0.0:${PORT:-5000}`): the number when one is written, and the environment variable
/// that overrides it. Shared with the Dockerfile rules.
pub(super) fn port_in_command(cmd: &str) -> Option<(Option<u16>, Option<String>)> {
    let words: Vec<&str> = cmd.split_whitespace().map(|w| w.trim_matches(['"', '\''])).collect();
    for (i, word) in words.iter().enumerate() {
        let value = match word.split_once('=') {
            Some((flag, value)) if is_port_flag(flag) => Some(value),
            _ if is_port_flag(word) => words.get(i + 1).copied(),
            _ if word.contains(':') && (word.starts_with(':') || word.starts_with("0.0.0.0:")) => Some(*word),
            _ => None,
        };
        if let Some(found) = value.and_then(port_value) {
            return Some(found);
        }
    }
    None
}

fn is_port_flag(flag: &str) -> bool {
    matches!(flag, "--port" | "-p" | "--bind" | "-b" | "--listen" | "--http-port" | "--server.port")
}

/// `8000`, `0.0.0.0:8000`, `$PORT`, `${PORT:-8000}`, `[::]:$PORT`.
fn port_value(value: &str) -> Option<(Option<u16>, Option<String>)> {
    if let Some(dollar) = value.find('$') {
        let reference = &value[dollar + 1..];
        let (name, default) = match reference.strip_prefix('{') {
            Some(inner) => {
                let inner = inner.split('}').next().unwrap_or(inner);
                match inner.split_once(':').or_else(|| inner.split_once('-')) {
                    Some((name, default)) => (name, Some(default.trim_start_matches(['-', '=']))),
                    None => (inner, None),
                }
            }
            None => {
                let end = reference.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(reference.len());
                (&reference[..end], None)
            }
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        return Some((default.and_then(|d| d.parse().ok()).filter(|&p| p > 0), Some(name.to_owned())));
    }
    let number = value.rsplit(':').next()?;
    number.parse::<u16>().ok().filter(|&p| p > 0).map(|p| (Some(p), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, detect_fixture, odd_inputs, project};

    #[test]
    fn ports_in_commands() {
        assert_eq!(port_in_command("gunicorn app:app --bind 0.0.0.0:$PORT"), Some((None, Some("PORT".into()))));
        assert_eq!(port_in_command("uvicorn main:app --port=8001"), Some((Some(8001), None)));
        assert_eq!(port_in_command("bundle exec puma -p ${PORT:-3000}"), Some((Some(3000), Some("PORT".into()))));
        assert_eq!(port_in_command("php -S 0.0.0.0:8000 -t public"), Some((Some(8000), None)));
        assert_eq!(port_in_command("node server.js"), None);
        assert_eq!(port_in_command("celery -A proj worker -p notaport"), None);
    }

    #[test]
    fn web_line_is_declared_start() {
        let d = detect_files(&[
            ("requirements.txt", "flask\n"),
            ("Procfile", "# processes\nworker: celery -A app worker\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n"),
        ]);
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "gunicorn app:app --bind 0.0.0.0:$PORT");
        assert_eq!(start.argv, ["sh", "-c", "gunicorn app:app --bind 0.0.0.0:$PORT"]);
        assert_eq!(start.evidence.line, Some(3));
        assert_eq!(start.evidence.rule, "procfile.web");
        assert!(p.start_alternatives.iter().all(|c| !c.display.contains("celery")));
        assert!(p.env_vars.iter().any(|e| e.name == "PORT" && e.evidence[0].rule == "procfile.port"));
    }

    #[test]
    fn release_migration_only_when_it_migrates() {
        let d = detect_files(&[
            ("Gemfile", "source 'https://rubygems.org'\n"),
            ("Procfile", "web: bundle exec puma -C config/puma.rb\nrelease: bundle exec rails db:migrate\n"),
        ]);
        let m = &project(&d, ".").migrations;
        assert!(m.iter().any(|m| m.tool == "rails" && m.command.evidence.rule == "procfile.release"), "{m:?}");

        let d = detect_files(&[
            ("requirements.txt", "flask\n"),
            ("Procfile", "web: gunicorn app:app\nrelease: ./scripts/notify.sh\n"),
        ]);
        assert!(project(&d, ".").migrations.is_empty());
    }

    #[test]
    fn malformed_lines_warn_and_no_procfile_means_nothing() {
        let d = detect_files(&[("requirements.txt", "flask\n"), ("Procfile", "just some words\nweb: python app.py\n")]);
        assert_eq!(d.warnings.iter().filter(|w| w.file == "Procfile" && w.line == Some(1)).count(), 1);
        assert_eq!(project(&d, ".").start.as_ref().unwrap().display, "python app.py");

        let d = detect_files(&[("requirements.txt", "flask\n"), ("Procfile.dev", "web: flask run\n")]);
        assert!(project(&d, ".").start.as_ref().is_none_or(|s| s.evidence.rule != "procfile.web"));
    }

    #[test]
    fn fixture_procfile_python() {
        let d = detect_fixture("procfile-python");
        let p = project(&d, ".");
        let start = p.start.as_ref().unwrap();
        assert_eq!(start.display, "gunicorn app:app --bind 0.0.0.0:${PORT:-5000} --workers 2");
        assert_eq!(start.evidence.file, "Procfile");
        assert_eq!(start.evidence.line, Some(1));
        // The Dockerfile's CMD (`python app.py`, which the Python provider also finds) is still
        // offered, ranked below the declared command.
        assert!(p.start_alternatives.iter().any(|c| c.display == "python app.py"), "{:?}", p.start_alternatives);
        assert!(p.ports.iter().any(|port| port.port == 5000 && port.env_var.as_deref() == Some("PORT")));
        let release = p.migrations.iter().find(|m| m.command.evidence.rule == "procfile.release").unwrap();
        assert_eq!((release.tool.as_str(), release.command.display.as_str()), ("flask-migrate", "flask db upgrade"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in odd_inputs() {
            if let Some((port, env)) = port_in_command(&input) {
                assert!(port.is_none_or(|p| p > 0) && env.is_none_or(|e| !e.is_empty()), "{input:?}");
            }
            let _ = migration_tool(&input);
        }
    }
}
