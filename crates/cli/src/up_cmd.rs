//! `repo-run up`: the whole pipeline, then either supervise in the foreground until Ctrl-C or
//! (`-d`) leave the apps running and return.
//!
//! Exit codes (stable, for CI; see README): 0 healthy (or stopped by the user after a healthy
//! up), 1 usage or internal error, 3 setup failed (detection, runtimes, installs), 4 services
//! failed (Docker, databases, migrations), 5 an app failed to start or to become healthy,
//! 6 some apps healthy and others given up on (a monorepo's project that cannot come up),
//! 7 nothing to start (no app with a start command), 130 interrupted before it was up.

use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use repo_run_agents::RepoView;
use repo_run_agents::fixer::{
    ApplyAll, Approver, Decision, FixAttempt, FixStore, FixerAgent, ListOnly, Outcome, Proposal,
};
use repo_run_agents::lifecycle::{self, DownOptions};
use repo_run_agents::pipeline::{Blackboard, FixLimits, Goal, Pipeline, Progress, Registry, Stage, State};
use repo_run_agents::requirements::Host;
use repo_run_agents::runner::{RunnerAgent, Supervisor};
use repo_run_agents::state::RunState;
use repo_run_agents::up::{Cancel, UpOptions};
use repo_run_agents::workdir::WorkDir;
use serde::Serialize;

use crate::cli::UpArgs;
use crate::error::hinted;
use crate::fixer_models::EngineModels;
use crate::progress::UpReporter;
use crate::source;

pub const EXIT_SETUP: u8 = 3;
pub const EXIT_SERVICES: u8 = 4;
pub const EXIT_HEALTH: u8 = 5;
pub const EXIT_PARTIAL: u8 = 6;
pub const EXIT_NOTHING_TO_START: u8 = 7;
pub const EXIT_INTERRUPTED: u8 = 130;

