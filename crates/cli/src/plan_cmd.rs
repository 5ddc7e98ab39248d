//! `repo-run plan`: run Detection and Requirements, then print the plan.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use repo_run_agents::RepoView;
use repo_run_agents::document::PlanDocument;
use repo_run_agents::models::Models;
use repo_run_agents::pipeline::{Blackboard, Goal, Pipeline, Registry, State};
use repo_run_agents::requirements::Host;

use crate::cli::PlanArgs;
use crate::error::hinted;
use crate::fixer_models::EngineModels;
use crate::{render, source};

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let resolved = source::resolve(&args.source, args.cache_dir.as_deref())?;
    let models: Option<Arc<dyn Models>> =
        if args.no_model { None } else { Some(Arc::new(EngineModels::new(&resolved.dir))) };
    let doc = plan(&resolved.dir, resolved.source, models)?;
    let mut out = anstream::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON")?;
        writeln!(out)?;
    } else {
        render::plan(&mut out, &doc)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Detection and Requirements through the pipeline, as `up` will run them.
/// `models` answers the questions rules leave open (`None`: rules only).
pub fn plan(
    dir: &std::path::Path,
    source: repo_run_agents::document::Source,
    models: Option<Arc<dyn Models>>,
) -> anyhow::Result<PlanDocument> {
    let repo = RepoView::open(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut board = Blackboard::new(repo, Host::probe());
    board.models = models;
    let pipeline = Pipeline::new(Registry::builtin());
    let mut failure = None;
    let end = pipeline.run(Goal::Plan, &mut board, |p| {
        if let repo_run_agents::pipeline::Progress::Failed { error, .. } = p {
            failure = Some(error);
        }
    });
    if end != State::Done {
        let e = failure.map(|e| e.message).unwrap_or_else(|| format!("{end:?}"));
        return Err(hinted(format!("planning failed: {e}"), "run with -v for details"));
    }
    let detection = board.detection.take().context("detection produced nothing")?;
    let requirements = board.requirements.take().context("requirements produced nothing")?;
    Ok(PlanDocument::new(source, detection, requirements, board.repo.warnings()))
}
