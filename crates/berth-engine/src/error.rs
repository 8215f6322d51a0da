//! The engine's one error type. Each variant maps onto an HTTP status in the API layer.

/// What went wrong, sorted by whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such container, image, volume, network or exec (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state: a name in use, a running container (409).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// The container is not in a state this operation needs (409 in docker too).
    #[error("{0}")]
    State(String),
    /// An exec whose process could not be started; its exit code is recorded (126/127).
    #[error("{0}")]
    ExecFailed(String),
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error(transparent)]
    Net(#[from] berth_net::Error),
    #[error(transparent)]
    Shim(#[from] berth_shim::Error),
    #[error("state store: {0}")]
    Store(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a context message to an io::Result.
pub trait Context<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: f(),
            source,
        })
    }
}

impl Error {
    /// A container-not-found error worded the way docker words it.
    pub fn no_container(name: &str) -> Error {
        Error::NotFound(format!("No such container: {name}"))
    }
    /// An image-not-found error worded the way docker words it.
    pub fn no_image(name: &str) -> Error {
        Error::NotFound(format!("No such image: {name}"))
    }
}

macro_rules! store_err {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Store(e.to_string())
            }
        }
    )*};
}
store_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);
