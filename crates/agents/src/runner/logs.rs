//! App logs: `.repo-run/logs/<name>.log`, appended to on every run. Each run starts with a
//! header line, so readers (the Health agent, `status`) look only at the current run.

use std::io::Write;
use std::path::Path;

/// Every header line starts with this.
pub const HEADER_PREFIX: &str = "==== repo-run ";

/// Appends a header line: when, and what is starting.
pub(crate) fn write_header(file: &mut std::fs::File, what: &str) -> std::io::Result<()> {
    writeln!(file, "{HEADER_PREFIX}{} {what} ====", rfc3339_utc(crate::state::unix_now()))
}

/// The log's text since its last header (the whole file when it has none).
pub(crate) fn current_run(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else { return String::new() };
    let text = String::from_utf8_lossy(&bytes);
    let start = text
        .rmatch_indices(HEADER_PREFIX)
        .find(|(i, _)| *i == 0 || text.as_bytes()[i - 1] == b'\n')
        .map_or(0, |(i, _)| text[i..].find('\n').map_or(text.len(), |nl| i + nl + 1));
    text[start..].to_string()
}

/// The last `n` lines the current run wrote to the log at `path`.
pub fn log_tail(path: &Path, n: usize) -> Vec<String> {
    let text = current_run(path);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect()
}

/// `2026-11-23T12:30:05Z` from Unix seconds (days to civil date: Howard Hinnant's algorithm).
pub(crate) fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_437_005), "2026-11-23T12:30:05Z");
    }

    #[test]
    fn tail_reads_only_the_current_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        let mut f = std::fs::File::create(&path).unwrap();
        write_header(&mut f, "start `old`").unwrap();
        writeln!(f, "old 1\nold 2").unwrap();
        write_header(&mut f, "start `new`").unwrap();
        writeln!(f, "new 1\nnew 2\nnew 3").unwrap();
        assert_eq!(log_tail(&path, 2), vec!["new 2", "new 3"]);
        assert_eq!(log_tail(&path, 20).len(), 3);
        assert!(log_tail(&dir.path().join("missing.log"), 5).is_empty());
    }
}
