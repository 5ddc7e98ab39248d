//! `repo-run review`: run the rules over trees of files in parallel, honouring `.gitignore`,
//! and print the findings for people (text), programs (JSON), code scanning (SARIF) and
//! GitHub Actions (annotations).

mod output;
mod sarif;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

pub use output::{github_annotations, json, text};
pub use sarif::sarif;

use crate::text::{LineIndex, Position};
use crate::{Config, FileInfo, Fix, Lang, Rule, Severity};

/// Files larger than this are generated or vendored more often than written; they are skipped
/// with a note rather than parsed.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// One finding, placed for output.
#[derive(Debug, Clone)]
pub struct Located {
    pub rule: &'static Rule,
    pub severity: Severity,
    /// Zero-based line, UTF-16 column.
    pub start: Position,
    pub end: Position,
    /// Stable across runs while the line's text does not change (SARIF `primaryLocationLineHash`).
    pub line_hash: String,
    pub fix: Option<Fix>,
}

/// A file's findings.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// Relative to the review base, `/`-separated.
    pub path: String,
    pub findings: Vec<Located>,
}

/// What a review found, sorted by path then position.
#[derive(Debug, Default)]
pub struct Report {
    pub files: Vec<FileReport>,
    pub files_checked: u64,
    pub lines_checked: u64,
    /// `(path, why)` for files that were not read.
    pub skipped: Vec<(String, String)>,
}

impl Report {
    pub fn findings(&self) -> impl Iterator<Item = (&FileReport, &Located)> {
        self.files.iter().flat_map(|f| f.findings.iter().map(move |l| (f, l)))
    }

    /// The highest severity found.
    pub fn worst(&self) -> Option<Severity> {
        self.findings().map(|(_, l)| l.severity).max()
    }
}

thread_local! {
    static PARSERS: RefCell<HashMap<Lang, tree_sitter::Parser>> = RefCell::new(HashMap::new());
}

/// Review `paths` (files or directories); paths in the report are relative to `base`.
pub fn review(paths: &[PathBuf], base: &Path, config: &Config) -> Report {
    let Some((first, rest)) = paths.split_first() else { return Report::default() };
    let mut walk = ignore::WalkBuilder::new(first);
    for p in rest {
        walk.add(p);
    }
    let report = Mutex::new(Report::default());
    walk.build_parallel().run(|| {
        Box::new(|entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    lock(&report).skipped.push((String::new(), e.to_string()));
                    return ignore::WalkState::Continue;
                }
            };
            if entry.file_type().is_some_and(|t| t.is_file()) {
                check_file(entry.path(), base, config, &report);
            }
            ignore::WalkState::Continue
        })
    });
    let mut report = report.into_inner().unwrap_or_else(|e| e.into_inner());
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    report.skipped.sort();
    report
}

fn lock<'a>(m: &'a Mutex<Report>) -> std::sync::MutexGuard<'a, Report> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn relative(path: &Path, base: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    let rel = rel.strip_prefix(".").unwrap_or(rel);
    rel.to_string_lossy().replace('\\', "/")
}

fn check_file(path: &Path, base: &Path, config: &Config, report: &Mutex<Report>) {
    let Some(lang) = Lang::from_path(path) else { return };
    let rel = relative(path, base);
    let skip = |why: String| lock(report).skipped.push((rel.clone(), why));
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => return skip(format!("larger than {MAX_FILE_BYTES} bytes")),
        Err(e) => return skip(e.to_string()),
        Ok(_) => {}
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return skip(e.to_string()),
    };
    let Ok(source) = String::from_utf8(bytes) else { return skip("not UTF-8".to_string()) };
    let file = FileInfo::with_lang(&rel, lang);
    let tree = PARSERS.with(|p| p.borrow_mut().entry(lang).or_insert_with(|| lang.parser()).parse(&source, None));
    let findings = match tree {
        Some(tree) => crate::rules::check(&file, &tree, &source, config),
        None => Vec::new(),
    };
    let located = locate(&source, findings);
    let lines = source.lines().count() as u64;
    let mut r = lock(report);
    r.files_checked += 1;
    r.lines_checked += lines;
    if !located.is_empty() {
        r.files.push(FileReport { path: rel, findings: located });
    }
}

/// Positions and line hashes for a file's findings. The hash covers the rule and the line's
/// text without indentation; `:n` counts repeats of the same pair in the file.
pub fn locate(source: &str, findings: Vec<crate::Finding>) -> Vec<Located> {
    let index = LineIndex::new(source);
    let mut seen: HashMap<String, u32> = HashMap::new();
    findings
        .into_iter()
        .map(|f| {
            let start = index.position(source, f.start);
            let end = index.position(source, f.end);
            let line = index.line_text(source, start.line as usize);
            let normalized: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
            let digest = Sha256::digest(format!("{}\0{normalized}", f.rule.id).as_bytes());
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            let n = seen.entry(hex.clone()).or_insert(0);
            *n += 1;
            Located { rule: f.rule, severity: f.severity, start, end, line_hash: format!("{hex}:{n}"), fix: f.fix }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, body) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        dir
    }

    #[test]
    fn walks_in_parallel_respecting_gitignore() {
        let dir = tree(&[
            (".gitignore", b"build/\n"),
            (".git/HEAD", b"ref: refs/heads/main\n"),
            ("app/db.py", b"import yaml\n\ncfg = yaml.load(f)\n"),
            ("build/gen.py", b"cfg = yaml.load(f)\n"),
            ("web/a.js", b"try { go(); } catch (e) {}\n"),
            ("README.md", b"yaml.load(f)\n"),
        ]);
        let r = review(&[dir.path().to_path_buf()], dir.path(), &Config::default());
        let got: Vec<_> =
            r.findings().map(|(f, l)| (f.path.as_str(), l.rule.id, l.start.line, l.start.character)).collect();
        assert_eq!(got, [("app/db.py", "python.yaml-load", 2, 6), ("web/a.js", "js.empty-catch", 0, 14)]);
        assert_eq!(r.files_checked, 2);
        assert_eq!(r.worst(), Some(Severity::Warning));
    }

    #[test]
    fn bad_files_are_skipped_with_a_reason() {
        let big = vec![b'#'; MAX_FILE_BYTES as usize + 1];
        let dir = tree(&[("bad.py", b"x = '\xff\xfe'\n"), ("big.py", &big), ("ok.go", b"package a\n")]);
        let r = review(&[dir.path().to_path_buf()], dir.path(), &Config::default());
        let reasons: Vec<_> = r.skipped.iter().map(|(p, why)| (p.as_str(), why.as_str())).collect();
        assert_eq!(reasons, [("bad.py", "not UTF-8"), ("big.py", "larger than 2097152 bytes")]);
        assert_eq!(r.files_checked, 1);
    }

    #[test]
    fn line_hashes_ignore_indentation_and_count_repeats() {
        let file = FileInfo::new("a.py").unwrap();
        let src = "eval(x)\nif y:\n    eval(x)\n";
        let found = locate(src, crate::analyze(&file, src, &Config::default()));
        let (a, b) = (&found[0].line_hash, &found[1].line_hash);
        assert_eq!(a[..16], b[..16]);
        assert_eq!((&a[16..], &b[16..]), (":1", ":2"));
    }
}
