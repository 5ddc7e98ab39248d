//! `repo-run lsp`'s model edit actions end to end: the real binary over stdio, the real
//! SmolLM2 model as the Refactor agent's model. A 135M model often answers junk; the tests
//! assert the invariant that holds either way: an edit that reaches the editor parses, and
//! anything else is dropped with a message.

use std::process::Command;
use std::time::{Duration, Instant};

use repo_run_lsp::Lang;
use repo_run_lsp::refactor::parses_as_well;
use serde_json::{Value, json};

mod support;

use support::lsp::{LspClient as Client, apply_edits, offset};

/// The server with these model variables and no others from the test's environment.
fn start_with(env: &[(&str, &str)]) -> Client {
    let mut command = Command::new(env!("CARGO_BIN_EXE_repo-run"));
    command.arg("lsp");
    for agent in ["REFACTOR_AGENT_MODEL", "REVIEW_AGENT_MODEL"] {
        command.env_remove(agent);
    }
    // The small tier, whatever larger models this machine has fetched (`auto` would pick them).
    command.env("REPO_RUN_MODEL_PROFILE", "local");
    command.envs(env.iter().copied());
    Client::spawn(command, Duration::from_secs(180))
}

/// What these tests do with a session besides plain requests.
trait Session {
    fn send(&mut self, message: Value);
    fn open(&mut self, options: Value);
    fn shutdown(self);
}

impl Session for Client {
    fn send(&mut self, message: Value) {
        self.send_raw(message.to_string().as_bytes());
    }

    /// Initialize (with work-done progress), open `TEXT` and wait for its first check.
    fn open(&mut self, options: Value) {
        self.request(
            1,
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": {"window": {"workDoneProgress": true}},
                   "initializationOptions": options}),
        );
        self.notify("initialized", json!({}));
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}}),
        );
        self.wait(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == 1);
    }

    fn shutdown(mut self) {
        assert_eq!(self.request(99, "shutdown", Value::Null)["result"], Value::Null);
        self.notify("exit", Value::Null);
        self.close_stdin();
        assert!(self.child.wait().unwrap().success());
    }
}

const URI: &str = "file:///work/demo/calc.py";
const TEXT: &str = "def total(items, limit):\n    t = 0\n    for x in items:\n        if x > 0 and not x > limit:\n            t = t + x\n    return t\n";

/// From the `x` of `if x > 0` to the end of `t = t + x`: statements to extract, a condition
/// under the cursor, and an identifier under it.
fn selection() -> Value {
    json!({"start": {"line": 3, "character": 11}, "end": {"line": 4, "character": 21}})
}

fn code_actions(c: &mut Client, id: u64) -> (Vec<Value>, Duration) {
    let started = Instant::now();
    let actions = c.request(
        id,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": selection(), "context": {"diagnostics": []}}),
    );
    (actions["result"].as_array().cloned().unwrap_or_default(), started.elapsed())
}

fn titles(actions: &[Value]) -> Vec<String> {
    actions.iter().map(|a| a["title"].as_str().unwrap().to_string()).collect()
}

const TITLES: [&str; 3] =
    ["Extract function (repo-run model)", "Simplify condition (repo-run model)", "Rename for clarity (repo-run model)"];

fn smollm2() -> String {
    let dir = std::env::var_os(repo_run_inference::env_vars::REPO_RUN_MODEL_DIR)
        .map(Into::into)
        .unwrap_or_else(repo_run_inference::table::default_model_dir);
    let model = dir.join(repo_run_inference::table::SMOLLM2_135M);
    assert!(model.is_file(), "{} is missing: run `cargo xtask models` first", model.display());
    model.to_str().unwrap().to_string()
}

/// What executing one action gave: the edit that reached the editor (already answered as
/// applied), or the message that said why not, and the command's result.
enum Outcome {
    Edit(Vec<Value>),
    Dropped(String),
}

/// Run `action`'s command with a progress token; checks that progress begins and ends.
fn execute(c: &mut Client, id: u64, action: &Value) -> (Outcome, Value, Duration) {
    let command = &action["command"];
    assert_eq!(command["command"], "repo-run.refactor", "{action}");
    let token = format!("refactor-{id}");
    let started = Instant::now();
    c.send(json!({"jsonrpc": "2.0", "id": id, "method": "workspace/executeCommand",
                  "params": {"command": command["command"], "arguments": command["arguments"], "workDoneToken": token}}));
    let progress = |m: &Value, kind: &str| {
        m["method"] == "$/progress" && m["params"]["token"] == token.as_str() && m["params"]["value"]["kind"] == kind
    };
    let begin = c.wait(|m| progress(m, "begin"));
    assert!(begin["params"]["value"]["title"].as_str().unwrap().starts_with("repo-run: "), "{begin}");
    let first = c.wait(|m| m["method"] == "workspace/applyEdit" || m["method"] == "window/showMessage");
    let took = started.elapsed();
    let outcome = if first["method"] == "workspace/applyEdit" {
        c.send(json!({"jsonrpc": "2.0", "id": first["id"], "result": {"applied": true}}));
        Outcome::Edit(first["params"]["edit"]["changes"][URI].as_array().unwrap().clone())
    } else {
        assert_eq!(first["params"]["type"], 2, "a warning: {first}");
        Outcome::Dropped(first["params"]["message"].as_str().unwrap().to_string())
    };
    let result = c.response(id)["result"].clone();
    let report = c.wait(|m| progress(m, "report"));
    assert_eq!(report["params"]["value"]["message"], "asking the Refactor model");
    c.wait(|m| progress(m, "end"));
    // Nothing of this run is left over for the next.
    c.backlog.retain(|m| m["params"]["token"] != token.as_str());
    (outcome, result, took)
}

