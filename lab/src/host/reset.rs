//! [`ResetHost`]: a listener that resets a connection once the client has spoken.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::SockRef;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::bound_socket;
use super::counts::Counts;
use super::listener::Listener;

/// Counters of a [`ResetHost`].
#[derive(Debug, Clone, Copy, Default)]
struct ResetCounts {
    accepted: usize,
    resets: usize,
}

/// A listener that completes the TCP handshake, reads the first bytes the client sends
/// (for a TLS client, its `ClientHello`), then closes with `SO_LINGER` 0, so the kernel
/// sends a RST instead of a FIN.
///
/// A TLS client sees its handshake fail with [`io::ErrorKind::ConnectionReset`] while it
/// waits for the `ServerHello`. A client that sends nothing waits forever (the host waits
/// for its first byte, or its EOF, which is also answered with a reset).
///
/// Dropping it stops the host, as for an [`AliveHost`](crate::AliveHost).
pub struct ResetHost {
    listener: Listener,
    counts: Counts<ResetCounts>,
}

impl ResetHost {
    /// Binds a listener on the loopback address `addr` (port 0 picks a free port) and
    /// starts accepting.
    pub async fn bind(addr: SocketAddr) -> io::Result<ResetHost> {
        let counts = Counts::new();
        let served = counts.clone();
        let listener = Listener::spawn(bound_socket(addr, true)?, "reset", move |stream, peer| {
            served.update(|c: &mut ResetCounts| c.accepted += 1);
            reset(stream, peer, served.clone())
        })?;
        Ok(ResetHost { listener, counts })
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// How many connections have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.get().accepted
    }

    /// How many connections have been reset so far.
    pub fn resets(&self) -> usize {
        self.counts.get().resets
    }

    /// Waits until [`resets`](Self::resets) is at least `n`; returns at once if it
    /// already is.
    pub async fn wait_resets(&self, n: usize) {
        self.counts.wait_for(|c| c.resets >= n).await;
    }
}

impl fmt::Debug for ResetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts.get();
        f.debug_struct("ResetHost")
            .field("addr", &self.addr())
            .field("accepted", &counts.accepted)
            .field("resets", &counts.resets)
            .finish()
    }
}

/// Waits for the client's first bytes (or its EOF), then closes `stream` with a RST.
async fn reset(mut stream: TcpStream, peer: SocketAddr, counts: Counts<ResetCounts>) {
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf).await {
        Ok(n) => tracing::trace!(%peer, bytes = n, "reset host read the first bytes"),
        Err(error) => tracing::trace!(%peer, %error, "reset host read failed"),
    }
    // Linger 0: `close` discards the socket at once and sends a RST; it does not block.
    if let Err(error) = SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
        tracing::warn!(%peer, %error, "reset host cannot set SO_LINGER 0; it closes with a FIN");
    }
    drop(stream);
    counts.update(|c| c.resets += 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, connect_tls, v4, v6, within};
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn reset_resets_after_the_first_bytes() {
        for ip in [v4(1), v4(11), v6()] {
            let host = ResetHost::bind(any_port(ip)).await.unwrap();
            assert_eq!(host.addr().ip(), ip);
            assert_ne!(host.addr().port(), 0);

            let mut client = within("connect", TcpStream::connect(host.addr()))
                .await
                .unwrap();
            within("accepted == 1", host.counts.wait_for(|c| c.accepted == 1)).await;
            assert_eq!(host.resets(), 0, "reset before the client spoke");
            client
                .write_all(b"\x16\x03\x01 a ClientHello")
                .await
                .unwrap();
            within("resets == 1", host.wait_resets(1)).await;
            let mut buf = [0u8; 16];
            let error = within("read", client.read(&mut buf)).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
            assert_eq!((host.accepted(), host.resets()), (1, 1));
            assert!(format!("{host:?}").contains("resets: 1"));
        }
    }

    #[tokio::test]
    async fn reset_fails_a_tls_handshake_with_connection_reset() {
        let identity = crate::TlsIdentity::new().unwrap();
        let host = ResetHost::bind(any_port(v4(11))).await.unwrap();
        let config = identity.client_config(&crate::LAB_ALPN);
        let error = connect_tls(host.addr(), "www.lab.test", config)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
        within("resets == 1", host.wait_resets(1)).await;
    }
}
