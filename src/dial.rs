//! The dial seam: [`Dial`] opens one connection; [`TcpDialer`](crate::TcpDialer) is the
//! default.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// Opens one connection to one address: the thing a race runs many of at once.
///
/// The race engine knows nothing of sockets; it calls [`dial`](Self::dial) once per
/// address and keeps the first `Ok` it gets, dropping every other attempt's future (so a
/// dialer must clean up on drop, as tokio's sockets do). Implement it to race something
/// other than a plain TCP connect, such as a TCP connect followed by a TLS handshake, or to
/// simulate a network in tests.
///
/// Any `Fn(SocketAddr) -> impl Future<Output = io::Result<C>>` is a dialer:
///
/// ```no_run
/// # async fn doc() -> Result<(), connie::ConnectError> {
/// use connie::ConnieConnector;
/// use tokio::net::TcpStream;
///
/// let connector = ConnieConnector::new().with_dialer(|addr| async move {
///     let stream = TcpStream::connect(addr).await?;
///     // ... a handshake here makes it part of the race ...
///     Ok(stream)
/// });
/// let (stream, info) = connector.connect("example.com:443").await?;
/// # drop((stream, info)); Ok(()) }
/// ```
pub trait Dial {
    /// What a successful dial produces.
    type Connection;

    /// Starts connecting to `addr`.
    fn dial(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Connection>> + Send;

    /// The local address of `conn`, if it has one; reported in
    /// [`ConnectInfo::local_addr`](crate::ConnectInfo::local_addr). Default is `None`.
    fn local_addr(&self, conn: &Self::Connection) -> Option<SocketAddr> {
        let _ = conn;
        None
    }
}

impl<F, Fut, C> Dial for F
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<C>> + Send,
{
    type Connection = C;

    fn dial(&self, addr: SocketAddr) -> impl Future<Output = io::Result<C>> + Send {
        self(addr)
    }
}
