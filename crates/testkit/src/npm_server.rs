//! A static HTTP/1.1 server for a registry directory in the [`crate::npm_format`] layout, on
//! loopback, for `npm install --registry`. GET and HEAD only, one thread per connection,
//! `Connection: close`: npm needs nothing more, and a test needs no dependency for it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::npm_format::{BASE_PLACEHOLDER, packument_path, valid_name};

/// A running registry server; stops (and joins its accept thread) when dropped.
pub struct NpmRegistry {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    dir: PathBuf,
    base: String,
    stop: AtomicBool,
    requests: AtomicUsize,
}

impl NpmRegistry {
    /// Serves `dir` on `127.0.0.1` at a free port, from a background thread.
    pub fn serve(dir: &Path) -> io::Result<NpmRegistry> {
        if !dir.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no registry directory at {}", dir.display())));
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            base: format!("http://{addr}"),
            stop: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("npm-registry".into()).spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    // A connection's failure (npm hanging up early) concerns that connection only.
                    let _ = std::thread::Builder::new().name("npm-registry-conn".into()).spawn(move || {
                        let _ = handle(stream, &shared);
                    });
                }
            })?
        };
        Ok(NpmRegistry { addr, shared, accept: Some(accept) })
    }

    /// `http://127.0.0.1:<port>`: the value for `npm_config_registry`.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    /// Requests answered so far (any status): shows that a client really asked this server.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for NpmRegistry {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.accept.take() {
            let _ = thread.join();
        }
    }
}

/// What a request path names.
#[derive(Debug, PartialEq)]
enum Target {
    Packument(PathBuf),
    Tarball(PathBuf),
}

/// Maps a request target to a file of the registry: `/<name>` (scoped names arrive as
/// `/@scope%2fpkg`) to its packument, `/<name>/-/<file>.tgz` to a tarball. Anything that is not
/// a valid name (`..` included) maps to nothing.
fn resolve(dir: &Path, target: &str) -> Option<Target> {
    let path = target.split(['?', '#']).next()?;
    let path = percent_decode(path)?;
    let path = path.strip_prefix('/')?.trim_end_matches('/');
    if let Some((name, file)) = path.split_once("/-/") {
        let file_ok = file.ends_with(".tgz") && !file.starts_with('.') && !file.contains(['/', '\\']);
        return (valid_name(name) && file_ok).then(|| Target::Tarball(dir.join(name).join("-").join(file)));
    }
    valid_name(path).then(|| Target::Packument(packument_path(dir, path)))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.by_ref().take(8192).read_line(&mut request_line)?;
    // Headers are read and ignored (bounded), so the client sees its request consumed.
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.by_ref().take(8192).read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    if shared.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mut out = stream;
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(&mut out, "405 Method Not Allowed", "text/plain", b"GET only\n", true);
    }
    let body = method == "GET";
    match resolve(&shared.dir, target) {
        Some(Target::Packument(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = text.replace(BASE_PLACEHOLDER, &shared.base);
                respond(&mut out, "200 OK", "application/json", text.as_bytes(), body)
            }
            Err(_) => not_found(&mut out, body),
        },
        Some(Target::Tarball(path)) => match std::fs::File::open(&path) {
            Ok(mut file) => {
                let len = file.metadata()?.len();
                head(&mut out, "200 OK", "application/octet-stream", len)?;
                if body {
                    io::copy(&mut file, &mut out)?;
                }
                finish(out)
            }
            Err(_) => not_found(&mut out, body),
        },
        None => not_found(&mut out, body),
    }
}

fn not_found(out: &mut TcpStream, body: bool) -> io::Result<()> {
    respond(out, "404 Not Found", "application/json", br#"{"error":"Not found"}"#, body)
}

fn head(out: &mut TcpStream, status: &str, content_type: &str, len: u64) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

fn respond(out: &mut TcpStream, status: &str, content_type: &str, bytes: &[u8], body: bool) -> io::Result<()> {
    head(out, status, content_type, bytes.len() as u64)?;
    if body {
        out.write_all(bytes)?;
    }
    finish(out.try_clone()?)
}

fn finish(mut out: TcpStream) -> io::Result<()> {
    out.flush()?;
    out.shutdown(Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_scopes_and_tarballs() {
        let d = Path::new("/r");
        assert_eq!(resolve(d, "/express"), Some(Target::Packument("/r/express/index.json".into())));
        for scoped in ["/@types%2fnode", "/@types%2Fnode", "/%40types%2fnode", "/@types/node"] {
            assert_eq!(resolve(d, scoped), Some(Target::Packument("/r/@types/node/index.json".into())), "{scoped}");
        }
        assert_eq!(
            resolve(d, "/@types/node/-/node-18.0.0.tgz"),
            Some(Target::Tarball("/r/@types/node/-/node-18.0.0.tgz".into()))
        );
        assert_eq!(resolve(d, "/pg/-/pg-8.8.0.tgz?x=1"), Some(Target::Tarball("/r/pg/-/pg-8.8.0.tgz".into())));
        for bad in ["/", "", "express", "/..", "/%2e%2e", "/../etc/passwd", "/a/-/../../x.tgz", "/a/-/x.json", "/%zz"] {
            assert_eq!(resolve(d, bad), None, "{bad}");
        }
    }
}
