//! npm's `ERESOLVE` peer dependency conflicts ("Could not resolve dependency: peer react@"^17"
//! from …"): npm 7+ refuses what npm 6 installed. Fix: install with `--legacy-peer-deps`, as the
//! project's own lock was made.

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;
use crate::fixer::action::{FixAction, InstallFlag};

pub struct PeerConflict;

impl Rule for PeerConflict {
    fn id(&self) -> &'static str {
        "node.peer-conflict"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if f.step != StepKind::Install || f.program() != "npm" {
            return None;
        }
        if !cx.mentions("ERESOLVE") {
            return None;
        }
        // The package whose peer range failed, for the signature: "peer react@"^17.0.0" from x@1".
        let peer = cx
            .lines()
            .find_map(|l| l.split("Could not resolve dependency:").nth(1))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .unwrap_or("")
            .trim_matches('"')
            .to_owned();
        Some(
            Diagnosis::new(self.id(), vec![("peer", peer)], "npm refuses a peer dependency conflict (ERESOLVE)")
                .with(FixAction::AddInstallFlag { project: f.project.clone(), flag: InstallFlag::LegacyPeerDeps }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    const ERESOLVE: &str = "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\nnpm ERR! \n\
                            npm ERR! While resolving: my-app@0.1.0\nnpm ERR! Found: react@18.2.0\nnpm ERR! \
                            node_modules/react\nnpm ERR!   react@\"^18.2.0\" from the root project\nnpm ERR! \n\
                            npm ERR! Could not resolve dependency:\nnpm ERR! peer react@\"^16.8.0 || ^17.0.0\" from \
                            react-beautiful-dnd@13.1.0";

    #[test]
    fn eresolve_from_npm_install() {
        let f = failure(Stage::Setup, StepKind::Install, &["npm", "ci"], ERESOLVE);
        let d = PeerConflict.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        assert_eq!(
            d.candidates,
            [FixAction::AddInstallFlag { project: ".".into(), flag: InstallFlag::LegacyPeerDeps }]
        );
    }

    #[test]
    fn not_for_other_tools_or_errors() {
        let yarn = failure(Stage::Setup, StepKind::Install, &["yarn", "install"], ERESOLVE);
        assert!(PeerConflict.diagnose(&Context::bare(&yarn, std::path::Path::new("/x"))).is_none());
        let other =
            failure(Stage::Setup, StepKind::Install, &["npm", "ci"], "npm ERR! code E404\nnpm ERR! 404 Not Found");
        assert!(PeerConflict.diagnose(&Context::bare(&other, std::path::Path::new("/x"))).is_none());
    }
}