pub fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let resolved = source::resolve(&args.source, args.cache_dir.as_deref())?;
    let root = resolved.dir.canonicalize().with_context(|| format!("cannot read {}", resolved.dir.display()))?;
    let workdir = WorkDir::new(&root);
    refuse_if_running(&workdir)?;

    let cancel = Cancel::default();
    install_signal_handlers(&cancel)?;
    let plain = args.ci || !std::io::stderr().is_terminal();
    let reporter = Arc::new(UpReporter::new(plain));

    let repo = RepoView::open(&root).with_context(|| format!("cannot read {}", root.display()))?;
    let mut board = Blackboard::new(repo, Host::probe());
    board.options = UpOptions {
        detached: args.detach,
        ci: args.ci,
        health_timeout: Duration::from_secs(args.health_timeout),
        allow_system: args.allow_system,
        fixer_rules: std::env::var(crate::env_vars::REPO_RUN_FIXER_RULES).map_or(true, |v| v != "off"),
    };
    board.reporter = reporter.clone();
    board.cancel = cancel.clone();
    // Fixes in force apply from the first stage on; a broken file is named with its line.
    board.fixes = FixStore::load(&workdir)
        .map_err(|e| hinted(e.to_string(), "`repo-run fix --list` shows the fixes; `repo-run undo ID` removes one"))?;
    if !board.fixes.is_empty() {
        reporter.println(&format!(
            "{} fix(es) in force from .repo-run/fixes.toml (`repo-run fix --list`)",
            board.fixes.records().len()
        ));
    }
    board.approver = approver(&args, &reporter, plain);
    // The engine is created on the first question only: a run whose rules decide
    // everything loads no model.
    if !args.no_model {
        board.models = Some(Arc::new(EngineModels::new(&root)));
    }

    let supervisor = Arc::new(Supervisor::default());
    let pipeline = up_pipeline(supervisor.clone(), &args);
    let mut stages = Vec::new();
    let mut failure = None;
    let end = pipeline.run(Goal::Up, &mut board, |event| {
        reporter.pipeline(&event);
        match event {
            Progress::Started { .. } => {}
            Progress::Finished { stage, elapsed } => stages.push(StageTiming::new(stage, elapsed, true)),
            Progress::Failed { stage, error } => {
                stages.push(StageTiming::new(stage, Duration::ZERO, false));
                failure = Some(error);
            }
            Progress::Retrying { .. } | Progress::Dropped { .. } => {}
        }
    });
    reporter.finish();
    print_fixes(&board, &reporter);

    let mut report = UpReport::new(&board, stages);
    record_decisions(&root, &report.decisions);
    match end {
        State::Done if nothing_started(&board) => {
            // Services alone serve nobody here: the project has code but no app could be found
            // to start, so `up` says where it looked instead of reporting an empty success.
            report.status = "nothing_to_start";
            let detection = board.detection.clone().unwrap_or_default();
            let (message, hint) = repo_run_agents::runner::nothing_to_start(&detection);
            report.error = Some(ReportError { message: message.clone(), hint: Some(hint.clone()) });
            if !board.services.is_empty() {
                reporter.println("stopping the services started for it…");
                teardown(&root, &reporter);
            }
            write_report(&args.report, &mut report, started, EXIT_NOTHING_TO_START)?;
            crate::error::report(&hinted(message, hint));
            Ok(ExitCode::from(EXIT_NOTHING_TO_START))
        }
        State::Done => {
            // Some projects were given up on so that the others could come up: they are named
            // with their errors, and the exit code says the run is partial even when it is
            // left running.
            let code = if board.dropped.is_empty() { 0 } else { EXIT_PARTIAL };
            report.status = if code == 0 { "healthy" } else { "partial" };
            print_summary(&board);
            print_dropped(&board);
            if args.detach {
                supervisor.detach();
                lifecycle::mark_detached(&workdir).context("recording the detached run")?;
                write_report(&args.report, &mut report, started, code)?;
                println!("\nrunning in the background: `repo-run status`, `repo-run logs -f`, `repo-run down`");
                return Ok(ExitCode::from(code));
            }
            write_report(&args.report, &mut report, started, code)?;
            let supervised = supervise(&board, &supervisor, &cancel, &reporter)?;
            Ok(if code != 0 && supervised == ExitCode::SUCCESS { ExitCode::from(code) } else { supervised })
        }
        State::Failed { stage } => {
            let interrupted = cancel.is_cancelled();
            let (status, code) = if interrupted {
                ("interrupted", EXIT_INTERRUPTED)
            } else {
                match stage {
                    Stage::Detection | Stage::Requirements | Stage::Setup => ("setup_failed", EXIT_SETUP),
                    Stage::Db => ("services_failed", EXIT_SERVICES),
                    Stage::Runner | Stage::Health | Stage::Fixer => ("unhealthy", EXIT_HEALTH),
                }
            };
            report.status = status;
            report.failed_stage = Some(stage.name());
            if let Some(e) = &failure {
                report.error = Some(ReportError { message: e.message.clone(), hint: e.hint.clone() });
            }
            if !board.health.is_empty() {
                print_summary(&board);
            }
            reporter.println(if interrupted {
                "interrupted: stopping what was started…"
            } else {
                "stopping what was started…"
            });
            teardown(&root, &reporter);
            write_report(&args.report, &mut report, started, code)?;
            let error =
                failure.map(|e| (e.message, e.hint)).unwrap_or_else(|| (format!("{} failed", stage.name()), None));
            let message = if interrupted { format!("interrupted during {}", stage.name()) } else { error.0 };
            let hint = error.1.unwrap_or_else(|| "the logs are in .repo-run/logs/".to_owned());
            crate::error::report(&hinted(message, hint));
            Ok(ExitCode::from(code))
        }
        other => Err(anyhow::anyhow!("the pipeline stopped in an unexpected state: {other:?}")),
    }
}

