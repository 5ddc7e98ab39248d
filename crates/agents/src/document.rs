//! The plan document: what `repo-run plan --json` prints and what `up` will follow. It joins the
//! Detection and Requirements outputs and orders the steps `up` will take, each with its reason.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::{
    Command, Detection, EnvSource, Evidence, HostRuntime, Project, ProjectRequirements, ProjectRole, Requirements,
    RuntimeStatus, SCHEMA_VERSION, ServiceKind, WalkStats, Warning,
};

/// Where the repository came from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// Absolute path of the directory that was planned.
    pub path: String,
    /// Set when the repository was cloned from a git URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitSource {
    pub url: String,
    pub commit: String,
}

/// A backing service, once for the whole repository, with the projects that need it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceNeed {
    pub service: ServiceKind,
    pub used_by: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// One thing `up` will do.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// The project (path) or service this step is about.
    pub target: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// Why this step is in the plan.
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    CheckRuntime,
    InstallSystemPackages,
    /// A package manager the host lacks, installed by `up` into a virtualenv of its own.
    ProvideTool,
    InstallDependencies,
    WriteEnv,
    StartService,
    Migrate,
    Build,
    Start,
    HealthCheck,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanDocument {
    pub schema_version: u32,
    pub source: Source,
    pub projects: Vec<Project>,
    pub services: Vec<ServiceNeed>,
    pub requirements: Vec<ProjectRequirements>,
    pub host: Vec<HostRuntime>,
    pub steps: Vec<Step>,
    pub warnings: Vec<Warning>,
    pub stats: WalkStats,
}

impl PlanDocument {
    /// Join the stages' outputs. `late_warnings` are warnings raised after detection (the
    /// Requirements agent reads version files too); they are merged with detection's.
    pub fn new(
        source: Source,
        mut detection: Detection,
        requirements: Requirements,
        late_warnings: Vec<Warning>,
    ) -> Self {
        detection.warnings.extend(late_warnings);
        detection.warnings.sort();
        detection.warnings.dedup();
        let services = services(&detection);
        let steps = steps(&detection, &requirements, &services);
        PlanDocument {
            schema_version: SCHEMA_VERSION,
            source,
            projects: detection.projects,
            services,
            requirements: requirements.projects,
            host: requirements.host,
            steps,
            warnings: detection.warnings,
            stats: detection.stats,
        }
    }

    /// The projects `up` will start.
    pub fn apps(&self) -> impl Iterator<Item = &Project> {
        self.projects.iter().filter(|p| p.role == ProjectRole::App)
    }
}

fn services(detection: &Detection) -> Vec<ServiceNeed> {
    let mut by_kind: BTreeMap<ServiceKind, ServiceNeed> = BTreeMap::new();
    for project in &detection.projects {
        for s in &project.services {
            let need = by_kind.entry(s.service).or_insert_with(|| ServiceNeed {
                service: s.service,
                used_by: Vec::new(),
                evidence: Vec::new(),
            });
            if !need.used_by.contains(&project.path) {
                need.used_by.push(project.path.clone());
            }
            need.evidence.extend(s.evidence.iter().cloned());
        }
    }
    by_kind
        .into_values()
        .map(|mut n| {
            n.evidence.sort();
            n.evidence.dedup();
            n
        })
        .collect()
}

