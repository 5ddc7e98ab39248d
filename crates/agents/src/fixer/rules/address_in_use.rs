//! `EADDRINUSE` / "Address already in use" on a port the app does not take from the
//! environment (one it does take gets a free port from the Runner before it starts, so it
//! never lands here). No action can move such a port; the diagnosis names the port and its
//! holder, so the user knows what to stop, and the Fixer ends at once instead of retrying.

use std::sync::LazyLock;

use regex::Regex;

use super::{Context, Diagnosis, Rule};
use crate::failure::StepKind;

pub struct AddressInUse;

static BUSY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)EADDRINUSE|address already in use|Errno 98|AddrInUse").expect("valid pattern"));

/// The port in the line: `:::3000`, `0.0.0.0:8000`, `('0.0.0.0', 8000)`, `tcp :8080:`.
static PORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[:\]]|', )(\d{2,5})(?:\)|:|\b)").expect("valid pattern"));

impl Rule for AddressInUse {
    fn id(&self) -> &'static str {
        "port.address-in-use"
    }

    fn diagnose(&self, cx: &Context<'_>) -> Option<Diagnosis> {
        let f = cx.failure;
        if !matches!(f.step, StepKind::Start | StepKind::Health) {
            return None;
        }
        let line = cx.lines().rev().find(|l| BUSY.is_match(l))?;
        let port = PORT
            .captures_iter(line)
            .filter_map(|c| c[1].parse::<u16>().ok())
            .find(|p| *p >= 80)
            .or(f.port)
            .or_else(|| cx.lines().rev().find_map(port_in_code));
        let port_text = port.map_or("its port".to_owned(), |p| format!("port {p}"));
        // The holder is looked up now: the app that failed is gone, the other program is not.
        let holder = port.and_then(crate::runner::port_holder).map(|h| format!(", held by {h}")).unwrap_or_default();
        let explanation = format!(
            "the app could not listen on {port_text}{holder}: it does not take its port from the environment, so \
             repo-run cannot move it; stop the program holding the port (`ss -ltnp`{}) and run `repo-run up` again",
            port.map(|p| format!(" 'sport = :{p}'")).unwrap_or_default()
        );
        let keys = port.map(|p| vec![("port", p.to_string())]).unwrap_or_default();
        Some(Diagnosis::new(self.id(), keys, format!("{port_text} is already in use")).explain(explanation))
    }
}

/// A port written in the code line a traceback quotes: `HTTPServer(("0.0.0.0", 8765), H)`,
/// `app.listen(3000)`, `bind("127.0.0.1:8080")`.
fn port_in_code(line: &str) -> Option<u16> {
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)(?:bind|listen|server|run)\w*\s*\(.*?[\s,:("']([1-9]\d{2,4})\b"#).expect("valid pattern")
    });
    let port: u16 = CALL.captures(line)?[1].parse().ok()?;
    (port >= 80).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixer::rules::testing::failure;
    use crate::pipeline::Stage;

    fn diagnose(log: &str) -> Option<Diagnosis> {
        let f = failure(Stage::Health, StepKind::Health, &["node", "server.js"], log);
        AddressInUse.diagnose(&Context::bare(&f, std::path::Path::new("/nonexistent")))
    }

    #[test]
    fn node_python_and_go_wordings_name_the_port() {
        let node = "node:events:497\n      throw er; // Unhandled 'error' event\n      ^\n\nError: listen EADDRINUSE: \
                    address already in use :::3000\n    at Server.setupListenHandle [as _listen2] (node:net:1872:16)";
        let d = diagnose(node).unwrap();
        assert_eq!(d.signal.keys, [("port", "3000".to_owned())]);
        assert!(d.candidates.is_empty());
        assert!(d.explanation.unwrap().contains("port 3000"));
        let uvicorn = "ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address \
                       already in use";
        assert_eq!(diagnose(uvicorn).unwrap().signal.keys, [("port", "8000".to_owned())]);
        let go = "2026/12/07 10:00:00 listen tcp :8080: bind: address already in use";
        assert_eq!(diagnose(go).unwrap().signal.keys, [("port", "8080".to_owned())]);
        let flask = "OSError: [Errno 98] Address already in use";
        assert!(diagnose(flask).unwrap().signal.keys.is_empty(), "no port in the text and none recorded");
        let traceback = "  File \"/srv/app.py\", line 13, in <module>\n    HTTPServer((\"0.0.0.0\", 8765), \
                         Handler).serve_forever()\n    self.socket.bind(self.server_address)\nOSError: [Errno 98] \
                         Address already in use";
        assert_eq!(diagnose(traceback).unwrap().signal.keys, [("port", "8765".to_owned())]);
    }

    #[test]
    fn other_failures_are_not_port_clashes() {
        assert!(diagnose("Error: Cannot find module '/app/index.js'").is_none());
        assert!(diagnose("listening on http://0.0.0.0:3000").is_none());
    }
}
