//! OCI seccomp profiles compiled to classic BPF and installed, in pure Rust.
//!
//! # Why our own compiler
//!
//! seccompiler has one match action per filter, while OCI profiles give each syscall rule its own
//! action (ERRNO with a specific errno, ALLOW, KILL, TRAP, LOG, TRACE, ...) plus a default action.
//! libseccomp handles that but is a C library (no fully static binary). So berth compiles the OCI
//! profile to classic BPF itself: [`compile`] in the parent, [`install`] in the container's init
//! (it does not allocate, so it is safe right after `clone`).
//!
//! # Semantics (following runc + libseccomp)
//!
//! * Only the native architecture is compiled (x86_64 or aarch64); `architectures` is ignored.
//!   Foreign-arch syscalls and x32 ones get the default action if it denies, KILL_PROCESS if the
//!   default action is ALLOW / LOG / TRACE (a foreign ABI must not bypass a deny list).
//! * Actions: KILL and KILL_THREAD → `SECCOMP_RET_KILL_THREAD`, KILL_PROCESS, TRAP, ERRNO (`errnoRet`,
//!   default EPERM), TRACE (`errnoRet` as the tracer's data, default EPERM, as runc does), LOG,
//!   ALLOW. NOTIFY is refused with [`Error::UnsupportedAction`].
//! * Syscall names map through a table built from libc's `SYS_*` constants; names this arch does
//!   not have are skipped and reported by [`Program::unknown_syscalls`].
//! * Conditions of one rule are ANDed, rules for the same syscall ORed (first match in profile
//!   order wins). A rule with several conditions on the same argument index is split into one rule
//!   per condition, exactly as runc does. Comparisons are full 64-bit.
//! * With a denying default action, syscalls numbered above every syscall the profile names get
//!   ENOSYS (runc's `patchbpf` behaviour) so that libcs fall back from too-new syscalls.

mod bpf;
mod compile;
mod error;
mod install;
pub mod syscalls;

pub use bpf::MAX_INSNS;
pub use compile::{compile, Program};
pub use error::{Error, Result};
pub use install::install;
