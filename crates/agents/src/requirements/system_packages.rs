use crate::plan::{SystemPackage, Project};
use crate::repo::RepoView;
pub fn for_project(_p: &Project, _r: &RepoView) -> Vec<SystemPackage> { Vec::new() }
