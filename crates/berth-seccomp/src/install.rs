//! Loads a compiled [`Program`] into the kernel for the calling thread.

use crate::compile::Program;
use crate::error::{Error, Result};

/// Flags the kernel may not know (LOG: 4.14, SPEC_ALLOW: 4.17); dropped on EINVAL.
const OPTIONAL_FLAGS: libc::c_ulong =
    libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;

/// Installs `p` with `seccomp(SECCOMP_SET_MODE_FILTER, flags)`, using the profile's flags.
///
/// If the kernel rejects the optional LOG / SPEC_ALLOW flags (EINVAL) the filter is installed
/// without them; if it lacks `seccomp(2)` (ENOSYS) it falls back to `prctl(PR_SET_SECCOMP)`,
/// which cannot honour TSYNC. The caller must have set `no_new_privs` (`PR_SET_NO_NEW_PRIVS`)
/// or hold CAP_SYS_ADMIN, otherwise the kernel answers EACCES.
///
/// Performs no allocation, so it may run in a freshly cloned child of a multithreaded process.
pub fn install(p: &Program) -> Result<()> {
    let insns = p.instructions();
    if insns.is_empty() {
        return Err(Error::EmptyProgram);
    }
    let len = u16::try_from(insns.len()).map_err(|_| Error::TooLarge(insns.len()))?;
    let prog = libc::sock_fprog {
        len,
        filter: insns.as_ptr().cast_mut(),
    };
    let mut flags = p.flags();
    loop {
        // SAFETY: `prog` points at `len` valid instructions that outlive the call; the kernel
        // copies the program and does not keep the pointer.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if r == 0 {
            return Ok(());
        }
        if r > 0 {
            // With TSYNC a positive result is the id of a thread that could not be synchronised.
            return Err(Error::Tsync(r));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) if flags & OPTIONAL_FLAGS != 0 => flags &= !OPTIONAL_FLAGS,
            Some(libc::ENOSYS) if flags & libc::SECCOMP_FILTER_FLAG_TSYNC == 0 => {
                return prctl_fallback(&prog)
            }
            _ => return Err(Error::Install(err)),
        }
    }
}

/// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog)` for kernels without `seccomp(2)` (< 3.17).
fn prctl_fallback(prog: &libc::sock_fprog) -> Result<()> {
    // SAFETY: as in `install`, `prog` is a valid program the kernel copies.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            prog as *const libc::sock_fprog,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(Error::Install(std::io::Error::last_os_error()))
    }
}
