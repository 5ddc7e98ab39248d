//! The Health model's question: is an app whose log matches no known ready line ready, still
//! starting, or stopped by a fatal error while its process lingers?
//!
//! Rules decide first: a port that answers, a ready line ([`super::probe::ready_pattern`]), an
//! exit. What they leave is a live process whose log they cannot read: a worker that says
//! "Consumer subscribed to 3 queues", nodemon's "app crashed - waiting for file changes", a
//! server still migrating. The model sees the last lines of the log, numbered, and answers under
//! a grammar with a state and the number of the line that shows it. The answer counts only when
//! that line supports it: a fatal state needs a line that reports an error, a ready state a line
//! that does not (and an app with a port is ready only when the port answers, which is the
//! probe's to see). A refused answer goes one model down the chain; past its end the rule
//! answer stands (a live app without a port is up; one with a port is still waited for).

use crate::models::{ModelRequest, Models};
use crate::pipeline::Stage;
use crate::plan::ModelDecision;

/// The agent row that answers, as recorded in [`ModelDecision::agent`].
const AGENT: &str = "health";

/// How many of the log's last lines the model sees.
const LINES: usize = 30;
/// How much of one line it sees.
const LINE_CHARS: usize = 200;
/// How many lines may follow the error a fatal state points at.
const FATAL_TAIL: usize = 8;
/// How far from the line a fatal state points at its error may be: models often name a
/// neighbour of the error (the traceback's header, a stack frame, the supervisor's "crashed").
const FATAL_NEAR: usize = 2;

/// What the log says about the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Starting,
    Fatal,
}

impl Readiness {
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::Starting => "starting",
            Readiness::Fatal => "fatal",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Readiness::Ready, Readiness::Starting, Readiness::Fatal].into_iter().find(|r| r.as_str() == s)
    }
}

/// An answer that passed validation: the state, the log line that shows it, and its provenance.
#[derive(Debug, Clone)]
pub struct ReadinessAnswer {
    pub state: Readiness,
    pub line: String,
    pub decision: ModelDecision,
}

/// The lines offered: the last [`LINES`] non-blank lines, each cut to [`LINE_CHARS`].
pub fn log_lines(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(LINES)..].iter().map(|l| l.chars().take(LINE_CHARS).collect()).collect()
}

/// Asks the Health model about the log of `app` (started with `command`). `has_port`: the app
/// has a port the probe waits on. Every answer, refused ones included, is in `decisions`;
/// `Ok(None)` when the chain gave no answer that passed validation (the rule answer stands).
pub fn classify(
    models: &dyn Models,
    app: &str,
    command: &str,
    has_port: bool,
    log: &str,
    decisions: &mut Vec<ModelDecision>,
) -> Option<ReadinessAnswer> {
    let lines = log_lines(log);
    if lines.is_empty() {
        return None;
    }
    for escalation in 0..4 {
        let mut request = request(app, command, has_port, &lines);
        request.escalation = escalation;
        let reply = models.ask(Stage::Health, &request);
        let Ok(json) = reply.json else { return None };
        let state = json.get("state").and_then(|s| s.as_str()).and_then(Readiness::parse);
        let index = json
            .get("line")
            .and_then(|l| l.as_str())
            .and_then(|l| l.strip_prefix('l'))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .filter(|i| *i < lines.len());
        let (Some(state), Some(named)) = (state, index) else { return None };
        // A fatal state stands on the error nearest the named line (see FATAL_NEAR).
        let index = if state == Readiness::Fatal { nearest_error(&lines, named).unwrap_or(named) } else { named };
        let line = &lines[index];
        let mut decision = ModelDecision {
            question: "readiness".into(),
            answer: state.as_str().into(),
            agent: AGENT.into(),
            model: reply.model,
            latency_ms: reply.elapsed_ms,
            candidates: lines.len(),
            reason: line.clone(),
            validated: String::new(),
            rejected: None,
        };
        match validate(state, &lines[index..], has_port) {
            Ok(validated) => {
                decision.validated = if index == named {
                    validated
                } else {
                    format!("it named line {}, next to this one; {validated}", named + 1)
                };
                decisions.push(decision.clone());
                return Some(ReadinessAnswer { state, line: line.clone(), decision });
            }
            Err(why) => {
                decision.rejected = Some(why);
                decisions.push(decision);
            }
        }
    }
    None
}

/// The line that reports an error nearest `named` (itself first, then one line away, earlier
/// before later, up to [`FATAL_NEAR`]).
fn nearest_error(lines: &[String], named: usize) -> Option<usize> {
    (0..=FATAL_NEAR)
        .flat_map(|d| [named.checked_sub(d), Some(named + d)])
        .flatten()
        .filter(|i| *i < lines.len())
        .find(|i| error_word(&lines[*i]).is_some())
}

