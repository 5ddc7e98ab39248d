//! Diesel migrations without the Diesel CLI: each `<version>_<name>/up.sql` applied with `psql`
//! inside the PostgreSQL container, bookkept in Diesel's own `__diesel_schema_migrations`.
//!
//! Read as diesel_migrations reads them, so an app that runs `embed_migrations!()` and
//! `run_pending_migrations` at start finds them applied: every subdirectory of the migrations
//! directory not starting with `.` is a migration and must hold an `up.sql`; its version is the
//! name up to the first `_` with `-` removed (`2024-01-15-120000_create` → `20240115120000`);
//! pending ones run in version order (compared as strings, as Diesel does), each in one
//! transaction with its record unless its `metadata.toml` says `run_in_transaction = false`.
//! `00000000000000_diesel_initial_setup` (written by `diesel setup`) is a migration like the
//! others. What the CLI does besides, regenerating `src/schema.rs`, is left out: `up` never
//! edits the user's files.

use std::path::{Path, PathBuf};

use super::Applied;
use super::psql::{MAX_FILE, Psql, literal};
use crate::services::Services;

/// Diesel's table, as diesel_migrations creates it.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
    version VARCHAR(50) PRIMARY KEY NOT NULL,
    run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)";

/// One migration directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: String,
    /// The directory's name, as Diesel prints it.
    pub name: String,
    pub up: PathBuf,
    pub in_transaction: bool,
}

/// The version Diesel gives a migration directory's name.
pub fn version_of(name: &str) -> String {
    name.split('_').next().unwrap_or(name).replace('-', "")
}

/// Where the Diesel CLI looks: `diesel.toml`'s `[migrations_directory] dir` (relative to that
/// file), else the nearest `migrations` directory from the project up to `root`.
pub fn migrations_dir(project_dir: &Path, root: &Path) -> Result<PathBuf, String> {
    let config = project_dir.join("diesel.toml");
    if let Ok(text) = std::fs::read_to_string(&config) {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            format!("{}{}: {}", config.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), e.message())
        })?;
        if let Some(dir) = table.get("migrations_directory").and_then(|m| m.get("dir")).and_then(|d| d.as_str()) {
            return Ok(project_dir.join(dir));
        }
    }
    project_dir
        .ancestors()
        .take_while(|d| d.starts_with(root))
        .map(|d| d.join("migrations"))
        .find(|d| d.is_dir())
        .ok_or_else(|| format!("no migrations directory in {} or above it", project_dir.display()))
}

/// Whether the migration runs in a transaction. diesel_migrations reads `metadata.toml` into a
/// struct whose `run_in_transaction` defaults to `false` when the file exists but omits the
/// key, and uses its own default (`true`) when the file is absent or unreadable.
fn in_transaction(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("metadata.toml")) else { return true };
    match text.parse::<toml::Table>() {
        Ok(table) => match table.get("run_in_transaction") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => true,
        },
        Err(_) => true,
    }
}

/// The migrations in `dir`, sorted by version.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        let up = path.join("up.sql");
        if !up.is_file() {
            // Diesel refuses the whole directory then; so must we, or the app would.
            return Err(format!("{} is not a Diesel migration: it has no up.sql", path.display()));
        }
        out.push(Migration { version: version_of(&name), name, up, in_transaction: in_transaction(&path) });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    if let Some(pair) = out.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(format!("{} and {} have the same version {}", pair[0].name, pair[1].name, pair[0].version));
    }
    Ok(out)
}

