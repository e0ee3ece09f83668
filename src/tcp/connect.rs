//! The non-blocking connect, and the reset that closes a loser's socket.

use std::future::Future;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::{SockAddr, SockRef, Socket};
use tokio::net::TcpStream;

/// Connects `socket`, made for `addr`, to `addr` (or returns the error making it at the
/// first poll). Dropped before the handshake is over, the attempt lost, and its socket is
/// closed with a reset (see `Pending`).
pub(super) fn connect(socket: io::Result<Socket>, addr: SocketAddr) -> Connect {
    Connect::Start(socket, addr)
}

/// The future of [`connect`], by hand: 48 bytes on x86-64 Linux, where an `async fn`'s
/// keeps room for its arguments beside what it holds while the handshake runs (104).
#[must_use = "futures do nothing unless polled"]
pub(super) enum Connect {
    /// Not polled yet.
    Start(io::Result<Socket>, SocketAddr),
    /// The handshake is under way.
    Pending(Pending),
    /// It has returned.
    Done,
}

impl Future for Connect {
    type Output = io::Result<TcpStream>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Connect::Start(..) = this {
            let Connect::Start(socket, addr) = mem::replace(this, Connect::Done) else {
                unreachable!("just matched");
            };
            *this = Connect::Pending(start(socket, addr)?);
        }
        let Connect::Pending(pending) = this else {
            panic!("a connect polled after it returned");
        };
        // What tokio's own connect does: writable means the handshake is over, and
        // `SO_ERROR` says how it went. (`poll_write_ready` keeps no waiter of its own in
        // this future, as `writable()` would: 100 bytes less per attempt.)
        let ready = ready!(pending.stream().poll_write_ready(cx));
        let Connect::Pending(pending) = mem::replace(this, Connect::Done) else {
            unreachable!("just matched");
        };
        let stream = pending.returned();
        ready?;
        Poll::Ready(match stream.take_error()? {
            Some(e) => Err(e),
            None => Ok(stream),
        })
    }
}

/// Starts the handshake of `socket` (or returns the error making it) to `addr`.
fn start(socket: io::Result<Socket>, addr: SocketAddr) -> io::Result<Pending> {
    let socket = socket?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    // Until the attempt returns, it is a loser if dropped: see `Pending`.
    Ok(Pending(Some(TcpStream::from_std(socket.into())?)))
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
pub(super) struct Pending(Option<TcpStream>);

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

    /// A dial is this one future, and as small as the comment on it says.
    #[test]
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    fn a_connect_is_small() {
        assert_eq!(std::mem::size_of::<super::Connect>(), 48);
    }

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
