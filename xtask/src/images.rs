//! `cargo xtask images`: local service images (PostgreSQL, Redis, MariaDB, RabbitMQ) for
//! machines with no container registry, and one `builder` image (Python and gcc without any
//! library's headers) that tests run repo-run itself in.
//!
//! Each image is a Debian bookworm root (`debootstrap --variant=minbase`) with the server
//! package and our entrypoint from `templates/images/`, imported with `docker import`. The tag
//! carries a hash of the recipe, so an unchanged recipe is skipped and a changed one rebuilds.
//! Prints one `REPO_RUN_<SERVICE>_IMAGE=<image>` line per image on stdout (progress on stderr).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// One image: what goes into the root and how `docker import` configures it.
struct Recipe {
    service: &'static str,
    /// The server's major version as Debian bookworm ships it; the tag starts with it.
    version: &'static str,
    packages: &'static [&'static str],
    entrypoint: &'static str,
    /// `docker import --change` lines, besides the entrypoint.
    changes: &'static [&'static str],
    /// Directories emptied before import: the package's own data (Debian's postinst creates a
    /// cluster), which Docker would copy into a new volume and the entrypoint would take for
    /// initialised data.
    empty: &'static [&'static str],
}

const RECIPES: &[Recipe] = &[
    Recipe {
        service: "postgres",
        version: "15",
        packages: &["postgresql"],
        entrypoint: "postgres-entrypoint.sh",
        changes: &[
            "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV PGDATA=/var/lib/postgresql/data",
            "EXPOSE 5432",
        ],
        empty: &["var/lib/postgresql"],
    },
    Recipe {
        service: "redis",
        version: "7",
        packages: &["redis-server"],
        entrypoint: "redis-entrypoint.sh",
        changes: &["EXPOSE 6379"],
        empty: &["var/lib/redis"],
    },
    Recipe {
        service: "mariadb",
        version: "10.11",
        packages: &["mariadb-server"],
        entrypoint: "mariadb-entrypoint.sh",
        changes: &["EXPOSE 3306"],
        empty: &["var/lib/mysql"],
    },
    // Not a service: the minimal machine of a user whose build lacks a -dev package, which this
    // host (with headers installed) cannot be. bookworm's Python is 3.11, like the host's.
    Recipe {
        service: "builder",
        version: "bookworm",
        packages: &["python3", "python3-venv", "python3-dev", "gcc", "libc6-dev", "ca-certificates"],
        entrypoint: "builder-entrypoint.sh",
        changes: &[],
        empty: &[],
    },
    Recipe {
        service: "rabbitmq",
        version: "3.10",
        packages: &["rabbitmq-server"],
        entrypoint: "rabbitmq-entrypoint.sh",
        changes: &["EXPOSE 5672"],
        empty: &["var/lib/rabbitmq"],
    },
];

const SUITE: &str = "bookworm";
const REPOSITORY_PREFIX: &str = "repo-run-local";

pub fn run(args: &[&str]) -> Result<()> {
    if let Some(unknown) = args.iter().find(|a| !RECIPES.iter().any(|r| r.service == **a)) {
        let known: Vec<_> = RECIPES.iter().map(|r| r.service).collect();
        bail!("unknown image `{unknown}` (known: {})", known.join(", "));
    }
    for (var, image) in build_all(|r| args.is_empty() || args.contains(&r.service))? {
        println!("{var}={image}");
    }
    Ok(())
}

/// For `cargo xtask test`: the `REPO_RUN_*_IMAGE` variables the Docker tests need, building
/// the images when this machine can. Variables already set are kept, and without debootstrap
/// (a machine that can pull the official images) nothing is built.
pub fn for_tests() -> Result<Vec<(String, String)>> {
    let unset = |r: &Recipe| std::env::var_os(override_var(r)).is_none();
    if !RECIPES.iter().any(unset) || require_tools(&["docker", "debootstrap", "tar"]).is_err() {
        return Ok(Vec::new());
    }
    build_all(unset)
}

