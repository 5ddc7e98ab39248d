//! `repo-run models pull`: a GGUF file from a URL into the model directory, resumable and
//! checked.
//!
//! The bytes go to `<name>.part` beside the target, with `<name>.part.json` recording the URL
//! and the server's validator (ETag or Last-Modified). A later pull of the same URL asks for
//! the rest (`Range`, guarded by `If-Range`, so a changed file starts over instead of being
//! spliced). A dropped connection resumes the same way within one pull. Only a complete file
//! whose SHA-256 matches (the one given, or the one Hugging Face publishes for LFS files) and
//! that starts with the GGUF magic is renamed into place, atomically.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Consecutive failed attempts (no byte received) before a pull gives up.
pub const ATTEMPTS: u32 = 5;
/// Wait before the second attempt; doubled before each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// A read that waits longer than this for the next byte counts as a dropped connection.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed per connection (Hugging Face sends one, to its CDN).
pub const MAX_REDIRECTS: u32 = 10;

/// What to pull and where.
#[derive(Clone, Debug)]
pub struct PullRequest {
    /// `http(s)://…`, or `hf:owner/repo/file.gguf` (optionally `hf:owner/repo@revision/file`).
    pub source: String,
    /// The folder the model goes to (the model directory).
    pub dir: PathBuf,
    /// The file name; by default the last segment of the URL's path.
    pub name: Option<String>,
    /// Expected SHA-256 (hex); a mismatch rejects the file.
    pub sha256: Option<String>,
    /// Download again even when the file is already there.
    pub force: bool,
    /// Sent as `Authorization: Bearer` to huggingface.co only (gated models).
    pub token: Option<String>,
}

/// How a pull ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pulled {
    pub path: PathBuf,
    pub url: String,
    pub bytes: u64,
    pub sha256: String,
    /// Where the checksum came from: `given`, `server`, or `none` (only computed).
    pub verified_by: &'static str,
    /// Bytes that were already on disk from an earlier pull.
    pub resumed_from: u64,
    /// Bytes received by this pull.
    pub received: u64,
    /// Times the connection was opened (1 when nothing went wrong).
    pub connections: u32,
    /// The file was there already and nothing was downloaded.
    pub already_present: bool,
    /// How long the pull took, checks included.
    pub seconds: f64,
}

/// What a pull reports while it runs (a progress bar in the CLI).
pub trait PullProgress {
    /// The download (re)starts: `done` bytes are already on disk out of `total` when known.
    fn start(&self, total: Option<u64>, done: u64);
    fn advance(&self, bytes: u64);
    /// The connection dropped; it is retried from the bytes on disk.
    fn retry(&self, attempt: u32, reason: &str);
    /// The finished file is being hashed or checked.
    fn verifying(&self) {}
}

/// For callers that show nothing.
pub struct NoProgress;

impl PullProgress for NoProgress {
    fn start(&self, _: Option<u64>, _: u64) {}
    fn advance(&self, _: u64) {}
    fn retry(&self, _: u32, _: &str) {}
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    BadSource(String),
    #[error("{url}: the server answered {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status { url: String, status: u16, detail: Option<String> },
    #[error("{url}: {message} (gave up after {attempts} attempts; the {done} bytes received are kept in {}, and the same command resumes)", part.display())]
    Network { url: String, message: String, attempts: u32, done: u64, part: PathBuf },
    #[error("interrupted: the {done} bytes received are kept in {}; run the same command again to resume", part.display())]
    Interrupted { done: u64, part: PathBuf },
    #[error(
        "checksum mismatch for {url}: expected sha256 {expected} ({basis}), got {actual}; the download was deleted"
    )]
    Checksum { url: String, expected: String, actual: String, basis: &'static str },
    #[error("{url} is not a GGUF model (it starts with {start:?}, not \"GGUF\"); the download was deleted")]
    NotGguf { url: String, start: String },
    #[error("{url}: received {got} bytes but the server announced {expected}; the download was deleted")]
    Length { url: String, got: u64, expected: u64 },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl PullError {
    /// A next step for the user, where there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            PullError::Status { status: 401 | 403, url, .. } if url.contains("huggingface.co") => Some(
                "gated or private model: accept its licence on huggingface.co and set HF_TOKEN (or pass --token)"
                    .into(),
            ),
            PullError::Status { status: 404, .. } => {
                Some("check the URL; for Hugging Face use hf:owner/repo/file.gguf or a /resolve/ link".into())
            }
            PullError::Checksum { .. } => {
                Some("check --sha256 against the model's page; a proxy may have altered the file".into())
            }
            PullError::NotGguf { .. } => {
                Some("the URL must point at the .gguf file itself (a /resolve/ link, not a web page)".into())
            }
            PullError::BadSource(_) => Some("give an http(s):// URL or hf:owner/repo/file.gguf".into()),
            _ => None,
        }
    }
}

