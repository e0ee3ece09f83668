//! Loopback test hosts: alive, refused, blackholed, silent and resetting TCP endpoints,
//! and TLS servers.
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

mod alive;
mod blackholed;
mod counts;
#[cfg(feature = "ech")]
mod ech;
mod listener;
mod refused;
mod reset;
mod silent;
mod tls;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::tls::LabTls;

pub use self::alive::AliveHost;
pub use self::blackholed::BlackholedHost;
#[cfg(feature = "ech")]
pub use self::ech::EchHost;
pub use self::refused::RefusedHost;
pub use self::reset::ResetHost;
pub use self::silent::SilentHost;
pub use self::tls::TlsHost;

/// Returns an [`io::ErrorKind::InvalidInput`] error unless `ip` is in
/// `127.0.0.0/8` or is `::1`.
pub(crate) fn check_loopback(ip: IpAddr) -> io::Result<()> {
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

/// Reads `stream` until EOF or an error, discarding the data: what every host that
/// listens does with a connection it never answers. `host` names it in the logs.
async fn discard(mut stream: impl AsyncRead + Unpin, peer: SocketAddr, host: &'static str) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                tracing::trace!(%peer, %error, host, "read failed");
                break;
            }
        }
    }
}

/// The current Tokio runtime, or an error instead of a panic outside one.
fn runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current().map_err(io::Error::other)
}

/// The kind of a host in a [`Lab`](crate::Lab).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// An [`AliveHost`]: accepts and drains connections.
    Alive,
    /// A [`RefusedHost`]: connects fail with `ConnectionRefused` at once.
    Refused,
    /// A [`BlackholedHost`]: connects hang until the client gives up.
    Blackholed,
    /// A [`SilentHost`]: connects succeed, then nothing is ever answered (a TLS
    /// handshake hangs).
    Silent,
    /// A [`ResetHost`]: connects succeed; the client's first bytes (a TLS
    /// `ClientHello`) are answered with a RST.
    Reset,
    /// A [`TlsHost`] presenting a certificate of the lab's
    /// [`TlsIdentity`](crate::TlsIdentity): handshakes complete, offering
    /// [`LAB_ALPN`](crate::LAB_ALPN).
    Tls,
    /// A [`TlsHost`] presenting a certificate for the same names signed by
    /// another CA: a client trusting the lab's identity fails the handshake
    /// with an unknown-issuer certificate error.
    BadTls,
}

/// The kind's name, as a person would say it: `alive`, `blackholed`, `untrusted TLS`.
impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostKind::Alive => "alive",
            HostKind::Refused => "refused",
            HostKind::Blackholed => "blackholed",
            HostKind::Silent => "silent",
            HostKind::Reset => "resetting",
            HostKind::Tls => "TLS",
            HostKind::BadTls => "untrusted TLS",
        })
    }
}

impl HostKind {
    /// What the host does to a client, in a few words: `drops SYNs, so a connect hangs`.
    pub fn behaviour(self) -> &'static str {
        match self {
            HostKind::Alive => "accepts the connection",
            HostKind::Refused => "answers the SYN with a reset",
            HostKind::Blackholed => "drops SYNs, so a connect hangs",
            HostKind::Silent => "accepts the connection, then never answers",
            HostKind::Reset => "accepts the connection, then resets it at the first bytes",
            HostKind::Tls => "completes a TLS handshake with the lab's certificate",
            HostKind::BadTls => "presents a certificate of another CA",
        }
    }

    /// Whether the host speaks TLS (and so needs the lab's TLS identity).
    pub(crate) fn is_tls(self) -> bool {
        matches!(self, HostKind::Tls | HostKind::BadTls)
    }
}

/// One host of a [`Lab`](crate::Lab).
#[derive(Debug)]
pub(crate) enum Host {
    Alive(AliveHost),
    Refused(RefusedHost),
    Blackholed(BlackholedHost),
    Silent(SilentHost),
    Reset(ResetHost),
    Tls(TlsHost),
    BadTls(TlsHost),
}

impl Host {
    /// Binds a host of `kind` on `addr`; the TLS kinds take their server
    /// configuration from `tls`, and fail with [`io::ErrorKind::InvalidInput`]
    /// without it.
    pub(crate) async fn bind(
        kind: HostKind,
        addr: SocketAddr,
        tls: Option<&LabTls>,
    ) -> io::Result<Host> {
        let tls = || {
            tls.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a {kind:?} host needs the lab's TLS identity"),
                )
            })
        };
        Ok(match kind {
            HostKind::Alive => Host::Alive(AliveHost::bind(addr).await?),
            HostKind::Refused => Host::Refused(RefusedHost::bind(addr)?),
            HostKind::Blackholed => Host::Blackholed(BlackholedHost::bind(addr).await?),
            HostKind::Silent => Host::Silent(SilentHost::bind(addr).await?),
            HostKind::Reset => Host::Reset(ResetHost::bind(addr).await?),
            HostKind::Tls => Host::Tls(TlsHost::bind(addr, tls()?.trusted()).await?),
            HostKind::BadTls => Host::BadTls(TlsHost::bind(addr, tls()?.untrusted()).await?),
        })
    }

    pub(crate) fn kind(&self) -> HostKind {
        match self {
            Host::Alive(_) => HostKind::Alive,
            Host::Refused(_) => HostKind::Refused,
            Host::Blackholed(_) => HostKind::Blackholed,
            Host::Silent(_) => HostKind::Silent,
            Host::Reset(_) => HostKind::Reset,
            Host::Tls(_) => HostKind::Tls,
            Host::BadTls(_) => HostKind::BadTls,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Host::Alive(host) => host.addr(),
            Host::Refused(host) => host.addr(),
            Host::Blackholed(host) => host.addr(),
            Host::Silent(host) => host.addr(),
            Host::Reset(host) => host.addr(),
            Host::Tls(host) | Host::BadTls(host) => host.addr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, v4};
    use crate::{Lab, TlsIdentity};

    /// Every kind of host.
    const KINDS: [HostKind; 7] = [
        HostKind::Alive,
        HostKind::Refused,
        HostKind::Blackholed,
        HostKind::Silent,
        HostKind::Reset,
        HostKind::Tls,
        HostKind::BadTls,
    ];

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
        let identity = TlsIdentity::new().unwrap();
        for ip in bad {
            let addr = SocketAddr::new(ip, 0);
            let mut results = vec![
                AliveHost::bind(addr).await.map(drop),
                RefusedHost::bind(addr).map(drop),
                BlackholedHost::bind(addr).await.map(drop),
                SilentHost::bind(addr).await.map(drop),
                ResetHost::bind(addr).await.map(drop),
                TlsHost::bind(addr, identity.server_config(&[]))
                    .await
                    .map(drop),
            ];
            for kind in KINDS {
                let lab = Lab::builder().alive(v4(1)).host(kind, ip).build().await;
                results.push(lab.map(drop));
            }
            for result in results {
                assert_eq!(
                    result.unwrap_err().kind(),
                    io::ErrorKind::InvalidInput,
                    "{ip}"
                );
            }
        }
    }

    #[tokio::test]
    async fn same_address_and_port_never_coexist() {
        let ip = v4(8);
        let tls = LabTls::new().unwrap();
        for first in KINDS {
            let host = Host::bind(first, any_port(ip), Some(&tls)).await.unwrap();
            for second in KINDS {
                let result = Host::bind(second, host.addr(), Some(&tls)).await;
                let error = result.unwrap_err();
                assert_eq!(
                    error.kind(),
                    io::ErrorKind::AddrInUse,
                    "{first:?} then {second:?}: {error}"
                );
            }
        }
    }
}
