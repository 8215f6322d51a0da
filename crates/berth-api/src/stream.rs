//! Streaming bodies between async axum and blocking engine code: responses fed by a blocking
//! producer (logs, pulls, events, saves), and request bodies read by a blocking consumer
//! (cp, load, import).

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::Read;
use tokio::sync::mpsc;

/// A sink the producer writes chunks into; `send` is false once the client has gone.
pub struct Sink(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Sink {
    pub fn send(&self, b: impl Into<Bytes>) -> bool {
        self.0.blocking_send(Ok(b.into())).is_ok()
    }
    pub fn closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.send(Bytes::copy_from_slice(buf)) {
            Ok(buf.len())
        } else {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A body whose bytes come from `f` running on a blocking thread.
pub fn blocking_body(f: impl FnOnce(Sink) + Send + 'static) -> Body {
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || f(Sink(tx)));
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// docker's multiplexed-stream frame: `[stream, 0, 0, 0, len(be32)]` + payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[stream, 0, 0, 0]);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A request body as a blocking reader, fed by a task that waits (without blocking the
/// runtime) while the reader is behind; never more than a few chunks in memory.
pub fn body_reader(body: Body) -> BodyReader {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut s = body.into_data_stream();
        while let Some(chunk) = s.next().await {
            if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() {
                return;
            }
        }
    });
    BodyReader {
        rx,
        cur: Bytes::new(),
    }
}

pub struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl BodyReader {
    /// Reads what the consumer left (after an error, or a tar's trailing zero blocks), so the
    /// client, still writing, gets the answer instead of a broken pipe.
    pub fn drain(&mut self) {
        let _ = std::io::copy(self, &mut std::io::sink());
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}
