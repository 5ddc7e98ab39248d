//! What the loopback test servers share: an accept loop on `127.0.0.1` with a thread per
//! connection, a stop on drop, and reading a request head. Responses are HTTP/1.1 with
//! `Connection: close`: test clients need nothing more, and a test needs no dependency for it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running accept loop; stops (and joins its thread) when dropped.
pub(crate) struct Loopback {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Listens on a free port and hands each connection to `handle` on a thread of its own.
    /// A connection's failure (a client hanging up early) concerns that connection only.
    pub fn start(
        name: &str,
        handle: impl Fn(TcpStream) -> io::Result<()> + Send + Sync + 'static,
    ) -> io::Result<Loopback> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let accept = {
            let stop = Arc::clone(&stop);
            let name = name.to_string();
            std::thread::Builder::new().name(name.clone()).spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let handle = Arc::clone(&handle);
                    let _ = std::thread::Builder::new().name(format!("{name}-conn")).spawn(move || {
                        let _ = handle(stream);
                    });
                }
            })?
        };
        Ok(Loopback { addr, stop, accept: Some(accept) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.accept.take() {
            let _ = thread.join();
        }
    }
}

/// A request's first line and headers (names lower-cased); bodies are not read.
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads the request head (bounded: 8 KiB a line, 100 headers) with timeouts set on `stream`.
pub(crate) fn read_head(stream: &TcpStream) -> io::Result<RequestHead> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.by_ref().take(8192).read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if reader.by_ref().take(8192).read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string());
    Ok(RequestHead { method, target, headers })
}

/// A status line and headers; `extra` lines come before `Connection: close`.
pub(crate) fn head(
    out: &mut TcpStream,
    status: &str,
    content_type: &str,
    len: u64,
    extra: &[String],
) -> io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n");
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Connection: close\r\n\r\n");
    out.write_all(text.as_bytes())
}

/// A whole small response.
pub(crate) fn respond(
    out: &mut TcpStream,
    status: &str,
    content_type: &str,
    bytes: &[u8],
    body: bool,
) -> io::Result<()> {
    head(out, status, content_type, bytes.len() as u64, &[])?;
    if body {
        out.write_all(bytes)?;
    }
    finish(out)
}

pub(crate) fn finish(out: &mut TcpStream) -> io::Result<()> {
    out.flush()?;
    out.shutdown(Shutdown::Write)
}
