//! Forwarding a query to the upstream servers, over UDP (TCP when the answer is truncated) or TCP.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

use crate::answer::HEADER_LEN;

/// RCODEs after which the next upstream is worth asking: SERVFAIL, REFUSED.
const TRY_NEXT: [u8; 2] = [2, 5];

/// Asks `upstreams` in turn until one gives a usable answer, all within `budget`; the answer
/// carries the client's query id. `tcp` asks over TCP from the start (the client came over TCP);
/// `max_len` is the largest answer the client takes.
pub(crate) async fn forward(
    query: &[u8],
    upstreams: &[SocketAddr],
    budget: Duration,
    max_len: usize,
    tcp: bool,
) -> Option<Vec<u8>> {
    if query.len() < HEADER_LEN {
        return None;
    }
    let deadline = Instant::now() + budget;
    let mut fallback = None;
    for (i, upstream) in upstreams.iter().enumerate() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Split what is left evenly between this upstream and the ones after it.
        let left = u32::try_from(upstreams.len() - i).unwrap_or(u32::MAX);
        let try_deadline = now + (deadline - now) / left;
        let answer = timeout_at(try_deadline, ask(query, *upstream, max_len, tcp)).await;
        if let Ok(Some(mut answer)) = answer {
            answer[..2].copy_from_slice(&query[..2]);
            if TRY_NEXT.contains(&(answer[3] & 0x0f)) {
                fallback = Some(answer);
                continue;
            }
            return Some(answer);
        }
    }
    fallback
}

/// One upstream, one query: its answer (with our id, not yet the client's), or `None`.
async fn ask(query: &[u8], upstream: SocketAddr, max_len: usize, tcp: bool) -> Option<Vec<u8>> {
    let mut packet = query.to_vec();
    let id = random_id();
    packet[..2].copy_from_slice(&id.to_be_bytes());
    if tcp {
        return ask_tcp(&packet, upstream, id).await;
    }
    let answer = ask_udp(&packet, upstream, id).await?;
    if answer[2] & 0x02 == 0 {
        return Some(answer);
    }
    // Truncated: the whole answer comes over TCP. If it is too big for the client (whose UDP
    // limit the upstream went by), the truncated one goes back and the client retries over TCP.
    match ask_tcp(&packet, upstream, id).await {
        Some(full) if full.len() <= max_len => Some(full),
        _ => Some(answer),
    }
}

async fn ask_udp(packet: &[u8], upstream: SocketAddr, id: u16) -> Option<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    // A fresh socket per query: a random source port, and `connect` filters out other senders.
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(upstream).await.ok()?;
    socket.send(packet).await.ok()?;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let n = socket.recv(&mut buf).await.ok()?;
        if is_answer(&buf[..n], id) {
            buf.truncate(n);
            return Some(buf);
        }
    }
}

async fn ask_tcp(packet: &[u8], upstream: SocketAddr, id: u16) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await.ok()?;
    write_frame(&mut stream, packet).await.ok()?;
    let answer = read_frame(&mut stream).await.ok()?;
    is_answer(&answer, id).then_some(answer)
}

/// Reads one length-prefixed DNS message from a TCP stream.
pub(crate) async fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = stream.read_u16().await?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Writes one length-prefixed DNS message to a TCP stream.
pub(crate) async fn write_frame(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    stream.write_all(&framed).await
}

/// A response (QR set) to our query id.
fn is_answer(packet: &[u8], id: u16) -> bool {
    packet.len() >= HEADER_LEN && packet[..2] == id.to_be_bytes() && packet[2] & 0x80 != 0
}

/// An unpredictable query id (SipHash under the process's random keys, over a counter).
fn random_id() -> u16 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Truncation to 16 bits is the point: any 16 bits of the hash are as good as any other.
    RandomState::new().hash_one(n) as u16
}
