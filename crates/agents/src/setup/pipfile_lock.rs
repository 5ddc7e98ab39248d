//! Pipfile.lock as pip reads it: for a Python older than pipenv supports, the plan installs the
//! lock with the venv's pip (`pip install --no-deps --require-hashes -r Pipfile.lock`), and this
//! turns the lock's `default` section into a requirements file in `.repo-run/` (one
//! `name[extras]==version ; markers --hash=sha256:…` line per package) and names that file
//! instead. The user's Pipfile.lock is only read.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::workdir::WorkDir;

/// `argv` with each `-r …/Pipfile.lock` replaced by its export under `.repo-run/`, which is
/// written now; `argv` unchanged when it names no Pipfile.lock.
pub(super) fn export_argv(
    argv: &[String],
    dir: &Path,
    workdir: &WorkDir,
    project: &str,
) -> Result<Vec<String>, String> {
    let mut out = argv.to_vec();
    for i in 0..out.len().saturating_sub(1) {
        let named = &out[i + 1];
        if !matches!(out[i].as_str(), "-r" | "--requirement") || !named.ends_with("Pipfile.lock") {
            continue;
        }
        let lock = dir.join(named);
        let text = std::fs::read_to_string(&lock).map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
        let requirements = requirements(&text).map_err(|e| format!("{}: {e}", lock.display()))?;
        let export = export_file(workdir, project);
        let written = export
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&export, requirements));
        written.map_err(|e| format!("cannot write {}: {e}", export.display()))?;
        out[i + 1] = export.to_string_lossy().into_owned();
    }
    Ok(out)
}

/// `.repo-run/pipfile-lock/<project>.txt` (`root` for the repository root).
fn export_file(workdir: &WorkDir, project: &str) -> PathBuf {
    let stem = if project == "." || project.is_empty() { "root".to_owned() } else { project.replace('/', "-") };
    workdir.path().join("pipfile-lock").join(format!("{stem}.txt"))
}

/// The requirements text of a Pipfile.lock's `default` section (what `pipenv install --deploy`
/// installs), in name order; an entry pip cannot check by hash (a path, a VCS URL, no hashes) is
/// an error naming it, as `--require-hashes` would refuse it anyway.
fn requirements(lock: &str) -> Result<String, String> {
    let lock: Value = serde_json::from_str(lock).map_err(|e| format!("line {}: malformed JSON: {e}", e.line()))?;
    let Some(default) = lock.get("default").and_then(Value::as_object) else {
        return Err("no `default` section (not a Pipfile.lock?)".into());
    };
    let mut out = String::from("# Exported by repo-run from Pipfile.lock's default packages, with their hashes.\n");
    let mut names: Vec<&String> = default.keys().collect();
    names.sort();
    for name in names {
        let entry = &default[name.as_str()];
        let version = entry.get("version").and_then(Value::as_str);
        let hashes: Vec<&str> =
            entry.get("hashes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let (Some(version), false) = (version, hashes.is_empty()) else {
            return Err(format!(
                "`{name}` has no pinned version with hashes (a path or VCS dependency): pip cannot install it \
                 by hash; install the project with a pipenv that supports its Python"
            ));
        };
        let extras: Vec<&str> =
            entry.get("extras").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        out.push_str(name);
        if !extras.is_empty() {
            out.push_str(&format!("[{}]", extras.join(",")));
        }
        out.push_str(version);
        if let Some(markers) = entry.get("markers").and_then(Value::as_str) {
            out.push_str(&format!(" ; {markers}"));
        }
        for hash in hashes {
            out.push_str(&format!(" \\\n    --hash={hash}"));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"{
        "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6},
        "default": {
            "werkzeug": {"hashes": ["sha256:aa", "sha256:bb"], "markers": "python_version >= '2.7'", "version": "==1.0.1"},
            "flask": {"extras": ["dotenv"], "hashes": ["sha256:cc"], "index": "pypi", "version": "==1.0.2"}
        },
        "develop": {"pytest": {"hashes": ["sha256:dd"], "version": "==7.0.0"}}
    }"#;

    #[test]
    fn default_packages_with_extras_markers_and_hashes() {
        let text = requirements(LOCK).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "flask[dotenv]==1.0.2 \\",
                "    --hash=sha256:cc",
                "werkzeug==1.0.1 ; python_version >= '2.7' \\",
                "    --hash=sha256:aa \\",
                "    --hash=sha256:bb",
            ]
        );
        assert!(!text.contains("pytest"), "develop packages are not installed, as with pipenv --deploy");
    }

    #[test]
    fn what_pip_cannot_check_by_hash_is_an_error_naming_it() {
        let vcs = r#"{"default": {"mylib": {"git": "https://example.com/mylib.git", "ref": "abc"}}}"#;
        assert!(requirements(vcs).unwrap_err().contains("`mylib` has no pinned version with hashes"));
        assert!(requirements("{\n  \"default\": ").unwrap_err().starts_with("line "));
    }

    #[test]
    fn the_argv_names_the_export() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Pipfile.lock"), LOCK).unwrap();
        let workdir = WorkDir::new(dir.path());
        let argv: Vec<String> = [".venv/bin/pip", "install", "--no-deps", "--require-hashes", "-r", "Pipfile.lock"]
            .map(String::from)
            .into();
        let out = export_argv(&argv, dir.path(), &workdir, ".").unwrap();
        let export = dir.path().join(".repo-run/pipfile-lock/root.txt");
        assert_eq!(out[5], export.to_string_lossy());
        assert!(std::fs::read_to_string(export).unwrap().contains("flask[dotenv]==1.0.2"));
        let plain: Vec<String> = ["pip", "install", "-r", "requirements.txt"].map(String::from).into();
        assert_eq!(export_argv(&plain, dir.path(), &workdir, ".").unwrap(), plain);
    }
}