/// The order of `up`: check runtimes, install system packages and dependencies, write `.env`,
/// start services, migrate, build, start apps, check health. Services come before builds
/// because some builds need the database (`sqlx::query!` checks queries at compile time).
fn steps(detection: &Detection, requirements: &Requirements, services: &[ServiceNeed]) -> Vec<Step> {
    let reqs: BTreeMap<&str, &ProjectRequirements> =
        requirements.projects.iter().map(|r| (r.project.as_str(), r)).collect();
    let runnable: Vec<&Project> = detection.projects.iter().filter(|p| p.role != ProjectRole::Library).collect();
    let mut steps = Vec::new();

    for project in &runnable {
        let Some(req) = reqs.get(project.path.as_str()) else { continue };
        for rt in &req.runtimes {
            let have = rt.installed.as_deref().unwrap_or("not installed");
            let want = rt.required.as_deref().unwrap_or("any version");
            let why = match rt.status {
                RuntimeStatus::Ok => format!("{} {want} is required; the host has {have}", rt.runtime),
                RuntimeStatus::Mismatch => {
                    format!("MISMATCH: {} {want} is required but the host has {have}", rt.runtime)
                }
                RuntimeStatus::Missing => format!("MISSING: {} {want} is required and not installed", rt.runtime),
                RuntimeStatus::Unknown => {
                    format!("{} constraint `{want}` not understood; the host has {have}", rt.runtime)
                }
            };
            let mut why = match &rt.evidence {
                Some(e) => format!("{why} (from {})", location(e)),
                None => why,
            };
            if let Some(selected) = &rt.selected {
                why = format!("{why}; {}", selected.note);
            }
            if let Some(message) = &rt.message {
                why = format!("{why}; {message}");
            }
            steps.push(Step {
                kind: StepKind::CheckRuntime,
                target: project.path.clone(),
                description: match &rt.required {
                    Some(want) => format!("check {} {want}", rt.runtime),
                    None => format!("check {} is installed", rt.runtime),
                },
                command: None,
                why,
            });
        }
        if !req.system_packages.is_empty() {
            let names: Vec<_> = req.system_packages.iter().map(|p| p.apt.as_str()).collect();
            let mut reasons: Vec<_> = req.system_packages.iter().map(|p| p.reason.as_str()).collect();
            reasons.dedup(); // one dependency often needs several packages for one reason
            steps.push(Step {
                kind: StepKind::InstallSystemPackages,
                target: project.path.clone(),
                description: format!("system packages: {}", names.join(", ")),
                command: None,
                why: reasons.join("; "),
            });
        }
        for tool in &req.provide {
            steps.push(Step {
                kind: StepKind::ProvideTool,
                target: project.path.clone(),
                description: format!("provide {} (not on PATH)", tool.tool),
                command: tool.commands.last().cloned(),
                why: format!("{} needs it; downloads {}", tool.needed_by.file, tool.downloads),
            });
        }
        for install in &req.install {
            steps.push(Step {
                kind: StepKind::InstallDependencies,
                target: project.path.clone(),
                description: format!("install dependencies: {}", install.command.display),
                command: Some(install.command.clone()),
                why: install.reason.clone(),
            });
        }
        let generated: Vec<_> = req
            .env
            .iter()
            .filter(|e| !matches!(e.source, EnvSource::User | EnvSource::Optional))
            .map(|e| e.name.as_str())
            .collect();
        if !generated.is_empty() {
            steps.push(Step {
                kind: StepKind::WriteEnv,
                target: project.path.clone(),
                description: format!("write .env: {}", generated.join(", ")),
                command: None,
                why: "the code reads these variables; values come from services, generated secrets, \
                      the assigned port or defaults (an existing .env is kept and backed up)"
                    .into(),
            });
        }
    }
    for s in services {
        steps.push(Step {
            kind: StepKind::StartService,
            target: s.service.to_string(),
            description: format!("start {} in a container with a named volume", s.service),
            command: None,
            why: format!(
                "needed by {} ({})",
                // People know projects by name; the JSON keeps paths in `used_by`.
                s.used_by
                    .iter()
                    .map(|path| detection.projects.iter().find(|p| &p.path == path).map_or(path.as_str(), |p| &p.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                s.evidence.iter().take(3).map(location).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    for project in &runnable {
        for m in &project.migrations {
            steps.push(Step {
                kind: StepKind::Migrate,
                target: project.path.clone(),
                description: format!("run {} migrations", m.tool),
                command: Some(m.command.clone()),
                why: match &m.reason {
                    Some(reason) => format!("migrations found ({}); {reason}", location(&m.command.evidence)),
                    None => format!("migrations found ({})", location(&m.command.evidence)),
                },
            });
        }
    }
    for project in runnable.iter().filter(|p| p.role == ProjectRole::App) {
        if let Some(build) = &project.build {
            steps.push(Step {
                kind: StepKind::Build,
                target: project.path.clone(),
                description: format!("build: {}", build.display),
                command: Some(build.clone()),
                why: format!("from {}", location(&build.evidence)),
            });
        }
        if let Some(start) = &project.start {
            steps.push(Step {
                kind: StepKind::Start,
                target: project.path.clone(),
                description: format!("start {}: {}", project.name, start.display),
                command: Some(start.clone()),
                why: format!("from {}", location(&start.evidence)),
            });
            let probe = match project.ports.first() {
                Some(p) => format!("HTTP on the assigned port (the code listens on {} by default)", p.port),
                None => "the process stays alive".to_owned(),
            };
            steps.push(Step {
                kind: StepKind::HealthCheck,
                target: project.path.clone(),
                description: format!("check {} is healthy: {probe}", project.name),
                command: None,
                why: "an app is up only when it answers".into(),
            });
        }
    }
    steps
}

/// `file:line` for people.
pub fn location(e: &Evidence) -> String {
    match e.line {
        Some(l) => format!("{}:{l}", e.file),
        None => e.file.clone(),
    }
}
