//! TEMPORARY: the Requirements agent, filled in by the requirements work in this session.

mod host;

pub use host::Host;

use crate::plan::{Detection, Requirements};
use crate::repo::RepoView;

/// Work out runtimes, install steps, system packages and environment for every project.
pub fn resolve(_detection: &Detection, _repo: &RepoView, host: &Host) -> Requirements {
    Requirements { projects: Vec::new(), host: host.runtimes() }
}
