//! A running resolver for one network: UDP and TCP on one address, served by one thread.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep, timeout};

use crate::answer::{decide, Ctx, Outcome};
use crate::forward::{forward, read_frame, write_frame};
use crate::{Error, Result, Zone};

/// Forwarded UDP queries in flight at once; past that, new ones are dropped (clients retry).
const MAX_FORWARDS: usize = 256;
/// TCP connections served at once; past that, new ones are closed.
const MAX_TCP: usize = 64;
/// A TCP connection with nothing to say for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Pause after a failing `recv`/`accept` (EMFILE and the like) so as not to spin.
const ERROR_PAUSE: Duration = Duration::from_millis(20);

/// How a [`Server`] answers; `Options::default()` is docker's behaviour.
#[derive(Clone, Debug)]
pub struct Options {
    /// Servers asked for names that are not containers', in order (usually the host's
    /// resolv.conf nameservers, see [`crate::host_upstreams`]). None: such names get SERVFAIL.
    pub upstreams: Vec<SocketAddr>,
    /// How long all upstreams together get to answer one query before SERVFAIL.
    pub timeout: Duration,
    /// TTL of the records answered from the zone.
    pub ttl: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            upstreams: Vec::new(),
            timeout: Duration::from_secs(2),
            ttl: 600,
        }
    }
}

/// A running resolver for one network, listening on one address over UDP and TCP.
///
/// It runs on a thread of its own (a current-thread tokio runtime), answers container names from
/// the [`Zone`] entries of its network and forwards the rest. Dropping it stops the thread and
/// waits for it (a few milliseconds; in async code, drop it inside `spawn_blocking`).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    zone: Zone,
    network: String,
    ttl: u32,
    timeout: Duration,
    local: SocketAddr,
    upstreams: RwLock<Arc<Vec<SocketAddr>>>,
    rotate: AtomicUsize,
}

impl Server {
    /// Starts a resolver for `network` on `bind` (port 0: any free port, the same for UDP and
    /// TCP; see [`Server::local_addr`]) with the default [`Options`] and these upstreams.
    pub fn start(
        bind: SocketAddr,
        network: &str,
        zone: Zone,
        upstreams: Vec<SocketAddr>,
    ) -> Result<Server> {
        let options = Options {
            upstreams,
            ..Options::default()
        };
        Server::start_with(bind, network, zone, options)
    }

