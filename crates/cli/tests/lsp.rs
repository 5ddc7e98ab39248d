//! `repo-run lsp` end to end: the real binary, spoken to in JSON-RPC over its stdin/stdout.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

mod support;

use support::lsp::{LspClient as Client, apply_edits};

fn start() -> Client {
    start_with(&[])
}

/// The server with extra environment variables (model paths).
fn start_with(env: &[(&str, &str)]) -> Client {
    let mut command = Command::new(env!("CARGO_BIN_EXE_repo-run"));
    // The small tier, whatever larger models this machine has fetched (`auto` would pick them).
    command.arg("lsp").env("REPO_RUN_MODEL_PROFILE", "local").envs(env.iter().copied());
    Client::spawn(command, Duration::from_secs(120))
}

/// The diagnostics published for `uri` at `version`, as `(code, line, character)`.
fn diagnostics(c: &mut Client, uri: &str, version: i64) -> Vec<(String, u64, u64)> {
    let m = c.wait(|m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri
            && m["params"]["version"] == version
    });
    codes(&m["params"]["diagnostics"])
}

fn codes(diags: &Value) -> Vec<(String, u64, u64)> {
    diags
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let s = &d["range"]["start"];
            (d["code"].as_str().unwrap().to_string(), s["line"].as_u64().unwrap(), s["character"].as_u64().unwrap())
        })
        .collect()
}

const APP: &str = "file:///work/demo/app.py";

#[test]
fn edit_check_fix_cycle_over_stdio() {
    let mut c = start();
    let init = c.request(1, "initialize", json!({"processId": null, "rootUri": null, "capabilities": {}}));
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["textDocumentSync"]["change"], 2, "{init}");
    assert_eq!(
        caps["codeActionProvider"]["codeActionKinds"],
        json!(["quickfix", "refactor.extract", "refactor.rewrite"])
    );
    c.notify("initialized", json!({}));

    let mut text = "import requests\n\ndef get(u):\n    return requests.get(u, verify=False)\n".to_string();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": APP, "languageId": "python", "version": 1, "text": text}}),
    );
    assert_eq!(diagnostics(&mut c, APP, 1), [("python.tls-verify-disabled".to_string(), 3, 27)]);

    // One incremental change: a new line at the top.
    let insert = "x = eval(data)\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": APP, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": insert}]}),
    );
    text.insert_str(0, insert);
    assert_eq!(
        diagnostics(&mut c, APP, 2),
        [("python.eval".to_string(), 0, 4), ("python.tls-verify-disabled".to_string(), 4, 27)]
    );

    let actions = c.request(
        2,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": APP},
               "range": {"start": {"line": 4, "character": 30}, "end": {"line": 4, "character": 30}},
               "context": {"diagnostics": []}}),
    );
    let action = &actions["result"][0];
    assert_eq!(action["kind"], "quickfix", "{actions}");
    let edits = action["edit"]["changes"][APP].as_array().unwrap();
    let fixed = apply_edits(&text, edits);
    assert_eq!(fixed, "x = eval(data)\nimport requests\n\ndef get(u):\n    return requests.get(u, verify=True)\n");

    // The editor applies the edit and sends it back as a change.
    let changes: Vec<_> = edits.iter().map(|e| json!({"range": e["range"], "text": e["newText"]})).collect();
    c.notify("textDocument/didChange", json!({"textDocument": {"uri": APP, "version": 3}, "contentChanges": changes}));
    assert_eq!(diagnostics(&mut c, APP, 3), [("python.eval".to_string(), 0, 4)]);

    // Pull diagnostics agree.
    let pulled = c.request(3, "textDocument/diagnostic", json!({"textDocument": {"uri": APP}}));
    assert_eq!(pulled["result"]["kind"], "full");
    assert_eq!(codes(&pulled["result"]["items"]), [("python.eval".to_string(), 0, 4)]);

    // Settings: turn the rule off, and the diagnostics go.
    c.notify("workspace/didChangeConfiguration", json!({"settings": {"repoRun": {"rules": {"python.eval": false}}}}));
    assert_eq!(diagnostics(&mut c, APP, 3), []);

    assert_eq!(c.request(4, "shutdown", Value::Null)["result"], Value::Null);
    c.notify("exit", Value::Null);
    c.close_stdin();
    let status = c.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn fix_all_command_with_progress() {
    let mut c = start();
    c.request(
        1,
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {"window": {"workDoneProgress": true}}}),
    );
    c.notify("initialized", json!({}));
    let uri = "file:///work/demo/src/agent.js";
    let text =
        "function f() {\n  debugger;\n  console.log(x);\n  return new https.Agent({ rejectUnauthorized: false });\n}\n";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "javascript", "version": 1, "text": text}}),
    );
    assert_eq!(diagnostics(&mut c, uri, 1).len(), 3);

    c.send_raw(
        json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
               "params": {"command": "repo-run.fixAll", "arguments": [uri], "workDoneToken": "fix-1"}})
        .to_string()
        .as_bytes(),
    );
    let begin = c.wait(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin");
    assert_eq!(begin["params"]["token"], "fix-1");
    let request = c.wait(|m| m["method"] == "workspace/applyEdit");
    let edits = request["params"]["edit"]["changes"][uri].as_array().unwrap().clone();
    c.send_raw(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"applied": true}}).to_string().as_bytes());
    let done = c.wait(|m| m["id"] == 2 && m.get("method").is_none());
    assert_eq!(done["result"], json!({"edits": 3, "applied": true}));
    c.wait(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end");
    assert_eq!(
        apply_edits(text, &edits),
        "function f() {\n  return new https.Agent({ rejectUnauthorized: true });\n}\n"
    );

    let unknown = c.request(3, "workspace/executeCommand", json!({"command": "repo-run.nope", "arguments": []}));
    assert_eq!(unknown["error"]["code"], -32602);
}

