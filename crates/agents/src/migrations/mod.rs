//! Database migrations, run by the DB agent once the services are ready and before the Runner
//! builds or starts anything.
//!
//! Each project's detected migration command (`npx prisma migrate deploy`, `python manage.py
//! migrate`, `alembic upgrade head`, `sqlx migrate run`, …) runs as argv in the project's
//! directory, with the project's environment (its `.env`, Setup's `PATH` with `.venv/bin` and
//! `node_modules/.bin`, and the services' real URLs). The tools track what they applied, so
//! running them on every `up` is safe. A Procfile `release` line is the one shell line: it is
//! the repository's own command, run through `sh -c` as written.
//!
//! When the tool is not installed, nothing is skipped silently: sqlx's plain SQL files
//! ([`sqlx`]) and Diesel's `up.sql` directories ([`diesel`]) are applied through `psql` in the
//! PostgreSQL container and recorded in the tool's own table; anything else fails with the
//! tool to install.

pub mod diesel;
mod process;
mod psql;
pub mod sqlx;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::failure::{Exit, Failure, StepKind};
use crate::fixer::action::ScriptRunner;
use crate::pipeline::{AgentError, Blackboard, Stage};
use crate::plan::{MigrationFinding, Project, ServiceKind};
use crate::services::Services;
use crate::services::env_vars::UrlParts;

pub use process::TAIL_LINES;

/// How long one migration command may run.
pub const TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// One migration the DB agent ran.
#[derive(Debug, Clone)]
pub struct MigrationRun {
    /// The project's path relative to the repository root.
    pub project: String,
    pub tool: String,
    /// The command as a person would type it, or what was done in its place.
    pub command: String,
    pub elapsed: Duration,
    pub log: PathBuf,
    /// For sqlx or Diesel without its CLI: the migrations applied now (the others were already
    /// recorded).
    pub applied_files: Option<Vec<String>>,
}

/// What applying a tool's migrations without its CLI did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Migrations (file or directory names) applied now, in order.
    pub applied: Vec<String>,
    /// Migrations already recorded in the tool's table.
    pub skipped: Vec<String>,
}

/// The tools whose migrations repo-run applies itself when their CLI is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WithoutCli {
    Sqlx,
    Diesel,
}

impl WithoutCli {
    fn for_tool(tool: &str) -> Option<WithoutCli> {
        match tool {
            "sqlx" => Some(WithoutCli::Sqlx),
            "diesel" => Some(WithoutCli::Diesel),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            WithoutCli::Sqlx => "sqlx",
            WithoutCli::Diesel => "diesel",
        }
    }

    fn cli(self) -> &'static str {
        match self {
            WithoutCli::Sqlx => "the sqlx CLI",
            WithoutCli::Diesel => "the Diesel CLI",
        }
    }

    fn table(self) -> &'static str {
        match self {
            WithoutCli::Sqlx => "_sqlx_migrations",
            WithoutCli::Diesel => "__diesel_schema_migrations",
        }
    }
}

/// Runs the migrations of every project, in detection order; stops at the first failure.
/// `services` is the connection the services were started with (`None`: none are needed).
pub fn run(board: &Blackboard, services: Option<&Services>) -> Result<Vec<MigrationRun>, AgentError> {
    let Some(detection) = &board.detection else { return Ok(Vec::new()) };
    let mut done = Vec::new();
    for project in &detection.projects {
        // Fixes in force: scripts the project declares, before its migrations and before it
        // starts (they need the services, so they run here), and a skipped migrate step.
        for (runner, script) in board.fixes.scripts_before(&project.path, StepKind::Migrate) {
            done.push(run_script(board, project, runner, &script)?);
        }
        if board.fixes.skips(&project.path, StepKind::Migrate) && !project.migrations.is_empty() {
            board.reporter.step(Stage::Db, &format!("{}: migrations skipped (a fix in force)", label_of(project)));
        } else {
            for migration in &project.migrations {
                if board.cancel.is_cancelled() {
                    return Err(error("cancelled before the migrations ran".into(), None));
                }
                done.push(run_one(board, services, project, migration)?);
            }
        }
        for (runner, script) in board.fixes.scripts_before(&project.path, StepKind::Start) {
            done.push(run_script(board, project, runner, &script)?);
        }
    }
    Ok(done)
}

fn label_of(project: &Project) -> String {
    if project.path == "." { project.name.clone() } else { project.path.clone() }
}

