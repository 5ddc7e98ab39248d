//! The Requirements model's question: what each variable the code reads, and no rule
//! classifies, is for.
//!
//! Rules decide by name and use first ([`super::env`]): ports, services' addresses, other
//! companies' credentials, the app's own secrets, defaults in the code. What they leave is a
//! name only its use explains (`os.environ["SIGNER"]` passed to a signing call, `BROKER` given
//! to a Redis client). For those, one question per project shows the model the lines that read
//! each variable and forces, by grammar, one class per variable from a fixed list: the rule
//! answer (the user supplies it) first, so a model that cannot tell changes nothing. Each
//! answer is validated against the project before it counts (a service must be one detected
//! in the project and the code around the read must speak of it; a port must be read where the
//! code listens or binds, and not be a second one; a generated value must be read where the
//! code signs, hashes or encrypts); a refused answer
//! moves the variable one model down the agent's chain, and past its end the rule answer
//! stays.

use std::collections::BTreeMap;

use crate::models::{ModelRequest, Models};
use crate::pipeline::Stage;
use crate::plan::{EnvSource, Evidence, ModelDecision, Project, ProjectRequirements, ServiceKind};
use crate::repo::RepoView;

/// The agent row that answers, as recorded in [`ModelDecision::agent`].
const AGENT: &str = "requirements";

/// At most this many variables go into one question: the answer stays within a small model's
/// token budget; the rest keep the rule answer.
const MAX_VARIABLES: usize = 16;

/// The classes a variable may get, as the grammar spells them. The rule answer comes first.
const USER: &str = "user_credential";
/// The class rules give every open variable (the user supplies it).
pub const RULE_ANSWER: &str = USER;
const SECRET: &str = "generated_secret";
const PORT: &str = "port";
const OPTIONAL: &str = "optional";
const SERVICE_PREFIX: &str = "service:";

/// Variables of `requirements` that no rule classified: the rules said "the user provides
/// it" only because nothing else matched (not because the name is someone else's credential).
pub fn open_variables(requirements: &ProjectRequirements) -> Vec<&str> {
    requirements
        .env
        .iter()
        .filter(|e| e.source == EnvSource::User && !super::env::is_third_party(&e.name.to_ascii_uppercase()))
        .map(|e| e.name.as_str())
        .collect()
}

/// Asks the model about each project's open variables and applies the answers that pass
/// validation, each recorded as a [`ModelDecision`]. `asking` hears of each question before
/// it is asked (the first one loads a model: seconds). Projects are asked at once, each on its
/// own thread: the engine decodes concurrent questions to one model in one batch.
pub fn classify(
    requirements: &mut [ProjectRequirements],
    projects: &[Project],
    repo: &RepoView,
    models: &dyn Models,
    asking: &mut dyn FnMut(&str, usize),
) {
    let mut open_projects = Vec::new();
    for req in requirements.iter_mut() {
        let Some(project) = projects.iter().find(|p| p.path == req.project) else { continue };
        let mut open: Vec<String> = open_variables(req).into_iter().map(str::to_owned).collect();
        if open.is_empty() {
            continue;
        }
        open.truncate(MAX_VARIABLES);
        asking(&req.project, open.len());
        open_projects.push((req, project, open));
    }
    std::thread::scope(|s| {
        for (req, project, open) in open_projects {
            s.spawn(move || classify_project(req, project, repo, models, open));
        }
    });
}

/// One project's question, and again for the variables whose answers were refused.
fn classify_project(
    req: &mut ProjectRequirements,
    project: &Project,
    repo: &RepoView,
    models: &dyn Models,
    mut open: Vec<String>,
) {
    // The code using each variable, read once: every question and every validation of the
    // project's answers reads it.
    let uses: BTreeMap<String, String> = open
        .iter()
        .map(|name| {
            let evidence = evidence_of(req, name);
            (name.clone(), context(repo, &project.path, name, evidence))
        })
        .collect();
    // A refused answer goes one model further down the chain; a reply without JSON means
    // the chain is spent (or no model could answer).
    let mut escalation = 0;
    while !open.is_empty() {
        let mut request = request(project, req, repo, &open, &uses);
        request.escalation = escalation;
        let reply = models.ask(Stage::Requirements, &request);
        let Ok(json) = reply.json else { break };
        let mut refused = Vec::new();
        for name in &open {
            let Some(answer) = json.get(name).and_then(|v| v.as_str()) else {
                refused.push(name.clone());
                continue;
            };
            let (validated, rejected) = match validate(project, req, name, answer, &uses[name]) {
                Ok((source, validated)) => {
                    if let Some(e) = req.env.iter_mut().find(|e| &e.name == name) {
                        e.source = source;
                    }
                    (validated, None)
                }
                Err(why) => {
                    refused.push(name.clone());
                    (String::new(), Some(why))
                }
            };
            req.decisions.push(decision(name, answer, &reply.model, reply.elapsed_ms, validated, rejected));
        }
        open = refused;
        escalation += 1;
    }
}

