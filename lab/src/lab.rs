//! [`Lab`]: several hosts on different loopback addresses sharing one port.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::host::{check_loopback, Host, HostKind};
use crate::tls::LabTls;
use crate::{AliveHost, DnsServer, DnsServerBuilder, ResetHost, SilentHost, TlsHost, TlsIdentity};

/// How many ports [`LabBuilder::build`] tries before giving up.
const BUILD_TRIES: usize = 20;

/// Several hosts of different kinds on different loopback IPs sharing one
/// port number, like a real name whose addresses all listen on `:443`.
///
/// A lab with TLS hosts has a [`TlsIdentity`], made when it is built, for its clients to
/// trust.
///
/// Dropping the lab stops all its hosts.
#[derive(Debug)]
pub struct Lab {
    port: u16,
    hosts: Vec<Host>,
    tls: Option<LabTls>,
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

    /// The silent host at `addr`, to read its counters.
    pub fn silent(&self, addr: SocketAddr) -> Option<&SilentHost> {
        self.hosts.iter().find_map(|host| match host {
            Host::Silent(silent) if silent.addr() == addr => Some(silent),
            _ => None,
        })
    }

    /// The reset host at `addr`, to read its counters.
    pub fn reset(&self, addr: SocketAddr) -> Option<&ResetHost> {
        self.hosts.iter().find_map(|host| match host {
            Host::Reset(reset) if reset.addr() == addr => Some(reset),
            _ => None,
        })
    }

    /// The TLS host at `addr` (of kind [`Tls`](HostKind::Tls) or
    /// [`BadTls`](HostKind::BadTls)), to read its counters.
    pub fn tls(&self, addr: SocketAddr) -> Option<&TlsHost> {
        self.hosts.iter().find_map(|host| match host {
            Host::Tls(tls) | Host::BadTls(tls) if tls.addr() == addr => Some(tls),
            _ => None,
        })
    }

    /// The identity the lab's [`Tls`](HostKind::Tls) hosts present, for a client to
    /// trust ([`TlsIdentity::client_config`]); `None` if the lab has no TLS host. Its
    /// [`BadTls`](HostKind::BadTls) hosts present a certificate signed by another CA,
    /// which this identity's client configurations reject.
    ///
    /// ```no_run
    /// # async fn doc() -> std::io::Result<()> {
    /// use connie_lab::{Lab, LAB_ALPN};
    ///
    /// let lab = Lab::builder()
    ///     .bad_tls("127.0.0.2".parse().unwrap())
    ///     .tls("127.0.0.3".parse().unwrap())
    ///     .build()
    ///     .await?;
    /// let identity = lab.tls_identity().expect("the lab has TLS hosts");
    /// let client = identity.client_config(&LAB_ALPN);
    /// // Connect to `www.lab.test` with `client`: only 127.0.0.3 completes the handshake.
    /// # Ok(()) }
    /// ```
    pub fn tls_identity(&self) -> Option<&TlsIdentity> {
        self.tls.as_ref().map(LabTls::identity)
    }

