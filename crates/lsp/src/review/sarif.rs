//! SARIF 2.1.0 as GitHub code scanning reads it: stable `ruleId`s, URIs relative to
//! `%SRCROOT%`, `partialFingerprints.primaryLocationLineHash`, UTF-16 columns from 1.

use std::path::Path;

use serde_json::{Value, json};

use super::Report;
use crate::{RULES, Severity};

/// GitHub keeps at most this many results per run.
const MAX_RESULTS: usize = 25_000;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The SARIF log for a report; `base` is the directory paths are relative to.
pub fn sarif(report: &Report, base: &Path) -> Value {
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id.replace(['.', '-'], "_"),
                "shortDescription": {"text": r.message},
                "fullDescription": {"text": r.docs},
                "help": {"text": r.docs},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {"tags": [r.id.split('.').next().unwrap_or("review")]},
            })
        })
        .collect();
    let index = |id: &str| RULES.iter().position(|r| r.id == id).unwrap_or(0);
    let results: Vec<_> = report
        .findings()
        .take(MAX_RESULTS)
        .map(|(file, f)| {
            json!({
                "ruleId": f.rule.id,
                "ruleIndex": index(f.rule.id),
                "level": level(f.severity),
                "message": {"text": f.rule.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri_path(&file.path), "uriBaseId": "%SRCROOT%"},
                        "region": {
                            "startLine": f.start.line + 1,
                            "startColumn": f.start.character + 1,
                            "endLine": f.end.line + 1,
                            "endColumn": f.end.character + 1,
                        }
                    }
                }],
                "partialFingerprints": {"primaryLocationLineHash": f.line_hash},
            })
        })
        .collect();
    let root = format!("{}/", uri_path(&base.to_string_lossy().replace('\\', "/")).trim_end_matches('/'));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "repo-run",
                "informationUri": "https://github.com/repo-run/repo-run",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": format!("file://{}", if root.starts_with('/') { root } else { format!("/{root}") })}},
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}

/// Percent-encode what a URI path cannot hold as is.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::{FileReport, locate};
    use crate::{Config, FileInfo};

    #[test]
    fn results_are_relative_and_fingerprinted() {
        let src = "x = eval(data)\n";
        let file = FileInfo::new("src/my app.py").unwrap();
        let findings = locate(src, crate::analyze(&file, src, &Config::default()));
        let report = Report {
            files: vec![FileReport { path: "src/my app.py".into(), findings }],
            files_checked: 1,
            lines_checked: 1,
            skipped: vec![],
        };
        let log = sarif(&report, Path::new("/work/repo"));
        let run = &log["runs"][0];
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "python.eval");
        assert_eq!(run["tool"]["driver"]["rules"][result["ruleIndex"].as_u64().unwrap() as usize]["id"], "python.eval");
        let loc = &result["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "src/my%20app.py");
        assert_eq!(loc["region"]["startColumn"], 5);
        assert_eq!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"], "file:///work/repo/");
        assert!(result["partialFingerprints"]["primaryLocationLineHash"].as_str().unwrap().ends_with(":1"));
    }
}
