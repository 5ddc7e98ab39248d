//! Linkers a project's Cargo configuration names: `linker = "clang"` and `rustflags` with
//! `-C link-arg=-fuse-ld=lld` (or `-Clink-arg=-fuse-ld=mold`, `-C linker=…`) in
//! `.cargo/config.toml` or `.cargo/config`, under `[build]` or a `[target.…]` table that applies
//! to this host. The build fails without them, so they are system packages at plan time, each
//! with the program Setup looks for on `PATH` before anything is built.
//!
//! Cargo reads the configuration of the project's directory and every directory above it; the
//! nearest `linker` wins, and `[target]` rustflags replace `[build]` ones, as in Cargo.

use toml::Value;

use super::read_toml;
use crate::plan::{Evidence, SystemPackage};
use crate::repo::{RepoView, join, self_and_ancestors};

/// A program the configuration names, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// What the build runs: `clang`, `ld.lld`, `mold`, or an absolute path.
    pub program: String,
    /// The Debian package that provides it.
    pub apt: &'static str,
    /// How the configuration names it: `linker = "clang"`, `-fuse-ld=lld`.
    pub how: String,
    pub file: String,
    pub line: Option<u32>,
}

/// The system packages the linkers named in the Cargo configuration of `project_dir` need.
pub fn system_packages(repo: &RepoView, project_dir: &str) -> Vec<SystemPackage> {
    named(repo, project_dir)
        .into_iter()
        .map(|n| SystemPackage {
            apt: n.apt.to_owned(),
            reason: format!(
                "{} ({}{}) makes the build run {}",
                n.how,
                n.file,
                n.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                n.program
            ),
            evidence: Evidence::new(n.file, n.line, "rust.cargo-config.linker"),
            program: Some(n.program),
        })
        .collect()
}

/// The linker programs named for this host, nearest configuration first, each program once.
pub fn named(repo: &RepoView, project_dir: &str) -> Vec<Named> {
    let mut linker: Option<Named> = None;
    let mut target_flags: Vec<Named> = Vec::new();
    let mut build_flags: Vec<Named> = Vec::new();
    for dir in self_and_ancestors(project_dir) {
        // Cargo prefers `config` when both exist (and warns).
        let file = ["config", "config.toml"]
            .iter()
            .map(|name| join(dir, &format!(".cargo/{name}")))
            .find(|path| repo.exists(path));
        let Some(file) = file else { continue };
        let Some((text, config)) = read_toml(repo, &file) else { continue };
        for (key, table) in config.get("target").and_then(Value::as_table).into_iter().flatten() {
            if !applies_to_host(key) {
                continue;
            }
            if let Some(program) = table.get("linker").and_then(Value::as_str) {
                if linker.is_none() {
                    linker = from_program(program, format!("linker = \"{program}\""), &file, &text);
                }
            }
            target_flags.extend(from_rustflags(table.get("rustflags"), &file, &text));
        }
        let build = config.get("build").and_then(Value::as_table);
        build_flags.extend(from_rustflags(build.and_then(|b| b.get("rustflags")), &file, &text));
    }
    let flags = if target_flags.is_empty() { build_flags } else { target_flags };
    let mut out: Vec<Named> = Vec::new();
    for n in linker.into_iter().chain(flags) {
        if !out.iter().any(|o| o.program == n.program) {
            out.push(n);
        }
    }
    out
}

/// `-C linker=…` and `-fuse-ld=…` inside `-C link-arg(s)=…`, from an array or a string.
fn from_rustflags(value: Option<&Value>, file: &str, text: &str) -> Vec<Named> {
    let tokens: Vec<String> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => return Vec::new(),
    };
    // `-C x` and `-Cx` (and `--codegen x`) are the same codegen option.
    let mut options: Vec<&str> = Vec::new();
    let mut iter = tokens.iter();
    while let Some(token) = iter.next() {
        match token.as_str() {
            "-C" | "--codegen" => options.extend(iter.next().map(String::as_str)),
            t => options.extend(t.strip_prefix("-C").or_else(|| t.strip_prefix("--codegen="))),
        }
    }
    let mut out = Vec::new();
    for option in options {
        if let Some(program) = option.strip_prefix("linker=") {
            out.extend(from_program(program, format!("-C linker={program}"), file, text));
        }
        let args = option.strip_prefix("link-arg=").or_else(|| option.strip_prefix("link-args="));
        for arg in args.into_iter().flat_map(str::split_whitespace) {
            if let Some(name) = arg.strip_prefix("-fuse-ld=") {
                out.extend(from_fuse_ld(name, file, text));
            }
        }
    }
    out
}

