//! TEMPORARY: filled in by the ruby detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Ruby;

impl Provider for Ruby {
    fn id(&self) -> &'static str {
        "ruby"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