fn decision(
    name: &str,
    answer: &str,
    model: &str,
    latency_ms: u64,
    validated: String,
    rejected: Option<String>,
) -> ModelDecision {
    ModelDecision {
        question: format!("env {name}"),
        answer: answer.to_owned(),
        agent: AGENT.into(),
        model: model.to_owned(),
        latency_ms,
        candidates: 0,
        reason: String::new(),
        validated,
        rejected,
    }
}

/// The classes offered for `project`: the rule answer, the app's own secret, its port, an
/// optional setting, and one per service the project uses.
pub fn classes(project: &Project) -> Vec<String> {
    let mut out: Vec<String> = [USER, SECRET, PORT, OPTIONAL].iter().map(|s| (*s).to_owned()).collect();
    out.extend(service_kinds(project).iter().map(|k| format!("{SERVICE_PREFIX}{k}")));
    out
}

/// The services the project uses, each once, in a stable order.
fn service_kinds(project: &Project) -> Vec<ServiceKind> {
    let mut kinds: Vec<ServiceKind> = project.services.iter().map(|s| s.service).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Where the code reads `name`.
fn evidence_of<'a>(req: &'a ProjectRequirements, name: &str) -> &'a [Evidence] {
    req.env.iter().find(|e| e.name == name).map(|e| e.evidence.as_slice()).unwrap_or_default()
}

/// The source an answer gives `name`, and what was checked; or why it is refused. An answer
/// that changes what the app runs with (a port, a service's address, a generated value) must
/// agree with the code that reads the variable: the name or the lines around a read say so
/// (a port: `port`, `listen`, `bind`, `addr`; a service: its client's words; a secret:
/// signing, hashing, keys). The two answers that change nothing at run time (the user
/// supplies it; the app works without it) need no such support. `uses` is the variable's
/// [`context`].
fn validate(
    project: &Project,
    req: &ProjectRequirements,
    name: &str,
    answer: &str,
    uses: &str,
) -> Result<(EnvSource, String), String> {
    let read_at = evidence_of(req, name)
        .first()
        .map(|e| format!("{name} is read at {}", at(e)))
        .unwrap_or_else(|| format!("{name} is read by the project"));
    let mut around = tokens(name);
    around.extend(tokens(uses));
    let supported = |words: &[&str], what: &str| -> Result<String, String> {
        match words.iter().find(|w| around.iter().any(|t| t.starts_with(*w))) {
            Some(w) => Ok(format!("{read_at}; the name or the code using it says `{w}`")),
            None => Err(format!("neither the name nor the code using it says it is {what}")),
        }
    };
    match answer {
        USER => Ok((EnvSource::User, read_at)),
        OPTIONAL => Ok((EnvSource::Optional, read_at)),
        SECRET => supported(SECRET_WORDS, "a secret").map(|v| (EnvSource::GeneratedSecret, v)),
        PORT => {
            // The Runner gives an app one port: a second port variable would get the same one.
            let other = req
                .env
                .iter()
                .find(|e| e.name != name && e.source == EnvSource::Port)
                .map(|e| e.name.clone())
                .or_else(|| project.ports.iter().find(|p| p.env_var.is_some()).and_then(|p| p.env_var.clone()));
            if let Some(other) = other {
                return Err(format!("the app's port is already read from {other}"));
            }
            supported(&["port", "listen", "bind", "addr"], "a port").map(|v| (EnvSource::Port, v))
        }
        _ => {
            let kind = answer
                .strip_prefix(SERVICE_PREFIX)
                .and_then(|k| ServiceKind::ALL.iter().copied().find(|s| s.as_str() == k))
                .ok_or_else(|| format!("{answer:?} is not a class"))?;
            if !project.services.iter().any(|s| s.service == kind) {
                return Err(format!("the project does not use {kind}"));
            }
            supported(service_words(kind), &format!("{kind}'s address"))
                .map(|v| (EnvSource::Service { service: kind }, v))
        }
    }
}

