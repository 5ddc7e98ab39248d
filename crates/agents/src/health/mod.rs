//! The Health agent: waits until every app answers, or says which did not and why.
//!
//! Each app is probed in rounds until it is ready, it exits, or `health_timeout` passes:
//! - its process: an app that exited is reported at once, with its exit status;
//! - its port, when it has one: `GET /` over HTTP (any status below 500 is up). An app with no
//!   known framework that accepts connections but does not speak HTTP passes on the TCP
//!   connect alone. An answer counts only when the listening socket belongs to the app's own
//!   process group ([`owner`]): another program on the port (another repo-run's app that won
//!   the port, say) never makes the app healthy;
//! - its log: a line such as "listening on" is a hint shown while waiting, and the readiness
//!   signal for apps without a port (workers); it never replaces the HTTP answer of a web app.
//!
//! Once an app has its verdict, its port lock ([`crate::runner::PortClaim`]) is let go: its own
//! socket holds the port from then on, or it failed.
//!
//! Rounds start 50 ms apart and back off to 500 ms. Services were already waited for by the
//! DB agent; they get one TCP connect to their host port.

mod owner;
mod probe;
pub mod readiness;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::failure::{Exit, Failure, StepKind};
use crate::models::Models;
use crate::pipeline::{Agent, AgentError, Blackboard, Stage};
use crate::plan::ModelDecision;
use crate::runner::{current_run, describe_wait_status, log_tail, proc_stat};
use crate::services::RunningService;
use crate::up::{HealthReport, ProbeKind, RunningApp};

use owner::Owner;
use probe::PortAnswer;

pub(crate) use owner::{listeners, socket_holders};
pub use probe::ready_pattern;

/// Probe every 50 ms for the first seconds (most apps are up in well under a second, and the
/// interval is latency added to every `up`), then back off to 500 ms for slow starters.
const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_millis(500);
const FAST_PROBING: Duration = Duration::from_secs(2);
/// An app without a port and without a ready line in its log counts as up once it has
/// stayed alive this long.
const SETTLE: Duration = Duration::from_secs(2);
/// Log lines shown for a target that is not healthy.
const TAIL_LINES: usize = 20;
/// How many log lines a failure keeps as evidence for the Fixer.
pub(crate) const EVIDENCE_LINES: usize = 80;
/// An app whose own socket answers only 5xx this long is up but failing every request (a
/// missing table, a broken setting): it is judged then, not at the deadline, so the Fixer
/// can act minutes sooner. Warm-up answers (a 503 while loading) end well within it.
const SERVER_ERROR_GRACE: Duration = Duration::from_secs(10);

/// The Health agent.
#[derive(Debug, Default)]
pub struct HealthAgent;

impl Agent for HealthAgent {
    fn stage(&self) -> Stage {
        Stage::Health
    }

