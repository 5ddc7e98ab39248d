//! The `repo-run` binary as a user runs it: real processes, real directories, real git
//! repositories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_run(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("REPO_RUN_MODEL_PROFILE", "local")
        .env_remove("REPO_RUN_CACHE_DIR")
        .output()
        .expect("spawn repo-run")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(root: &Path, path: &str, contents: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, contents).unwrap();
}

/// A small Flask app, written into `dir`.
fn flask_app(dir: &Path) {
    write(dir, "requirements.txt", "flask==3.0.3\nredis==5.0.4\n");
    write(
        dir,
        "app.py",
        "import os\nfrom flask import Flask\napp = Flask(__name__)\n\nif __name__ == \"__main__\":\n    app.run(host=\"0.0.0.0\", port=int(os.environ.get(\"PORT\", 5000)))\n",
    );
}

#[test]
fn plan_json_is_a_versioned_document() {
    let dir = tempfile::tempdir().unwrap();
    flask_app(dir.path());
    let out = repo_run(&["plan", "--json", "."], dir.path());
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(plan["schema_version"], 4);
    assert_eq!(plan["projects"][0]["path"], ".");
    let ports: Vec<_> = plan["projects"][0]["ports"].as_array().unwrap().iter().map(|p| p["port"].clone()).collect();
    assert!(ports.contains(&5000.into()), "ports: {ports:?}");
}

#[test]
fn plan_for_people_names_the_project_and_start_command() {
    let out = repo_run(&["plan", fixture("node-express-postgres").to_str().unwrap()], Path::new("."));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Plan for"), "{text}");
    assert!(text.contains("start"), "{text}");
    assert!(text.contains("What `repo-run up` will do"), "{text}");
    assert!(!text.contains("\x1b["), "no colour codes when NO_COLOR is set / not a TTY");
}

#[test]
fn missing_directory_is_a_clear_error() {
    let out = repo_run(&["plan", "/definitely/not/here"], Path::new("."));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error: /definitely/not/here: no such directory"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn a_file_is_not_a_project() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.txt", "x");
    let out = repo_run(&["plan", "f.txt"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a directory"));
}

/// A bare repository on disk, pushed to through git2 as a user's remote would be.
fn bare_repo_with_flask_app(tmp: &Path) -> PathBuf {
    let work = tmp.join("work");
    flask_app(&work);
    let repo = git2::Repository::init(&work).unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Test", "test@example.com").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "initial", &tree, &[]).unwrap();
    let bare = tmp.join("remote.git");
    git2::build::RepoBuilder::new().bare(true).clone(work.to_str().unwrap(), &bare).unwrap();
    bare
}

#[test]
fn plan_clones_a_git_url_into_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo_with_flask_app(tmp.path());
    let url = format!("file://{}", bare.display());
    let cache = tmp.path().join("cache");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_repo-run"))
            .args(["plan", "--json", &url])
            .env("REPO_RUN_CACHE_DIR", &cache)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["source"]["git"]["url"], url.as_str());
    assert_eq!(plan["source"]["git"]["commit"].as_str().unwrap().len(), 40);
    let cloned = PathBuf::from(plan["source"]["path"].as_str().unwrap());
    assert!(cloned.starts_with(&cache) && cloned.join("app.py").exists());

    // A second plan fetches into the same clone instead of cloning again.
    let again = run();
    assert!(again.status.success(), "stderr: {}", stderr(&again));
    let plan2: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(plan2["source"]["path"], plan["source"]["path"]);
}

#[test]
fn an_unreachable_git_url_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let url = format!("file://{}/nothing-here.git", tmp.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(["plan", &url])
        .env("REPO_RUN_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot clone"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(cache.join("clones")).map(|d| d.collect()).unwrap_or_default();
    assert!(left.is_empty(), "a failed clone must not leave a directory");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    // A plan far larger than a pipe's buffer, so the write really meets the closed pipe.
    let dir = tempfile::tempdir().unwrap();
    let reads: String = (0..3000).map(|i| format!("const v{i} = process.env.SETTING_{i};\n")).collect();
    write(dir.path(), "package.json", r#"{"name":"big","scripts":{"start":"node index.js"}}"#);
    write(dir.path(), "index.js", &reads);
    let mut child = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .args(["plan", "--json", dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then hang up, as `repo-run plan --json | head -c1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stderr(&out).is_empty(), "no error message for a closed pipe: {}", stderr(&out));
}
