//! Loopback test hosts: alive, refused and blackholed TCP endpoints, and a
//! [`Lab`] of several of them sharing one port number on different loopback
//! addresses.
//!
//! Only loopback addresses are ever bound or connected to: `127.0.0.0/8` and
//! `::1`. Any other IP is rejected with [`io::ErrorKind::InvalidInput`] before
//! a socket is created. On Linux every address in `127.0.0.0/8` works without
//! configuration.
//!
//! The hosts need a Tokio runtime with IO and time enabled (as
//! `#[tokio::test]` provides). They work under a paused clock
//! (`#[tokio::test(start_paused = true)]`): loopback handshakes complete
//! inside the `connect` system call, so no virtual time passes while binding or
//! while connecting to an alive or refused host, and a connect to a
//! blackholed host simply stays pending until the caller's own timer fires.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How many ports [`LabBuilder::build`] tries before giving up.
const BUILD_TRIES: usize = 20;
/// Backlog of an alive host's listener.
const ALIVE_BACKLOG: i32 = 4096;
/// Upper bound on filling a blackhole's accept queue (it takes microseconds).
const FILL_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after an accept error that is not about one connection (e.g. `EMFILE`).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Returns an [`io::ErrorKind::InvalidInput`] error unless `ip` is in
/// `127.0.0.0/8` or is `::1`.
fn check_loopback(ip: IpAddr) -> io::Result<()> {
    let ok = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{ip} is not a loopback address (only 127.0.0.0/8 and ::1 are allowed)"),
        ))
    }
}

/// A non-blocking TCP socket bound to the loopback address `addr`.
///
/// `reuse_address` is set on listeners only: it lets them bind over
/// `TIME_WAIT` leftovers, while Linux still refuses a second listener on the
/// same address and port. Refused hosts go without it, so that two of them (or
/// one and a listener) can never share an address and port.
fn bound_socket(addr: SocketAddr, reuse_address: bool) -> io::Result<Socket> {
    check_loopback(addr.ip())?;
    bind_socket(addr, reuse_address)
}

/// [`bound_socket`] without the loopback check, for the network-namespace lab, whose hosts
/// live on documentation addresses that exist only inside its own namespaces.
fn bind_socket(addr: SocketAddr, reuse_address: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if reuse_address {
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    Ok(socket)
}

/// The IP address and port `socket` is bound to.
fn local_addr(socket: &Socket) -> io::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("socket is not bound to an IP address"))
}

/// The current Tokio runtime, or an error instead of a panic outside one.
fn runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current().map_err(io::Error::other)
}

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
    #[cfg(all(feature = "netlab", target_os = "linux"))]
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

/// A socket bound to the address but not listening: the kernel answers a SYN
/// with RST, so connect fails with `ConnectionRefused` at once.
pub struct RefusedHost {
    addr: SocketAddr,
    _socket: Socket,
}

impl RefusedHost {
    /// Binds (without listening) on the loopback address `addr`; port 0
    /// picks a free port.
    pub fn bind(addr: SocketAddr) -> io::Result<RefusedHost> {
        let socket = bound_socket(addr, false)?;
        let addr = local_addr(&socket)?;
        tracing::debug!(%addr, "refused host bound");
        Ok(RefusedHost {
            addr,
            _socket: socket,
        })
    }

    /// The address the host is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Debug for RefusedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefusedHost")
            .field("addr", &self.addr)
            .finish()
    }
}

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

/// The kind of a host in a [`Lab`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// An [`AliveHost`]: accepts and drains connections.
    Alive,
    /// A [`RefusedHost`]: connects fail with `ConnectionRefused` at once.
    Refused,
    /// A [`BlackholedHost`]: connects hang until the client gives up.
    Blackholed,
}

/// One host of a [`Lab`].
#[derive(Debug)]
enum Host {
    Alive(AliveHost),
    Refused(RefusedHost),
    Blackholed(BlackholedHost),
}

impl Host {
    async fn bind(kind: HostKind, addr: SocketAddr) -> io::Result<Host> {
        Ok(match kind {
            HostKind::Alive => Host::Alive(AliveHost::bind(addr).await?),
            HostKind::Refused => Host::Refused(RefusedHost::bind(addr)?),
            HostKind::Blackholed => Host::Blackholed(BlackholedHost::bind(addr).await?),
        })
    }

