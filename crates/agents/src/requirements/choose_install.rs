//! The Setup model's question: which requirements file pip installs, when a project has no
//! `requirements.txt` and the rules could not tell which of several runs the app
//! ([`super::requirement_files`]).
//!
//! The model chooses among the files (a grammar allows only their ids) after reading their
//! first lines. An answer counts only when the chosen file installs every framework the project
//! was detected with from a requirements file (`requirements/ml.txt` does not install Django);
//! a refused one goes one model down the chain, and past its end the rules' pick stays. The
//! answer rewrites the pip step and is recorded in [`ProjectRequirements::decisions`].

use crate::models::{ModelRequest, Models, choice_id, choice_reason, chosen_index};
use crate::pipeline::Stage;
use crate::plan::{ModelDecision, Project, ProjectRequirements};
use crate::repo::RepoView;

use super::requirement_files::{head, installs_frameworks, package_count};

/// The agent row that answers, as recorded in [`ModelDecision::agent`].
const AGENT: &str = "setup";

/// The question's name in [`ModelDecision::question`].
pub const QUESTION: &str = "install requirements";

/// Questions per project at most: the row's model, its fallback, one more the router adds.
const MAX_ASKS: usize = 3;

/// Lines of each file shown to the model.
const HEAD_LINES: usize = 12;

/// Asks the Setup model for every project with open requirements files, all at once (the
/// engine decodes concurrent questions in one batch); `asking` hears of each project before.
pub fn choose(
    requirements: &mut [ProjectRequirements],
    projects: &[Project],
    repo: &RepoView,
    models: &dyn Models,
    asking: &mut dyn FnMut(&str),
) {
    let open: Vec<(&mut ProjectRequirements, &Project)> = requirements
        .iter_mut()
        .filter(|r| r.install_candidates.len() > 1)
        .filter_map(|r| {
            let project = projects.iter().find(|p| p.path == r.project)?;
            Some((r, project))
        })
        .collect();
    for (req, _) in &open {
        asking(&req.project);
    }
    std::thread::scope(|s| {
        for (req, project) in open {
            s.spawn(move || choose_one(req, project, repo, models));
        }
    });
}

/// One project's question, escalating past refused answers.
fn choose_one(req: &mut ProjectRequirements, project: &Project, repo: &RepoView, models: &dyn Models) {
    let candidates = req.install_candidates.clone();
    let rule_file = candidates[0].clone();
    for escalation in 0..MAX_ASKS {
        let mut request = request(project, repo, &candidates);
        request.escalation = escalation;
        let reply = models.ask(Stage::Setup, &request);
        let Ok(json) = reply.json else { return };
        let Some(chosen) = chosen_index(&json, PREFIX, candidates.len()).map(|i| candidates[i].clone()) else {
            return;
        };
        let reason = choice_reason(&json);
        let mut decision = ModelDecision {
            question: QUESTION.into(),
            answer: chosen.clone(),
            agent: AGENT.into(),
            model: reply.model,
            latency_ms: reply.elapsed_ms,
            candidates: candidates.len(),
            reason,
            validated: String::new(),
            rejected: None,
        };
        match validate(repo, project, &chosen) {
            Ok(validated) => {
                decision.validated = validated;
                if chosen != rule_file {
                    rewrite(req, &rule_file, &chosen);
                }
                req.decisions.push(decision);
                return;
            }
            Err(why) => {
                decision.rejected = Some(why);
                req.decisions.push(decision);
            }
        }
    }
}

/// The chosen file must install what the project was detected with, and something at all.
fn validate(repo: &RepoView, project: &Project, file: &str) -> Result<String, String> {
    installs_frameworks(repo, project, file)?;
    let count = package_count(repo, &project.path, file);
    if count == 0 {
        return Err(format!("{file} lists no packages"));
    }
    let frameworks: Vec<String> = project.frameworks.iter().map(|f| format!("{:?}", f.value).to_lowercase()).collect();
    Ok(if frameworks.is_empty() {
        format!("{file} lists {count} packages, its includes counted")
    } else {
        format!("{file} installs {} ({count} packages, its includes counted)", frameworks.join(", "))
    })
}

/// The pip step installs `chosen` instead of `rule_file`.
fn rewrite(req: &mut ProjectRequirements, rule_file: &str, chosen: &str) {
    let file_path = |f: &str| if req.project == "." { f.to_owned() } else { format!("{}/{f}", req.project) };
    let (rule_path, chosen_path) = (file_path(rule_file), file_path(chosen));
    for step in &mut req.install {
        let installs_rule_file = step.command.argv.windows(2).any(|w| w[0] == "-r" && w[1] == rule_file);
        if !installs_rule_file && step.command.evidence.file != rule_path {
            continue;
        }
        for arg in &mut step.command.argv {
            if arg == rule_file {
                *arg = chosen.to_owned();
            }
        }
        step.command.display = step.command.display.replace(rule_file, chosen);
        step.command.evidence.file = chosen_path.clone();
        if installs_rule_file {
            step.reason = format!("no requirements.txt: the Setup model chose {chosen} among the requirements files");
        }
    }
}

/// Candidate ids: `f1`, `f2`, … (files).
const PREFIX: char = 'f';

