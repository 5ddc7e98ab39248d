//! App logs: `.repo-run/logs/<name>.log`, appended to on every run. Each run starts with a
//! header line, so readers (the Health agent, `status`) look only at the current run.

use std::io::Write;
use std::path::Path;

/// Every header line starts with this.
pub const HEADER_PREFIX: &str = "==== repo-run ";

/// Appends a header line: when, and what is starting.
pub(crate) fn write_header(file: &mut std::fs::File, what: &str) -> std::io::Result<()> {
    writeln!(file, "{HEADER_PREFIX}{} {what} ====", crate::state::utc_now())
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

#[cfg(test)]
mod tests {
    use super::*;

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
