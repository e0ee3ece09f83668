//! [`TcpDialer`], the default dialer: a non-blocking TCP connect with socket options, and
//! every option hyper-util's `HttpConnector` has.
//!
//! The dialer and its setters are here; `socket` makes a socket with its options, `connect`
//! connects it (a loser's socket closed with a reset), `sys` holds the crate's one `unsafe`,
//! and `cfg` the lists of systems that have an option, each written once.

#[macro_use]
mod cfg;
mod connect;
mod socket;
#[cfg(target_os = "linux")]
mod sys;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::{Destination, Dial};

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
        }
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on every connection.
    ///
    /// Default is `true`: racing exists to cut latency. (hyper-util's
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

    cfg_linux_like! {
        /// Binds every connection to this network interface (`SO_BINDTODEVICE`), e.g. `"eth0"`
        /// or a VRF: only packets of that interface are used.
        ///
        /// Binding to an interface may need `CAP_NET_RAW`. Linux, Android and Fuchsia only; on
        /// macOS and illumos use [`interface_index`](Self::interface_index).
        ///
        /// Default is `None`.
        pub fn interface(mut self, name: Option<impl Into<String>>) -> TcpDialer {
            self.interface = name.map(Into::into);
            self
        }
    }

    cfg_interface_index! {
        /// Binds every connection to the network interface with this index (`IP_BOUND_IF` and
        /// `IPV6_BOUND_IF` on macOS and iOS, `IP_BOUND_IF` on illumos and Solaris,
        /// `SO_BINDTOIFINDEX` on Linux). `if_nametoindex(3)` (for example
        /// `nix::net::if_::if_nametoindex`) turns a name into an index.
        ///
        /// Default is `None`.
        pub fn interface_index(mut self, index: Option<NonZeroU32>) -> TcpDialer {
            self.interface_index = index;
            self
        }
    }

    cfg_linux_like! {
        /// Sets the mark of every packet sent (`SO_MARK`), for policy routing and firewalls.
        /// Needs `CAP_NET_ADMIN`. Linux, Android and Fuchsia only.
        ///
        /// Default is `None`.
        pub fn mark(mut self, mark: Option<u32>) -> TcpDialer {
            self.mark = mark;
            self
        }

        /// Sets `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the
        /// connection is closed. It also bounds how long a connect waits for an answer to its
        /// SYN. Linux, Android and Fuchsia only.
        ///
        /// Default is `None`: the system's retransmission limits.
        pub fn user_timeout(mut self, timeout: Option<Duration>) -> TcpDialer {
            self.user_timeout = timeout;
            self
        }
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
}

impl Dial for TcpDialer {
    type Connection = TcpStream;

    // Inlined: the race calls it once per attempt, and moves the destination in only for
    // its address.
    #[inline]
    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<TcpStream>> + Send {
        let addr = to.addr();
        connect::connect(self.socket(addr), addr)
    }

    fn local_addr(&self, conn: &TcpStream) -> Option<SocketAddr> {
        conn.local_addr().ok()
    }
}

#[cfg(test)]
mod tests {
    use socket2::SockRef;

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
    /// to the system.
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
}
