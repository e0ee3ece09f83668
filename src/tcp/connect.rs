//! The non-blocking connect, and the reset that closes a loser's socket.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockAddr, SockRef, Socket};
use tokio::net::TcpStream;

/// Connects `socket`, made for `addr`, to `addr` (or returns the error making it at the
/// first poll). Dropped before the handshake is over, the attempt lost, and its socket is
/// closed with a reset (see `Pending`).
///
/// It takes the `Result` so that a dial is this one future (104 bytes on x86-64 Linux),
/// not an `async` block around it (168).
pub(super) async fn connect(socket: io::Result<Socket>, addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    // Until the attempt returns, it is a loser if dropped: see `Pending`.
    let pending = Pending(Some(TcpStream::from_std(socket.into())?));
    // What tokio's own connect does: writable means the handshake is over, and
    // `SO_ERROR` says how it went. (`poll_write_ready` keeps no waiter of its own in
    // this future, as `writable()` would: 100 bytes less per attempt.)
    let ready = poll_fn(|cx| pending.stream().poll_write_ready(cx)).await;
    let stream = pending.returned();
    ready?;
    match stream.take_error()? {
        Some(e) => Err(e),
        None => Ok(stream),
    }
}

/// Whether a non-blocking `connect()` failed only because the handshake is under way.
#[cfg(unix)]
fn in_progress(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EINPROGRESS)
}

/// Whether a non-blocking `connect()` failed only because the handshake is under way
/// (`WSAEWOULDBLOCK`).
#[cfg(not(unix))]
fn in_progress(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

/// A connect in progress. Dropped before it returns, the attempt lost the race (or timed
/// out), and its socket is closed with a reset (`SO_LINGER` 0): a loser whose handshake
/// had completed would otherwise send a FIN and leave the client a socket in `TIME_WAIT`
/// for a minute, one per loser, enough at a high connect rate to use up the ephemeral
/// ports. The server sees a connection reset before any byte. A socket still in
/// `SYN_SENT` closes the same either way.
struct Pending(Option<TcpStream>);

impl Pending {
    fn stream(&self) -> &TcpStream {
        self.0.as_ref().expect("held until returned")
    }

    /// The stream, no longer a possible loser: the attempt returns it, won or failed.
    fn returned(mut self) -> TcpStream {
        self.0.take().expect("held until returned")
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(stream) = &self.0 {
            // Best effort: the socket is closed right after, with or without it.
            let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use crate::{Dial, TcpDialer};

    /// A connect dropped after its handshake completed, as a race drops its losers,
    /// closes with a reset: the server reads `ConnectionReset`, and the client keeps no
    /// socket in `TIME_WAIT`. The control: a connection that was returned closes with a
    /// FIN (the server reads its end).
    #[tokio::test]
    async fn a_dropped_connect_resets_and_a_returned_one_closes() {
        use futures_util::FutureExt;
        use tokio::io::AsyncReadExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        let dialer = TcpDialer::new();
        let mut dial = Box::pin(dialer.dial(dest.into()));
        // One poll sends the SYN; the future has not seen the handshake end yet.
        assert!(dial.as_mut().now_or_never().is_none());
        let (mut served, _) = listener.accept().await.unwrap();
        drop(dial);
        let read = served.read(&mut [0; 1]).await;
        assert_eq!(
            read.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionReset)
        );

        let stream = dialer.dial(dest.into()).await.unwrap();
        let (mut served, _) = listener.accept().await.unwrap();
        drop(stream);
        assert_eq!(served.read(&mut [0; 1]).await.unwrap(), 0);
    }
}
