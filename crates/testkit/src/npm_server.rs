//! A static HTTP/1.1 server for a registry directory in the [`crate::npm_format`] layout, on
//! loopback, for `npm install --registry`. GET and HEAD only.

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::loopback::{Loopback, finish, head, read_head, respond};
use crate::npm_format::{BASE_PLACEHOLDER, packument_path, valid_name};

/// A running registry server; stops (and joins its accept thread) when dropped.
pub struct NpmRegistry {
    shared: Arc<Shared>,
    _server: Loopback,
}

struct Shared {
    dir: PathBuf,
    base: String,
    requests: AtomicUsize,
}

impl NpmRegistry {
    /// Serves `dir` on `127.0.0.1` at a free port, from a background thread.
    pub fn serve(dir: &Path) -> io::Result<NpmRegistry> {
        if !dir.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no registry directory at {}", dir.display())));
        }
        // The base URL is known once the port is: the handler reads it from a slot set below.
        let base = Arc::new(std::sync::OnceLock::<Arc<Shared>>::new());
        let server = {
            let base = Arc::clone(&base);
            Loopback::start("npm-registry", move |stream| match base.get() {
                Some(shared) => handle(stream, shared),
                None => Ok(()),
            })?
        };
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            base: format!("http://{}", server.addr()),
            requests: AtomicUsize::new(0),
        });
        let _ = base.set(Arc::clone(&shared));
        Ok(NpmRegistry { shared, _server: server })
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
    let request = read_head(&stream)?;
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mut out = stream;
    let (method, target) = (request.method.as_str(), request.target.as_str());
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
                head(&mut out, "200 OK", "application/octet-stream", len, &[])?;
                if body {
                    io::copy(&mut file, &mut out)?;
                }
                finish(&mut out)
            }
            Err(_) => not_found(&mut out, body),
        },
        None => not_found(&mut out, body),
    }
}

fn not_found(out: &mut TcpStream, body: bool) -> io::Result<()> {
    respond(out, "404 Not Found", "application/json", br#"{"error":"Not found"}"#, body)
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
