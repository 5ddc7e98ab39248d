//! `psql` inside the PostgreSQL container: how migrations are applied when their tool's CLI is
//! not installed ([`super::sqlx`], [`super::diesel`]).

use crate::services::Services;

/// `psql` passes each migration as one argument: keep well under Linux's 128 KiB per argument.
pub const MAX_FILE: usize = 100 * 1024;

/// One database in one container, as one user.
pub struct Psql<'a> {
    pub services: &'a Services,
    pub container: &'a str,
    pub user: &'a str,
    pub database: &'a str,
}

impl Psql<'_> {
    /// Runs `psql` with `extra` arguments (stopping at the first error); every output line goes
    /// to `log`. `-c` strings are sent as written, each as one query, as the tools send a file.
    pub fn run(&self, extra: &[&str], log: &mut dyn FnMut(&str)) -> Result<String, String> {
        let mut command: Vec<String> =
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", self.user, "-d", self.database]
                .iter()
                .map(|s| s.to_string())
                .collect();
        command.extend(extra.iter().map(|s| s.to_string()));
        let (code, output) = self.services.exec(self.container, command).map_err(|e| e.to_string())?;
        for line in output.lines() {
            log(line);
        }
        match code {
            Some(0) => Ok(output),
            Some(code) => Err(format!("psql exited with status {code}: {}", output.trim())),
            None => Err(format!("psql did not finish: {}", output.trim())),
        }
    }
}

/// `'text'` as an SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
