//! The agents' [`Models`] trait on the shared inference engine: one engine for the whole `up`,
//! created the first time a step asks a model (a run that never asks loads nothing).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use repo_run_agents::fixer::{ModelReply, ModelRequest, Models};
use repo_run_agents::pipeline::Stage;
use repo_run_inference::{Agent, Engine, EngineConfig, ModelTable, Options, Prompt, Source};

pub struct EngineModels {
    root: PathBuf,
    engine: OnceLock<Result<Engine, String>>,
}

impl EngineModels {
    pub fn new(root: &Path) -> Self {
        EngineModels { root: root.to_owned(), engine: OnceLock::new() }
    }

    fn engine(&self) -> Result<&Engine, String> {
        self.engine
            .get_or_init(|| {
                let table = ModelTable::from_env(None, Some(&self.root.join("repo-run.toml"))).map_err(|e| e.to_string())?;
                let telemetry = Some(self.root.join(repo_run_inference::telemetry::TELEMETRY_FILE));
                Ok(Engine::new(EngineConfig {
                    table,
                    memory_budget: repo_run_inference::default_budget(),
                    n_gpu_layers: 0,
                    telemetry,
                }))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The model table's row for a pipeline stage: the same word names both.
pub fn agent_of(stage: Stage) -> Result<Agent, String> {
    Agent::from_str(stage.model_key()).map_err(|e| e.to_string())
}

impl Models for EngineModels {
    fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
        let engine = match self.engine() {
            Ok(engine) => engine,
            Err(e) => return ModelReply { model: "none".into(), json: Err(format!("no model table: {e}")) },
        };
        let agent = match agent_of(stage) {
            Ok(agent) => agent,
            Err(e) => return ModelReply { model: "none".into(), json: Err(e) },
        };
        let prompt = Prompt { system: Some(request.system.clone()), history: Vec::new(), user: request.user.clone() };
        let options = Options { max_tokens: Some(request.max_tokens), ..Options::default() };
        let answer =
            engine.complete_json::<serde_json::Value>(agent, &prompt, &request.schema, &options, || serde_json::Value::Null);
        match answer.source {
            Source::Primary(model) | Source::Fallback(model) => ModelReply { model: model.to_string(), json: Ok(answer.value) },
            Source::RuleBased => {
                let why: Vec<String> = answer.failures.iter().map(|(m, e)| format!("{m}: {e}")).collect();
                let why = if why.is_empty() { "no model is configured".to_owned() } else { why.join("; ") };
                ModelReply { model: "none".into(), json: Err(why) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One name for an agent: every pipeline stage has its row in the model table.
    #[test]
    fn every_stage_has_a_model_row() {
        for stage in Stage::ALL {
            let agent = agent_of(stage).unwrap_or_else(|e| panic!("{stage:?}: {e}"));
            assert_eq!(agent.key(), stage.model_key());
        }
    }
}
