//! The one loopback HTTP server of the tests and the benchmark: real
//! HTTP/1.1 on 127.0.0.1, keep-alive, one thread per connection, answering
//! each request as its handler says. The tests script faults with it
//! (`support::FaultServer`); the benchmark answers PutRecords with it at full
//! speed (row 4 drains ~700k records/s through it), so it stays lean: a
//! large read buffer, no Nagle delay, one write per answer.
//!
//! Shared by file (`#[path = ".../tests/common/loopback.rs"] mod loopback;`),
//! so it depends on std and serde_json only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One request as received.
pub struct HttpRequest {
    /// Header names and values in arrival order, trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it was sent chunked.
    pub body: Vec<u8>,
    /// Bytes of the request line and the headers, as sent.
    pub head_bytes: u64,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The value of header `name` (any case) among `headers`.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// How the server answers one request.
pub enum Reply {
    /// A JSON body with this status.
    Json(u16, serde_json::Value),
    /// Any body with this status and content type.
    Raw(u16, &'static str, Vec<u8>),
    /// A body kept by the handler for many answers (the benchmark's
    /// PutRecords answers, one per batch size), not rebuilt per request.
    Shared(u16, &'static str, Arc<[u8]>),
    /// Close the connection without answering.
    Close,
    /// Answer nothing for this long, then close.
    Stall(Duration),
    /// Announce this body's length but send only its first half, then close.
    Truncated(Vec<u8>),
    /// The inner reply with these extra headers (a `Date`, say).
    WithHeaders(Vec<(&'static str, String)>, Box<Reply>),
}

type Handler = dyn Fn(&HttpRequest) -> Reply + Send + Sync;

/// A running server; it stops accepting and answering when dropped.
pub struct LoopbackServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl LoopbackServer {
    pub fn start(handler: impl Fn(&HttpRequest) -> Reply + Send + Sync + 'static) -> LoopbackServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (connections, stop) = (connections.clone(), stop.clone());
            std::thread::Builder::new()
                .name("loopback-accept".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(stream) = stream else { continue };
                        connections.fetch_add(1, Ordering::SeqCst);
                        let (handler, stop) = (handler.clone(), stop.clone());
                        let _ = std::thread::Builder::new()
                            .name("loopback-conn".into())
                            .spawn(move || serve(stream, &*handler, &stop));
                    }
                })
                .unwrap();
        }
        LoopbackServer {
            endpoint,
            connections,
            stop,
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

/// Serves one connection until the client closes it, a reply closes it, or
/// the server stops.
fn serve(stream: TcpStream, handler: &Handler, stop: &AtomicBool) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::with_capacity(256 * 1024, read_half);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader, &mut writer) {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut reply = handler(&request);
        let mut extra_headers = String::new();
        while let Reply::WithHeaders(headers, inner) = reply {
            for (name, value) in headers {
                extra_headers.push_str(&format!("{name}: {value}\r\n"));
            }
            reply = *inner;
        }
        let (status, content_type, body, cut) = match reply {
            Reply::Json(status, json) => (
                status,
                "application/x-amz-json-1.1",
                serde_json::to_vec(&json).unwrap().into(),
                false,
            ),
            Reply::Raw(status, content_type, body) => (status, content_type, body.into(), false),
            Reply::Shared(status, content_type, body) => (status, content_type, body, false),
            Reply::Close => return,
            Reply::Stall(duration) => {
                std::thread::sleep(duration);
                return;
            }
            Reply::Truncated(body) => (200, "application/x-amz-json-1.1", body.into(), true),
            Reply::WithHeaders(..) => unreachable!("unwrapped above"),
        };
        let reason = if (200..300).contains(&status) { "OK" } else { "Error" };
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-amzn-requestid: loopback\r\n{extra_headers}\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(if cut { &body[..body.len() / 2] } else { &body[..] });
        if writer.write_all(&response).is_err() || cut {
            return;
        }
    }
}

/// Reads the next request of a keep-alive connection; `None` when the
/// connection ended or sent something that is not HTTP/1.1.
fn read_request(reader: &mut impl BufRead, writer: &mut impl Write) -> Option<HttpRequest> {
    let mut line = String::new();
    // Stray CRLFs between requests are allowed.
    while line.trim().is_empty() {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    let mut head_bytes = line.len() as u64;
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).ok()?;
        if n == 0 {
            return None;
        }
        head_bytes += n as u64;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = HttpRequest {
        headers,
        body: Vec::new(),
        head_bytes,
    };
    if request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        request.body = read_chunked(reader)?;
    } else {
        let length = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        request.body = vec![0; length];
        reader.read_exact(&mut request.body).ok()?;
    }
    Some(request)
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let size = usize::from_str_radix(line.trim().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            loop {
                line.clear();
                if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf).ok()?;
    }
}
