//! A small synchronous HTTP/1.1 client for the Docker Engine API over a unix socket:
//! JSON and streamed request bodies, framed or streaming responses, connection hijacking.

mod response;
mod wire;

pub use response::Response;

use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::daemon;
use crate::error::{Error, Result};

/// The API version every path is prefixed with.
pub const API_VERSION: &str = "1.43";

/// Where the daemon listens, and whether we may start it ourselves.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
    host: String,
    autostart: bool,
    tried_start: Arc<AtomicBool>,
}

/// A request body.
pub enum Body<'a> {
    Empty,
    /// Serialized JSON (`Content-Type: application/json`).
    Json(Vec<u8>),
    /// A reader sent with `Content-Length` when its length is known, chunked otherwise.
    Stream {
        reader: Box<dyn Read + Send + 'a>,
        content_type: &'static str,
        len: Option<u64>,
    },
}

/// A request being built: method, API path (without the version prefix), headers, body.
pub struct Req<'c, 'a> {
    client: &'c Client,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Body<'a>,
    versioned: bool,
}

/// A request written to the daemon whose answer has not been read yet.
pub struct Pending {
    reader: BufReader<UnixStream>,
    head_only: bool,
    write_err: Option<Error>,
}

impl Pending {
    /// Reads the response head (blocking until the daemon answers).
    pub fn finish(mut self) -> Result<Response> {
        match wire::read_head(&mut self.reader) {
            Ok(head) => Ok(Response::new(head, self.reader, self.head_only)),
            // The daemon may answer early and close; prefer its answer, else the write error.
            Err(e) => Err(self.write_err.unwrap_or(e)),
        }
    }
}

/// A connection taken over after `101 UPGRADED`: the daemon's output, and our input.
pub struct Hijacked {
    /// Reads what the container (or exec) writes, including bytes buffered after the head.
    pub reader: BufReader<UnixStream>,
    /// Writes to the container's stdin; shut down for writing at EOF.
    pub writer: UnixStream,
}

