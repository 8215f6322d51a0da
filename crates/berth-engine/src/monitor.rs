//! Container exits, watched by one thread: each running container's shim gets a `wait`
//! request on a connection of its own, and one epoll loop reads the replies as they come,
//! so idle containers cost no thread. Each exit is then handled on a short-lived thread.

use crate::engine::Engine;
use berth_shim::ExitInfo;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The epoll set of shim connections and what each one is for.
pub(crate) struct Watcher {
    epoll: Epoll,
    watches: Mutex<HashMap<u64, Watch>>,
    next: AtomicU64,
}

struct Watch {
    id: String,
    dir: PathBuf,
    stream: UnixStream,
    got: Vec<u8>,
}

impl Watcher {
    /// The watcher and its thread (None if either cannot be had).
    pub(crate) fn start(engine: Weak<Engine>) -> Option<Arc<Watcher>> {
        let w = Arc::new(Watcher {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).ok()?,
            watches: Mutex::default(),
            next: AtomicU64::new(1),
        });
        let me = Arc::clone(&w);
        std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || me.run(engine))
            .ok()?;
        Some(w)
    }

    /// Watch `stream` (a `start_wait` connection) for container `id`'s exit.
    fn add(&self, id: &str, dir: PathBuf, stream: UnixStream) -> nix::Result<()> {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        self.epoll
            .add(&stream, EpollEvent::new(EpollFlags::EPOLLIN, token))?;
        watches.insert(
            token,
            Watch {
                id: id.to_string(),
                dir,
                stream,
                got: Vec::new(),
            },
        );
        Ok(())
    }

    fn run(&self, engine: Weak<Engine>) {
        let mut events = vec![EpollEvent::empty(); 64];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            for ev in &events[..n] {
                let Some((id, info)) = self.read(ev.data()) else {
                    continue;
                };
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                let handled = std::thread::Builder::new()
                    .name("exit".into())
                    .spawn(move || engine.handle_exit(&id, info));
                // No thread to spare: the next daemon start collects the exit.
                drop(handled);
            }
        }
    }

    /// Reads what connection `token` has; its container's exit once the reply is complete
    /// (the watch is then dropped).
    fn read(&self, token: u64) -> Option<(String, ExitInfo)> {
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        let w = watches.get_mut(&token)?;
        let mut buf = [0u8; 512];
        let mut ended = false;
        loop {
            match w.stream.read(&mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => w.got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        let reply = berth_shim::wait_reply(&w.dir, &w.got, ended)?;
        let w = watches.remove(&token)?;
        let _ = self.epoll.delete(&w.stream);
        Some((w.id, reply.unwrap_or_else(|_| crate::exit::lost_shim())))
    }
}

impl Engine {
    /// Watch a running container until its process ends, then handle the exit.
    pub(crate) fn monitor(self: &Arc<Self>, id: &str) {
        let dir = self.container_dir(id);
        let watcher = self
            .watcher
            .get_or_init(|| Watcher::start(Arc::downgrade(self)));
        let watched = match (watcher, berth_shim::start_wait(&dir)) {
            (Some(w), Ok(stream)) => w.add(id, dir.clone(), stream).is_ok(),
            _ => false,
        };
        if !watched {
            // The shim is gone already (its record tells how it ended), or no watcher.
            let info = berth_shim::read_exit(&dir)
                .ok()
                .flatten()
                .unwrap_or_else(crate::exit::lost_shim);
            let me = Arc::clone(self);
            let id = id.to_string();
            let spawned = std::thread::Builder::new()
                .name("exit".into())
                .spawn(move || me.handle_exit(&id, info));
            // No thread to spare: the next daemon start collects the exit.
            drop(spawned);
        }
    }
}