pub type PullResult<T> = std::result::Result<T, PullError>;

/// The URL a source names: `hf:` references become Hugging Face download links, and a
/// pasted Hugging Face page link (`/blob/`) becomes its download link (`/resolve/`).
pub fn resolve_url(source: &str) -> PullResult<String> {
    let source = source.trim();
    if let Some(rest) = source.strip_prefix("hf:").or_else(|| source.strip_prefix("hf://")) {
        let mut parts = rest.splitn(3, '/');
        let (owner, repo, file) = (parts.next(), parts.next(), parts.next());
        let (Some(owner), Some(repo), Some(file)) = (owner, repo, file) else {
            return Err(PullError::BadSource(format!("`{source}` names no file: expected hf:owner/repo/file.gguf")));
        };
        let (repo, revision) = repo.split_once('@').unwrap_or((repo, "main"));
        if [owner, repo, file, revision].iter().any(|p| p.is_empty()) {
            return Err(PullError::BadSource(format!("`{source}` has an empty part")));
        }
        return Ok(format!("https://huggingface.co/{owner}/{repo}/resolve/{revision}/{file}"));
    }
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return Err(PullError::BadSource(format!("`{source}` is not a URL")));
    }
    if let Some(rest) = source.strip_prefix("https://huggingface.co/")
        && let Some((repo, file)) = rest.split_once("/blob/")
    {
        return Ok(format!("https://huggingface.co/{repo}/resolve/{file}"));
    }
    Ok(source.to_string())
}

/// The file name a URL gives: its path's last segment, without query or fragment.
pub fn file_name_of(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let after_host = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = after_host.split_once('/')?;
    let name = path.rsplit('/').next()?;
    valid_name(name).then(|| name.to_string())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.starts_with('.')
        && !name.ends_with(".part")
}

