//! The crate's error type.

/// Everything that can go wrong compiling or installing a seccomp profile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An action berth does not implement (only `SCMP_ACT_NOTIFY`, which needs a seccomp agent).
    #[error("seccomp action {0} is not supported by berth (no seccomp agent / listener support)")]
    UnsupportedAction(&'static str),

    /// A rule names an argument index outside `0..=5`.
    #[error("seccomp rule for {syscall}: argument index {index} is out of range (syscalls have 6 arguments, 0..=5)")]
    ArgIndex {
        /// First syscall name of the rule.
        syscall: String,
        /// The offending index.
        index: usize,
    },

    /// `errnoRet`/`defaultErrnoRet` above what the kernel can return.
    #[error("seccomp errno return value {0} is out of range (at most 4095)")]
    Errno(u32),

    /// A rule lists an empty syscall name.
    #[error("seccomp rule has an empty syscall name")]
    EmptyName,

    /// The host architecture has no syscall table in berth.
    #[error("seccomp is not supported by berth on this architecture")]
    UnsupportedArch,

    /// The compiled program exceeds `BPF_MAXINSNS`.
    #[error(
        "seccomp profile compiles to {0} BPF instructions, more than the kernel limit of 4096"
    )]
    TooLarge(usize),

    /// A compiler bug (e.g. a conditional jump that does not fit its 8-bit offset).
    #[error("internal seccomp compiler error: {0}")]
    Internal(&'static str),

    /// Installing a program with no instructions.
    #[error("cannot install an empty seccomp program")]
    EmptyProgram,

    /// `seccomp(2)`/`prctl(2)` refused the filter (EACCES: no `no_new_privs` and no CAP_SYS_ADMIN).
    #[error("installing seccomp filter: {0}")]
    Install(#[source] std::io::Error),

    /// `SECCOMP_FILTER_FLAG_TSYNC` could not synchronise the given thread.
    #[error("seccomp TSYNC failed: thread {0} could not be synchronised")]
    Tsync(i64),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
