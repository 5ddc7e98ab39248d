//! Hostile repositories, built by the test (nothing large or strange is committed): symlink
//! loops, links out of the repository, a 200 MB file, binary files, invalid UTF-8, odd file
//! names. Detection must finish, warn with the file (and line where there is one), and never
//! read outside the root.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;

use repo_run_agents::RepoView;
use repo_run_agents::detection;
use repo_run_agents::plan::Detection;

fn write(root: &Path, path: &str, contents: &[u8]) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, contents).unwrap();
}

fn detect(root: &Path) -> Detection {
    detection::detect(&RepoView::open(root).unwrap())
}

fn warning_for<'a>(d: &'a Detection, file: &str) -> Vec<&'a str> {
    d.warnings.iter().filter(|w| w.file == file).map(|w| w.message.as_str()).collect()
}

#[test]
fn symlinks_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "package.json", br#"{"name":"app","scripts":{"start":"node server.js"}}"#);
    write(root, "server.js", b"require('http').createServer().listen(3000);\n");
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    symlink("/", root.join("whole-disk")).unwrap();
    symlink("/etc/passwd", root.join("passwd")).unwrap();
    symlink("missing-target", root.join("dangling")).unwrap();
    symlink("server.js", root.join("alias.js")).unwrap();

    let d = detect(root);
    assert_eq!(warning_for(&d, "loop-a"), ["symlink loop: not followed"]);
    assert_eq!(warning_for(&d, "whole-disk"), ["symlink points outside the repository: not followed"]);
    assert_eq!(warning_for(&d, "passwd"), ["symlink points outside the repository: not followed"]);
    assert_eq!(warning_for(&d, "dangling"), ["broken symlink: not followed"]);
    assert!(warning_for(&d, "alias.js").is_empty(), "a link inside the repository is not worth a warning");
    // Only the two real files were walked: nothing behind `whole-disk`.
    assert_eq!(d.stats.files, 2);
    assert_eq!(d.projects.len(), 1);
}

#[test]
fn large_binary_and_invalid_files_warn_and_detection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "package.json",
        br#"{"name":"app","dependencies":{"express":"^4.18.2"},"scripts":{"start":"node server.js"}}"#,
    );
    write(root, "server.js", b"const port = process.env.PORT || 8080;\n// \xff\xfe not utf-8\napp.listen(port);\n");
    // 200 MB, sparse: costs no disk, and must not be read.
    fs::File::create(root.join("dump.sql")).unwrap().set_len(200 * 1024 * 1024).unwrap();
    fs::create_dir_all(root.join("huge")).unwrap();
    fs::File::create(root.join("huge/package.json")).unwrap().set_len(200 * 1024 * 1024).unwrap();
    let binary: Vec<u8> = (0..65536u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    write(root, "static/logo.png", &binary);
    write(root, "lib/compiled.js", &binary);
    write(root, "src/\u{1F600} emoji.py", b"import os\nos.environ['EMOJI_OK']\n");
    let odd = root.join(std::ffi::OsStr::from_bytes(b"bad-\xff-name.py"));
    fs::write(odd, b"print('x')\n").unwrap();

    let started = std::time::Instant::now();
    let d = detect(root);
    assert!(started.elapsed().as_secs() < 20, "detection must not read the 200 MB files");

    let server = warning_for(&d, "server.js");
    assert_eq!(server, ["invalid UTF-8: read with replacement characters"]);
    assert_eq!(d.warnings.iter().find(|w| w.file == "server.js").unwrap().line, Some(2));
    assert!(warning_for(&d, "huge/package.json").iter().any(|m| m.contains("read limit")));
    assert!(warning_for(&d, "dump.sql").is_empty(), "a large file nobody needs is skipped silently");

    let app = d.projects.iter().find(|p| p.path == ".").expect("root project");
    assert!(app.ports.iter().any(|p| p.port == 8080), "the port after the bad bytes is still found");
    assert_eq!(d.stats.skipped_large, 2);
}

#[test]
fn deep_and_wide_trees_finish() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut deep = String::new();
    for i in 0..60 {
        deep.push_str(&format!("d{i}/"));
    }
    write(root, &format!("{deep}requirements.txt"), b"flask==3.0.0\n");
    for i in 0..2000 {
        write(root, &format!("many/f{i}.txt"), b"x");
    }
    write(root, "node_modules/express/package.json", br#"{"name":"express"}"#);
    let d = detect(root);
    assert_eq!(d.projects.len(), 1, "node_modules is never a project: {:?}", d.projects);
    assert!(d.projects[0].path.ends_with("d59"));
}

#[test]
fn empty_and_manifestless_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let d = detect(dir.path());
    assert_eq!(d.projects.len(), 1);
    assert!(d.warnings.iter().any(|w| w.message.starts_with("no manifest found")));

    write(dir.path(), "index.html", b"<html></html>");
    write(dir.path(), "tool.py", b"import os\nprint(os.getenv('HOME_DIR'))\n");
    let d = detect(dir.path());
    let p = &d.projects[0];
    assert_eq!(p.path, ".");
    // An index.html with no manifest is served as a static site.
    assert_eq!(p.start.as_ref().map(|c| c.display.as_str()), Some("npx serve ."));
    assert_eq!(p.languages.len(), 2);
}
