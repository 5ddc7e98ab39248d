//! The repo-run pipeline: typed agents driven by a deterministic state machine.
//!
//! Architecture invariants (see ARCHITECTURE.md):
//! - this crate does no terminal IO: it returns data, the CLI renders it;
//! - detection reads the repository only through [`repo::RepoView`];
//! - nothing here runs shell text produced by a model.

pub mod detection;
pub mod document;
pub mod failure;
pub mod fixer;
pub mod health;
pub mod lifecycle;
pub mod migrations;
pub mod models;
pub mod pipeline;
pub mod plan;
pub mod repo;
pub mod requirements;
pub mod runner;
pub mod services;
pub mod setup;
pub mod state;
pub mod up;
pub mod workdir;

pub use pipeline::{Agent, AgentError, Pipeline, Registry, Stage};
pub use plan::{Detection, Requirements};
pub use repo::RepoView;