/// Runs a script the project declares (a fix in force asked for it), like a migration.
fn run_script(
    board: &Blackboard,
    project: &Project,
    runner: ScriptRunner,
    script: &str,
) -> Result<MigrationRun, AgentError> {
    let mut argv = runner.argv(script);
    // `flask <command>` finds the app the way the start command does.
    if runner == ScriptRunner::Flask {
        if let Some(app) = project.start.as_ref().and_then(|s| s.argv.windows(2).find(|w| w[0] == "--app")) {
            argv.splice(1..1, ["--app".to_owned(), app[1].clone()]);
        }
    }
    let command = crate::plan::Command {
        display: argv.join(" "),
        argv,
        evidence: crate::plan::Evidence::new(".repo-run/fixes.toml", None, "fixer.run-script"),
    };
    let migration = MigrationFinding { tool: "script".into(), command, reason: None };
    run_one(board, None, project, &migration)
}

fn error(message: String, hint: Option<String>) -> AgentError {
    AgentError::new(Stage::Db, message, hint)
}

fn run_one(
    board: &Blackboard,
    services: Option<&Services>,
    project: &Project,
    migration: &MigrationFinding,
) -> Result<MigrationRun, AgentError> {
    let root = board.repo.root();
    let dir = if project.path == "." { root.to_path_buf() } else { root.join(&project.path) };
    let label = label_of(project);
    let log = board.workdir.log_file(&format!("migrate-{label}"));
    let env = board.project_env(&project.path);
    let command = &migration.command;
    let Some((program_name, args)) = command.argv.split_first() else {
        return Err(error(format!("{label}: the {} migration has an empty command", migration.tool), None));
    };

    let program = match missing_tool(program_name, args, &dir, root, env.get("PATH").map(String::as_str)) {
        Ok(program) => program,
        Err(missing) => {
            if let Some(tool) = WithoutCli::for_tool(&migration.tool) {
                return without_cli(tool, board, services, project, migration, &dir, &label, log, &missing);
            }
            return Err(error(
                format!("{label}: `{}` cannot run: {missing} is not installed", command.display),
                Some(install_hint(&migration.tool, &missing)),
            ));
        }
    };

    let shell = if command.argv.len() == 3 && command.argv[0] == "sh" && command.argv[1] == "-c" {
        " (the repository's own shell line, through sh -c)"
    } else {
        ""
    };
    board.reporter.step(Stage::Db, &format!("{label}: migrating: {}{shell}", command.display));
    let finished = process::run(
        &program,
        args,
        &command.display,
        &dir,
        &env,
        &log,
        board.reporter.clone(),
        &board.cancel,
        TIMEOUT,
    )
    .map_err(|e| error(format!("{label}: starting `{}`: {e}", command.display), None))?;

    let tail = || {
        if finished.tail.is_empty() { String::new() } else { format!("\nlast lines:\n{}", finished.tail.join("\n")) }
    };
    let failed = |what: String, exit: Option<Exit>| {
        let error = error(
            format!("{label}: `{}` {what} (log: {}){}", command.display, log.display(), tail()),
            Some(format!(
                "fix the migration (or the database it points at) and run `repo-run up` again; the whole \
                 output is in {}",
                log.display()
            )),
        );
        error.with_failure(
            Failure::new(Stage::Db, StepKind::Migrate, &project.path)
                .argv(&command.argv)
                .exit(exit)
                .tail(&finished.tail)
                .log(&log)
                .evidence(Some(command.evidence.clone())),
        )
    };
    match finished.ended {
        process::Ended::Exited(status) if status.success() => {}
        process::Ended::Exited(status) => {
            use std::os::unix::process::ExitStatusExt;
            let exit = status.code().map(Exit::Code).or(status.signal().map(Exit::Signal));
            return Err(failed(format!("failed with {status}"), exit));
        }
        process::Ended::Cancelled => return Err(error(format!("{label}: `{}` was cancelled", command.display), None)),
        process::Ended::TimedOut(after) => {
            return Err(failed(format!("did not finish within {after:?}"), Some(Exit::Running)));
        }
    }
    board.reporter.step(
        Stage::Db,
        &format!("{label}: migrated with {} in {:.1} s", migration.tool, finished.elapsed.as_secs_f64()),
    );
    Ok(MigrationRun {
        project: project.path.clone(),
        tool: migration.tool.clone(),
        command: command.display.clone(),
        elapsed: finished.elapsed,
        log,
        applied_files: None,
    })
}