/// Words of code that signs, hashes or encrypts with a value of its own (matched as the start
/// of a word: `signing`, `hashids`).
/// (`session` is not one: a session store's address is a service's.)
const SECRET_WORDS: &[&str] =
    &["secret", "sign", "hmac", "salt", "pepper", "hash", "crypt", "cipher", "jwt", "cookie", "csrf", "key"];

/// Words of code that connects to `kind`: its name and its usual clients.
fn service_words(kind: ServiceKind) -> &'static [&'static str] {
    use ServiceKind::*;
    match kind {
        Postgres => &[
            "postgres",
            "psycopg",
            "asyncpg",
            "pgx",
            "pg",
            "pool",
            "sqlalchemy",
            "sqlx",
            "diesel",
            "deadpool",
            "knex",
            "sequelize",
            "typeorm",
            "prisma",
            "database",
            "sql",
        ],
        Mysql | Mariadb => &[
            "mysql",
            "mariadb",
            "pool",
            "sqlalchemy",
            "sqlx",
            "diesel",
            "knex",
            "sequelize",
            "typeorm",
            "prisma",
            "database",
            "sql",
        ],
        Redis => &["redis", "cache", "celery", "bull", "broker"],
        Mongodb => &["mongo", "motor"],
        Rabbitmq => &["amqp", "pika", "rabbit", "kombu", "celery", "broker"],
        Memcached => &["memcache", "memjs", "pylibmc", "pymemcache", "cache"],
        Elasticsearch => &["elastic", "opensearch", "search"],
        Kafka => &["kafka", "broker", "bootstrap"],
        Minio => &["minio", "s3", "boto", "bucket"],
    }
}

/// The words of `text`, lower-cased: split at anything not a letter or digit, before an
/// upper-case letter that follows a lower-case one, and before the last capital of an acronym
/// (`listenPort` → `listen`, `port`; `AsyncIOMotorClient` → `async`, `io`, `motor`, `client`;
/// `reportError` has no `port` word).
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let camel = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if (!c.is_ascii_alphanumeric() || camel) && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The code that uses a variable: each read's line, the other lines of that file that name the
/// variable (a destructured `const { X } = process.env`), and, where the read is assigned to a
/// name (`salt = os.environ["X"]`, `const salt = process.env.X`, `salt := os.Getenv("X")`, a
/// settings field), the lines that use that name (at most three reads, six uses each).
fn context(repo: &RepoView, project: &str, variable: &str, evidence: &[Evidence]) -> String {
    let mut out = String::new();
    for e in evidence.iter().take(3) {
        let Some((path, lines, read)) = file_of_read(repo, project, e) else { continue };
        out.push_str(&lines[read]);
        out.push('\n');
        // Lines beside the read are not its use: they often read other variables.
        let assigned = assigned_name(&lines[read]);
        let names: Vec<String> = assigned.iter().cloned().chain([variable.to_owned()]).collect();
        let uses = lines.iter().enumerate().filter(|(i, l)| *i != read && names.iter().any(|n| has_word(l, n)));
        for (_, l) in uses.take(6) {
            out.push_str(l);
            out.push('\n');
        }
        // A settings field (`docstore: str`) is used in other files, as an attribute
        // (`settings.docstore`).
        if let Some(field) = assigned.filter(|_| lines[read].contains(':')) {
            out.push_str(&attribute_uses(repo, project, &path, &field));
        }
    }
    out
}

/// The file a read is in (its evidence names it from the root or from the project): its
/// path, its lines, and the index of the read's line among them, when the file has that line.
fn file_of_read(repo: &RepoView, project: &str, e: &Evidence) -> Option<(String, Vec<String>, usize)> {
    let index = (e.line? as usize).checked_sub(1)?;
    let path = if repo.exists(&e.file) { e.file.clone() } else { crate::repo::join(project, &e.file) };
    let lines: Vec<String> = repo.read_text(&path)?.content.lines().map(str::to_owned).collect();
    (index < lines.len()).then_some((path, lines, index))
}

