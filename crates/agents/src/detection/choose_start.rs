//! The Detection model's question: which of the start commands a project's documentation
//! gives starts the app, when no rule found one.
//!
//! The model chooses; it does not write. Its answer is forced by a grammar to one of the
//! candidate ids, every candidate was checked against the repository before it was offered
//! (see [`super::start_candidates`]), and the decision is recorded with its provenance on the
//! project ([`ModelDecision`]). Without a model the question stays open and `up` reports the
//! candidates (exit 7).

use crate::models::{ModelRequest, Models, choice_id, choice_reason, chosen_index};
use crate::pipeline::Stage;
use crate::plan::{Detection, ModelDecision, PortFinding, Project, ProjectRole, StartCandidate, Warning};
use crate::repo::RepoView;

/// The agent row that answers, as recorded in [`ModelDecision::agent`].
const AGENT: &str = "detection";

/// Asks the model for each project that has candidates and no start command; `asking` hears
/// of each question before it is asked (a first question loads a model: seconds). `rejected`
/// are earlier answers of this run that failed when they were tried, by project: their
/// commands are not offered again, and each one moves the question one model further down the
/// agent's chain (escalation); past its end the question stays open (the rule answer).
/// Projects are asked at once, each on its own thread (the engine decodes concurrent
/// questions to one model in one batch); decisions and warnings keep the projects' order.
pub fn choose_starts(
    detection: &mut Detection,
    repo: &RepoView,
    models: &dyn Models,
    rejected: &[(String, ModelDecision)],
    asking: &mut dyn FnMut(&str),
) {
    let mut questions = Vec::new();
    for project in &mut detection.projects {
        if project.start.is_some() || project.start_candidates.is_empty() {
            continue;
        }
        let earlier: Vec<&ModelDecision> =
            rejected.iter().filter(|(p, d)| *p == project.path && d.question == "start").map(|(_, d)| d).collect();
        project.decisions.extend(earlier.iter().map(|d| (*d).clone()));
        let offered: Vec<StartCandidate> = project
            .start_candidates
            .iter()
            .filter(|c| !earlier.iter().any(|d| d.answer == c.command.display))
            .cloned()
            .collect();
        let file = project.start_candidates[0].command.evidence.file.clone();
        if offered.is_empty() {
            detection.warnings.push(Warning {
                file,
                line: None,
                message: format!("{}: every documented start command was tried and failed", project.path),
            });
            continue;
        }
        asking(&project.path);
        questions.push((project, offered, earlier.len(), file));
    }
    let answers: Vec<(String, String, Result<(), String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = questions
            .into_iter()
            .map(|(project, offered, escalation, file)| {
                s.spawn(move || {
                    let answer = ask(project, repo, models, &offered, escalation).map(|d| project.decisions.push(d));
                    (project.path.clone(), file, answer)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    for (path, file, answer) in answers {
        if let Err(why) = answer {
            detection.warnings.push(Warning {
                file,
                line: None,
                message: format!(
                    "{path}: the Detection model did not choose a start command ({why}); the documented candidates \
                     are in `repo-run plan`"
                ),
            });
        }
    }
}

/// One question for one project; on success the project has its start command (and the
/// port the command gives, when no rule found one).
fn ask(
    project: &mut Project,
    repo: &RepoView,
    models: &dyn Models,
    offered: &[StartCandidate],
    escalation: usize,
) -> Result<ModelDecision, String> {
    let mut request = request(project, repo, offered);
    request.escalation = escalation;
    let reply = models.ask(Stage::Detection, &request);
    let json = reply.json.map_err(|e| format!("{}: {e}", reply.model))?;
    // The grammar only allows the ids offered; anything else is a broken backend.
    let index = chosen_index(&json, PREFIX, offered.len())
        .ok_or_else(|| format!("{} is not one of the candidates", json.get("choice").unwrap_or(&json)))?;
    let reason = choice_reason(&json);
    let chosen = offered[index].clone();
    if project.ports.is_empty() {
        // The port the command gives, else the one the code reads `PORT` with (an app that
        // reads `PORT` listens on it; no rule said so only because no framework was found).
        let from_env = project.env_vars.iter().find(|v| v.name == "PORT").and_then(|v| {
            let port = v.default.as_deref()?.parse::<u16>().ok()?;
            Some(PortFinding { port, env_var: Some("PORT".into()), evidence: v.evidence.clone() })
        });
        match chosen.port {
            Some(port) => {
                project.ports.push(PortFinding { port, env_var: None, evidence: vec![chosen.command.evidence.clone()] })
            }
            None => project.ports.extend(from_env),
        }
    }
    project.start = Some(chosen.command.clone());
    project.role = ProjectRole::App;
    Ok(ModelDecision {
        question: "start".into(),
        answer: chosen.command.display.clone(),
        agent: AGENT.into(),
        model: reply.model,
        latency_ms: reply.elapsed_ms,
        candidates: offered.len(),
        reason,
        validated: chosen.validated,
        rejected: None,
    })
}

/// Candidate ids: `c1`, `c2`, … (commands).
const PREFIX: char = 'c';

/// The question: what the project is, and each candidate with the prose line that
/// introduces it in the documentation.
pub fn request(project: &Project, repo: &RepoView, offered: &[StartCandidate]) -> ModelRequest {
    let mut user = crate::models::describe_project(project);
    let files: Vec<&str> = repo
        .files()
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| project.path == "." || p.starts_with(&format!("{}/", project.path)))
        .take(40)
        .collect();
    user.push_str(&format!("Files: {}\n", crate::models::or_none(&files.join(", "))));
    user.push_str("Commands its documentation gives:\n");
    for (i, c) in offered.iter().enumerate() {
        let intro = introduction(repo, &c.command.evidence.file, c.command.evidence.line);
        user.push_str(&format!("{}: {}", choice_id(PREFIX, i), c.command.display));
        match intro {
            Some(intro) => user.push_str(&format!("   (after \"{intro}\" in {})\n", c.command.evidence.file)),
            None => user.push_str(&format!("   (in {})\n", c.command.evidence.file)),
        }
    }
    user.push_str("Which command starts the application (a server or a long-running process)?");
    crate::models::choice_request(
        "You are the Detection agent of repo-run. You choose, among commands taken from a project's documentation, \
         the one that starts its application. Answer JSON: the id of the command and a short reason.",
        user,
        PREFIX,
        offered.len(),
    )
}

/// The nearest prose line above a documented command (`Run it with:`), trimmed to a
/// sentence's length.
fn introduction(repo: &RepoView, file: &str, line: Option<u32>) -> Option<String> {
    let line = line? as usize;
    let text = repo.read_text(file)?;
    let lines: Vec<&str> = text.content.lines().collect();
    lines[..line.saturating_sub(1).min(lines.len())]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("```")
                && !l.starts_with("~~~")
                && !l.starts_with("$ ")
                && !lines.iter().any(|raw| raw.trim() == *l && (raw.starts_with("    ") || raw.starts_with('\t')))
        })
        .map(|l| l.trim_start_matches('#').trim().chars().take(100).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::models::ModelReply;

    /// A stand-in for the engine that answers one fixed JSON and records the question: the
    /// real model's path is tested end to end in the CLI (`up` on a fixture).
    struct FakeModelAnswering(serde_json::Value, Mutex<Vec<ModelRequest>>);

    impl Models for FakeModelAnswering {
        fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
            assert_eq!(stage, Stage::Detection);
            self.1.lock().unwrap().push(request.clone());
            ModelReply { model: "fake.gguf".into(), json: Ok(self.0.clone()), elapsed_ms: 7 }
        }
    }

    fn repo_with_readme() -> (tempfile::TempDir, RepoView) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/pinger")).unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = \"pinger\"\n").unwrap();
        std::fs::write(dir.path().join("src/pinger/__init__.py"), "").unwrap();
        std::fs::write(dir.path().join("src/pinger/__main__.py"), "print('hi')\n").unwrap();
        std::fs::write(
            dir.path().join("README.md"),
            "# pinger\n\nTest it:\n\n    python -m pytest\n\nRun it with:\n\n    python -m pinger serve 8000\n\n\
             Or `python -m nothere`:\n\n    python -m nothere\n",
        )
        .unwrap();
        let repo = RepoView::open(dir.path()).unwrap();
        (dir, repo)
    }

    #[test]
    fn only_validated_candidates_are_offered_and_the_choice_is_recorded() {
        let (_dir, repo) = repo_with_readme();
        let mut detection = crate::detection::detect(&repo);
        let project = &detection.projects[0];
        assert!(project.start.is_none());
        let offered: Vec<&str> = project.start_candidates.iter().map(|c| c.command.display.as_str()).collect();
        assert_eq!(offered, ["python -m pinger serve 8000"], "pytest is a tool and `nothere` does not exist");
        assert_eq!(project.start_candidates[0].command.evidence.line, Some(9));

        let models = FakeModelAnswering(serde_json::json!({"choice": "c1", "reason": "it serves"}), Mutex::default());
        choose_starts(&mut detection, &repo, &models, &[], &mut |_| {});
        let asked = models.1.lock().unwrap();
        assert!(
            asked[0].user.contains("c1: python -m pinger serve 8000   (after \"Run it with:\" in README.md)"),
            "{}",
            asked[0].user
        );
        assert_eq!(asked[0].schema["properties"]["choice"]["enum"], serde_json::json!(["c1"]));
        let project = &detection.projects[0];
        assert_eq!(project.start.as_ref().unwrap().display, "python -m pinger serve 8000");
        assert_eq!(project.role, ProjectRole::App);
        assert_eq!(project.ports[0].port, 8000);
        let d = &project.decisions[0];
        assert_eq!(
            (d.question.as_str(), d.agent.as_str(), d.model.as_str(), d.latency_ms),
            ("start", "detection", "fake.gguf", 7)
        );
        assert_eq!(d.validated, "module pinger is src/pinger/__main__.py");
    }

    #[test]
    fn an_answer_outside_the_candidates_changes_nothing_and_says_why() {
        let (_dir, repo) = repo_with_readme();
        let mut detection = crate::detection::detect(&repo);
        let models = FakeModelAnswering(serde_json::json!({"choice": "c9", "reason": "?"}), Mutex::default());
        choose_starts(&mut detection, &repo, &models, &[], &mut |_| {});
        let project = &detection.projects[0];
        assert!(project.start.is_none() && project.decisions.is_empty());
        assert!(
            detection.warnings.iter().any(|w| w.message.contains("\"c9\" is not one of the candidates")),
            "{:?}",
            detection.warnings
        );
    }

    #[test]
    fn a_rejected_answer_is_not_offered_again_and_the_question_moves_down_the_chain() {
        let (dir, _) = repo_with_readme();
        std::fs::write(dir.path().join("Makefile"), "run:\n\tpython -m pinger serve 8000\n").unwrap();
        let repo = RepoView::open(dir.path()).unwrap();
        let mut detection = crate::detection::detect(&repo);
        assert_eq!(detection.projects[0].start_candidates.len(), 2);
        let first = ModelDecision {
            question: "start".into(),
            answer: "python -m pinger serve 8000".into(),
            agent: "detection".into(),
            model: "first.gguf".into(),
            latency_ms: 1,
            candidates: 2,
            reason: String::new(),
            validated: String::new(),
            rejected: Some("it exited with code 1 before the app was healthy".into()),
        };
        let models = FakeModelAnswering(serde_json::json!({"choice": "c1", "reason": "left"}), Mutex::default());
        choose_starts(&mut detection, &repo, &models, &[(".".into(), first.clone())], &mut |_| {});
        let asked = models.1.lock().unwrap();
        assert_eq!(asked[0].escalation, 1, "the next model of the chain is asked");
        assert!(!asked[0].user.contains("pinger serve"), "the rejected command is not offered: {}", asked[0].user);
        let project = &detection.projects[0];
        assert_eq!(project.start.as_ref().unwrap().display, "make run");
        assert_eq!(project.decisions.len(), 2, "the rejection stays on record");
        assert_eq!(project.decisions[0], first);
        assert_eq!(project.decisions[1].candidates, 1);

        // Every candidate rejected: nothing is asked, and the question stays open.
        let second = ModelDecision { answer: "make run".into(), ..first.clone() };
        let mut detection = crate::detection::detect(&repo);
        let models = FakeModelAnswering(serde_json::json!({"choice": "c1", "reason": ""}), Mutex::default());
        choose_starts(&mut detection, &repo, &models, &[(".".into(), first), (".".into(), second)], &mut |_| {});
        assert!(models.1.lock().unwrap().is_empty());
        assert!(detection.projects[0].start.is_none());
        assert!(detection.warnings.iter().any(|w| w.message.contains("every documented start command was tried")));
    }
}
