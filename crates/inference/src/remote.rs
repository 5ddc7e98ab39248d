//! The remote backend: a request for a `ModelRef::Remote` model goes to an OpenAI-compatible
//! `POST {base}/chat/completions` (Ollama, llama-server, vLLM, `repo-run models serve`).
//!
//! A reference is `http://host:8080/v1#model-name`: the base URL up to `/v1`, and after `#`
//! the model name the server knows. Without `#name`, the first id `GET {base}/models` lists is
//! used (llama-server and `models serve` list theirs). `https://` works too (rustls, with the
//! Mozilla roots), for servers behind a TLS proxy.
//!
//! Each attempt runs on its own thread so a cancellation or the deadline returns at once, as
//! for local models. Connect errors, timeouts of one attempt, 5xx and 429 are retried (at most
//! [`ATTEMPTS`] tries, with doubling backoff, all within the agent's timeout); other 4xx are not.
//! Every failure is an [`Error`] the engine's fallback chain moves past.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::Prompt;
use crate::error::{Error, Result};
use crate::table::Secret;
use crate::worker::{CancelToken, Finish, Generation, Sampling};

/// Tries of one request, the first included.
pub const ATTEMPTS: u32 = 3;
/// Wait before the second try; doubled before each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A parsed remote reference: `base` without a trailing `/`, and the model named after `#`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub base: String,
    pub model: Option<String>,
}

impl Endpoint {
    pub fn parse(url: &str) -> Endpoint {
        let (base, model) = match url.split_once('#') {
            Some((base, model)) => (base, Some(model.trim().to_string()).filter(|m| !m.is_empty())),
            None => (url, None),
        };
        Endpoint { base: base.trim().trim_end_matches('/').to_string(), model }
    }
}

/// What one remote request asks for.
pub(crate) struct RemoteRequest<'a> {
    pub prompt: &'a Prompt,
    pub sampling: &'a Sampling,
    /// Sent as `response_format: json_schema`; the caller still parses the answer itself.
    pub schema: Option<&'a Value>,
    pub timeout: Duration,
    pub deadline: Instant,
    pub cancel: &'a CancelToken,
}

/// Shared by every request of an engine: one connection pool, and the model names learnt from
/// `GET /models` for endpoints given without `#name`.
pub(crate) struct RemoteClient {
    agent: ureq::Agent,
    /// `Bearer …`, sent with every request when an API key is set.
    authorization: Option<String>,
    models: Mutex<HashMap<String, String>>,
}

/// How one attempt ended.
enum Attempt {
    Done(Value),
    /// Worth another try: unreachable, timed out, 5xx, 429.
    Retry(Option<u16>, String),
    /// The server refused the request itself (4xx): another try would get the same.
    Fail(Option<u16>, String),
}

impl RemoteClient {
    pub fn new(api_key: Option<&Secret>) -> RemoteClient {
        let config = ureq::Agent::config_builder()
            // Status codes are read, not turned into errors, so the server's message is kept.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            // A fresh connection per request: a call takes seconds, so reuse saves nothing that
            // matters, and a pooled connection to a server that stopped or restarted could hang
            // until the timeout instead of failing over at once.
            .max_idle_connections(0)
            .user_agent(concat!("repo-run/", env!("CARGO_PKG_VERSION")))
            .build();
        RemoteClient {
            agent: config.into(),
            authorization: api_key.map(|k| format!("Bearer {}", k.0)),
            models: Mutex::new(HashMap::new()),
        }
    }

    pub fn chat(&self, url: &str, request: &RemoteRequest<'_>) -> Result<Generation> {
        let endpoint = Endpoint::parse(url);
        let started = Instant::now();
        let model = self.model_name(url, &endpoint, request)?;
        let body = request_body(&model, request);
        let target = format!("{}/chat/completions", endpoint.base);
        let reply = self.with_retries(url, request, Call::Post(target, body))?;
        parse_reply(url, &reply, started.elapsed())
    }