/// Like [`for_tests`], for some services only (`cargo xtask example` needs just its own).
pub fn for_services(services: &[&str]) -> Result<Vec<(String, String)>> {
    let wanted = |r: &Recipe| services.contains(&r.service) && std::env::var_os(override_var(r)).is_none();
    if !RECIPES.iter().any(wanted) || require_tools(&["docker", "debootstrap", "tar"]).is_err() {
        return Ok(Vec::new());
    }
    build_all(wanted)
}

fn build_all(wanted: impl Fn(&Recipe) -> bool) -> Result<Vec<(String, String)>> {
    require_tools(&["docker", "debootstrap", "tar"])?;
    let cache = cache_dir()?;
    let mirror = debian_mirror();
    let mut built = Vec::new();
    for recipe in RECIPES.iter().filter(|r| wanted(r)) {
        built.push((override_var(recipe), build(recipe, &cache, &mirror)?));
    }
    Ok(built)
}

/// `REPO_RUN_<SERVICE>_IMAGE`, the variable repo-run reads the image from.
fn override_var(recipe: &Recipe) -> String {
    format!("REPO_RUN_{}_IMAGE", recipe.service.to_uppercase())
}

fn build(recipe: &Recipe, cache: &Path, mirror: &str) -> Result<String> {
    let script_path = crate::workspace_root().join("templates/images").join(recipe.entrypoint);
    let script = std::fs::read(&script_path).with_context(|| format!("reading {}", script_path.display()))?;
    let hash = recipe_hash(recipe, &script);
    let image = format!("{REPOSITORY_PREFIX}/{}:{}-{hash:08x}", recipe.service, recipe.version);
    if image_exists(&image)? {
        eprintln!("{image}: already built");
        return Ok(image);
    }
    remove_older_builds(recipe, &image);

    let started = Instant::now();
    // The root depends on the packages only: kept in the cache, so a changed entrypoint or a
    // failed import does not bootstrap again.
    let root = cache.join(format!("root-{}-{:08x}", recipe.service, root_hash(recipe)));
    let complete = root.with_extension("complete");
    if complete.exists() {
        eprintln!("{image}: reusing {}", root.display());
    } else {
        if root.exists() {
            std::fs::remove_dir_all(&root).with_context(|| format!("removing the unfinished {}", root.display()))?;
        }
        eprintln!("{image}: debootstrap {SUITE} with {} from {mirror}", recipe.packages.join(","));
        let status = Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={}", recipe.packages.join(",")))
            .arg(format!("--cache-dir={}", cache.join("debs").display()))
            .args([SUITE, path_str(&root)?, mirror])
            .stdout(Stdio::null())
            .status()
            .context("running debootstrap")?;
        if !status.success() {
            bail!("debootstrap failed ({status}); its log is {}/debootstrap/debootstrap.log", root.display());
        }
        std::fs::write(&complete, "")?;
    }
    let bootstrapped = started.elapsed();

    let entrypoint = root.join("usr/local/bin/repo-run-entrypoint");
    std::fs::write(&entrypoint, &script)?;
    set_executable(&entrypoint)?;
    // Package lists and downloaded .debs are not needed at run time.
    for dir in ["var/lib/apt/lists", "var/cache/apt/archives"] {
        let _ = std::fs::remove_dir_all(root.join(dir));
    }
    for dir in recipe.empty {
        empty_dir(&root.join(dir))?;
    }

    let mut import = Command::new("docker");
    import.arg("import");
    import.args(["--change", "ENTRYPOINT [\"/usr/local/bin/repo-run-entrypoint\"]"]);
    import.args(["--change", &format!("LABEL dev.repo-run.recipe={hash:08x}")]);
    for change in recipe.changes {
        import.args(["--change", change]);
    }
    import.args(["-", &image]).stdin(Stdio::piped()).stdout(Stdio::null());
    let mut import = import.spawn().context("running docker import")?;
    let tar_status = Command::new("tar")
        .args(["-C", path_str(&root)?, "-c", "."])
        .stdout(import.stdin.take().context("docker import's stdin")?)
        .status()
        .context("running tar")?;
    let import_status = import.wait()?;
    if !tar_status.success() || !import_status.success() {
        bail!("importing {image} failed (tar: {tar_status}, docker import: {import_status})");
    }
    eprintln!(
        "{image}: built in {:.1} s (debootstrap {:.1} s, import {:.1} s)",
        started.elapsed().as_secs_f64(),
        bootstrapped.as_secs_f64(),
        (started.elapsed() - bootstrapped).as_secs_f64()
    );
    Ok(image)
}

