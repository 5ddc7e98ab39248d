//! An `engines` field the installed Node does not match, with engine-strict on (npm's
//! `EBADENGINE` as an error, yarn's "The engine "node" is incompatible with this module").
//! Requirements already picked the best installed Node; when the lock still refuses it, the
//! install goes on with the check relaxed, and the app's own health decides.

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;
use crate::fixer::action::{FixAction, InstallFlag};

pub struct EngineMismatch;

impl Rule for EngineMismatch {
    fn id(&self) -> &'static str {
        "node.engine-mismatch"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if f.step != StepKind::Install || !matches!(f.program(), "npm" | "yarn" | "yarnpkg") {
            return None;
        }
        let line = cx.lines().filter(|l| !l.contains("WARN")).find(|l| {
            (l.contains("EBADENGINE") && l.contains("ERR!"))
                || l.contains("is incompatible with this module")
                || l.contains("Unsupported engine")
        })?;
        let package = line
            .split("for package:")
            .nth(1)
            .or_else(|| line.split("error ").nth(1).and_then(|r| r.split(':').next()))
            .map(|s| s.trim().trim_matches('\'').to_owned())
            .unwrap_or_default();
        Some(
            Diagnosis::new(self.id(), vec![("package", package)], "the lock refuses the installed Node (engines)")
                .with(FixAction::AddInstallFlag { project: f.project.clone(), flag: InstallFlag::IgnoreEngines }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    #[test]
    fn npm_and_yarn_engine_errors() {
        let npm = "npm ERR! code EBADENGINE\nnpm ERR! engine Unsupported engine\nnpm ERR! engine Not compatible with \
                   your version of node/npm: my-app@1.0.0\nnpm ERR! notsup Required: {\"node\":\"18.x\"}";
        let f = failure(Stage::Setup, StepKind::Install, &["npm", "ci"], npm);
        let d = EngineMismatch.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        assert_eq!(d.candidates, [FixAction::AddInstallFlag { project: ".".into(), flag: InstallFlag::IgnoreEngines }]);
        let yarn = "error my-app@1.0.0: The engine \"node\" is incompatible with this module. Expected version \
                    \"^16\". Got \"20.11.0\"\nerror Found incompatible module.";
        let f = failure(Stage::Setup, StepKind::Install, &["yarn", "install", "--frozen-lockfile"], yarn);
        let d = EngineMismatch.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        assert_eq!(d.signal.keys, [("package", "my-app@1.0.0".to_owned())]);
    }

    #[test]
    fn warnings_and_other_programs_do_not_count() {
        let warn = "npm WARN EBADENGINE Unsupported engine {\nnpm ERR! code E404";
        let f = failure(Stage::Setup, StepKind::Install, &["npm", "ci"], warn);
        assert!(EngineMismatch.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).is_none());
        let f = failure(Stage::Setup, StepKind::Install, &["pip", "install"], "Unsupported engine");
        assert!(EngineMismatch.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).is_none());
    }
}
