//! `repo-run eval` through the real engine with the small model, on the suite's own cases and
//! on cases written here: the harness must report what the model really chose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use repo_run_inference::table::SMOLLM2_135M;
use serde_json::Value;

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/eval/detection")
}

fn requirements_suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/eval/requirements")
}

fn eval(args: &[&str], data_dir: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_repo-run"))
        .arg("eval")
        .args(args)
        .env("REPO_RUN_DATA_DIR", data_dir)
        .env("REPO_RUN_MODEL_PROFILE", "local")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    eprintln!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn every_case_of_the_suite_is_an_open_question_with_its_answer_among_the_candidates() {
    let data = tempfile::tempdir().unwrap();
    let out = eval(&["--cases", suite().to_str().unwrap(), "--baseline-only", "--json"], data.path());
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = report["cases"].as_u64().unwrap();
    assert!(cases >= 20, "the issue asks for twenty cases at least: {cases}");
    assert!(report["per_case"].as_array().unwrap().iter().all(|c| c["candidates"].as_u64().unwrap() >= 2));
    assert_eq!(report["questions"], cases, "one start question per case");
    let baseline = &report["baseline"];
    assert_eq!(baseline["accuracy"].as_f64().unwrap(), baseline["correct"].as_f64().unwrap() / cases as f64);
    assert!(!data.path().join("eval-history.jsonl").exists(), "no model, no history");
}

#[test]
fn the_small_model_answers_three_cases_and_the_history_records_it() {
    let data = tempfile::tempdir().unwrap();
    let out =
        eval(&["--cases", suite().to_str().unwrap(), "--limit", "3", "--model", SMOLLM2_135M, "--json"], data.path());
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cases"], 3);
    let model = &report["models"][0];
    assert_eq!(model["model"], SMOLLM2_135M);
    let mut correct = 0;
    for case in report["per_case"].as_array().unwrap() {
        let question = &case["questions"][0];
        let answer = &question["answers"][0];
        let chose = answer["chose"].as_str().unwrap_or_else(|| panic!("the grammar forces an answer: {answer:#}"));
        assert_eq!(answer["correct"].as_bool().unwrap(), chose == question["expected"], "{case:#}");
        let call = &case["calls"][0];
        assert!(call["latency_ms"].as_u64().unwrap() > 0 && call["prompt_tokens"].as_u64().unwrap() > 0);
        correct += usize::from(answer["correct"].as_bool().unwrap());
    }
    assert_eq!(model["correct"].as_u64().unwrap() as usize, correct);
    assert_eq!(model["failed"], 0);

    let history = std::fs::read_to_string(data.path().join("eval-history.jsonl")).unwrap();
    let line: Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!((line["agent"].as_str(), line["model"].as_str()), (Some("detection"), Some(SMOLLM2_135M)));
    assert_eq!(line["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(line["correct"].as_u64().unwrap() as usize, correct);
}

#[test]
fn a_case_whose_answer_is_not_a_candidate_is_an_error_naming_it() {
    let cases = tempfile::tempdir().unwrap();
    std::fs::write(
        cases.path().join("wrong.toml"),
        "description = \"d\"\nexpected = \"python -m app web\"\n[files]\n\"README.md\" = \"\"\"\n$ python -m app serve\n$ python -m app reset\n\"\"\"\n\"app/__main__.py\" = \"\"\n\"pyproject.toml\" = \"[project]\\nname = 'app'\\n\"\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = eval(&["--cases", cases.path().to_str().unwrap(), "--baseline-only"], data.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong.toml: `expected` (python -m app web) is not among the candidates"), "{err}");
    assert!(err.contains("python -m app serve | python -m app reset"), "{err}");

    std::fs::write(cases.path().join("wrong.toml"), "description = \"d\"\nexpected = [\n").unwrap();
    let out = eval(&["--cases", cases.path().to_str().unwrap(), "--baseline-only"], data.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong.toml:2"), "a syntax error names the file and line: {err}");
}

#[test]
fn every_requirements_case_labels_open_variables_with_classes_offered() {
    let data = tempfile::tempdir().unwrap();
    let out = eval(
        &["--agent", "requirements", "--cases", requirements_suite().to_str().unwrap(), "--baseline-only", "--json"],
        data.path(),
    );
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["cases"].as_u64().unwrap() >= 20, "the issue asks for twenty cases at least");
    let questions: Vec<&Value> =
        report["per_case"].as_array().unwrap().iter().flat_map(|c| c["questions"].as_array().unwrap()).collect();
    assert_eq!(report["questions"].as_u64().unwrap() as usize, questions.len());
    // Without a model every open variable keeps the rules' answer: the user supplies it.
    assert!(questions.iter().all(|q| q["baseline"] == "user_credential"));
    let right = questions.iter().filter(|q| q["expected"] == "user_credential").count();
    assert_eq!(report["baseline"]["correct"].as_u64().unwrap() as usize, right);
    for class in ["generated_secret", "port", "optional", "user_credential"] {
        assert!(questions.iter().filter(|q| q["expected"] == class).count() >= 5, "{class} is labelled too rarely");
    }
    assert!(questions.iter().filter(|q| q["expected"].as_str().unwrap().starts_with("service:")).count() >= 5);
}

#[test]
fn the_small_model_classifies_variables_and_validation_is_counted() {
    let data = tempfile::tempdir().unwrap();
    let out = eval(
        &[
            "--agent",
            "requirements",
            "--cases",
            requirements_suite().to_str().unwrap(),
            "--limit",
            "2",
            "--model",
            SMOLLM2_135M,
            "--json",
        ],
        data.path(),
    );
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = &report["models"][0];
    assert_eq!(model["failed"], 0);
    let mut correct = 0;
    let mut refused = 0;
    for case in report["per_case"].as_array().unwrap() {
        assert!(case["calls"][0]["generated_tokens"].as_u64().unwrap() > 0, "{case:#}");
        for q in case["questions"].as_array().unwrap() {
            let a = &q["answers"][0];
            let chose = a["chose"].as_str().unwrap_or_else(|| panic!("the grammar forces a class: {q:#}"));
            assert_eq!(a["correct"].as_bool().unwrap(), chose == q["expected"], "{q:#}");
            correct += usize::from(a["correct"].as_bool().unwrap());
            refused += usize::from(a["refused"].as_bool().unwrap());
            if chose == "user_credential" || chose == "optional" {
                assert_eq!(a["refused"], false, "answers that change nothing need no support: {q:#}");
            }
        }
    }
    assert_eq!(model["correct"].as_u64().unwrap() as usize, correct);
    assert_eq!(model["refused"].as_u64().unwrap() as usize, refused);
    let history = std::fs::read_to_string(data.path().join("eval-history.jsonl")).unwrap();
    let line: Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(line["agent"], "requirements");
    assert_eq!(line["cases"], report["questions"], "accuracy is over the labelled answers");
}

#[test]
fn a_requirements_case_labelling_a_variable_rules_decide_is_an_error_naming_it() {
    let cases = tempfile::tempdir().unwrap();
    let write = |expected: &str| {
        let case = format!(
            "description = \"d\"\n[expected]\n{expected}\n[files]\n\"requirements.txt\" = \"flask\\n\"\n\
             \"app.py\" = \"import os\\nA = os.environ['STRIPE_SECRET_KEY']\\nB = os.environ['BROKER']\\n\"\n"
        );
        std::fs::write(cases.path().join("decided.toml"), case).unwrap();
    };
    let data = tempfile::tempdir().unwrap();
    let run = || {
        let out = eval(
            &["--agent", "requirements", "--cases", cases.path().to_str().unwrap(), "--baseline-only"],
            data.path(),
        );
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    write("BROKER = \"user_credential\"\nSTRIPE_SECRET_KEY = \"user_credential\"");
    let err = run();
    assert!(err.contains("decided.toml: STRIPE_SECRET_KEY is not an open variable of . (the rules say User)"), "{err}");
    write("BROKER = \"service:redis\"");
    let err = run();
    assert!(err.contains("decided.toml: BROKER: `service:redis` is not one of the classes offered"), "{err}");
}

/// `eval --agent AGENT --baseline-only` on one case written as `NAME.toml`: it must fail
/// (exit 1), and its error is returned.
fn refused_case(agent: &str, name: &str, case: &str) -> String {
    let cases = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(cases.path().join(format!("{name}.toml")), case).unwrap();
    let out = eval(&["--agent", agent, "--cases", cases.path().to_str().unwrap(), "--baseline-only"], data.path());
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_health_case_the_rules_already_read_or_without_a_log_is_an_error_naming_it() {
    let run = |case: &str| refused_case("health", "read", case);
    let err = run(
        "description = \"d\"\nexpected = \"ready\"\ncommand = \"node a.js\"\nlog = \"Server listening on :3000\"\n",
    );
    assert!(err.contains("read.toml: the rules read this log already (\"listening on\")"), "{err}");
    let err = run("description = \"d\"\nexpected = \"ready\"\ncommand = \"node a.js\"\n");
    assert!(err.contains("read.toml: a Health case gives `command` and `log`"), "{err}");
    let err = run("description = \"d\"\nexpected = \"up\"\ncommand = \"node a.js\"\nlog = \"x\"\n");
    assert!(err.contains("read.toml: `expected` is \"ready\", \"starting\" or \"fatal\""), "{err}");
}

fn fixer_suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/eval/fixer")
}

#[test]
fn every_fixer_case_is_evidence_with_a_repair_validation_accepts() {
    let data = tempfile::tempdir().unwrap();
    let out = eval(
        &["--agent", "fixer", "--cases", fixer_suite().to_str().unwrap(), "--baseline-only", "--json"],
        data.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["cases"].as_u64().unwrap() >= 20, "the issue asks for twenty cases at least");
    let questions: Vec<&Value> =
        report["per_case"].as_array().unwrap().iter().flat_map(|c| c["questions"].as_array().unwrap()).collect();
    let mut kinds = std::collections::BTreeSet::new();
    for q in &questions {
        let expected: Value = serde_json::from_str(q["expected"].as_str().unwrap()).unwrap();
        kinds.insert(expected["action"].as_str().unwrap().to_owned());
        // The baseline is the rules' action on the same evidence, or none.
        let baseline = q["baseline"].as_str().unwrap();
        assert!(baseline == "none" || serde_json::from_str::<Value>(baseline).unwrap()["action"].is_string(), "{q:#}");
    }
    assert!(kinds.len() >= 6, "the cases cover few kinds of repair: {kinds:?}");
    let right = questions.iter().filter(|q| q["baseline_correct"] == true).count();
    assert_eq!(report["baseline"]["correct"].as_u64().unwrap() as usize, right);
}

#[test]
fn the_small_model_proposes_a_repair_and_its_fields_are_what_is_judged() {
    let data = tempfile::tempdir().unwrap();
    let suite = fixer_suite();
    let out = eval(
        &["--agent", "fixer", "--cases", suite.to_str().unwrap(), "--limit", "2", "--model", SMOLLM2_135M, "--json"],
        data.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["models"][0]["failed"], 0);
    for case in report["per_case"].as_array().unwrap() {
        let q = &case["questions"][0];
        let a = &q["answers"][0];
        // The grammar forces one action of the schema.
        let chose: Value = serde_json::from_str(a["chose"].as_str().unwrap()).unwrap();
        let expected: Value = serde_json::from_str(q["expected"].as_str().unwrap()).unwrap();
        let fields_match = expected.as_object().unwrap().iter().all(|(k, v)| match (v, &chose[k]) {
            (Value::String(e), Value::String(c)) => e.trim() == c.trim(),
            (e, c) if e.is_object() => e.as_object().unwrap().iter().all(|(k2, v2)| &c[k2] == v2),
            (e, c) => e == c,
        });
        assert_eq!(a["correct"].as_bool().unwrap(), fields_match, "{q:#}");
    }
    let history = std::fs::read_to_string(data.path().join("eval-history.jsonl")).unwrap();
    assert!(history.contains("\"agent\":\"fixer\""), "{history}");
}

#[test]
fn a_fixer_case_validation_would_refuse_or_without_evidence_is_an_error_naming_it() {
    let run = |case: &str| refused_case("fixer", "bad", case);
    let files =
        "[files]\n\"requirements.txt\" = \"flask\\n\"\n\"app.py\" = \"import os\\nK = os.environ['SECRET_KEY']\\n\"\n";
    let failure = "[failure]\nstage = \"runner\"\nstep = \"start\"\ncommand = \"python app.py\"\nexit = 1\nlog = \"KeyError: 'SECRET_KEY'\"\n";
    let err = run(&format!(
        "description = \"d\"\nexpected = {{ action = \"set_env\", project = \".\", name = \"API_TOKEN\" }}\n{failure}{files}"
    ));
    assert!(
        err.contains("bad.toml: validation would refuse the labelled repair: the code of . does not read API_TOKEN"),
        "{err}"
    );
    let err = run(&format!("description = \"d\"\nexpected = {{ action = \"run_shell\" }}\n{failure}{files}"));
    assert!(err.contains("bad.toml: `expected.action` is one of set_env,"), "{err}");
    let err =
        run(&format!("description = \"d\"\nexpected = {{ action = \"set_env\", name = \"SECRET_KEY\" }}\n{files}"));
    assert!(err.contains("bad.toml: a Fixer case gives `[failure]`"), "{err}");
}
