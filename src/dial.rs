//! The dial seam: [`Dial`] opens one connection, [`TcpDialer`] is the default.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpSocket, TcpStream};

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

/// The default dialer: a non-blocking [`TcpStream`] connect with socket options.
///
/// Options are applied with `socket2` before the SYN is sent, so they hold for the whole
/// life of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpDialer {
    nodelay: bool,
    keepalive: Option<Duration>,
    local_v4: Option<Ipv4Addr>,
    local_v6: Option<Ipv6Addr>,
}

/// Whether [`TcpDialer`] sets `TCP_NODELAY` by default.
pub const DEFAULT_NODELAY: bool = true;

impl Default for TcpDialer {
    fn default() -> Self {
        TcpDialer::new()
    }
}

impl TcpDialer {
    /// A dialer with the defaults: `TCP_NODELAY` on, no keepalive, no local bind address.
    pub fn new() -> TcpDialer {
        TcpDialer {
            nodelay: DEFAULT_NODELAY,
            keepalive: None,
            local_v4: None,
            local_v6: None,
        }
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on every connection.
    ///
    /// Default is `true` ([`DEFAULT_NODELAY`]): racing exists to cut latency.
    pub fn nodelay(mut self, nodelay: bool) -> TcpDialer {
        self.nodelay = nodelay;
        self
    }

    /// Turns on TCP keepalive with this idle time before the first probe.
    ///
    /// Default is `None` (keepalive off, as the operating system does).
    pub fn keepalive(mut self, idle: Option<Duration>) -> TcpDialer {
        self.keepalive = idle;
        self
    }

    /// Binds IPv4 connections to this local address before connecting (port chosen by the
    /// system).
    ///
    /// Default is `None`: the system picks the source address.
    pub fn local_address_v4(mut self, addr: Option<Ipv4Addr>) -> TcpDialer {
        self.local_v4 = addr;
        self
    }

    /// Binds IPv6 connections to this local address before connecting.
    ///
    /// Default is `None`: the system picks the source address.
    pub fn local_address_v6(mut self, addr: Option<Ipv6Addr>) -> TcpDialer {
        self.local_v6 = addr;
        self
    }

    fn socket(&self, addr: SocketAddr) -> io::Result<TcpSocket> {
        let (socket, local) = match addr {
            SocketAddr::V4(_) => (
                TcpSocket::new_v4()?,
                self.local_v4.map(|ip| SocketAddr::from((ip, 0))),
            ),
            SocketAddr::V6(_) => (
                TcpSocket::new_v6()?,
                self.local_v6.map(|ip| SocketAddr::from((ip, 0))),
            ),
        };
        let sock = SockRef::from(&socket);
        if self.nodelay {
            sock.set_tcp_nodelay(true)?;
        }
        if let Some(idle) = self.keepalive {
            sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
        }
        if let Some(local) = local {
            socket.bind(local)?;
        }
        Ok(socket)
    }
}

impl Dial for TcpDialer {
    type Connection = TcpStream;

    fn dial(&self, addr: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> + Send {
        let socket = self.socket(addr);
        async move { socket?.connect(addr).await }
    }

    fn local_addr(&self, conn: &TcpStream) -> Option<SocketAddr> {
        conn.local_addr().ok()
    }
}
