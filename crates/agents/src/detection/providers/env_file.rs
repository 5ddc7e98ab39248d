//! TEMPORARY: filled in by the env_file detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct EnvFile;

impl Provider for EnvFile {
    fn id(&self) -> &'static str {
        "env_file"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
