//! The bench's clients: keep-alive HTTP/1.1 over `TcpStream`, one request at a time, and an SSE
//! reader that de-chunks the body and splits it into events.

use serde_json::Value;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (lower case) in a response head.
pub(crate) fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    let head = std::str::from_utf8(head).ok()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The status code of a response head.
pub(crate) fn status(head: &[u8]) -> io::Result<u16> {
    head.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status line"))
}

/// One keep-alive connection.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) buf: Vec<u8>,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends `request` and reads its answer: the status and the body.
    pub(crate) async fn call(&mut self, request: &[u8]) -> io::Result<(u16, &[u8])> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut framed: Option<(usize, usize)> = None;
        loop {
            if framed.is_none()
                && let Some(i) = find(&self.buf, b"\r\n\r\n")
            {
                let head = &self.buf[..i + 4];
                let len = header(head, "content-length")
                    .and_then(|v| v.parse::<usize>().ok())
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Content-Length"))?;
                framed = Some((i + 4, len));
            }
            if let Some((head_len, body_len)) = framed
                && self.buf.len() >= head_len + body_len
            {
                let code = status(&self.buf)?;
                return Ok((code, &self.buf[head_len..head_len + body_len]));
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

pub(crate) fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n").into_bytes()
}

pub(crate) fn post_request(path: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// An SSE reader: de-chunks the body and splits it into events

/// Undoes `Transfer-Encoding: chunked`, a read at a time.
#[derive(Default)]
pub(crate) struct Dechunk {
    pub(crate) raw: Vec<u8>,
    /// Data bytes left in the current chunk.
    pub(crate) left: usize,
    /// The CRLF after a chunk's data is still to come.
    pub(crate) crlf: bool,
    /// The last (empty) chunk came.
    pub(crate) done: bool,
}

impl Dechunk {
    /// Moves the data of the complete chunk pieces in `raw` to `out`.
    pub(crate) fn feed(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut pos = 0;
        while !self.done {
            if self.left > 0 {
                let take = self.left.min(self.raw.len() - pos);
                out.extend_from_slice(&self.raw[pos..pos + take]);
                pos += take;
                self.left -= take;
                if self.left > 0 {
                    break;
                }
                self.crlf = true;
            }
            if self.crlf {
                if self.raw.len() - pos < 2 {
                    break;
                }
                if &self.raw[pos..pos + 2] != b"\r\n" {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "no CRLF after a chunk"));
                }
                pos += 2;
                self.crlf = false;
            }
            let Some(eol) = find(&self.raw[pos..], b"\r\n") else {
                break;
            };
            let line = std::str::from_utf8(&self.raw[pos..pos + eol]).unwrap_or("");
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}")))?;
            pos += eol + 2;
            if size == 0 {
                self.done = true;
            }
            self.left = size;
        }
        self.raw.drain(..pos);
        Ok(())
    }
}

/// What one subscriber saw: each event's sequence number and when it had parsed it.
#[derive(Default)]
pub(crate) struct SubTally {
    pub(crate) got: Vec<(u64, Instant)>,
    pub(crate) out_of_order: usize,
    pub(crate) error: Option<String>,
}

/// Opens `GET …/events?from=`, reports itself ready once the `200` head came (the server
/// subscribes before it answers), then reads events until the stream ends.
pub(crate) async fn subscriber(
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    from: u64,
    gate: Arc<Semaphore>,
    ready: Arc<AtomicUsize>,
    delivered: Arc<AtomicUsize>,
) -> SubTally {
    let mut tally = SubTally::default();
    if let Err(e) = read_events(addr, &request, from, &gate, &ready, &delivered, &mut tally).await {
        tally.error = Some(e.to_string());
    }
    tally
}

pub(crate) async fn read_events(
    addr: SocketAddr,
    request: &[u8],
    from: u64,
    gate: &Semaphore,
    ready: &AtomicUsize,
    delivered: &AtomicUsize,
    tally: &mut SubTally,
) -> io::Result<()> {
    let mut chunks = Dechunk::default();
    let mut stream = {
        let _permit = gate.acquire().await.map_err(io::Error::other)?;
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(request).await?;
        let head_end = loop {
            if let Some(i) = find(&chunks.raw, b"\r\n\r\n") {
                break i + 4;
            }
            if stream.read_buf(&mut chunks.raw).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let head = &chunks.raw[..head_end];
        let code = status(head)?;
        if code != 200 || !header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            return Err(io::Error::other(format!(
                "events answered {code}: {}",
                String::from_utf8_lossy(&chunks.raw)
            )));
        }
        chunks.raw.drain(..head_end);
        stream
    };
    ready.fetch_add(1, Ordering::Relaxed);
    let mut text = Vec::new();
    let mut next = from;
    loop {
        chunks.feed(&mut text)?;
        let mut start = 0;
        while let Some(end) = find(&text[start..], b"\n\n") {
            let at = Instant::now();
            let block = std::str::from_utf8(&text[start..start + end]).unwrap_or("");
            start += end + 2;
            let mut seq = None;
            for line in block.lines() {
                if let Some(id) = line.strip_prefix("id:") {
                    seq = id.trim().parse::<u64>().ok();
                } else if line.starts_with("event:") {
                    return Err(io::Error::other(format!("server sent {block:?}")));
                }
            }
            // Keep-alive comments carry no id.
            if let Some(seq) = seq {
                if seq != next {
                    tally.out_of_order += 1;
                }
                next = seq + 1;
                tally.got.push((seq, at));
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
        text.drain(..start);
        if chunks.done {
            return Ok(());
        }
        if stream.read_buf(&mut chunks.raw).await? == 0 {
            return Ok(());
        }
    }
}
