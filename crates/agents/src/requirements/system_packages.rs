//! Debian packages that well-known native dependencies need to build or load: the cases
//! where an install fails on a bare machine (psycopg2 without libpq headers, mysqlclient
//! without the MySQL client library, a Cargo build of openssl-sys without libssl-dev).
//!
//! Only dependencies that build from source (or load a system library) are listed: wheels and
//! prebuilt binaries (psycopg2-binary, sharp, nokogiri) need nothing, and are absent on purpose.

use std::collections::BTreeMap;

use crate::plan::{Dependency, PackageManager, Project, SystemPackage};
use crate::repo::RepoView;

use super::read_toml;

/// When a rule applies, beyond the dependency's name.
#[derive(Clone, Copy)]
enum When {
    Always,
    /// The Cargo dependency enables this feature.
    Feature(&'static str),
    /// The Cargo dependency does not enable this feature (`bundled` builds its own copy).
    NotFeature(&'static str),
    /// psycopg without the `[binary]` extra, which ships its own libpq. Providers may drop
    /// extras from the name, so the declaring line is read too.
    NoBinaryExtra,
}

struct Rule {
    ecosystem: &'static str,
    /// The name, normalised: lowercase, `_` as `-` for Python.
    name: &'static str,
    when: When,
    apt: &'static [&'static str],
    why: &'static str,
}

const BUILD: &str = "build-essential";

const RULES: &[Rule] = &[
    Rule {
        ecosystem: "python",
        name: "psycopg2",
        when: When::Always,
        apt: &["libpq-dev", BUILD],
        why: "builds from source against libpq (psycopg2-binary would not)",
    },
    Rule {
        ecosystem: "python",
        name: "psycopg",
        when: When::NoBinaryExtra,
        apt: &["libpq5"],
        why: "without the [binary] extra loads the system libpq at run time",
    },
    Rule {
        ecosystem: "python",
        name: "psycopg[c]",
        when: When::Always,
        apt: &["libpq-dev", BUILD],
        why: "builds against libpq",
    },
    Rule {
        ecosystem: "python",
        name: "mysqlclient",
        when: When::Always,
        apt: &["default-libmysqlclient-dev", "pkg-config", BUILD],
        why: "builds from source against the MySQL client library",
    },
    Rule {
        ecosystem: "python",
        name: "mysql-python",
        when: When::Always,
        apt: &["default-libmysqlclient-dev", "pkg-config", BUILD],
        why: "builds from source against the MySQL client library",
    },
    Rule {
        ecosystem: "python",
        name: "python-ldap",
        when: When::Always,
        apt: &["libldap2-dev", "libsasl2-dev", BUILD],
        why: "builds from source against OpenLDAP and SASL",
    },
    Rule {
        ecosystem: "python",
        name: "pyodbc",
        when: When::Always,
        apt: &["unixodbc-dev"],
        why: "links the unixODBC driver manager",
    },
    Rule {
        ecosystem: "ruby",
        name: "pg",
        when: When::Always,
        apt: &["libpq-dev", BUILD],
        why: "builds its native extension against libpq",
    },
    Rule {
        ecosystem: "ruby",
        name: "mysql2",
        when: When::Always,
        apt: &["default-libmysqlclient-dev", BUILD],
        why: "builds its native extension against the MySQL client library",
    },
    Rule {
        ecosystem: "node",
        name: "bcrypt",
        when: When::Always,
        apt: &[BUILD, "python3"],
        why: "is built by node-gyp when no prebuilt binary can be downloaded",
    },
    Rule {
        ecosystem: "node",
        name: "argon2",
        when: When::Always,
        apt: &[BUILD, "python3"],
        why: "is built by node-gyp when no prebuilt binary can be downloaded",
    },
    Rule {
        ecosystem: "node",
        name: "canvas",
        when: When::Always,
        apt: &[BUILD, "libcairo2-dev", "libpango1.0-dev", "libjpeg-dev", "libgif-dev", "librsvg2-dev"],
        why: "builds against Cairo and Pango when no prebuilt binary fits",
    },
    Rule {
        ecosystem: "rust",
        name: "openssl-sys",
        when: When::NotFeature("vendored"),
        apt: &["libssl-dev", "pkg-config"],
        why: "links the system OpenSSL, found with pkg-config",
    },
    Rule {
        ecosystem: "rust",
        name: "openssl",
        when: When::NotFeature("vendored"),
        apt: &["libssl-dev", "pkg-config"],
        why: "links the system OpenSSL, found with pkg-config",
    },
    Rule {
        ecosystem: "rust",
        name: "native-tls",
        when: When::NotFeature("vendored"),
        apt: &["libssl-dev", "pkg-config"],
        why: "uses OpenSSL on Linux, found with pkg-config",
    },
    Rule {
        ecosystem: "rust",
        name: "diesel",
        when: When::Feature("postgres"),
        apt: &["libpq-dev"],
        why: "with the postgres feature links libpq",
    },
    Rule {
        ecosystem: "rust",
        name: "diesel",
        when: When::Feature("mysql"),
        apt: &["default-libmysqlclient-dev"],
        why: "with the mysql feature links the MySQL client library",
    },
    Rule {
        ecosystem: "rust",
        name: "diesel",
        when: When::Feature("sqlite"),
        apt: &["libsqlite3-dev"],
        why: "with the sqlite feature links the system SQLite",
    },
    Rule {
        ecosystem: "rust",
        name: "pq-sys",
        when: When::NotFeature("bundled"),
        apt: &["libpq-dev"],
        why: "links libpq",
    },
    Rule {
        ecosystem: "rust",
        name: "rusqlite",
        when: When::NotFeature("bundled"),
        apt: &["libsqlite3-dev"],
        why: "links the system SQLite (the `bundled` feature would compile its own)",
    },
    Rule {
        ecosystem: "rust",
        name: "libsqlite3-sys",
        when: When::NotFeature("bundled"),
        apt: &["libsqlite3-dev"],
        why: "links the system SQLite (the `bundled` feature would compile its own)",
    },
    Rule {
        ecosystem: "rust",
        name: "rdkafka",
        when: When::Always,
        apt: &["cmake", BUILD],
        why: "builds librdkafka from source",
    },
    Rule {
        ecosystem: "go",
        name: "github.com/mattn/go-sqlite3",
        when: When::Always,
        apt: &[BUILD],
        why: "is a cgo package: it needs a C compiler",
    },
];

/// PHP extensions that Composer requires as `ext-<name>`, and the Debian package with each.
/// Extensions compiled into PHP itself (json, ctype, pdo, openssl, …) are absent.
const PHP_EXTENSIONS: &[(&str, &str)] = &[
    ("bcmath", "php-bcmath"),
    ("curl", "php-curl"),
    ("dom", "php-xml"),
    ("gd", "php-gd"),
    ("imagick", "php-imagick"),
    ("intl", "php-intl"),
    ("ldap", "php-ldap"),
    ("mbstring", "php-mbstring"),
    ("mysqli", "php-mysql"),
    ("pdo_mysql", "php-mysql"),
    ("pdo_pgsql", "php-pgsql"),
    ("pdo_sqlite", "php-sqlite3"),
    ("pgsql", "php-pgsql"),
    ("redis", "php-redis"),
    ("simplexml", "php-xml"),
    ("soap", "php-soap"),
    ("sqlite3", "php-sqlite3"),
    ("xml", "php-xml"),
    ("xmlwriter", "php-xml"),
    ("zip", "php-zip"),
];

/// The system packages a project's dependencies need, one entry per package.
pub fn for_project(project: &Project, repo: &RepoView) -> Vec<SystemPackage> {
    let mut out: BTreeMap<&str, SystemPackage> = BTreeMap::new();
    let mut add = |apt: &'static str, reason: String, dep: &Dependency| {
        let entry = out.entry(apt).or_insert_with(|| SystemPackage {
            apt: apt.to_owned(),
            reason: String::new(),
            evidence: dep.evidence.clone(),
            program: None,
        });
        if !entry.reason.contains(&reason) {
            if !entry.reason.is_empty() {
                entry.reason.push_str("; ");
            }
            entry.reason.push_str(&reason);
        }
    };
    for dep in &project.dependencies {
        let name = normalise(dep);
        for rule in RULES.iter().filter(|r| r.ecosystem == dep.ecosystem && r.name == name) {
            let applies = match rule.when {
                When::Always => true,
                When::Feature(f) => cargo_features(repo, dep).iter().any(|x| x == f),
                When::NotFeature(f) => !cargo_features(repo, dep).iter().any(|x| x == f),
                When::NoBinaryExtra => {
                    !project.dependencies.iter().any(|d| normalise(d) == "psycopg-binary")
                        && !declaring_line(repo, dep).is_some_and(|l| l.contains("binary"))
                }
            };
            if applies {
                for apt in rule.apt {
                    add(apt, format!("{} {}", dep.name, rule.why), dep);
                }
            }
        }
        if dep.ecosystem == "php" {
            let ext = name.strip_prefix("ext-").unwrap_or("");
            if let Some((_, apt)) = PHP_EXTENSIONS.iter().find(|(e, _)| *e == ext) {
                add(apt, format!("{} is a PHP extension Composer requires", dep.name), dep);
            }
        }
    }
    let mut out: Vec<SystemPackage> = out.into_values().collect();
    if project.package_managers.iter().any(|p| p.value == PackageManager::Cargo) {
        for linker in super::cargo_config::system_packages(repo, &project.path) {
            match out.iter_mut().find(|p| p.apt == linker.apt) {
                Some(same) => {
                    same.reason = format!("{}; {}", same.reason, linker.reason);
                    same.program = linker.program;
                }
                None => out.push(linker),
            }
        }
        out.sort_by(|a, b| a.apt.cmp(&b.apt));
    }
    out
}

