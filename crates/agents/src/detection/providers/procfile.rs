//! TEMPORARY: filled in by the procfile detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Procfile;

impl Provider for Procfile {
    fn id(&self) -> &'static str {
        "procfile"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
