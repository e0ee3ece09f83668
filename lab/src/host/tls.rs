//! [`TlsHost`]: a listener that completes TLS handshakes, then drains.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use socket2::Socket;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

#[cfg(all(feature = "netns", target_os = "linux"))]
use super::bind_socket;
use super::counts::Counts;
use super::listener::Listener;
use super::{bound_socket, discard};

/// Counters of a [`TlsHost`].
#[derive(Debug, Clone, Copy, Default)]
struct TlsCounts {
    accepted: usize,
    handshakes: usize,
    failed_handshakes: usize,
}

/// A listener that completes a TLS handshake (tokio-rustls) on every accepted connection,
/// then reads and discards until EOF, like an [`AliveHost`](crate::AliveHost), and never
/// answers.
///
/// It counts accepted connections, completed handshakes and failed ones, so a test can
/// see which attempts of a racing client got as far as TLS. With the configuration of a
/// [`TlsIdentity`](crate::TlsIdentity) a client trusting it completes the handshake (and
/// gets the ALPN protocol the two agree on); with a certificate the client does not
/// trust, the client aborts the handshake and the host counts a failure.
///
/// Dropping it stops the host, as for an [`AliveHost`](crate::AliveHost).
pub struct TlsHost {
    listener: Listener,
    counts: Counts<TlsCounts>,
    /// The server's work per handshake, in microseconds (see
    /// [`set_handshake_work`](Self::set_handshake_work)).
    work: Arc<AtomicU64>,
}

impl TlsHost {
    /// Binds a listener on the loopback address `addr` (port 0 picks a free port) and
    /// starts accepting, handshaking with `server_config` (for example
    /// [`TlsIdentity::server_config`](crate::TlsIdentity::server_config)).
    pub async fn bind(addr: SocketAddr, server_config: Arc<ServerConfig>) -> io::Result<TlsHost> {
        Self::listen(bound_socket(addr, true)?, server_config)
    }

    /// [`bind`](Self::bind) on any address, for the network-namespace lab's server side.
    #[cfg(all(feature = "netns", target_os = "linux"))]
    pub(crate) fn bind_in_netns(
        addr: SocketAddr,
        server_config: Arc<ServerConfig>,
    ) -> io::Result<TlsHost> {
        Self::listen(bind_socket(addr, true)?, server_config)
    }

    fn listen(socket: Socket, server_config: Arc<ServerConfig>) -> io::Result<TlsHost> {
        let acceptor = TlsAcceptor::from(server_config);
        let counts = Counts::new();
        let served = counts.clone();
        let work = Arc::new(AtomicU64::new(0));
        let each = Arc::clone(&work);
        let listener = Listener::spawn(socket, "tls", move |stream, peer| {
            served.update(|c: &mut TlsCounts| c.accepted += 1);
            let work = Duration::from_micros(each.load(Ordering::Relaxed));
            handshake(acceptor.clone(), stream, peer, served.clone(), work)
        })?;
        Ok(TlsHost {
            listener,
            counts,
            work,
        })
    }

    /// Makes every handshake from now on take `work` longer on the server's side: the
    /// host waits that long after the client's first flight (its `ClientHello`) has
    /// arrived before it answers, as a busy server or a slow key exchange would. Zero by
    /// default.
    pub fn set_handshake_work(&self, work: Duration) {
        let micros = u64::try_from(work.as_micros()).unwrap_or(u64::MAX);
        self.work.store(micros, Ordering::Relaxed);
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// How many connections have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.get().accepted
    }

    /// How many TLS handshakes have completed so far.
    pub fn handshakes(&self) -> usize {
        self.counts.get().handshakes
    }

    /// How many TLS handshakes have failed so far: the client rejected the certificate,
    /// spoke something else than TLS, or closed the connection first.
    pub fn failed_handshakes(&self) -> usize {
        self.counts.get().failed_handshakes
    }

    /// Waits until [`accepted`](Self::accepted) is at least `n`; returns at once if it
    /// already is.
    pub async fn wait_accepted(&self, n: usize) {
        self.counts.wait_for(|c| c.accepted >= n).await;
    }

    /// Waits until [`handshakes`](Self::handshakes) is at least `n`; returns at once if it
    /// already is.
    pub async fn wait_handshakes(&self, n: usize) {
        self.counts.wait_for(|c| c.handshakes >= n).await;
    }

    /// Waits until [`failed_handshakes`](Self::failed_handshakes) is at least `n`; returns
    /// at once if it already is.
    pub async fn wait_failed_handshakes(&self, n: usize) {
        self.counts.wait_for(|c| c.failed_handshakes >= n).await;
    }
}

