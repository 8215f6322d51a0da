//! OCI distribution (registry) client: pull into and push from a [`Store`](crate::Store).
//! Blocking, on `ureq` 3 + rustls: a small sync client matches the store's blocking I/O,
//! and std threads give the 3-way blob concurrency without pulling in an async runtime.

mod auth;
mod credentials;
mod http;
pub(crate) mod progress;
mod pull;
mod push;
mod sources;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

pub use auth::{parse_challenge, BasicAuth, Challenge};
pub use credentials::Credentials;
pub use progress::{BlobOutcome, LineProgress, NoProgress, Progress};
pub use pull::{pull, PulledImage};
pub use push::{push, PushedImage};
pub use sources::{blob_sources, SOURCES_FILE};

use crate::error::Result;
use auth::AuthState;

/// Where Docker Hub's registry API lives.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";
/// Blobs fetched or pushed at the same time.
pub const DEFAULT_CONCURRENCY: usize = 3;

/// How to reach registries.
#[derive(Clone)]
pub struct Options {
    /// Registries (`host` or `host:port`) spoken to over plain HTTP, besides loopback.
    pub insecure: Vec<String>,
    /// Credentials to use; when `None` they are looked up in `credentials`.
    pub auth: Option<BasicAuth>,
    /// A credentials file (see [`Credentials`]).
    pub credentials: Option<Credentials>,
    /// Receives per-blob progress.
    pub progress: Arc<dyn Progress>,
    /// Blobs transferred at once (at least 1).
    pub concurrency: usize,
    /// Upload blobs larger than this in chunks of this size (PATCH); `None`: one PUT.
    pub chunk_size: Option<u64>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            auth: None,
            credentials: None,
            progress: Arc::new(NoProgress),
            concurrency: DEFAULT_CONCURRENCY,
            chunk_size: None,
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("insecure", &self.insecure)
            .field("auth", &self.auth)
            .field("credentials", &self.credentials)
            .field("concurrency", &self.concurrency)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

/// A client for one registry (a reference's domain).
pub struct Registry {
    domain: String,
    base: String,
    agent: ureq::Agent,
    auth: AuthState,
    progress: Arc<dyn Progress>,
    concurrency: usize,
    chunk_size: Option<u64>,
}

/// The host the registry API of `domain` lives on (`docker.io` is Docker Hub's).
pub fn registry_host(domain: &str) -> &str {
    match domain {
        "docker.io" | "index.docker.io" => DOCKER_HUB_REGISTRY,
        other => other,
    }
}

/// `domain` without its port (and without IPv6 brackets).
fn host_part(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match domain.rsplit_once(':') {
        Some((h, _)) if !h.contains(':') => h,
        _ => domain,
    }
}

/// Whether `domain` is spoken to over plain HTTP: loopback names and addresses, and
/// anything listed in `insecure` (matched with or without the port).
pub fn is_insecure(domain: &str, insecure: &[String]) -> bool {
    let host = host_part(domain);
    host == "localhost"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
        || insecure.iter().any(|h| h == domain || h == host)
}

impl Registry {
    /// A client for `domain` (as in [`Reference::domain`](crate::Reference::domain)).
    pub fn new(domain: &str, options: &Options) -> Result<Self> {
        let scheme = if is_insecure(domain, &options.insecure) {
            "http"
        } else {
            "https"
        };
        let base = format!("{scheme}://{}", registry_host(domain));
        let basic = match (&options.auth, &options.credentials) {
            (Some(a), _) => Some(a.clone()),
            (None, Some(c)) => c.get(domain)?,
            (None, None) => None,
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(options.user_agent.as_str())
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        Ok(Self {
            domain: domain.to_string(),
            base,
            agent,
            auth: AuthState::new(basic),
            progress: Arc::clone(&options.progress),
            concurrency: options.concurrency.max(1),
            chunk_size: options.chunk_size.filter(|c| *c > 0),
        })
    }

    /// The domain this client serves.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The base URL, e.g. `https://registry-1.docker.io`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Checks that the registry answers `/v2/` (authenticating if it asks to).
    pub fn ping(&self) -> Result<()> {
        let call = http::Call::get(self.url("/v2/"), "", "pinging registry");
        let resp = self.send(&call)?;
        http::expect(resp, &[200], "pinging registry").map(drop)
    }

    /// An absolute URL for a registry path or a (possibly relative) `Location`.
    pub(crate) fn url(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }
}

/// `repository:<path>:pull`.
pub(crate) fn pull_scope(path: &str) -> String {
    format!("repository:{path}:pull")
}

/// `repository:<path>:pull,push`.
pub(crate) fn push_scope(path: &str) -> String {
    format!("repository:{path}:pull,push")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_hosts() {
        let none: Vec<String> = Vec::new();
        for d in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
        ] {
            assert!(is_insecure(d, &none), "{d}");
        }
        for d in [
            "docker.io",
            "example.com:5000",
            "10.0.0.1:5000",
            "[fe80::1]:5000",
        ] {
            assert!(!is_insecure(d, &none), "{d}");
        }
        let list = vec!["example.com".to_string(), "10.0.0.1:5000".to_string()];
        assert!(is_insecure("example.com:5000", &list));
        assert!(is_insecure("10.0.0.1:5000", &list));
        assert!(!is_insecure("10.0.0.1:5001", &list));
        assert_eq!(registry_host("docker.io"), DOCKER_HUB_REGISTRY);
    }
}
