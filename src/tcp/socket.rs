//! A socket made from a [`TcpDialer`]'s options: non-blocking, every option set, bound if
//! a local address is set.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use super::TcpDialer;

impl TcpDialer {
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
        Some(self.with_keepalive_probes(params))
    }

    /// A non-blocking socket for `addr` with every option set, bound if a local address
    /// is set.
    pub(super) fn socket(&self, addr: SocketAddr) -> io::Result<Socket> {
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
        self.bind_interface(&socket)?;
        self.bind_interface_index(&socket, addr)?;
        self.set_mark_and_user_timeout(&socket)?;
        if let Some(local) = local {
            leave_the_port_to_connect(&socket);
            socket
                .bind(&SockAddr::from(local))
                .map_err(context("binding the local address"))?;
        }
        Ok(socket)
    }

    cfg_keepalive_probes! {
        {
            /// `params` with the time between probes and their count, those set.
            fn with_keepalive_probes(&self, mut params: TcpKeepalive) -> TcpKeepalive {
                if let Some(interval) = self.keepalive_interval {
                    params = params.with_interval(interval);
                }
                if let Some(retries) = self.keepalive_retries {
                    params = params.with_retries(retries);
                }
                params
            }
        } else {
            /// `params` as they are: the system sets neither the time between probes nor
            /// their count.
            fn with_keepalive_probes(&self, params: TcpKeepalive) -> TcpKeepalive {
                params
            }
        }
    }

    cfg_linux_like! {
        {
            /// Sets `SO_BINDTODEVICE`, if an interface is set.
            fn bind_interface(&self, socket: &Socket) -> io::Result<()> {
                if let Some(name) = &self.interface {
                    socket
                        .bind_device(Some(name.as_bytes()))
                        .map_err(context("SO_BINDTODEVICE"))?;
                }
                Ok(())
            }

            /// Sets `SO_MARK` and `TCP_USER_TIMEOUT`, those set.
            fn set_mark_and_user_timeout(&self, socket: &Socket) -> io::Result<()> {
                if let Some(mark) = self.mark {
                    socket.set_mark(mark).map_err(context("SO_MARK"))?;
                }
                if let Some(timeout) = self.user_timeout {
                    socket
                        .set_tcp_user_timeout(Some(timeout))
                        .map_err(context("TCP_USER_TIMEOUT"))?;
                }
                Ok(())
            }
        } else {
            /// Nothing to do: the system has no `SO_BINDTODEVICE`, so no interface is set.
            fn bind_interface(&self, _: &Socket) -> io::Result<()> {
                Ok(())
            }

            /// Nothing to do: the system has neither option, so neither is set.
            fn set_mark_and_user_timeout(&self, _: &Socket) -> io::Result<()> {
                Ok(())
            }
        }
    }

    cfg_interface_index! {
        {
            /// Binds the socket to the interface with the index set, if one is.
            fn bind_interface_index(&self, socket: &Socket, addr: SocketAddr) -> io::Result<()> {
                if let Some(index) = self.interface_index {
                    match addr {
                        SocketAddr::V4(_) => socket.bind_device_by_index_v4(Some(index)),
                        SocketAddr::V6(_) => socket.bind_device_by_index_v6(Some(index)),
                    }
                    .map_err(context("binding to an interface index"))?;
                }
                Ok(())
            }
        } else {
            /// Nothing to do: the system cannot bind to an interface index, so none is set.
            fn bind_interface_index(&self, _: &Socket, _: SocketAddr) -> io::Result<()> {
                Ok(())
            }
        }
    }
}

/// Wraps an error setting `option` so the attempt's error names it, keeping its kind.
fn context(option: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{option}: {e}"))
}

/// On Linux, sets `IP_BIND_ADDRESS_NO_PORT`, so that a bind to port 0 leaves the port to
/// `connect()`. Best effort: without it (an old kernel) the bind reserves a port, as a
/// plain bind does.
#[cfg(target_os = "linux")]
fn leave_the_port_to_connect(socket: &Socket) {
    let _ = super::sys::bind_address_no_port(socket);
}

/// Nothing to do: elsewhere a bind to port 0 reserves a port.
#[cfg(not(target_os = "linux"))]
fn leave_the_port_to_connect(_: &Socket) {}

/// A TCP socket, non-blocking from its creation (one syscall), close-on-exec (socket2
/// sets it).
#[cfg(target_os = "linux")]
pub(super) fn nonblocking_socket(domain: Domain) -> io::Result<Socket> {
    Socket::new(domain, Type::STREAM.nonblocking(), Some(Protocol::TCP))
}

/// A TCP socket, made non-blocking after its creation, close-on-exec (socket2 sets it).
#[cfg(not(target_os = "linux"))]
pub(super) fn nonblocking_socket(domain: Domain) -> io::Result<Socket> {
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use socket2::SockRef;

    use super::*;
    use crate::Dial;

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