    /// The name after `#`, else the first model the server lists (asked once per endpoint).
    fn model_name(&self, url: &str, endpoint: &Endpoint, request: &RemoteRequest<'_>) -> Result<String> {
        if let Some(model) = &endpoint.model {
            return Ok(model.clone());
        }
        if let Some(model) = self.models.lock().unwrap_or_else(PoisonError::into_inner).get(&endpoint.base) {
            return Ok(model.clone());
        }
        let target = format!("{}/models", endpoint.base);
        let list = self.with_retries(url, request, Call::Get(target.clone()))?;
        let first = list["data"].as_array().and_then(|d| d.first()).and_then(|m| m["id"].as_str());
        let Some(model) = first else {
            return Err(remote(
                url,
                None,
                format!("{target} lists no model; name one after `#` (e.g. `{}#model-name`)", endpoint.base),
            ));
        };
        self.models.lock().unwrap_or_else(PoisonError::into_inner).insert(endpoint.base.clone(), model.to_string());
        Ok(model.to_string())
    }

    /// Sends `call` until it succeeds, fails for good, the tries run out, the deadline passes
    /// or the caller cancels. Each try runs on its own thread that the caller polls, so a
    /// cancellation or the deadline is answered at once even while a request hangs (the thread
    /// then ends on its own within the try's timeout).
    fn with_retries(&self, url: &str, request: &RemoteRequest<'_>, call: Call) -> Result<Value> {
        let mut backoff = FIRST_BACKOFF;
        let mut last = (None, String::new());
        for n in 1..=ATTEMPTS {
            if n > 1 {
                wait(backoff, request)?;
                backoff *= 2;
            }
            let left = request.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(request.timeout));
            }
            let (tx, rx) = mpsc::channel();
            let (agent, call, authorization) = (self.agent.clone(), call.clone(), self.authorization.clone());
            std::thread::Builder::new()
                .name("repo-run-remote".into())
                .spawn(move || {
                    let _ = tx.send(call.send(&agent, left, authorization.as_deref()));
                })
                .map_err(|e| Error::Inference(format!("cannot start a request thread: {e}")))?;
            match poll(request, &rx)? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(status, message) => return Err(remote(url, status, message)),
                Attempt::Retry(status, message) => {
                    tracing::debug!("remote {url}: try {n} of {ATTEMPTS} failed: {message}");
                    last = (status, message);
                }
            }
        }
        let (status, message) = last;
        Err(remote(url, status, format!("{message} (after {ATTEMPTS} tries)")))
    }
}

/// One HTTP request, owned so a try can run on its own thread.
#[derive(Clone)]
enum Call {
    Get(String),
    Post(String, Value),
}

impl Call {
    fn send(self, agent: &ureq::Agent, left: Duration, authorization: Option<&str>) -> Attempt {
        match self {
            Call::Get(target) => {
                let request = authorize(agent.get(&target), authorization);
                classify(request.config().timeout_global(Some(left)).build().call())
            }
            Call::Post(target, body) => {
                let request = authorize(agent.post(&target), authorization);
                classify(request.config().timeout_global(Some(left)).build().send_json(&body))
            }
        }
    }
}

fn authorize<B>(request: ureq::RequestBuilder<B>, authorization: Option<&str>) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

/// Waits for a try's result, returning early on cancellation or the deadline.
fn poll(request: &RemoteRequest<'_>, rx: &mpsc::Receiver<Attempt>) -> Result<Attempt> {
    loop {
        if request.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let left = request.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(request.timeout));
        }
        match rx.recv_timeout(left.min(Duration::from_millis(20))) {
            Ok(attempt) => return Ok(attempt),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                return Ok(Attempt::Retry(None, "the request thread stopped".into()));
            }
        }
    }
}

/// Sleeps `backoff` (less if the deadline is nearer), waking early for a cancellation.
fn wait(backoff: Duration, request: &RemoteRequest<'_>) -> Result<()> {
    let until = (Instant::now() + backoff).min(request.deadline);
    while Instant::now() < until {
        if request.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
    }
    Ok(())
}

fn classify(result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Attempt {
    let mut response = match result {
        Ok(response) => response,
        // Unreachable, reset, timed out: the server may be restarting or busy.
        Err(
            e @ (ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)),
        ) => return Attempt::Retry(None, e.to_string()),
        Err(e) => return Attempt::Fail(None, e.to_string()),
    };
    let status = response.status().as_u16();
    let text = match response.body_mut().read_to_string() {
        Ok(text) => text,
        Err(e) => return Attempt::Retry(Some(status), format!("cannot read the answer: {e}")),
    };
    if (200..300).contains(&status) {
        return match serde_json::from_str(&text) {
            Ok(value) => Attempt::Done(value),
            Err(e) => Attempt::Fail(Some(status), format!("the answer is not JSON ({e}): {}", clip(&text))),
        };
    }
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().or_else(|| v["error"].as_str()).map(str::to_string))
        .unwrap_or_else(|| clip(&text));
    let message = format!("HTTP {status}: {message}");
    if status >= 500 || status == 429 || status == 408 {
        Attempt::Retry(Some(status), message)
    } else {
        Attempt::Fail(Some(status), message)
    }
}

fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn remote(url: &str, status: Option<u16>, message: String) -> Error {
    Error::Remote { url: url.to_string(), status, message }
}

fn request_body(model: &str, request: &RemoteRequest<'_>) -> Value {
    let messages: Vec<Value> =
        request.prompt.messages().map(|(role, content)| json!({"role": role, "content": content})).collect();
    let sampling = request.sampling;
    let mut body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature.max(0.0),
        "seed": sampling.seed,
        "stream": false,
    });
    if !sampling.stop.is_empty() {
        body["stop"] = json!(sampling.stop);
    }
    if let Some(schema) = request.schema {
        body["response_format"] =
            json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}});
    }
    body
}

/// The first choice's text, why it ended, and the usage counts (0 when the server gives none).
fn parse_reply(url: &str, reply: &Value, took: Duration) -> Result<Generation> {
    let choice = &reply["choices"][0];
    let Some(text) = choice["message"]["content"].as_str() else {
        return Err(remote(
            url,
            Some(200),
            format!("the answer has no choices[0].message.content: {}", clip(&reply.to_string())),
        ));
    };
    let finish = match choice["finish_reason"].as_str() {
        Some("length") => Finish::Length,
        _ => Finish::EndOfGeneration,
    };
    let count = |key: &str| reply["usage"][key].as_u64().map_or(0, |n| n.min(u64::from(u32::MAX)) as u32);
    Ok(Generation {
        text: text.to_string(),
        finish,
        prompt_tokens: count("prompt_tokens"),
        generated_tokens: count("completion_tokens"),
        // Not streamed: the whole answer arrives at once.
        time_to_first_token: took,
        generation_time: took,
        shared_steps: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Role, Turn};

    #[test]
    fn endpoint_syntax() {
        assert_eq!(
            Endpoint::parse("http://h:8080/v1/#qwen2.5:7b"),
            Endpoint { base: "http://h:8080/v1".into(), model: Some("qwen2.5:7b".into()) }
        );
        assert_eq!(Endpoint::parse("http://h/v1"), Endpoint { base: "http://h/v1".into(), model: None });
        assert_eq!(Endpoint::parse("http://h/v1#"), Endpoint { base: "http://h/v1".into(), model: None });
    }

    #[test]
    fn request_body_carries_sampling_stop_and_schema() {
        let prompt = Prompt {
            system: Some("Be brief.".into()),
            history: vec![
                Turn { role: Role::User, text: "Hello".into() },
                Turn { role: Role::Assistant, text: "Hi there".into() },
            ],
            user: "Hi".into(),
        };
        let sampling =
            Sampling { max_tokens: 9, temperature: 0.0, seed: 3, stop: vec!["\n".into()], grammar: Some("x".into()) };
        let schema = json!({"type": "object"});
        let cancel = CancelToken::new();
        let request = RemoteRequest {
            prompt: &prompt,
            sampling: &sampling,
            schema: Some(&schema),
            timeout: Duration::from_secs(1),
            deadline: Instant::now(),
            cancel: &cancel,
        };
        let body = request_body("m", &request);
        let roles: Vec<_> = body["messages"].as_array().unwrap().iter().map(|m| m["role"].clone()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(body["messages"][2]["content"], "Hi there");
        assert_eq!(body["messages"][3]["content"], "Hi");
        assert_eq!((body["max_tokens"].as_u64(), body["seed"].as_u64()), (Some(9), Some(3)));
        assert_eq!(body["stop"][0], "\n");
        assert_eq!(body["response_format"]["json_schema"]["schema"], schema);
    }

    #[test]
    fn replies_and_status_codes() {
        let reply = json!({"choices": [{"message": {"content": "ok"}, "finish_reason": "length"}],
                           "usage": {"prompt_tokens": 5, "completion_tokens": 2}});
        let g = parse_reply("u", &reply, Duration::from_millis(3)).unwrap();
        assert_eq!((g.text.as_str(), g.finish, g.prompt_tokens, g.generated_tokens), ("ok", Finish::Length, 5, 2));
        assert!(matches!(parse_reply("u", &json!({}), Duration::ZERO), Err(Error::Remote { .. })));
    }
}
