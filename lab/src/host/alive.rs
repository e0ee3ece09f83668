//! [`AliveHost`]: a listener with an accept loop.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::Socket;
use tokio::net::TcpStream;

#[cfg(all(feature = "netns", target_os = "linux"))]
use super::bind_socket;
use super::counts::Counts;
use super::listener::Listener;
use super::{bound_socket, discard};

/// Counters of an [`AliveHost`].
#[derive(Debug, Clone, Copy, Default)]
struct AliveCounts {
    accepted: usize,
    open: usize,
}

/// A listener with an accept loop. Every accepted connection is read until
/// EOF (data discarded) in its own task.
///
/// Dropping it stops the host: its tasks are aborted, which closes the
/// listener and the accepted sockets once the runtime gets to them. On Linux
/// the listener also stops listening at once, so a connect made right after
/// the drop is refused.
pub struct AliveHost {
    listener: Listener,
    counts: Counts<AliveCounts>,
}

impl AliveHost {
    /// Binds a listener on the loopback address `addr` (port 0 picks a free
    /// port) and starts accepting.
    pub async fn bind(addr: SocketAddr) -> io::Result<AliveHost> {
        Self::listen(bound_socket(addr, true)?)
    }

    /// [`bind`](Self::bind) on any address, for the network-namespace lab's server side.
    #[cfg(all(feature = "netns", target_os = "linux"))]
    pub(crate) fn bind_in_netns(addr: SocketAddr) -> io::Result<AliveHost> {
        Self::listen(bind_socket(addr, true)?)
    }

    fn listen(socket: Socket) -> io::Result<AliveHost> {
        let counts = Counts::new();
        let served = counts.clone();
        let listener = Listener::spawn(socket, "alive", move |stream, peer| {
            served.update(|c: &mut AliveCounts| {
                c.accepted += 1;
                c.open += 1;
            });
            drain(stream, peer, served.clone())
        })?;
        Ok(AliveHost { listener, counts })
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// How many connections have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.get().accepted
    }

    /// How many accepted connections have not yet been closed by their peer
    /// (no EOF or error read yet).
    pub fn open(&self) -> usize {
        self.counts.get().open
    }

    /// Waits until [`open`](Self::open) is `n`; returns at once if it already
    /// is. A value that is only held for an instant may be missed.
    pub async fn wait_open(&self, n: usize) {
        self.counts.wait_for(|c| c.open == n).await;
    }

    /// Waits until [`accepted`](Self::accepted) is at least `n`; returns at
    /// once if it already is.
    pub async fn wait_accepted(&self, n: usize) {
        self.counts.wait_for(|c| c.accepted >= n).await;
    }
}

impl fmt::Debug for AliveHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts.get();
        f.debug_struct("AliveHost")
            .field("addr", &self.addr())
            .field("accepted", &counts.accepted)
            .field("open", &counts.open)
            .finish()
    }
}

/// Reads `stream` until EOF or an error, discarding the data, then closes it.
async fn drain(stream: TcpStream, peer: SocketAddr, counts: Counts<AliveCounts>) {
    discard(stream, peer, "alive").await;
    counts.update(|c| c.open = c.open.saturating_sub(1));
    tracing::trace!(%peer, "alive host saw the peer close");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, assert_refused, v4, v6, within};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn alive_counts_connections() {
        for ip in [v4(1), v4(9), v6()] {
            let host = AliveHost::bind(any_port(ip)).await.unwrap();
            assert_eq!(host.addr().ip(), ip);
            assert_ne!(host.addr().port(), 0);
            assert_eq!((host.accepted(), host.open()), (0, 0));
            within("open == 0", host.wait_open(0)).await;

            let mut client = within("connect", TcpStream::connect(host.addr()))
                .await
                .unwrap();
            client.write_all(b"discarded").await.unwrap();
            within("accepted == 1", host.wait_accepted(1)).await;
            within("open == 1", host.wait_open(1)).await;
            assert_eq!((host.accepted(), host.open()), (1, 1));

            let second = within("connect", TcpStream::connect(host.addr()))
                .await
                .unwrap();
            within("open == 2", host.wait_open(2)).await;
            drop(client);
            within("open == 1", host.wait_open(1)).await;
            drop(second);
            within("open == 0", host.wait_open(0)).await;
            assert_eq!((host.accepted(), host.open()), (2, 0));
            assert!(format!("{host:?}").contains("accepted: 2"));
        }
    }

    #[tokio::test]
    async fn alive_host_drop_closes_everything() {
        let host = AliveHost::bind(any_port(v4(5))).await.unwrap();
        let addr = host.addr();
        let mut client = within("connect", TcpStream::connect(addr)).await.unwrap();
        within("open == 1", host.wait_open(1)).await;
        drop(host);
        // The listener stopped listening synchronously.
        assert_refused(addr).await;
        // The accepted socket is closed once the aborted task is dropped.
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
}
