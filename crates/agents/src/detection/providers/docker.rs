//! TEMPORARY: filled in by the docker detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Docker;

impl Provider for Docker {
    fn id(&self) -> &'static str {
        "docker"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
