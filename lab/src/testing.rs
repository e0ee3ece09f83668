//! Helpers for the lab's own unit tests. Every address is loopback.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// How long a connect must stay pending to count as hanging.
pub(crate) const HANG: Duration = Duration::from_millis(300);

/// The bound on anything a test waits for that should happen at once on loopback: a test
/// whose host misbehaves fails after this instead of hanging.
pub(crate) const PROMPT: Duration = Duration::from_secs(10);

pub(crate) fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

pub(crate) fn v6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::LOCALHOST)
}

pub(crate) fn any_port(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 0)
}

/// `future`'s output, or a panic naming `what` if it takes longer than [`PROMPT`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PROMPT, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: not done after {PROMPT:?}"),
    }
}

/// Asserts that a connect to `addr` is still pending after `HANG` of real time.
pub(crate) async fn assert_hangs(addr: SocketAddr) {
    let start = Instant::now();
    let result = tokio::time::timeout(HANG, TcpStream::connect(addr)).await;
    assert!(result.is_err(), "connect to {addr} finished: {result:?}");
    assert!(start.elapsed() >= HANG, "timeout fired early");
}

/// Asserts that a connect to `addr` is refused (at once: bounded by [`PROMPT`]).
pub(crate) async fn assert_refused(addr: SocketAddr) {
    let error = within("refused connect", TcpStream::connect(addr))
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        io::ErrorKind::ConnectionRefused,
        "{addr}: {error}"
    );
}

/// The rustls error behind a failed handshake.
pub(crate) fn rustls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A TLS connection to `addr` for the server name `name` with `config`; the connect and
/// the handshake are each bounded by [`PROMPT`].
pub(crate) async fn connect_tls(
    addr: SocketAddr,
    name: &str,
    config: ClientConfig,
) -> io::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(name.to_owned()).expect("a valid server name");
    let tcp = within("connect", TcpStream::connect(addr)).await?;
    let connector = TlsConnector::from(Arc::new(config));
    within("handshake", connector.connect(name, tcp)).await
}
