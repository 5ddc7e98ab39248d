//! sqlx migrations without the sqlx CLI: plain `migrations/*.sql` applied with `psql` inside
//! the PostgreSQL container, bookkept in sqlx's own `_sqlx_migrations` table.
//!
//! Why sqlx's table and not one of repo-run's: apps commonly run `sqlx::migrate!().run(&pool)`
//! at start. That reads `_sqlx_migrations`, skips what is recorded there with the same
//! checksum, and fails on a table that already exists if a migration is not recorded. So each
//! file is recorded as sqlx records it: version and description from the file name, the file's
//! SHA-384 as checksum, in the same transaction as the file (unless the file opts out with
//! `-- no-transaction`, as sqlx allows).

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha384};

use super::Applied;
use super::psql::{MAX_FILE, Psql, literal};
use crate::services::Services;

/// sqlx's table, as sqlx creates it for PostgreSQL.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
    pub file: PathBuf,
    pub sql: String,
    pub checksum: Vec<u8>,
    pub no_tx: bool,
}

/// The migrations in `dir` as sqlx reads them: `<version>_<description>.sql` (and `.up.sql`;
/// `.down.sql` is for reverting and is left alone), sorted by version.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let file = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((version, rest)) = name.split_once('_') else { continue };
        if !file.is_file() || !rest.ends_with(".sql") || rest.ends_with(".down.sql") {
            continue;
        }
        let Ok(version) = version.parse::<i64>() else { continue };
        let description = rest.trim_end_matches(".up.sql").trim_end_matches(".sql").replace('_', " ");
        let sql = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        if sql.len() > MAX_FILE {
            return Err(format!(
                "{} is larger than {} KiB, too large to apply without the sqlx CLI",
                file.display(),
                MAX_FILE / 1024
            ));
        }
        let checksum = Sha384::digest(sql.as_bytes()).to_vec();
        let no_tx = sql.starts_with("-- no-transaction");
        out.push(Migration { version, description, file, sql, checksum, no_tx });
    }
    out.sort_by_key(|m| m.version);
    if let Some(pair) = out.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(format!("{} and {} have the same version", pair[0].file.display(), pair[1].file.display()));
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
    let psql = |extra: &[&str], log: &mut dyn FnMut(&str)| psql.run(extra, log);

    psql(&["-c", CREATE_TABLE], log)?;
    let recorded = psql(&["-tA", "-c", "SELECT version, success, encode(checksum, 'hex') FROM _sqlx_migrations"], log)?;
    let recorded: Vec<(i64, bool, String)> = recorded
        .lines()
        .filter_map(|line| {
            let mut parts = line.trim().split('|');
            let version = parts.next()?.parse().ok()?;
            Some((version, parts.next()? == "t", parts.next()?.to_owned()))
        })
        .collect();

    let mut done = Applied::default();
    for m in &migrations {
        let name = m.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some((_, success, checksum)) = recorded.iter().find(|(v, ..)| *v == m.version) {
            if !success {
                return Err(format!(
                    "migration {} ({name}) is recorded as partly applied in _sqlx_migrations; repair the database \
                     or start from an empty one (`repo-run down --volumes`)",
                    m.version
                ));
            }
            if *checksum != hex(&m.checksum) {
                return Err(format!(
                    "migration {} ({name}) was applied but the file has changed since; restore it, or start from \
                     an empty database (`repo-run down --volumes`)",
                    m.version
                ));
            }
            done.skipped.push(name);
            continue;
        }
        log(&format!("applying {name}"));
        let started = Instant::now();
        let insert = format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({}, {}, TRUE, '\\x{}', -1)",
            m.version,
            literal(&m.description),
            hex(&m.checksum)
        );
        let mut args: Vec<&str> = Vec::new();
        if !m.no_tx {
            // One transaction around the file and its record: all or nothing.
            args.push("-1");
        }
        args.extend(["-c", &m.sql, "-c", &insert]);
        psql(&args, log).map_err(|e| format!("{name}: {e}"))?;
        let nanos = started.elapsed().as_nanos();
        let update = format!("UPDATE _sqlx_migrations SET execution_time = {nanos} WHERE version = {}", m.version);
        psql(&["-c", &update], log)?;
        done.applied.push(name);
    }
    Ok(done)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_as_sqlx_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("10_later_one.sql", "SELECT 10;\n");
        write("2_add_users.up.sql", "SELECT 2;\n");
        write("2_add_users.down.sql", "SELECT -2;\n");
        write("0001_init.sql", "-- no-transaction\nSELECT 1;\n");
        write("README.md", "not a migration");
        write("notes_x.txt", "no");
        write("draft.sql", "no version");
        let found = read_dir(dir.path()).unwrap();
        let summary: Vec<(i64, &str, bool)> =
            found.iter().map(|m| (m.version, m.description.as_str(), m.no_tx)).collect();
        assert_eq!(summary, [(1, "init", true), (2, "add users", false), (10, "later one", false)]);
        // sqlx's checksum: SHA-384 of the file's text.
        assert_eq!(hex(&found[1].checksum), hex(&Sha384::digest(b"SELECT 2;\n")),);
        assert_eq!(found[1].checksum.len(), 48);
    }

    #[test]
    fn duplicate_versions_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_a.sql"), "").unwrap();
        std::fs::write(dir.path().join("01_b.sql"), "").unwrap();
        assert!(read_dir(dir.path()).unwrap_err().contains("same version"));
    }

    #[test]
    fn known_checksum() {
        // SHA-384 of the empty string (FIPS 180-4 test vector).
        assert_eq!(
            hex(&Sha384::digest(b"")),
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
        );
    }
}
