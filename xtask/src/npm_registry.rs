//! `cargo xtask npm-registry [--out DIR] [--serve]`: a static npm registry built from Debian's
//! `node-*` packages, for Node tests on machines where registry.npmjs.org cannot be reached.
//!
//! Recipe: one `apt-cache depends --recurse` for the closure of [`ROOTS`] (virtual packages
//! such as `node-side-channel` resolve to their providers), one `apt-get download` for all of
//! it (one call per package is minutes slower), `dpkg-deb -x` (installing them would conflict
//! with the machine's own Node), then every module under `usr/share/nodejs` and
//! `usr/lib/[<triplet>/]nodejs` becomes a package version in `testkit::npm_format`'s layout.
//! Debian patches versions (its express 4.18.2 runs on array-flatten 3.x), so every dependency
//! range inside the registry is relaxed to `*`; the projects' own ranges must still match.
//! A few packages of its own ([`LOCAL_PACKAGES`]) cause the failures relaxed ranges cannot.
//!
//! The result lives outside the repository (`$REPO_RUN_CACHE_DIR/npm-registry`, else
//! `~/.cache/repo-run/npm-registry`); a stamp holding the input list makes a rebuild a no-op.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use testkit::npm_format::{PackageFile, PackageVersion, valid_name, write_package};

/// The Debian packages whose closure makes the registry: what the Node fixtures depend on.
const ROOTS: &[&str] = &["node-express", "node-pg"];

/// Bumped whenever the conversion changes, so a stamp of an older build no longer matches.
const FORMAT: u32 = 2;

/// Packages of the registry's own, `(name, version, manifest fields)`, for failures Debian's
/// packages cannot cause (their ranges are relaxed to `*`): a peer dependency conflict (npm's
/// ERESOLVE) and an `engines` field no installed Node satisfies (EBADENGINE under
/// engine-strict). Each is an `index.js` exporting its name and version.
const LOCAL_PACKAGES: &[(&str, &str, &str)] = &[
    ("repo-run-peer-host", "1.0.0", "{}"),
    ("repo-run-peer-host", "2.0.0", "{}"),
    ("repo-run-peer-plugin", "1.0.0", r#"{"peerDependencies": {"repo-run-peer-host": "^2.0.0"}}"#),
    ("repo-run-needs-future-node", "1.0.0", r#"{"engines": {"node": ">=99"}}"#),
];

const STAMP: &str = ".stamp";
const SUMMARY: &str = ".summary";

/// Where the modules of Debian's Node packages are unpacked to (a `*` is one directory level).
const MODULE_DIRS: &[&str] = &["usr/share/nodejs", "usr/lib/nodejs", "usr/lib/*/nodejs"];

/// Install-time scripts: Debian's modules are built already, and a registry of them must not
/// compile anything (`node-gyp` would need headers and the network).
const INSTALL_SCRIPTS: &[&str] = &["preinstall", "install", "postinstall", "prepare", "prepublish"];

pub fn run(args: &[&str]) -> Result<()> {
    let mut out = None;
    let mut serve = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "--out" => out = Some(PathBuf::from(args.next().context("--out needs a directory")?)),
            "--serve" => serve = true,
            other => bail!("unknown argument `{other}` (usage: cargo xtask npm-registry [--out DIR] [--serve])"),
        }
    }
    let dir = match out {
        Some(dir) => absolute(&dir)?,
        None => default_dir()?,
    };
    build(&dir)?;
    println!("{}={}", testkit::NPM_REGISTRY_ENV, dir.display());
    if serve {
        let registry = testkit::NpmRegistry::serve(&dir).with_context(|| format!("serving {}", dir.display()))?;
        println!("serving {} at {}", dir.display(), registry.url());
        println!("try: npm install --registry {} express pg   (Ctrl-C stops)", registry.url());
        loop {
            std::thread::park();
        }
    }
    Ok(())
}