/// `-fuse-ld=NAME`: the compiler driver runs `ld.NAME` (or the path given).
fn from_fuse_ld(name: &str, file: &str, text: &str) -> Option<Named> {
    let how = format!("-fuse-ld={name}");
    let line = line_of(text, &how);
    let (program, apt) = if name.starts_with('/') {
        (name.to_owned(), package_for(base_name(name))?)
    } else {
        let program = match name {
            // mold's package has `mold` for certain (ld.mold is a link beside it).
            "mold" => "mold".to_owned(),
            other => format!("ld.{other}"),
        };
        let apt = package_for(&program)?;
        (program, apt)
    };
    Some(Named { program, apt, how, file: file.to_owned(), line })
}

/// A linker named as a program (`linker = "clang"`, `-C linker=/usr/bin/clang`).
fn from_program(program: &str, how: String, file: &str, text: &str) -> Option<Named> {
    // A relative path is a script of the repository's own, no system package.
    if program.contains('/') && !program.starts_with('/') {
        return None;
    }
    let apt = package_for(base_name(program))?;
    let line = text.lines().position(|l| l.contains("linker") && l.contains(program)).map(|i| i as u32 + 1);
    Some(Named { program: program.to_owned(), apt, how, file: file.to_owned(), line })
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The Debian package of a linker or compiler driver.
fn package_for(program: &str) -> Option<&'static str> {
    let versioned = |prefix: &str| {
        program.strip_prefix(prefix).is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
    };
    Some(match program {
        "clang" | "clang++" => "clang",
        "ld.lld" | "lld" | "ld64.lld" => "lld",
        "mold" | "ld.mold" => "mold",
        "ld.gold" | "gold" | "ld.bfd" | "bfd" | "ld" => "binutils",
        "gcc" | "cc" | "g++" | "c++" => "build-essential",
        _ if versioned("clang-") => "clang",
        _ if versioned("lld-") || versioned("ld.lld-") => "lld",
        _ => return None,
    })
}

/// The 1-based line of the first mention of `needle`, for evidence.
fn line_of(text: &str, needle: &str) -> Option<u32> {
    text.lines().position(|l| l.contains(needle)).map(|i| i as u32 + 1)
}

/// Whether a `[target.KEY]` table applies to a build on this machine: the host's triple, or a
/// `cfg(…)` expression true for it.
fn applies_to_host(key: &str) -> bool {
    match key.strip_prefix("cfg(").and_then(|k| k.strip_suffix(')')) {
        Some(expr) => Cfg::parse(expr).is_some_and(|c| c.holds(&HOST)),
        None => key == host_triple(),
    }
}

/// What `cfg(…)` predicates test, for the machine repo-run was built for (its host).
struct Target {
    os: &'static str,
    arch: &'static str,
    family: &'static str,
    env: &'static str,
    pointer_width: &'static str,
}

const HOST: Target = Target {
    os: std::env::consts::OS,
    arch: std::env::consts::ARCH,
    family: std::env::consts::FAMILY,
    env: if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "gnu") {
        "gnu"
    } else {
        ""
    },
    pointer_width: if cfg!(target_pointer_width = "64") { "64" } else { "32" },
};

fn host_triple() -> String {
    match HOST.os {
        "linux" => format!("{}-unknown-linux-{}", HOST.arch, HOST.env),
        "macos" => format!("{}-apple-darwin", HOST.arch),
        os => format!("{}-unknown-{os}", HOST.arch),
    }
}

/// A `cfg` expression: `unix`, `target_os = "linux"`, `all(…)`, `any(…)`, `not(…)`.
enum Cfg {
    Name(String),
    KeyValue(String, String),
    All(Vec<Cfg>),
    Any(Vec<Cfg>),
    Not(Box<Cfg>),
}

