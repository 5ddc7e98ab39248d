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
//! `stream: true` sends the whole answer as one `chat.completion.chunk`, then the finish chunk
//! (and a usage chunk when `stream_options.include_usage`), then `data: [DONE]`. Clients see a
//! valid stream; they just do not see tokens as they are made.
//!
//! Messages map onto the engine's [`Prompt`]: system messages join into the system text; a
//! conversation with earlier turns is written into the user text as a transcript before the
//! last user message (the chat template then wraps that one turn).
//!
//! Errors are OpenAI-shaped, `{"error": {"message", "type", "param", "code"}}`: 400 for a bad
//! request, 404 for an unknown model or path, 503 when the pool cannot fit the model, 504 when
//! generation timed out, 500 otherwise.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{Engine, Options, Prompt};
use crate::error::Error;
use crate::table::{Agent, ModelLocation, ModelRef};
use crate::worker::{CancelToken, Finish, Generation};

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
            state: Arc::new(State { engine, models, created: unix_secs(), shutdown: CancelToken::new() }),
        })
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
    let candidates = table
        .rows()
        .map(|(agent, row)| (agent, row.model.clone()))
        .chain(table.rows().filter_map(|(agent, row)| row.fallback.clone().map(|f| (agent, f))));
    let mut served: Vec<ServedModel> = Vec::new();
    for (agent, model) in candidates {
        let ModelLocation::File(path) = table.locate(&model) else { continue };
        if !path.is_file() || served.iter().any(|s| table.locate(&s.model) == table.locate(&model)) {
            continue;
        }
        served.push(ServedModel { id: model.to_string(), model, agent });
    }
    served
}

/// An HTTP answer: status and JSON body, or an SSE stream body.
struct Reply {
    status: u16,
    body: String,
    event_stream: bool,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        Reply { status, body: value.to_string(), event_stream: false }
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
    let reply = route(state, &mut request);
    let content_type = if reply.event_stream { "text/event-stream" } else { "application/json" };
    let mut response = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
    if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", content_type) {
        response.add_header(header);
    }
    if reply.event_stream {
        if let Ok(header) = tiny_http::Header::from_bytes("Cache-Control", "no-cache") {
            response.add_header(header);
        }
    }
    if let Err(e) = request.respond(response) {
        tracing::debug!("the client left before its answer: {e}");
    }
}

fn route(state: &State, request: &mut tiny_http::Request) -> Reply {
    use tiny_http::Method::{Get, Post};
    let path = request.url().split('?').next().unwrap_or("").trim_end_matches('/').to_string();
    let path = path.strip_prefix("/v1").unwrap_or(&path);
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
    let result = match &schema {
        Some(schema) => state.engine.generate_json(served.agent, &served.model, &prompt, schema, &options),
        None => state.engine.generate(served.agent, &served.model, &prompt, &options),
    };
    let generation = match result {
        Ok(g) => g,
        Err(error) => return engine_error(&error),
    };
    let id = format!("chatcmpl-{}-{}", state.created, NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    if request.stream {
        Reply { status: 200, body: stream_body(&id, served, &generation, include_usage), event_stream: true }
    } else {
        Reply::json(200, &completion(&id, served, &generation))
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn to_prompt(messages: &[Message]) -> Result<Prompt, String> {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for message in messages {
        let text = message.content.text()?;
        match message.role.as_str() {
            "system" | "developer" => system.push(text),
            "user" | "assistant" => turns.push((message.role.as_str(), text)),
            other => return Err(format!("messages with role `{other}` are not supported (system, user, assistant)")),
        }
    }
    let Some((last_role, last)) = turns.pop() else {
        return Err("messages must contain a user message".into());
    };
    if last_role != "user" {
        return Err("the last non-system message must be the user's".into());
    }
    let user = if turns.is_empty() {
        last
    } else {
        let mut transcript = String::from("The conversation so far:\n");
        for (role, text) in &turns {
            transcript.push_str(&format!("{}: {text}\n", if *role == "user" { "User" } else { "Assistant" }));
        }
        format!("{transcript}\nUser: {last}")
    };
    Ok(Prompt { system: (!system.is_empty()).then(|| system.join("\n\n")), user })
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

/// The whole answer as one content chunk, then the finish chunk (see the module docs).
fn stream_body(id: &str, served: &ServedModel, generation: &Generation, include_usage: bool) -> String {
    let created = unix_secs();
    let chunk = |delta: Value, finish: Value, usage: Value| {
        let choices = if delta.is_null() {
            json!([])
        } else {
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
        };
        let mut chunk = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": served.id, "choices": choices});
        if include_usage {
            chunk["usage"] = usage;
        }
        format!("data: {chunk}\n\n")
    };
    let mut body = chunk(json!({"role": "assistant", "content": generation.text}), Value::Null, Value::Null);
    body.push_str(&chunk(json!({}), json!(finish_reason(generation)), Value::Null));
    if include_usage {
        body.push_str(&chunk(Value::Null, Value::Null, usage(generation)));
    }
    body.push_str("data: [DONE]\n\n");
    body
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
        assert!(
            p.user.contains("User: Name a colour.\nAssistant: Red.\n") && p.user.ends_with("User: Another?"),
            "{}",
            p.user
        );
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
        let served = ServedModel { id: "m".into(), model: ModelRef::Name("m".into()), agent: Agent::Fixer };
        let body = stream_body("id", &served, &g, true);
        let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[3], "data: [DONE]");
        let first: Value = serde_json::from_str(events[0].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(first["choices"][0]["delta"]["content"], "hello");
        let last: Value = serde_json::from_str(events[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(last["usage"]["total_tokens"], 5);
    }
}