#[test]
fn bad_input_does_not_crash_the_server() {
    let mut c = start();
    c.request(1, "initialize", json!({"processId": null, "rootUri": null, "capabilities": {}}));
    c.notify("initialized", json!({}));

    // Malformed JSON, invalid UTF-8, an unknown method: errors, and the server goes on.
    c.send_raw(b"{\"jsonrpc\": \"2.0\", \"id\": 9, \"method\": ");
    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"x\xff\xfe\"}");
    let unknown = c.request(2, "repoRun/noSuchMethod", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");

    // A language no rule reads: kept, no findings.
    let cob = "file:///work/demo/report.cob";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": cob, "languageId": "cobol", "version": 1, "text": "eval(x)"}}),
    );
    assert_eq!(diagnostics(&mut c, cob, 1), []);

    // A 5 MB document, then a change to it.
    let big = "file:///work/demo/big.py";
    let line = "value = compute(alpha, beta) + 1  # padding padding padding padding\n";
    let mut text = line.repeat(5 * 1024 * 1024 / line.len());
    text.push_str("r = requests.get(u, verify=False)\n");
    let last = (text.lines().count() - 1) as u64;
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": big, "languageId": "python", "version": 1, "text": text}}),
    );
    assert_eq!(diagnostics(&mut c, big, 1), [("python.tls-verify-disabled".to_string(), last, 20)]);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": big, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "eval(s)\n"}]}),
    );
    assert_eq!(
        diagnostics(&mut c, big, 2),
        [("python.eval".to_string(), 0, 0), ("python.tls-verify-disabled".to_string(), last + 1, 20)]
    );

    // Changes and requests for documents never opened.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": "file:///nope.py", "version": 2}, "contentChanges": []}),
    );
    let pulled = c.request(3, "textDocument/diagnostic", json!({"textDocument": {"uri": "file:///nope.py"}}));
    assert_eq!(pulled["result"]["items"], json!([]));

    assert_eq!(c.request(4, "shutdown", Value::Null)["result"], Value::Null);
    c.notify("exit", Value::Null);
    c.close_stdin();
    assert!(c.child.wait().unwrap().success());
}

/// The first `publishDiagnostics` for `uri` whose diagnostics `pred` accepts, as (code, line).
fn published(c: &mut Client, uri: &str, pred: impl Fn(&[(String, u64, u64)]) -> bool) -> Vec<(String, u64)> {
    let m = c.wait(|m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri
            && pred(&codes(&m["params"]["diagnostics"]))
    });
    codes(&m["params"]["diagnostics"]).into_iter().map(|(code, line, _)| (code, line)).collect()
}

#[test]
fn plan_problems_show_on_the_manifest_lines() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "package.json",
            "{\n  \"name\": \"demo\",\n  \"engines\": {\"node\": \"<=10\"},\n  \"scripts\": {\"start\": \"node index.js\"}\n}\n",
        ),
        ("pyproject.toml", "[project]\nname = \"demo\"\nversion = \n"),
        ("index.js", "console.log(process.env.STRIPE_KEY);\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let root = format!("file://{}", dir.path().display());
    let uri = |name: &str| format!("{root}/{name}");
    let mut c = start();
    c.request(
        1,
        "initialize",
        json!({"processId": null, "rootUri": root, "workspaceFolders": [{"uri": root, "name": "demo"}], "capabilities": {}}),
    );
    c.notify("initialized", json!({}));

    // Files that are not open get their problems too.
    let runtime = published(&mut c, &uri("package.json"), |d| !d.is_empty());
    assert!(
        runtime.contains(&("plan.runtime-mismatch".to_string(), 2))
            || runtime.contains(&("plan.runtime-missing".to_string(), 2)),
        "{runtime:?}"
    );
    let manifest = published(&mut c, &uri("pyproject.toml"), |d| !d.is_empty());
    assert_eq!(manifest, [("plan.manifest".to_string(), 2)]);

    // An open document shows review findings and plan problems together; a change that
    // clears the finding keeps the problem, and the `plan` setting off clears the problem.
    let js = uri("index.js");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": js, "languageId": "javascript", "version": 1, "text": files[2].1}}),
    );
    let both = published(&mut c, &js, |d| d.len() == 2);
    assert_eq!(both, [("js.console-log".to_string(), 0), ("plan.env-required".to_string(), 0)]);
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": js, "version": 2},
               "contentChanges": [{"text": "const key = process.env.STRIPE_KEY;\n"}]}),
    );
    assert_eq!(published(&mut c, &js, |d| d.len() == 1), [("plan.env-required".to_string(), 0)]);
    c.notify("workspace/didChangeConfiguration", json!({"settings": {"repoRun": {"plan": false}}}));
    assert_eq!(published(&mut c, &js, <[_]>::is_empty), []);
    assert_eq!(published(&mut c, &uri("package.json"), <[_]>::is_empty), []);

    assert_eq!(c.request(2, "shutdown", Value::Null)["result"], Value::Null);
    c.notify("exit", Value::Null);
    c.close_stdin();
    assert!(c.child.wait().unwrap().success());
}