    fn name(&self) -> &'static str {
        "probes"
    }

    fn run(&self, board: &mut Blackboard) -> Result<(), AgentError> {
        let started = Instant::now();
        let deadline = started + board.options.health_timeout;
        let http_expected: Vec<bool> = board.apps.iter().map(|app| has_framework(board, app)).collect();
        // The health route the code declares, probed before `/`.
        let health_paths: Vec<Option<String>> = board.apps.iter().map(|app| health_path(board, app)).collect();
        let mut verdicts: Vec<Option<HealthReport>> = vec![None; board.apps.len()];
        let mut waiting: Vec<String> = vec![String::new(); board.apps.len()];
        // Since when each app has answered nothing but server errors.
        let mut erring_since: Vec<Option<Instant>> = vec![None; board.apps.len()];
        for app in &board.apps {
            board.reporter.step(Stage::Health, &format!("{}: waiting until it is ready", app.name));
        }
        let mut delay = FIRST_DELAY;
        let mut asking: Vec<Asking> = board.apps.iter().map(|_| Asking::default()).collect();
        let models = board.models.clone();
        let mut decisions: Vec<(String, ModelDecision)> = Vec::new();
        loop {
            for (i, app) in board.apps.iter().enumerate() {
                if verdicts[i].is_some() {
                    continue;
                }
                let probe = probe_app(app, http_expected[i], health_paths[i].as_deref(), started);
                // Rules first; the model only for a live app whose log no rule reads.
                let probe = match models.as_deref() {
                    Some(models) => {
                        let mut asked = Vec::new();
                        let probe = ask_readiness(models, app, probe, &mut asking[i], started, &mut asked);
                        for d in asked {
                            note_decision(board, app, &d);
                            decisions.push((app.project.clone(), d));
                        }
                        probe
                    }
                    None => probe,
                };
                if !matches!(probe, Probe::ServerError { .. }) {
                    erring_since[i] = None;
                }
                match probe {
                    Probe::Done(report) => {
                        app.port_claim.release();
                        verdicts[i] = Some(report);
                    }
                    Probe::Waiting(detail) => waiting[i] = detail,
                    Probe::ServerError { url, status, detail } => {
                        let since = *erring_since[i].get_or_insert_with(Instant::now);
                        if since.elapsed() >= SERVER_ERROR_GRACE {
                            let secs = SERVER_ERROR_GRACE.as_secs();
                            let detail = format!("answers only HTTP {status} (for {secs} s)");
                            app.port_claim.release();
                            verdicts[i] = Some(report(app, ProbeKind::Http { url }, false, detail, started));
                        } else {
                            waiting[i] = detail;
                        }
                    }
                }
            }
            if verdicts.iter().all(Option::is_some) {
                break;
            }
            if board.cancel.is_cancelled() {
                board.apps.iter().for_each(|app| app.port_claim.release());
                return Err(AgentError::new(
                    Stage::Health,
                    "cancelled while waiting for the apps to become ready",
                    Some("`repo-run down` stops what was started".into()),
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                let secs = board.options.health_timeout.as_secs_f64();
                for (i, app) in board.apps.iter().enumerate() {
                    if verdicts[i].is_some() {
                        continue;
                    }
                    let detail = format!("not ready within {secs:.0} s: {}", waiting[i]);
                    verdicts[i] = Some(report(app, waiting_probe(app), false, detail, started));
                }
                break;
            }
            std::thread::sleep(delay.min(deadline - now));
            if started.elapsed() >= FAST_PROBING {
                delay = (delay * 2).min(MAX_DELAY);
            }
        }

        board.apps.iter().for_each(|app| app.port_claim.release());
        board.run_decisions.extend(decisions);
        let mut reports: Vec<HealthReport> = verdicts.into_iter().flatten().collect();
        for r in reports.iter_mut().filter(|r| !r.healthy) {
            if let Some(app) = board.apps.iter().find(|a| a.name == r.target) {
                r.log_tail = log_tail(&app.log, TAIL_LINES);
            }
        }
        for service in &board.services {
            reports.push(probe_service(service, &board.workdir.log_file(service.kind.as_str()), started));
        }
        for r in &reports {
            let state = if r.healthy { "ready" } else { "NOT READY" };
            board.reporter.step(Stage::Health, &format!("{}: {state} ({})", r.target, r.detail));
        }
        board.health = reports;
        let failed: Vec<&HealthReport> = board.health.iter().filter(|r| !r.healthy).collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(unhealthy_error(&failed, &board.apps, board.repo.root()))
    }
}

/// An app with no port is asked about as soon as the rules would call it up; one with a port
/// after it has been silent this long (its log may say why it never will be).
const PORT_QUIET: Duration = Duration::from_secs(15);
/// How long "still starting" holds before the model is asked again.
const ASK_AGAIN: Duration = Duration::from_secs(5);
/// Questions per app and run: after these, the rule answer stands.
const MAX_ASKS: usize = 2;

/// The Health model's questions about one app so far.
#[derive(Default)]
struct Asking {
    asks: usize,
    not_before: Option<Instant>,
    /// The log text last shown to the model: an unchanged log is not asked about again.
    last_log: Option<String>,
}

/// The probe's result, or the Health model's reading of the log where the rules cannot read
/// it: a live app without a port that the rules would call up after it settled (ready, still
/// starting, or fatal while its process lingers), or an app whose port has been silent for
/// [`PORT_QUIET`] (fatal, or still starting). Each question is reported in `asked`.
fn ask_readiness(
    models: &dyn Models,
    app: &RunningApp,
    probe: Probe,
    asking: &mut Asking,
    started: Instant,
    asked: &mut Vec<ModelDecision>,
) -> Probe {
    let settled = matches!(&probe, Probe::Done(r) if r.healthy && matches!(r.probe, ProbeKind::Process { .. }));
    let silent = app.port.is_some() && matches!(&probe, Probe::Waiting(_)) && started.elapsed() >= PORT_QUIET;
    let now = Instant::now();
    if !(settled || silent) || asking.asks >= MAX_ASKS || asking.not_before.is_some_and(|t| now < t) {
        return probe;
    }
    let log = current_run(&app.log);
    if asking.last_log.as_deref() == Some(log.as_str()) {
        return probe;
    }
    asking.asks += 1;
    asking.last_log = Some(log.clone());
    asking.not_before = Some(now + ASK_AGAIN);
    let Some(answer) = readiness::classify(models, &app.name, &app.command, app.port.is_some(), &log, asked) else {
        return probe;
    };
    let by = format!(
        "read as {} by the health model {} in {:.1} s",
        answer.state.as_str(),
        answer.decision.model,
        answer.decision.latency_ms as f64 / 1000.0
    );
    match answer.state {
        readiness::Readiness::Ready => Probe::Done(report(
            app,
            ProbeKind::LogPattern { pattern: answer.line.clone() },
            true,
            format!("its log says \"{}\" ({by})", answer.line),
            started,
        )),
        readiness::Readiness::Fatal => Probe::Done(report(
            app,
            ProbeKind::Process { pid: app.pid },
            false,
            format!("its log says \"{}\" ({by}); its process (pid {}) still runs", answer.line, app.pid),
            started,
        )),
        // The last question: the rule answer stands after it.
        readiness::Readiness::Starting if asking.asks >= MAX_ASKS => probe,
        readiness::Readiness::Starting => Probe::Waiting(format!("its log says \"{}\" ({by})", answer.line)),
    }
}

fn note_decision(board: &Blackboard, app: &RunningApp, d: &ModelDecision) {
    let what = match &d.rejected {
        None => format!(
            "{} by the {} model ({}, {:.1} s): \"{}\"",
            d.answer,
            d.agent,
            d.model,
            d.latency_ms as f64 / 1000.0,
            d.reason
        ),
        Some(why) => format!("the {} model's answer ({}) was refused: {why}", d.agent, d.answer),
    };
    board.reporter.note(Stage::Health, &format!("{}: its log matches no known ready line; {what}", app.name));
}

/// The outcome of one probe round for one app.
enum Probe {
    Done(HealthReport),
    /// Not ready yet; what was seen, for the report if the deadline passes.
    Waiting(String),
    /// The app's own socket answered with a server error (5xx).
    ServerError {
        url: String,
        status: u16,
        detail: String,
    },
}

/// One probe round of `app`: its process, then its port: `health_path` first when the code
/// declares one (an app whose `/` answers 404 while `/health` answers 500 is not healthy), `/`
/// when there is none or it answers 404 (the route is mounted under a prefix we cannot see).
fn probe_app(app: &RunningApp, http_expected: bool, health_path: Option<&str>, started: Instant) -> Probe {
    let process = ProbeKind::Process { pid: app.pid };
    match proc_stat(app.pid) {
        None => return Probe::Done(report(app, process, false, "exited".into(), started)),
        Some(stat) if stat.is_dead() => {
            let detail = stat.exit_code.map_or_else(|| "exited".to_string(), describe_wait_status);
            return Probe::Done(report(app, process, false, detail, started));
        }
        Some(_) => {}
    }
    let log_hint = probe::ready_pattern(&current_run(&app.log));
    let hint = log_hint.map(|p| format!(" (its log says \"{p}\")")).unwrap_or_default();
    let Some(port) = app.port else {
        if let Some(pattern) = log_hint {
            let detail = format!("its log says \"{pattern}\"");
            return Probe::Done(report(app, ProbeKind::LogPattern { pattern: pattern.into() }, true, detail, started));
        }
        if started.elapsed() >= SETTLE {
            let detail = format!("running (pid {}); it has no port to probe", app.pid);
            return Probe::Done(report(app, process, true, detail, started));
        }
        return Probe::Waiting(format!("running (pid {}), no ready line in its log yet", app.pid));
    };
    let mut path = health_path.unwrap_or("/");
    let mut owned = own_answer(app, port, path);
    if path != "/" && matches!(&owned, OwnAnswer::Own { answer: PortAnswer::Http { status: 404, .. }, .. }) {
        path = "/";
        owned = own_answer(app, port, path);
    }
    let (answer, unchecked) = match owned {
        OwnAnswer::Refused => return Probe::Waiting(format!("nothing accepts connections on port {port}{hint}")),
        OwnAnswer::Foreign { addr, holder } => {
            return Probe::Waiting(format!(
                "{addr} answers, but from {holder}, not from {} (process group {}){hint}",
                app.name, app.pid
            ));
        }
        OwnAnswer::Own { answer, unchecked } => (answer, unchecked),
    };
    let note = unchecked.map(|why| format!("; not checked that the socket is the app's: {why}")).unwrap_or_default();
    match answer {
        PortAnswer::Http { status, addr, took } if status < 500 => {
            let url = format!("http://{addr}{path}");
            let from = if path == "/" { String::new() } else { format!(" from {path}") };
            let detail = format!("HTTP {status}{from} in {} ms{note}", took.as_millis());
            Probe::Done(report(app, ProbeKind::Http { url }, true, detail, started))
        }
        PortAnswer::Http { status, addr, .. } => Probe::ServerError {
            url: format!("http://{addr}{path}"),
            status,
            detail: format!("http://{addr}{path} answers HTTP {status}{hint}"),
        },
        PortAnswer::NotHttp { addr } if !http_expected => {
            let detail = format!("accepts TCP connections on {addr} (not HTTP){note}");
            Probe::Done(report(app, ProbeKind::Tcp { port }, true, detail, started))
        }
        PortAnswer::NotHttp { addr } => {
            Probe::Waiting(format!("{addr} accepts connections but does not answer HTTP{hint}"))
        }
        PortAnswer::Refused => Probe::Waiting(format!("nothing accepts connections on port {port}{hint}")),
    }
}

/// What the app's port showed, counting only the app's own sockets.
enum OwnAnswer {
    Refused,
    /// Only another process answered: `holder` ("pid 1234 (node)") on `addr`.
    Foreign {
        addr: std::net::SocketAddr,
        holder: String,
    },
    /// The app's socket answered; `unchecked` says why ownership could not be checked, when
    /// `/proc` cannot tell (not Linux): then any answer counts, as it must.
    Own {
        answer: PortAnswer,
        unchecked: Option<String>,
    },
}

/// Probes the port on each loopback address and keeps the first answer that came from a socket
/// of the app's process group. The app leads its own group (the Runner spawns it so), so the
/// group id is its pid; `npm start`'s node child is in it too.
fn own_answer(app: &RunningApp, port: u16, path: &str) -> OwnAnswer {
    let mut foreign = None;
    for addr in probe::loopback_addrs(port) {
        let answer = probe::probe_addr(addr, path);
        if answer == PortAnswer::Refused {
            continue;
        }
        // Checked right after the answer. The one case this cannot tell apart: the socket that
        // answered closed, and the app's took its place, within that instant.
        match owner::owner_of(addr, app.pid) {
            Owner::Group => return OwnAnswer::Own { answer, unchecked: None },
            Owner::Unknown(why) => return OwnAnswer::Own { answer, unchecked: Some(why) },
            Owner::Other(holder) => foreign = foreign.or(Some((addr, holder))),
        }
    }
    match foreign {
        Some((addr, holder)) => OwnAnswer::Foreign { addr, holder },
        None => OwnAnswer::Refused,
    }
}

/// The probe named in a report for an app that never became ready.
fn waiting_probe(app: &RunningApp) -> ProbeKind {
    match (&app.url, app.port) {
        (Some(url), _) => ProbeKind::Http { url: url.clone() },
        (None, Some(port)) => ProbeKind::Tcp { port },
        (None, None) => ProbeKind::Process { pid: app.pid },
    }
}

fn report(app: &RunningApp, probe: ProbeKind, healthy: bool, detail: String, started: Instant) -> HealthReport {
    HealthReport { target: app.name.clone(), probe, healthy, detail, elapsed: started.elapsed(), log_tail: Vec::new() }
}

/// The first health route the app's code declares.
fn health_path(board: &Blackboard, app: &RunningApp) -> Option<String> {
    board
        .detection
        .as_ref()
        .and_then(|d| d.projects.iter().find(|p| p.path == app.project))
        .and_then(|p| p.health_paths.first())
        .map(|h| h.path.clone())
}

/// Whether detection found a framework for the app's project: then it serves HTTP.
fn has_framework(board: &Blackboard, app: &RunningApp) -> bool {
    board
        .detection
        .as_ref()
        .and_then(|d| d.projects.iter().find(|p| p.path == app.project))
        .is_some_and(|p| !p.frameworks.is_empty())
}

fn probe_service(service: &RunningService, log: &Path, started: Instant) -> HealthReport {
    let port = service.host_port;
    let healthy = probe::tcp_open(port);
    let detail = if healthy {
        format!("accepts TCP connections on port {port}")
    } else {
        format!("nothing accepts connections on port {port} (container {})", service.container)
    };
    HealthReport {
        target: service.kind.as_str().to_string(),
        probe: ProbeKind::Tcp { port },
        healthy,
        detail,
        elapsed: started.elapsed(),
        log_tail: if healthy { Vec::new() } else { log_tail(log, TAIL_LINES) },
    }
}

fn probe_name(probe: &ProbeKind) -> &'static str {
    match probe {
        ProbeKind::Http { .. } => "HTTP probe",
        ProbeKind::Tcp { .. } => "TCP probe",
        ProbeKind::Process { .. } => "process check",
        ProbeKind::LogPattern { .. } => "log check",
    }
}

