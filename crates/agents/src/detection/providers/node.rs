//! TEMPORARY: filled in by the node detection work in this session.
use crate::detection::{Findings, ProjectContext, Provider};

pub struct Node;

impl Provider for Node {
    fn id(&self) -> &'static str {
        "node"
    }

    fn detect(&self, _cx: &ProjectContext<'_>, _out: &mut Findings) {}
}
