//! A guard in front of the JSON-RPC transport. tower-lsp-server's reader stops for good after
//! one message it cannot decode (tokio-util ends a framed stream after a decoder error), so a
//! single malformed message or invalid UTF-8 body would end the session. Here each frame is
//! checked first: a bad one gets a JSON-RPC parse error (id null) and the session goes on.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

/// Larger messages are refused rather than buffered.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Put the guard between the client's streams and the server: returns the server's ends.
pub fn guard<R, W>(input: R, output: W) -> (DuplexStream, DuplexStream)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (server_in, mut to_server) = tokio::io::duplex(1 << 20);
    let (server_out, from_server) = tokio::io::duplex(1 << 20);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);

    let errors = tx.clone();
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            match read_frame(&mut input).await {
                Frame::Message(body) if serde_json::from_slice::<serde_json::Value>(&body).is_ok() => {
                    if write_frame(&mut to_server, &body).await.is_err() {
                        return;
                    }
                }
                Frame::Message(_) | Frame::Invalid => {
                    let err = br#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}"#;
                    if errors.send(err.to_vec()).await.is_err() {
                        return;
                    }
                }
                Frame::End => return,
            }
        }
    });
    tokio::spawn(async move {
        let mut from_server = BufReader::new(from_server);
        while let Frame::Message(body) = read_frame(&mut from_server).await {
            if tx.send(body).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        let mut output = output;
        while let Some(body) = rx.recv().await {
            if write_frame(&mut output, &body).await.is_err() {
                return;
            }
        }
    });
    (server_in, server_out)
}

enum Frame {
    Message(Vec<u8>),
    /// A header block without a usable `Content-Length`, or a body too large.
    Invalid,
    End,
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Frame {
    let mut len = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return Frame::End,
            Ok(_) => {}
        }
        if line == b"\r\n" || line == b"\n" {
            if saw_header {
                break;
            }
            continue;
        }
        saw_header = true;
        let line = String::from_utf8_lossy(&line);
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                len = value.trim().parse::<usize>().ok();
            }
        }
    }
    let Some(len) = len.filter(|l| *l <= MAX_BODY) else { return Frame::Invalid };
    let mut body = vec![0; len];
    match r.read_exact(&mut body).await {
        Ok(_) => Frame::Message(body),
        Err(_) => Frame::End,
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> std::io::Result<()> {
    w.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()).await?;
    w.write_all(body).await?;
    w.flush().await
}