/// Everything that shapes the image, hashed: a changed recipe gets a new tag.
fn recipe_hash(recipe: &Recipe, script: &[u8]) -> u32 {
    let text = [SUITE, recipe.version]
        .into_iter()
        .chain(recipe.packages.iter().copied())
        .chain(recipe.changes.iter().copied())
        .chain(recipe.empty.iter().copied());
    fnv1a(text.map(str::as_bytes).chain([script]))
}

/// What shapes the bootstrapped root: the suite and the packages.
fn root_hash(recipe: &Recipe) -> u32 {
    fnv1a([SUITE].into_iter().chain(recipe.packages.iter().copied()).map(str::as_bytes))
}

/// FNV-1a over NUL-separated parts: stable across Rust versions, unlike std's hasher.
fn fnv1a<'a>(parts: impl Iterator<Item = &'a [u8]>) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0u8]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (hash ^ (hash >> 32)) as u32
}

fn image_exists(image: &str) -> Result<bool> {
    let status = Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running docker image inspect")?;
    Ok(status.success())
}

/// Images of earlier recipes of this service: removed where no container uses them.
fn remove_older_builds(recipe: &Recipe, keep: &str) {
    let repository = format!("{REPOSITORY_PREFIX}/{}", recipe.service);
    let Ok(out) =
        Command::new("docker").args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", &repository]).output()
    else {
        return;
    };
    for old in String::from_utf8_lossy(&out.stdout).lines().filter(|l| *l != keep) {
        let removed =
            Command::new("docker").args(["image", "rm", old]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if removed.is_ok_and(|s| s.success()) {
            eprintln!("{old}: removed (an earlier recipe)");
        }
    }
}

/// The Debian mirror apt uses here (deb822 `.sources` first, then one-line `sources.list`).
fn debian_mirror() -> String {
    let deb822 = std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "sources"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| text.split("\n\n").map(str::to_owned).collect::<Vec<_>>())
        .find_map(|stanza| {
            let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()));
            let suites = field("Suites:")?;
            suites.split_whitespace().any(|s| s == SUITE).then(|| field("URIs:"))?
        });
    let one_line = || {
        std::fs::read_to_string("/etc/apt/sources.list").ok()?.lines().find_map(|l| {
            let mut words = l.split_whitespace().filter(|w| !w.starts_with('['));
            (words.next()? == "deb").then_some(())?;
            let uri = words.next()?;
            (words.next()? == SUITE).then(|| uri.to_owned())
        })
    };
    deb822
        .and_then(|uris| uris.split_whitespace().next().map(str::to_owned))
        .or_else(one_line)
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// Outside the repository: roots are hundreds of megabytes, and the .deb cache is reused.
fn cache_dir() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set")?;
    let dir = base.join("repo-run/images");
    std::fs::create_dir_all(dir.join("debs")).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn require_tools(tools: &[&str]) -> Result<()> {
    for tool in tools {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
        if !found {
            bail!("`{tool}` is not on PATH: `cargo xtask images` needs docker, debootstrap and tar");
        }
    }
    Ok(())
}

/// Removes what `dir` holds, keeping the directory (its owner and mode matter to the server).
fn empty_dir(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let path = entry?.path();
        let removed = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not valid UTF-8", path.display()))
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
