//! Test helpers: run one rule on a snippet and look at what it reports.

use super::Rule;
use crate::{Config, FileInfo};

/// The source text of each finding `rule` reports on `source`, as if it were the file `path`.
pub fn hits(rule: &Rule, path: &str, source: &str) -> Vec<String> {
    findings(rule, path, source).into_iter().map(|(text, _)| text).collect()
}

/// Each finding's text, and the source after applying its fix (None without a fix).
pub fn findings(rule: &Rule, path: &str, source: &str) -> Vec<(String, Option<String>)> {
    let Some(file) = FileInfo::new(path) else { panic!("no language for {path}") };
    let tree = file.lang.parser().parse(source, None).expect("parse");
    crate::rules::check(&file, &tree, source, &Config::default())
        .into_iter()
        .filter(|f| f.rule.id == rule.id)
        .map(|f| {
            let fixed = f.fix.as_ref().map(|fix| fix.apply(source));
            (source[f.start..f.end].to_string(), fixed)
        })
        .collect()
}

/// The source after applying the only finding's fix.
pub fn fixed(rule: &Rule, path: &str, source: &str) -> String {
    let mut all = findings(rule, path, source);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0).1.expect("a fix")
}
