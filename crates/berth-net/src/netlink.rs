//! A small synchronous netlink codec shared by rtnetlink (links, addresses, routes) and
//! nfnetlink (nftables): message building with nested attributes, batched sends, and acks
//! with the kernel's extended error messages.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

pub const NETLINK_ROUTE: i32 = 0;
pub const NETLINK_NETFILTER: i32 = 12;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
/// Set in the flags of an error message that carries extended-ack attributes.
const NLM_F_ACK_TLVS: u16 = 0x200;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub const NLA_F_NESTED: u16 = 0x8000;
const NLMSGERR_ATTR_MSG: u16 = 1;

const SOL_NETLINK: i32 = 270;
const NETLINK_ADD_MEMBERSHIP: i32 = 1;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;

const HDR_LEN: usize = 16;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One netlink message under construction: header, fixed family header, attributes.
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
    ack: bool,
}

impl Message {
    /// A request of `msg_type` with `flags` (NLM_F_REQUEST is always added).
    pub fn new(msg_type: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, set when sent
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        Message {
            buf,
            nests: Vec::new(),
            ack: true,
        }
    }

    /// A message the kernel does not acknowledge (nfnetlink batch begin and end).
    pub fn without_ack(mut self) -> Self {
        self.ack = false;
        self
    }

    /// Appends raw bytes (a family header such as ifinfomsg), padded to 4 bytes.
    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    /// Appends one attribute.
    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let len = 4 + value.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.push(value)
    }

    pub fn attr_u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.attr(kind, &[v])
    }

    pub fn attr_u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// A big-endian u32, as nfnetlink wants its integers.
    pub fn attr_be32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_be_bytes())
    }

    /// A NUL-terminated string.
    pub fn attr_str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(kind, &v)
    }

    /// Opens a nested attribute; close it with [`Message::end`].
    pub fn begin(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Closes the innermost nested attribute.
    pub fn end(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

/// A reply message: its type and payload (after the netlink header).
pub struct Reply {
    pub msg_type: u16,
    pub payload: Vec<u8>,
}

/// Iterates the attributes in `buf`: (type without flags, value).
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off + 4 > buf.len() {
            return None;
        }
        let len = u16::from_ne_bytes([buf[off], buf[off + 1]]) as usize;
        let kind = u16::from_ne_bytes([buf[off + 2], buf[off + 3]]) & 0x3fff;
        if len < 4 || off + len > buf.len() {
            return None;
        }
        let value = &buf[off + 4..off + len];
        off += align4(len);
        Some((kind, value))
    })
}

/// The header fields of one received message.
struct Header {
    msg_type: u16,
    flags: u16,
    seq: u32,
}

/// Iterates the messages in a received datagram: header and payload; a message whose
/// length runs past the datagram ends the iteration with an error.
fn messages(buf: &[u8]) -> impl Iterator<Item = Result<(Header, &[u8])>> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off + HDR_LEN > buf.len() {
            return None;
        }
        let u16_at = |i: usize| u16::from_ne_bytes([buf[i], buf[i + 1]]);
        let u32_at = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let len = u32_at(off) as usize;
        if len < HDR_LEN || off + len > buf.len() {
            off = buf.len();
            return Some(Err(Error::Protocol("truncated netlink message".into())));
        }
        let h = Header {
            msg_type: u16_at(off + 4),
            flags: u16_at(off + 6),
            seq: u32_at(off + 8),
        };
        let payload = &buf[off + HDR_LEN..off + len];
        off += align4(len);
        Some(Ok((h, payload)))
    })
}

/// A netlink socket bound in the network namespace of the thread that opened it.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    what: &'static str,
}

