//! Test helpers: detection over a directory written from a list of files, or over a fixture.

use std::path::{Path, PathBuf};

use crate::plan::{Detection, Project};
use crate::repo::RepoView;

/// `tests/fixtures/<name>` in the workspace.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

/// Detection over a committed fixture.
pub fn detect_fixture(name: &str) -> Detection {
    let dir = fixture_dir(name);
    super::detect(&RepoView::open(&dir).unwrap_or_else(|e| panic!("fixture {name}: {e}")))
}

/// Detection over a temporary directory holding `files` (`(path, contents)`).
pub fn detect_files(files: &[(&str, &str)]) -> Detection {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }
    super::detect(&RepoView::open(dir.path()).unwrap())
}

/// The project at `path` (`.` for the root); panics with the list of projects if absent.
pub fn project<'a>(d: &'a Detection, path: &str) -> &'a Project {
    d.projects.iter().find(|p| p.path == path).unwrap_or_else(|| {
        panic!("no project at {path}; found {:?}", d.projects.iter().map(|p| &p.path).collect::<Vec<_>>())
    })
}

/// Fragments that end in the middle of a construct (shared by the providers' never-panic
/// tests), with multi-byte characters where
/// byte offsets could split them.
pub const ODD: &[&str] = &[
    "",
    "\\",
    "é",
    "\"",
    "'",
    "${",
    "${}",
    "$",
    "<",
    "<!--",
    "<![CDATA[",
    "</>",
    "<a",
    "ENV[\"",
    "ENV.fetch('é",
    "gem",
    "gem é",
    "group",
    "end",
    "FROM",
    "CMD [",
    "EXPOSE $",
    "a=\"é",
    "web:",
    ":",
    "-p",
    "--port=",
    "port ENV.fetch(",
    "set :port,",
    "${é:é}",
    "<<",
    "RUN <<",
    "日本語",
    " do",
    "#",
    "=",
    "'é",
    "\"\"\"",
];

pub fn odd_inputs() -> impl Iterator<Item = String> {
    ODD.iter()
        .flat_map(|a| ODD.iter().flat_map(move |b| [format!("{a}{b}"), format!("{a}\n{b}"), format!("{a} {b}\n")]))
}
