//! The probes: one HTTP request over a plain `TcpStream`, a TCP connect, and log patterns.
//!
//! HTTP is a single `GET <path> HTTP/1.0` (the app's health route, else `/`) read up to its
//! status line: that is all readiness needs,
//! and a std socket with short timeouts does it without an HTTP client dependency (and without
//! following redirects, which would probe another server).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one connect may take on the loopback.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a server may take to answer one request before it counts as not speaking HTTP.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// What one connection to the app's port showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortAnswer {
    /// Nothing accepts connections on the port (yet).
    Refused,
    /// An HTTP response with this status, on this address, after this long.
    Http { status: u16, addr: SocketAddr, took: Duration },
    /// A connection was accepted on this address but the answer was not HTTP.
    NotHttp { addr: SocketAddr },
}

/// The addresses an app's port is probed on, in order: 127.0.0.1, then ::1 (servers bound to
/// `localhost` may be IPv6-only).
pub(crate) fn loopback_addrs(port: u16) -> [SocketAddr; 2] {
    [(Ipv4Addr::LOCALHOST, port).into(), (Ipv6Addr::LOCALHOST, port).into()]
}

/// Connects to `addr` and asks for `path` (`/`, `/healthz`).
pub(crate) fn probe_addr(addr: SocketAddr, path: &str) -> PortAnswer {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) else { return PortAnswer::Refused };
    match http_status(&mut stream, addr.port(), path) {
        Some(status) => PortAnswer::Http { status, addr, took: started.elapsed() },
        None => PortAnswer::NotHttp { addr },
    }
}

/// Whether anything accepts TCP connections on `port` of the loopback.
pub(crate) fn tcp_open(port: u16) -> bool {
    loopback_addrs(port).iter().any(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT).is_ok())
}

/// Sends `GET path` and parses the status line of the answer; `None` when it is not HTTP.
fn http_status(stream: &mut TcpStream, port: u16, path: &str) -> Option<u16> {
    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(READ_TIMEOUT)).ok()?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: repo-run-health\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 512 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    parse_status_line(&head)
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten().filter(|c| (100..600).contains(c))
}

/// What servers print once they accept connections, lower-cased.
const READY_PATTERNS: &[&str] = &[
    "listening on",
    "listening at",
    "listening to",
    "running on",
    "started server on",
    "server started",
    "server running",
    "started on port",
    "ready in",
    "ready on",
    "ready - started",
    "application startup complete",
    "uvicorn running",
    "serving http",
    "serving on",
    "local:   http",
    "started application",
];

/// The first ready pattern in the log text of the current run, as written in [`READY_PATTERNS`].
/// A pattern counts only at the start of a word: "ready in" is not in "already in use".
pub fn ready_pattern(log: &str) -> Option<&'static str> {
    first_at_word_start(&log.to_lowercase(), READY_PATTERNS)
}

/// The first of `patterns` that occurs in `lower` at the start of a word (no letter or digit
/// right before it).
pub(crate) fn first_at_word_start(lower: &str, patterns: &[&'static str]) -> Option<&'static str> {
    patterns.iter().copied().find(|p| {
        lower.match_indices(p).any(|(at, _)| !lower[..at].chars().next_back().is_some_and(char::is_alphanumeric))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status_line(b"HTTP/1.1 503"), Some(503));
        assert_eq!(parse_status_line(b"-ERR unknown command\r\n"), None);
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH_9.6\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[test]
    fn patterns() {
        assert_eq!(ready_pattern("Server Listening on http://0.0.0.0:3000"), Some("listening on"));
        assert_eq!(ready_pattern("  VITE v5.0.0  ready in 312 ms"), Some("ready in"));
        assert_eq!(ready_pattern("compiling..."), None);
        assert_eq!(ready_pattern("OSError: [Errno 98] Address already in use"), None);
    }

    #[test]
    fn a_closed_port_is_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(loopback_addrs(port).into_iter().all(|addr| probe_addr(addr, "/") == PortAnswer::Refused));
        assert!(!tcp_open(port));
    }
}
