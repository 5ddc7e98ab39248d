//! A native build that lacks a system library's headers or tool: `pg_config executable not
//! found` (psycopg2), `openssl/ssl.h: No such file or directory`, `mysql_config not found`,
//! rust's `linker `lld` not found`, openssl-sys without pkg-config. Fix: the Debian package that
//! provides it (applied only with `--allow-system`). Setup's check finds a linker the project's
//! `.cargo/config.toml` names before the build, and its failure names the packages: the same
//! fix, before anything was built.

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;
use crate::fixer::action::FixAction;

pub struct MissingHeaders;

/// (text in the output, Debian package that provides it). Specific first.
const PROVIDERS: &[(&str, &str)] = &[
    ("pg_config executable not found", "libpq-dev"),
    ("pg_config: not found", "libpq-dev"),
    ("libpq-fe.h", "libpq-dev"),
    ("mysql_config not found", "default-libmysqlclient-dev"),
    ("mysql_config: not found", "default-libmysqlclient-dev"),
    ("openssl/ssl.h", "libssl-dev"),
    ("openssl/opensslv.h", "libssl-dev"),
    ("Could not find openssl via pkg-config", "libssl-dev"),
    ("The pkg-config command could not be found", "pkg-config"),
    ("ffi.h: No such file", "libffi-dev"),
    ("Python.h: No such file", "python3-dev"),
    ("libxml/xmlversion.h", "libxml2-dev"),
    ("libxslt/xsltconfig.h", "libxslt1-dev"),
    ("jpeglib.h", "libjpeg-dev"),
    ("zlib.h: No such file", "zlib1g-dev"),
    ("sqlite3.h: No such file", "libsqlite3-dev"),
    ("linker `lld` not found", "lld"),
    ("invalid linker name in argument '-fuse-ld=lld'", "lld"),
    ("ld.lld: not found", "lld"),
    ("linker `clang` not found", "clang"),
    ("linker `cc` not found", "build-essential"),
    ("error: command 'gcc' failed: No such file", "build-essential"),
    ("gcc: not found", "build-essential"),
];

impl Rule for MissingHeaders {
    fn id(&self) -> &'static str {
        "system.missing-headers"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        if cx.failure.step == StepKind::Check {
            return checked_missing(self.id(), &cx.failure.missing_packages);
        }
        if !matches!(cx.failure.step, StepKind::Install | StepKind::Build) {
            return None;
        }
        let mut packages: Vec<&str> = Vec::new();
        if let Some(linker) = missing_linker(cx) {
            packages.push(linker);
        }
        for line in cx.lines() {
            for (needle, package) in PROVIDERS {
                if line.contains(needle) && !packages.contains(package) {
                    packages.push(package);
                }
            }
        }
        let first = *packages.first()?;
        let mut diagnosis = Diagnosis::new(
            self.id(),
            vec![("package", first.to_owned())],
            format!("a native build needs the system package {first}"),
        );
        for package in packages {
            diagnosis = diagnosis.with(FixAction::InstallSystemPackage { package: package.to_owned() });
        }
        Some(diagnosis)
    }
}

/// The packages Setup's check found missing, as the failure names them.
fn checked_missing(id: &'static str, packages: &[String]) -> Option<Diagnosis> {
    let first = packages.first()?;
    let mut diagnosis = Diagnosis::new(
        id,
        vec![("package", first.clone())],
        format!("the build needs the system package {first}, and the program it provides is not installed"),
    );
    for package in packages {
        diagnosis = diagnosis.with(FixAction::InstallSystemPackage { package: package.clone() });
    }
    Some(diagnosis)
}

/// gcc's "cannot find 'ld'" names no linker: the last `-fuse-ld=` on the printed command line
/// is the one it looked for (rustc's own `-fuse-ld=lld` comes first when it bundles lld).
fn missing_linker(cx: &Context<'_>) -> Option<&'static str> {
    if !cx.mentions("cannot find 'ld'") {
        return None;
    }
    let text = cx.failure.text();
    let at = text.rfind("-fuse-ld=")?;
    let name: String = text[at + "-fuse-ld=".len()..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    match name.as_str() {
        "mold" => Some("mold"),
        "lld" => Some("lld"),
        "gold" | "bfd" => Some("binutils"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    fn packages(step: StepKind, argv: &[&str], log: &str) -> Vec<String> {
        let f = failure(Stage::Setup, step, argv, log);
        MissingHeaders
            .diagnose(&Context::bare(&f, std::path::Path::new("/x")))
            .map(|d| {
                d.candidates
                    .into_iter()
                    .map(|a| match a {
                        FixAction::InstallSystemPackage { package } => package,
                        other => panic!("{other:?}"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn psycopg2_openssl_and_the_lld_linker() {
        let psycopg2 = "      running egg_info\n      Error: pg_config executable not found.\n      \n      pg_config is \
                        required to build psycopg2 from source.  Please add the directory\n      containing pg_config \
                        to the $PATH or specify the full executable path with the\n      option:";
        assert_eq!(packages(StepKind::Install, &[".venv/bin/pip", "install"], psycopg2), ["libpq-dev"]);
        let c = "      src/_cffi_src/build.c:5:10: fatal error: openssl/ssl.h: No such file or directory\n      \
                 compilation terminated.";
        assert_eq!(packages(StepKind::Install, &["pip"], c), ["libssl-dev"]);
        let lld = "error: linker `cc` failed\n  = note: collect2: fatal error: cannot find 'ld'\n  = note: cc: \
                   error: invalid linker name in argument '-fuse-ld=lld'";
        assert_eq!(packages(StepKind::Build, &["cargo", "build", "--release"], lld), ["lld"]);
    }

    #[test]
    fn a_linker_named_in_cargo_config_that_gcc_cannot_find() {
        let mold = "error: linking with `cc` failed: exit status: 1\n  = note:  \"cc\" \"-m64\" \
                    \"-B<sysroot>/lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld\" \"-fuse-ld=lld\" \"-pie\" \
                    \"-nodefaultlibs\" \"-fuse-ld=mold\"\n  = note: collect2: fatal error: cannot find 'ld'\n          \
                    compilation terminated.";
        assert_eq!(packages(StepKind::Build, &["cargo", "build", "--release"], mold), ["mold"]);
        let no_flag = "collect2: fatal error: cannot find 'ld'";
        assert!(packages(StepKind::Build, &["cargo", "build"], no_flag).is_empty());
    }

    #[test]
    fn a_linker_setup_found_missing_before_the_build() {
        let mut f = failure(Stage::Setup, StepKind::Check, &[], "");
        f.missing_packages = vec!["clang".into(), "lld".into()];
        let d = MissingHeaders.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        let packages: Vec<_> = d
            .candidates
            .iter()
            .map(|a| match a {
                FixAction::InstallSystemPackage { package } => package.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(packages, ["clang", "lld"]);
        // A check failure without packages (a runtime, a tool) is not this rule's.
        let runtime = failure(Stage::Setup, StepKind::Check, &[], "node 22 is required");
        assert!(MissingHeaders.diagnose(&Context::bare(&runtime, std::path::Path::new("/x"))).is_none());
    }

    #[test]
    fn unrelated_build_errors_name_no_package() {
        let rust = "error[E0425]: cannot find value `x` in this scope\n --> src/main.rs:2:5";
        assert!(packages(StepKind::Build, &["cargo", "build"], rust).is_empty());
        // The same words at start-up are not a build problem.
        assert!(packages(StepKind::Start, &["python"], "Error: pg_config executable not found.").is_empty());
    }
}
