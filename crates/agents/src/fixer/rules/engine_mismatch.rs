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
        // npm 6–9 write `npm ERR!`, npm 10 `npm error`; warnings (engine-strict off) do not count.
        let errors = || cx.lines().filter(|l| !l.contains("WARN"));
        let line = errors().find(|l| {
            (l.contains("EBADENGINE") && (l.contains("ERR!") || l.contains("npm error")))
                || l.contains("is incompatible with this module")
                || l.contains("Unsupported engine")
        })?;
        // npm names the refusing package on its own line; yarn on the error line.
        let package = errors()
            .find_map(|l| l.split("Not compatible with your version of node/npm:").nth(1))
            .or_else(|| line.split("for package:").nth(1))
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

    /// npm 10 (Node 20) with `engine-strict=true` in `.npmrc` and a dependency asking for a newer
    /// Node, as the end-to-end fixture `broken/node-engine-mismatch` produces it.
    #[test]
    fn npm_10_engine_strict_error() {
        let npm = "npm error code EBADENGINE\nnpm error engine Unsupported engine\nnpm error engine Not compatible \
                   with your version of node/npm: repo-run-needs-future-node@1.0.0\nnpm error notsup Required: \
                   {\"node\":\">=99\"}\nnpm error notsup Actual:   {\"npm\":\"10.8.2\",\"node\":\"v20.20.2\"}";
        let f = failure(Stage::Setup, StepKind::Install, &["npm", "install"], npm);
        let d = EngineMismatch.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        assert_eq!(d.signal.keys, [("package", "repo-run-needs-future-node@1.0.0".to_owned())]);
        assert_eq!(d.candidates, [FixAction::AddInstallFlag { project: ".".into(), flag: InstallFlag::IgnoreEngines }]);
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
