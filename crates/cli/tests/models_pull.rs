//! `repo-run models pull` and `repo-run models bench`, the real binary against a loopback HTTP
//! server (`testkit::FileServer`) that really drops connections, ignores ranges, fails, or
//! serves a changed file; and the pulled SmolLM2 model measured through the engine.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use repo_run_inference::env_vars;
use repo_run_inference::table::SMOLLM2_135M;
use sha2::{Digest, Sha256};
use testkit::{Faults, FileServer};

#[path = "support/models.rs"]
mod models_support;
use models_support::model_dir;

fn repo_run() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_repo-run"));
    command.env_remove("HF_TOKEN").env(env_vars::REPO_RUN_MODEL_PROFILE, "local");
    command
}

/// A GGUF-looking file of `len` bytes (the magic, then bytes that do not repeat).
fn gguf_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    let mut x = seed | 1;
    while bytes.len() < len {
        // xorshift: cheap, and any lost or repeated block changes the hash.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn pull(dir: &Path, args: &[&str]) -> Output {
    repo_run().args(["models", "pull", "--dir"]).arg(dir).args(args).output().expect("run repo-run models pull")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn pulls_a_model_checks_it_and_keeps_it_once() {
    let server = FileServer::start().unwrap();
    let bytes = gguf_bytes(2_000_000, 1);
    server.put("/org/tiny.Q4.gguf", bytes.clone());
    let url = server.url("/org/tiny.Q4.gguf");
    let dir = tempfile::tempdir().unwrap();

    let out = json(&pull(dir.path(), &[&url, "--sha256", &sha256(&bytes).to_uppercase(), "--json", "--token", "t0k"]));
    assert_eq!(out["bytes"], 2_000_000);
    assert_eq!(out["sha256"], sha256(&bytes));
    assert_eq!(out["verified_by"], "given");
    assert_eq!(out["connections"], 1);
    assert_eq!(out["resumed_from"], 0);
    assert_eq!(std::fs::read(dir.path().join("tiny.Q4.gguf")).unwrap(), bytes);
    assert_eq!(entries(dir.path()), ["tiny.Q4.gguf"], "no .part files left behind");
    let log = server.log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].range, None);
    assert_eq!(log[0].authorization, None, "the token goes to huggingface.co only");

    // Present already: nothing is downloaded; the human output says so and how to force it.
    let second = pull(dir.path(), &[&url]);
    assert!(second.status.success(), "{}", stderr(&second));
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.contains("already there") && text.contains("--force"), "{text}");
    assert!(text.contains(&sha256(&bytes)), "{text}");
    assert_eq!(server.log().len(), 1, "no second request");

    // A different expected hash for the file already there is an error, and it stays.
    let mismatch = pull(dir.path(), &[&url, "--sha256", &"0".repeat(64)]);
    assert_eq!(mismatch.status.code(), Some(1));
    assert!(stderr(&mismatch).contains("--force"), "{}", stderr(&mismatch));
    assert_eq!(std::fs::read(dir.path().join("tiny.Q4.gguf")).unwrap(), bytes);

    // --force downloads again, into place; the default folder is $REPO_RUN_MODEL_DIR.
    let forced = repo_run()
        .args(["models", "pull", &url, "--force", "--json", "--name", "renamed.gguf"])
        .env(env_vars::REPO_RUN_MODEL_DIR, dir.path())
        .output()
        .unwrap();
    assert_eq!(json(&forced)["already_present"], false);
    assert_eq!(entries(dir.path()), ["renamed.gguf", "tiny.Q4.gguf"]);
}