    fn kind(&self) -> HostKind {
        match self {
            Host::Alive(_) => HostKind::Alive,
            Host::Refused(_) => HostKind::Refused,
            Host::Blackholed(_) => HostKind::Blackholed,
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Host::Alive(host) => host.addr(),
            Host::Refused(host) => host.addr(),
            Host::Blackholed(host) => host.addr(),
        }
    }
}

/// Several hosts of different kinds on different loopback IPs sharing one
/// port number, like a real name whose addresses all listen on `:443`.
///
/// Dropping the lab stops all its hosts.
#[derive(Debug)]
pub struct Lab {
    port: u16,
    hosts: Vec<Host>,
}

impl Lab {
    /// Starts describing a lab.
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// The port number all hosts share.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The addresses of all hosts, in the order they were added.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.hosts.iter().map(Host::addr).collect()
    }

    /// The addresses of the hosts of `kind`, in the order they were added.
    pub fn addrs_of(&self, kind: HostKind) -> Vec<SocketAddr> {
        self.hosts
            .iter()
            .filter(|host| host.kind() == kind)
            .map(Host::addr)
            .collect()
    }

    /// The kind of the host at `addr`, if the lab has one there.
    pub fn kind_of(&self, addr: SocketAddr) -> Option<HostKind> {
        self.hosts
            .iter()
            .find(|host| host.addr() == addr)
            .map(Host::kind)
    }

    /// The alive host at `addr`, to read its counters.
    pub fn alive(&self, addr: SocketAddr) -> Option<&AliveHost> {
        self.alive_hosts().find(|host| host.addr() == addr)
    }

    /// All alive hosts, in the order they were added.
    pub fn alive_hosts(&self) -> impl Iterator<Item = &AliveHost> {
        self.hosts.iter().filter_map(|host| match host {
            Host::Alive(alive) => Some(alive),
            _ => None,
        })
    }
}

/// Describes a [`Lab`]; [`build`](Self::build) binds it.
#[derive(Debug, Clone, Default)]
pub struct LabBuilder {
    hosts: Vec<(HostKind, IpAddr)>,
}

impl LabBuilder {
    /// Adds a host of `kind` on `ip`.
    pub fn host(mut self, kind: HostKind, ip: IpAddr) -> Self {
        self.hosts.push((kind, ip));
        self
    }

    /// Adds an [`AliveHost`] on `ip`.
    pub fn alive(self, ip: IpAddr) -> Self {
        self.host(HostKind::Alive, ip)
    }

    /// Adds a [`RefusedHost`] on `ip`.
    pub fn refused(self, ip: IpAddr) -> Self {
        self.host(HostKind::Refused, ip)
    }

    /// Adds a [`BlackholedHost`] on `ip`.
    pub fn blackholed(self, ip: IpAddr) -> Self {
        self.host(HostKind::Blackholed, ip)
    }

