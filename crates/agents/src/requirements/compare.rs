//! Whether an installed runtime version satisfies a constraint as written, with each
//! ecosystem's own rules: npm ranges and nvm aliases for Node, PEP 440 (and Poetry's caret
//! and tilde) for Python, toolchain channels and minimums for Rust, minimums for Go and Java,
//! RubyGems requirements for Ruby, Composer constraints for PHP.
//!
//! A constraint that cannot be read is [`Match::Unknown`], never an error: the plan shows it
//! as written.

use std::str::FromStr;

use crate::plan::Runtime;

use super::versions::Constraint;

/// The answer for one constraint and one installed version, with a note for people when the
/// answer needs one (a loose reading of an exact pin, a toolchain `go` would download).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Yes(Option<String>),
    No(Option<String>),
    Unknown,
}

/// Match an installed version (as the host reports it) against a constraint.
pub fn matches(c: &Constraint, installed: &str) -> Match {
    let text = c.text.trim();
    match c.runtime {
        Runtime::Node => node(text, c.pin, installed),
        Runtime::Bun => semver_range(text, c.pin, installed, 2),
        Runtime::Python => python(text, c.pin, installed),
        Runtime::Rust if c.pin => rust_channel(text, installed),
        Runtime::Rust => minimum(text, installed, None),
        Runtime::Go => {
            let note = (c.evidence.rule == "go.version.toolchain")
                .then(|| format!("go.mod asks for toolchain {text}: with GOTOOLCHAIN=auto `go` tries to download it"));
            minimum(text.trim_start_matches("go"), installed, note)
        }
        Runtime::Ruby => ruby(text, c.pin, installed),
        Runtime::Java => java(text, installed),
        Runtime::Php => php(text, installed),
    }
}

/// The numeric release of a version string: `1.95.0-nightly` → `[1, 95, 0]`, `1.8.0_381` →
/// `[1, 8, 0]`, `3.13.0rc1` → `[3, 13, 0]`. `None` when it does not start with a number.
pub fn release(version: &str) -> Option<Vec<u64>> {
    let v = version.trim().trim_start_matches(['v', 'V']);
    let mut parts = Vec::new();
    for part in v.split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        parts.push(digits.parse().ok()?);
        if digits.len() != part.len() {
            break;
        }
    }
    (!parts.is_empty()).then_some(parts)
}

