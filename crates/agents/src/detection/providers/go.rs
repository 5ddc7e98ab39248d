//! TEMPORARY: filled in by the go detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Go;

impl Provider for Go {
    fn id(&self) -> &'static str {
        "go"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