/// The question: the project, and each file's first lines.
pub fn request(project: &Project, repo: &RepoView, files: &[String]) -> ModelRequest {
    let mut user = crate::models::describe_project(project);
    user.push_str("The project has no requirements.txt. Its requirements files:\n");
    for (i, file) in files.iter().enumerate() {
        user.push_str(&format!(
            "{}: {file}\n{}\n",
            choice_id(PREFIX, i),
            indent(&head(repo, &project.path, file, HEAD_LINES))
        ));
    }
    user.push_str(
        "repo-run installs one of them into a virtualenv and starts the app for local development. Which file \
         installs what the app needs to run?",
    );
    crate::models::choice_request(
        "You are the Setup agent of repo-run. You choose which of a Python project's requirements files to install \
         so that its application runs. Answer JSON: the id of the file and a short reason.",
        user,
        PREFIX,
        files.len(),
    )
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::models::ModelReply;
    use crate::requirements::testing::detect;

    /// A stand-in for the engine answering the given choices in turn (the real model's path
    /// is tested end to end through `plan` in the CLI's tests).
    struct FakeModelAnswering(Mutex<Vec<&'static str>>);

    impl Models for FakeModelAnswering {
        fn ask(&self, stage: Stage, request: &ModelRequest) -> ModelReply {
            assert_eq!(stage, Stage::Setup);
            assert!(request.user.contains("f1: requirements/worker.txt\n    -r web.txt"), "{}", request.user);
            let choice = self.0.lock().unwrap().remove(0);
            ModelReply {
                model: format!("fake-{}.gguf", request.escalation),
                json: Ok(serde_json::json!({"choice": choice, "reason": "r"})),
                elapsed_ms: 3,
            }
        }
    }

    const FILES: &[(&str, &str)] = &[
        ("manage.py", "import django\n"),
        ("requirements/web.txt", "django\ngunicorn\n"),
        ("requirements/ml.txt", "numpy\nscipy\npandas\n"),
        ("requirements/worker.txt", "-r web.txt\ncelery\n"),
    ];

    fn resolved() -> (crate::requirements::testing::Repo, crate::plan::Detection, crate::plan::Requirements) {
        let (repo, detection) = detect(FILES);
        let requirements = crate::requirements::resolve(&detection, &repo.view, &crate::requirements::Host::default());
        (repo, detection, requirements)
    }

    #[test]
    fn a_refused_answer_escalates_and_a_valid_one_rewrites_the_step() {
        let (repo, detection, mut requirements) = resolved();
        // web.txt is included by worker.txt: the candidates are worker.txt and ml.txt.
        assert_eq!(requirements.projects[0].install_candidates, ["requirements/worker.txt", "requirements/ml.txt"]);
        let models = FakeModelAnswering(Mutex::new(vec!["f2", "f1"]));
        let mut asked = Vec::new();
        choose(&mut requirements.projects, &detection.projects, &repo.view, &models, &mut |p| asked.push(p.to_owned()));
        assert_eq!(asked, ["."]);
        let p = &requirements.projects[0];
        let decisions: Vec<(&str, Option<&str>)> =
            p.decisions.iter().map(|d| (d.answer.as_str(), d.rejected.as_deref())).collect();
        assert_eq!(decisions.len(), 2);
        assert_eq!(decisions[0].0, "requirements/ml.txt");
        assert!(decisions[0].1.unwrap().contains("does not install django"), "{decisions:?}");
        assert_eq!(decisions[1], ("requirements/worker.txt", None));
        assert_eq!(p.decisions[1].model, "fake-1.gguf");
        assert!(p.decisions[1].validated.contains("installs django"), "{}", p.decisions[1].validated);
        assert_eq!(p.install[1].command.display, ".venv/bin/pip install -r requirements/worker.txt");
    }

    #[test]
    fn the_chosen_file_replaces_the_rules_pick() {
        let (repo, detection) = detect(&[
            ("app.py", "import flask\n"),
            ("requirements/web.txt", "flask\n"),
            ("requirements/api.txt", "flask\nflask-restful\n"),
        ]);
        let mut requirements =
            crate::requirements::resolve(&detection, &repo.view, &crate::requirements::Host::default());
        let p = &requirements.projects[0];
        assert_eq!(p.install_candidates, ["requirements/api.txt", "requirements/web.txt"], "{:?}", p.install);
        assert_eq!(p.install[1].command.display, ".venv/bin/pip install -r requirements/api.txt");
        struct Second;
        impl Models for Second {
            fn ask(&self, _: Stage, _: &ModelRequest) -> ModelReply {
                ModelReply {
                    model: "m".into(),
                    json: Ok(serde_json::json!({"choice": "f2", "reason": ""})),
                    elapsed_ms: 1,
                }
            }
        }
        choose(&mut requirements.projects, &detection.projects, &repo.view, &Second, &mut |_| {});
        let p = &requirements.projects[0];
        assert!(p.decisions.iter().all(|d| d.rejected.is_none()), "{:?}", p.decisions);
        assert_eq!(p.install[1].command.argv, [".venv/bin/pip", "install", "-r", "requirements/web.txt"]);
        assert_eq!(p.install[1].command.evidence.file, "requirements/web.txt");
        assert_eq!(p.install[0].command.evidence.file, "requirements/web.txt");
        assert_eq!(p.decisions[0].answer, "requirements/web.txt");
    }
}
