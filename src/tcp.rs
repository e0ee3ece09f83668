//! [`TcpDialer`], the default dialer: a non-blocking TCP connect with socket options, and
//! every option hyper-util's `HttpConnector` has.

use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, TcpKeepalive, Type};
use tokio::net::TcpStream;

use crate::{Destination, Dial};

/// Whether [`TcpDialer`] sets `TCP_NODELAY` by default.
pub const DEFAULT_NODELAY: bool = true;

/// The default dialer: a non-blocking [`TcpStream`] connect with socket options.
///
/// Options are applied with `socket2` before the SYN is sent, so they hold for the whole
/// life of the connection. An option the operating system refuses (say `SO_MARK` without
/// `CAP_NET_ADMIN`) fails that attempt with an error naming the option; the race goes on
/// with the other attempts, and the error is in
/// [`ConnectError::attempts`](crate::ConnectError::attempts).
///
/// Change the options of a connector's dialer with
/// [`ConnieConnector::tcp`](crate::ConnieConnector::tcp), no dialer of your own needed:
///
/// ```no_run
/// # async fn doc() -> Result<(), connie::ConnectError> {
/// use std::time::Duration;
///
/// let connector = connie::ConnieConnector::new().tcp(|tcp| {
///     tcp.keepalive(Some(Duration::from_secs(60)))
///         .keepalive_interval(Some(Duration::from_secs(10)))
///         .keepalive_retries(Some(3))
///         .recv_buffer_size(Some(1 << 20))
///         .local_address(Some("192.0.2.7".parse().unwrap()))
/// });
/// let (stream, _info) = connector.connect("example.com:80").await?;
/// # drop(stream); Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpDialer {
    nodelay: bool,
    keepalive_time: Option<Duration>,
    keepalive_interval: Option<Duration>,
    keepalive_retries: Option<u32>,
    send_buffer_size: Option<usize>,
    recv_buffer_size: Option<usize>,
    reuse_address: bool,
    // The next four are set and read only where the system has the option; elsewhere
    // they stay `None`.
    #[allow(dead_code)]
    interface: Option<String>,
    #[allow(dead_code)]
    interface_index: Option<NonZeroU32>,
    #[allow(dead_code)]
    mark: Option<u32>,
    #[allow(dead_code)]
    user_timeout: Option<Duration>,
    local_v4: Option<Ipv4Addr>,
    local_v6: Option<Ipv6Addr>,
}

impl Default for TcpDialer {
    fn default() -> Self {
        TcpDialer::new()
    }
}

