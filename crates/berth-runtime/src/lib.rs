//! berth OCI runtime.
