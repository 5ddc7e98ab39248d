//! `distutils` is gone from Python 3.12 (`ModuleNotFoundError: No module named 'distutils'`),
//! and code or `setup.py` files written before still import it. Fix: build and run with the
//! newest installed interpreter older than 3.12 (the nearest that still has it).

use super::{Context, Diagnosis, Rule};
use crate::fixer::action::{FixAction, RuntimeName};
use crate::plan::Runtime;

pub struct DistutilsRemoved;

/// How many older interpreters are offered, newest first.
const CANDIDATES: usize = 2;

impl Rule for DistutilsRemoved {
    fn id(&self) -> &'static str {
        "python.distutils-removed"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        if !cx.mentions("No module named 'distutils'") {
            return None;
        }
        let diagnosis =
            Diagnosis::new(self.id(), Vec::new(), "the code imports distutils, which Python 3.12 removed".to_owned());
        let installed: Vec<String> = cx
            .board
            .and_then(|b| b.host.managed(Runtime::Python))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.version)
            .collect();
        let older = older_than_312(&installed);
        if older.is_empty() {
            return Some(diagnosis.explain(
                "no Python older than 3.12 is installed: install one (`pyenv install 3.11`), or add setuptools to the \
                 dependencies (it provides distutils)",
            ));
        }
        Some(older.into_iter().take(CANDIDATES).fold(diagnosis, |d, version| {
            d.with(FixAction::ChooseRuntime {
                project: cx.failure.project.clone(),
                runtime: RuntimeName::Python,
                version,
            })
        }))
    }
}

/// CPython 3.x versions below 3.12, newest first.
fn older_than_312(installed: &[String]) -> Vec<String> {
    let parse = |v: &str| -> Option<(u32, u32, u32)> {
        let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
        Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
    };
    let mut out: Vec<((u32, u32, u32), String)> = installed
        .iter()
        .filter_map(|v| parse(v).map(|p| (p, v.clone())))
        .filter(|((major, minor, _), _)| *major == 3 && *minor < 12)
        .collect();
    out.sort();
    out.dedup();
    out.into_iter().rev().map(|(_, v)| v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::StepKind;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    #[test]
    fn the_newest_interpreters_before_312_come_first() {
        let installed = ["2.7.18", "3.7.16", "3.11.7", "3.12.1", "3.10.13", "3.13.0"].map(String::from);
        assert_eq!(older_than_312(&installed), ["3.11.7", "3.10.13", "3.7.16"]);
        assert!(older_than_312(&["3.12.1".into(), "3.13.0".into()]).is_empty());
    }

    #[test]
    fn only_the_distutils_import_error() {
        let log = "  File \"/srv/app.py\", line 3, in <module>\n    from distutils.util import strtobool\n\
                   ModuleNotFoundError: No module named 'distutils'";
        let f = failure(Stage::Health, StepKind::Health, &["python", "app.py"], log);
        let d = DistutilsRemoved.diagnose(&Context::bare(&f, std::path::Path::new("/x"))).unwrap();
        assert!(d.candidates.is_empty() && d.explanation.is_some(), "no host known: nothing to choose from");
        let other =
            failure(Stage::Health, StepKind::Health, &["python"], "ModuleNotFoundError: No module named 'flask'");
        assert!(DistutilsRemoved.diagnose(&Context::bare(&other, std::path::Path::new("/x"))).is_none());
    }
}
