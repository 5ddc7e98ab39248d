//! `repo-run models serve`: one [`Engine`] behind an OpenAI-compatible HTTP API, so several
//! tools or machines share one loaded model (and one GPU).
//!
//! - `GET /v1/models`: the models the table names (each agent's model and fallback) whose
//!   file exists; the id is the model's name in the table (the GGUF file name).
//! - `GET /v1/models/{id}`, and `GET /health` for load balancers.
//! - `POST /v1/chat/completions`: `model`, `messages`, `max_tokens` (or
//!   `max_completion_tokens`), `temperature`, `seed`, `stop`, `response_format` (`json_schema`
//!   and `json_object` become a grammar, so the text always parses), `stream`.
//!
//! Each request is handled on its own thread and calls the shared engine, so concurrent
//! requests for one model meet in its worker and are decoded in one batch. Settings a request
//! leaves out come from the row of the first agent that uses the model (its timeout too).
//!
//! Streaming: the engine's worker returns whole generations (it has no token callback), so
//! `stream: true` answers with server-sent events as the tokens are generated: a chunk per
//! piece of text (whole characters, never text a stop string will cut), then the finish chunk
//! (and a usage chunk when `stream_options.include_usage`), then `data: [DONE]`. An error before
//! the first token is an ordinary HTTP error; one after it is an `error` event.
//!
//! Messages map onto the engine's [`Prompt`]: system messages join into the system text; the
//! earlier user and assistant turns go to the model's chat template as turns of their own.
//!
//! Errors are OpenAI-shaped, `{"error": {"message", "type", "param", "code"}}`: 400 for a bad
//! request, 404 for an unknown model or path, 503 when the pool cannot fit the model, 504 when
//! generation timed out, 500 otherwise.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{Engine, Options, Prompt, Role, Turn};
use crate::error::Error;
use crate::table::{Agent, ModelLocation, ModelRef};
use crate::worker::{CancelToken, Finish, Generation, TextSink};

/// Largest request body read (a long prompt is a few hundred KiB at most).
const MAX_BODY: u64 = 8 << 20;

/// A model the server answers for.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedModel {
    pub id: String,
    pub model: ModelRef,
    /// Whose row gives the defaults for requests that leave settings out.
    pub agent: Agent,
}

/// A bound server; [`Server::run`] answers requests until the stop flag is set.
pub struct Server {
    http: tiny_http::Server,
    addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    engine: Arc<Engine>,
    models: Vec<ServedModel>,
    created: u64,
    /// Set when the server stops: requests in flight end at their next decode step.
    shutdown: CancelToken,
    /// When set, every request but `GET /health` must carry `Authorization: Bearer <key>`.
    api_key: Option<String>,
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and lists the models to serve.
    pub fn bind(engine: Arc<Engine>, addr: &str) -> std::io::Result<Server> {
        let http = tiny_http::Server::http(addr)
            .map_err(|e| std::io::Error::other(format!("cannot listen on {addr}: {e}")))?;
        let addr =
            http.server_addr().to_ip().ok_or_else(|| std::io::Error::other(format!("{addr} is not an IP address")))?;
        let models = served_models(&engine);
        Ok(Server {
            http,
            addr,
            state: Arc::new(State {
                engine,
                models,
                created: unix_secs(),
                shutdown: CancelToken::new(),
                api_key: None,
            }),
        })
    }