impl Client {
    /// A client for `host` (`unix:///path`); `autostart` when the host is the default one and
    /// nobody chose it, so a missing daemon may be started.
    pub fn new(host: &str, autostart: bool) -> Result<Client> {
        Ok(Client {
            socket: daemon::socket_path(host)?,
            host: host.to_string(),
            autostart,
            tried_start: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The host string, as the user would write it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Opens a connection, starting the daemon once if allowed and nobody answers.
    pub fn connect(&self) -> Result<UnixStream> {
        match UnixStream::connect(&self.socket) {
            Ok(s) => Ok(s),
            Err(e) if self.autostart && daemon::is_absent(&e) => {
                if !self.tried_start.swap(true, Ordering::SeqCst) {
                    daemon::start(self)?;
                }
                UnixStream::connect(&self.socket).map_err(|source| Error::Connect {
                    host: self.host.clone(),
                    source,
                })
            }
            Err(source) => Err(Error::Connect {
                host: self.host.clone(),
                source,
            }),
        }
    }

    /// Checks that the daemon answers `GET /_ping` with 200, without starting it.
    pub fn ping_once(&self) -> bool {
        let Ok(stream) = UnixStream::connect(&self.socket) else {
            return false;
        };
        let req = self.req("GET", "/_ping").unversioned();
        matches!(req.send_on(stream), Ok(r) if r.status == 200)
    }

    /// Starts a request for API `path` (query included, no version prefix).
    pub fn req<'a>(&self, method: &'static str, path: &str) -> Req<'_, 'a> {
        Req {
            client: self,
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: Body::Empty,
            versioned: true,
        }
    }

    /// `GET path`, the JSON body of a successful answer.
    pub fn get_json(&self, path: &str) -> Result<Value> {
        self.req("GET", path).call()?.json()
    }

    /// `POST path` with an optional JSON body; the answer's JSON (Null when empty).
    pub fn post_json(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut req = self.req("POST", path);
        if let Some(body) = body {
            req = req.json(body)?;
        }
        req.call()?.json_or_null()
    }

    /// `POST path` with no body, discarding the answer.
    pub fn post(&self, path: &str) -> Result<()> {
        self.req("POST", path).call()?.drain()
    }

    /// `DELETE path`; the answer's JSON (Null when empty).
    pub fn delete(&self, path: &str) -> Result<Value> {
        self.req("DELETE", path).call()?.json_or_null()
    }
}

impl<'c, 'a> Req<'c, 'a> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sends the path as is, without the `/v1.43` prefix.
    pub fn unversioned(mut self) -> Self {
        self.versioned = false;
        self
    }

    /// A JSON body.
    pub fn json(mut self, body: &Value) -> Result<Self> {
        self.body = Body::Json(serde_json::to_vec(body)?);
        Ok(self)
    }

    /// A streamed body (chunked unless `len` is known).
    pub fn stream(
        mut self,
        reader: Box<dyn Read + Send + 'a>,
        content_type: &'static str,
        len: Option<u64>,
    ) -> Self {
        self.body = Body::Stream {
            reader,
            content_type,
            len,
        };
        self
    }

    fn full_path(&self) -> String {
        if self.versioned {
            format!("/v{API_VERSION}{}", self.path)
        } else {
            self.path.clone()
        }
    }

    /// Sends the request; the response whatever its status.
    pub fn send(self) -> Result<Response> {
        let stream = self.client.connect()?;
        self.send_on(stream)
    }

    fn send_on(self, stream: UnixStream) -> Result<Response> {
        self.write_on(stream)?.finish()
    }

    /// Writes the request now; the answer is read later with [`Pending::finish`] (for
    /// `wait`, which must be asked before the container starts and answers when it exits).
    pub fn start(self) -> Result<Pending> {
        let stream = self.client.connect()?;
        self.write_on(stream)
    }

    fn write_on(self, stream: UnixStream) -> Result<Pending> {
        let path = self.full_path();
        let head_only = self.method == "HEAD";
        let reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let sent = wire::write_request(&mut writer, self.method, &path, &self.headers, self.body);
        Ok(Pending {
            reader,
            head_only,
            write_err: sent.err(),
        })
    }

    /// Sends the request; an error for any status of 400 and above.
    pub fn call(self) -> Result<Response> {
        self.send()?.error_for_status()
    }

    /// As [`Req::call`], but the body is written by a thread of its own while the answer is
    /// read here: for a daemon that answers while it reads (`load`'s progress), which would
    /// otherwise wait on a full socket while we wait to finish writing.
    pub fn call_while_sending(self) -> Result<Response>
    where
        'a: 'static,
    {
        let stream = self.client.connect()?;
        let path = self.full_path();
        let head_only = self.method == "HEAD";
        let reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let (method, headers, body) = (self.method, self.headers, self.body);
        let sending = std::thread::Builder::new()
            .name("send".into())
            .spawn(move || wire::write_request(&mut writer, method, &path, &headers, body).err())
            .map_err(Error::from)?;
        let pending = Pending {
            reader,
            head_only,
            write_err: None,
        };
        match pending.finish() {
            Ok(r) => r.error_for_status(),
            // No answer: the write's error says more, if there was one.
            Err(e) => Err(sending.join().ok().flatten().unwrap_or(e)),
        }
    }

    /// Sends with `Connection: Upgrade` / `Upgrade: tcp` and takes the raw connection on
    /// `101 UPGRADED` (or `200 OK` from older daemons).
    pub fn hijack(self) -> Result<Hijacked> {
        self.start_hijack()?.hijacked()
    }

    /// Writes an upgrade request without waiting for the answer, for daemons that answer an
    /// attach only once the container has started: finish with [`Pending::hijacked`].
    pub fn start_hijack(self) -> Result<Pending> {
        self.header("Connection", "Upgrade")
            .header("Upgrade", "tcp")
            .start()
    }
}

impl Pending {
    /// Reads the answer to an upgrade request and takes over the connection.
    pub fn hijacked(self) -> Result<Hijacked> {
        let resp = self.finish()?;
        match resp.status {
            101 | 200 => {
                let reader = resp.into_reader();
                let writer = reader.get_ref().try_clone()?;
                Ok(Hijacked { reader, writer })
            }
            _ => Err(resp.error_for_status().err().unwrap_or_else(|| {
                Error::Protocol("the daemon refused to upgrade the connection".into())
            })),
        }
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a path segment, keeping `/`, `:` and `@` (image references go in paths).
pub fn enc_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `?k=v&...` from pairs, skipping none; empty string when no pairs.
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// Docker's `filters` query value: `{"key":{"value":true}}` from `key=value` strings.
pub fn filters_json(filters: &[String]) -> Result<Option<String>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::usage("bad format of filter (expected name=value)"))?;
        let entry = map
            .entry(k.trim().to_lowercase())
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(m) = entry {
            m.insert(v.to_string(), Value::Bool(true));
        }
    }
    Ok(Some(Value::Object(map).to_string()))
}