/// The program to run, or what is missing. `npx <tool>` needs the tool in a `node_modules/.bin`
/// of the project (or of a workspace above it, up to `root`): without it npx would try to
/// download it, which hangs or fails on machines without the npm registry.
fn missing_tool(
    program: &str,
    args: &[String],
    dir: &Path,
    root: &Path,
    path: Option<&str>,
) -> Result<PathBuf, String> {
    let resolved = process::resolve(program, dir, path).ok_or_else(|| format!("`{program}`"))?;
    if program == "npx" {
        if let Some(tool) = args.iter().find(|a| !a.starts_with('-')) {
            let bins: &[&str] = if tool == "sequelize-cli" { &["sequelize-cli", "sequelize"] } else { &[tool] };
            let found = dir
                .ancestors()
                .take_while(|d| d.starts_with(root))
                .any(|d| bins.iter().any(|b| d.join("node_modules/.bin").join(b).exists()));
            if !found {
                return Err(format!("`{tool}` (looked for node_modules/.bin/{tool})"));
            }
        }
    }
    Ok(resolved)
}

/// What to install for `tool`.
fn install_hint(tool: &str, missing: &str) -> String {
    match tool {
        "sqlx" => {
            "install the sqlx CLI: `cargo install sqlx-cli --no-default-features --features rustls,postgres`".into()
        }
        "diesel" => {
            "install the Diesel CLI: `cargo install diesel_cli --no-default-features --features postgres`".into()
        }
        "django" | "alembic" | "flask-migrate" => format!(
            "install the project's Python dependencies (Setup puts them in .venv, whose bin/ is on the command's \
             PATH); {missing} must come with them"
        ),
        "prisma" | "knex" | "sequelize" | "drizzle" | "typeorm" => format!(
            "install the project's Node dependencies (`npm install`, or its package manager's install); {missing} \
             must be in its package.json"
        ),
        "rails" => "install Ruby and Bundler, then `bundle install` in the project".into(),
        "laravel" | "doctrine" => "install PHP and Composer, then `composer install` in the project".into(),
        _ => format!("install {missing} and run `repo-run up` again"),
    }
}

