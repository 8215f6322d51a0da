//! One registry request: authorization (bearer token per scope or basic), a single retry
//! after a 401 challenge, status checks and the registry's JSON error messages.

use std::io::Read;

use ureq::http::{Method, Request, Response};
use ureq::{Body, SendBody};

use super::auth::{parse_challenge, Challenge, TokenResponse};
use super::Registry;
use crate::error::{io_err, Error, Result};

/// Opens a fresh reader over a request body (called again when a request is retried).
pub(crate) type Opener<'a> = dyn Fn() -> Result<Box<dyn Read + 'a>> + 'a;

/// A request body.
pub(crate) enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    Stream { open: &'a Opener<'a>, len: u64 },
}

/// A request to send with [`Registry::send`].
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) scope: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Payload<'a>,
    pub(crate) context: String,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, url: String, scope: &str, context: &str) -> Self {
        Self {
            method,
            url,
            scope: scope.to_string(),
            headers: Vec::new(),
            body: Payload::Empty,
            context: context.to_string(),
        }
    }

    pub(crate) fn get(url: String, scope: &str, context: &str) -> Self {
        Self::new(Method::GET, url, scope, context)
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Payload<'a>) -> Self {
        self.body = body;
        self
    }
}

/// A response header as a string.
pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The `Content-Length` of a response, if it has a valid one.
pub(crate) fn content_length(resp: &Response<Body>) -> Option<u64> {
    header(resp, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Passes responses with one of the `ok` statuses; turns others into
/// [`Error::RegistryStatus`] with the registry's error message.
pub(crate) fn expect(resp: Response<Body>, ok: &[u16], context: &str) -> Result<Response<Body>> {
    let status = resp.status().as_u16();
    if ok.contains(&status) {
        return Ok(resp);
    }
    let mut text = String::new();
    // Best effort: the error body only decorates the message.
    let _ = resp
        .into_body()
        .into_reader()
        .take(64 * 1024)
        .read_to_string(&mut text);
    Err(Error::RegistryStatus {
        context: context.to_string(),
        status,
        message: error_message(&text),
    })
}

/// `{"errors":[{"code":"...","message":"..."}]}` as `CODE: message; ...`.
fn error_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(e) => e
            .errors
            .iter()
            .map(|i| match (&i.code, &i.message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(s), None) | (None, Some(s)) => s.clone(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => body.trim().chars().take(200).collect(),
    }
}

fn http_err(context: &str) -> impl FnOnce(ureq::Error) -> Error + '_ {
    move |e| Error::Http {
        context: context.to_string(),
        source: Box::new(e),
    }
}

impl Registry {
    fn auth_required(&self, reason: &str) -> Error {
        Error::AuthenticationRequired {
            registry: self.domain.clone(),
            reason: reason.to_string(),
        }
    }

    /// Sends `call`, authenticating on a 401 challenge and retrying once. A second
    /// 401 becomes [`Error::AuthenticationRequired`]; other statuses are returned.
    pub(crate) fn send(&self, call: &Call<'_>) -> Result<Response<Body>> {
        let mut challenged = false;
        loop {
            let authorization = self.authorization(&call.scope)?;
            let resp = self.send_once(call, authorization.as_deref())?;
            if resp.status().as_u16() != 401 {
                return Ok(resp);
            }
            let challenge = header(&resp, "www-authenticate")
                .as_deref()
                .and_then(parse_challenge);
            drop(resp);
            let Some(challenge) = challenge else {
                return Err(self.auth_required("401 without a usable WWW-Authenticate challenge"));
            };
            if challenged {
                let reason = match self.auth.basic {
                    Some(_) => "the credentials were rejected",
                    None => "the registry refused anonymous access; log in first",
                };
                return Err(self.auth_required(reason));
            }
            challenged = true;
            self.auth.set_token(&call.scope, None);
            self.auth.set_challenge(challenge.clone());
            match challenge {
                Challenge::Basic if self.auth.basic.is_none() => {
                    return Err(self.auth_required(
                        "the registry wants basic authentication and no credentials were given; log in first",
                    ))
                }
                Challenge::Basic => {}
                Challenge::Bearer { .. } => {
                    self.fetch_token(&call.scope, &challenge)?;
                }
            }
        }
    }

    /// The `Authorization` value for `scope` given the last challenge seen.
    fn authorization(&self, scope: &str) -> Result<Option<String>> {
        match self.auth.challenge() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.auth.basic.as_ref().map(|b| b.header())),
            Some(c @ Challenge::Bearer { .. }) => {
                let token = match self.auth.token(scope) {
                    Some(t) => t,
                    None => self.fetch_token(scope, &c)?,
                };
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Fetches (and caches) a bearer token for `scope` from the challenge's realm.
    fn fetch_token(&self, scope: &str, challenge: &Challenge) -> Result<String> {
        let Challenge::Bearer { realm, service } = challenge else {
            return Err(self.auth_required("no bearer challenge"));
        };
        let mut req = self.agent.get(realm);
        if let Some(s) = service {
            req = req.query("service", s);
        }
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            req = req.query("scope", s);
        }
        if let Some(b) = &self.auth.basic {
            req = req.header("Authorization", b.header());
        }
        let context = format!("fetching a token from {realm}");
        let resp = req.call().map_err(http_err(&context))?;
        if matches!(resp.status().as_u16(), 401 | 403) {
            let reason = match self.auth.basic {
                Some(_) => "the token server rejected the credentials",
                None => "the token server refused anonymous access; log in first",
            };
            return Err(self.auth_required(reason));
        }
        let resp = expect(resp, &[200], &context)?;
        let mut text = String::new();
        resp.into_body()
            .into_reader()
            .take(1024 * 1024)
            .read_to_string(&mut text)
            .map_err(io_err(context.clone()))?;
        let parsed: TokenResponse = serde_json::from_str(&text).map_err(|source| Error::Json {
            context: context.clone(),
            source,
        })?;
        let token = parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::RegistryProtocol(format!("{context}: no token in answer")))?;
        self.auth.set_token(scope, Some(token.clone()));
        Ok(token)
    }

    fn send_once(&self, call: &Call<'_>, authorization: Option<&str>) -> Result<Response<Body>> {
        let mut b = Request::builder()
            .method(call.method.clone())
            .uri(call.url.as_str());
        for (k, v) in &call.headers {
            b = b.header(*k, v.as_str());
        }
        if let Some(a) = authorization {
            b = b.header("Authorization", a);
        }
        let proto =
            |e: ureq::http::Error| Error::RegistryProtocol(format!("{}: {e}", call.context));
        let has_body = matches!(call.method, Method::POST | Method::PUT | Method::PATCH);
        let result = match &call.body {
            Payload::Empty if !has_body => self.agent.run(b.body(SendBody::none()).map_err(proto)?),
            Payload::Empty => {
                let mut empty: &[u8] = &[];
                let b = b.header("Content-Length", "0");
                self.agent
                    .run(b.body(SendBody::from_reader(&mut empty)).map_err(proto)?)
            }
            Payload::Bytes(data) => {
                let mut r: &[u8] = data;
                let b = b.header("Content-Length", data.len().to_string());
                self.agent
                    .run(b.body(SendBody::from_reader(&mut r)).map_err(proto)?)
            }
            Payload::Stream { open, len } => {
                let mut r = open()?;
                let b = b.header("Content-Length", len.to_string());
                self.agent
                    .run(b.body(SendBody::from_reader(&mut r)).map_err(proto)?)
            }
        };
        result.map_err(http_err(&call.context))
    }
}
