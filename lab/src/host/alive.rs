//! [`AliveHost`]: a listener with an accept loop.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::Socket;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

#[cfg(all(feature = "netns", target_os = "linux"))]
use super::bind_socket;
use super::{bound_socket, local_addr, runtime};

/// Backlog of an alive host's listener.
const ALIVE_BACKLOG: i32 = 4096;
/// Pause after an accept error that is not about one connection (e.g. `EMFILE`).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Counters of an [`AliveHost`].
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
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
    addr: SocketAddr,
    counts: Arc<watch::Sender<Counts>>,
    accept_task: JoinHandle<()>,
    /// A duplicate of the listener's descriptor, shut down on drop.
    listener: Socket,
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
        let runtime = runtime()?;
        socket.listen(ALIVE_BACKLOG)?;
        let addr = local_addr(&socket)?;
        let listener = socket.try_clone()?;
        let accept = TcpListener::from_std(socket.into())?;
        let counts = Arc::new(watch::Sender::new(Counts::default()));
        let accept_task = runtime.spawn(accept_loop(accept, addr, Arc::clone(&counts)));
        tracing::debug!(%addr, "alive host listening");
        Ok(AliveHost {
            addr,
            counts,
            accept_task,
            listener,
        })
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.borrow().accepted
    }

    /// How many accepted connections have not yet been closed by their peer
    /// (no EOF or error read yet).
    pub fn open(&self) -> usize {
        self.counts.borrow().open
    }

    /// Waits until [`open`](Self::open) is `n`; returns at once if it already
    /// is. A value that is only held for an instant may be missed.
    pub async fn wait_open(&self, n: usize) {
        self.wait_for(|counts| counts.open == n).await;
    }

    /// Waits until [`accepted`](Self::accepted) is at least `n`; returns at
    /// once if it already is.
    pub async fn wait_accepted(&self, n: usize) {
        self.wait_for(|counts| counts.accepted >= n).await;
    }

    async fn wait_for(&self, mut done: impl FnMut(&Counts) -> bool) {
        let mut counts = self.counts.subscribe();
        // `self` holds the sender, so the channel cannot close while we wait.
        let closed = counts.wait_for(|c| done(c)).await.is_err();
        if closed {
            tracing::error!(addr = %self.addr, "alive host counters closed");
        }
    }
}

impl fmt::Debug for AliveHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = *self.counts.borrow();
        f.debug_struct("AliveHost")
            .field("addr", &self.addr)
            .field("accepted", &counts.accepted)
            .field("open", &counts.open)
            .finish()
    }
}

impl Drop for AliveHost {
    fn drop(&mut self) {
        self.accept_task.abort();
        // On Linux, shutting down a listening socket takes it out of the
        // listening state right away (new SYNs get RST, queued connections are
        // reset); elsewhere this may fail, and the abort still closes it.
        if let Err(error) = self.listener.shutdown(Shutdown::Both) {
            tracing::trace!(addr = %self.addr, %error, "shutdown of alive listener failed");
        }
        tracing::debug!(addr = %self.addr, "alive host stopped");
    }
}

/// Accepts connections forever, draining each in a task of `connections`
/// (dropping the set, when this task is aborted, aborts them all).
async fn accept_loop(listener: TcpListener, addr: SocketAddr, counts: Arc<watch::Sender<Counts>>) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                counts.send_modify(|c| {
                    c.accepted += 1;
                    c.open += 1;
                });
                tracing::trace!(%addr, %peer, "alive host accepted a connection");
                connections.spawn(drain(stream, addr, peer, Arc::clone(&counts)));
                // Reap finished connection tasks so the set does not grow.
                while connections.try_join_next().is_some() {}
            }
            Err(error) => match error.kind() {
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted => {
                    tracing::trace!(%addr, %error, "accept failed for one connection");
                }
                _ => {
                    tracing::warn!(%addr, %error, "alive host cannot accept, retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}

/// Reads `stream` until EOF or an error, discarding the data, then closes it.
async fn drain(
    mut stream: TcpStream,
    addr: SocketAddr,
    peer: SocketAddr,
    counts: Arc<watch::Sender<Counts>>,
) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                tracing::trace!(%addr, %peer, %error, "alive host read failed");
                break;
            }
        }
    }
    drop(stream);
    counts.send_modify(|c| c.open = c.open.saturating_sub(1));
    tracing::trace!(%addr, %peer, "alive host saw the peer close");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, assert_refused, v4, v6, within};
    use tokio::io::AsyncWriteExt;

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