/// sqlx or Diesel without its CLI: apply the migrations through `psql` in the PostgreSQL
/// container, recorded in the tool's own table.
#[allow(clippy::too_many_arguments)]
fn without_cli(
    tool: WithoutCli,
    board: &Blackboard,
    services: Option<&Services>,
    project: &Project,
    migration: &MigrationFinding,
    dir: &Path,
    label: &str,
    log: PathBuf,
    missing: &str,
) -> Result<MigrationRun, AgentError> {
    let cannot = |why: &str| {
        error(
            format!("{label}: `{}` cannot run: {missing} is not installed, and {why}", migration.command.display),
            Some(install_hint(tool.name(), missing)),
        )
    };
    let migrations_dir = match tool {
        // The evidence names the first migration file: its directory is the migrations directory.
        WithoutCli::Sqlx => {
            let evidence = board.repo.root().join(&migration.command.evidence.file);
            match evidence.parent() {
                Some(parent) if evidence.extension().is_some_and(|e| e == "sql") => parent.to_path_buf(),
                _ => dir.join("migrations"),
            }
        }
        WithoutCli::Diesel => diesel::migrations_dir(dir, board.repo.root()).map_err(|e| cannot(&e))?,
    };
    let (Some(services), Some(postgres)) = (services, board.services.iter().find(|s| s.kind == ServiceKind::Postgres))
    else {
        return Err(cannot(&format!(
            "repo-run applies {}'s migrations itself only to a PostgreSQL service it runs",
            tool.name()
        )));
    };
    // The database the app uses: its DATABASE_URL when it points at this service.
    let env = board.project_env(&project.path);
    let service_url = UrlParts::parse(&postgres.url);
    let app_url =
        env.get("DATABASE_URL").and_then(|u| UrlParts::parse(u)).filter(|u| u.port == Some(postgres.host_port));
    let Some(url) = app_url.or(service_url) else {
        return Err(cannot(&format!("the service URL {} cannot be read", postgres.url)));
    };

    board.reporter.note(
        Stage::Db,
        &format!(
            "{label}: {} is not installed; applying {} with psql in {} (recorded in {}, as {} does)",
            tool.cli(),
            migrations_dir.strip_prefix(board.repo.root()).unwrap_or(&migrations_dir).display(),
            postgres.container,
            tool.table(),
            tool.name(),
        ),
    );
    let started = std::time::Instant::now();
    let mut log_file = open_log(&log).map_err(|e| error(format!("{label}: writing {}: {e}", log.display()), None))?;
    let reporter = board.reporter.clone();
    let mut lines: Vec<String> = Vec::new();
    let mut sink = |line: &str| {
        use std::io::Write;
        let _ = writeln!(log_file, "{line}");
        reporter.output(Stage::Db, line);
        lines.push(line.to_owned());
    };
    sink(&format!("$ psql in {} on database {} ({} not installed)", postgres.container, url.database, tool.cli()));
    let apply = match tool {
        WithoutCli::Sqlx => sqlx::apply,
        WithoutCli::Diesel => diesel::apply,
    };
    let result = apply(services, &postgres.container, &url.user, &url.database, &migrations_dir, &mut sink);
    let applied = result.map_err(|e| {
        let start = lines.len().saturating_sub(TAIL_LINES);
        error(
            format!(
                "{label}: applying {} migrations from {}: {e} (log: {})",
                tool.name(),
                migrations_dir.display(),
                log.display()
            ),
            Some(format!("fix the migration and run `repo-run up` again, or {}", install_hint(tool.name(), missing))),
        )
        .with_tail(&lines[start..])
    })?;
    let summary = if applied.applied.is_empty() {
        format!("{label}: {} migrations up to date ({} already applied)", tool.name(), applied.skipped.len())
    } else {
        format!(
            "{label}: applied {} ({} already applied) in {:.1} s",
            applied.applied.join(", "),
            applied.skipped.len(),
            started.elapsed().as_secs_f64()
        )
    };
    board.reporter.step(Stage::Db, &summary);
    Ok(MigrationRun {
        project: project.path.clone(),
        tool: migration.tool.clone(),
        command: format!("psql in {} ({} not installed)", postgres.container, tool.cli()),
        elapsed: started.elapsed(),
        log,
        applied_files: Some(applied.applied),
    })
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

trait WithTail {
    fn with_tail(self, lines: &[String]) -> Self;
}

impl WithTail for AgentError {
    /// Appends the last output lines to the message.
    fn with_tail(mut self, lines: &[String]) -> Self {
        if !lines.is_empty() {
            self.message = format!("{}\nlast lines:\n{}", self.message, lines.join("\n"));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npx_needs_the_tool_in_node_modules() {
        let root = tempfile::tempdir().unwrap();
        let app = root.path().join("apps/web");
        std::fs::create_dir_all(&app).unwrap();
        let args = |tool: &str| vec![tool.to_owned(), "migrate:latest".to_owned()];
        let Some(_) = process::resolve("npx", &app, None) else { return eprintln!("npx is not installed here") };
        let err = missing_tool("npx", &args("knex"), &app, root.path(), None).unwrap_err();
        assert!(err.contains("node_modules/.bin/knex"), "{err}");
        // A workspace root's node_modules counts.
        std::fs::create_dir_all(root.path().join("node_modules/.bin")).unwrap();
        std::fs::write(root.path().join("node_modules/.bin/knex"), "").unwrap();
        assert!(missing_tool("npx", &args("knex"), &app, root.path(), None).is_ok());
        // sequelize-cli installs a `sequelize` binary.
        std::fs::write(root.path().join("node_modules/.bin/sequelize"), "").unwrap();
        assert!(missing_tool("npx", &args("sequelize-cli"), &app, root.path(), None).is_ok());
        assert!(missing_tool("npx", &args("prisma"), &app, root.path(), None).is_err());
    }

    #[test]
    fn a_missing_program_is_named_with_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let err = missing_tool("repo-run-no-such-tool", &[], dir.path(), dir.path(), None).unwrap_err();
        assert_eq!(err, "`repo-run-no-such-tool`");
        assert!(install_hint("sqlx", &err).contains("cargo install sqlx-cli"));
        assert!(install_hint("alembic", "`alembic`").contains(".venv"));
        assert!(install_hint("prisma", "`prisma`").contains("npm install"));
        assert!(install_hint("whatever", "`x`").contains("install `x`"));
    }
}