#[test]
fn dropped_connections_resume_where_they_stopped() {
    let server = FileServer::start().unwrap();
    let bytes = gguf_bytes(3_000_000, 2);
    server.put("/m.gguf", bytes.clone());
    // The server closes the connection after 700 kB, twice, short of its Content-Length.
    server.set_faults(Faults { cut_after: Some(700_000), cut_times: 2, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();

    let out = json(&pull(dir.path(), &[&server.url("/m.gguf"), "--json"]));
    assert_eq!(out["sha256"], sha256(&bytes));
    assert_eq!(out["connections"], 3);
    assert_eq!(out["verified_by"], "none");
    let log = server.log();
    let ranges: Vec<_> = log.iter().map(|l| l.range.clone()).collect();
    assert_eq!(ranges, [None, Some("bytes=700000-".into()), Some("bytes=1400000-".into())]);
    assert!(log[1].if_range.as_deref().is_some_and(|v| v.starts_with("\"v")), "{log:?}");
    assert_eq!(log.iter().map(|l| l.status).collect::<Vec<_>>(), [200, 206, 206]);
    // Not one byte was sent twice.
    assert_eq!(log.iter().map(|l| l.body_bytes).sum::<u64>(), 3_000_000);

    // A server without ranges: the second connection gets the whole file again, and the
    // client starts over rather than splicing.
    server.set_faults(Faults { cut_after: Some(1_000_000), cut_times: 1, ignore_ranges: true, ..Faults::default() });
    server.clear_log();
    let out = json(&pull(dir.path(), &[&server.url("/m.gguf"), "--json", "--name", "again.gguf"]));
    assert_eq!(out["sha256"], sha256(&bytes));
    assert_eq!(out["resumed_from"], 0);
    let log = server.log();
    assert_eq!(log.iter().map(|l| l.status).collect::<Vec<_>>(), [200, 200]);
    assert_eq!(log[1].range.as_deref(), Some("bytes=1000000-"));

    // 503 twice, then the file: retried with backoff.
    server.set_faults(Faults { fail_with: Some((503, 2)), ..Faults::default() });
    server.clear_log();
    let out = json(&pull(dir.path(), &[&server.url("/m.gguf"), "--json", "--name", "third.gguf"]));
    assert_eq!(out["connections"], 3);
    assert_eq!(server.log().iter().map(|l| l.status).collect::<Vec<_>>(), [503, 503, 200]);
}

#[test]
fn redirects_are_followed_and_the_hash_they_publish_is_checked() {
    let server = FileServer::start().unwrap();
    let bytes = gguf_bytes(1_500_000, 6);
    server.put("/cdn/blob", bytes.clone());
    // As on huggingface.co: /resolve/ answers 302 to the CDN with the file's SHA-256.
    server.redirect("/o/r/resolve/main/r.gguf", "/cdn/blob", Some(&sha256(&bytes)));
    server.set_faults(Faults { cut_after: Some(400_000), cut_times: 1, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let out = json(&pull(dir.path(), &[&server.url("/o/r/resolve/main/r.gguf"), "--json"]));
    assert_eq!(out["verified_by"], "server");
    assert_eq!(out["bytes"], 1_500_000);
    let log = server.log();
    let seen: Vec<_> = log.iter().map(|l| (l.path.as_str(), l.status, l.range.clone())).collect();
    assert_eq!(
        seen,
        [
            ("/o/r/resolve/main/r.gguf", 302, None),
            ("/cdn/blob", 200, None),
            ("/o/r/resolve/main/r.gguf", 302, Some("bytes=400000-".into())),
            ("/cdn/blob", 206, Some("bytes=400000-".into())),
        ]
    );

    // A wrong published hash is refused, and nothing is kept.
    server.redirect("/o/r/resolve/main/bad.gguf", "/cdn/blob", Some(&"cd".repeat(32)));
    let err = stderr(&pull(dir.path(), &[&server.url("/o/r/resolve/main/bad.gguf")]));
    assert!(err.contains("checksum mismatch") && err.contains("(server)"), "{err}");
    assert_eq!(entries(dir.path()), ["r.gguf"]);

    // A redirect loop ends with an error, not a hang.
    server.redirect("/loop.gguf", "/loop.gguf", None);
    let err = stderr(&pull(dir.path(), &[&server.url("/loop.gguf")]));
    assert!(err.contains("302") && err.contains("redirect"), "{err}");
}

#[test]
fn missing_models_of_the_table_are_pulled_from_their_sources() {
    let server = FileServer::start().unwrap();
    let bytes = gguf_bytes(800_000, 7);
    server.put("/me/repo/mine.gguf", bytes.clone());
    let models = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let config = project.path().join("repo-run.toml");
    let source = server.url("/me/repo/mine.gguf");
    std::fs::write(&config, format!("[models.fixer]\nmodel = \"mine.gguf\"\nsource = \"{source}\"\n")).unwrap();
    let run = |args: &[&str]| {
        repo_run()
            .args(["models"])
            .args(args)
            .arg("--config")
            .arg(&config)
            .env(env_vars::REPO_RUN_MODEL_DIR, models.path())
            .output()
            .unwrap()
    };

    // `models list` says how to get it.
    let list = String::from_utf8(run(&["list"]).stdout).unwrap();
    assert!(list.contains("repo-run models pull --missing") && list.contains(&source), "{list}");

    // The table's other models (SmolLM2, gemma) have no download source: named, exit 1.
    let pulled = run(&["pull", "--missing"]);
    assert_eq!(pulled.status.code(), Some(1), "{}", stderr(&pulled));
    let err = stderr(&pulled);
    assert!(err.contains(&format!("{SMOLLM2_135M}: no known source")), "{err}");
    assert!(String::from_utf8_lossy(&pulled.stdout).contains("pulled"), "{err}");
    assert_eq!(std::fs::read(models.path().join("mine.gguf")).unwrap(), bytes);
    assert_eq!(server.log().len(), 1);

    // Once everything with a source is here, nothing more is fetched.
    let again = run(&["pull", "--missing", "--json"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "[]");
    assert_eq!(server.log().len(), 1);

    // Without a source or --missing, clap says what is needed.
    let neither = repo_run().args(["models", "pull"]).output().unwrap();
    assert_eq!(neither.status.code(), Some(2));
    assert!(stderr(&neither).contains("--missing"), "{}", stderr(&neither));
}

/// Starts a pull on a slow link, interrupts it with SIGINT once `min` bytes are on disk, and
/// returns how many were kept.
fn interrupt_midway(dir: &Path, url: &str, part: &Path, min: u64) -> u64 {
    let child = repo_run()
        .args(["models", "pull", url, "--force", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(part).map_or(0, |m| m.len()) < min {
        assert!(Instant::now() < deadline, "the download never reached {min} bytes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("interrupted") && err.contains("resume"), "{err}");
    std::fs::metadata(part).unwrap().len()
}

#[test]
fn an_interrupted_pull_resumes_in_the_next_run_unless_the_file_changed() {
    let server = FileServer::start().unwrap();
    let bytes = gguf_bytes(4_000_000, 3);
    server.put("/slow.gguf", bytes.clone());
    server.publish_sha256("/slow.gguf", &sha256(&bytes));
    let url = server.url("/slow.gguf");
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("slow.gguf.part");

    server.set_faults(Faults { chunk_delay: Some(Duration::from_millis(30)), ..Faults::default() });
    let kept = interrupt_midway(dir.path(), &url, &part, 500_000);
    assert!((500_000..4_000_000).contains(&kept), "{kept}");
    assert!(!dir.path().join("slow.gguf").exists(), "no half file under the real name");

    server.set_faults(Faults::default());
    server.clear_log();
    let out = json(&pull(dir.path(), &[&url, "--json"]));
    assert_eq!(out["resumed_from"], kept);
    assert_eq!(out["received"], 4_000_000 - kept);
    assert_eq!(out["verified_by"], "server", "Hugging Face's X-Linked-Etag hash was checked");
    assert_eq!(server.log()[0].range, Some(format!("bytes={kept}-")));
    assert_eq!(std::fs::read(dir.path().join("slow.gguf")).unwrap(), bytes);

    // Interrupted again, then the file changes on the server: If-Range makes the server send
    // the new file whole, and nothing of the old one is spliced in.
    let new_bytes = gguf_bytes(3_500_000, 4);
    server.set_faults(Faults { chunk_delay: Some(Duration::from_millis(30)), ..Faults::default() });
    let kept = interrupt_midway(dir.path(), &url, &part, 300_000);
    assert!(kept >= 300_000);
    server.put("/slow.gguf", new_bytes.clone());
    server.set_faults(Faults::default());
    server.clear_log();
    let out = json(&pull(dir.path(), &[&url, "--json", "--force"]));
    assert_eq!(out["sha256"], sha256(&new_bytes));
    assert_eq!(out["resumed_from"], 0);
    assert_eq!(server.log()[0].status, 200);
    assert_eq!(std::fs::read(dir.path().join("slow.gguf")).unwrap(), new_bytes);
}

#[test]
fn bad_downloads_are_refused_with_a_hint_and_leave_nothing() {
    let server = FileServer::start().unwrap();
    let bytes = gguf_bytes(500_000, 5);
    server.put("/ok.gguf", bytes.clone());
    server.put("/page.gguf", b"<!doctype html><html>a model page, not the model</html>".to_vec());
    let dir = tempfile::tempdir().unwrap();

    let missing = pull(dir.path(), &[&server.url("/nope.gguf")]);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(err.contains("404") && err.contains("hint:"), "{err}");

    let html = pull(dir.path(), &[&server.url("/page.gguf")]);
    let err = stderr(&html);
    assert!(err.contains("not a GGUF model") && err.contains("<!do"), "{err}");

    let wrong = pull(dir.path(), &[&server.url("/ok.gguf"), "--sha256", &sha256(b"something else")]);
    let err = stderr(&wrong);
    assert!(err.contains("checksum mismatch") && err.contains(&sha256(&bytes)), "{err}");

    // The server publishes a wrong hash: also refused.
    server.publish_sha256("/ok.gguf", &"ab".repeat(32));
    let err = stderr(&pull(dir.path(), &[&server.url("/ok.gguf")]));
    assert!(err.contains("checksum mismatch") && err.contains("(server)"), "{err}");

    for (args, expected) in [
        (vec!["ftp://host/m.gguf"], "not a URL"),
        (vec!["hf:owner/repo"], "names no file"),
        (vec![server.url("/").leak() as &str], "--name"),
        (vec![server.url("/ok.gguf").leak() as &str, "--name", "../x.gguf"], "plain file name"),
        (vec![server.url("/ok.gguf").leak() as &str, "--sha256", "xyz"], "64 hex"),
    ] {
        let err = stderr(&pull(dir.path(), &args));
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn a_pulled_model_is_measured_by_models_bench() {
    let real = std::fs::read(model_dir().join(SMOLLM2_135M)).unwrap();
    let server = FileServer::start().unwrap();
    server.put("/HuggingFaceTB/smol.gguf", real.clone());
    server.set_faults(Faults { cut_after: Some(40_000_000), cut_times: 1, ..Faults::default() });
    let dir = tempfile::tempdir().unwrap();
    let out = json(&pull(dir.path(), &[&server.url("/HuggingFaceTB/smol.gguf"), "--sha256", &sha256(&real), "--json"]));
    assert_eq!(out["connections"], 2);
    let path = dir.path().join("smol.gguf");

    let bench = repo_run()
        .args(["models", "bench", "smol", "--tokens", "12", "--concurrency", "3", "--memory-budget", "2048"])
        .args(["--n-gpu-layers", "0", "--json"])
        .env(env_vars::REPO_RUN_MODEL_DIR, dir.path())
        .output()
        .unwrap();
    let report = json(&bench);
    let result = &report["results"][0];
    assert_eq!(result["model"], "smol");
    assert!(result["load_ms"].as_f64().unwrap() > 0.0, "{result}");
    assert_eq!(result["requests"].as_array().unwrap().len(), 3);
    for request in result["requests"].as_array().unwrap() {
        assert!(request["prompt_tokens"].as_u64().unwrap() > 5, "{request}");
        assert!(request["generated_tokens"].as_u64().unwrap() >= 1, "{request}");
    }
    for key in ["prompt_tokens_per_second", "generation_tokens_per_second", "sequential_tokens_per_second"] {
        assert!(result[key].as_f64().unwrap() > 0.0, "{key}: {result}");
    }
    assert!(result["concurrent_tokens_per_second"].as_f64().unwrap() > 0.0, "{result}");
    assert!(result["shared_decode_steps"].as_u64().unwrap() > 0, "3 requests at once share decode steps: {result}");
    assert!(path.is_file());

    // The table view; with the table's models absent, they are skipped and named.
    let text = repo_run()
        .args(["models", "bench"])
        .arg(&path)
        .args(["--tokens", "4", "--concurrency", "2", "--memory-budget", "2048", "--n-gpu-layers", "0"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(stdout.contains("2 AT ONCE TOK/S") && stdout.contains("smol.gguf"), "{stdout}");
    let empty = tempfile::tempdir().unwrap();
    let none = repo_run().args(["models", "bench"]).env(env_vars::REPO_RUN_MODEL_DIR, empty.path()).output().unwrap();
    assert_eq!(none.status.code(), Some(1));
    let err = stderr(&none);
    assert!(err.contains("no model to measure") && err.contains("is not on this machine"), "{err}");
}
