//! Example environment files (`.env.example` and its spellings): the variables a project expects,
//! with usable example values as defaults, and the services their URLs and names point at.
//! The user's own `.env` is never read: it holds secrets, and Setup writes it from these.

use crate::detection::{Findings, ProjectContext, Provider};
use crate::plan::Framework;

use super::services::{service_for_env_name, service_for_url};

pub struct EnvFile;

/// Example file names, in the order their defaults win.
const EXAMPLE_FILES: &[&str] = &[".env.example", ".env.sample", ".env.template", ".env.dist", "example.env"];

impl Provider for EnvFile {
    fn id(&self) -> &'static str {
        "env_file"
    }

    fn detect(&self, cx: &ProjectContext<'_>, out: &mut Findings) {
        // Laravel's stock example names Redis and Memcached whether or not the app uses them;
        // the PHP provider decides those from the configured drivers instead.
        let names_mean_services = !out.has_framework(Framework::Laravel);
        for file in EXAMPLE_FILES {
            let Some(text) = cx.read(file) else { continue };
            for entry in parse_env(&text.content) {
                let line = Some(entry.line);
                let default = (!is_placeholder(&entry.value)).then(|| entry.value.clone());
                out.add_env_var(&entry.key, default, cx.evidence(file, line, "env.example"));
                if let Some(service) = service_for_url(&entry.value) {
                    out.add_service(service, Some(entry.key.clone()), cx.evidence(file, line, "env.example.url"));
                } else if let Some(service) = service_for_env_name(&entry.key).filter(|_| names_mean_services) {
                    let env_var = is_url_key(&entry.key).then(|| entry.key.clone());
                    out.add_service(service, env_var, cx.evidence(file, line, "env.example.name"));
                }
            }
        }
    }
}

/// One `KEY=value` assignment of a dotenv file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnvEntry {
    pub key: String,
    /// The value with quotes removed and, when unquoted, trailing comments stripped.
    pub value: String,
    /// 1-based line of the key.
    pub line: u32,
}

/// Parse dotenv text: comments, blank lines, `export KEY=…`, single, double and multi-line
/// double-quoted values. Lines that are not assignments are skipped.
pub(super) fn parse_env(text: &str) -> Vec<EnvEntry> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else { continue };
        let key = key.trim();
        let valid_key = key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !valid_key {
            continue;
        }
        let rest = rest.trim();
        let value = if let Some(body) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut current = body.to_owned();
            loop {
                if let Some(end) = closing_quote(&current) {
                    value.push_str(&current[..end]);
                    break;
                }
                value.push_str(&current);
                match lines.next() {
                    Some((_, next)) => {
                        value.push('\n');
                        current = next.to_owned();
                    }
                    None => break,
                }
            }
            value.replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(body) = rest.strip_prefix('\'') {
            body.split('\'').next().unwrap_or(body).to_owned()
        } else {
            let end = rest.find(" #").unwrap_or(rest.len());
            rest[..end].trim().to_owned()
        };
        out.push(EnvEntry { key: key.to_owned(), value, line: i as u32 + 1 });
    }
    out
}

/// Byte index of the first `"` not escaped by a backslash.
fn closing_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b'"' && (i == 0 || bytes[i - 1] != b'\\'))
}

/// Whether an example value is there only to be replaced (`changeme`, `your-api-key`, `<token>`).
fn is_placeholder(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    v.is_empty()
        || v.contains("changeme")
        || v.contains("change_me")
        || v.contains("change-me")
        || v.contains("replace_me")
        || v.contains("replace-me")
        || v.starts_with("your-")
        || v.starts_with("your_")
        || v.starts_with("your ")
        || v.contains("...")
        || v.contains('…')
        || v.contains("${")
        || (v.len() >= 3 && v.bytes().all(|b| b == b'x' || b == b'*'))
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with('{') && v.ends_with('}'))
        || (v.starts_with('[') && v.ends_with(']'))
        || matches!(v.as_str(), "todo" | "tbd" | "null" | "none" | "secret" | "password" | "xxx")
}