const EXPLAIN_TITLE: &str = "Explain this finding (repo-run model)";

/// Open a document with one finding, pick "Explain this finding" on it, run it with progress,
/// and return the message shown and the command's result.
fn explain(c: &mut Client, options: Value) -> (Value, Value) {
    c.request(
        1,
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {"window": {"workDoneProgress": true}},
               "initializationOptions": options}),
    );
    c.notify("initialized", json!({}));
    let text = "import requests\n\ndef get(u):\n    return requests.get(u, verify=False)\n";
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": APP, "languageId": "python", "version": 1, "text": text}}),
    );
    assert_eq!(diagnostics(c, APP, 1), [("python.tls-verify-disabled".to_string(), 3, 27)]);
    let actions = c.request(
        2,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": APP},
               "range": {"start": {"line": 3, "character": 30}, "end": {"line": 3, "character": 30}},
               "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> =
        actions["result"].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Turn TLS verification back on (verify=True)", EXPLAIN_TITLE], "{actions}");
    let command = &actions["result"][1]["command"];
    assert_eq!(command["command"], "repo-run.explain");
    c.send_raw(
        json!({"jsonrpc": "2.0", "id": 3, "method": "workspace/executeCommand",
               "params": {"command": command["command"], "arguments": command["arguments"], "workDoneToken": "explain-1"}})
        .to_string()
        .as_bytes(),
    );
    let begin = c.wait(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin");
    assert_eq!(begin["params"]["token"], "explain-1");
    let message = c.wait(|m| m["method"] == "window/showMessage");
    let done = c.wait(|m| m["id"] == 3 && m.get("method").is_none());
    c.wait(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end");
    (message["params"].clone(), done["result"].clone())
}

fn model_dir() -> std::path::PathBuf {
    std::env::var_os(repo_run_inference::env_vars::REPO_RUN_MODEL_DIR)
        .map(Into::into)
        .unwrap_or_else(repo_run_inference::table::default_model_dir)
}

#[test]
fn explain_a_finding_with_the_model() {
    let model = model_dir().join(repo_run_inference::table::SMOLLM2_135M);
    assert!(model.is_file(), "{} is missing: run `cargo xtask models` first", model.display());
    let mut c = start_with(&[("REVIEW_AGENT_MODEL", model.to_str().unwrap())]);
    let started = std::time::Instant::now();
    let (message, result) = explain(&mut c, json!({}));
    eprintln!("explained in {:?}: {result}", started.elapsed());
    assert_eq!(result["source"], "model", "{result}");
    assert_eq!(result["rule"], "python.tls-verify-disabled");
    let text = message["message"].as_str().unwrap();
    assert!(text.starts_with("python.tls-verify-disabled: ") && text.len() > 40, "{text}");
    assert_eq!(message["type"], 3);

    // The `model` setting off takes the action away.
    c.notify("workspace/didChangeConfiguration", json!({"settings": {"repoRun": {"model": false}}}));
    let actions = c.request(
        4,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": APP},
               "range": {"start": {"line": 3, "character": 30}, "end": {"line": 3, "character": 30}},
               "context": {"diagnostics": []}}),
    );
    assert_eq!(actions["result"].as_array().unwrap().len(), 1, "{actions}");
}

#[test]
fn explain_falls_back_to_the_rule_docs_without_a_usable_model() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"this is not a model").unwrap();
    // The fallback model is looked up in the empty folder, so the chain ends at the docs.
    let mut c = start_with(&[
        ("REVIEW_AGENT_MODEL", garbage.to_str().unwrap()),
        ("REPO_RUN_MODEL_DIR", dir.path().to_str().unwrap()),
    ]);
    let (message, result) = explain(&mut c, json!({"model": true}));
    assert_eq!(result["source"], "rule docs", "{result}");
    let docs = repo_run_lsp::rules::rule("python.tls-verify-disabled").unwrap().docs;
    assert_eq!(result["explanation"], docs);
    assert_eq!(message["message"], format!("python.tls-verify-disabled: {docs}"));
}