/// Setup, DB, Runner, Health and the Fixer after the built-in Detection and Requirements.
fn up_pipeline(supervisor: Arc<Supervisor>, args: &UpArgs) -> Pipeline {
    let mut registry = Registry::builtin();
    registry.register(Box::new(repo_run_agents::setup::SetupAgent));
    registry.register(Box::new(repo_run_agents::services::DbAgent));
    registry.register(Box::new(RunnerAgent::with_supervisor(supervisor)));
    registry.register(Box::new(repo_run_agents::health::HealthAgent));
    registry.register(Box::new(FixerAgent));
    let mut pipeline = Pipeline::new(registry);
    pipeline.limits = if args.no_fix {
        FixLimits::NONE
    } else {
        FixLimits { per_step: args.max_fixes_per_step, per_run: args.max_fixes }
    };
    pipeline
}

/// Who consents to a fix: `--ci` applies; a person at a terminal is asked; otherwise the
/// fix is only proposed.
fn approver(args: &UpArgs, reporter: &Arc<UpReporter>, plain: bool) -> Arc<dyn Approver> {
    if args.ci {
        Arc::new(ApplyAll)
    } else if !plain && std::io::stdin().is_terminal() {
        Arc::new(AskOnTerminal { reporter: reporter.clone() })
    } else {
        Arc::new(ListOnly)
    }
}

/// Asks on the terminal, with the progress bars out of the way.
struct AskOnTerminal {
    reporter: Arc<UpReporter>,
}

impl Approver for AskOnTerminal {
    fn decide(&self, proposal: &Proposal) -> Decision {
        let answer = self.reporter.suspend(|| {
            eprint!(
                "\n  {}\n  proposed fix ({}): {}\n  apply it? [y/N] ",
                proposal.diagnosis, proposal.source, proposal.description
            );
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        });
        match answer.as_deref().map(str::trim) {
            Ok("y" | "Y" | "yes" | "Yes") => Decision::Apply,
            _ => Decision::Decline,
        }
    }
}

/// What the Fixer did, after the stages: each attempt with its outcome.
fn print_fixes(board: &Blackboard, reporter: &UpReporter) {
    if board.fix_attempts.is_empty() {
        return;
    }
    reporter.println("fixer:");
    for a in &board.fix_attempts {
        let what = a.description.as_deref().unwrap_or("no action");
        let line = match &a.outcome {
            Outcome::Applied => {
                format!("  applied {} — {what} ({}; {})", a.fix_id.as_deref().unwrap_or(""), a.diagnosis, a.source)
            }
            Outcome::Declined => format!("  declined — {what} ({})", a.diagnosis),
            Outcome::Proposed => format!("  proposed, not applied — {what} ({})", a.diagnosis),
            Outcome::Failed(why) => format!("  failed — {what}: {why}"),
            Outcome::NoAction(why) => format!("  no fix — {}: {why}", a.diagnosis),
        };
        reporter.println(&line);
    }
}

/// A second `up` while the first one's apps run would start everything twice.
fn refuse_if_running(workdir: &WorkDir) -> anyhow::Result<()> {
    let Some(state) = RunState::load(&workdir.state_file())? else { return Ok(()) };
    let running = lifecycle::running_apps(&state);
    if running.is_empty() {
        return Ok(());
    }
    Err(hinted(
        format!(
            "{} is already up ({} running: {})",
            workdir.path().parent().unwrap_or(workdir.path()).display(),
            running.len(),
            running.join(", ")
        ),
        "see `repo-run status`; stop it with `repo-run down` first",
    ))
}

/// Ctrl-C and SIGTERM set the cancel flag that agents poll; a second Ctrl-C exits at once
/// (what was started stays recorded in .repo-run/state.json for `repo-run down`).
fn install_signal_handlers(cancel: &Cancel) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, cancel.flag())
            .context("installing the signal handler")?;
        signal_hook::flag::register(signal, cancel.flag()).context("installing the signal handler")?;
    }
    Ok(())
}

/// Stops everything recorded for the project, as `repo-run down` does: the apps in the state
/// file (newest first; ours are reaped too), then the containers by label.
fn teardown(root: &Path, reporter: &UpReporter) {
    match lifecycle::down(root, DownOptions::default()) {
        Ok(report) => {
            for line in report.lines() {
                reporter.println(&format!("    {line}"));
            }
        }
        Err(e) => reporter.println(&format!("    could not stop everything: {e}; run `repo-run down`")),
    }
}