/// For `cargo xtask setup`: builds the registry where this machine can (a Debian-based one).
pub fn setup() -> Result<()> {
    if let Some(missing) = missing_tool() {
        eprintln!("setup: `{missing}` not found: no local npm registry (the Node install tests will skip)");
        return Ok(());
    }
    let dir = default_dir()?;
    build(&dir)
        .with_context(|| format!("building the local npm registry into {} failed", dir.display()))
        .context("`cargo xtask npm-registry` reproduces it; the Node install tests need it")
}

/// For `cargo xtask test`: `REPO_RUN_NPM_REGISTRY` for the tests, building the registry when
/// this machine can. A variable already set is kept.
pub fn for_tests() -> Result<Vec<(String, String)>> {
    if std::env::var_os(testkit::NPM_REGISTRY_ENV).is_some() || missing_tool().is_some() {
        return Ok(Vec::new());
    }
    let dir = default_dir()?;
    build(&dir)?;
    Ok(vec![(testkit::NPM_REGISTRY_ENV.to_owned(), dir.display().to_string())])
}

fn missing_tool() -> Option<&'static str> {
    ["apt-cache", "apt-get", "dpkg-deb"].into_iter().find(|tool| {
        !std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
    })
}

/// `dir` from the root, without `.` or `..` (the build works beside it, in its parent).
fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        return dir.canonicalize().with_context(|| format!("resolving {}", dir.display()));
    }
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    if dir.components().any(|c| c == std::path::Component::ParentDir) {
        bail!("{}: name a directory without `..`", dir.display());
    }
    Ok(dir.components().collect())
}

fn default_dir() -> Result<PathBuf> {
    let base = match std::env::var_os("REPO_RUN_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .context("neither REPO_RUN_CACHE_DIR, XDG_CACHE_HOME nor HOME is set")?
            .join("repo-run"),
    };
    Ok(base.join("npm-registry"))
}

/// What the registry is built from: when the stamp in the directory says this, it is current.
fn stamp_text() -> String {
    format!("format {FORMAT}\nroots {}\n", ROOTS.join(" "))
}

