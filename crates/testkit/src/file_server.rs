//! A loopback HTTP/1.1 file server for download clients (`repo-run models pull`): byte ranges,
//! ETags, `If-Range` and redirects as real servers do, and faults caused for real on the socket
//! (a connection closed mid-body, a server that ignores ranges, error statuses, a slow body).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::loopback::{Loopback, finish, head, read_head, respond};

/// How the server misbehaves from now on.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Close the connection after this many body bytes…
    pub cut_after: Option<u64>,
    /// …for this many responses.
    pub cut_times: usize,
    /// Answer range requests with the whole file (200), as servers without ranges do.
    pub ignore_ranges: bool,
    /// Answer the next `.1` requests with status `.0`.
    pub fail_with: Option<(u16, usize)>,
    /// Sleep this long after each 64 KiB of body (a slow link, to interrupt a client mid-way).
    pub chunk_delay: Option<Duration>,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
    /// Body bytes written before the response ended (or was cut).
    pub body_bytes: u64,
}

struct File {
    bytes: Arc<Vec<u8>>,
    etag: String,
    /// Sent as `X-Linked-Etag`, the way Hugging Face publishes LFS files' SHA-256.
    linked_etag: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, File>,
    /// Path → (Location, `X-Linked-Etag`): a 302, the way Hugging Face sends downloads to its CDN.
    redirects: HashMap<String, (String, Option<String>)>,
    faults: Faults,
    log: Vec<Logged>,
    versions: u64,
}

/// A running server; stops when dropped.
pub struct FileServer {
    state: Arc<Mutex<State>>,
    server: Loopback,
}

impl FileServer {
    pub fn start() -> io::Result<FileServer> {
        let state = Arc::new(Mutex::new(State::default()));
        let server = {
            let state = Arc::clone(&state);
            Loopback::start("file-server", move |stream| handle(stream, &state))?
        };
        Ok(FileServer { state, server })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `bytes` at `path` (`/dir/file`) with a fresh strong ETag: replacing a file
    /// changes its ETag, as on a real server.
    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        let mut state = self.state();
        state.versions += 1;
        let etag = format!("\"v{}-{}\"", state.versions, bytes.len());
        state.files.insert(path.to_string(), File { bytes: Arc::new(bytes), etag, linked_etag: None });
    }

    /// Publishes `sha256` for `path` as `X-Linked-Etag` (whether or not it is the right one).
    pub fn publish_sha256(&self, path: &str, sha256: &str) {
        if let Some(file) = self.state().files.get_mut(path) {
            file.linked_etag = Some(format!("\"{sha256}\""));
        }
    }

    /// Answers `path` with a 302 to `location` (sent as given, so it may be host-relative),
    /// publishing `sha256` as `X-Linked-Etag` on the redirect when given.
    pub fn redirect(&self, path: &str, location: &str, sha256: Option<&str>) {
        let linked = sha256.map(|s| format!("\"{s}\""));
        self.state().redirects.insert(path.to_string(), (location.to_string(), linked));
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    /// Every request so far, in order.
    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    pub fn clear_log(&self) {
        self.state().log.clear();
    }
}

/// `bytes=START-` (the only form download clients send for a resume).
fn range_start(value: &str) -> Option<u64> {
    value.trim().strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()
}

fn handle(stream: TcpStream, state: &Mutex<State>) -> io::Result<()> {
    let request = read_head(&stream)?;
    let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
    let mut entry = Logged {
        path: request.target.clone(),
        range: request.header("range").map(str::to_string),
        if_range: request.header("if-range").map(str::to_string),
        authorization: request.header("authorization").map(str::to_string),
        status: 0,
        body_bytes: 0,
    };
    let mut out = stream;
    // Decide the response under the lock, then write it without holding it.
    let (faults, file) = {
        let mut s = lock();
        if let Some((status, left)) = s.faults.fail_with
            && left > 0
        {
            s.faults.fail_with = (left > 1).then_some((status, left - 1));
            entry.status = status;
            s.log.push(entry);
            drop(s);
            let line = format!("{status} Injected");
            return respond(&mut out, &line, "text/plain", b"injected failure\n", true);
        }
        if let Some((location, linked)) = s.redirects.get(&request.target).cloned() {
            entry.status = 302;
            s.log.push(entry);
            drop(s);
            let mut extra = vec![format!("Location: {location}")];
            if let Some(linked) = linked {
                extra.push(format!("X-Linked-Etag: {linked}"));
            }
            head(&mut out, "302 Found", "text/plain", 0, &extra)?;
            return finish(&mut out);
        }
        let file = s.files.get(&request.target).map(|f| (Arc::clone(&f.bytes), f.etag.clone(), f.linked_etag.clone()));
        let faults = s.faults.clone();
        if faults.cut_after.is_some() && faults.cut_times > 0 && file.is_some() {
            s.faults.cut_times -= 1;
        }
        (faults, file)
    };
    let Some((bytes, etag, linked)) = file else {
        entry.status = 404;
        lock().log.push(entry);
        return respond(&mut out, "404 Not Found", "text/plain", b"no such file\n", true);
    };
    let len = bytes.len() as u64;
    // A range is honoured when asked for, unless ignored or guarded by a stale validator.
    let validator_ok = entry.if_range.as_deref().is_none_or(|v| v == etag);
    let start = entry.range.as_deref().and_then(range_start).filter(|_| !faults.ignore_ranges && validator_ok);
    let mut extra = vec![format!("ETag: {etag}"), "Accept-Ranges: bytes".to_string()];
    if let Some(linked) = linked {
        extra.push(format!("X-Linked-Etag: {linked}"));
    }
    let (status, from) = match start {
        Some(start) if start >= len => {
            entry.status = 416;
            lock().log.push(entry);
            extra.push(format!("Content-Range: bytes */{len}"));
            head(&mut out, "416 Range Not Satisfiable", "text/plain", 0, &extra)?;
            return finish(&mut out);
        }
        Some(start) => {
            extra.push(format!("Content-Range: bytes {start}-{}/{len}", len - 1));
            (206, start)
        }
        None => (200, 0),
    };
    entry.status = status;
    let status_line = if status == 206 { "206 Partial Content" } else { "200 OK" };
    head(&mut out, status_line, "application/octet-stream", len - from, &extra)?;
    let body = &bytes[from as usize..];
    let limit = match faults.cut_after {
        Some(cut) if faults.cut_times > 0 => cut.min(body.len() as u64) as usize,
        _ => body.len(),
    };
    let mut written = 0;
    let result = (|| {
        for chunk in body[..limit].chunks(64 * 1024) {
            out.write_all(chunk)?;
            written += chunk.len();
            if let Some(delay) = faults.chunk_delay {
                out.flush()?;
                std::thread::sleep(delay);
            }
        }
        out.flush()
    })();
    entry.body_bytes = written as u64;
    lock().log.push(entry);
    result?;
    if limit < body.len() {
        // The fault: the connection ends short of the Content-Length it announced.
        return out.shutdown(std::net::Shutdown::Both);
    }
    finish(&mut out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_open_ranges_only() {
        assert_eq!(range_start("bytes=100-"), Some(100));
        assert_eq!(range_start("bytes=0-"), Some(0));
        assert_eq!(range_start("bytes=1-5"), None);
        assert_eq!(range_start("items=1-"), None);
    }
}
