//! TEMPORARY: filled in by the python detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Python;

impl Provider for Python {
    fn id(&self) -> &'static str {
        "python"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