    /// Requires `Authorization: Bearer <key>` of every request but `GET /health`.
    pub fn require_api_key(mut self, key: Option<String>) -> Server {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.api_key = key.filter(|k| !k.is_empty());
        }
        self
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use: `http://{addr}/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn models(&self) -> &[ServedModel] {
        &self.state.models
    }

    /// Answers requests, each on its own thread, until `stop` is set (checked every 100 ms).
    /// Then requests in flight are cancelled (they answer 503) and their threads joined, so
    /// no generation outlives the server; the listener closes when `self` is dropped.
    pub fn run(&self, stop: &AtomicBool) {
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            threads.retain(|t| !t.is_finished());
            match self.http.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(request)) => {
                    let state = Arc::clone(&self.state);
                    let spawned = std::thread::Builder::new()
                        .name("repo-run-serve".into())
                        .spawn(move || handle(&state, request));
                    match spawned {
                        Ok(thread) => threads.push(thread),
                        Err(e) => tracing::warn!("cannot start a request thread: {e}"),
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("accepting a connection failed: {e}"),
            }
        }
        self.state.shutdown.cancel();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Every model the table names (primary models first, then fallbacks), local files that exist.
fn served_models(engine: &Engine) -> Vec<ServedModel> {
    let table = engine.table();
    table
        .distinct_models()
        .into_iter()
        .filter(|(_, model)| matches!(table.locate(model), ModelLocation::File(path) if path.is_file()))
        .map(|(agent, model)| ServedModel { id: model.to_string(), model, agent })
        .collect()
}

/// An HTTP answer: status and JSON body, or server-sent events as they come.
struct Reply {
    status: u16,
    body: String,
    events: Option<EventStream>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        Reply { status, body: value.to_string(), events: None }
    }

    fn error(status: u16, kind: &str, message: impl Into<String>, param: Option<&str>, code: Option<&str>) -> Reply {
        let error = json!({"error": {"message": message.into(), "type": kind, "param": param, "code": code}});
        Reply::json(status, &error)
    }

    fn bad_request(message: impl Into<String>) -> Reply {
        Reply::error(400, "invalid_request_error", message, None, None)
    }
}

fn handle(state: &State, mut request: tiny_http::Request) {
    let mut reply = route(state, &mut request);
    if let Some(events) = reply.events.take() {
        // tiny_http buffers chunked bodies; events are written and flushed one by one instead.
        if let Err(e) = events.write_to(request.into_writer()) {
            tracing::debug!("the client left during its stream: {e}");
        }
        return;
    }
    let mut response = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
    if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
        response.add_header(header);
    }
    if let Err(e) = request.respond(response) {
        tracing::debug!("the client left before its answer: {e}");
    }
}

fn route(state: &State, request: &mut tiny_http::Request) -> Reply {
    use tiny_http::Method::{Get, Post};
    let path = request.url().split('?').next().unwrap_or("").trim_end_matches('/').to_string();
    let path = path.strip_prefix("/v1").unwrap_or(&path);
    if let Some(key) = &state.api_key
        && path != "/health"
        && !authorized(request, key)
    {
        return Reply::error(
            401,
            "invalid_request_error",
            "a valid API key is required: send `Authorization: Bearer <key>` (the key `models serve --api-key` was given)",
            None,
            Some("invalid_api_key"),
        );
    }
    match (request.method(), path) {
        (Get, "/models") => {
            let data: Vec<Value> = state.models.iter().map(|m| model_object(state, m)).collect();
            Reply::json(200, &json!({"object": "list", "data": data}))
        }
        (Get, p) if p.starts_with("/models/") => match find_model(state, &p["/models/".len()..]) {
            Some(model) => Reply::json(200, &model_object(state, model)),
            None => unknown_model(state, &p["/models/".len()..]),
        },
        (Get, "/health") => Reply::json(200, &json!({"status": "ok"})),
        (Post, "/chat/completions") => {
            let mut body = Vec::new();
            if let Err(e) = request.as_reader().take(MAX_BODY + 1).read_to_end(&mut body) {
                return Reply::bad_request(format!("cannot read the request body: {e}"));
            }
            if body.len() as u64 > MAX_BODY {
                return Reply::error(413, "invalid_request_error", "the request body is over 8 MiB", None, None);
            }
            chat(state, &body)
        }
        (_, "/models" | "/chat/completions" | "/health") => Reply::error(
            405,
            "invalid_request_error",
            format!("{} is not allowed on {path}", request.method()),
            None,
            None,
        ),
        _ => Reply::error(
            404,
            "invalid_request_error",
            format!(
                "no route {} {}; this server answers GET /v1/models and POST /v1/chat/completions",
                request.method(),
                request.url()
            ),
            None,
            None,
        ),
    }
}

fn authorized(request: &tiny_http::Request, key: &str) -> bool {
    let given = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .and_then(|h| h.value.as_str().strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared in time independent of where they differ.
    given.len() == key.len() && given.bytes().zip(key.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn model_object(state: &State, model: &ServedModel) -> Value {
    json!({"id": model.id, "object": "model", "created": state.created, "owned_by": "repo-run"})
}

/// By id, or by id without `.gguf`.
fn find_model<'a>(state: &'a State, id: &str) -> Option<&'a ServedModel> {
    state.models.iter().find(|m| m.id == id || m.id.strip_suffix(".gguf") == Some(id))
}

fn unknown_model(state: &State, id: &str) -> Reply {
    let known: Vec<&str> = state.models.iter().map(|m| m.id.as_str()).collect();
    Reply::error(
        404,
        "invalid_request_error",
        format!("The model `{id}` does not exist on this server (it serves: {})", known.join(", ")),
        Some("model"),
        Some("model_not_found"),
    )
}

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<Message>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    seed: Option<i64>,
    stop: Option<Stop>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    response_format: Option<ResponseFormat>,
    n: Option<u32>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Content,
}

/// A message's content: text, or parts of which the `text` ones are read.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
    #[default]
    None,
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

impl Content {
    fn text(&self) -> Result<String, String> {
        match self {
            Content::Text(t) => Ok(t.clone()),
            Content::None => Ok(String::new()),
            Content::Parts(parts) => {
                if let Some(other) = parts.iter().find(|p| p.kind != "text") {
                    return Err(format!("content parts of type `{}` are not supported (text only)", other.kind));
                }
                Ok(parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Deserialize)]
struct JsonSchemaFormat {
    schema: Option<Value>,
}

fn chat(state: &State, body: &[u8]) -> Reply {
    let request: ChatRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return Reply::bad_request(format!("the body is not a valid chat completion request: {e}")),
    };
    let Some(served) = find_model(state, &request.model) else { return unknown_model(state, &request.model) };
    if request.n.is_some_and(|n| n != 1) {
        return Reply::bad_request("only n = 1 is supported");
    }
    let prompt = match to_prompt(&request.messages) {
        Ok(p) => p,
        Err(message) => return Reply::error(400, "invalid_request_error", message, Some("messages"), None),
    };
    let max_tokens = request.max_completion_tokens.or(request.max_tokens);
    if max_tokens == Some(0) {
        return Reply::error(400, "invalid_request_error", "max_tokens must be at least 1", Some("max_tokens"), None);
    }
    if let Some(t) = request.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
        return Reply::error(
            400,
            "invalid_request_error",
            format!("temperature must be between 0 and 2, got {t}"),
            Some("temperature"),
            None,
        );
    }
    let options = Options {
        max_tokens,
        temperature: request.temperature,
        // OpenAI seeds are 64-bit; llama.cpp's are 32: keep the low bits.
        seed: request.seed.map(|s| s as u32),
        stop: match request.stop {
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
            None => Vec::new(),
        },
        cancel: Some(state.shutdown.clone()),
        ..Options::default()
    };
    let schema = match &request.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(json!({"type": "object"})),
        Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
            Some(schema) => Some(schema.clone()),
            None => {
                return Reply::error(
                    400,
                    "invalid_request_error",
                    "response_format.json_schema.schema is required",
                    Some("response_format"),
                    None,
                );
            }
        },
    };
    let id = format!("chatcmpl-{}-{}", state.created, NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let (agent, model) = (served.agent, served.model.clone());
    let generate = move |engine: &Engine, options: &Options| match &schema {
        Some(schema) => engine.generate_json(agent, &model, &prompt, schema, options),
        None => engine.generate(agent, &model, &prompt, options),
    };
    if !request.stream {
        return match generate(&state.engine, &options) {
            Ok(generation) => Reply::json(200, &completion(&id, served, &generation)),
            Err(error) => engine_error(&error),
        };
    }
    // Streaming: the generation runs on a thread of its own and its text arrives as events.
    let (events, received) = mpsc::channel::<Event>();
    let mut options = options;
    // Its own token, so a client that leaves mid-stream stops its generation.
    let cancel = state.shutdown.child();
    options.cancel = Some(cancel.clone());
    let text = events.clone();
    options.on_text = Some(TextSink::new(move |piece| {
        let _ = text.send(Event::Text(piece.to_string()));
    }));
    let engine = Arc::clone(&state.engine);
    let spawned = std::thread::Builder::new().name("repo-run-stream".into()).spawn(move || {
        let result = generate(&engine, &options);
        let _ = events.send(Event::Done(result));
    });
    if let Err(e) = spawned {
        return Reply::error(500, "server_error", format!("cannot start a generation thread: {e}"), None, None);
    }
    // Wait for the first event, so a request that fails at once gets its HTTP status.
    match received.recv() {
        Ok(Event::Done(Err(error))) => engine_error(&error),
        Ok(first) => Reply {
            status: 200,
            body: String::new(),
            events: Some(EventStream {
                first: Some(first),
                received,
                id,
                model: served.id.clone(),
                include_usage: request.stream_options.is_some_and(|o| o.include_usage),
                cancel,
            }),
        },
        Err(_) => Reply::error(500, "server_error", "the generation thread stopped", None, None),
    }
}

/// What a streaming generation sends to the request's thread.
enum Event {
    Text(String),
    Done(Result<Generation, Error>),
}

/// A chat completion as server-sent events (see the module docs).
struct EventStream {
    first: Option<Event>,
    received: mpsc::Receiver<Event>,
    id: String,
    model: String,
    include_usage: bool,
    /// Cancelled when the client is gone.
    cancel: CancelToken,
}

impl EventStream {
    fn write_to(self, out: impl Write) -> std::io::Result<()> {
        let cancel = self.cancel.clone();
        let result = self.write_events(out);
        if result.is_err() {
            cancel.cancel();
        }
        result
    }

    fn write_events(mut self, mut out: impl Write) -> std::io::Result<()> {
        out.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
              Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )?;
        // One HTTP chunk per event, flushed at once.
        let mut send = |event: String| -> std::io::Result<()> {
            write!(out, "{:x}\r\n{event}\r\n", event.len())?;
            out.flush()
        };
        let created = unix_secs();
        let mut role_sent = false;
        loop {
            let event = match self.first.take() {
                Some(event) => event,
                None => match self.received.recv() {
                    Ok(event) => event,
                    Err(_) => break,
                },
            };
            match event {
                Event::Text(text) => {
                    let delta = if role_sent {
                        json!({"content": text})
                    } else {
                        json!({"role": "assistant", "content": text})
                    };
                    role_sent = true;
                    send(self.chunk(created, Some(delta), Value::Null, None))?;
                }
                Event::Done(Ok(generation)) => {
                    let delta = if role_sent { json!({}) } else { json!({"role": "assistant", "content": ""}) };
                    send(self.chunk(created, Some(delta), json!(finish_reason(&generation)), None))?;
                    if self.include_usage {
                        send(self.chunk(created, None, Value::Null, Some(usage(&generation))))?;
                    }
                    break;
                }
                Event::Done(Err(error)) => {
                    let error = json!({"error": {"message": error.to_string(), "type": "server_error"}});
                    send(format!("data: {error}\n\n"))?;
                    break;
                }
            }
        }
        send("data: [DONE]\n\n".into())?;
        out.write_all(b"0\r\n\r\n")?;
        out.flush()
    }

    /// One `chat.completion.chunk` event; without a delta it is the usage-only chunk.
    fn chunk(&self, created: u64, delta: Option<Value>, finish: Value, usage: Option<Value>) -> String {
        let choices = match delta {
            Some(delta) => json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
            None => json!([]),
        };
        let mut chunk = json!({"id": self.id, "object": "chat.completion.chunk", "created": created,
                               "model": self.model, "choices": choices});
        if self.include_usage {
            chunk["usage"] = usage.unwrap_or(Value::Null);
        }
        format!("data: {chunk}\n\n")
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn to_prompt(messages: &[Message]) -> Result<Prompt, String> {
    let mut system = Vec::new();
    let mut history = Vec::new();
    for message in messages {
        let text = message.content.text()?;
        let role = match message.role.as_str() {
            "system" | "developer" => {
                system.push(text);
                continue;
            }
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(format!("messages with role `{other}` are not supported (system, user, assistant)")),
        };
        history.push(Turn { role, text });
    }
    let Some(last) = history.pop() else {
        return Err("messages must contain a user message".into());
    };
    if last.role != Role::User {
        return Err("the last non-system message must be the user's".into());
    }
    // The earlier turns go to the model's chat template as they are.
    Ok(Prompt { system: (!system.is_empty()).then(|| system.join("\n\n")), history, user: last.text })
}

fn engine_error(error: &Error) -> Reply {
    let message = error.to_string();
    match error {
        Error::TooLarge { .. } | Error::PoolBusy { .. } => {
            Reply::error(503, "server_error", message, None, Some("model_unavailable"))
        }
        Error::Timeout(_) => Reply::error(504, "server_error", message, None, Some("timeout")),
        Error::Cancelled => Reply::error(503, "server_error", "the server is shutting down", None, None),
        Error::InvalidJson(_) => Reply::error(400, "invalid_request_error", message, Some("response_format"), None),
        Error::Inference(m) if m.contains("the prompt has") => {
            Reply::error(400, "invalid_request_error", message, Some("messages"), Some("context_length_exceeded"))
        }
        Error::Inference(m) if m.contains("grammar was refused") => {
            Reply::error(400, "invalid_request_error", message, Some("response_format"), None)
        }
        _ => Reply::error(500, "server_error", message, None, None),
    }
}

fn finish_reason(generation: &Generation) -> &'static str {
    match generation.finish {
        Finish::Length => "length",
        Finish::EndOfGeneration | Finish::Stop => "stop",
    }
}

fn usage(generation: &Generation) -> Value {
    json!({
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.generated_tokens,
        "total_tokens": generation.prompt_tokens + generation.generated_tokens,
    })
}

fn completion(id: &str, served: &ServedModel, generation: &Generation) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": unix_secs(),
        "model": served.id,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": generation.text},
            "logprobs": null,
            "finish_reason": finish_reason(generation),
        }],
        "usage": usage(generation),
    })
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(v: Value) -> Vec<Message> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn messages_become_a_prompt() {
        let p = to_prompt(&messages(
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]),
        ))
        .unwrap();
        assert_eq!((p.system.as_deref(), p.user.as_str()), (Some("Be brief."), "Hi"));
        let p = to_prompt(&messages(json!([
            {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
            {"role": "assistant", "content": "Red."},
            {"role": "user", "content": "Another?"}
        ])))
        .unwrap();
        assert!(p.system.is_none());
        assert_eq!(
            p.history,
            [
                Turn { role: Role::User, text: "Name a colour.".into() },
                Turn { role: Role::Assistant, text: "Red.".into() }
            ]
        );
        assert_eq!(p.user, "Another?");
        assert!(to_prompt(&messages(json!([{"role": "system", "content": "x"}]))).is_err());
        assert!(to_prompt(&messages(json!([{"role": "tool", "content": "x"}]))).is_err());
        assert!(
            to_prompt(&messages(json!([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}])))
                .is_err()
        );
    }

    #[test]
    fn stream_ends_with_done_and_carries_the_text() {
        let g = Generation {
            text: "hello".into(),
            finish: Finish::EndOfGeneration,
            prompt_tokens: 3,
            generated_tokens: 2,
            time_to_first_token: Duration::ZERO,
            generation_time: Duration::ZERO,
            shared_steps: 0,
        };
        let events = |sent: Vec<Event>| {
            let (tx, received) = mpsc::channel();
            for event in sent {
                tx.send(event).unwrap();
            }
            drop(tx);
            let stream = EventStream {
                first: None,
                received,
                id: "id".into(),
                model: "m".into(),
                include_usage: true,
                cancel: CancelToken::new(),
            };
            let mut out = Vec::new();
            stream.write_to(&mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            let (head, mut body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.contains("text/event-stream") && head.contains("Transfer-Encoding: chunked"), "{head}");
            // Undo the chunked framing: every chunk is one event.
            let mut events = Vec::new();
            loop {
                let (size, rest) = body.split_once("\r\n").unwrap();
                let size = usize::from_str_radix(size, 16).unwrap();
                if size == 0 {
                    break;
                }
                events.push(rest[..size].trim_end().strip_prefix("data: ").unwrap().to_string());
                body = &rest[size + 2..];
            }
            events
        };
        let got = events(vec![Event::Text("hel".into()), Event::Text("lo".into()), Event::Done(Ok(g))]);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[4], "[DONE]");
        let chunks: Vec<Value> = got[..4].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"].get("role"), None);
        let text: String = chunks[..2].iter().map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap()).collect();
        assert_eq!(text, "hello");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[3]["usage"]["total_tokens"], 5);

        // A client that is gone: the write fails and the request's token is cancelled.
        struct Gone;
        impl Write for Gone {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (_tx, received) = mpsc::channel();
        let cancel = CancelToken::new();
        let stream = EventStream {
            first: Some(Event::Text("x".into())),
            received,
            id: "id".into(),
            model: "m".into(),
            include_usage: false,
            cancel: cancel.clone(),
        };
        assert!(stream.write_to(Gone).is_err());
        assert!(cancel.is_cancelled());

        let got = events(vec![Event::Text("a".into()), Event::Done(Err(Error::Timeout(Duration::from_secs(1))))]);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[1].contains("timed out"), "{got:?}");
        assert_eq!(got[2], "[DONE]");
    }
}