/// Applies the migrations of `dir` not yet recorded, through `psql` as `user` on `database`
/// in `container`. `log` receives every command's output.
pub fn apply(
    services: &Services,
    container: &str,
    user: &str,
    database: &str,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Applied, String> {
    let migrations = read_dir(dir)?;
    let psql = Psql { services, container, user, database };
    psql.run(&["-c", CREATE_TABLE], log)?;
    let recorded = psql.run(&["-tA", "-c", "SELECT version FROM __diesel_schema_migrations"], log)?;
    let recorded: Vec<&str> = recorded.lines().map(str::trim).collect();

    let mut done = Applied::default();
    for m in &migrations {
        if recorded.contains(&m.version.as_str()) {
            done.skipped.push(m.name.clone());
            continue;
        }
        let sql = std::fs::read_to_string(&m.up).map_err(|e| format!("reading {}: {e}", m.up.display()))?;
        if sql.is_empty() {
            return Err(format!("{} is empty (Diesel refuses to run an empty migration)", m.up.display()));
        }
        if sql.len() > MAX_FILE {
            return Err(format!(
                "{} is larger than {} KiB, too large to apply without the Diesel CLI",
                m.up.display(),
                MAX_FILE / 1024
            ));
        }
        log(&format!("applying {}", m.name));
        let insert = format!("INSERT INTO __diesel_schema_migrations (version) VALUES ({})", literal(&m.version));
        // The file is one query, as Diesel's batch_execute sends it; `-1` wraps it and its
        // record in one transaction.
        let mut args: Vec<&str> = if m.in_transaction { vec!["-1"] } else { Vec::new() };
        args.extend(["-c", &sql, "-c", &insert]);
        psql.run(&args, log).map_err(|e| format!("{}: {e}", m.name))?;
        done.applied.push(m.name.clone());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(root: &Path, name: &str, up: &str, metadata: Option<&str>) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("up.sql"), up).unwrap();
        std::fs::write(dir.join("down.sql"), "-- revert\n").unwrap();
        if let Some(m) = metadata {
            std::fs::write(dir.join("metadata.toml"), m).unwrap();
        }
    }

    #[test]
    fn versions_as_diesel_names_them() {
        assert_eq!(version_of("2024-01-15-120000_create_greetings"), "20240115120000");
        assert_eq!(version_of("00000000000000_diesel_initial_setup"), "00000000000000");
        assert_eq!(version_of("20151219180527_create_users"), "20151219180527");
        assert_eq!(version_of("2024-01-15-120000"), "20240115120000");
    }

    #[test]
    fn directories_are_read_in_version_order_with_their_transaction_setting() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        migration(
            root,
            "2024-02-01-090000_index",
            "CREATE INDEX CONCURRENTLY i ON t (x);\n",
            Some("run_in_transaction = false\n"),
        );
        migration(root, "2024-01-15-120000_create", "CREATE TABLE t (x int);\n", None);
        migration(root, "00000000000000_diesel_initial_setup", "SELECT 1;\n", None);
        // A metadata.toml without the key: Diesel's field default, false.
        migration(root, "2024-03-01-000000_other_fields", "SELECT 3;\n", Some("note = \"x\"\n"));
        // Unparseable: Diesel falls back to its default, true.
        migration(root, "2024-04-01-000000_bad_metadata", "SELECT 4;\n", Some("run_in_transaction = \n"));
        std::fs::create_dir(root.join(".hidden")).unwrap();
        std::fs::write(root.join("README.md"), "not a migration").unwrap();
        let found = read_dir(root).unwrap();
        let summary: Vec<(&str, &str, bool)> =
            found.iter().map(|m| (m.version.as_str(), m.name.as_str(), m.in_transaction)).collect();
        assert_eq!(
            summary,
            [
                ("00000000000000", "00000000000000_diesel_initial_setup", true),
                ("20240115120000", "2024-01-15-120000_create", true),
                ("20240201090000", "2024-02-01-090000_index", false),
                ("20240301000000", "2024-03-01-000000_other_fields", false),
                ("20240401000000", "2024-04-01-000000_bad_metadata", true),
            ]
        );
    }

    #[test]
    fn a_directory_without_up_sql_or_a_repeated_version_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("2024-01-01-000000_draft")).unwrap();
        let err = read_dir(dir.path()).unwrap_err();
        assert!(err.contains("2024-01-01-000000_draft") && err.contains("no up.sql"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        migration(dir.path(), "2024-01-01-000000_a", "SELECT 1;\n", None);
        migration(dir.path(), "20240101000000_b", "SELECT 2;\n", None);
        assert!(read_dir(dir.path()).unwrap_err().contains("same version 20240101000000"));
    }

    #[test]
    fn the_migrations_directory_comes_from_diesel_toml_else_the_nearest_migrations() {
        let root = tempfile::tempdir().unwrap();
        let app = root.path().join("server");
        std::fs::create_dir_all(root.path().join("migrations")).unwrap();
        std::fs::create_dir_all(&app).unwrap();
        assert_eq!(migrations_dir(&app, root.path()).unwrap(), root.path().join("migrations"));
        std::fs::write(
            app.join("diesel.toml"),
            "[print_schema]\nfile = \"src/schema.rs\"\n\n[migrations_directory]\ndir = \"db/migrations\"\n",
        )
        .unwrap();
        assert_eq!(migrations_dir(&app, root.path()).unwrap(), app.join("db/migrations"));
        std::fs::write(app.join("diesel.toml"), "[migrations_directory\ndir = 1\n").unwrap();
        let err = migrations_dir(&app, root.path()).unwrap_err();
        assert!(err.contains("diesel.toml:1"), "{err}");
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(migrations_dir(elsewhere.path(), elsewhere.path()).unwrap_err().contains("no migrations directory"));
    }
}