    /// Starts a resolver for `network` on `bind` with `options`. Both sockets are bound before
    /// this returns, so an error (address not on this host, port taken, no privilege for port 53)
    /// comes back here.
    pub fn start_with(
        bind: SocketAddr,
        network: &str,
        zone: Zone,
        options: Options,
    ) -> Result<Server> {
        let (udp, tcp) = bind_pair(bind)?;
        let local = udp.local_addr().map_err(|e| Error::Bind(bind, e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(Error::Start)?;
        let (udp, tcp) = {
            let _entered = runtime.enter();
            let udp = UdpSocket::from_std(udp).map_err(|e| Error::Bind(local, e))?;
            let tcp = TcpListener::from_std(tcp).map_err(|e| Error::Bind(local, e))?;
            (udp, tcp)
        };
        let shared = Arc::new(Shared {
            zone,
            network: network.to_string(),
            ttl: options.ttl,
            timeout: options.timeout,
            local,
            upstreams: RwLock::new(Arc::new(Vec::new())),
            rotate: AtomicUsize::new(0),
        });
        shared.set_upstreams(options.upstreams);
        let (stop, stopped) = oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("berth-dns".into())
            .spawn(move || runtime.block_on(serve(serving, udp, tcp, stopped)))
            .map_err(Error::Start)?;
        Ok(Server {
            addr: local,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address both sockets listen on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The network this resolver answers for.
    pub fn network(&self) -> &str {
        &self.shared.network
    }

    /// Replaces the upstream servers (the host's resolv.conf changed); queries already being
    /// forwarded finish with the old ones. This server's own address is left out (no loops).
    pub fn set_upstreams(&self, upstreams: Vec<SocketAddr>) {
        self.shared.set_upstreams(upstreams);
    }

    /// Stops the resolver and waits for its thread (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the thread has already ended; joining tells the rest.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn set_upstreams(&self, mut upstreams: Vec<SocketAddr>) {
        upstreams.retain(|u| *u != self.local);
        *self
            .upstreams
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(upstreams);
    }

    fn upstreams(&self) -> Arc<Vec<SocketAddr>> {
        let guard = self
            .upstreams
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }

    fn decide(&self, packet: &[u8], client: SocketAddr, udp: bool) -> Outcome {
        let client = match client.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(ip) => ip.to_ipv4_mapped(),
        };
        let ctx = Ctx {
            zone: &self.zone,
            network: &self.network,
            client,
            ttl: self.ttl,
            rotate: self.rotate.fetch_add(1, Ordering::Relaxed),
            udp,
        };
        decide(packet, &ctx)
    }

    /// The upstream answer to `packet`, or `servfail` if there is none in time.
    async fn forward(
        &self,
        packet: &[u8],
        servfail: Vec<u8>,
        max_len: usize,
        tcp: bool,
    ) -> Vec<u8> {
        let upstreams = self.upstreams();
        forward(packet, &upstreams, self.timeout, max_len, tcp)
            .await
            .unwrap_or(servfail)
    }
}

/// Binds UDP on `bind`, then TCP on the same address and port (retrying a few ephemeral ports
/// when `bind` asks for any port and TCP's is taken).
fn bind_pair(bind: SocketAddr) -> Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let tries = if bind.port() == 0 { 16 } else { 1 };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = std::net::UdpSocket::bind(bind).map_err(|e| Error::Bind(bind, e))?;
        let addr = udp.local_addr().map_err(|e| Error::Bind(bind, e))?;
        match std::net::TcpListener::bind(addr) {
            Ok(tcp) => {
                udp.set_nonblocking(true)
                    .map_err(|e| Error::Bind(addr, e))?;
                tcp.set_nonblocking(true)
                    .map_err(|e| Error::Bind(addr, e))?;
                return Ok((udp, tcp));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < tries => {}
            Err(e) => return Err(Error::Bind(addr, e)),
        }
    }
}

/// The server's loop: UDP queries and TCP connections until `stopped` fires. Tasks still running
/// (forwards, TCP connections) are dropped with the runtime when this returns.
async fn serve(
    shared: Arc<Shared>,
    udp: UdpSocket,
    tcp: TcpListener,
    mut stopped: oneshot::Receiver<()>,
) {
    let udp = Arc::new(udp);
    let forwards = Arc::new(Semaphore::new(MAX_FORWARDS));
    let connections = Arc::new(Semaphore::new(MAX_TCP));
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            received = udp.recv_from(&mut buf) => match received {
                Ok((n, peer)) => {
                    let packet = &buf[..n];
                    match shared.decide(packet, peer, true) {
                        Outcome::Reply(bytes) => {
                            // A client that went away is its own problem.
                            let _ = udp.send_to(&bytes, peer).await;
                        }
                        Outcome::Forward { servfail, max_len } => {
                            let Ok(permit) = Arc::clone(&forwards).try_acquire_owned() else {
                                continue;
                            };
                            let (shared, udp, packet) =
                                (Arc::clone(&shared), Arc::clone(&udp), packet.to_vec());
                            tokio::spawn(async move {
                                let answer = shared.forward(&packet, servfail, max_len, false).await;
                                let _ = udp.send_to(&answer, peer).await;
                                drop(permit);
                            });
                        }
                        Outcome::Drop => {}
                    }
                }
                Err(_) => sleep(ERROR_PAUSE).await,
            },
            accepted = tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Ok(permit) = Arc::clone(&connections).try_acquire_owned() {
                        tokio::spawn(serve_tcp(Arc::clone(&shared), stream, peer, permit));
                    }
                }
                Err(_) => sleep(ERROR_PAUSE).await,
            },
        }
    }
}

/// One TCP client: length-prefixed queries answered in order until it closes or idles.
async fn serve_tcp(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    loop {
        let Ok(Ok(packet)) = timeout(TCP_IDLE, read_frame(&mut stream)).await else {
            return;
        };
        let answer = match shared.decide(&packet, peer, false) {
            Outcome::Reply(bytes) => bytes,
            Outcome::Forward { servfail, max_len } => {
                shared.forward(&packet, servfail, max_len, true).await
            }
            Outcome::Drop => return,
        };
        let written = timeout(TCP_IDLE, write_frame(&mut stream, &answer)).await;
        if !matches!(written, Ok(Ok(()))) {
            return;
        }
    }
}
