//! The message channel between the runtime (parent) and a container's init (child): a
//! SOCK_SEQPACKET socketpair, one message per packet, a tag byte then an optional payload.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsFd, OwnedFd};

/// Messages exchanged during container setup.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// parent → child: id mappings and cgroup are in place; go on.
    Go,
    /// parent → child: the cgroup is made (when the init joins it late, see `InitPlan`).
    CgroupReady,
    /// child → parent: mounts are prepared; run prestart/createRuntime hooks now.
    RunHooks,
    /// child → parent: set up and waiting for `start`.
    Ready,
    /// child → parent: setup failed with this message.
    Failed(String),
}

/// One end of the channel.
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent end, child end).
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair for the init channel")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let mut buf = Vec::with_capacity(64);
        match msg {
            Msg::Go => buf.push(b'G'),
            Msg::CgroupReady => buf.push(b'C'),
            Msg::RunHooks => buf.push(b'H'),
            Msg::Ready => buf.push(b'R'),
            Msg::Failed(s) => {
                buf.push(b'E');
                buf.extend_from_slice(s.as_bytes());
            }
        }
        nix::unistd::write(self.fd.as_fd(), &buf).ctx(|| "writing to the init channel")?;
        Ok(())
    }

    /// Receive one message; `None` when the other end closed (the process died or exec'd).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = [0u8; 8192];
        let n = loop {
            match nix::unistd::read(self.fd.as_fd(), &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.ctx(|| "reading the init channel")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let payload = String::from_utf8_lossy(&buf[1..n]).into_owned();
        Ok(Some(match buf[0] {
            b'G' => Msg::Go,
            b'C' => Msg::CgroupReady,
            b'H' => Msg::RunHooks,
            b'R' => Msg::Ready,
            b'E' => Msg::Failed(payload),
            t => {
                return Err(Error::Init(format!(
                    "unexpected message tag {t} on the init channel"
                )))
            }
        }))
    }

    /// Wait for a specific message; anything else is an error.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Msg::Failed(e)) => Err(Error::Init(e)),
            Some(m) => Err(Error::Init(format!("expected {want:?}, got {m:?}"))),
            None => Err(Error::Init(format!(
                "the other side exited while waiting for {want:?}"
            ))),
        }
    }
}