/// A `Location` against the URL that sent it: absolute, host-relative (`/path`), or relative.
fn join_url(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let host = rest.split('/').next().unwrap_or(rest);
    if let Some(path) = location.strip_prefix('/') {
        return format!("{scheme}://{host}/{path}");
    }
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    let dir = path.rsplit_once('/').map_or(host, |(dir, _)| dir);
    format!("{scheme}://{dir}/{location}")
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`), or `bytes */TOTAL` for a 416.
fn parse_content_range(value: &str) -> Option<(Option<u64>, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    let start = if range.trim() == "*" { None } else { Some(range.split_once('-')?.0.trim().parse().ok()?) };
    Some((start, total))
}

/// A SHA-256 the server publishes: Hugging Face sends LFS files' hashes as their (linked) ETag.
fn server_sha256(response: &ureq::http::Response<ureq::Body>) -> Option<String> {
    ["x-linked-etag", "etag"].iter().find_map(|h| {
        let v = response.headers().get(*h)?.to_str().ok()?;
        let v = v.trim().trim_start_matches("W/").trim_matches('"').to_ascii_lowercase();
        is_sha256(&v).then_some(v)
    })
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What `<name>.part.json` records, so a resume only ever continues the same file.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct PartMeta {
    url: String,
    /// A strong ETag, or else Last-Modified: sent as `If-Range`.
    validator: Option<String>,
    total: Option<u64>,
    server_sha256: Option<String>,
}

/// Pulls `request.source` into `request.dir`; `cancel` stops it, keeping what was received.
pub fn pull(request: &PullRequest, progress: &dyn PullProgress, cancel: &AtomicBool) -> PullResult<Pulled> {
    let started = Instant::now();
    let url = resolve_url(&request.source)?;
    let name = match &request.name {
        Some(name) if valid_name(name) => name.clone(),
        Some(name) => return Err(PullError::BadSource(format!("`{name}` is not a plain file name"))),
        None => file_name_of(&url).ok_or_else(|| {
            PullError::BadSource(format!("cannot tell a file name from {url}; pass --name FILE.gguf"))
        })?,
    };
    let expected = match &request.sha256 {
        Some(s) if is_sha256(&s.to_ascii_lowercase()) => Some(s.to_ascii_lowercase()),
        Some(s) => return Err(PullError::BadSource(format!("`{s}` is not a SHA-256 (64 hex digits)"))),
        None => None,
    };
    std::fs::create_dir_all(&request.dir).map_err(io(&request.dir))?;
    let target = request.dir.join(&name);
    if target.is_file() && !request.force {
        progress.verifying();
        let (bytes, sha256) = hash_file(&target)?;
        if let Some(expected) = &expected
            && *expected != sha256
        {
            return Err(PullError::Checksum {
                url: target.display().to_string(),
                expected: expected.clone(),
                actual: sha256,
                basis: "given; the file already there differs, pass --force to replace it",
            });
        }
        let verified_by = if expected.is_some() { "given" } else { "none" };
        return Ok(Pulled {
            path: target,
            url,
            bytes,
            sha256,
            verified_by,
            resumed_from: 0,
            received: 0,
            connections: 0,
            already_present: true,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let part = request.dir.join(format!("{name}.part"));
    let meta_path = request.dir.join(format!("{name}.part.json"));
    let cleanup = || {
        let _ = std::fs::remove_file(&part);
        let _ = std::fs::remove_file(&meta_path);
    };
    let download = Download { url: &url, part: &part, meta_path: &meta_path, token: request.token.as_deref() };
    let outcome = match download.run(progress, cancel) {
        Ok(outcome) => outcome,
        Err(error) => {
            // Nothing received: no empty part file is left behind to puzzle anyone.
            if std::fs::metadata(&part).is_ok_and(|m| m.len() == 0) {
                cleanup();
            }
            return Err(error);
        }
    };

    progress.verifying();
    if let Some(total) = outcome.total
        && total != outcome.bytes
    {
        cleanup();
        return Err(PullError::Length { url, got: outcome.bytes, expected: total });
    }
    let mut magic = [0u8; 4];
    let read = File::open(&part).and_then(|mut f| f.read(&mut magic)).map_err(io(&part))?;
    if &magic[..read] != b"GGUF" {
        cleanup();
        return Err(PullError::NotGguf { url, start: String::from_utf8_lossy(&magic[..read]).into_owned() });
    }
    let (expected, verified_by) = match (expected, outcome.server_sha256) {
        (Some(given), _) => (Some(given), "given"),
        (None, Some(server)) => (Some(server), "server"),
        (None, None) => (None, "none"),
    };
    if let Some(expected) = expected
        && expected != outcome.sha256
    {
        cleanup();
        return Err(PullError::Checksum { url, expected, actual: outcome.sha256, basis: verified_by });
    }
    std::fs::rename(&part, &target).map_err(io(&target))?;
    let _ = std::fs::remove_file(&meta_path);
    Ok(Pulled {
        path: target,
        url,
        bytes: outcome.bytes,
        sha256: outcome.sha256,
        verified_by,
        resumed_from: outcome.resumed_from,
        received: outcome.received,
        connections: outcome.connections,
        already_present: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Turns an IO error into one that names `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PullError {
    let path = path.to_path_buf();
    move |source| PullError::Io { path, source }
}

fn hash_file(path: &Path) -> PullResult<(u64, String)> {
    file_sha256(path).map_err(io(path))
}

/// The size and lowercase hex SHA-256 of a file (a model's identity: `pull` checks it, the
/// evaluation history is keyed by it).
pub fn file_sha256(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Download<'a> {
    url: &'a str,
    part: &'a Path,
    meta_path: &'a Path,
    token: Option<&'a str>,
}

struct Outcome {
    bytes: u64,
    total: Option<u64>,
    sha256: String,
    server_sha256: Option<String>,
    resumed_from: u64,
    received: u64,
    connections: u32,
}

/// The bytes on disk so far: their count and running hash, and what this pull added.
struct Tally {
    hasher: Sha256,
    done: u64,
    received: u64,
    /// Bytes an earlier pull left that this one kept (0 once it had to start over).
    resumed_from: u64,
}

/// How one connection ended.
enum Step {
    /// The body was read to its end.
    Complete,
    /// Worth another attempt from the bytes on disk; `progressed`: some bytes came first.
    Dropped { reason: String, progressed: bool },
}

impl Download<'_> {
    fn run(&self, progress: &dyn PullProgress, cancel: &AtomicBool) -> PullResult<Outcome> {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                .timeout_per_read(Some(READ_TIMEOUT))
                .max_redirects(0)
                .user_agent(concat!("repo-run/", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        // Only a part file of this very URL is continued; anything else starts over.
        let mut meta: PartMeta = std::fs::read(self.meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|m: &PartMeta| m.url == self.url)
            .unwrap_or_default();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(self.part)
            .map_err(io(self.part))?;
        if meta.url.is_empty() {
            file.set_len(0).map_err(io(self.part))?;
            meta.url = self.url.to_string();
        }
        // The bytes already on disk are hashed once; the hash then follows every write.
        let mut hasher = Sha256::new();
        let done = std::io::copy(&mut (&file), &mut hasher).map_err(io(self.part))?;
        let mut tally = Tally { hasher, done, received: 0, resumed_from: done };
        let (mut connections, mut failures) = (0u32, 0u32);
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(PullError::Interrupted { done: tally.done, part: self.part.to_path_buf() });
            }
            connections += 1;
            match self.connect_and_read(&agent, &mut meta, &mut file, &mut tally, progress, cancel)? {
                Step::Complete => break,
                Step::Dropped { reason, progressed } => {
                    failures = if progressed { 1 } else { failures + 1 };
                    if failures >= ATTEMPTS {
                        return Err(PullError::Network {
                            url: self.url.to_string(),
                            message: reason,
                            attempts: failures,
                            done: tally.done,
                            part: self.part.to_path_buf(),
                        });
                    }
                    progress.retry(connections, &reason);
                    let backoff = FIRST_BACKOFF * 2u32.pow(failures.saturating_sub(1));
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !cancel.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
        file.sync_all().map_err(io(self.part))?;
        Ok(Outcome {
            bytes: tally.done,
            total: meta.total,
            sha256: hex(&tally.hasher.finalize()),
            server_sha256: meta.server_sha256,
            resumed_from: tally.resumed_from,
            received: tally.received,
            connections,
        })
    }

    /// One connection: ask for the bytes after those on disk, append what arrives.
    fn connect_and_read(
        &self,
        agent: &ureq::Agent,
        meta: &mut PartMeta,
        file: &mut File,
        tally: &mut Tally,
        progress: &dyn PullProgress,
        cancel: &AtomicBool,
    ) -> PullResult<Step> {
        // Redirects are followed here, not by ureq: the token must stay with huggingface.co,
        // and the hash Hugging Face publishes is on its redirect, not on the CDN's answer.
        let mut url = self.url.to_string();
        let mut published = None;
        let mut hops = 0;
        let mut response = loop {
            let mut call = agent.get(&url);
            if tally.done > 0 {
                call = call.header("Range", format!("bytes={}-", tally.done));
                if let Some(validator) = &meta.validator {
                    call = call.header("If-Range", validator);
                }
            }
            if let Some(token) = self.token
                && url.starts_with("https://huggingface.co/")
            {
                call = call.header("Authorization", format!("Bearer {token}"));
            }
            let response = match call.call() {
                Ok(response) => response,
                Err(e) => return Ok(Step::Dropped { reason: e.to_string(), progressed: false }),
            };
            let status = response.status().as_u16();
            let location = response.headers().get("location").and_then(|v| v.to_str().ok());
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) if hops < MAX_REDIRECTS => {
                    published = published.or_else(|| server_sha256(&response));
                    url = join_url(&url, location);
                    hops += 1;
                }
                (301 | 302 | 303 | 307 | 308, _) => {
                    return Err(PullError::Status {
                        url: self.url.to_string(),
                        status,
                        detail: Some(format!("a redirect without a usable Location, or over {MAX_REDIRECTS}")),
                    });
                }
                _ => break response,
            }
        };
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        match status {
            206 => {
                let range = header("content-range").and_then(|v| parse_content_range(&v));
                match range {
                    Some((Some(start), total)) if start == tally.done => {
                        meta.total = total.or(meta.total);
                    }
                    // A range that does not continue ours: start over with the whole file.
                    _ => {
                        self.restart(meta, file, tally)?;
                        return Ok(Step::Dropped {
                            reason: "the server sent another range than asked for; starting over".into(),
                            progressed: true,
                        });
                    }
                }
            }
            200 => {
                // The whole file: first pull, a server without ranges, or a changed file.
                if tally.done > 0 {
                    self.restart(meta, file, tally)?;
                }
                meta.total = header("content-length").and_then(|v| v.trim().parse().ok());
                meta.validator = header("etag").filter(|e| !e.starts_with("W/")).or_else(|| header("last-modified"));
                meta.server_sha256 = published.or_else(|| server_sha256(&response));
            }
            416 => {
                // Nothing after what is on disk: complete when that is the announced size.
                let total = header("content-range").and_then(|v| parse_content_range(&v)).and_then(|(_, t)| t);
                if total == Some(tally.done) {
                    meta.total = total;
                    return Ok(Step::Complete);
                }
                self.restart(meta, file, tally)?;
                return Ok(Step::Dropped {
                    reason: "the server refused the range; starting over".into(),
                    progressed: true,
                });
            }
            500..=599 | 429 => {
                return Ok(Step::Dropped { reason: format!("the server answered {status}"), progressed: false });
            }
            _ => {
                let detail = response
                    .body_mut()
                    .with_config()
                    .limit(4096)
                    .read_to_string()
                    .ok()
                    .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect::<String>())
                    // An HTML error page says nothing the status does not.
                    .filter(|b| !b.is_empty() && !b.starts_with('<'));
                return Err(PullError::Status { url: self.url.to_string(), status, detail });
            }
        }
        std::fs::write(self.meta_path, serde_json::to_vec(meta).unwrap_or_default()).map_err(io(self.meta_path))?;
        file.seek(SeekFrom::Start(tally.done)).map_err(io(self.part))?;
        progress.start(meta.total, tally.done);
        let mut body = response.into_body().into_reader();
        let mut buffer = vec![0u8; 256 * 1024];
        let before = tally.done;
        loop {
            if cancel.load(Ordering::SeqCst) {
                file.flush().map_err(io(self.part))?;
                return Err(PullError::Interrupted { done: tally.done, part: self.part.to_path_buf() });
            }
            let n = match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    file.flush().map_err(io(self.part))?;
                    return Ok(Step::Dropped { reason: e.to_string(), progressed: tally.done > before });
                }
            };
            file.write_all(&buffer[..n]).map_err(io(self.part))?;
            tally.hasher.update(&buffer[..n]);
            tally.done += n as u64;
            tally.received += n as u64;
            progress.advance(n as u64);
        }
        file.flush().map_err(io(self.part))?;
        // A body without Content-Length ends when the connection closes; one that ends early
        // (ureq errors on a short body with a length) is retried above.
        match meta.total {
            Some(total) if tally.done < total => Ok(Step::Dropped {
                reason: format!("the body ended at {} of {total} bytes", tally.done),
                progressed: tally.done > before,
            }),
            _ => Ok(Step::Complete),
        }
    }

    fn restart(&self, meta: &mut PartMeta, file: &mut File, tally: &mut Tally) -> PullResult<()> {
        file.set_len(0).map_err(io(self.part))?;
        tally.hasher = Sha256::new();
        tally.done = 0;
        tally.resumed_from = 0;
        *meta = PartMeta { url: self.url.to_string(), ..PartMeta::default() };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_references_become_download_links() {
        assert_eq!(
            resolve_url("hf:owner/repo/model.Q4_K_M.gguf").unwrap(),
            "https://huggingface.co/owner/repo/resolve/main/model.Q4_K_M.gguf"
        );
        assert_eq!(
            resolve_url("hf:owner/repo@v1.0/sub/model.gguf").unwrap(),
            "https://huggingface.co/owner/repo/resolve/v1.0/sub/model.gguf"
        );
        assert_eq!(
            resolve_url("https://huggingface.co/owner/repo/blob/main/m.gguf").unwrap(),
            "https://huggingface.co/owner/repo/resolve/main/m.gguf"
        );
        assert!(matches!(resolve_url("hf:owner/repo"), Err(PullError::BadSource(_))));
        assert!(matches!(resolve_url("ftp://host/m.gguf"), Err(PullError::BadSource(_))));
        assert_eq!(resolve_url(" http://127.0.0.1:9/m.gguf ").unwrap(), "http://127.0.0.1:9/m.gguf");
    }

    #[test]
    fn file_names_come_from_the_path_and_are_plain() {
        assert_eq!(file_name_of("https://h/a/b/model.gguf?download=true").as_deref(), Some("model.gguf"));
        assert_eq!(file_name_of("http://h:8/m.gguf#x").as_deref(), Some("m.gguf"));
        assert_eq!(file_name_of("http://h/"), None);
        assert_eq!(file_name_of("http://h"), None);
        assert_eq!(file_name_of("http://h/a/.."), None);
        assert_eq!(file_name_of("http://h/.hidden"), None);
    }

    #[test]
    fn redirect_locations_resolve_against_the_url() {
        let base = "https://huggingface.co/o/r/resolve/main/m.gguf?x=1";
        assert_eq!(join_url(base, "https://cdn.example/a?sig=1"), "https://cdn.example/a?sig=1");
        assert_eq!(join_url(base, "/api/resolve-cache/m.gguf"), "https://huggingface.co/api/resolve-cache/m.gguf");
        assert_eq!(join_url(base, "other.gguf"), "https://huggingface.co/o/r/resolve/main/other.gguf");
        assert_eq!(join_url("http://h:8", "x"), "http://h:8/x");
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((Some(100), Some(1000))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((Some(5), None)));
        assert_eq!(parse_content_range("bytes */1000"), Some((None, Some(1000))));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes x-y/z"), None);
    }
}
