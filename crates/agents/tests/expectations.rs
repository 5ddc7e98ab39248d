//! Fixture detection scored against `tests/expectations/fixtures.toml`, which says what a person
//! reading each fixture expects. Prints one line per expectation and the score, and fails on
//! any miss, so the score in a closing note is always the one CI saw.

use std::collections::BTreeMap;
use std::path::Path;

use repo_run_agents::RepoView;
use repo_run_agents::detection;
use repo_run_agents::plan::Detection;

fn strings(value: &toml::Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Compare one expectation with the detected project; returns the mismatches.
fn check(expect: &toml::Table, detection: &Detection) -> Vec<String> {
    let path = expect.get("project").and_then(|v| v.as_str()).unwrap_or(".");
    let Some(project) = detection.projects.iter().find(|p| p.path == path) else {
        return vec![format!("no project at {path}")];
    };
    let mut misses = Vec::new();
    fn differ(misses: &mut Vec<String>, what: &str, want: String, got: String) {
        if want != got {
            misses.push(format!("{what}: want {want}, got {got}"));
        }
    }
    for (key, want) in expect {
        match key.as_str() {
            "fixture" | "project" => {}
            "language" => differ(
                &mut misses,
                key,
                want.as_str().unwrap_or_default().into(),
                project.languages.first().map(|l| l.language.to_string()).unwrap_or_default(),
            ),
            "frameworks" => differ(
                &mut misses,
                key,
                strings(want).join(","),
                project.frameworks.iter().map(|f| f.value.to_string()).collect::<Vec<_>>().join(","),
            ),
            "package_manager" => {
                let got: Vec<_> = project.package_managers.iter().map(|f| f.value.to_string()).collect();
                let want = want.as_str().unwrap_or_default().to_owned();
                if !got.contains(&want) {
                    differ(&mut misses, key, want, got.join(","));
                }
            }
            "start" => differ(
                &mut misses,
                key,
                want.as_str().unwrap_or_default().into(),
                project.start.as_ref().map(|s| s.display.clone()).unwrap_or_default(),
            ),
            "services" => differ(
                &mut misses,
                key,
                strings(want).join(","),
                project.services.iter().map(|s| s.service.to_string()).collect::<Vec<_>>().join(","),
            ),
            "ports" => {
                let want: Vec<i64> =
                    want.as_array().map(|a| a.iter().filter_map(|v| v.as_integer()).collect()).unwrap_or_default();
                let got: Vec<i64> = project.ports.iter().map(|p| p.port as i64).collect();
                differ(&mut misses, key, format!("{want:?}"), format!("{got:?}"));
            }
            "migrations" => differ(
                &mut misses,
                key,
                strings(want).join(","),
                project.migrations.iter().map(|m| m.command.display.clone()).collect::<Vec<_>>().join(","),
            ),
            "role" => differ(
                &mut misses,
                key,
                want.as_str().unwrap_or_default().into(),
                serde_json::to_value(project.role).unwrap().as_str().unwrap().into(),
            ),
            "warnings" => {
                for spec in strings(want) {
                    let (file, line) = match spec.rsplit_once(':') {
                        Some((f, l)) => (f.to_owned(), l.parse::<u32>().ok()),
                        None => (spec.clone(), None),
                    };
                    let found = detection.warnings.iter().any(|w| w.file == file && (line.is_none() || w.line == line));
                    if !found {
                        misses.push(format!("warnings: want one at {spec}, got {:?}", detection.warnings));
                    }
                }
            }
            other => misses.push(format!("unknown expectation key `{other}`")),
        }
    }
    misses
}

#[test]
fn fixtures_are_detected_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("tests/expectations/fixtures.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let expectations = table["expect"].as_array().unwrap();

    let mut detections: BTreeMap<String, Detection> = BTreeMap::new();
    let mut failing_fixtures = std::collections::BTreeSet::new();
    let mut lines = Vec::new();
    for e in expectations {
        let e = e.as_table().unwrap();
        let fixture = e["fixture"].as_str().unwrap().to_owned();
        let d = detections.entry(fixture.clone()).or_insert_with(|| {
            detection::detect(&RepoView::open(&root.join("tests/fixtures").join(&fixture)).unwrap())
        });
        let misses = check(e, d);
        let project = e.get("project").and_then(|v| v.as_str()).unwrap_or(".");
        if misses.is_empty() {
            lines.push(format!("ok    {fixture} ({project})"));
        } else {
            failing_fixtures.insert(fixture.clone());
            lines.push(format!("MISS  {fixture} ({project}): {}", misses.join("; ")));
        }
    }
    let fixtures_dir = root.join("tests/fixtures");
    let mut all: Vec<String> = std::fs::read_dir(&fixtures_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    // `broken/` is a suite of its own: each repository there is brought up end to end by
    // crates/cli/tests/broken.rs and planned by plans.rs.
    let unexpected: Vec<_> = all.iter().filter(|f| *f != "broken" && !detections.contains_key(*f)).collect();
    for line in &lines {
        println!("{line}");
    }
    println!(
        "fixture detection: {} of {} fixtures correct ({} expectations checked)",
        detections.len() - failing_fixtures.len(),
        detections.len(),
        lines.len()
    );
    assert!(unexpected.is_empty(), "fixtures without expectations in tests/expectations/fixtures.toml: {unexpected:?}");
    assert!(failing_fixtures.is_empty(), "fixtures detected wrongly: {failing_fixtures:?}");
}
