//! TEMPORARY: filled in by the rust detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Rust;

impl Provider for Rust {
    fn id(&self) -> &'static str {
        "rust"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
