//! The shim's allocator: the C library's, except in the short-lived launch helper, which
//! takes memory from a bump arena and never gives any back (it exits within milliseconds
//! of making the container, so freeing would be wasted work).
//! - Why: the helper's `create` parses the spec and compiles seccomp, thousands of small
//!   allocations; musl's allocator is much slower at those than a pointer bump.
//! - Memory allocated before the fork and freed in the helper is simply not freed there; the
//!   shim's own copy is untouched.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// The global allocator of `berth-shim` (see the module doc).
pub struct ShimAlloc;

/// Address space reserved for the helper's arena; only the pages it touches count.
const ARENA: usize = 256 << 20;

static BUMPING: AtomicBool = AtomicBool::new(false);
static START: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

/// From now on this process allocates by bumping and never frees. Only for the launch
/// helper, right after its fork; if the arena cannot be mapped, nothing changes.
pub fn bump_from_now_on() {
    // SAFETY: a fresh anonymous private mapping, no file, no fixed address; MAP_NORESERVE so
    // that only the pages the helper touches are charged.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ARENA,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return;
    }
    START.store(p as usize, Relaxed);
    NEXT.store(p as usize, Relaxed);
    END.store(p as usize + ARENA, Relaxed);
    BUMPING.store(true, Relaxed);
}

/// Every block is aligned as malloc aligns: some code relies on it (nix builds a `cmsghdr`
/// in a `Vec<u8>`).
const MIN_ALIGN: usize = 16;

/// A block from the arena, or None when it is full (the caller falls back to the system).
fn bump(l: Layout) -> Option<*mut u8> {
    let align = l.align().max(MIN_ALIGN);
    let mut cur = NEXT.load(Relaxed);
    loop {
        let start = cur.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(l.size())?;
        if end > END.load(Relaxed) {
            return None;
        }
        match NEXT.compare_exchange_weak(cur, end, Relaxed, Relaxed) {
            Ok(_) => return Some(start as *mut u8),
            Err(now) => cur = now,
        }
    }
}

// SAFETY: every block handed out is either the system allocator's, or a range of the arena
// that no other block overlaps (the bump pointer only moves forward, by compare-and-swap)
// and that is aligned as asked. Arena memory past the pointer was never handed out and is
// fresh anonymous memory, hence zeroed.
unsafe impl GlobalAlloc for ShimAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if BUMPING.load(Relaxed) {
            if let Some(p) = bump(l) {
                return p;
            }
        }
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(l) }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if BUMPING.load(Relaxed) {
            if let Some(p) = bump(l) {
                return p;
            }
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if !BUMPING.load(Relaxed) {
            // SAFETY: not bumping, so `p` came from the system allocator with layout `l`.
            unsafe { System.dealloc(p, l) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        if !BUMPING.load(Relaxed) {
            // SAFETY: not bumping, so `p` came from the system allocator with layout `l`.
            return unsafe { System.realloc(p, l, new_size) };
        }
        // A block shrinks in place, and the pointer never moves back: memory past it has
        // never been handed out, so it is still zero for `alloc_zeroed`.
        if new_size <= l.size() {
            return p;
        }
        // The last block of the arena grows in place (a Vec being filled, usually).
        let end = p as usize + l.size();
        if p as usize >= START.load(Relaxed) && NEXT.load(Relaxed) == end {
            if let Some(new_end) = (p as usize).checked_add(new_size) {
                if new_end <= END.load(Relaxed)
                    && NEXT
                        .compare_exchange(end, new_end, Relaxed, Relaxed)
                        .is_ok()
                {
                    return p;
                }
            }
        }
        // SAFETY: `new_size` is non-zero and, rounded to `l.align()`, does not overflow
        // (the caller's contract for `realloc`).
        let n = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, l.align())) };
        if !n.is_null() {
            // SAFETY: `p` holds `l.size()` readable bytes, `n` has room for `new_size`, and
            // the two blocks are distinct.
            unsafe { std::ptr::copy_nonoverlapping(p, n, l.size().min(new_size)) };
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_blocks_are_aligned_and_disjoint() {
        let mut buf = vec![0u8; 4096];
        let base = buf.as_mut_ptr() as usize;
        NEXT.store(base + 1, Relaxed);
        END.store(base + 4096, Relaxed);
        let a = bump(Layout::from_size_align(10, 1).unwrap()).unwrap() as usize;
        let b = bump(Layout::from_size_align(100, 64).unwrap()).unwrap() as usize;
        assert_eq!(
            a % MIN_ALIGN,
            0,
            "as malloc aligns, whatever the layout asks"
        );
        assert_eq!(b % 64, 0);
        assert!(b >= a + 10);
        assert!(bump(Layout::from_size_align(8192, 8).unwrap()).is_none());
        NEXT.store(0, Relaxed);
        END.store(0, Relaxed);
    }
}