/// Foreground: show the apps' output until Ctrl-C (or until every app has exited), then stop
/// everything in reverse order.
fn supervise(
    board: &Blackboard,
    supervisor: &Supervisor,
    cancel: &Cancel,
    reporter: &UpReporter,
) -> anyhow::Result<ExitCode> {
    println!("\nrunning: press Ctrl-C to stop (logs: .repo-run/logs/)");
    let root = board.repo.root().to_owned();
    let mut tails: Vec<LogTail> = board.apps.iter().map(|a| LogTail::new(&a.name, &a.log)).collect();
    let mut running = board.apps.len();
    while !cancel.is_cancelled() {
        std::thread::sleep(Duration::from_millis(200));
        let mut out = std::io::stdout().lock();
        for tail in &mut tails {
            tail.pump(&mut out);
        }
        let _ = out.flush();
        drop(out);
        for app in supervisor.exited() {
            reporter.println(&format!("app {} (pid {}) {}", app.name, app.pid, app.status));
            running = running.saturating_sub(1);
        }
        if running == 0 {
            reporter.println("every app has exited");
            break;
        }
    }
    let exited = running == 0;
    reporter.println("stopping…");
    teardown(&root, reporter);
    Ok(if exited { ExitCode::from(EXIT_HEALTH) } else { ExitCode::SUCCESS })
}

/// Follows one log file from its current end, prefixing lines with the app's name.
struct LogTail {
    name: String,
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogTail {
    fn new(name: &str, path: &Path) -> Self {
        let offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        LogTail { name: name.to_owned(), path: path.to_owned(), offset, partial: String::new() }
    }

    fn pump(&mut self, out: &mut impl Write) {
        let Ok(mut file) = std::fs::File::open(&self.path) else { return };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() || bytes.is_empty() {
            return;
        }
        self.offset += bytes.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            let _ = write!(out, "{} | {line}", self.name);
        }
    }
}

fn print_summary(board: &Blackboard) {
    println!();
    print!("{}", repo_run_agents::health::summary_table(&board.health, &board.apps, &board.services));
}

/// Whether the run ended with no app started although there was something to start it for:
/// a project with code, or nothing at all. A repository of services only (a compose file of
/// images) is up when its services are.
fn nothing_started(board: &Blackboard) -> bool {
    let projects = board.detection.as_ref().map_or(0, |d| d.projects.len());
    board.apps.is_empty() && board.dropped.is_empty() && (projects > 0 || board.services.is_empty())
}

/// The projects the run went on without, each with the error that stopped it.
fn print_dropped(board: &Blackboard) {
    if board.dropped.is_empty() {
        return;
    }
    println!("\nnot brought up ({} of the projects):", board.dropped.len());
    for d in &board.dropped {
        let first = d.error.message.lines().next().unwrap_or_default();
        println!("  {} ({} failed): {first}", d.project, d.stage.name());
        if let Some(hint) = &d.error.hint {
            println!("    hint: {}", hint.lines().next().unwrap_or_default());
        }
    }
}

#[derive(Serialize)]
struct StageTiming {
    stage: &'static str,
    ok: bool,
    elapsed_ms: u128,
}

impl StageTiming {
    fn new(stage: Stage, elapsed: Duration, ok: bool) -> Self {
        StageTiming { stage: stage.name(), ok, elapsed_ms: elapsed.as_millis() }
    }
}

