//! TEMPORARY: filled in by the java detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Java;

impl Provider for Java {
    fn id(&self) -> &'static str {
        "java"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