fn cmp_release(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

fn yes_no(ok: bool) -> Match {
    if ok { Match::Yes(None) } else { Match::No(None) }
}

/// An exact pin from a version manager's file, read loosely: the first `keep` numbers must
/// agree (a `.nvmrc` of `20.11.0` is satisfied by any Node 20, with a note).
fn loose_pin(text: &str, installed: &str, keep: usize) -> Option<Match> {
    let want = release(text)?;
    let have = release(installed)?;
    if want.len() < 3 || text.trim().trim_start_matches(['v', 'V']).contains(|c: char| !c.is_ascii_digit() && c != '.')
    {
        return None;
    }
    if want == have[..have.len().min(want.len())] {
        return Some(Match::Yes(None));
    }
    let same = want.len() >= keep && have.len() >= keep && want[..keep] == have[..keep];
    let line = want[..keep].iter().map(u64::to_string).collect::<Vec<_>>().join(".");
    Some(if same {
        Match::Yes(Some(format!("pinned to {text}; the host's {installed} is the same {line} line")))
    } else {
        Match::No(None)
    })
}

/// Node: nvm aliases (`node`, `lts/*`, `lts/hydrogen`), then npm ranges.
fn node(text: &str, pin: bool, installed: &str) -> Match {
    let lower = text.to_ascii_lowercase();
    let major = release(installed).and_then(|r| r.first().copied());
    match lower.as_str() {
        "node" | "stable" | "latest" | "current" | "*" => return Match::Yes(None),
        "lts/*" | "lts" | "lts/-1" => {
            return match major {
                Some(m) => {
                    if m % 2 == 0 && m >= 4 {
                        Match::Yes(None)
                    } else {
                        Match::No(Some(format!("{text} means an LTS line (an even major); {installed} is not one")))
                    }
                }
                None => Match::Unknown,
            };
        }
        _ => {}
    }
    if let Some(name) = lower.strip_prefix("lts/") {
        let Some(want) = lts_major(name) else { return Match::Unknown };
        return match major {
            Some(m) => yes_no(m == want),
            None => Match::Unknown,
        };
    }
    if let Some(m) = loose_pin(text, installed, 1).filter(|_| pin) {
        return m;
    }
    semver_range(text, false, installed, 1)
}

/// The Node major of an LTS codename.
fn lts_major(name: &str) -> Option<u64> {
    Some(match name {
        "argon" => 4,
        "boron" => 6,
        "carbon" => 8,
        "dubnium" => 10,
        "erbium" => 12,
        "fermium" => 14,
        "gallium" => 16,
        "hydrogen" => 18,
        "iron" => 20,
        "jod" => 22,
        "krypton" => 24,
        _ => return None,
    })
}

/// An npm-style range (node-semver), the installed version reduced to `major.minor.patch`.
fn semver_range(text: &str, pin: bool, installed: &str, keep: usize) -> Match {
    if let Some(m) = loose_pin(text, installed, keep).filter(|_| pin) {
        return m;
    }
    let Ok(range) = node_semver::Range::parse(npm_partials(text)) else { return Match::Unknown };
    match semver_version(installed) {
        Some(v) => yes_no(range.satisfies(&v)),
        None => Match::Unknown,
    }
}

/// npm reads a partial version after `<=` or `>` as the whole line (`<=18` is `<19.0.0-0`);
/// node-semver reads it as `<=18.0.0`. Rewrite those clauses so both agree.
fn npm_partials(text: &str) -> String {
    let alternatives: Vec<String> = text
        .split("||")
        .map(|alt| {
            let clauses: Vec<String> = clauses_of(alt)
                .into_iter()
                .map(|clause| {
                    let (op, v) = split_op(&clause);
                    let v = v.trim_start_matches(['v', 'V']);
                    let numeric = !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.');
                    match release(v) {
                        Some(r) if numeric && r.len() < 3 && (op == "<=" || op == ">") => {
                            let mut up = r.clone();
                            if let Some(last) = up.last_mut() {
                                *last += 1;
                            }
                            format!("{}{}", if op == "<=" { "<" } else { ">=" }, join(&up))
                        }
                        _ => clause,
                    }
                })
                .collect();
            clauses.join(" ")
        })
        .collect();
    alternatives.join(" || ")
}

fn semver_version(installed: &str) -> Option<node_semver::Version> {
    let r = release(installed)?;
    node_semver::Version::parse(format!("{}.{}.{}", r[0], r.get(1).unwrap_or(&0), r.get(2).unwrap_or(&0))).ok()
}

/// Python: PEP 440 specifiers, bare versions (`3.11` means any 3.11.x), Poetry's `^`, `~`
/// and `||`, and pyenv-style names (`python-3.11.4`, `cpython-3.12`).
fn python(text: &str, pin: bool, installed: &str) -> Match {
    let text = text.trim().trim_start_matches("python-").trim_start_matches("cpython-");
    if text == "*" {
        return Match::Yes(None);
    }
    if let Some(m) = loose_pin(text, installed, 2).filter(|_| pin) {
        return m;
    }
    let Some(have) = release(installed) else { return Match::Unknown };
    let Ok(version) = pep440_rs::Version::from_str(&join(&have)) else { return Match::Unknown };
    let mut understood = false;
    for alternative in text.split("||") {
        let Some(spec) = pep440_of(alternative) else { continue };
        let Ok(spec) = pep440_rs::VersionSpecifiers::from_str(&spec) else { continue };
        understood = true;
        if spec.contains(&version) {
            return Match::Yes(None);
        }
    }
    if understood { Match::No(None) } else { Match::Unknown }
}

fn join(release: &[u64]) -> String {
    release.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// One alternative of a Python constraint as a PEP 440 specifier list.
fn pep440_of(text: &str) -> Option<String> {
    let mut clauses = Vec::new();
    for clause in clauses_of(text) {
        let (op, v) = split_op(&clause);
        let r = release(v)?;
        if v.trim_end_matches(".*").contains(|c: char| !c.is_ascii_digit() && c != '.') {
            // A pre-release or local version: let PEP 440 read it as written.
            clauses.push(clause.clone());
            continue;
        }
        let clause = match op {
            "^" => format!(">={},<{}", join(&r), join(&caret_upper(&r))),
            "~" => format!(">={},<{}", join(&r), join(&tilde_upper(&r))),
            "" if v.ends_with(".*") => format!("=={v}"),
            "" | "==" | "=" if r.len() < 3 && !v.ends_with(".*") => format!("=={}.*", join(&r)),
            "" | "=" => format!("=={}", join(&r)),
            _ => clause.clone(),
        };
        clauses.push(clause);
    }
    (!clauses.is_empty()).then(|| clauses.join(","))
}

/// Clauses of a constraint separated by commas or spaces, operators kept with their
/// versions (`>= 3.9, < 3.13` → `>=3.9`, `<3.13`).
fn clauses_of(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
        match out.last_mut() {
            Some(last) if last.chars().all(|c| "<>=!~^".contains(c)) => last.push_str(word),
            _ => out.push(word.to_owned()),
        }
    }
    out
}

fn split_op(clause: &str) -> (&str, &str) {
    let i = clause.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(clause.len());
    (&clause[..i], clause[i..].trim())
}

/// Poetry and npm caret: the next change of the first non-zero number.
fn caret_upper(r: &[u64]) -> Vec<u64> {
    let i = r.iter().position(|&n| n != 0).unwrap_or(r.len() - 1);
    let mut up = r[..=i].to_vec();
    up[i] += 1;
    up
}

/// Poetry tilde: `~3.10` → `<3.11`, `~3` → `<4`.
fn tilde_upper(r: &[u64]) -> Vec<u64> {
    let i = if r.len() >= 2 { 1 } else { 0 };
    let mut up = r[..=i].to_vec();
    up[i] += 1;
    up
}

/// `installed >= minimum`, for Go, Rust's `rust-version` and Java.
fn minimum(text: &str, installed: &str, note: Option<String>) -> Match {
    let (Some(want), Some(have)) = (release(text), release(installed)) else { return Match::Unknown };
    if cmp_release(&have, &want).is_ge() { Match::Yes(None) } else { Match::No(note) }
}

/// Rust toolchain channels on a host without rustup (or for the rustc on PATH): `stable`,
/// `beta`, `nightly[-DATE]`, `1.75`, `1.75.0`.
fn rust_channel(text: &str, installed: &str) -> Match {
    let channel = text.trim();
    let nightly = installed.contains("nightly");
    let beta = installed.contains("beta");
    if channel == "stable" {
        return if nightly || beta {
            Match::Yes(Some(format!("stable is pinned; the host's rustc is {installed}")))
        } else {
            Match::Yes(None)
        };
    }
    if channel == "nightly" || channel == "beta" {
        return yes_no(installed.contains(channel));
    }
    if let Some(date) = channel.strip_prefix("nightly-") {
        return if nightly {
            Match::Yes(Some(format!("nightly from {date} is pinned; the host's nightly may be of another date")))
        } else {
            Match::No(None)
        };
    }
    let Some(want) = release(channel) else { return Match::Unknown };
    if channel.contains(|c: char| !c.is_ascii_digit() && c != '.') {
        return Match::Unknown;
    }
    let Some(have) = release(installed) else { return Match::Unknown };
    yes_no(!nightly && !beta && have.len() >= want.len() && have[..want.len()] == want[..])
}

/// Ruby: `.ruby-version` names (`ruby-3.2.2`, `3.2`) and RubyGems requirements from the
/// Gemfile (`3.2.2`, `~> 3.2`, `>= 3.0, < 3.4`). Bundler enforces the Gemfile's exact
/// version to the patch; a version-manager pin is read on `major.minor`.
fn ruby(text: &str, pin: bool, installed: &str) -> Match {
    let text = text.trim().trim_start_matches("ruby-");
    if let Some(m) = loose_pin(text, installed, 2).filter(|_| pin) {
        return m;
    }
    let Some(have) = release(installed) else { return Match::Unknown };
    for clause in text.split(',') {
        let (op, v) = split_op(clause.trim());
        let Some(want) = release(v) else { return Match::Unknown };
        let ord = cmp_release(&have, &want);
        let ok = match op {
            "" | "=" => have.len() >= want.len() && have[..want.len()] == want[..],
            "!=" => ord.is_ne(),
            ">" => ord.is_gt(),
            ">=" => ord.is_ge(),
            "<" => ord.is_lt(),
            "<=" => ord.is_le(),
            "~>" => {
                // `~> 3.2` allows 3.x from 3.2; `~> 3.2.1` allows 3.2.x from 3.2.1.
                let keep = want.len().saturating_sub(1).max(1);
                ord.is_ge() && have.len() >= keep && have[..keep] == want[..keep]
            }
            _ => return Match::Unknown,
        };
        if !ok {
            return Match::No(None);
        }
    }
    Match::Yes(None)
}

/// Java: the feature release is a minimum (a JDK 21 compiles and runs `release 17` code).
/// `1.8` means 8; vendor prefixes and suffixes (`temurin-17.0.9+9`, `17.0.9-tem`) are dropped.
fn java(text: &str, installed: &str) -> Match {
    let (Some(want), Some(have)) = (java_major(text), java_major(installed)) else { return Match::Unknown };
    yes_no(have >= want)
}

fn java_major(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let r = release(&text[start..])?;
    Some(if r[0] == 1 && r.len() > 1 { r[1] } else { r[0] })
}

/// PHP: Composer constraints, read as npm ranges after Composer's differences are rewritten:
/// `|` is `||`, commas are AND, `~8.2` means `>=8.2 <9`, stability flags (`@dev`) go.
fn php(text: &str, installed: &str) -> Match {
    let mut alternatives = Vec::new();
    for alt in text.split('|').filter(|a| !a.trim().is_empty()) {
        let mut clauses = Vec::new();
        for clause in clauses_of(alt) {
            let clause = clause.split('@').next().unwrap_or("").to_owned();
            let (op, v) = split_op(&clause);
            match (op, release(v)) {
                ("~", Some(r)) if r.len() == 2 => clauses.push(format!(">={}.{} <{}", r[0], r[1], r[0] + 1)),
                _ if !clause.is_empty() => clauses.push(clause),
                _ => {}
            }
        }
        alternatives.push(clauses.join(" "));
    }
    semver_range(&alternatives.join(" || "), false, installed, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Evidence;

    fn c(runtime: Runtime, text: &str, pin: bool, rule: &str) -> Constraint {
        Constraint { runtime, text: text.into(), pin, evidence: Evidence::new("f", Some(1), rule) }
    }

    fn check(runtime: Runtime, pin: bool, text: &str, installed: &str) -> Match {
        matches(&c(runtime, text, pin, "test"), installed)
    }

    fn is_yes(m: &Match) -> bool {
        matches!(m, Match::Yes(_))
    }

    /// `(constraint, installed, expected)` where expected is `Some(true)` (matches),
    /// `Some(false)` (does not), `None` (not understood).
    fn table(runtime: Runtime, pin: bool, cases: &[(&str, &str, Option<bool>)]) {
        for (text, installed, want) in cases {
            let got = check(runtime, pin, text, installed);
            let got_b = match got {
                Match::Yes(_) => Some(true),
                Match::No(_) => Some(false),
                Match::Unknown => None,
            };
            assert_eq!(got_b, *want, "{runtime} {text:?} vs {installed}: {got:?}");
        }
    }

    #[test]
    fn release_numbers() {
        assert_eq!(release("v20.11.0"), Some(vec![20, 11, 0]));
        assert_eq!(release("1.95.0-nightly"), Some(vec![1, 95, 0]));
        assert_eq!(release("1.8.0_381"), Some(vec![1, 8, 0]));
        assert_eq!(release("3.13.0rc1"), Some(vec![3, 13, 0]));
        assert_eq!(release("system"), None);
    }

    #[test]
    fn node_version_files() {
        table(
            Runtime::Node,
            true,
            &[
                ("20", "20.11.0", Some(true)),
                ("20", "21.0.0", Some(false)),
                ("v20.11.0", "20.11.0", Some(true)),
                ("v20.11.0", "20.19.5", Some(true)),
                ("20.11.0", "18.19.0", Some(false)),
                ("18.x", "18.20.1", Some(true)),
                ("lts/*", "20.11.0", Some(true)),
                ("lts/*", "21.7.0", Some(false)),
                ("lts/hydrogen", "18.19.0", Some(true)),
                ("lts/hydrogen", "20.11.0", Some(false)),
                ("lts/iron", "20.11.0", Some(true)),
                ("lts/jod", "22.1.0", Some(true)),
                ("lts/unknown-name", "20.11.0", None),
                ("node", "23.1.0", Some(true)),
                ("stable", "16.0.0", Some(true)),
                ("iojs", "20.0.0", None),
            ],
        );
        let note = check(Runtime::Node, true, "v20.11.0", "20.19.5");
        assert!(matches!(&note, Match::Yes(Some(n)) if n.contains("20 line")), "{note:?}");
    }

    #[test]
    fn node_engines_ranges() {
        table(
            Runtime::Node,
            false,
            &[
                (">=18 <21", "20.11.0", Some(true)),
                (">=18 <21", "21.0.0", Some(false)),
                (">=18 <21", "16.20.2", Some(false)),
                ("^20", "20.0.0", Some(true)),
                ("^20", "22.0.0", Some(false)),
                (">= 18.0.0", "20.11.0", Some(true)),
                ("18.x || 20.x", "20.5.1", Some(true)),
                ("18.x || 20.x", "22.5.1", Some(false)),
                ("~20.11", "20.11.9", Some(true)),
                ("~20.11", "20.12.0", Some(false)),
                (">=18.17.0", "18.16.0", Some(false)),
                ("*", "12.0.0", Some(true)),
                ("20.11.0", "20.12.0", Some(false)),
                ("please use node", "20.11.0", None),
                ("^18.17.0 || >=20.3.0", "20.11.0", Some(true)),
                ("^18.17.0 || >=20.3.0", "18.16.1", Some(false)),
                ("v20", "20.11.0", Some(true)),
                ("20.11", "20.11.1", Some(true)),
                ("20.11", "20.12.0", Some(false)),
                (">=16.0.0 <=18", "18.20.4", Some(true)),
                (">=16.0.0 <=18", "19.0.0", Some(false)),
                (">18", "18.20.4", Some(false)),
                (">18", "19.0.0", Some(true)),
                ("<=20.11", "20.11.5", Some(true)),
                ("16 - 20", "20.9.0", Some(true)),
                ("16 - 20", "21.0.0", Some(false)),
            ],
        );
    }

    #[test]
    fn python_constraints() {
        table(
            Runtime::Python,
            false,
            &[
                (">=3.9,<3.13", "3.11.7", Some(true)),
                (">=3.9,<3.13", "3.13.0", Some(false)),
                (">=3.9,<3.13", "3.8.18", Some(false)),
                (">=3.9, <3.13", "3.12.1", Some(true)),
                (">= 3.9", "3.10.13", Some(true)),
                ("~=3.10", "3.12.1", Some(true)),
                ("~=3.10", "4.0.0", Some(false)),
                ("~=3.10.2", "3.11.0", Some(false)),
                ("^3.10", "3.12.1", Some(true)),
                ("^3.10", "3.9.18", Some(false)),
                ("^3.10", "4.0", Some(false)),
                ("~3.10", "3.10.13", Some(true)),
                ("~3.10", "3.11.7", Some(false)),
                (">=3.8 <3.12", "3.11.7", Some(true)),
                ("^3.8 || ^4.0", "3.11.7", Some(true)),
                ("3.11", "3.11.7", Some(true)),
                ("3.11", "3.12.1", Some(false)),
                ("3.11.*", "3.11.2", Some(true)),
                ("==3.11.*", "3.12.0", Some(false)),
                ("3.11.4", "3.11.7", Some(false)),
                ("*", "2.7.18", Some(true)),
                (">3.9", "3.9.0", Some(false)),
                ("!=3.9.*,>=3.8", "3.9.1", Some(false)),
                ("system", "3.11.2", None),
                ("pypy3.10-7.3.12", "3.10.13", None),
                ("blah", "3.11.2", None),
                (">=3.8.1,<4.0", "3.12.1", Some(true)),
                ("^3.8.1", "3.8.0", Some(false)),
                ("~=3.11.0", "3.11.7", Some(true)),
                (">=3.9.0, <3.12.0", "3.12.0", Some(false)),
                ("3.10.*", "3.10.13", Some(true)),
            ],
        );
    }

    #[test]
    fn python_version_files() {
        table(
            Runtime::Python,
            true,
            &[
                ("3.11", "3.11.7", Some(true)),
                ("3.11.4", "3.11.7", Some(true)),
                ("3.11.7", "3.11.7", Some(true)),
                ("3.10.4", "3.11.7", Some(false)),
                ("python-3.12.1", "3.12.1", Some(true)),
                ("3", "3.11.7", Some(true)),
                ("3.12", "3.13.0rc1", Some(false)),
                ("miniconda3-latest", "3.11.7", None),
            ],
        );
    }

    #[test]
    fn rust_channels() {
        table(
            Runtime::Rust,
            true,
            &[
                ("stable", "1.95.0", Some(true)),
                ("stable", "1.96.0-nightly", Some(true)),
                ("nightly", "1.96.0-nightly", Some(true)),
                ("nightly", "1.95.0", Some(false)),
                ("beta", "1.96.0-beta.3", Some(true)),
                ("nightly-2024-01-01", "1.96.0-nightly", Some(true)),
                ("nightly-2024-01-01", "1.95.0", Some(false)),
                ("1.75", "1.75.0", Some(true)),
                ("1.75", "1.75.2", Some(true)),
                ("1.75", "1.95.0", Some(false)),
                ("1.75.0", "1.75.0", Some(true)),
                ("1.75.0", "1.75.1", Some(false)),
                ("1.95", "1.95.0-nightly", Some(false)),
                ("my-custom-toolchain", "1.95.0", None),
            ],
        );
    }

    #[test]
    fn rust_version_minimum() {
        table(
            Runtime::Rust,
            false,
            &[
                ("1.70", "1.95.0", Some(true)),
                ("1.70.0", "1.70.0", Some(true)),
                ("1.96", "1.95.0", Some(false)),
                ("1.80", "1.79.0", Some(false)),
                ("latest", "1.95.0", None),
            ],
        );
    }

    #[test]
    fn go_minimums() {
        table(
            Runtime::Go,
            false,
            &[
                ("1.21", "1.22.1", Some(true)),
                ("1.21", "1.21.0", Some(true)),
                ("1.22.1", "1.22.0", Some(false)),
                ("1.23", "1.22.5", Some(false)),
                ("1.22", "1.23rc1", Some(true)),
                ("go1.22.1", "1.22.1", Some(true)),
            ],
        );
        let m = matches(&c(Runtime::Go, "go1.23.0", false, "go.version.toolchain"), "1.22.1");
        assert!(matches!(&m, Match::No(Some(n)) if n.contains("GOTOOLCHAIN")), "{m:?}");
    }

    #[test]
    fn ruby_requirements() {
        table(
            Runtime::Ruby,
            false,
            &[
                ("3.2.2", "3.2.2", Some(true)),
                ("3.2.2", "3.2.3", Some(false)),
                ("~> 3.2", "3.3.0", Some(true)),
                ("~> 3.2", "4.0.0", Some(false)),
                ("~> 3.2.1", "3.2.5", Some(true)),
                ("~> 3.2.1", "3.3.0", Some(false)),
                (">= 3.0, < 3.4", "3.3.0", Some(true)),
                (">= 3.0, < 3.4", "3.4.1", Some(false)),
                (">= 3.1", "3.0.6", Some(false)),
                ("3.2", "3.2.2", Some(true)),
                ("=~ 3", "3.2.2", None),
            ],
        );
        table(
            Runtime::Ruby,
            true,
            &[
                ("ruby-3.2.2", "3.2.2", Some(true)),
                ("3.2.2", "3.2.4", Some(true)),
                ("3.2.2", "3.3.0", Some(false)),
                ("3.3", "3.3.0", Some(true)),
                ("3.4.0preview1", "3.4.0preview1", Some(true)),
            ],
        );
    }

    #[test]
    fn java_minimum_majors() {
        table(
            Runtime::Java,
            false,
            &[
                ("17", "17.0.9", Some(true)),
                ("17", "21", Some(true)),
                ("21", "17.0.9", Some(false)),
                ("1.8", "1.8.0_381", Some(true)),
                ("1.8", "11.0.2", Some(true)),
                ("11", "1.8.0_381", Some(false)),
                ("temurin-17.0.9+9", "17.0.1", Some(true)),
                ("17.0.9-tem", "11.0.20", Some(false)),
                ("openjdk-21", "21.0.1", Some(true)),
                ("latest", "21", None),
            ],
        );
    }

    #[test]
    fn php_composer_constraints() {
        table(
            Runtime::Php,
            false,
            &[
                ("^8.1", "8.2.7", Some(true)),
                ("^8.1", "8.0.30", Some(false)),
                (">=7.4", "8.3.0", Some(true)),
                ("~8.2", "8.9.0", Some(true)),
                ("~8.2", "9.0.0", Some(false)),
                ("~8.2.0", "8.3.0", Some(false)),
                ("8.1.*", "8.1.27", Some(true)),
                ("^7.4 || ^8.0", "8.2.7", Some(true)),
                ("^7.4|^8.0", "7.3.33", Some(false)),
                (">=8.1 <8.4", "8.4.1", Some(false)),
                (">=8.1,<8.4", "8.3.1", Some(true)),
                ("^8.1@dev", "8.2.0", Some(true)),
                ("^8.0.2", "8.0.1", Some(false)),
                ("8.*", "8.3.4", Some(true)),
                ("~7.4.0|~8.0.0", "8.0.30", Some(true)),
                ("dev-master", "8.2.7", None),
            ],
        );
        // The host's own suffix is ignored.
        assert!(is_yes(&check(Runtime::Php, false, "^8.1", "8.2.7-1+ubuntu22.04.1")));
    }

    #[test]
    fn garbage_is_unknown_or_an_answer_never_a_panic() {
        let garbage = [
            "",
            " ",
            "^",
            "~",
            ">=",
            "||",
            "v",
            ".",
            "..",
            "1..2",
            "-1",
            "\u{e9}\u{1f600}",
            "99999999999999999999999",
            ">=3.9,,<",
            "^0",
            "~>",
            "= ",
            "lts/",
            "nightly-",
            "1.2.3.4.5.6",
            "go",
            "x.y.z",
            ">=1 <",
            "*.*",
            "|",
        ];
        for runtime in Runtime::ALL {
            for pin in [true, false] {
                for text in garbage {
                    for installed in ["20.11.0", "", "garbage", "1", "\u{1f600}"] {
                        let _ = check(*runtime, pin, text, installed);
                    }
                }
            }
        }
        assert_eq!(check(Runtime::Python, false, "^", "3.11.7"), Match::Unknown);
        assert_eq!(check(Runtime::Node, true, "\u{e9}", "20.11.0"), Match::Unknown);
    }

    #[test]
    fn bun_ranges() {
        table(Runtime::Bun, false, &[(">=1.0", "1.1.42", Some(true)), ("^1.2", "1.1.0", Some(false))]);
        table(Runtime::Bun, true, &[("1.1.0", "1.1.42", Some(true)), ("1.1.0", "1.2.0", Some(false))]);
    }
}
