use crate::plan::{EnvRequirement, Project};
pub fn for_project(_p: &Project) -> Vec<EnvRequirement> { Vec::new() }
