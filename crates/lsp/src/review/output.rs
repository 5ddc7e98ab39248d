//! Text for people, JSON for programs, workflow commands for GitHub Actions.

use std::io::{self, Write};

use serde_json::json;

use super::Report;

/// `path:line:col: severity rule: message`, then a summary line. Lines and columns from 1.
pub fn text(out: &mut impl Write, report: &Report) -> io::Result<()> {
    for (file, f) in report.findings() {
        writeln!(
            out,
            "{}:{}:{}: {} {}: {}",
            file.path,
            f.start.line + 1,
            f.start.character + 1,
            f.severity.as_str(),
            f.rule.id,
            f.rule.message
        )?;
    }
    for (path, why) in &report.skipped {
        writeln!(out, "{path}: skipped: {why}")?;
    }
    let n = report.findings().count();
    writeln!(out, "{n} finding{} in {} files checked", if n == 1 { "" } else { "s" }, report.files_checked)
}

/// A stable JSON document: lines and UTF-16 columns from 1, end exclusive.
pub fn json(report: &Report) -> serde_json::Value {
    let findings: Vec<_> = report
        .findings()
        .map(|(file, f)| {
            json!({
                "rule": f.rule.id,
                "severity": f.severity.as_str(),
                "path": file.path,
                "line": f.start.line + 1,
                "column": f.start.character + 1,
                "end_line": f.end.line + 1,
                "end_column": f.end.character + 1,
                "message": f.rule.message,
                "fixable": f.fix.is_some(),
            })
        })
        .collect();
    let skipped: Vec<_> = report.skipped.iter().map(|(p, why)| json!({"path": p, "reason": why})).collect();
    json!({
        "version": 1,
        "files_checked": report.files_checked,
        "lines_checked": report.lines_checked,
        "findings": findings,
        "skipped": skipped,
    })
}

/// `::error file=…,line=…::message` workflow commands. GitHub shows only the first ten errors
/// and ten warnings of a step: the full list belongs in SARIF.
pub fn github_annotations(out: &mut impl Write, report: &Report) -> io::Result<()> {
    for (file, f) in report.findings() {
        let level = match f.severity {
            crate::Severity::Error => "error",
            crate::Severity::Warning => "warning",
            crate::Severity::Info => "notice",
        };
        writeln!(
            out,
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            property(&file.path),
            f.start.line + 1,
            f.start.character + 1,
            f.end.line + 1,
            f.end.character + 1,
            property(f.rule.id),
            data(f.rule.message)
        )?;
    }
    Ok(())
}

fn data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::{FileReport, locate};
    use crate::{Config, FileInfo};

    fn report(path: &str, src: &str) -> Report {
        let file = FileInfo::new(path).unwrap();
        let findings = locate(src, crate::analyze(&file, src, &Config::default()));
        Report {
            files: vec![FileReport { path: path.into(), findings }],
            files_checked: 1,
            lines_checked: 1,
            skipped: vec![],
        }
    }

    #[test]
    fn text_and_annotations_name_the_place() {
        let r = report("a,b.js", "x = 1; debugger;\n");
        let mut out = Vec::new();
        text(&mut out, &r).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "a,b.js:1:8: warning js.debugger: debugger statement left in code\n1 finding in 1 files checked\n"
        );
        let mut gh = Vec::new();
        github_annotations(&mut gh, &r).unwrap();
        assert_eq!(
            String::from_utf8(gh).unwrap(),
            "::warning file=a%2Cb.js,line=1,col=8,endLine=1,endColumn=17,title=js.debugger::debugger statement left in code\n"
        );
    }

    #[test]
    fn json_has_one_based_positions() {
        let v = json(&report("a.py", "r = requests.get(u, verify=False)\n"));
        let f = &v["findings"][0];
        assert_eq!(
            (f["rule"].as_str(), f["line"].as_u64(), f["column"].as_u64()),
            (Some("python.tls-verify-disabled"), Some(1), Some(21))
        );
        assert_eq!(f["fixable"], true);
    }
}