impl fmt::Debug for TlsHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts.get();
        f.debug_struct("TlsHost")
            .field("addr", &self.addr())
            .field("accepted", &counts.accepted)
            .field("handshakes", &counts.handshakes)
            .field("failed_handshakes", &counts.failed_handshakes)
            .finish()
    }
}

/// Completes the server side of a TLS handshake on `stream`, `work` after the client's
/// first flight arrived, then reads it until EOF, discarding the data.
async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    counts: Counts<TlsCounts>,
    work: Duration,
) {
    if !work.is_zero() {
        if stream.readable().await.is_err() {
            return;
        }
        tokio::time::sleep(work).await;
    }
    match acceptor.accept(stream).await {
        Ok(tls) => {
            let alpn = tls.get_ref().1.alpn_protocol().map(String::from_utf8_lossy);
            tracing::trace!(%peer, ?alpn, "TLS host completed a handshake");
            counts.update(|c| c.handshakes += 1);
            discard(tls, peer, "tls").await;
            tracing::trace!(%peer, "TLS host saw the peer close");
        }
        Err(error) => {
            tracing::trace!(%peer, %error, "TLS handshake failed");
            counts.update(|c| c.failed_handshakes += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, connect_tls, rustls_error, v4, v6, within};
    use crate::{TlsIdentity, LAB_ALPN};
    use rustls::CertificateError;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn tls_handshakes_and_agrees_on_alpn() {
        let identity = TlsIdentity::new().unwrap();
        for ip in [v4(1), v4(12), v6()] {
            let host = TlsHost::bind(any_port(ip), identity.server_config(&LAB_ALPN))
                .await
                .unwrap();
            assert_eq!(host.addr().ip(), ip);
            assert_ne!(host.addr().port(), 0);

            let h2 = identity.client_config(&[b"h2"]);
            let mut tls = connect_tls(host.addr(), "www.lab.test", h2).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            within("handshakes == 1", host.wait_handshakes(1)).await;
            tls.write_all(b"discarded").await.unwrap();

            let http1 = identity.client_config(&[b"http/1.1"]);
            let tls = connect_tls(host.addr(), "lab.test", http1).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
            // Both offered: the server's preference, h2, wins.
            let both = identity.client_config(&[b"http/1.1", b"h2"]);
            let tls = connect_tls(host.addr(), "localhost", both).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let none = identity.client_config(&[]);
            let tls = connect_tls(host.addr(), &ip.to_string(), none)
                .await
                .unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), None);

            within("handshakes == 4", host.wait_handshakes(4)).await;
            assert_eq!(
                (host.accepted(), host.handshakes(), host.failed_handshakes()),
                (4, 4, 0)
            );
            assert!(format!("{host:?}").contains("handshakes: 4"));
        }
    }

    /// The server's work delays each handshake by that much, from the client's first
    /// flight on; the TCP connect is not delayed.
    #[tokio::test]
    async fn handshake_work_slows_every_handshake() {
        let identity = TlsIdentity::new().unwrap();
        let host = TlsHost::bind(any_port(v4(14)), identity.server_config(&LAB_ALPN))
            .await
            .unwrap();
        let work = Duration::from_millis(50);
        host.set_handshake_work(work);
        for _ in 0..2 {
            let start = std::time::Instant::now();
            let config = identity.client_config(&LAB_ALPN);
            connect_tls(host.addr(), "www.lab.test", config)
                .await
                .unwrap();
            assert!(start.elapsed() >= work, "{:?}", start.elapsed());
        }
        host.set_handshake_work(Duration::ZERO);
        within("handshakes == 2", host.wait_handshakes(2)).await;
    }

    #[tokio::test]
    async fn tls_with_an_untrusted_certificate_fails_the_handshake() {
        let trusted = TlsIdentity::new().unwrap();
        let untrusted = TlsIdentity::new().unwrap();
        let host = TlsHost::bind(any_port(v4(13)), untrusted.server_config(&LAB_ALPN))
            .await
            .unwrap();
        let config = trusted.client_config(&LAB_ALPN);
        let error = connect_tls(host.addr(), "www.lab.test", config)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        assert_eq!(
            rustls_error(&error),
            Some(&rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "{error:?}"
        );
        within("failed == 1", host.wait_failed_handshakes(1)).await;
        assert_eq!((host.accepted(), host.handshakes()), (1, 0));
    }
}
