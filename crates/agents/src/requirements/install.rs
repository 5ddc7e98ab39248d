use crate::plan::{InstallStep, Project};
use crate::repo::RepoView;
pub fn steps(_p: &Project, _r: &RepoView) -> Vec<InstallStep> { Vec::new() }
