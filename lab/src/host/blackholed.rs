//! [`BlackholedHost`]: a listener whose full accept queue drops every SYN.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::Socket;
use tokio::net::TcpStream;

use super::{bound_socket, local_addr, runtime};

/// Upper bound on filling a blackhole's accept queue (it takes microseconds).
const FILL_TIMEOUT: Duration = Duration::from_secs(5);

/// A listener with backlog 0 and no accept loop whose accept queue is already
/// full (one connection was made to it and is kept): the kernel drops further
/// SYNs, so a connect to it hangs (until the client's own timeout).
///
/// Under a paused Tokio clock such a connect stays pending and lets the clock
/// auto-advance to the caller's timeout.
pub struct BlackholedHost {
    addr: SocketAddr,
    _listener: Socket,
    /// The client end of the connection that fills the accept queue.
    _filler: std::net::TcpStream,
}

impl BlackholedHost {
    /// Binds a listener with backlog 0 on the loopback address `addr` (port 0
    /// picks a free port) and fills its accept queue with one connection.
    ///
    /// Fails with [`io::ErrorKind::TimedOut`] if that connection does not
    /// complete within 5 s (on loopback it takes microseconds).
    pub async fn bind(addr: SocketAddr) -> io::Result<BlackholedHost> {
        runtime()?;
        let socket = bound_socket(addr, true)?;
        socket.listen(0)?;
        let addr = local_addr(&socket)?;
        // On Linux loopback the whole handshake, including the server's
        // handling of the final ACK that queues the connection, runs inside
        // the connect system call, so the queue is full once `connect` has
        // returned (the tests check that the next connect hangs).
        let connect = tokio::time::timeout(FILL_TIMEOUT, TcpStream::connect(addr)).await;
        let filler = connect.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the accept queue of blackhole {addr} did not fill within {FILL_TIMEOUT:?}"
                ),
            )
        })??;
        let filler = filler.into_std()?;
        tracing::debug!(%addr, "blackholed host ready");
        Ok(BlackholedHost {
            addr,
            _listener: socket,
            _filler: filler,
        })
    }

    /// The address the host listens on (and drops SYNs to).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Debug for BlackholedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlackholedHost")
            .field("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, assert_hangs, v4, v6};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blackholed_hangs() {
        for ip in [v4(1), v4(7), v6()] {
            let host = BlackholedHost::bind(any_port(ip)).await.unwrap();
            assert_ne!(host.addr().port(), 0);
            assert_hangs(host.addr()).await;
            // Still a blackhole for the next client.
            assert_hangs(host.addr()).await;
        }
    }

    #[tokio::test]
    async fn blackholed_hangs_current_thread() {
        let host = BlackholedHost::bind(any_port(v4(7))).await.unwrap();
        assert_hangs(host.addr()).await;
    }
}
