//! One provider per ecosystem. Order matters only for ties between start commands of equal
//! priority: earlier providers win.

mod docker;
mod env_file;
mod go;
mod java;
mod node;
mod php;
mod procfile;
mod python;
mod ruby;
mod rust;
pub mod services;

use super::Provider;
pub(crate) use docker::shell_words;
pub(crate) use python::{normalise as pep503_name, requirement_includes};

/// Every provider, in precedence order.
pub static ALL: &[&dyn Provider] = &[
    &procfile::Procfile,
    &node::Node,
    &python::Python,
    &ruby::Ruby,
    &php::Php,
    &java::Java,
    &go::Go,
    &rust::Rust,
    &docker::Docker,
    &env_file::EnvFile,
];