/// Whether the line the model pointed at (the first of `from`, the lines from it to the end
/// of the log) supports its state: a fatal state needs that line to report an error; a ready
/// one needs it and every later line not to (a ready line older than an error is not the
/// app's state now), and no port to wait for.
fn validate(state: Readiness, from: &[String], has_port: bool) -> Result<String, String> {
    let line = &from[0];
    match state {
        Readiness::Fatal => match error_word(line) {
            // An error the app went on past (a retried connection, then "connected") is not
            // its state now: a fatal error is among the log's last words.
            Some(_) if from.len() > FATAL_TAIL + 1 => {
                Err(format!("{} lines follow the error it points at: the app went on past it", from.len() - 1))
            }
            Some(word) => Ok(format!("the line reports an error (`{word}`) and the log ends soon after")),
            None => Err("the line it points at reports no error".into()),
        },
        Readiness::Ready => {
            if let Some((i, word)) = from.iter().enumerate().find_map(|(i, l)| error_word(l).map(|w| (i, w))) {
                return Err(if i == 0 {
                    format!("the line it points at reports an error (`{word}`)")
                } else {
                    format!("a later line reports an error (`{word}`): \"{}\"", from[i])
                });
            }
            if has_port {
                return Err("the app has a port that does not answer yet: only the port says it is ready".into());
            }
            Ok("neither the line nor any later one reports an error, and the process is alive".into())
        }
        Readiness::Starting => Ok("waiting longer changes nothing".into()),
    }
}

/// The first word of `line` that reports an error (`Error`, `Traceback`, `panic`, `crashed`,
/// `EADDRINUSE`, `refused`, …), matched at the start of a word, case-insensitively.
fn error_word(line: &str) -> Option<&'static str> {
    const WORDS: &[&str] = &[
        "error",
        "exception",
        "traceback",
        "fatal",
        "panic",
        "failed",
        "failure",
        "fail",
        "crash",
        "refused",
        "denied",
        "cannot",
        "can't",
        "unable",
        "invalid",
        "missing",
        "abort",
        "killed",
        "unhandled",
        "eaddrinuse",
        "enoent",
        "econnrefused",
        "segmentation",
        "not found",
        "no such",
        "already in use",
        "undefined",
    ];
    super::probe::first_at_word_start(&line.to_lowercase(), WORDS)
}

