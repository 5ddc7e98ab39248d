//! Shared by the end-to-end test binaries (each includes it with `mod support;`).

// Each binary uses only some of the helpers.
#![allow(dead_code)]

pub mod lsp;
pub mod up;