impl Cfg {
    fn parse(text: &str) -> Option<Cfg> {
        let (cfg, rest) = Cfg::parse_one(text.trim())?;
        rest.trim().is_empty().then_some(cfg)
    }

    /// One predicate at the start of `text`, and what follows it.
    fn parse_one(text: &str) -> Option<(Cfg, &str)> {
        let text = text.trim_start();
        let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
        let (name, rest) = text.split_at(end);
        if name.is_empty() {
            return None;
        }
        let rest = rest.trim_start();
        if let Some(mut list) = rest.strip_prefix('(') {
            let mut items = Vec::new();
            loop {
                list = list.trim_start();
                if let Some(after) = list.strip_prefix(')') {
                    let cfg = match name {
                        "all" => Cfg::All(items),
                        "any" => Cfg::Any(items),
                        "not" if items.len() == 1 => Cfg::Not(Box::new(items.pop()?)),
                        _ => return None,
                    };
                    return Some((cfg, after));
                }
                let (item, after) = Cfg::parse_one(list)?;
                items.push(item);
                list = after.trim_start();
                list = list.strip_prefix(',').unwrap_or(list);
            }
        }
        if let Some(value) = rest.strip_prefix('=') {
            let value = value.trim_start().strip_prefix('"')?;
            let close = value.find('"')?;
            return Some((Cfg::KeyValue(name.to_owned(), value[..close].to_owned()), &value[close + 1..]));
        }
        Some((Cfg::Name(name.to_owned()), rest))
    }

