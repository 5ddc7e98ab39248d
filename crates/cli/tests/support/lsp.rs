//! A minimal LSP client over a real byte stream: the `repo-run lsp` child's stdin and stdout,
//! with `Content-Length` framing, a reader thread and a backlog of messages that arrived while
//! the test waited for something else.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

pub struct LspClient {
    pub child: Child,
    /// `None` once closed: the server exits when its input ends.
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Messages read while waiting for something else.
    pub backlog: Vec<Value>,
    /// How long [`LspClient::wait`] waits for one message.
    timeout: Duration,
}

impl LspClient {
    /// Spawns `command` (a `repo-run lsp` invocation) with piped stdin and stdout.
    pub fn spawn(mut command: Command, timeout: Duration) -> LspClient {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            loop {
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                stdout.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        LspClient { child, stdin: Some(stdin), incoming, backlog: Vec::new(), timeout }
    }

    /// One frame with `body` as it is (tests send malformed bodies too).
    pub fn send_raw(&mut self, body: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        stdin.write_all(body).unwrap();
        stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send_raw(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string().as_bytes());
    }

    pub fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send_raw(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string().as_bytes());
        self.response(id)
    }

    pub fn response(&mut self, id: u64) -> Value {
        self.wait(|m| m["id"] == id && m.get("method").is_none())
    }

    /// The first message (already read or still to come) that `pred` accepts.
    pub fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        loop {
            let m = self.incoming.recv_timeout(self.timeout).expect("no message from the server");
            if pred(&m) {
                return m;
            }
            self.backlog.push(m);
        }
    }

    /// Ends the server's input, as an editor does when it quits.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }
}

impl Drop for LspClient {
    /// A failing test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Applies LSP text edits to `text` (ASCII, so UTF-16 columns are byte columns), last first.
pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut edits: Vec<_> = edits
        .iter()
        .map(|e| (offset(text, &e["range"]["start"]), offset(text, &e["range"]["end"]), e["newText"].as_str().unwrap()))
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (s, e, t) in edits {
        out.replace_range(s..e, t);
    }
    out
}

/// The byte offset of an LSP position in ASCII `text`.
pub fn offset(text: &str, p: &Value) -> usize {
    let line = p["line"].as_u64().unwrap() as usize;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    start + p["character"].as_u64().unwrap() as usize
}
