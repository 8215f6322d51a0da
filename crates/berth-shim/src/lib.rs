//! berth-shim: the per-container parent process (see docs/shim.md) and the client the engine
//! uses to talk to it.