/// Builds the registry into `out` unless its stamp is current. The build happens in a sibling
/// directory that replaces `out` only when complete, so an interrupted build leaves no half
/// registry behind. `out` is absolute and normalised ([`absolute`]).
fn build(out: &Path) -> Result<()> {
    let started = Instant::now();
    if std::fs::read_to_string(out.join(STAMP)).is_ok_and(|s| s == stamp_text()) {
        let summary = std::fs::read_to_string(out.join(SUMMARY)).unwrap_or_default();
        eprintln!("npm registry: up to date at {} ({})", out.display(), summary.trim());
        return Ok(());
    }
    if let Some(missing) = missing_tool() {
        bail!("`{missing}` is not on PATH: the npm registry is built from Debian packages (apt-get, dpkg-deb)");
    }
    // The old registry is replaced at the end: never a directory this command did not make.
    let replaceable = !out.exists()
        || out.join(STAMP).is_file()
        || std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_none());
    if !replaceable {
        bail!("{} exists and is not an npm registry this command built: choose another --out", out.display());
    }
    let parent = out.parent().context("--out needs a parent directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let work = parent.join(format!(".npm-registry-build-{}", std::process::id()));
    let cleanup = RemoveOnDrop(work.clone());
    let (debs, root, registry) = (work.join("debs"), work.join("root"), work.join("registry"));
    for dir in [&debs, &root, &registry] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    let step = Instant::now();
    let names = closure()?;
    eprintln!(
        "npm registry: {} Debian packages in the closure of {} ({:.1} s)",
        names.len(),
        ROOTS.join(", "),
        step.elapsed().as_secs_f64()
    );

    let step = Instant::now();
    download(&names, &debs)?;
    let files = unpack(&debs, &root)?;
    eprintln!("npm registry: downloaded and unpacked {files} .deb files ({:.1} s)", step.elapsed().as_secs_f64());

    let step = Instant::now();
    let modules = find_modules(&root)?;
    let mut stats = write_registry(&root, modules, &registry)?;
    write_local_packages(&work.join("local"), &registry, &mut stats)?;
    eprintln!(
        "npm registry: wrote {} packages, {} versions, {:.1} MB of tarballs; {} ranges relaxed to `*`, \
         {} dependencies on packages Debian lacks dropped, {} modules skipped ({:.1} s)",
        stats.packages,
        stats.versions,
        stats.bytes as f64 / 1e6,
        stats.relaxed,
        stats.dropped,
        stats.skipped.len(),
        step.elapsed().as_secs_f64()
    );
    for skipped in stats.skipped.iter().take(10) {
        eprintln!("  skipped {skipped}");
    }

    let summary = format!("{} npm packages, {} versions, from {files} Debian packages", stats.packages, stats.versions);
    std::fs::write(registry.join(SUMMARY), &summary)?;
    std::fs::write(registry.join(STAMP), stamp_text())?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing the old {}", out.display()))?;
    }
    std::fs::rename(&registry, out).with_context(|| format!("moving the registry to {}", out.display()))?;
    // The unpacked packages (tens of thousands of files) go now, inside the time reported.
    drop(cleanup);
    eprintln!("npm registry: {summary} at {} in {:.1} s", out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real (not virtual) `node-*` and `libjs-*` packages the roots need, recursively. Debian's
/// modules symlink browser builds from `libjs-*` packages, so those are unpacked too.
fn closure() -> Result<Vec<String>> {
    let output = Command::new("apt-cache")
        .args(["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks"])
        .args(["--no-replaces", "--no-enhances"])
        .args(ROOTS)
        .output()
        .context("running apt-cache depends")?;
    if !output.status.success() {
        bail!(
            "apt-cache depends --recurse {} failed: {}(run `apt-get update`?)",
            ROOTS.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(closure_names(&String::from_utf8_lossy(&output.stdout)))
}

/// Package names from `apt-cache depends --recurse` output: the unindented lines, less the
/// `<virtual>` ones (their providers appear as packages of their own).
fn closure_names(output: &str) -> Vec<String> {
    let names: BTreeSet<&str> = output
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('<'))
        .map(str::trim)
        .filter(|l| l.starts_with("node-") || l.starts_with("libjs-"))
        .collect();
    names.into_iter().map(str::to_owned).collect()
}

/// One `apt-get download` for every name: apt fetches in parallel and resolves versions once.
fn download(names: &[String], debs: &Path) -> Result<()> {
    let output = Command::new("apt-get")
        .args(["download", "-q"])
        .args(names)
        .current_dir(debs)
        .stdin(Stdio::null())
        .output()
        .context("running apt-get download")?;
    if !output.status.success() {
        bail!(
            "apt-get download of {} packages failed ({}):\n{}",
            names.len(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `dpkg-deb -x` of every downloaded package into one root; returns how many.
fn unpack(debs: &Path, root: &Path) -> Result<usize> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(debs)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>()?;
    files.retain(|f| f.extension().is_some_and(|x| x == "deb"));
    files.sort();
    // A few at a time: each is a small archive, so the time goes to starting processes and
    // waiting for the disk. Debian packages do not share files, so they unpack side by side.
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(deb) = files.get(i) else { return Ok(()) };
                        let status = Command::new("dpkg-deb")
                            .arg("-x")
                            .arg(deb)
                            .arg(root)
                            .status()
                            .context("running dpkg-deb")?;
                        if !status.success() {
                            bail!("dpkg-deb -x {} failed ({status})", deb.display());
                        }
                        if (i + 1) % 100 == 0 {
                            eprintln!("npm registry: unpacking {} of {}", i + 1, files.len());
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().expect("an unpack worker panicked"))
    })?;
    Ok(files.len())
}

/// A module directory and the name it is required by (its path below the modules directory).
struct Module {
    name: String,
    dir: PathBuf,
}

/// Every `<modules>/<name>/package.json` and `<modules>/@scope/<name>/package.json`.
fn find_modules(root: &Path) -> Result<Vec<Module>> {
    let mut bases = Vec::new();
    for pattern in MODULE_DIRS {
        match pattern.split_once("/*/") {
            Some((before, after)) => {
                for entry in read_dir_sorted(&root.join(before)) {
                    bases.push(entry.join(after));
                }
            }
            None => bases.push(root.join(pattern)),
        }
    }
    let mut modules = Vec::new();
    for base in bases.iter().filter(|b| b.is_dir()) {
        for dir in read_dir_sorted(base) {
            let file_name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let dirs = if file_name.starts_with('@') {
                read_dir_sorted(&dir)
                    .into_iter()
                    .map(|d| (format!("{file_name}/{}", d.file_name().unwrap_or_default().to_string_lossy()), d))
                    .collect()
            } else {
                vec![(file_name, dir)]
            };
            for (name, dir) in dirs {
                if dir.join("package.json").is_file() {
                    modules.push(Module { name, dir });
                }
            }
        }
    }
    Ok(modules)
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    entries.sort();
    entries
}

#[derive(Default)]
struct Stats {
    packages: usize,
    versions: usize,
    bytes: u64,
    relaxed: usize,
    dropped: usize,
    skipped: Vec<String>,
}

/// A module's manifest and directory.
type Found = (Map<String, Value>, PathBuf);

fn write_registry(root: &Path, modules: Vec<Module>, registry: &Path) -> Result<Stats> {
    let mut stats = Stats::default();
    // name → version → (manifest, dir); the first module of a name and version wins.
    let mut packages: BTreeMap<String, BTreeMap<semver::Version, Found>> = BTreeMap::new();
    for module in modules {
        let path = module.dir.join("package.json");
        let manifest = match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
            Some(Value::Object(m)) => m,
            _ => {
                stats.skipped.push(format!("{}: unreadable package.json", module.name));
                continue;
            }
        };
        let version = manifest.get("version").and_then(Value::as_str).and_then(|v| semver::Version::parse(v).ok());
        let Some(version) = version.filter(|_| valid_name(&module.name)) else {
            stats.skipped.push(format!("{}: no valid name or semver version", module.name));
            continue;
        };
        packages.entry(module.name).or_default().entry(version).or_insert((manifest, module.dir));
    }
    let known: HashSet<String> = packages.keys().cloned().collect();
    let total = packages.len();
    for (i, (name, versions)) in packages.into_iter().enumerate() {
        // The newest release; a prerelease only when there is nothing else.
        let latest = versions
            .keys()
            .rfind(|v| v.pre.is_empty())
            .or_else(|| versions.keys().next_back())
            .expect("at least one version")
            .to_string();
        let mut written = Vec::new();
        for (version, (manifest, dir)) in versions {
            let files = package_files(root, &dir);
            let manifest = relax(manifest, &name, &version.to_string(), &files, &known, &mut stats);
            written.push(PackageVersion { manifest, files });
        }
        stats.versions += written.len();
        stats.bytes += write_package(registry, &name, &written, &latest).with_context(|| format!("writing {name}"))?;
        stats.packages += 1;
        if (i + 1) % 200 == 0 {
            eprintln!("npm registry: wrote {} of {total} packages", i + 1);
        }
    }
    Ok(stats)
}

/// Writes [`LOCAL_PACKAGES`] into the registry, their sources under `src`.
fn write_local_packages(src: &Path, registry: &Path, stats: &mut Stats) -> Result<()> {
    let mut packages: BTreeMap<&str, Vec<PackageVersion>> = BTreeMap::new();
    for &(name, version, fields) in LOCAL_PACKAGES {
        let dir = src.join(format!("{name}-{version}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let index = dir.join("index.js");
        std::fs::write(&index, format!("module.exports = {{ name: {name:?}, version: {version:?} }};\n"))?;
        let Value::Object(mut manifest) = serde_json::from_str(fields).context("a local package's fields")? else {
            bail!("{name}@{version}: its fields are not a JSON object");
        };
        manifest.insert("name".into(), name.into());
        manifest.insert("version".into(), version.into());
        manifest.insert("main".into(), "index.js".into());
        let files = vec![PackageFile { path: "index.js".into(), source: index }];
        packages.entry(name).or_default().push(PackageVersion { manifest, files });
    }
    for (name, versions) in packages {
        let latest = versions.last().and_then(PackageVersion::version).unwrap_or_default().to_owned();
        stats.bytes += write_package(registry, name, &versions, &latest).with_context(|| format!("writing {name}"))?;
        stats.packages += 1;
        stats.versions += versions.len();
    }
    Ok(())
}

/// The manifest as the registry serves it: its name and version as found, every dependency
/// range `*` (dependencies on packages the registry lacks dropped: npm would fail on their
/// 404), no install scripts or native rebuilds, no bundled or dev dependencies, and only the
/// `bin` entries whose files exist.
fn relax(
    mut manifest: Map<String, Value>,
    name: &str,
    version: &str,
    files: &[PackageFile],
    known: &HashSet<String>,
    stats: &mut Stats,
) -> Map<String, Value> {
    manifest.insert("name".into(), name.into());
    manifest.insert("version".into(), version.into());
    for section in ["dependencies", "optionalDependencies", "peerDependencies"] {
        let Some(Value::Object(deps)) = manifest.remove(section) else { continue };
        let mut relaxed = Map::new();
        for (dep, range) in deps {
            if known.contains(&dep) && dep != name {
                stats.relaxed += usize::from(range != "*");
                relaxed.insert(dep, "*".into());
            } else {
                stats.dropped += 1;
            }
        }
        if !relaxed.is_empty() {
            manifest.insert(section.into(), Value::Object(relaxed));
        }
    }
    for key in ["devDependencies", "bundleDependencies", "bundledDependencies", "peerDependenciesMeta"] {
        manifest.remove(key);
    }
    if let Some(Value::Object(scripts)) = manifest.get_mut("scripts") {
        scripts.retain(|k, _| !INSTALL_SCRIPTS.contains(&k.as_str()));
    }
    // npm runs `node-gyp rebuild` for a package with a binding.gyp unless this says no.
    manifest.insert("gypfile".into(), false.into());
    let has = |path: &str| {
        let path = path.trim_start_matches("./");
        files.iter().any(|f| f.path == path)
    };
    match manifest.get_mut("bin") {
        Some(Value::String(path)) if !has(path) => {
            manifest.remove("bin");
        }
        Some(Value::Object(bins)) => {
            bins.retain(|_, path| path.as_str().is_some_and(has));
        }
        _ => {}
    }
    manifest.remove("directories");
    manifest
}

/// The files of a module, following symlinks inside the unpacked root (Debian links browser
/// builds from `/usr/share/javascript`); links that lead outside it, or nowhere, are left out.
fn package_files(root: &Path, dir: &Path) -> Vec<PackageFile> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    collect(root, dir, "", &mut files, &mut seen, 0);
    files
}

fn collect(
    root: &Path,
    dir: &Path,
    prefix: &str,
    files: &mut Vec<PackageFile>,
    seen: &mut HashSet<PathBuf>,
    depth: usize,
) {
    if depth > 24 || !dir.canonicalize().is_ok_and(|c| seen.insert(c)) {
        return;
    }
    for entry in read_dir_sorted(dir) {
        let Some(file_name) = entry.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        let Some(target) = resolve_in_root(root, &entry) else { continue };
        let path = if prefix.is_empty() { file_name } else { format!("{prefix}/{file_name}") };
        if target.is_dir() {
            collect(root, &target, &path, files, seen, depth + 1);
        } else if target.is_file() {
            files.push(PackageFile { path, source: target });
        }
    }
}

/// Where `path` leads inside `root`: absolute link targets are read relative to `root` (they
/// name the installed system's paths), and the result must stay inside it.
fn resolve_in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..16 {
        let Ok(target) = std::fs::read_link(&current) else {
            let real = current.canonicalize().ok()?;
            return real.starts_with(root.canonicalize().ok()?).then_some(real);
        };
        current = match target.strip_prefix("/") {
            Ok(inside) => root.join(inside),
            Err(_) => current.parent()?.join(target),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_names_skip_virtual_and_unrelated_packages() {
        let output = "node-express\n  Depends: node-accepts\n  Depends: <nodejs:any>\n    nodejs\n<node-side-channel>\n\
                      node-deep-equal\nnodejs\nlibjs-inherits\nlibc6\nnode-accepts\n";
        assert_eq!(closure_names(output), ["libjs-inherits", "node-accepts", "node-deep-equal", "node-express"]);
    }

    #[test]
    fn relax_makes_ranges_stars_and_drops_what_cannot_install() {
        let manifest = serde_json::json!({
            "name": "lodash", "version": "1.0.0",
            "dependencies": {"array-flatten": "1.1.1", "missing": "^2"},
            "peerDependencies": {"missing-peer": "1"},
            "devDependencies": {"mocha": "*"},
            "scripts": {"test": "mocha", "install": "node-gyp rebuild"},
            "bin": {"present": "bin/a.js", "absent": "bin/b.js"},
        });
        let known: HashSet<String> = ["array-flatten".to_owned(), "lodash-es".to_owned()].into();
        let files = [PackageFile { path: "bin/a.js".into(), source: PathBuf::new() }];
        let mut stats = Stats::default();
        let m = relax(manifest.as_object().unwrap().clone(), "lodash-es", "1.0.0", &files, &known, &mut stats);
        assert_eq!(m["name"], "lodash-es");
        assert_eq!(Value::Object(m.clone())["dependencies"], serde_json::json!({"array-flatten": "*"}));
        assert!(!m.contains_key("peerDependencies") && !m.contains_key("devDependencies"));
        assert_eq!(Value::Object(m.clone())["scripts"], serde_json::json!({"test": "mocha"}));
        assert_eq!(Value::Object(m.clone())["bin"], serde_json::json!({"present": "bin/a.js"}));
        assert_eq!(m["gypfile"], false);
        assert_eq!((stats.relaxed, stats.dropped), (1, 2));
    }

    #[test]
    fn local_packages_keep_the_ranges_that_make_them_fail() {
        let tmp = std::env::temp_dir().join(format!("xtask-npm-local-{}", std::process::id()));
        let (src, registry) = (tmp.join("src"), tmp.join("registry"));
        let mut stats = Stats::default();
        write_local_packages(&src, &registry, &mut stats).unwrap();
        let packument = |name: &str| -> Value {
            serde_json::from_slice(&std::fs::read(registry.join(name).join("index.json")).unwrap()).unwrap()
        };
        let host = packument("repo-run-peer-host");
        let plugin = packument("repo-run-peer-plugin");
        let future = packument("repo-run-needs-future-node");
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(host["dist-tags"]["latest"], "2.0.0");
        assert!(host["versions"]["1.0.0"].is_object());
        assert_eq!(plugin["versions"]["1.0.0"]["peerDependencies"]["repo-run-peer-host"], "^2.0.0");
        assert_eq!(future["versions"]["1.0.0"]["engines"]["node"], ">=99");
        assert_eq!((stats.packages, stats.versions), (3, 4));
    }

    #[test]
    fn files_follow_links_inside_the_root_only() {
        let tmp = std::env::temp_dir().join(format!("xtask-npm-{}", std::process::id()));
        let root = tmp.join("root");
        let module = root.join("usr/share/nodejs/m");
        let js = root.join("usr/share/javascript/m");
        std::fs::create_dir_all(module.join("lib")).unwrap();
        std::fs::create_dir_all(&js).unwrap();
        std::fs::write(module.join("package.json"), r#"{"name":"m","version":"1.0.0"}"#).unwrap();
        std::fs::write(module.join("lib/a.js"), "").unwrap();
        std::fs::write(js.join("m.min.js"), "").unwrap();
        std::fs::write(tmp.join("outside.js"), "").unwrap();
        let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, module.join(at)).unwrap();
        link("/usr/share/javascript/m/m.min.js", "abs.js");
        link("../../javascript/m", "dist");
        link("../../../../../outside.js", "escape.js");
        link("nowhere.js", "dangling.js");
        let files: Vec<String> = package_files(&root, &module).into_iter().map(|f| f.path).collect();
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(files, ["abs.js", "dist/m.min.js", "lib/a.js", "package.json"]);
    }
}