impl Socket {
    /// Opens a socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER).
    pub fn open(protocol: i32) -> Result<Self> {
        // SAFETY: plain socket(2) call; the returned fd is checked and owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(Error::Io {
                what: "opening a netlink socket".into(),
                err: io::Error::last_os_error(),
            });
        }
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all-zero (pid 0) asks the kernel to pick the
        // port id. Binding is what puts the socket on multicast delivery lists.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: bind with a correctly sized sockaddr_nl.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc < 0 {
            return Err(Error::Io {
                what: "binding a netlink socket".into(),
                err: io::Error::last_os_error(),
            });
        }
        for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: setsockopt with a pointer to a live c_int and its size; failure is
            // harmless (older kernels), so the result is ignored on purpose.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_NETLINK,
                    opt,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as u32,
                );
            }
        }
        Ok(Socket {
            fd,
            seq: 1,
            what: if protocol == NETLINK_ROUTE {
                "rtnetlink"
            } else {
                "nfnetlink"
            },
        })
    }

    fn send(&self, bytes: &[u8]) -> Result<()> {
        // SAFETY: the kernel's netlink address; sockaddr_nl is plain data.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: sendto with a live buffer and a correctly sized sockaddr_nl.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if n < 0 {
            return Err(Error::Io {
                what: format!("sending a {} request", self.what),
                err: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Joins multicast group `group` (e.g. NFNLGRP_NFTABLES): ruleset changes arrive as
    /// messages readable with [`Socket::wait_event`].
    pub fn subscribe(&self, group: u32) -> Result<()> {
        // SAFETY: setsockopt with a pointer to a live u32 and its size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                SOL_NETLINK,
                NETLINK_ADD_MEMBERSHIP,
                &group as *const u32 as *const libc::c_void,
                std::mem::size_of::<u32>() as u32,
            )
        };
        if rc < 0 {
            return Err(Error::Io {
                what: format!("joining {} multicast group {group}", self.what),
                err: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` for multicast messages; returns their types (empty on
    /// timeout). Overruns (ENOBUFS) count as an event: something changed.
    pub fn wait_event(&self, timeout_ms: i32) -> Result<Vec<u16>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n <= 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; 64 * 1024];
        let n = match self.recv(&mut buf) {
            Ok(n) => n,
            Err(Error::Io { err, .. }) if err.raw_os_error() == Some(libc::ENOBUFS) => {
                return Ok(vec![0]);
            }
            Err(e) => return Err(e),
        };
        Ok(messages(&buf[..n])
            .map_while(|m| m.ok())
            .map(|(h, _)| h.msg_type)
            .collect())
    }

    fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            // SAFETY: recv into a live buffer of buf.len() bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(Error::Io {
                    what: format!("reading a {} reply", self.what),
                    err,
                });
            }
        }
    }

    /// Sends one request and waits for its ack; `what` names it in errors.
    pub fn request(&mut self, msg: &mut Message, what: &str) -> Result<()> {
        self.transact(std::slice::from_mut(msg), &[what.to_string()], |_| Ok(()))
    }

    /// Sends a request and collects its reply messages (a get or a dump).
    pub fn query(&mut self, msg: &mut Message, what: &str) -> Result<Vec<Reply>> {
        let mut out = Vec::new();
        self.transact(std::slice::from_mut(msg), &[what.to_string()], |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// Sends `msgs` in one datagram (a batch), each with NLM_F_ACK unless built
    /// [`Message::without_ack`], and waits until every one is acknowledged. `whats[i]` names message i in errors (the last name is reused
    /// when there are fewer names than messages). Data replies go to `on_reply`.
    pub fn transact(
        &mut self,
        msgs: &mut [Message],
        whats: &[String],
        mut on_reply: impl FnMut(Reply) -> Result<()>,
    ) -> Result<()> {
        let first = self.seq;
        let mut out = Vec::new();
        let mut acked: Vec<bool> = msgs.iter().map(|m| !m.ack).collect();
        for m in msgs.iter_mut() {
            if m.ack {
                let flags = u16::from_ne_bytes([m.buf[6], m.buf[7]]) | NLM_F_ACK;
                m.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
            }
            out.extend_from_slice(m.finish(self.seq));
            self.seq = self.seq.wrapping_add(1);
        }
        self.send(&out)?;
        let mut first_err: Option<Error> = None;
        let mut buf = vec![0u8; 64 * 1024];
        while acked.iter().any(|a| !a) {
            let n = self.recv(&mut buf)?;
            for m in messages(&buf[..n]) {
                let (h, payload) = m?;
                let idx = h.seq.wrapping_sub(first) as usize;
                if idx >= acked.len() {
                    continue; // not ours (a stale reply)
                }
                match h.msg_type {
                    NLMSG_ERROR => {
                        acked[idx] = true;
                        let errno = payload
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        if errno != 0 && first_err.is_none() {
                            let what = whats.get(idx).or(whats.last()).cloned().unwrap_or_default();
                            first_err = Some(Error::Netlink {
                                what,
                                errno: io::Error::from_raw_os_error(-errno),
                                ext: ext_ack(payload, h.flags),
                            });
                        }
                    }
                    NLMSG_DONE => acked[idx] = true,
                    _ => {
                        if first_err.is_none() {
                            on_reply(Reply {
                                msg_type: h.msg_type,
                                payload: payload.to_vec(),
                            })?;
                        }
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The kernel's extended ack message, if the error carries one (NETLINK_CAP_ACK is set,
/// so only the original header follows the errno).
fn ext_ack(payload: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || payload.len() < 4 + HDR_LEN {
        return None;
    }
    attrs(&payload[4 + HDR_LEN..])
        .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
        .map(|(_, v)| String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v)).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_have_their_lengths_and_padding() {
        let mut m = Message::new(16, NLM_F_CREATE);
        m.push(&[1, 2, 3]);
        m.begin(18).attr_str(1, "veth").end();
        let bytes = m.finish(7).to_vec();
        // header 16 + family header 3 padded to 4 + nest (4 + child 4+5 padded to 12)
        assert_eq!(bytes.len(), 36);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 36);
        assert_eq!(u16::from_ne_bytes([bytes[20], bytes[21]]), 16);
        let inner: Vec<_> = attrs(&bytes[24..]).collect();
        assert_eq!(inner, vec![(1, &b"veth\0"[..])]);
    }
}