    /// A DNS server description naming every host of the lab: `name` (relative to the
    /// zone, like `"www"`, or absolute) resolves to all their addresses, in the order they
    /// were added. Add delays or more names, then [`start`](DnsServerBuilder::start) it:
    ///
    /// ```no_run
    /// # async fn doc() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use connie_lab::{Lab, RecordType};
    ///
    /// let lab = Lab::builder()
    ///     .blackholed("::1".parse().unwrap())
    ///     .alive("127.0.0.2".parse().unwrap())
    ///     .build()
    ///     .await?;
    /// let dns = lab
    ///     .dns("www")
    ///     .delay(RecordType::A, Duration::from_millis(50))
    ///     .start()
    ///     .await?;
    /// let answer = dns.resolver().ipv6_lookup("www.lab.test.").await;
    /// # Ok(()) }
    /// ```
    pub fn dns(&self, name: &str) -> DnsServerBuilder {
        DnsServer::builder().host(name, self.hosts.iter().map(|host| host.addr().ip()))
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

    /// Adds a [`RefusedHost`](crate::RefusedHost) on `ip`.
    pub fn refused(self, ip: IpAddr) -> Self {
        self.host(HostKind::Refused, ip)
    }

    /// Adds a [`BlackholedHost`](crate::BlackholedHost) on `ip`.
    pub fn blackholed(self, ip: IpAddr) -> Self {
        self.host(HostKind::Blackholed, ip)
    }

    /// Adds a [`SilentHost`](crate::SilentHost) on `ip`.
    pub fn silent(self, ip: IpAddr) -> Self {
        self.host(HostKind::Silent, ip)
    }

    /// Adds a [`ResetHost`](crate::ResetHost) on `ip`.
    pub fn reset(self, ip: IpAddr) -> Self {
        self.host(HostKind::Reset, ip)
    }

    /// Adds a [`TlsHost`] on `ip` presenting the lab's [`TlsIdentity`] and offering
    /// [`LAB_ALPN`](crate::LAB_ALPN).
    pub fn tls(self, ip: IpAddr) -> Self {
        self.host(HostKind::Tls, ip)
    }

    /// Adds a [`TlsHost`] on `ip` presenting a certificate for the same names, signed by a
    /// CA that no client of the lab trusts.
    pub fn bad_tls(self, ip: IpAddr) -> Self {
        self.host(HostKind::BadTls, ip)
    }

    /// Binds every host on one shared port.
    ///
    /// The first host is bound on port 0 to pick the port, the others on that
    /// port; if one of them finds it in use, everything is dropped and a new
    /// port is tried, up to 20 times. Fails with
    /// [`io::ErrorKind::InvalidInput`] if there is no host, an IP is not
    /// loopback, or two hosts have the same IP.
    ///
    /// If there are TLS hosts, it first makes the lab's [`TlsIdentity`] and the
    /// untrusted one of its bad TLS hosts (a few milliseconds).
    pub async fn build(self) -> io::Result<Lab> {
        self.validate()?;
        let needs_tls = self.hosts.iter().any(|&(kind, _)| kind.is_tls());
        let mut tls = needs_tls.then(LabTls::new).transpose()?;
        let mut last_error = None;
        for attempt in 1..=BUILD_TRIES {
            match self.try_build(&mut tls).await {
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

    /// Binds every host, and on success moves the TLS material (if any) into the lab.
    async fn try_build(&self, tls: &mut Option<LabTls>) -> io::Result<Lab> {
        let mut port = 0;
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for &(kind, ip) in &self.hosts {
            let host = Host::bind(kind, SocketAddr::new(ip, port), tls.as_ref()).await?;
            port = host.addr().port();
            hosts.push(host);
        }
        Ok(Lab {
            port,
            hosts,
            tls: tls.take(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_hangs, assert_refused, connect_tls, rustls_error, v4, v6, within, HANG,
    };
    use crate::LAB_ALPN;
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn standard_lab() -> LabBuilder {
        Lab::builder()
            .blackholed(v4(2))
            .refused(v4(3))
            .alive(v4(4))
            .alive(v6())
    }

    #[tokio::test]
    async fn bad_labs_are_rejected() {
        let empty = Lab::builder().build().await.unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::InvalidInput);
        let twice = Lab::builder().alive(v4(2)).refused(v4(2)).build().await;
        assert_eq!(twice.unwrap_err().kind(), io::ErrorKind::InvalidInput);
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
            let client = within("connect", TcpStream::connect(addr)).await.unwrap();
            let host = lab.alive(addr).unwrap();
            within("open == 1", host.wait_open(1)).await;
            assert_eq!(host.accepted(), 1);
            drop(client);
            within("open == 0", host.wait_open(0)).await;
        }
    }

    #[tokio::test]
    async fn lab_finds_its_silent_and_reset_hosts() {
        let lab = Lab::builder()
            .silent(v4(2))
            .reset(v6())
            .build()
            .await
            .unwrap();
        let (silent, reset) = (lab.addrs()[0], lab.addrs()[1]);
        assert_eq!(lab.addrs_of(HostKind::Silent), [silent]);
        assert_eq!(lab.addrs_of(HostKind::Reset), [reset]);
        assert!(lab.silent(reset).is_none() && lab.reset(silent).is_none());

        let _quiet = within("connect", TcpStream::connect(silent)).await.unwrap();
        within(
            "accepted == 1",
            lab.silent(silent).unwrap().wait_accepted(1),
        )
        .await;

        let mut client = within("connect", TcpStream::connect(reset)).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let error = within("read", client.read(&mut buf)).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
        within("resets == 1", lab.reset(reset).unwrap().wait_resets(1)).await;
    }

    #[tokio::test]
    async fn lab_tls_hosts_for_a_client_trusting_the_lab() {
        let lab = Lab::builder()
            .bad_tls(v4(2))
            .reset(v4(3))
            .silent(v4(4))
            .tls(v6())
            .build()
            .await
            .unwrap();
        let [bad, reset, silent, good] = lab.addrs()[..] else {
            panic!("{:?}", lab.addrs())
        };
        assert_eq!(lab.addrs_of(HostKind::BadTls), [bad]);
        assert_eq!(lab.addrs_of(HostKind::Tls), [good]);
        assert_eq!(lab.kind_of(bad), Some(HostKind::BadTls));
        assert!(lab.tls(silent).is_none());
        let identity = lab
            .tls_identity()
            .expect("a lab with TLS hosts has an identity");
        let config = || identity.client_config(&LAB_ALPN);

        let tls = connect_tls(good, "www.lab.test", config()).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        within("handshakes == 1", lab.tls(good).unwrap().wait_handshakes(1)).await;

        let error = connect_tls(bad, "www.lab.test", config())
            .await
            .unwrap_err();
        assert_eq!(
            rustls_error(&error),
            Some(&rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )),
            "{error:?}"
        );
        let bad_host = lab.tls(bad).unwrap();
        within("failed == 1", bad_host.wait_failed_handshakes(1)).await;
        assert_eq!(bad_host.handshakes(), 0);

        let error = connect_tls(reset, "www.lab.test", config())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");

        let tcp = within("connect", TcpStream::connect(silent)).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("www.lab.test").unwrap();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config()));
        let hung = tokio::time::timeout(HANG, connector.connect(name, tcp)).await;
        assert!(hung.is_err(), "{hung:?}");
    }

    #[tokio::test]
    async fn labs_without_tls_hosts_have_no_identity() {
        let lab = standard_lab()
            .silent(v4(5))
            .reset(v4(6))
            .build()
            .await
            .unwrap();
        assert!(lab.tls_identity().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_labs_concurrently() {
        let builds: Vec<_> = (0..20)
            .map(|_| tokio::spawn(standard_lab().build()))
            .collect();
        let mut labs = Vec::new();
        for build in builds {
            labs.push(within("lab build", build).await.unwrap().unwrap());
        }
        let ports: HashSet<u16> = labs.iter().map(Lab::port).collect();
        assert_eq!(ports.len(), 20);
        for lab in &labs {
            let addr = lab.addrs_of(HostKind::Alive)[0];
            drop(within("connect", TcpStream::connect(addr)).await.unwrap());
            within("accepted == 1", lab.alive(addr).unwrap().wait_accepted(1)).await;
            assert_refused(lab.addrs_of(HostKind::Refused)[0]).await;
        }
    }

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