impl TcpDialer {
    /// A dialer with the defaults: `TCP_NODELAY` on, every other option as the operating
    /// system sets it (no keepalive, system buffer sizes, no local bind address…).
    pub fn new() -> TcpDialer {
        TcpDialer {
            nodelay: DEFAULT_NODELAY,
            keepalive_time: None,
            keepalive_interval: None,
            keepalive_retries: None,
            send_buffer_size: None,
            recv_buffer_size: None,
            reuse_address: false,
            interface: None,
            interface_index: None,
            mark: None,
            user_timeout: None,
            local_v4: None,
            local_v6: None,
        }
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on every connection.
    ///
    /// Default is `true` ([`DEFAULT_NODELAY`]): racing exists to cut latency. (hyper-util's
    /// `HttpConnector` defaults to `false`.)
    pub fn nodelay(mut self, nodelay: bool) -> TcpDialer {
        self.nodelay = nodelay;
        self
    }

    /// Turns on TCP keepalive (`SO_KEEPALIVE`) with this idle time before the first probe
    /// (`TCP_KEEPIDLE`, `TCP_KEEPALIVE` on macOS).
    ///
    /// Keepalive is on when any of this, [`keepalive_interval`](Self::keepalive_interval)
    /// or [`keepalive_retries`](Self::keepalive_retries) is set; what is not set keeps the
    /// system's value.
    ///
    /// Default is `None` (keepalive off, as the operating system does).
    pub fn keepalive(mut self, idle: Option<Duration>) -> TcpDialer {
        self.keepalive_time = idle;
        self
    }

    /// Sets the time between keepalive probes (`TCP_KEEPINTVL`), and turns keepalive on.
    ///
    /// Default is `None`: the system's interval. Ignored where the system has no such
    /// option.
    pub fn keepalive_interval(mut self, interval: Option<Duration>) -> TcpDialer {
        self.keepalive_interval = interval;
        self
    }

    /// Sets how many unanswered keepalive probes close the connection (`TCP_KEEPCNT`), and
    /// turns keepalive on.
    ///
    /// Default is `None`: the system's count. Ignored where the system has no such option.
    pub fn keepalive_retries(mut self, retries: Option<u32>) -> TcpDialer {
        self.keepalive_retries = retries;
        self
    }

    /// Sets the send buffer size (`SO_SNDBUF`); Linux doubles the value it is given.
    ///
    /// Default is `None`: the system's size.
    pub fn send_buffer_size(mut self, size: Option<usize>) -> TcpDialer {
        self.send_buffer_size = size;
        self
    }

    /// Sets the receive buffer size (`SO_RCVBUF`); Linux doubles the value it is given.
    ///
    /// Default is `None`: the system's size.
    pub fn recv_buffer_size(mut self, size: Option<usize>) -> TcpDialer {
        self.recv_buffer_size = size;
        self
    }

    /// Sets `SO_REUSEADDR`, which lets a local address bound with
    /// [`local_address`](Self::local_address) be reused while an earlier connection from
    /// it is in `TIME_WAIT`.
    ///
    /// Default is `false`.
    pub fn reuse_address(mut self, reuse: bool) -> TcpDialer {
        self.reuse_address = reuse;
        self
    }

    /// Binds every connection to this network interface (`SO_BINDTODEVICE`), e.g. `"eth0"`
    /// or a VRF: only packets of that interface are used.
    ///
    /// Binding to an interface may need `CAP_NET_RAW`. Linux, Android and Fuchsia only; on
    /// macOS and illumos use [`interface_index`](Self::interface_index).
    ///
    /// Default is `None`.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))
    )]
    pub fn interface(mut self, name: Option<impl Into<String>>) -> TcpDialer {
        self.interface = name.map(Into::into);
        self
    }

    /// Binds every connection to the network interface with this index (`IP_BOUND_IF` and
    /// `IPV6_BOUND_IF` on macOS and iOS, `IP_BOUND_IF` on illumos and Solaris,
    /// `SO_BINDTOIFINDEX` on Linux). `if_nametoindex(3)` (for example
    /// `nix::net::if_::if_nametoindex`) turns a name into an index.
    ///
    /// Default is `None`.
    #[cfg(any(
        target_os = "android",
        target_os = "illumos",
        target_os = "ios",
        target_os = "linux",
        target_os = "macos",
        target_os = "solaris",
        target_os = "tvos",
        target_os = "visionos",
        target_os = "watchos",
    ))]
    pub fn interface_index(mut self, index: Option<NonZeroU32>) -> TcpDialer {
        self.interface_index = index;
        self
    }

    /// Sets the mark of every packet sent (`SO_MARK`), for policy routing and firewalls.
    /// Needs `CAP_NET_ADMIN`. Linux, Android and Fuchsia only.
    ///
    /// Default is `None`.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))
    )]
    pub fn mark(mut self, mark: Option<u32>) -> TcpDialer {
        self.mark = mark;
        self
    }

    /// Sets `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the
    /// connection is closed. It also bounds how long a connect waits for an answer to its
    /// SYN. Linux, Android and Fuchsia only.
    ///
    /// Default is `None`: the system's retransmission limits.
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))
    )]
    pub fn user_timeout(mut self, timeout: Option<Duration>) -> TcpDialer {
        self.user_timeout = timeout;
        self
    }

    /// Binds connections of `addr`'s family to this local address before connecting; the
    /// other family is not bound. `None` unbinds both. Same as hyper-util's
    /// `HttpConnector::set_local_address`.
    ///
    /// Default is `None`: the system picks the source address.
    pub fn local_address(self, addr: Option<IpAddr>) -> TcpDialer {
        let (v4, v6) = match addr {
            Some(IpAddr::V4(v4)) => (Some(v4), None),
            Some(IpAddr::V6(v6)) => (None, Some(v6)),
            None => (None, None),
        };
        self.local_address_v4(v4).local_address_v6(v6)
    }

    /// Binds IPv4 connections to this local address before connecting.
    ///
    /// The port is chosen at `connect()`: on Linux `IP_BIND_ADDRESS_NO_PORT` is set, so an
    /// attempt does not reserve an ephemeral port of its own before it connects, and a
    /// source port can be shared by connections to different destinations.
    ///
    /// Default is `None`: the system picks the source address.
    pub fn local_address_v4(mut self, addr: Option<Ipv4Addr>) -> TcpDialer {
        self.local_v4 = addr;
        self
    }

    /// Binds IPv6 connections to this local address before connecting (the port chosen as
    /// for [`local_address_v4`](Self::local_address_v4)).
    ///
    /// Default is `None`: the system picks the source address.
    pub fn local_address_v6(mut self, addr: Option<Ipv6Addr>) -> TcpDialer {
        self.local_v6 = addr;
        self
    }

    fn keepalive_params(&self) -> Option<TcpKeepalive> {
        if self.keepalive_time.is_none()
            && self.keepalive_interval.is_none()
            && self.keepalive_retries.is_none()
        {
            return None;
        }
        let mut params = TcpKeepalive::new();
        if let Some(time) = self.keepalive_time {
            params = params.with_time(time);
        }
        #[cfg(any(
            target_os = "android",
            target_os = "dragonfly",
            target_os = "freebsd",
            target_os = "fuchsia",
            target_os = "illumos",
            target_os = "ios",
            target_os = "linux",
            target_os = "macos",
            target_os = "netbsd",
            target_os = "tvos",
            target_os = "visionos",
            target_os = "watchos",
            target_os = "windows",
        ))]
        {
            if let Some(interval) = self.keepalive_interval {
                params = params.with_interval(interval);
            }
            if let Some(retries) = self.keepalive_retries {
                params = params.with_retries(retries);
            }
        }
        Some(params)
    }

    /// A non-blocking socket for `addr` with every option set, bound if a local address
    /// is set.
    fn socket(&self, addr: SocketAddr) -> io::Result<Socket> {
        let socket = nonblocking_socket(Domain::for_address(addr))?;
        let local = match addr {
            SocketAddr::V4(_) => self.local_v4.map(|ip| SocketAddr::from((ip, 0))),
            SocketAddr::V6(_) => self.local_v6.map(|ip| SocketAddr::from((ip, 0))),
        };
        if self.nodelay {
            socket
                .set_tcp_nodelay(true)
                .map_err(context("TCP_NODELAY"))?;
        }
        if let Some(params) = self.keepalive_params() {
            socket
                .set_tcp_keepalive(&params)
                .map_err(context("TCP keepalive"))?;
        }
        if let Some(size) = self.send_buffer_size {
            socket
                .set_send_buffer_size(size)
                .map_err(context("SO_SNDBUF"))?;
        }
        if let Some(size) = self.recv_buffer_size {
            socket
                .set_recv_buffer_size(size)
                .map_err(context("SO_RCVBUF"))?;
        }
        if self.reuse_address {
            socket
                .set_reuse_address(true)
                .map_err(context("SO_REUSEADDR"))?;
        }
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        if let Some(name) = &self.interface {
            socket
                .bind_device(Some(name.as_bytes()))
                .map_err(context("SO_BINDTODEVICE"))?;
        }
        #[cfg(any(
            target_os = "android",
            target_os = "illumos",
            target_os = "ios",
            target_os = "linux",
            target_os = "macos",
            target_os = "solaris",
            target_os = "tvos",
            target_os = "visionos",
            target_os = "watchos",
        ))]
        if let Some(index) = self.interface_index {
            match addr {
                SocketAddr::V4(_) => socket.bind_device_by_index_v4(Some(index)),
                SocketAddr::V6(_) => socket.bind_device_by_index_v6(Some(index)),
            }
            .map_err(context("binding to an interface index"))?;
        }
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        if let Some(mark) = self.mark {
            socket.set_mark(mark).map_err(context("SO_MARK"))?;
        }
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        if let Some(timeout) = self.user_timeout {
            socket
                .set_tcp_user_timeout(Some(timeout))
                .map_err(context("TCP_USER_TIMEOUT"))?;
        }
        if let Some(local) = local {
            // Best effort: without it (an old kernel) the bind reserves a port, as before.
            #[cfg(target_os = "linux")]
            let _ = sys::bind_address_no_port(&socket);
            socket
                .bind(&SockAddr::from(local))
                .map_err(context("binding the local address"))?;
        }
        Ok(socket)
    }
}