/// The `--report` document: what CI reads.
#[derive(Serialize)]
struct UpReport {
    report_version: u32,
    status: &'static str,
    exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ReportError>,
    total_ms: u128,
    stages: Vec<StageTiming>,
    setup: Vec<ReportStep>,
    /// Migrations and builds.
    steps: Vec<ReportStep>,
    services: Vec<ReportService>,
    apps: Vec<ReportApp>,
    health: Vec<ReportHealth>,
    /// Every attempt of the Fixer in this run, in order (see docs/report-schema.md).
    fixes: Vec<FixAttempt>,
    /// The fixes in force at the end of the run (`.repo-run/fixes.toml`).
    fixes_in_force: Vec<ReportFix>,
    /// Time the Fixer spent diagnosing (rules, model, validation).
    diagnosis_ms: u128,
    /// Projects given up on so that the others could come up (`status: "partial"`).
    dropped: Vec<ReportDropped>,
    /// Decisions a model made where rules left the question open, with their provenance.
    decisions: Vec<ReportDecision>,
}

#[derive(Serialize)]
struct ReportDecision {
    project: String,
    #[serde(flatten)]
    decision: repo_run_agents::plan::ModelDecision,
}

#[derive(Serialize)]
struct ReportDropped {
    project: String,
    stage: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize)]
struct ReportFix {
    id: String,
    description: String,
    source: String,
    action: repo_run_agents::fixer::FixAction,
}

#[derive(Serialize)]
struct ReportError {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize)]
struct ReportStep {
    project: String,
    command: String,
    skipped: bool,
    elapsed_ms: u128,
}

#[derive(Serialize)]
struct ReportService {
    service: String,
    container: String,
    image: String,
    host_port: u16,
    url: String,
    ready_after_ms: u128,
    reused: bool,
}

#[derive(Serialize)]
struct ReportApp {
    name: String,
    project: String,
    command: String,
    pid: u32,
    port: Option<u16>,
    url: Option<String>,
    log: String,
}

#[derive(Serialize)]
struct ReportHealth {
    target: String,
    healthy: bool,
    detail: String,
    elapsed_ms: u128,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    log_tail: Vec<String>,
}

impl UpReport {
    fn new(board: &Blackboard, stages: Vec<StageTiming>) -> Self {
        let root = board.repo.root();
        UpReport {
            report_version: 2,
            fixes: board.fix_attempts.clone(),
            fixes_in_force: board
                .fixes
                .records()
                .iter()
                .map(|r| ReportFix {
                    id: r.id.clone(),
                    description: r.description.clone(),
                    source: r.source.clone(),
                    action: r.action.clone(),
                })
                .collect(),
            diagnosis_ms: repo_run_agents::fixer::diagnosis_time(&board.fix_attempts).as_millis(),
            dropped: board
                .dropped
                .iter()
                .map(|d| ReportDropped {
                    project: d.project.clone(),
                    stage: d.stage.name(),
                    message: d.error.message.clone(),
                    hint: d.error.hint.clone(),
                })
                .collect(),
            decisions: board
                .detection
                .iter()
                .flat_map(|d| &d.projects)
                .flat_map(|p| {
                    p.decisions.iter().map(|d| ReportDecision { project: p.path.clone(), decision: d.clone() })
                })
                .chain(board.requirements.iter().flat_map(|r| &r.projects).flat_map(|p| {
                    p.decisions.iter().map(|d| ReportDecision { project: p.project.clone(), decision: d.clone() })
                }))
                .chain(
                    board
                        .run_decisions
                        .iter()
                        .map(|(project, d)| ReportDecision { project: project.clone(), decision: d.clone() }),
                )
                .collect(),
            status: "",
            exit_code: 0,
            failed_stage: None,
            error: None,
            total_ms: 0,
            stages,
            setup: board
                .prepared
                .iter()
                .flat_map(|p| {
                    p.installed.iter().map(|s| ReportStep {
                        project: p.project.clone(),
                        command: s.command.clone(),
                        skipped: s.skipped,
                        elapsed_ms: s.elapsed.as_millis(),
                    })
                })
                .collect(),
            steps: board
                .steps
                .iter()
                .map(|s| ReportStep {
                    project: s.project.clone(),
                    command: s.record.command.clone(),
                    skipped: s.record.skipped,
                    elapsed_ms: s.record.elapsed.as_millis(),
                })
                .collect(),
            services: board
                .services
                .iter()
                .map(|s| ReportService {
                    service: s.kind.to_string(),
                    container: s.container.clone(),
                    image: s.image.clone(),
                    host_port: s.host_port,
                    url: s.url.clone(),
                    ready_after_ms: s.ready_after.as_millis(),
                    reused: s.reused,
                })
                .collect(),
            apps: board
                .apps
                .iter()
                .map(|a| ReportApp {
                    name: a.name.clone(),
                    project: a.project.clone(),
                    command: a.command.clone(),
                    pid: a.pid,
                    port: a.port,
                    url: a.url.clone(),
                    log: a.log.strip_prefix(root).unwrap_or(&a.log).display().to_string(),
                })
                .collect(),
            health: board
                .health
                .iter()
                .map(|h| ReportHealth {
                    target: h.target.clone(),
                    healthy: h.healthy,
                    detail: h.detail.clone(),
                    elapsed_ms: h.elapsed.as_millis(),
                    log_tail: h.log_tail.clone(),
                })
                .collect(),
        }
    }
}

