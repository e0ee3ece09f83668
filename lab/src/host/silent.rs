//! [`SilentHost`]: a listener that accepts and never says a word.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

use super::counts::Counts;
use super::listener::Listener;
use super::{bound_socket, discard};

/// Counters of a [`SilentHost`].
#[derive(Debug, Clone, Copy, Default)]
struct SilentCounts {
    accepted: usize,
}

/// A listener that completes the TCP handshake and then never answers: every accepted
/// connection is read and its data discarded, and it is never closed, not even after the
/// peer's EOF, until the host is dropped.
///
/// To a TLS client this is a server that never sends its `ServerHello`: the handshake
/// hangs until the client gives up. Under a paused Tokio clock such a handshake stays
/// pending and lets the clock auto-advance to the caller's timeout. (An
/// [`AliveHost`](crate::AliveHost) is as quiet, but closes when its peer does.)
///
/// Dropping it stops the host, as for an [`AliveHost`](crate::AliveHost).
pub struct SilentHost {
    listener: Listener,
    counts: Counts<SilentCounts>,
}

impl SilentHost {
    /// Binds a listener on the loopback address `addr` (port 0 picks a free port) and
    /// starts accepting.
    pub async fn bind(addr: SocketAddr) -> io::Result<SilentHost> {
        let counts = Counts::new();
        let served = counts.clone();
        let listener =
            Listener::spawn(bound_socket(addr, true)?, "silent", move |stream, peer| {
                served.update(|c: &mut SilentCounts| c.accepted += 1);
                ignore(stream, peer)
            })?;
        Ok(SilentHost { listener, counts })
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// How many connections have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.get().accepted
    }

    /// Waits until [`accepted`](Self::accepted) is at least `n`; returns at once if it
    /// already is.
    pub async fn wait_accepted(&self, n: usize) {
        self.counts.wait_for(|c| c.accepted >= n).await;
    }
}

impl fmt::Debug for SilentHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SilentHost")
            .field("addr", &self.addr())
            .field("accepted", &self.accepted())
            .finish()
    }
}

/// Reads `stream` until EOF or an error, discarding the data, then holds it open until
/// the task is aborted (when the host is dropped).
async fn ignore(mut stream: TcpStream, peer: SocketAddr) {
    discard(&mut stream, peer, "silent").await;
    tracing::trace!(%peer, "silent host keeps a closed connection open");
    std::future::pending::<()>().await;
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, assert_refused, v4, v6, within};
    use rustls::pki_types::ServerName;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::TlsConnector;

    #[tokio::test]
    async fn silent_accepts_and_never_answers_nor_closes() {
        for ip in [v4(1), v4(10), v6()] {
            let host = SilentHost::bind(any_port(ip)).await.unwrap();
            assert_eq!(host.addr().ip(), ip);
            assert_ne!(host.addr().port(), 0);
            assert_eq!(host.accepted(), 0);

            let mut client = within("connect", TcpStream::connect(host.addr()))
                .await
                .unwrap();
            client.write_all(b"hello?").await.unwrap();
            // The client's half-close is not answered by a close.
            client.shutdown().await.unwrap();
            within("accepted == 1", host.wait_accepted(1)).await;
            let mut buf = [0u8; 16];
            let read = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf));
            assert!(read.await.is_err(), "the silent host answered or closed");
            assert!(format!("{host:?}").contains("accepted: 1"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silent_lets_a_paused_clock_run_to_the_timeout() {
        let host = SilentHost::bind(any_port(v4(10))).await.unwrap();
        let t0 = tokio::time::Instant::now();
        let mut client = TcpStream::connect(host.addr()).await.unwrap();
        host.wait_accepted(1).await;
        assert_eq!(
            tokio::time::Instant::now(),
            t0,
            "accepting took virtual time"
        );
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(30), client.read(&mut buf)).await;
        assert!(read.is_err(), "{read:?}");
        assert_eq!(t0.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn silent_hangs_a_tls_handshake_under_a_paused_clock() {
        let identity = crate::TlsIdentity::new().unwrap();
        let host = SilentHost::bind(any_port(v6())).await.unwrap();
        let connector = TlsConnector::from(Arc::new(identity.client_config(&crate::LAB_ALPN)));
        let name = ServerName::try_from("www.lab.test").unwrap();
        let t0 = tokio::time::Instant::now();
        let tcp = TcpStream::connect(host.addr()).await.unwrap();
        let handshake = connector.connect(name, tcp);
        let result = tokio::time::timeout(Duration::from_secs(30), handshake).await;
        assert!(result.is_err(), "the handshake ended: {result:?}");
        // The connect took no virtual time; the handshake waited for the whole timeout.
        assert_eq!(t0.elapsed(), Duration::from_secs(30));
        assert_eq!(host.accepted(), 1);
    }

    #[tokio::test]
    async fn silent_host_drop_closes_everything() {
        let host = SilentHost::bind(any_port(v4(10))).await.unwrap();
        let addr = host.addr();
        let mut client = within("connect", TcpStream::connect(addr)).await.unwrap();
        within("accepted == 1", host.wait_accepted(1)).await;
        drop(host);
        assert_refused(addr).await;
        let mut buf = [0u8; 16];
        let read = within("read after drop", client.read(&mut buf)).await;
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
}
