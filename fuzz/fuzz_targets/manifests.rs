//! Random bytes as a manifest, through the whole of detection: the first byte picks which
//! manifest, the rest is its content. Detection must never panic, whatever the bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use repo_run_agents::{RepoView, detection};

const NAMES: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "Cargo.toml",
    "docker-compose.yml",
    "requirements.txt",
    "go.mod",
    "Gemfile",
    "composer.json",
    "pom.xml",
    "build.gradle.kts",
    "Procfile",
    "Dockerfile",
    ".env.example",
    "Pipfile",
    "prisma/schema.prisma",
    "config/database.yml",
    ".nvmrc",
    ".tool-versions",
    "rust-toolchain.toml",
    "app.py",
    "server.js",
    "main.go",
    "src/main.rs",
];

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, content)) = data.split_first() else { return };
    let name = NAMES[pick as usize % NAMES.len()];
    let dir = scratch().path();
    let _ = std::fs::remove_dir_all(dir);
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A manifest beside the fuzzed file, so the fuzzed file's project exists.
    std::fs::write(dir.join("package.json"), b"{}").unwrap();
    std::fs::write(&path, content).unwrap();
    let repo = RepoView::open(dir).expect("open scratch dir");
    let detection = detection::detect(&repo);
    let requirements = repo_run_agents::requirements::resolve(
        &detection,
        &repo,
        &repo_run_agents::requirements::Host::default(),
    );
    let _ = (detection, requirements);
});