/// Adds the run's model decisions to the project's telemetry, for `repo-run models stats`.
fn record_decisions(root: &std::path::Path, decisions: &[ReportDecision]) {
    if decisions.is_empty() {
        return;
    }
    let telemetry =
        repo_run_inference::telemetry::Telemetry::new(Some(root.join(repo_run_inference::telemetry::TELEMETRY_FILE)));
    for event in decision_events(decisions) {
        telemetry.record(event);
    }
}

/// One event per answer. One question may answer several things (the Requirements model
/// classifies every open variable of a project at once, and each answer carries the question's
/// time): consecutive answers of one project, agent, model and time came from one question,
/// whose time is counted on the first of them only, so that the sum is time spent.
fn decision_events(decisions: &[ReportDecision]) -> Vec<repo_run_inference::telemetry::Event> {
    let same_question = |a: &ReportDecision, b: &ReportDecision| {
        a.project == b.project
            && a.decision.agent == b.decision.agent
            && a.decision.model == b.decision.model
            && a.decision.latency_ms == b.decision.latency_ms
    };
    decisions
        .iter()
        .enumerate()
        .map(|(i, d)| repo_run_inference::telemetry::Event::Decision {
            agent: d.decision.agent.clone(),
            model: d.decision.model.clone(),
            question: d.decision.question.clone(),
            accepted: d.decision.rejected.is_none(),
            latency_ms: if i > 0 && same_question(&decisions[i - 1], d) { 0 } else { d.decision.latency_ms },
        })
        .collect()
}

fn write_report(path: &Option<PathBuf>, report: &mut UpReport, started: Instant, code: u8) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    report.exit_code = code;
    report.total_ms = started.elapsed().as_millis();
    let json = serde_json::to_vec_pretty(report).context("serialising the report")?;
    // Whole or not at all: CI (and the tests) may read it the moment it appears.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, json)
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("writing the report to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_run_inference::telemetry::Event;

    fn answer(project: &str, agent: &str, question: &str, latency_ms: u64) -> ReportDecision {
        ReportDecision {
            project: project.into(),
            decision: repo_run_agents::plan::ModelDecision {
                question: question.into(),
                answer: "user_credential".into(),
                agent: agent.into(),
                model: "small.gguf".into(),
                latency_ms,
                candidates: 0,
                reason: String::new(),
                validated: String::new(),
                rejected: None,
            },
        }
    }

    #[test]
    fn a_question_answering_several_variables_counts_its_time_once() {
        let decisions = [
            answer(".", "requirements", "env A", 3000),
            answer(".", "requirements", "env B", 3000),
            answer("api", "requirements", "env C", 3000),
            answer(".", "health", "readiness", 2000),
        ];
        let times: Vec<u64> = decision_events(&decisions)
            .into_iter()
            .map(|e| match e {
                Event::Decision { latency_ms, .. } => latency_ms,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(times, [3000, 0, 3000, 2000], "one question per project and agent");
    }
}