    fn holds(&self, t: &Target) -> bool {
        match self {
            Cfg::Name(name) => name == t.family,
            Cfg::KeyValue(key, value) => match key.as_str() {
                "target_os" => value == t.os,
                "target_arch" => value == t.arch,
                "target_family" => value == t.family,
                "target_env" => value == t.env,
                "target_pointer_width" => value == t.pointer_width,
                "target_vendor" => value == if t.os == "macos" { "apple" } else { "unknown" },
                _ => false,
            },
            Cfg::All(items) => items.iter().all(|c| c.holds(t)),
            Cfg::Any(items) => items.iter().any(|c| c.holds(t)),
            Cfg::Not(item) => !item.holds(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::testing::repo;

    fn programs(files: &[(&str, &str)], dir: &str) -> Vec<(String, &'static str, String, Option<u32>)> {
        let r = repo(files);
        named(&r.view, dir).into_iter().map(|n| (n.program, n.apt, n.file, n.line)).collect()
    }

    fn host_table() -> String {
        format!("[target.{}]", host_triple())
    }

    #[test]
    fn a_linker_for_this_host() {
        let config = format!("# faster links\n{}\nlinker = \"clang\"\n", host_table());
        assert_eq!(
            programs(&[(".cargo/config.toml", &config)], "."),
            [("clang".to_owned(), "clang", ".cargo/config.toml".to_owned(), Some(3))]
        );
        // Another target's linker (cross-compiling) is not this build's.
        let cross = "[target.aarch64-unknown-linux-gnu]\nlinker = \"aarch64-linux-gnu-gcc\"\n[target.riscv64gc-unknown-linux-gnu]\nlinker = \"clang\"\n";
        assert!(programs(&[(".cargo/config.toml", cross)], ".").is_empty());
    }

    #[test]
    fn rustflags_arrays_in_both_spellings() {
        let split = format!("{}\nrustflags = [\"-C\", \"link-arg=-fuse-ld=lld\"]\n", host_table());
        assert_eq!(
            programs(&[(".cargo/config.toml", &split)], "."),
            [("ld.lld".to_owned(), "lld", ".cargo/config.toml".to_owned(), Some(2))]
        );
        let joined = "[build]\nrustflags = [\"-Clink-arg=-fuse-ld=mold\", \"-Ctarget-cpu=native\"]\n";
        assert_eq!(
            programs(&[(".cargo/config", joined)], "."),
            [("mold".to_owned(), "mold", ".cargo/config".to_owned(), Some(2))]
        );
        // clang as the driver and lld through it: both are needed.
        let both = format!(
            "{}\nlinker = \"clang\"\nrustflags = [\"-C\", \"link-arg=-fuse-ld=lld\", \"-C\", \"link-arg=-Wl,--as-needed\"]\n",
            host_table()
        );
        let found = programs(&[(".cargo/config.toml", &both)], ".");
        let names: Vec<_> = found.iter().map(|(p, apt, ..)| (p.as_str(), *apt)).collect();
        assert_eq!(names, [("clang", "clang"), ("ld.lld", "lld")]);
        // A string of flags, `-C linker=`, and a gold link through binutils.
        let string = "[build]\nrustflags = \"-C linker=clang-14 -C link-args=-fuse-ld=gold\"\n";
        let found = programs(&[(".cargo/config.toml", string)], ".");
        let names: Vec<_> = found.iter().map(|(p, apt, ..)| (p.as_str(), *apt)).collect();
        assert_eq!(names, [("clang-14", "clang"), ("ld.gold", "binutils")]);
    }

    #[test]
    fn target_rustflags_replace_build_rustflags_and_cfg_tables_are_evaluated() {
        let config = "[build]\nrustflags = [\"-C\", \"link-arg=-fuse-ld=mold\"]\n\n[target.'cfg(all(unix, not(target_os = \"none\")))']\nrustflags = [\"-C\", \"link-arg=-fuse-ld=lld\"]\n\n[target.'cfg(windows)']\nlinker = \"lld\"\n";
        let found = programs(&[(".cargo/config.toml", config)], ".");
        let names: Vec<_> = found.iter().map(|(p, _, _, line)| (p.as_str(), *line)).collect();
        assert_eq!(names, [("ld.lld", Some(5))]);
    }

    #[test]
    fn the_nearest_configuration_wins_and_config_beats_config_toml() {
        let root = format!("{}\nlinker = \"clang\"\n", host_table());
        let member = format!("{}\nlinker = \"/usr/bin/clang-15\"\n", host_table());
        let files = [(".cargo/config.toml", root.as_str()), ("server/.cargo/config.toml", member.as_str())];
        let found = programs(&files, "server");
        assert_eq!(found[0].0, "/usr/bin/clang-15");
        assert_eq!(found[0].2, "server/.cargo/config.toml");
        assert_eq!(programs(&files, ".")[0].0, "clang");
        let both = [
            (".cargo/config", "[build]\nrustflags = [\"-Clink-arg=-fuse-ld=mold\"]\n"),
            (".cargo/config.toml", "[build]\nrustflags = [\"-Clink-arg=-fuse-ld=lld\"]\n"),
        ];
        assert_eq!(programs(&both, ".")[0].0, "mold");
    }

    #[test]
    fn unknown_programs_and_repository_scripts_are_not_system_packages() {
        let config =
            format!("{}\nlinker = \"tools/link.sh\"\nrustflags = [\"-C\", \"link-arg=-fuse-ld=wild\"]\n", host_table());
        assert!(programs(&[(".cargo/config.toml", &config)], ".").is_empty());
        assert!(programs(&[(".cargo/config.toml", "[build]\njobs = 2\n")], ".").is_empty());
    }

    #[test]
    fn cfg_expressions() {
        let linux = Target { os: "linux", arch: "x86_64", family: "unix", env: "gnu", pointer_width: "64" };
        let holds = |e: &str| Cfg::parse(e).map(|c| c.holds(&linux));
        assert_eq!(holds("unix"), Some(true));
        assert_eq!(holds("windows"), Some(false));
        assert_eq!(holds("target_os = \"linux\""), Some(true));
        assert_eq!(holds("all(target_os = \"linux\", target_arch = \"x86_64\")"), Some(true));
        assert_eq!(holds("all(target_os = \"linux\", target_arch = \"aarch64\")"), Some(false));
        assert_eq!(holds("any(target_os = \"macos\", target_env = \"gnu\")"), Some(true));
        assert_eq!(holds("not(target_os = \"linux\")"), Some(false));
        assert_eq!(holds("all(unix,)"), Some(true));
        assert_eq!(holds("target_os = "), None);
        assert_eq!(holds("bogus(unix)"), None);
    }
}
