//! `process.terminal: true`: the runtime sends the pty master over `--console-socket` with
//! SCM_RIGHTS, and the container's stdio is the slave (for `create` and for `exec --tty`).

mod common;
use common::*;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Receives one fd sent with SCM_RIGHTS on `sock` (close-on-exec, so no other test's child
/// inherits it and keeps the pty open).
fn recv_fd(sock: RawFd) -> std::io::Result<OwnedFd> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // u64 storage keeps the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; all pointers set below point to live local buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: sock is an open socket; msg describes valid buffers for the kernel to fill.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: msg was filled by recvmsg; CMSG_* walk the control buffer it describes.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int);
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(std::io::Error::other("no SCM_RIGHTS fd in the message"))
}

/// A console socket: listens at `path`, accepts one connection and receives the pty master.
struct ConsoleSocket {
    path: PathBuf,
    handle: JoinHandle<std::io::Result<OwnedFd>>,
}

impl ConsoleSocket {
    fn listen(path: &Path) -> ConsoleSocket {
        let listener = UnixListener::bind(path).unwrap();
        let handle = thread::spawn(move || {
            let (conn, _) = listener.accept()?;
            recv_fd(conn.as_raw_fd())
        });
        ConsoleSocket {
            path: path.to_owned(),
            handle,
        }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The received master, or None when the runtime never connected within `timeout`.
    fn master(self, timeout: Duration) -> Option<OwnedFd> {
        let deadline = Instant::now() + timeout;
        while !self.handle.is_finished() {
            if Instant::now() > deadline {
                // Unblock accept() by connecting ourselves; the thread then fails on recvmsg.
                let _ = std::os::unix::net::UnixStream::connect(&self.path);
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.handle.join().unwrap().ok()
    }
}

/// Reads the pty master until the slave side is closed everywhere (EIO) or `timeout` passes.
fn read_master(master: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd for one open fd.
        let r = unsafe { libc::poll(&mut pfd, 1, 100) };
        if r <= 0 {
            continue;
        }
        // SAFETY: buf is a live, writable buffer of buf.len() bytes.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break; // EIO: every slave fd is closed
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn console_socket_receives_the_pty_master() {
    each_runtime("console_socket_receives_the_pty_master", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.set("/process/terminal", serde_json::json!(true))
            .sh("tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-stdio-on-tty; echo hello-tty");
        b.save();
        let console = ConsoleSocket::listen(&sb.dir.path().join(format!("{}.sock", b.id)));
        let o = sb.detached(
            &b,
            "create",
            &[
                "create",
                "--bundle",
                b.path_str(),
                "--console-socket",
                console.path(),
                &b.id,
            ],
        );
        assert!(o.ok(), "{}: create with a console socket: {o:?}", rt.name);
        let master = console
            .master(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{}: no pty master on the console socket", rt.name));
        sb.cmd(&["start", &b.id]).expect_ok("start");
        let text = read_master(&master, Duration::from_secs(10));
        assert!(text.contains("/dev/pts/"), "{}: {text:?}", rt.name);
        assert!(text.contains("all-stdio-on-tty"), "{}: {text:?}", rt.name);
        assert!(
            text.contains("hello-tty\r\n"),
            "{}: output goes through a tty: {text:?}",
            rt.name
        );
        assert!(sb.wait_status(&b.id, "stopped", Duration::from_secs(5)));
        sb.cmd(&["delete", &b.id]).expect_ok("delete");
    });
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    each_runtime(
        "terminal_without_console_socket_is_refused_by_create",
        |rt| {
            let sb = Sandbox::new(rt);
            let mut b = sb.bundle();
            b.set("/process/terminal", serde_json::json!(true))
                .args(&["true"]);
            let o = sb.create(&b);
            assert_ne!(o.code, 0, "{}: {o:?}", rt.name);
            assert!(o.stderr.contains("console"), "{}: {o:?}", rt.name);
            assert!(!o.stderr.contains("panicked"), "{}: {o:?}", rt.name);
        },
    );
}

#[test]
fn exec_tty_detached_sends_a_new_pty() {
    each_runtime("exec_tty_detached_sends_a_new_pty", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.args(&["sleep", "60"]);
        sb.start_container(&b);
        let console = ConsoleSocket::listen(&sb.dir.path().join(format!("{}-exec.sock", b.id)));
        let o = sb.detached(
            &b,
            "exec",
            &[
                "exec",
                "--tty",
                "--detach",
                "--console-socket",
                console.path(),
                &b.id,
                "sh",
                "-c",
                "tty; echo exec-on-tty",
            ],
        );
        assert!(o.ok(), "{}: exec --tty --detach: {o:?}", rt.name);
        let master = console
            .master(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{}: no pty master for exec", rt.name));
        let text = read_master(&master, Duration::from_secs(10));
        assert!(text.contains("/dev/pts/"), "{}: {text:?}", rt.name);
        assert!(text.contains("exec-on-tty\r\n"), "{}: {text:?}", rt.name);
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
    });
}