#[test]
fn model_edit_actions_apply_only_edits_that_parse() {
    let mut c = start_with(&[("REFACTOR_AGENT_MODEL", &smollm2())]);
    c.open(json!({}));
    let (actions, took) = code_actions(&mut c, 2);
    let offered = titles(&actions);
    for title in TITLES {
        assert!(offered.iter().any(|t| t == title), "{title} not in {offered:?}");
    }
    // Offering runs no model: commands, no edits, no progress.
    assert!(actions.iter().all(|a| a.get("edit").is_none()), "{actions:?}");
    assert!(took < Duration::from_secs(5), "codeAction took {took:?}");
    eprintln!("codeAction answered in {took:?}");
    let action = |title: &str| actions.iter().find(|a| a["title"] == title).unwrap().clone();

    // Rename: every occurrence of the loop variable, or nothing.
    let (outcome, result, took) = execute(&mut c, 3, &action(TITLES[2]));
    eprintln!("rename: executeCommand → answer in {took:?}: {result}");
    match outcome {
        Outcome::Edit(edits) => {
            let after = apply_edits(TEXT, &edits);
            eprintln!("after the rename:\n{after}");
            assert!(parses_as_well(Lang::Python, TEXT, &after), "{after}");
            assert_eq!(edits.len(), 4, "for x, if x, not x, t + x: {edits:?}");
            let new = edits[0]["newText"].as_str().unwrap();
            assert!(edits.iter().all(|e| e["newText"] == new), "{edits:?}");
            assert!(edits.iter().all(|e| {
                let (s, e) = (offset(TEXT, &e["range"]["start"]), offset(TEXT, &e["range"]["end"]));
                &TEXT[s..e] == "x"
            }));
            assert_eq!(after.matches(new).count(), TEXT.matches(new).count() + 4, "{after}");
            assert_eq!(result["applied"], true, "{result}");
            assert_eq!(result["edits"], 4);
        }
        Outcome::Dropped(message) => {
            assert!(message.starts_with("repo-run: Rename for clarity: nothing changed: "), "{message}");
            assert_eq!(result["applied"], false, "{result}");
            assert!(!result["reason"].as_str().unwrap().is_empty());
        }
    }

    // Simplify and extract: whatever the model wrote, the text after the edit parses.
    for (id, title) in [(4, TITLES[1]), (5, TITLES[0])] {
        let (outcome, result, took) = execute(&mut c, id, &action(title));
        eprintln!("{title}: executeCommand → answer in {took:?}: {result}");
        match outcome {
            Outcome::Edit(edits) => {
                let after = apply_edits(TEXT, &edits);
                eprintln!("after {title}:\n{after}");
                assert!(parses_as_well(Lang::Python, TEXT, &after), "{after}");
                assert_eq!(result["applied"], true, "{result}");
            }
            Outcome::Dropped(message) => {
                assert!(message.contains("nothing changed"), "{message}");
                assert_eq!(result["applied"], false, "{result}");
            }
        }
    }

    // Cancelled while the model runs: the request is answered as cancelled, progress ends,
    // and no edit arrives.
    let command = action(TITLES[0])["command"].clone();
    c.send(json!({"jsonrpc": "2.0", "id": 6, "method": "workspace/executeCommand",
                  "params": {"command": command["command"], "arguments": command["arguments"], "workDoneToken": "cancel-me"}}));
    c.wait(|m| m["method"] == "$/progress" && m["params"]["token"] == "cancel-me");
    c.notify("$/cancelRequest", json!({"id": 6}));
    let cancelled = c.response(6);
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    let started = Instant::now();
    c.wait(|m| {
        m["method"] == "$/progress" && m["params"]["token"] == "cancel-me" && m["params"]["value"]["kind"] == "end"
    });
    eprintln!("progress ended {:?} after the cancel", started.elapsed());
    assert!(!c.backlog.iter().any(|m| m["method"] == "workspace/applyEdit"), "{:?}", c.backlog);

    // The `model` setting off takes the actions away.
    c.notify("workspace/didChangeConfiguration", json!({"settings": {"repoRun": {"model": false}}}));
    let (actions, _) = code_actions(&mut c, 7);
    assert!(titles(&actions).iter().all(|t| !TITLES.contains(&t.as_str())), "{actions:?}");
    c.shutdown();
}

#[test]
fn without_a_model_the_actions_are_absent() {
    let empty = tempfile::tempdir().unwrap();
    let mut c = start_with(&[("REPO_RUN_MODEL_DIR", empty.path().to_str().unwrap())]);
    c.open(json!({}));
    let (actions, _) = code_actions(&mut c, 2);
    assert!(titles(&actions).iter().all(|t| !TITLES.contains(&t.as_str())), "{actions:?}");

    // Running the command anyway: a clear error, and the server carries on.
    let args = json!([URI, "rename", selection(), 1]);
    let error = c.request(3, "workspace/executeCommand", json!({"command": "repo-run.refactor", "arguments": args}));
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no Refactor model"), "{error}");
    let bad =
        c.request(4, "workspace/executeCommand", json!({"command": "repo-run.refactor", "arguments": [URI, "inline"]}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let (again, _) = code_actions(&mut c, 5);
    assert_eq!(again, actions);
    c.shutdown();
}