/// The question: the app, how it was started, and its last log lines, numbered.
pub fn request(app: &str, command: &str, has_port: bool, lines: &[String]) -> ModelRequest {
    let mut user = format!("App: {app}\nStarted with: {command}\nIts process is running.");
    if has_port {
        user.push_str(" It should listen on a port, which does not answer yet.");
    }
    user.push_str("\nThe last lines of its log:\n");
    for (i, line) in lines.iter().enumerate() {
        user.push_str(&format!("l{}: {line}\n", i + 1));
    }
    user.push_str(
        "Is the app ready (started and doing its work), still starting (it may yet become ready), or fatal (it hit \
         an error it will not recover from, though its process still runs)? Give the line that shows it.",
    );
    // The rule answer first, so a model that cannot tell changes nothing: an app with a port is
    // waited for; one without is up while it lives.
    let states = if has_port { ["starting", "fatal", "ready"] } else { ["ready", "starting", "fatal"] };
    let ids: Vec<String> = (1..=lines.len()).map(|i| format!("l{i}")).collect();
    ModelRequest {
        system: "You are the Health agent of repo-run. You read the log of an application that was just started \
                 and say whether it is ready, still starting, or stopped by a fatal error. Answer JSON: the state \
                 and the id of the line that shows it."
            .into(),
        user,
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "state": {"type": "string", "enum": states},
                "line": {"type": "string", "enum": ids}
            },
            "required": ["state", "line"],
            "additionalProperties": false
        }),
        max_tokens: 32,
        escalation: 0,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::models::ModelReply;

    /// A stand-in for the engine that gives its answers in order and records the questions:
    /// the real model's path is tested through `repo-run eval --agent health`.
    struct FakeModelAnswering(Mutex<Vec<serde_json::Value>>, Mutex<Vec<ModelRequest>>);

    impl Models for FakeModelAnswering {
        fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
            assert_eq!(stage, Stage::Health);
            self.1.lock().unwrap().push(request.clone());
            let mut answers = self.0.lock().unwrap();
            let json = if answers.is_empty() { Err("no model left".into()) } else { Ok(answers.remove(0)) };
            ModelReply { model: format!("fake-{}.gguf", request.escalation), json, elapsed_ms: 3 }
        }
    }

    fn fake(answers: Vec<serde_json::Value>) -> FakeModelAnswering {
        FakeModelAnswering(Mutex::new(answers), Mutex::default())
    }

    const NODEMON: &str = "[nodemon] starting `node bot.js`\n\nTypeError: Cannot read properties of undefined (reading 'token')\n    at Object.<anonymous> (/app/bot.js:4:30)\n[nodemon] app crashed - waiting for file changes before starting...\n";

    #[test]
    fn a_fatal_state_needs_a_line_that_reports_an_error() {
        let log = format!("booting\nloading config\nreading env\n{NODEMON}");
        let model = fake(vec![
            serde_json::json!({"state": "fatal", "line": "l1"}),
            serde_json::json!({"state": "fatal", "line": "l7"}),
        ]);
        let mut decisions = Vec::new();
        let answer = classify(&model, "bot", "nodemon bot.js", false, &log, &mut decisions).unwrap();
        assert_eq!(answer.state, Readiness::Fatal);
        assert_eq!(answer.line, "[nodemon] app crashed - waiting for file changes before starting...");
        assert_eq!(decisions.len(), 2);
        assert_eq!(decisions[0].rejected.as_deref(), Some("the line it points at reports no error"));
        assert_eq!(decisions[1].model, "fake-1.gguf", "the refused answer went one model down the chain");
        assert_eq!(decisions[1].validated, "the line reports an error (`crash`) and the log ends soon after");
        let asked = model.1.lock().unwrap();
        assert!(asked[0].user.contains("l5: TypeError: Cannot read properties"), "{}", asked[0].user);
        assert_eq!(asked[0].schema["properties"]["state"]["enum"][0], "ready", "no port: the rule answer first");
    }

    #[test]
    fn a_fatal_state_stands_on_the_error_next_to_the_line_it_names() {
        // l1 is nodemon's start line, right above the TypeError: the error is what counts.
        let model = fake(vec![serde_json::json!({"state": "fatal", "line": "l1"})]);
        let mut decisions = Vec::new();
        let answer = classify(&model, "bot", "nodemon bot.js", false, NODEMON, &mut decisions).unwrap();
        assert_eq!(answer.line, "TypeError: Cannot read properties of undefined (reading 'token')");
        assert_eq!(
            answer.decision.validated,
            "it named line 1, next to this one; the line reports an error (`cannot`) and the log ends soon after"
        );
        // Three lines away is not next to it.
        let far = "booting\nok\nstill ok\nFATAL: no config\n";
        let model = fake(vec![serde_json::json!({"state": "fatal", "line": "l1"})]);
        assert!(classify(&model, "w", "python w.py", false, far, &mut Vec::new()).is_none());
    }

    #[test]
    fn an_app_with_a_port_is_never_ready_by_its_log_and_past_the_chain_the_rule_stands() {
        let log = "Consumer group joined\nPartitions assigned: orders-0, orders-1\n";
        let model = fake(vec![serde_json::json!({"state": "ready", "line": "l2"})]);
        let mut decisions = Vec::new();
        assert!(classify(&model, "api", "java -jar api.jar", true, log, &mut decisions).is_none());
        assert!(decisions[0].rejected.as_deref().unwrap().contains("only the port says it is ready"));
        assert_eq!(model.1.lock().unwrap()[0].schema["properties"]["state"]["enum"][0], "starting");
        let model = fake(vec![serde_json::json!({"state": "ready", "line": "l2"})]);
        let answer = classify(&model, "consumer", "python consume.py", false, log, &mut Vec::new()).unwrap();
        assert_eq!(answer.state, Readiness::Ready);
        assert_eq!(answer.decision.answer, "ready");
    }

    #[test]
    fn a_ready_line_older_than_an_error_is_not_the_state_now() {
        let log = "worker 1.4.2 booting\nERROR cannot read the queue definitions from queues.yml: No such file\nidling until stopped\n";
        let model = fake(vec![serde_json::json!({"state": "ready", "line": "l1"})]);
        let mut decisions = Vec::new();
        assert!(classify(&model, "worker", "python main.py", false, log, &mut decisions).is_none());
        assert!(decisions[0].rejected.as_deref().unwrap().starts_with("a later line reports an error (`error`)"));
        let model = fake(vec![serde_json::json!({"state": "ready", "line": "l3"})]);
        let answer =
            classify(&model, "worker", "python main.py", false, "boot\nERROR once\nretry ok\n", &mut Vec::new());
        assert_eq!(answer.unwrap().line, "retry ok", "an error the app got past does not count");
    }

    #[test]
    fn an_error_the_app_went_on_past_is_not_fatal() {
        let log = format!("connect ECONNREFUSED 127.0.0.1:6379\n{}", "consumed job\n".repeat(9));
        let model = fake(vec![serde_json::json!({"state": "fatal", "line": "l1"})]);
        let mut decisions = Vec::new();
        assert!(classify(&model, "worker", "node worker.js", false, &log, &mut decisions).is_none());
        assert_eq!(
            decisions[0].rejected.as_deref(),
            Some("9 lines follow the error it points at: the app went on past it")
        );
    }

    #[test]
    fn lines_offered_and_error_words() {
        let long = "x".repeat(500);
        let log = format!("\n\n{}\n{long}\n", (1..=40).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n"));
        let lines = log_lines(&log);
        assert_eq!(lines.len(), LINES);
        assert_eq!(lines[0], "line 12");
        assert_eq!(lines[LINES - 1].len(), LINE_CHARS);
        assert!(log_lines("\n  \n").is_empty());
        assert_eq!(error_word("OSError: [Errno 98] Address already in use"), Some("already in use"));
        assert_eq!(error_word("Error: listen EADDRINUSE"), Some("error"));
        assert_eq!(error_word("terror alert level: none"), None, "words start at a word boundary");
        assert_eq!(error_word("Worker pid 12 booted"), None);
    }
}