/// Lines of the project's other files of the same kind that use `.field` (at most six, from
/// at most 200 files).
fn attribute_uses(repo: &RepoView, project: &str, from: &str, field: &str) -> String {
    let ext = from.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    let attribute = format!(".{field}");
    let mut out = String::new();
    let mut found = 0;
    for file in
        repo.files_under(project).iter().filter(|f| f.path != from && f.path.ends_with(&format!(".{ext}"))).take(200)
    {
        let Some(text) = repo.read_text(&file.path) else { continue };
        for l in text.content.lines().filter(|l| {
            l.match_indices(&attribute).any(|(i, _)| {
                !l[i + attribute.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        }) {
            out.push_str(l);
            out.push('\n');
            found += 1;
            if found == 6 {
                return out;
            }
        }
    }
    out
}

/// The name a line assigns to or declares (`const salt = …`, `let mut salt: String = …`,
/// `salt := …`, `self.salt = …`, `salt: str` in a settings class); `None` for other lines.
fn assigned_name(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let mut rest = trimmed;
    for keyword in ["export ", "pub ", "const ", "let ", "var ", "mut ", "static ", "final "] {
        rest = rest.strip_prefix(keyword).map(str::trim_start).unwrap_or(rest);
    }
    rest = rest.strip_prefix("self.").or_else(|| rest.strip_prefix("this.")).unwrap_or(rest);
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let after = rest[name.len()..].trim_start();
    let assigns =
        after.starts_with(":=") || (after.starts_with('=') && !after.starts_with("==")) || after.starts_with(':');
    (name.len() >= 2 && assigns && !name.chars().all(|c| c.is_ascii_digit())).then_some(name)
}

/// Whether `line` holds `name` as a whole word.
fn has_word(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + name.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

fn at(e: &Evidence) -> String {
    match e.line {
        Some(line) => format!("{}:{line}", e.file),
        None => e.file.clone(),
    }
}

/// The question: the project, its services, and the lines that read each variable, with the
/// lines using it (`uses`: each variable's [`context`]).
fn request(
    project: &Project,
    req: &ProjectRequirements,
    repo: &RepoView,
    names: &[String],
    uses: &BTreeMap<String, String>,
) -> ModelRequest {
    let mut user = crate::models::describe_project(project);
    let kinds: Vec<&str> = service_kinds(project).into_iter().map(ServiceKind::as_str).collect();
    user.push_str(&format!("Services it uses (repo-run starts them): {}\n", crate::models::or_none(&kinds.join(", "))));
    user.push_str("Environment variables it reads, with the code around each read:\n");
    for name in names {
        user.push_str(&format!("\n{name}:\n"));
        let mut shown = String::new();
        for e in evidence_of(req, name).iter().take(2) {
            match excerpt(repo, &project.path, e) {
                Some(text) => shown.push_str(&text),
                None => shown.push_str(&format!("  ({})\n", at(e))),
            }
        }
        user.push_str(&shown);
        // Where the value goes, when that is beyond the lines around the read.
        let used: Vec<String> = uses[name]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !shown.contains(*l))
            .map(|l| l.chars().take(160).collect())
            .take(4)
            .collect();
        for u in &used {
            user.push_str(&format!("  used: {u}\n"));
        }
    }
    user.push_str(
        "\nFor each variable, which is it?\n\
         user_credential: a value only the user has: a key, token or account another company issued, or the \
         user's own server, endpoint or recipient\n\
         generated_secret: a secret the app itself creates and checks (signing its own cookies, tokens or links, \
         a salt); any random value works\n\
         port: the port the app listens on\n\
         optional: the code checks whether it is set and works without it\n\
         service:<kind>: the address of one of the services above, which repo-run starts",
    );
    let classes = classes(project);
    let properties: serde_json::Map<String, serde_json::Value> =
        names.iter().map(|n| (n.clone(), serde_json::json!({"type": "string", "enum": classes}))).collect();
    ModelRequest {
        system: "You are the Requirements agent of repo-run. For each environment variable an application reads, \
                 you say where its value comes from when the app runs locally, from how the code uses it. Answer \
                 JSON: one class per variable."
            .into(),
        user,
        schema: serde_json::json!({
            "type": "object",
            "properties": properties,
            "required": names,
            "additionalProperties": false
        }),
        // About eight tokens per variable, with room for the object's punctuation.
        max_tokens: 24 + 16 * names.len() as u32,
        escalation: 0,
    }
}

/// The lines around one read, numbered, as `file:line` then the lines (at most 160
/// characters each).
fn excerpt(repo: &RepoView, project: &str, e: &Evidence) -> Option<String> {
    let (_, lines, read) = file_of_read(repo, project, e)?;
    let first = read.saturating_sub(2);
    let last = (read + 3).min(lines.len());
    let mut out = format!("  {}:\n", e.file);
    for (i, l) in lines[first..last].iter().enumerate() {
        let n = first + i + 1;
        let l: String = l.chars().take(160).collect();
        out.push_str(&format!("  {n:>4} | {l}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::models::ModelReply;

    /// A stand-in for the engine that gives its answers in order, one per question, and
    /// records the questions: the real model's path is tested end to end in the CLI.
    struct FakeModelAnswering(Mutex<Vec<serde_json::Value>>, Mutex<Vec<ModelRequest>>);

    impl FakeModelAnswering {
        fn new(answers: Vec<serde_json::Value>) -> Self {
            FakeModelAnswering(Mutex::new(answers), Mutex::default())
        }
    }

    impl Models for FakeModelAnswering {
        fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
            assert_eq!(stage, Stage::Requirements);
            self.1.lock().unwrap().push(request.clone());
            let mut answers = self.0.lock().unwrap();
            let json =
                if answers.is_empty() { Err("no model left in the chain".into()) } else { Ok(answers.remove(0)) };
            ModelReply { model: format!("fake-{}.gguf", request.escalation), json, elapsed_ms: 5 }
        }
    }

    const APP: &str = "import os\nimport redis\nfrom flask import Flask\n\napp = Flask(__name__)\n\
store = redis.Redis.from_url(os.environ[\"LINK_STORE\"])\n\
mix = os.environ[\"LINK_MIX\"]\n\
notify = os.environ.get(\"NOTIFY_TO\")\n\
stripe = os.environ[\"STRIPE_SECRET_KEY\"]\n\n\
def digest(code):\n    return hashlib.sha256((mix + code).encode()).hexdigest()\n";

    fn setup() -> (tempfile::TempDir, RepoView, Vec<Project>, Vec<ProjectRequirements>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "flask\nredis\n").unwrap();
        std::fs::write(dir.path().join("app.py"), APP).unwrap();
        let repo = RepoView::open(dir.path()).unwrap();
        let projects = crate::detection::detect(&repo).projects;
        let reqs = projects
            .iter()
            .map(|p| ProjectRequirements::with_env(&p.path, crate::requirements::env_requirements(p)))
            .collect();
        (dir, repo, projects, reqs)
    }

    fn source<'a>(reqs: &'a [ProjectRequirements], name: &str) -> &'a EnvSource {
        &reqs[0].env.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{name}: {:?}", reqs[0].env)).source
    }

    #[test]
    fn only_variables_no_rule_classifies_are_asked_with_the_rule_answer_first() {
        let (_dir, repo, projects, mut reqs) = setup();
        let mut open = open_variables(&reqs[0]);
        open.sort();
        assert_eq!(open, ["LINK_MIX", "LINK_STORE", "NOTIFY_TO"], "STRIPE_SECRET_KEY is the user's by rule");
        let answers =
            serde_json::json!({"LINK_MIX": "generated_secret", "LINK_STORE": "service:redis", "NOTIFY_TO": "optional"});
        let model = FakeModelAnswering::new(vec![answers]);
        let mut asked = Vec::new();
        classify(&mut reqs, &projects, &repo, &model, &mut |p, n| asked.push((p.to_owned(), n)));
        assert_eq!(asked, [(".".to_owned(), 3)]);
        let request = &model.1.lock().unwrap()[0];
        let classes = &request.schema["properties"]["LINK_STORE"]["enum"];
        assert_eq!(classes[0], RULE_ANSWER, "a model that cannot tell picks the rule answer");
        assert!(classes.as_array().unwrap().contains(&serde_json::json!("service:redis")), "{classes}");
        assert!(request.user.contains("store = redis.Redis.from_url(os.environ[\"LINK_STORE\"])"), "{}", request.user);

        assert_eq!(source(&reqs, "LINK_STORE"), &EnvSource::Service { service: ServiceKind::Redis });
        assert_eq!(source(&reqs, "LINK_MIX"), &EnvSource::GeneratedSecret);
        assert_eq!(source(&reqs, "NOTIFY_TO"), &EnvSource::Optional);
        assert_eq!(source(&reqs, "STRIPE_SECRET_KEY"), &EnvSource::User);
        let d = reqs[0].decisions.iter().find(|d| d.question == "env LINK_MIX").unwrap();
        assert_eq!((d.agent.as_str(), d.model.as_str(), d.latency_ms), ("requirements", "fake-0.gguf", 5));
        // Its use four lines below its read, not its name, is what supports the secret.
        assert!(d.validated.contains("app.py:7") && d.validated.contains("`hash`"), "{}", d.validated);
    }

    #[test]
    fn an_answer_the_code_does_not_support_is_refused_and_the_next_model_asked() {
        let (_dir, repo, projects, mut reqs) = setup();
        let first =
            serde_json::json!({"LINK_MIX": "port", "LINK_STORE": "service:redis", "NOTIFY_TO": "generated_secret"});
        let second = serde_json::json!({"LINK_MIX": "generated_secret", "NOTIFY_TO": "user_credential"});
        let model = FakeModelAnswering::new(vec![first, second]);
        classify(&mut reqs, &projects, &repo, &model, &mut |_, _| {});
        let asked = model.1.lock().unwrap();
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[1].escalation, 1);
        assert_eq!(asked[1].schema["required"], serde_json::json!(["LINK_MIX", "NOTIFY_TO"]), "only the refused");
        assert_eq!(source(&reqs, "LINK_STORE"), &EnvSource::Service { service: ServiceKind::Redis });
        assert_eq!(source(&reqs, "LINK_MIX"), &EnvSource::GeneratedSecret);
        assert_eq!(source(&reqs, "NOTIFY_TO"), &EnvSource::User);
        let refused: Vec<_> = reqs[0].decisions.iter().filter_map(|d| d.rejected.as_deref()).collect();
        assert_eq!(refused.len(), 2, "{:?}", reqs[0].decisions);
        assert!(refused[0].contains("neither the name nor the code using it says it is a port"), "{refused:?}");
    }

    #[test]
    fn past_the_chain_the_rule_answer_stays() {
        let (_dir, repo, projects, mut reqs) = setup();
        let only = serde_json::json!({"LINK_MIX": "service:redis", "LINK_STORE": "port", "NOTIFY_TO": "port"});
        classify(&mut reqs, &projects, &repo, &FakeModelAnswering::new(vec![only]), &mut |_, _| {});
        for name in ["LINK_MIX", "LINK_STORE", "NOTIFY_TO"] {
            assert_eq!(source(&reqs, name), &EnvSource::User, "{name}");
        }
        assert!(reqs[0].decisions.iter().all(|d| d.rejected.is_some()));
    }

    #[test]
    fn a_second_port_variable_is_refused() {
        let (_dir, repo, projects, mut reqs) = setup();
        reqs[0].env.push(crate::plan::EnvRequirement {
            name: "PORT".into(),
            source: EnvSource::Port,
            evidence: vec![],
        });
        let answer =
            serde_json::json!({"LINK_MIX": "user_credential", "LINK_STORE": "service:redis", "NOTIFY_TO": "port"});
        classify(&mut reqs, &projects, &repo, &FakeModelAnswering::new(vec![answer]), &mut |_, _| {});
        let d = reqs[0].decisions.iter().find(|d| d.question == "env NOTIFY_TO").unwrap();
        assert_eq!(d.rejected.as_deref(), Some("the app's port is already read from PORT"));
    }

    #[test]
    fn words_and_assigned_names() {
        assert_eq!(
            tokens("listenPort := os.Getenv(\"API_LISTEN\")"),
            ["listen", "port", "os", "getenv", "api", "listen"]
        );
        assert!(!tokens("reportError(x)").contains(&"port".to_owned()));
        assert_eq!(
            tokens("AsyncIOMotorClient(settings.docstore)"),
            ["async", "io", "motor", "client", "settings", "docstore"]
        );
        assert_eq!(tokens("HTTPServer"), ["http", "server"]);
        assert_eq!(assigned_name("    const salt = process.env.X;").as_deref(), Some("salt"));
        assert_eq!(assigned_name("let mut key: String = env::var(\"K\")?;").as_deref(), Some("key"));
        assert_eq!(assigned_name("addr := os.Getenv(\"A\")").as_deref(), Some("addr"));
        assert_eq!(assigned_name("self.broker = os.environ[\"B\"]").as_deref(), Some("broker"));
        assert_eq!(assigned_name("    docstore: str"), Some("docstore".into()));
        assert_eq!(assigned_name("if os.environ[\"X\"] == \"1\":"), None);
        assert_eq!(assigned_name("app.listen(Number(process.env.P))"), None);
        assert!(has_word("x = salt + code", "salt") && !has_word("x = salty", "salt"));
    }
}
