//! Parsing manifests without ever failing detection: a malformed file becomes a warning that
//! names the file and line, and the provider carries on without it.

use super::ProjectContext;
use crate::repo::Text;

/// Read and parse `name` (relative to the project) as JSON. `None` when absent or malformed.
pub fn read_json(cx: &ProjectContext<'_>, name: &str) -> Option<(Text, serde_json::Value)> {
    let text = cx.read(name)?;
    match serde_json::from_str(&text.content) {
        Ok(value) => Some((text, value)),
        Err(e) => {
            cx.warn(name, Some(e.line() as u32), format!("malformed JSON: {e}"));
            None
        }
    }
}

/// Read and parse `name` as TOML. `None` when absent or malformed.
pub fn read_toml(cx: &ProjectContext<'_>, name: &str) -> Option<(Text, toml::Table)> {
    let text = cx.read(name)?;
    match text.content.parse::<toml::Table>() {
        Ok(value) => Some((text, value)),
        Err(e) => {
            let line = e.span().map(|s| line_at(&text.content, s.start));
            cx.warn(name, line, format!("malformed TOML: {}", e.message()));
            None
        }
    }
}

/// Read and parse `name` as YAML. `None` when absent or malformed.
pub fn read_yaml(cx: &ProjectContext<'_>, name: &str) -> Option<(Text, serde_yaml_ng::Value)> {
    let text = cx.read(name)?;
    match serde_yaml_ng::from_str(&text.content) {
        Ok(value) => Some((text, value)),
        Err(e) => {
            let line = e.location().map(|l| l.line() as u32);
            cx.warn(name, line, format!("malformed YAML: {e}"));
            None
        }
    }
}

/// 1-based line of a byte offset.
pub fn line_at(text: &str, offset: usize) -> u32 {
    let offset = offset.min(text.len());
    1 + text.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count() as u32
}

/// 1-based line of the first line containing `needle`, for evidence in formats whose parsers
/// keep no positions (`"express"` in a package.json).
pub fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.find(needle).map(|i| line_at(text, i))
}

/// 1-based line of the first line whose trimmed start begins with `prefix`.
pub fn line_starting(text: &str, prefix: &str) -> Option<u32> {
    text.lines().position(|l| l.trim_start().starts_with(prefix)).map(|i| i as u32 + 1)
}