/// Names whose value is a whole connection string, not a host or a port.
fn is_url_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    ["_URL", "_URI", "_DSN", "_CONNECTION_STRING"].iter().any(|s| k.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::testing::{detect_files, odd_inputs, project};
    use crate::plan::ServiceKind;

    #[test]
    fn parses_dotenv_forms() {
        let text = "# comment\n\nexport A=1\nB = \"two words\" \nC='single # not a comment'\nD=plain # comment\nE=\"multi\nline\"\n1BAD=x\nnot an assignment\nF=\n";
        let got: Vec<_> = parse_env(text).into_iter().map(|e| (e.key, e.value, e.line)).collect();
        assert_eq!(
            got,
            [
                ("A".into(), "1".into(), 3),
                ("B".into(), "two words".into(), 4),
                ("C".into(), "single # not a comment".into(), 5),
                ("D".into(), "plain".into(), 6),
                ("E".into(), "multi\nline".into(), 7),
                ("F".into(), String::new(), 11),
            ]
        );
    }

    #[test]
    fn placeholders_are_not_defaults() {
        for v in ["", "changeme", "your-api-key", "xxx", "<token>", "{secret}", "...", "${OTHER}", "sk_live_..."] {
            assert!(is_placeholder(v), "{v}");
        }
        for v in ["3000", "development", "http://localhost:8080", "true", "info"] {
            assert!(!is_placeholder(v), "{v}");
        }
    }

    #[test]
    fn example_values_and_services() {
        let d = detect_files(&[
            ("package.json", "{\"name\": \"app\"}"),
            (
                ".env.example",
                "PORT=3000\nDATABASE_URL=postgres://app:app@localhost:5432/app\nREDIS_HOST=localhost\nAPI_KEY=your-api-key\nexport LOG_LEVEL=\"debug\"\n",
            ),
        ]);
        let p = project(&d, ".");
        let env = |n: &str| p.env_vars.iter().find(|e| e.name == n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(env("PORT").default.as_deref(), Some("3000"));
        assert_eq!(env("API_KEY").default, None);
        assert_eq!(env("LOG_LEVEL").default.as_deref(), Some("debug"));
        assert_eq!(env("LOG_LEVEL").evidence[0].line, Some(5));
        assert_eq!(env("LOG_LEVEL").evidence[0].rule, "env.example");
        let pg = p.services.iter().find(|s| s.service == ServiceKind::Postgres).unwrap();
        assert_eq!(pg.env_var.as_deref(), Some("DATABASE_URL"));
        assert_eq!(pg.evidence[0].rule, "env.example.url");
        let redis = p.services.iter().find(|s| s.service == ServiceKind::Redis).unwrap();
        assert_eq!(redis.env_var, None);
        assert_eq!(redis.evidence[0].line, Some(3));
    }

    #[test]
    fn other_spellings_and_the_real_env_file() {
        let d = detect_files(&[
            ("go.mod", "module x\n"),
            ("example.env", "MONGO_URL=\n"),
            (".env", "SECRET_FROM_USER=hunter2\n"),
        ]);
        let p = project(&d, ".");
        assert!(p.env_vars.iter().all(|e| e.name != "SECRET_FROM_USER"));
        let mongo = p.services.iter().find(|s| s.service == ServiceKind::Mongodb).unwrap();
        assert_eq!(mongo.env_var.as_deref(), Some("MONGO_URL"));
        assert_eq!(mongo.evidence[0].rule, "env.example.name");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in odd_inputs() {
            let lines = input.lines().count() as u32;
            for entry in parse_env(&input) {
                assert!(!entry.key.is_empty() && (1..=lines).contains(&entry.line), "{input:?}");
                let _ = is_placeholder(&entry.value);
            }
        }
    }
}
