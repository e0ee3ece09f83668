//! The dial seam: [`Dial`] opens one connection to a [`Destination`];
//! [`TcpDialer`](crate::TcpDialer) is the default.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::dns::ServiceEndpoint;
use crate::rare::Rare;

/// Opens one connection to one address: the thing a race runs many of at once.
///
/// The race engine knows nothing of sockets; it calls [`dial`](Self::dial) once per
/// address and keeps the first `Ok` it gets, dropping every other attempt's future (so a
/// dialer must clean up on drop, as tokio's sockets do). Implement it to race something
/// other than a plain TCP connect, such as a TCP connect followed by a TLS handshake (the
/// `rustls` feature's `RustlsDialer` is one), a proxy, or a simulated network in tests.
///
/// The [`Destination`] says what the attempt is for: the address, and the host name, port
/// and URI scheme of the target when it has them. A dialer whose connection needs a
/// handshake after the transport (TLS) calls [`Destination::transport_connected`] once
/// its TCP connection is up, so the race knows the attempt is alive and gives its
/// handshake time before starting another.
///
/// Any `Fn(SocketAddr) -> impl Future<Output = io::Result<C>>` is a dialer too, for a
/// dialer that needs the address only:
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

    /// Starts connecting to `to.addr()`.
    ///
    /// The future may borrow `to` (its host name), and lives no longer than the race.
    fn dial(
        &self,
        to: Destination<'_>,
    ) -> impl Future<Output = io::Result<Self::Connection>> + Send;

    /// The local address of `conn`, if it has one; reported in
    /// [`ConnectInfo::local_addr`](crate::ConnectInfo::local_addr). Default is `None`.
    fn local_addr(&self, conn: &Self::Connection) -> Option<SocketAddr> {
        let _ = conn;
        None
    }

    /// The application protocol `conn` negotiated (TLS ALPN, such as `b"h2"`), if any;
    /// reported in [`ConnectInfo::alpn`](crate::ConnectInfo::alpn). Default is `None`.
    fn alpn(&self, conn: &Self::Connection) -> Option<Vec<u8>> {
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

    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<C>> + Send {
        self(to.addr)
    }
}

/// What one attempt of a race connects to: the address, and what the target said about
/// it.
///
/// Made by the race for each attempt, or from a bare address
/// (`Destination::from(addr)`) to call a dialer directly.
#[derive(Clone)]
pub struct Destination<'a> {
    addr: SocketAddr,
    origin: Origin<'a>,
    /// Where this attempt reports its progress, and its index in the race.
    progress: Option<(&'a Progress, usize)>,
    /// The HTTPS record's endpoint the address serves, if it came from one.
    endpoint: Option<Arc<ServiceEndpoint>>,
}

impl<'a> Destination<'a> {
    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The host name of the target (`example.com`, without a trailing dot or brackets),
    /// when it was given as a name; `None` for IP literals and socket addresses. A TLS
    /// dialer sends it as the server name, a proxy dialer asks the proxy for it.
    pub fn host(&self) -> Option<&'a str> {
        self.origin.host
    }

    /// The port of the target, the same as the address's.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The scheme of the URI the connection is for (`https`, `http`, `wss`…), when the
    /// race was started by the `Service<Uri>`; `None` for
    /// [`connect`](crate::ConnieConnector::connect) and [`race_connect`](crate::race_connect).
    pub fn scheme(&self) -> Option<&'a str> {
        self.origin.scheme
    }

    /// The service endpoint of the name's HTTPS records that this address serves, if it
    /// came from one ([`ConnieConnector::https_records`](crate::ConnieConnector::https_records)):
    /// a TLS dialer offers only the protocols of its ALPN set that it speaks, as
    /// [`RustlsDialer`](crate::RustlsDialer) does.
    pub fn endpoint(&self) -> Option<&ServiceEndpoint> {
        self.endpoint.as_deref()
    }

    /// Tells the race that this attempt's transport (its TCP connection) is up, and a
    /// handshake on top of it (TLS) is now running. Call it once, when that happens.
    ///
    /// The race records the moment in
    /// [`Attempt::transport_connected`](crate::Attempt::transport_connected), learns the
    /// address's handshake time from it, and postpones the next attempt to give the
    /// handshake its time (see [`Schedule`](crate::Schedule#tcp-up-handshake-running)).
    /// A dialer that does nothing after TCP (or a direct call) need not call it.
    pub fn transport_connected(&self) {
        if let Some((progress, idx)) = self.progress {
            progress.report(idx, Instant::now());
        }
    }

    /// Tells the race what became of ECH in this attempt's handshake, for
    /// [`ConnectInfo::ech`](crate::ConnectInfo::ech) if it wins.
    #[cfg(feature = "ech")]
    pub(crate) fn ech(&self, ech: crate::dns::Ech) {
        if let Some((progress, idx)) = self.progress {
            progress.ech(idx, ech);
        }
    }

    /// A destination for attempt `idx` of a race, reporting to `progress`, at an address
    /// that serves `endpoint` if it came from an HTTPS record.
    pub(crate) fn new(
        addr: SocketAddr,
        origin: Origin<'a>,
        progress: &'a Progress,
        idx: usize,
        endpoint: Option<Arc<ServiceEndpoint>>,
    ) -> Self {
        Destination {
            addr,
            origin,
            progress: Some((progress, idx)),
            endpoint,
        }
    }
}

impl From<SocketAddr> for Destination<'_> {
    fn from(addr: SocketAddr) -> Self {
        Destination {
            addr,
            origin: Origin::default(),
            progress: None,
            endpoint: None,
        }
    }
}

impl fmt::Debug for Destination<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("addr", &self.addr)
            .field("host", &self.origin.host)
            .field("scheme", &self.origin.scheme)
            .finish_non_exhaustive()
    }
}

/// What a race knows of its target besides the addresses: the name and the URI scheme.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Origin<'a> {
    pub(crate) host: Option<&'a str>,
    pub(crate) scheme: Option<&'a str>,
}

/// Where a race's attempts report that their transport is up: the race reads it after
/// polling them, so a report needs no wake-up of its own. Every race's future holds one,
/// and only a dialer with a handshake of its own (TLS) reports.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Set with every report, so the race looks at `reports` only when there are some.
    fresh: AtomicBool,
    reports: Mutex<Rare<(usize, Instant)>>,
    /// What became of ECH in the attempts that offered it.
    #[cfg(feature = "ech")]
    ech: Mutex<Vec<(usize, crate::dns::Ech)>>,
}

impl Progress {
    fn report(&self, idx: usize, at: Instant) {
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((idx, at));
        self.fresh.store(true, Ordering::Release);
    }

    #[cfg(feature = "ech")]
    fn ech(&self, idx: usize, ech: crate::dns::Ech) {
        self.ech
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((idx, ech));
    }

    /// What became of ECH in attempt `idx`: [`NotOffered`](crate::dns::Ech::NotOffered)
    /// unless it said.
    #[cfg(feature = "ech")]
    pub(crate) fn ech_of(&self, idx: usize) -> crate::dns::Ech {
        let ech = self.ech.lock().unwrap_or_else(|e| e.into_inner());
        ech.iter()
            .find(|(i, _)| *i == idx)
            .map_or_else(Default::default, |(_, ech)| *ech)
    }

    /// The reports since the last call, oldest first.
    #[inline]
    pub(crate) fn take(&self) -> Vec<(usize, Instant)> {
        if !self.fresh.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        self.reports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
