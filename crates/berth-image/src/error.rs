//! The crate's single error type.

use std::path::PathBuf;

/// Errors from references, digests, the blob store, manifests, unpacking and snapshots.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An image reference that does not follow docker's grammar.
    #[error("invalid reference {input:?}: {reason}")]
    InvalidReference { input: String, reason: String },

    /// A digest string that is not `sha256:<64 lowercase hex>`.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest { input: String, reason: &'static str },

    /// Content hashed to a different digest than expected.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },

    /// Content had a different length than expected.
    #[error("size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch { expected: u64, actual: u64 },

    /// No blob with this digest in the store.
    #[error("blob {0} not found")]
    BlobNotFound(String),

    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A system call failed on a path.
    #[error("{op} {path}: {errno}")]
    Sys {
        op: &'static str,
        path: PathBuf,
        errno: nix::errno::Errno,
    },

    /// JSON (de)serialisation failed.
    #[error("{context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    /// A manifest, index or config that is malformed.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),

    /// A media type this store does not handle.
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),

    /// A manifest larger than the accepted maximum.
    #[error("manifest too large: {size} bytes (limit {limit})")]
    ManifestTooLarge { size: u64, limit: u64 },

    /// No entry of an index matches the wanted platform.
    #[error("no manifest for platform {0} in the index")]
    NoMatchingPlatform(String),

    /// A layer entry that would escape the root or is otherwise refused.
    #[error("unsafe layer entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },

    /// A layer that cannot be read (corrupt, truncated, bad tar).
    #[error("layer: {0}")]
    Layer(String),

    /// A path that cannot be used in an overlay mount option.
    #[error("overlay: {0}")]
    Overlay(String),

    /// An HTTP request to a registry failed before a response arrived.
    #[error("{context}: {source}")]
    Http {
        context: String,
        #[source]
        source: Box<ureq::Error>,
    },

    /// A registry answered with an unexpected status.
    #[error("{context}: registry answered {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    RegistryStatus {
        context: String,
        status: u16,
        message: String,
    },

    /// A registry refused access: no credentials, or the credentials were rejected.
    #[error("authentication required for {registry}: {reason}")]
    AuthenticationRequired { registry: String, reason: String },

    /// A registry protocol violation (bad header, missing Location, ...).
    #[error("registry protocol: {0}")]
    RegistryProtocol(String),

    /// A credentials file that cannot be used.
    #[error("credentials: {0}")]
    Credentials(String),

    /// A blob transfer failed (the cause says how).
    #[error("blob {digest}: {source}")]
    Blob {
        digest: String,
        #[source]
        source: Box<Error>,
    },

    /// An image archive (docker-archive or OCI layout) that is malformed or incomplete.
    #[error("image archive: {0}")]
    Archive(String),

    /// No image in the store under this name.
    #[error("image {0} not found")]
    ImageNotFound(String),

    /// A `--change` instruction that is not supported or malformed.
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Error` with context; use as `.map_err(io_err("opening x"))`.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Wraps an errno with the failing call and path.
pub(crate) fn sys_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(nix::errno::Errno) -> Error {
    let path = path.into();
    move |errno| Error::Sys { op, path, errno }
}
