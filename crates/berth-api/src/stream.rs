//! Streaming response bodies fed from a blocking producer (logs, pulls, events, saves).

use axum::body::Body;
use bytes::Bytes;
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
