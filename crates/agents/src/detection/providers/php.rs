//! TEMPORARY: filled in by the php detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Php;

impl Provider for Php {
    fn id(&self) -> &'static str {
        "php"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