fn unhealthy_error(failed: &[&HealthReport], apps: &[RunningApp], root: &Path) -> AgentError {
    let mut message = String::new();
    let mut logs = Vec::new();
    for r in failed {
        let log = apps.iter().find(|a| a.name == r.target).map(|a| a.log.strip_prefix(root).unwrap_or(&a.log));
        message.push_str(&format!("{} is not healthy ({}): {}\n", r.target, probe_name(&r.probe), r.detail));
        if let Some(log) = log {
            logs.push(log.display().to_string());
            if r.log_tail.is_empty() {
                message.push_str(&format!("  {} is empty\n", log.display()));
            } else {
                message.push_str(&format!("  last lines of {}:\n", log.display()));
                for line in &r.log_tail {
                    message.push_str(&format!("    {line}\n"));
                }
            }
        }
    }
    let hint = if logs.is_empty() {
        "`repo-run status` shows what runs; `repo-run down` stops it".to_string()
    } else {
        format!("read {} for the cause; `repo-run down` stops what was started", logs.join(", "))
    };
    let mut error = AgentError::new(Stage::Health, message.trim_end(), Some(hint));
    // Confined to the failed apps' projects, unless a service failed too (every app needs it).
    let projects: Option<Vec<String>> =
        failed.iter().map(|r| apps.iter().find(|a| a.name == r.target).map(|a| a.project.clone())).collect();
    if let Some(mut projects) = projects {
        projects.dedup();
        error = error.confined_to(projects);
    }
    // The Fixer works on one app at a time: the first that failed, with its whole evidence.
    if let Some((report, app)) = failed.iter().find_map(|r| apps.iter().find(|a| a.name == r.target).map(|a| (r, a))) {
        // How the process ended, as Health saw it; a zombie still has a /proc entry, so
        // "running" is only what is neither.
        let exit = exit_of(&report.detail).or_else(|| proc_stat(app.pid).map(|_| Exit::Running));
        error = error.with_failure(
            Failure::new(Stage::Health, StepKind::Health, &app.project)
                .argv(&app.command.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .exit(exit)
                .tail(&log_tail(&app.log, EVIDENCE_LINES))
                .log(&app.log)
                .port(app.port),
        );
    }
    error
}

/// A plain text table of what runs, for the CLI: one row per app and service.
pub fn summary_table(reports: &[HealthReport], apps: &[RunningApp], services: &[RunningService]) -> String {
    let status = |name: &str| -> (String, String) {
        match reports.iter().find(|r| r.target == name) {
            Some(r) => ((if r.healthy { "healthy" } else { "UNHEALTHY" }).to_string(), r.detail.clone()),
            None => ("not probed".to_string(), String::new()),
        }
    };
    let mut rows: Vec<[String; 5]> = vec![["NAME", "KIND", "URL", "STATUS", "DETAIL"].map(String::from)];
    for app in apps {
        let (state, detail) = status(&app.name);
        // The address that answered (127.0.0.1 or [::1]) over the one the app was given.
        let probed = reports.iter().find(|r| r.target == app.name && r.healthy).and_then(|r| match &r.probe {
            ProbeKind::Http { url } => Some(url.clone()),
            _ => None,
        });
        let url = probed.or_else(|| app.url.clone()).unwrap_or_else(|| "-".into());
        rows.push([app.name.clone(), "app".into(), url, state, detail]);
    }
    for service in services {
        let name = service.kind.as_str();
        let (state, detail) = status(name);
        rows.push([name.to_string(), "service".into(), redact_password(&service.url), state, detail]);
    }
    let widths: Vec<usize> = (0..5).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `postgres://app:secret@127.0.0.1:5432/app` → `postgres://app:***@127.0.0.1:5432/app`: the
/// table is printed to terminals and CI logs.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => url.to_string(),
    }
}

/// The exit a report's detail names ("exited with status 1", "killed by signal 9").
fn exit_of(detail: &str) -> Option<Exit> {
    if let Some(code) = detail.strip_prefix("exited with status ") {
        return code.split_whitespace().next()?.parse().ok().map(Exit::Code);
    }
    let signal = detail.strip_prefix("killed by signal ")?;
    signal.split_whitespace().next()?.parse().ok().map(Exit::Signal)
}

#[cfg(test)]
mod tests {
    #[test]
    fn exits_are_read_from_the_report() {
        use super::{Exit, exit_of};
        assert_eq!(exit_of("exited with status 0"), Some(Exit::Code(0)));
        assert_eq!(exit_of("killed by signal 9"), Some(Exit::Signal(9)));
        assert_eq!(exit_of("HTTP 500 from /health"), None);
    }

    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_password("postgres://app:secret@127.0.0.1:5432/app"),
            "postgres://app:***@127.0.0.1:5432/app"
        );
        assert_eq!(redact_password("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact_password("amqp://guest@127.0.0.1:5672"), "amqp://guest@127.0.0.1:5672");
    }
}