    /// Binds every host on one shared port.
    ///
    /// The first host is bound on port 0 to pick the port, the others on that
    /// port; if one of them finds it in use, everything is dropped and a new
    /// port is tried, up to 20 times. Fails with
    /// [`io::ErrorKind::InvalidInput`] if there is no host, an IP is not
    /// loopback, or two hosts have the same IP.
    pub async fn build(self) -> io::Result<Lab> {
        self.validate()?;
        let mut last_error = None;
        for attempt in 1..=BUILD_TRIES {
            match self.try_build().await {
                Ok(lab) => {
                    tracing::debug!(port = lab.port, attempt, "lab built");
                    return Ok(lab);
                }
                Err(error) if error.kind() == io::ErrorKind::AddrInUse => {
                    tracing::debug!(attempt, %error, "lab port taken, trying another");
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        let detail = last_error.map(|e| e.to_string()).unwrap_or_default();
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("no port free on every lab address after {BUILD_TRIES} tries: {detail}"),
        ))
    }

    fn validate(&self) -> io::Result<()> {
        if self.hosts.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a lab needs at least one host",
            ));
        }
        let mut seen = HashSet::new();
        for &(_, ip) in &self.hosts {
            check_loopback(ip)?;
            if !seen.insert(ip) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("two lab hosts on {ip}: they would need the same address and port"),
                ));
            }
        }
        Ok(())
    }

    async fn try_build(&self) -> io::Result<Lab> {
        let mut port = 0;
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for &(kind, ip) in &self.hosts {
            let host = Host::bind(kind, SocketAddr::new(ip, port)).await?;
            port = host.addr().port();
            hosts.push(host);
        }
        Ok(Lab { port, hosts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Instant;
    use tokio::io::AsyncWriteExt;

    const HANG: Duration = Duration::from_millis(300);

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn v6() -> IpAddr {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    }

    fn any_port(ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, 0)
    }

    /// Asserts that a connect to `addr` is still pending after `HANG` of real time.
    async fn assert_hangs(addr: SocketAddr) {
        let start = Instant::now();
        let result = tokio::time::timeout(HANG, TcpStream::connect(addr)).await;
        assert!(result.is_err(), "connect to {addr} finished: {result:?}");
        assert!(start.elapsed() >= HANG, "timeout fired early");
    }

    async fn assert_refused(addr: SocketAddr) {
        let error = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(
            error.kind(),
            io::ErrorKind::ConnectionRefused,
            "{addr}: {error}"
        );
    }

    fn standard_lab() -> LabBuilder {
        Lab::builder()
            .blackholed(v4(2))
            .refused(v4(3))
            .alive(v4(4))
            .alive(v6())
    }

    #[tokio::test]
    async fn alive_counts_connections() {
        for ip in [v4(1), v4(9), v6()] {
            let host = AliveHost::bind(any_port(ip)).await.unwrap();
            assert_eq!(host.addr().ip(), ip);
            assert_ne!(host.addr().port(), 0);
            assert_eq!((host.accepted(), host.open()), (0, 0));
            host.wait_open(0).await;

            let mut client = TcpStream::connect(host.addr()).await.unwrap();
            client.write_all(b"discarded").await.unwrap();
            host.wait_accepted(1).await;
            host.wait_open(1).await;
            assert_eq!((host.accepted(), host.open()), (1, 1));

            let second = TcpStream::connect(host.addr()).await.unwrap();
            host.wait_open(2).await;
            drop(client);
            host.wait_open(1).await;
            drop(second);
            host.wait_open(0).await;
            assert_eq!((host.accepted(), host.open()), (2, 0));
            assert!(format!("{host:?}").contains("accepted: 2"));
        }
    }

    #[tokio::test]
    async fn alive_host_drop_closes_everything() {
        let host = AliveHost::bind(any_port(v4(5))).await.unwrap();
        let addr = host.addr();
        let mut client = TcpStream::connect(addr).await.unwrap();
        host.wait_open(1).await;
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

    #[tokio::test]
    async fn refused_refuses() {
        for ip in [v4(1), v4(6), v6()] {
            let host = RefusedHost::bind(any_port(ip)).unwrap();
            assert_ne!(host.addr().port(), 0);
            assert_refused(host.addr()).await;
        }
    }

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

    #[tokio::test]
    async fn non_loopback_is_rejected() {
        let bad: [IpAddr; 7] = [
            "10.0.0.1".parse().unwrap(),
            "192.168.1.1".parse().unwrap(),
            "8.8.8.8".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            "::".parse().unwrap(),
            "::ffff:127.0.0.1".parse().unwrap(),
            "fe80::1".parse().unwrap(),
        ];
        for ip in bad {
            let addr = SocketAddr::new(ip, 0);
            let kinds = [
                AliveHost::bind(addr).await.map(drop),
                RefusedHost::bind(addr).map(drop),
                BlackholedHost::bind(addr).await.map(drop),
                Lab::builder()
                    .alive(v4(1))
                    .refused(ip)
                    .build()
                    .await
                    .map(drop),
            ];
            for result in kinds {
                assert_eq!(
                    result.unwrap_err().kind(),
                    io::ErrorKind::InvalidInput,
                    "{ip}"
                );
            }
        }
    }

    #[tokio::test]
    async fn bad_labs_are_rejected() {
        let empty = Lab::builder().build().await.unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::InvalidInput);
        let twice = Lab::builder().alive(v4(2)).refused(v4(2)).build().await;
        assert_eq!(twice.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn same_address_and_port_never_coexist() {
        let ip = v4(8);
        for first in [HostKind::Alive, HostKind::Refused, HostKind::Blackholed] {
            let host = Host::bind(first, any_port(ip)).await.unwrap();
            for second in [HostKind::Alive, HostKind::Refused, HostKind::Blackholed] {
                let result = Host::bind(second, host.addr()).await;
                let error = result.unwrap_err();
                assert_eq!(
                    error.kind(),
                    io::ErrorKind::AddrInUse,
                    "{first:?} then {second:?}: {error}"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lab_shares_one_port() {
        let lab = standard_lab().build().await.unwrap();
        let port = lab.port();
        assert_ne!(port, 0);
        let expected: Vec<SocketAddr> = [v4(2), v4(3), v4(4), v6()]
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        assert_eq!(lab.addrs(), expected);
        assert_eq!(lab.addrs_of(HostKind::Blackholed), [expected[0]]);
        assert_eq!(lab.addrs_of(HostKind::Refused), [expected[1]]);
        assert_eq!(lab.addrs_of(HostKind::Alive), [expected[2], expected[3]]);
        assert_eq!(lab.kind_of(expected[1]), Some(HostKind::Refused));
        assert!(lab.alive(expected[0]).is_none());
        assert_eq!(lab.alive_hosts().count(), 2);

        assert_hangs(expected[0]).await;
        assert_refused(expected[1]).await;
        for &addr in &expected[2..] {
            let client = TcpStream::connect(addr).await.unwrap();
            let host = lab.alive(addr).unwrap();
            host.wait_open(1).await;
            assert_eq!(host.accepted(), 1);
            drop(client);
            host.wait_open(0).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_labs_concurrently() {
        let builds: Vec<_> = (0..20)
            .map(|_| tokio::spawn(standard_lab().build()))
            .collect();
        let mut labs = Vec::new();
        for build in builds {
            labs.push(build.await.unwrap().unwrap());
        }
        let ports: HashSet<u16> = labs.iter().map(Lab::port).collect();
        assert_eq!(ports.len(), 20);
        for lab in &labs {
            let addr = lab.addrs_of(HostKind::Alive)[0];
            drop(TcpStream::connect(addr).await.unwrap());
            lab.alive(addr).unwrap().wait_accepted(1).await;
            assert_refused(lab.addrs_of(HostKind::Refused)[0]).await;
        }
    }

    /// Twenty tests that each build a lab, run in parallel by the harness.
    macro_rules! parallel_lab_tests {
        ($($name:ident)*) => {$(
            #[tokio::test]
            async fn $name() {
                let lab = standard_lab().build().await.unwrap();
                for addr in lab.addrs_of(HostKind::Alive) {
                    drop(TcpStream::connect(addr).await.unwrap());
                    lab.alive(addr).unwrap().wait_open(0).await;
                }
                assert_refused(lab.addrs_of(HostKind::Refused)[0]).await;
            }
        )*};
    }

    parallel_lab_tests!(
        par_lab_00 par_lab_01 par_lab_02 par_lab_03 par_lab_04
        par_lab_05 par_lab_06 par_lab_07 par_lab_08 par_lab_09
        par_lab_10 par_lab_11 par_lab_12 par_lab_13 par_lab_14
        par_lab_15 par_lab_16 par_lab_17 par_lab_18 par_lab_19
    );

    #[tokio::test(start_paused = true)]
    async fn paused_clock_fifty_times() {
        let real = Instant::now();
        for round in 0..50 {
            let t0 = tokio::time::Instant::now();
            let lab = standard_lab().build().await.unwrap();
            assert_eq!(
                tokio::time::Instant::now(),
                t0,
                "round {round}: building took virtual time"
            );

            for addr in lab.addrs_of(HostKind::Alive) {
                let connect = TcpStream::connect(addr);
                let client = tokio::time::timeout(Duration::from_secs(5), connect).await;
                assert!(client.is_ok_and(|c| c.is_ok()), "round {round}: {addr}");
                assert_eq!(
                    tokio::time::Instant::now(),
                    t0,
                    "round {round}: alive took virtual time"
                );
            }
            let refused = lab.addrs_of(HostKind::Refused)[0];
            let error = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(refused))
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
            assert_eq!(
                tokio::time::Instant::now(),
                t0,
                "round {round}: refused took virtual time"
            );

            let blackholed = lab.addrs_of(HostKind::Blackholed)[0];
            let hung =
                tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(blackholed)).await;
            assert!(hung.is_err(), "round {round}: {hung:?}");
            assert_eq!(t0.elapsed(), Duration::from_secs(5), "round {round}");
        }
        assert!(
            real.elapsed() < Duration::from_secs(5),
            "{:?} of real time",
            real.elapsed()
        );
    }
}
