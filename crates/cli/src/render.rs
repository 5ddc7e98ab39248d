//! The plan for people: short, grouped, coloured when the terminal supports it (anstream strips
//! colour when stdout is not a TTY or `--color never` / `NO_COLOR` is set).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use repo_run_agents::document::{PlanDocument, StepKind, location};
use repo_run_agents::plan::{EnvSource, ProjectRole, RuntimeStatus};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const YELLOW: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const RED: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
const CYAN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));

pub fn plan(out: &mut impl Write, doc: &PlanDocument) -> io::Result<()> {
    writeln!(out, "{BOLD}Plan for {}{BOLD:#}", doc.source.path)?;
    if let Some(git) = &doc.source.git {
        writeln!(out, "  {DIM}cloned from {} at {}{DIM:#}", git.url, &git.commit[..git.commit.len().min(12)])?;
    }
    writeln!(out, "  {DIM}{} files walked, {} source files parsed{DIM:#}", doc.stats.files, doc.stats.parsed)?;

    for project in &doc.projects {
        let role = match project.role {
            ProjectRole::App => format!("{GREEN}app{GREEN:#}"),
            ProjectRole::Library => format!("{DIM}library{DIM:#}"),
            ProjectRole::WorkspaceRoot => format!("{DIM}workspace root{DIM:#}"),
        };
        writeln!(out)?;
        writeln!(out, "{BOLD}{}{BOLD:#} ({}) {role}", project.name, project.path)?;
        let langs: Vec<_> = project
            .languages
            .iter()
            .map(|l| {
                if l.files > 0 {
                    format!("{} ({} file{})", l.language, l.files, if l.files == 1 { "" } else { "s" })
                } else {
                    l.language.to_string()
                }
            })
            .collect();
        field(out, "languages", &langs.join(", "))?;
        let pms: Vec<_> = project.package_managers.iter().map(|f| f.value.to_string()).collect();
        field(out, "package managers", &pms.join(", "))?;
        let fws: Vec<_> = project.frameworks.iter().map(|f| f.value.to_string()).collect();
        field(out, "frameworks", &fws.join(", "))?;
        if let Some(start) = &project.start {
            // A model-made decision is marked as such, with what validation checked.
            let by = match project.decisions.iter().find(|d| d.question == "start") {
                Some(d) => format!(
                    "; chosen by the {} model {} in {:.1} s; {}",
                    d.agent,
                    d.model,
                    d.latency_ms as f64 / 1000.0,
                    d.validated
                ),
                None => String::new(),
            };
            field(
                out,
                "start",
                &format!("{CYAN}{}{CYAN:#}  {DIM}({}{by}){DIM:#}", start.display, location(&start.evidence)),
            )?;
        } else if !project.start_candidates.is_empty() {
            let candidates: Vec<String> = project
                .start_candidates
                .iter()
                .map(|c| format!("{}  {DIM}({}){DIM:#}", c.command.display, location(&c.command.evidence)))
                .collect();
            field(out, "start candidates", &candidates.join(&format!("\n{:19}", "")))?;
        }
        let ports: Vec<_> = project
            .ports
            .iter()
            .map(|p| match &p.env_var {
                Some(v) => format!("{} (${v})", p.port),
                None => p.port.to_string(),
            })
            .collect();
        field(out, "ports", &ports.join(", "))?;
        let services: Vec<_> = project.services.iter().map(|s| s.service.to_string()).collect();
        field(out, "services", &services.join(", "))?;
        if !project.env_vars.is_empty() {
            let names: Vec<_> = project.env_vars.iter().map(|e| e.name.as_str()).collect();
            field(out, "env vars read", &names.join(", "))?;
        }
        if let Some(req) = doc.requirements.iter().find(|r| r.project == project.path) {
            for rt in &req.runtimes {
                let want = rt.required.as_deref().unwrap_or("any");
                let mut have = rt.installed.as_deref().unwrap_or("not installed").to_owned();
                if let Some(s) = &rt.selected {
                    let at = s.path.as_deref().or(s.toolchain.as_deref()).unwrap_or_default();
                    have = format!("{have}, {}'s {at}", s.manager);
                }
                let status = match rt.status {
                    RuntimeStatus::Ok => format!("{GREEN}ok{GREEN:#}"),
                    RuntimeStatus::Mismatch => format!("{RED}mismatch{RED:#}"),
                    RuntimeStatus::Missing => format!("{RED}missing{RED:#}"),
                    RuntimeStatus::Unknown => format!("{YELLOW}unknown constraint{YELLOW:#}"),
                };
                field(out, "runtime", &format!("{} {want} (host: {have}) {status}", rt.runtime))?;
            }
            let user: Vec<_> =
                req.env.iter().filter(|e| matches!(e.source, EnvSource::User)).map(|e| e.name.as_str()).collect();
            if !user.is_empty() {
                field(out, "you provide", &format!("{YELLOW}{}{YELLOW:#}", user.join(", ")))?;
            }
            // Variables a model classified are marked as such.
            let by_model: Vec<_> =
                req.decisions.iter().filter(|d| d.rejected.is_none() && d.question.starts_with("env ")).collect();
            if let Some(d) = by_model.first() {
                let answers: Vec<String> = by_model
                    .iter()
                    .map(|d| format!("{} {}", d.question.trim_start_matches("env "), d.answer))
                    .collect();
                field(
                    out,
                    "env by model",
                    &format!(
                        "{}  {DIM}(classified by the {} model {} in {:.1} s){DIM:#}",
                        answers.join(", "),
                        d.agent,
                        d.model,
                        d.latency_ms as f64 / 1000.0
                    ),
                )?;
            }
            // The requirements file: the model's choice, or the rules' pick of an open question.
            let chosen_file = req.decisions.iter().find(|d| {
                d.rejected.is_none() && d.question == repo_run_agents::requirements::choose_install::QUESTION
            });
            match chosen_file {
                Some(d) => field(
                    out,
                    "install by model",
                    &format!(
                        "{}  {DIM}(chosen by the {} model {} in {:.1} s among {} files: {}){DIM:#}",
                        d.answer,
                        d.agent,
                        d.model,
                        d.latency_ms as f64 / 1000.0,
                        d.candidates,
                        d.validated
                    ),
                )?,
                None if req.install_candidates.len() > 1 => field(
                    out,
                    "install",
                    &format!(
                        "{}  {YELLOW}(the rules' pick; also {}: a model can choose){YELLOW:#}",
                        req.install_candidates[0],
                        req.install_candidates[1..].join(", ")
                    ),
                )?,
                None => {}
            }
        }
    }

    if !doc.steps.is_empty() {
        writeln!(out)?;
        writeln!(out, "{BOLD}What `repo-run up` will do{BOLD:#}")?;
        for (i, step) in doc.steps.iter().enumerate() {
            let mark = match step.kind {
                StepKind::CheckRuntime if step.why.starts_with("MISMATCH") || step.why.starts_with("MISSING") => {
                    format!("{RED}!{RED:#}")
                }
                _ => " ".to_owned(),
            };
            writeln!(out, "{mark}{:>3}. {}", i + 1, step.description)?;
            writeln!(out, "       {DIM}{}{DIM:#}", step.why)?;
        }
    }

    if !doc.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{YELLOW}{} warning(s){YELLOW:#}", doc.warnings.len())?;
        for w in &doc.warnings {
            let at = match w.line {
                Some(l) => format!("{}:{l}", w.file),
                None => w.file.clone(),
            };
            writeln!(out, "  {YELLOW}warning{YELLOW:#}: {at}: {}", w.message)?;
        }
    }
    Ok(())
}

fn field(out: &mut impl Write, name: &str, value: &str) -> io::Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    writeln!(out, "  {DIM}{name:<17}{DIM:#}{value}")
}
