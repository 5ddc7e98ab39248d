//! Test support for repo-run: parts that real tests need but that are no part of repo-run.
//!
//! The npm registry cannot be reached from the machines the tests run on, so Node tests install
//! from a local one: `cargo xtask npm-registry` writes it (from Debian's `node-*` packages) in
//! the format of [`npm_format`], and [`NpmRegistry`] serves it on loopback for `npm install`.
//! [`FileServer`] serves files with byte ranges and real network faults for download tests.

pub mod file_server;
mod loopback;
pub mod npm_format;
mod npm_server;

use std::path::PathBuf;

pub use file_server::{Faults, FileServer};
pub use npm_server::NpmRegistry;

/// Set by `cargo xtask test` to the directory `cargo xtask npm-registry` built.
pub const NPM_REGISTRY_ENV: &str = "REPO_RUN_NPM_REGISTRY";

/// The built registry to serve, from [`NPM_REGISTRY_ENV`]; `None` when unset or empty (the test
/// should then skip with a message naming the variable and `cargo xtask npm-registry`).
pub fn npm_registry_dir() -> Option<PathBuf> {
    std::env::var_os(NPM_REGISTRY_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}
