//! TEMPORARY: host runtime probing, filled in by the requirements work in this session.

use crate::plan::HostRuntime;

/// The runtimes installed on the host, with their versions.
#[derive(Debug, Clone, Default)]
pub struct Host {
    pub runtimes: Vec<HostRuntime>,
}

impl Host {
    /// Ask the host which runtimes it has (runs `node --version`, …).
    pub fn probe() -> Host {
        Host::default()
    }

    pub fn runtimes(&self) -> Vec<HostRuntime> {
        self.runtimes.clone()
    }
}
