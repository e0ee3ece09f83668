//! [`Listener`]: a listening socket whose accept loop hands every connection to its host.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use socket2::Socket;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::{local_addr, runtime};

/// Backlog of every listening host.
const BACKLOG: i32 = 4096;
/// Pause after an accept error that is not about one connection (e.g. `EMFILE`).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A listening socket with an accept loop; each accepted connection is served by its
/// host's function in a task of its own.
///
/// Dropping it stops the loop and every connection task (which closes the listener and
/// the accepted sockets once the runtime gets to them). On Linux the listener also stops
/// listening at once, so a connect made right after the drop is refused.
pub(super) struct Listener {
    addr: SocketAddr,
    /// `"alive"`, `"silent"`…: what the host is, for the logs.
    name: &'static str,
    accept_task: JoinHandle<()>,
    /// A duplicate of the listener's descriptor, shut down on drop.
    socket: Socket,
}

impl Listener {
    /// Listens on the bound `socket` and spawns the accept loop, which calls `serve` with
    /// each accepted connection and its peer and runs the future it returns in a task.
    pub(super) fn spawn<S, F>(socket: Socket, name: &'static str, serve: S) -> io::Result<Listener>
    where
        S: FnMut(TcpStream, SocketAddr) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = runtime()?;
        socket.listen(BACKLOG)?;
        let addr = local_addr(&socket)?;
        let duplicate = socket.try_clone()?;
        let accept = TcpListener::from_std(socket.into())?;
        let accept_task = runtime.spawn(accept_loop(accept, addr, name, serve));
        tracing::debug!(%addr, name, "host listening");
        Ok(Listener {
            addr,
            name,
            accept_task,
            socket: duplicate,
        })
    }

    /// The address the listener is bound to.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.accept_task.abort();
        // On Linux, shutting down a listening socket takes it out of the
        // listening state right away (new SYNs get RST, queued connections are
        // reset); elsewhere this may fail, and the abort still closes it.
        if let Err(error) = self.socket.shutdown(Shutdown::Both) {
            tracing::trace!(addr = %self.addr, name = self.name, %error, "shutdown of listener failed");
        }
        tracing::debug!(addr = %self.addr, name = self.name, "host stopped");
    }
}

/// Accepts connections forever, serving each in a task of `connections` (dropping the
/// set, when this task is aborted, aborts them all).
async fn accept_loop<S, F>(
    listener: TcpListener,
    addr: SocketAddr,
    name: &'static str,
    mut serve: S,
) where
    S: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::trace!(%addr, %peer, name, "host accepted a connection");
                connections.spawn(serve(stream, peer));
                // Reap finished connection tasks so the set does not grow.
                while connections.try_join_next().is_some() {}
            }
            Err(error) => match error.kind() {
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted => {
                    tracing::trace!(%addr, name, %error, "accept failed for one connection");
                }
                _ => {
                    tracing::warn!(%addr, name, %error, "host cannot accept, retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}