/// The name as the rules spell it. Python names compare case-insensitively with `_` as `-`,
/// and the `[binary]` extra of psycopg means the wheel with its own libpq.
fn normalise(dep: &Dependency) -> String {
    let mut name = dep.name.to_ascii_lowercase();
    if dep.ecosystem == "python" {
        name = name.replace('_', "-").replace(' ', "");
        if let Some(base) = name.strip_prefix("psycopg[") {
            let extras = base.trim_end_matches(']');
            return if extras.split(',').any(|e| e == "binary") {
                "psycopg-binary".into()
            } else if extras.split(',').any(|e| e == "c") {
                "psycopg[c]".into()
            } else {
                "psycopg".into()
            };
        }
        if let Some(i) = name.find('[') {
            name.truncate(i);
        }
    }
    name
}

/// The line that declares a dependency, as written.
fn declaring_line(repo: &RepoView, dep: &Dependency) -> Option<String> {
    let text = super::read(repo, &dep.evidence.file)?.content;
    let line = dep.evidence.line?;
    text.lines().nth((line as usize).checked_sub(1)?).map(str::to_owned)
}

/// The features a Cargo dependency enables, from the manifest that declares it (and the
/// workspace root's `[workspace.dependencies]` for `workspace = true` entries).
fn cargo_features(repo: &RepoView, dep: &Dependency) -> Vec<String> {
    let mut out = Vec::new();
    for path in [dep.evidence.file.as_str(), "Cargo.toml"] {
        let Some((_, table)) = read_toml(repo, path) else { continue };
        let sections = [
            table.get("dependencies"),
            table.get("dev-dependencies"),
            table.get("build-dependencies"),
            table.get("workspace").and_then(|w| w.get("dependencies")),
        ];
        for section in sections.into_iter().flatten() {
            let features = section.get(&dep.name).and_then(|d| d.get("features")).and_then(|f| f.as_array());
            out.extend(features.into_iter().flatten().filter_map(|f| f.as_str()).map(str::to_owned));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Evidence;
    use crate::requirements::testing::{project, repo};

    fn dep(ecosystem: &'static str, name: &str, file: &str) -> Dependency {
        Dependency {
            ecosystem,
            name: name.into(),
            version: None,
            dev: false,
            evidence: Evidence::new(file, Some(1), format!("{ecosystem}.dependency")),
        }
    }

    /// The apt packages for one dependency, with a manifest at `file` holding `manifest`.
    fn apt_for(ecosystem: &'static str, name: &str, file: &str, manifest: &str) -> Vec<String> {
        let r = repo(&[(file, manifest)]);
        let mut p = project(".");
        p.dependencies.push(dep(ecosystem, name, file));
        for_project(&p, &r.view).into_iter().map(|s| s.apt).collect()
    }

    fn py(name: &str) -> Vec<String> {
        apt_for("python", name, "requirements.txt", "")
    }

    #[test]
    fn psycopg2_source_build() {
        assert_eq!(py("psycopg2"), ["build-essential", "libpq-dev"]);
        assert!(py("psycopg2-binary").is_empty());
    }

    #[test]
    fn psycopg3_extras() {
        assert_eq!(py("psycopg"), ["libpq5"]);
        assert!(py("psycopg[binary]").is_empty());
        assert!(py("psycopg[binary,pool]").is_empty());
        assert_eq!(py("psycopg[c]"), ["build-essential", "libpq-dev"]);
        // A provider that dropped the extra from the name: the declaring line still says it.
        assert!(apt_for("python", "psycopg", "requirements.txt", "psycopg[binary]==3.1.18\n").is_empty());
        let poetry = "psycopg = { version = \"^3.1\", extras = [\"binary\"] }\n";
        assert!(apt_for("python", "psycopg", "pyproject.toml", poetry).is_empty());
        // psycopg-binary beside psycopg provides libpq too.
        let r = repo(&[("requirements.txt", "psycopg\npsycopg-binary\n")]);
        let mut p = project(".");
        p.dependencies.push(dep("python", "psycopg", "requirements.txt"));
        p.dependencies.push(dep("python", "psycopg-binary", "requirements.txt"));
        assert!(for_project(&p, &r.view).is_empty());
    }

    #[test]
    fn mysqlclient() {
        assert_eq!(py("mysqlclient"), ["build-essential", "default-libmysqlclient-dev", "pkg-config"]);
        assert_eq!(py("MySQL_python"), ["build-essential", "default-libmysqlclient-dev", "pkg-config"]);
        assert!(py("PyMySQL").is_empty());
    }

    #[test]
    fn python_ldap_and_pyodbc() {
        assert_eq!(py("python-ldap"), ["build-essential", "libldap2-dev", "libsasl2-dev"]);
        assert_eq!(py("pyodbc"), ["unixodbc-dev"]);
        assert!(py("lxml").is_empty());
    }

    #[test]
    fn ruby_gems() {
        assert_eq!(apt_for("ruby", "pg", "Gemfile", ""), ["build-essential", "libpq-dev"]);
        assert_eq!(apt_for("ruby", "mysql2", "Gemfile", ""), ["build-essential", "default-libmysqlclient-dev"]);
        assert!(apt_for("ruby", "nokogiri", "Gemfile", "").is_empty());
    }

    #[test]
    fn node_native_modules() {
        assert_eq!(apt_for("node", "bcrypt", "package.json", "{}"), ["build-essential", "python3"]);
        assert_eq!(apt_for("node", "argon2", "package.json", "{}"), ["build-essential", "python3"]);
        let canvas = apt_for("node", "canvas", "package.json", "{}");
        assert!(
            canvas.contains(&"libcairo2-dev".to_owned()) && canvas.contains(&"librsvg2-dev".to_owned()),
            "{canvas:?}"
        );
        assert!(apt_for("node", "sharp", "package.json", "{}").is_empty());
        assert!(apt_for("node", "bcryptjs", "package.json", "{}").is_empty());
        // Same name, other ecosystem: no match.
        assert!(apt_for("python", "bcrypt", "requirements.txt", "").is_empty());
    }

    #[test]
    fn a_linker_in_the_cargo_config_is_a_system_package_with_its_program() {
        let config = "[build]\nrustflags = [\"-C\", \"link-arg=-fuse-ld=mold\"]\n";
        let r = repo(&[("Cargo.toml", "[package]\nname = \"a\"\n"), (".cargo/config.toml", config)]);
        let p = crate::requirements::testing::with_pm(".", PackageManager::Cargo);
        let found = for_project(&p, &r.view);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].apt, "mold");
        assert_eq!(found[0].program.as_deref(), Some("mold"));
        assert_eq!(found[0].evidence, Evidence::new(".cargo/config.toml", Some(2), "rust.cargo-config.linker"));
        assert_eq!(found[0].reason, "-fuse-ld=mold (.cargo/config.toml line 2) makes the build run mold");
        // Not a Cargo project: its directory's Cargo configuration is not read.
        assert!(for_project(&project("."), &r.view).is_empty());
    }

    #[test]
    fn openssl_unless_vendored() {
        let plain = "[dependencies]\nopenssl-sys = \"0.9\"\n";
        assert_eq!(apt_for("rust", "openssl-sys", "Cargo.toml", plain), ["libssl-dev", "pkg-config"]);
        let vendored = "[dependencies]\nopenssl = { version = \"0.10\", features = [\"vendored\"] }\n";
        assert!(apt_for("rust", "openssl", "Cargo.toml", vendored).is_empty());
        assert_eq!(
            apt_for("rust", "native-tls", "Cargo.toml", "[dependencies]\nnative-tls = \"0.2\"\n"),
            ["libssl-dev", "pkg-config"]
        );
    }

    #[test]
    fn diesel_backends() {
        let pg = "[dependencies]\ndiesel = { version = \"2\", features = [\"postgres\", \"r2d2\"] }\n";
        assert_eq!(apt_for("rust", "diesel", "Cargo.toml", pg), ["libpq-dev"]);
        let both = "[dependencies]\ndiesel = { version = \"2\", features = [\"mysql\", \"sqlite\"] }\n";
        assert_eq!(apt_for("rust", "diesel", "Cargo.toml", both), ["default-libmysqlclient-dev", "libsqlite3-dev"]);
        assert!(apt_for("rust", "diesel", "Cargo.toml", "[dependencies]\ndiesel = \"2\"\n").is_empty());
    }

    #[test]
    fn sqlite_unless_bundled() {
        assert_eq!(
            apt_for("rust", "rusqlite", "Cargo.toml", "[dependencies]\nrusqlite = \"0.31\"\n"),
            ["libsqlite3-dev"]
        );
        let bundled = "[dependencies]\nrusqlite = { version = \"0.31\", features = [\"bundled\"] }\n";
        assert!(apt_for("rust", "rusqlite", "Cargo.toml", bundled).is_empty());
        // A member inheriting from the workspace gets the workspace's features.
        let r = repo(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers=['a']\n[workspace.dependencies]\nrusqlite = { version = \"0.31\", features = [\"bundled\"] }\n",
            ),
            ("a/Cargo.toml", "[package]\nname='a'\n[dependencies]\nrusqlite.workspace = true\n"),
        ]);
        let mut p = project("a");
        p.dependencies.push(dep("rust", "rusqlite", "a/Cargo.toml"));
        assert!(for_project(&p, &r.view).is_empty());
    }

    #[test]
    fn rdkafka_and_pq_sys() {
        assert_eq!(
            apt_for("rust", "rdkafka", "Cargo.toml", "[dependencies]\nrdkafka = \"0.36\"\n"),
            ["build-essential", "cmake"]
        );
        assert_eq!(apt_for("rust", "pq-sys", "Cargo.toml", "[dependencies]\npq-sys = \"0.4\"\n"), ["libpq-dev"]);
    }

    #[test]
    fn go_cgo_sqlite() {
        assert_eq!(apt_for("go", "github.com/mattn/go-sqlite3", "go.mod", "module x\n"), ["build-essential"]);
        assert!(apt_for("go", "modernc.org/sqlite", "go.mod", "module x\n").is_empty());
    }

    #[test]
    fn php_extensions() {
        assert_eq!(apt_for("php", "ext-pdo_pgsql", "composer.json", "{}"), ["php-pgsql"]);
        assert_eq!(apt_for("php", "ext-gd", "composer.json", "{}"), ["php-gd"]);
        assert!(apt_for("php", "ext-json", "composer.json", "{}").is_empty());
    }

    #[test]
    fn one_entry_per_package_with_every_reason() {
        let r = repo(&[("requirements.txt", "")]);
        let mut p = project(".");
        p.dependencies.push(dep("python", "psycopg2", "requirements.txt"));
        p.dependencies.push(dep("python", "mysqlclient", "requirements.txt"));
        let got = for_project(&p, &r.view);
        let build = got.iter().find(|s| s.apt == "build-essential").unwrap();
        assert!(build.reason.contains("psycopg2") && build.reason.contains("mysqlclient"), "{}", build.reason);
        assert_eq!(got.iter().filter(|s| s.apt == "build-essential").count(), 1);
        assert_eq!(build.evidence.file, "requirements.txt");
    }
}
