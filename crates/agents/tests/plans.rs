//! Every directory under `tests/fixtures/` is planned and compared with its reviewed snapshot
//! in `tests/snapshots/`. A new fixture folder is a new test case: run
//! `cargo insta test -p repo-run-agents --review` (or `INSTA_UPDATE=always cargo test`) and
//! review the new snapshot before committing it.
//!
//! What depends on the machine (the absolute path, the host's runtime versions and the status
//! derived from them) is redacted; the comparison logic itself is unit-tested with stated
//! versions in `requirements`.

use std::path::{Path, PathBuf};

use repo_run_agents::RepoView;
use repo_run_agents::detection;
use repo_run_agents::document::{PlanDocument, Source};
use repo_run_agents::requirements::{self, Host};
use serde_json::Value;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn plan_json(dir: &Path, host: &Host) -> Value {
    let repo = RepoView::open(dir).unwrap();
    let detection = detection::detect(&repo);
    let requirements = requirements::resolve(&detection, &repo, host);
    let doc = PlanDocument::new(
        Source { path: dir.display().to_string(), git: None },
        detection,
        requirements,
        repo.warnings(),
    );
    let mut value = serde_json::to_value(&doc).unwrap();
    redact_machine(&mut value);
    value
}

/// Replace what differs between machines with fixed markers.
fn redact_machine(plan: &mut Value) {
    plan["source"]["path"] = "[fixture]".into();
    plan["host"] = "[host]".into();
    if let Some(reqs) = plan["requirements"].as_array_mut() {
        for req in reqs {
            // Which package managers must be provided depends on what the host has.
            if let Some(req) = req.as_object_mut() {
                req.remove("provide");
            }
            if let Some(runtimes) = req["runtimes"].as_array_mut() {
                for rt in runtimes {
                    rt["installed"] = "[host]".into();
                    rt["status"] = "[host]".into();
                    if rt.get("message").is_some() {
                        rt["message"] = "[host]".into();
                    }
                    // Whether another interpreter is chosen, and where it lives, is the host's.
                    if let Some(rt) = rt.as_object_mut() {
                        rt.remove("selected");
                    }
                }
            }
        }
    }
    if let Some(steps) = plan["steps"].as_array_mut() {
        steps.retain(|s| s["kind"] != "provide_tool");
        for step in steps.iter_mut().filter(|s| s["kind"] == "check_runtime") {
            step["why"] = "[host]".into();
        }
    }
}

#[test]
fn every_fixture_matches_its_snapshot() {
    let subdirs = |dir: PathBuf| -> Vec<PathBuf> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect()
    };
    // `broken/` holds one repository per failure the Fixer repairs: each is a fixture of its own.
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for dir in subdirs(fixtures_root()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name == "broken" {
            for broken in subdirs(dir) {
                dirs.push((format!("broken-{}", broken.file_name().unwrap().to_string_lossy()), broken));
            }
        } else {
            dirs.push((name, dir));
        }
    }
    dirs.sort();
    assert!(dirs.len() >= 15, "expected at least 15 fixtures, found {}", dirs.len());
    let host = Host::probe();
    let mut failed = Vec::new();
    for (name, dir) in &dirs {
        let name = name.clone();
        let plan = plan_json(dir, &host);
        let result = std::panic::catch_unwind(|| {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path("snapshots");
            settings.set_prepend_module_to_snapshot(false);
            settings.bind(|| insta::assert_json_snapshot!(name.as_str(), plan));
        });
        if result.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "plans differ from their snapshots: {failed:?}");
}