/// Wraps an error setting `option` so the attempt's error names it, keeping its kind.
fn context(option: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{option}: {e}"))
}

impl Dial for TcpDialer {
    type Connection = TcpStream;

    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<TcpStream>> + Send {
        let addr = to.addr();
        let socket = self.socket(addr);
        async move {
            let socket = socket?;
            match socket.connect(&SockAddr::from(addr)) {
                Ok(()) => {}
                Err(e) if in_progress(&e) => {}
                Err(e) => return Err(e),
            }
            // Until the attempt returns, it is a loser if dropped: see `Pending`.
            let pending = Pending(Some(TcpStream::from_std(socket.into())?));
            // What tokio's own connect does: writable means the handshake is over, and
            // `SO_ERROR` says how it went. (`poll_write_ready` keeps no waiter of its own in
            // this future, as `writable()` would: 100 bytes less per attempt.)
            let ready = poll_fn(|cx| pending.stream().poll_write_ready(cx)).await;
            let stream = pending.returned();
            ready?;
            match stream.take_error()? {
                Some(e) => Err(e),
                None => Ok(stream),
            }
        }
    }

    fn local_addr(&self, conn: &TcpStream) -> Option<SocketAddr> {
        conn.local_addr().ok()
    }
}

/// A TCP socket, non-blocking (from its creation on Linux: one syscall), close-on-exec
/// (socket2 sets it).
fn nonblocking_socket(domain: Domain) -> io::Result<Socket> {
    #[cfg(target_os = "linux")]
    let socket = Socket::new(domain, Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
    #[cfg(not(target_os = "linux"))]
    let socket = {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket
    };
    Ok(socket)
}

/// Whether a non-blocking `connect()` failed only because the handshake is under way.
fn in_progress(error: &io::Error) -> bool {
    #[cfg(unix)]
    return error.raw_os_error() == Some(libc::EINPROGRESS);
    // `WSAEWOULDBLOCK`.
    #[cfg(not(unix))]
    return error.kind() == io::ErrorKind::WouldBlock;
}

/// A connect in progress. Dropped before it returns, the attempt lost the race (or timed
/// out), and its socket is closed with a reset (`SO_LINGER` 0): a loser whose handshake
/// had completed would otherwise send a FIN and leave the client a socket in `TIME_WAIT`
/// for a minute, one per loser, enough at a high connect rate to use up the ephemeral
/// ports. The server sees a connection reset before any byte. A socket still in
/// `SYN_SENT` closes the same either way.
struct Pending(Option<TcpStream>);

impl Pending {
    fn stream(&self) -> &TcpStream {
        self.0.as_ref().expect("held until returned")
    }

    /// The stream, no longer a possible loser: the attempt returns it, won or failed.
    fn returned(mut self) -> TcpStream {
        self.0.take().expect("held until returned")
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(stream) = &self.0 {
            // Best effort: the socket is closed right after, with or without it.
            let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
        }
    }
}

/// The one socket option socket2 (0.6) has no wrapper for.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod sys {
    use std::io;
    use std::os::fd::AsRawFd;

    use socket2::Socket;

    /// Sets `IP_BIND_ADDRESS_NO_PORT`: a `bind()` to port 0 no longer reserves an
    /// ephemeral port; `connect()` picks one for the whole 4-tuple.
    pub(super) fn bind_address_no_port(socket: &Socket) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: `socket` is a live descriptor, borrowed for the whole call, and the
        // option value points to a `c_int` that outlives the call, with its exact size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_address_binds_one_family_and_unbinds_the_other() {
        let d = TcpDialer::new()
            .local_address(Some("::1".parse().unwrap()))
            .local_address(Some("127.0.0.1".parse().unwrap()));
        assert_eq!(d.local_v4, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(d.local_v6, None);
        assert_eq!(d.local_address(None), TcpDialer::new());
    }

    /// The documented defaults, written out: `TCP_NODELAY` on, every other option left
    /// to the system. (`DEFAULT_NODELAY` itself is pinned with the connector's defaults.)
    #[test]
    fn defaults_are_the_documented_values() {
        let documented = TcpDialer {
            nodelay: true,
            keepalive_time: None,
            keepalive_interval: None,
            keepalive_retries: None,
            send_buffer_size: None,
            recv_buffer_size: None,
            reuse_address: false,
            interface: None,
            interface_index: None,
            mark: None,
            user_timeout: None,
            local_v4: None,
            local_v6: None,
        };
        assert_eq!(TcpDialer::new(), documented);
        assert_eq!(TcpDialer::default(), documented);
    }

    /// Each setter sets its own field, and `None` unsets it.
    #[cfg(target_os = "linux")]
    #[test]
    fn every_setter_sets_its_own_field() {
        let s = Duration::from_secs;
        let set = TcpDialer::new()
            .nodelay(false)
            .keepalive(Some(s(1)))
            .keepalive_interval(Some(s(2)))
            .keepalive_retries(Some(3))
            .send_buffer_size(Some(4))
            .recv_buffer_size(Some(5))
            .reuse_address(true)
            .interface(Some("eth6"))
            .interface_index(NonZeroU32::new(7))
            .mark(Some(8))
            .user_timeout(Some(s(9)))
            .local_address_v4(Some(Ipv4Addr::new(10, 0, 0, 1)))
            .local_address_v6(Some(Ipv6Addr::LOCALHOST));
        let want = TcpDialer {
            nodelay: false,
            keepalive_time: Some(s(1)),
            keepalive_interval: Some(s(2)),
            keepalive_retries: Some(3),
            send_buffer_size: Some(4),
            recv_buffer_size: Some(5),
            reuse_address: true,
            interface: Some("eth6".to_owned()),
            interface_index: NonZeroU32::new(7),
            mark: Some(8),
            user_timeout: Some(s(9)),
            local_v4: Some(Ipv4Addr::new(10, 0, 0, 1)),
            local_v6: Some(Ipv6Addr::LOCALHOST),
        };
        assert_eq!(set, want);
        let unset = set
            .nodelay(true)
            .keepalive(None)
            .keepalive_interval(None)
            .keepalive_retries(None)
            .send_buffer_size(None)
            .recv_buffer_size(None)
            .reuse_address(false)
            .interface(None::<String>)
            .interface_index(None)
            .mark(None)
            .user_timeout(None)
            .local_address(None);
        assert_eq!(unset, TcpDialer::new());
    }

    /// `IP_BIND_ADDRESS_NO_PORT` is accepted on sockets of both families: its `Ok` is
    /// the system's. (Its effect is `a_bound_socket_reserves_no_port_before_connect`.)
    #[cfg(target_os = "linux")]
    #[test]
    fn bind_address_no_port_is_accepted_on_both_families() {
        for domain in [Domain::IPV4, Domain::IPV6] {
            let socket = nonblocking_socket(domain).unwrap();
            sys::bind_address_no_port(&socket).unwrap();
        }
    }

    #[test]
    fn keepalive_is_on_when_any_of_its_settings_is() {
        assert!(TcpDialer::new().keepalive_params().is_none());
        let on = [
            TcpDialer::new().keepalive(Some(Duration::from_secs(1))),
            TcpDialer::new().keepalive_interval(Some(Duration::from_secs(1))),
            TcpDialer::new().keepalive_retries(Some(3)),
        ];
        for dialer in on {
            assert!(dialer.keepalive_params().is_some(), "{dialer:?}");
        }
    }

    /// A default dialer's connection to a loopback listener: `TCP_NODELAY` on, keepalive
    /// and `SO_REUSEADDR` off.
    #[tokio::test]
    async fn a_default_connection_has_nodelay_and_nothing_else() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        let stream = TcpDialer::new().dial(dest.into()).await.unwrap();
        let sock = SockRef::from(&stream);
        assert!(sock.tcp_nodelay().unwrap());
        assert!(!sock.keepalive().unwrap());
        assert!(!sock.reuse_address().unwrap());
        assert_eq!(
            TcpDialer::new().local_addr(&stream),
            stream.local_addr().ok()
        );

        let stream = TcpDialer::new()
            .nodelay(false)
            .dial(dest.into())
            .await
            .unwrap();
        assert!(!stream.nodelay().unwrap());
    }

    /// A connect dropped after its handshake completed, as a race drops its losers,
    /// closes with a reset: the server reads `ConnectionReset`, and the client keeps no
    /// socket in `TIME_WAIT`. The control: a connection that was returned closes with a
    /// FIN (the server reads its end).
    #[tokio::test]
    async fn a_dropped_connect_resets_and_a_returned_one_closes() {
        use futures_util::FutureExt;
        use tokio::io::AsyncReadExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        let dialer = TcpDialer::new();
        let mut dial = Box::pin(dialer.dial(dest.into()));
        // One poll sends the SYN; the future has not seen the handshake end yet.
        assert!(dial.as_mut().now_or_never().is_none());
        let (mut served, _) = listener.accept().await.unwrap();
        drop(dial);
        let read = served.read(&mut [0; 1]).await;
        assert_eq!(
            read.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionReset)
        );

        let stream = dialer.dial(dest.into()).await.unwrap();
        let (mut served, _) = listener.accept().await.unwrap();
        drop(stream);
        assert_eq!(served.read(&mut [0; 1]).await.unwrap(), 0);
    }

    /// Through a connector, the race reports the connection's local address as the
    /// dialer gives it.
    #[tokio::test]
    async fn the_race_reports_the_local_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        // The bound turns a race that never dials (an engine bug) into a failure, not a
        // hang; a loopback connect needs a millisecond.
        let connector = crate::ConnieConnector::new().total_timeout(Some(Duration::from_secs(5)));
        let (stream, info) = connector.connect(dest).await.unwrap();
        assert_eq!(info.remote_addr(), dest);
        assert_eq!(info.local_addr(), Some(stream.local_addr().unwrap()));
    }

    /// Every option a connection to a loopback listener carries, as the kernel reports it:
    /// the keepalive idle time, interval and count each as given, not just "on".
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_options_reach_a_connected_socket_as_given() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dest = listener.local_addr().unwrap();
        let dialer = TcpDialer::new()
            .keepalive(Some(Duration::from_secs(61)))
            .keepalive_interval(Some(Duration::from_secs(7)))
            .keepalive_retries(Some(4))
            .send_buffer_size(Some(64 * 1024))
            .recv_buffer_size(Some(96 * 1024))
            .reuse_address(true)
            .user_timeout(Some(Duration::from_millis(9_000)));
        let stream = dialer.dial(dest.into()).await.unwrap();
        let sock = SockRef::from(&stream);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(61));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(7)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
        // Linux doubles what it is given, for its own bookkeeping.
        assert_eq!(sock.send_buffer_size().unwrap(), 2 * 64 * 1024);
        assert_eq!(sock.recv_buffer_size().unwrap(), 2 * 96 * 1024);
        assert!(sock.reuse_address().unwrap());
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(9_000))
        );

        // Only the idle time set: the interval and count stay the system's.
        let fresh = nonblocking_socket(Domain::IPV4).unwrap();
        let system = SockRef::from(&fresh);
        let idle_only = TcpDialer::new().keepalive(Some(Duration::from_secs(45)));
        let stream = idle_only.dial(dest.into()).await.unwrap();
        let sock = SockRef::from(&stream);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(45));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            system.tcp_keepalive_interval().unwrap()
        );
        assert_eq!(
            sock.tcp_keepalive_retries().unwrap(),
            system.tcp_keepalive_retries().unwrap()
        );
    }

    /// An option the system refuses fails the attempt with an error naming it.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_refused_option_names_itself() {
        let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let nowhere = TcpDialer::new().interface(Some("connie-none0"));
        let error = nowhere.dial(dest.into()).await.unwrap_err();
        assert!(
            error.to_string().starts_with("SO_BINDTODEVICE: "),
            "{error}"
        );
        // Zero is not a valid keepalive idle time.
        let zero = TcpDialer::new().keepalive(Some(Duration::ZERO));
        let error = zero.dial(dest.into()).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().starts_with("TCP keepalive: "), "{error}");
    }

    /// With a local address, the socket is bound before `connect()` but holds no port yet:
    /// an attempt reserves no ephemeral port of its own.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_bound_socket_reserves_no_port_before_connect() {
        let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let dialer = TcpDialer::new().local_address(Some(Ipv4Addr::LOCALHOST.into()));
        let local = |socket: Socket| socket.local_addr().unwrap().as_socket().unwrap();
        let socket = dialer.socket(dest).unwrap();
        assert_eq!(local(socket), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));

        let dest6: SocketAddr = "[::1]:9".parse().unwrap();
        let dialer = TcpDialer::new().local_address(Some(Ipv6Addr::LOCALHOST.into()));
        assert_eq!(local(dialer.socket(dest6).unwrap()).port(), 0);

        // The control: a plain bind to port 0 reserves one at once.
        let plain = nonblocking_socket(Domain::IPV4).unwrap();
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        plain.bind(&any_port.into()).unwrap();
        assert_ne!(local(plain).port(), 0);
    }
}
