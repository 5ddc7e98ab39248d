//! Shared by the end-to-end test binaries (each includes it with `mod support;`).

pub mod lsp;
