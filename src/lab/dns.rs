//! An in-process authoritative DNS server for tests, built on `hickory-server`.
//!
//! [`DnsServer`] serves A/AAAA records for a single zone on loopback, over UDP and TCP
//! (each on its own ephemeral port), optionally delaying answers per record type. Names
//! inside the zone that were not given answer `NXDOMAIN`; a name that exists but has no
//! record of the asked type answers `NOERROR` with an empty answer section (NODATA).
//!
//! ```no_run
//! # async fn doc() -> std::io::Result<()> {
//! use std::time::Duration;
//! use connie::lab::{DnsServer, RecordType};
//! let server = DnsServer::builder()
//!     .host("both", ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()])
//!     .delay(RecordType::AAAA, Duration::from_millis(200))
//!     .start()
//!     .await?;
//! let resolver = server.resolver();
//! let v4 = resolver.ipv4_lookup("both.lab.test.").await; // answers at once
//! let v6 = resolver.ipv6_lookup("both.lab.test.").await; // answers after 200 ms
//! # Ok(()) }
//! ```

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use hickory_resolver::{
    config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts},
    net::{runtime::TokioRuntimeProvider, NetError},
    TokioResolver,
};
use hickory_server::{
    net::runtime::Time,
    proto::rr::{rdata::SOA, LowerName, Name, RData, Record},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{AxfrPolicy, Catalog, ZoneType},
    Server,
};

/// DNS record type, as used by [`DnsServerBuilder::delay`] (re-exported from `hickory-proto`).
pub use hickory_server::proto::rr::RecordType;

/// TTL of every record the server hands out (also the SOA minimum, i.e. the negative TTL).
const TTL: u32 = 1;
/// Serial of the zone.
const SERIAL: u32 = 1;
/// How long an idle TCP connection to the server is kept open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-connection buffer of outgoing TCP responses.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Timeout of one query made by [`DnsServer::resolver`].
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(2);

/// An authoritative DNS server on loopback, serving names you give it. Stops on drop.
///
/// Build one with [`DnsServer::builder`]. UDP and TCP listen on `127.0.0.1` with distinct
/// ephemeral ports; use [`resolver_config`](Self::resolver_config) or
/// [`resolver`](Self::resolver) to query it.
pub struct DnsServer {
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    origin: Name,
    /// Owns the listener tasks (in a `JoinSet`): dropping it aborts them.
    server: Server<DelayingHandler>,
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("udp_addr", &self.udp_addr)
            .field("tcp_addr", &self.tcp_addr)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Ask the listener loops to stop; dropping `server` right after aborts the tasks
        // (its `JoinSet` aborts everything it owns on drop).
        self.server.shutdown_token().cancel();
    }
}

impl DnsServer {
    /// Starts describing a server; finish with [`DnsServerBuilder::start`].
    pub fn builder() -> DnsServerBuilder {
        DnsServerBuilder::default()
    }

    /// The UDP address the server answers on.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The TCP address the server answers on (a different port from [`udp_addr`](Self::udp_addr)).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The zone origin, fully qualified (e.g. `lab.test.`).
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// A hickory `ResolverConfig` that only asks this server (UDP + TCP entries).
    ///
    /// It has no search domain: look names up fully qualified (`"both.lab.test."`).
    pub fn resolver_config(&self) -> ResolverConfig {
        resolver_config(self.udp_addr, self.tcp_addr)
    }

    /// The options [`resolver`](Self::resolver) uses: cache off, no hosts file, 2 s timeout,
    /// a single try.
    ///
    /// Note hickory's `attempts` counts *retries* (`RetryDnsHandle` sends `attempts + 1`
    /// times on timeouts/IO errors), so a single try is `attempts = 0`.
    pub fn resolver_opts() -> ResolverOpts {
        let mut opts = ResolverOpts::default();
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = RESOLVER_TIMEOUT;
        opts.attempts = 0;
        opts
    }

    /// A ready `TokioResolver` asking only this server, with the cache off, no hosts file,
    /// a 2 s timeout and a single try (see [`resolver_opts`](Self::resolver_opts)).
    ///
    /// # Panics
    ///
    /// If hickory fails to build the resolver, which without a hickory TLS feature it
    /// cannot (`ResolverBuilder::build` only fails creating a TLS client config); use
    /// [`try_resolver_with`](Self::try_resolver_with) to get the error instead.
    pub fn resolver(&self) -> TokioResolver {
        self.try_resolver_with(Self::resolver_opts())
            .expect("building a plain UDP/TCP hickory resolver cannot fail")
    }

    /// A `TokioResolver` asking only this server, with the given options.
    ///
    /// # Errors
    ///
    /// Whatever `ResolverBuilder::build` returns (only possible with a hickory TLS feature).
    pub fn try_resolver_with(&self, opts: ResolverOpts) -> Result<TokioResolver, NetError> {
        resolver(self.resolver_config(), opts)
    }
}

/// A `ResolverConfig` asking only the server at `udp` (and, on the same IP, at `tcp`'s
/// port). The network-namespace lab builds its clients' resolvers with it too.
pub(crate) fn resolver_config(udp: SocketAddr, tcp: SocketAddr) -> ResolverConfig {
    let mut udp_config = ConnectionConfig::udp();
    udp_config.port = udp.port();
    let mut tcp_config = ConnectionConfig::tcp();
    tcp_config.port = tcp.port();
    ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        udp.ip(),
        true,
        vec![udp_config, tcp_config],
    )])
}

/// A `TokioResolver` with `config` and `opts`.
pub(crate) fn resolver(
    config: ResolverConfig,
    opts: ResolverOpts,
) -> Result<TokioResolver, NetError> {
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    builder.build()
}

/// Describes a [`DnsServer`]: its zone origin, hosts and per-record-type delays.
#[derive(Debug, Clone)]
pub struct DnsServerBuilder {
    origin: String,
    hosts: Vec<(String, Vec<IpAddr>)>,
    delays: HashMap<RecordType, Duration>,
}

impl Default for DnsServerBuilder {
    fn default() -> Self {
        Self {
            origin: "lab.test.".to_owned(),
            hosts: Vec::new(),
            delays: HashMap::new(),
        }
    }
}

impl DnsServerBuilder {
    /// Zone origin, default `"lab.test."`; a missing final dot is implied.
    ///
    /// Names given to [`host`](Self::host) may be relative to it (`"both"`) or absolute
    /// (`"both.lab.test."`).
    pub fn origin(mut self, origin: &str) -> Self {
        origin.clone_into(&mut self.origin);
        self
    }

    /// Serves A/AAAA records for `name`: each address becomes an A or AAAA record (TTL 1 s).
    ///
    /// Calling it again for the same name adds addresses. A name given with no addresses
    /// is not created (it answers `NXDOMAIN`).
    pub fn host(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.hosts
            .push((name.to_owned(), addrs.into_iter().collect()));
        self
    }

    /// Delays every answer to queries of record type `rtype` by `by`.
    ///
    /// The delay uses `tokio::time::sleep`, so it follows a paused/advanced tokio clock.
    /// Over UDP every query is handled in its own task; over TCP the server answers one
    /// connection's queries in order, so a delayed query holds up later ones on it.
    pub fn delay(mut self, rtype: RecordType, by: Duration) -> Self {
        self.delays.insert(rtype, by);
        self
    }

    /// Binds UDP and TCP on `127.0.0.1`, each on its own ephemeral port, and spawns the
    /// server on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the origin or a host name does not parse or a name lies outside
    /// the origin; any error from binding the sockets.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(self) -> io::Result<DnsServer> {
        self.start_on(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// [`start`](Self::start), binding UDP and TCP on `ip` instead of `127.0.0.1` (the
    /// network-namespace lab serves on a documentation address of its server side).
    #[cfg_attr(not(all(feature = "netlab", target_os = "linux")), allow(dead_code))]
    pub(crate) async fn start_on(self, ip: IpAddr) -> io::Result<DnsServer> {
        let catalog = self.catalog()?;
        let origin = self.origin_name()?;

        let local = SocketAddr::new(ip, 0);
        let udp = tokio::net::UdpSocket::bind(local).await?;
        let tcp = tokio::net::TcpListener::bind(local).await?;
        let udp_addr = udp.local_addr()?;
        let tcp_addr = tcp.local_addr()?;

        let mut server = Server::new(DelayingHandler {
            catalog,
            delays: self.delays,
        });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        tracing::debug!(%udp_addr, %tcp_addr, %origin, "lab DNS server started");

        Ok(DnsServer {
            udp_addr,
            tcp_addr,
            origin,
            server,
        })
    }

    fn origin_name(&self) -> io::Result<Name> {
        let mut origin = Name::from_ascii(&self.origin)
            .map_err(|e| invalid_input(format!("bad DNS origin {:?}: {e}", self.origin)))?;
        origin.set_fqdn(true);
        Ok(origin)
    }

    /// Builds the zone (SOA at the origin plus the A/AAAA records) into a catalog.
    fn catalog(&self) -> io::Result<Catalog> {
        let origin = self.origin_name()?;
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        );

        let soa = SOA::new(
            relative("ns", &origin)?,
            relative("hostmaster", &origin)?,
            SERIAL,
            3_600,
            600,
            86_400,
            TTL,
        );
        upsert(
            &mut zone,
            Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)),
        )?;

        for (name, addrs) in &self.hosts {
            let fqdn = Name::from_ascii(name)
                .and_then(|n| {
                    if n.is_fqdn() {
                        Ok(n)
                    } else {
                        n.append_domain(&origin)
                    }
                })
                .map_err(|e| invalid_input(format!("bad host name {name:?}: {e}")))?;
            if !origin.zone_of(&fqdn) {
                return Err(invalid_input(format!(
                    "host name {fqdn} is outside the zone {origin}"
                )));
            }
            for &addr in addrs {
                upsert(
                    &mut zone,
                    Record::from_rdata(fqdn.clone(), TTL, RData::from(addr)),
                )?;
            }
        }

        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
        Ok(catalog)
    }
}

fn relative(label: &str, origin: &Name) -> io::Result<Name> {
    Name::from_ascii(label)
        .and_then(|n| n.append_domain(origin))
        .map_err(|e| invalid_input(format!("cannot build {label}.{origin}: {e}")))
}

fn upsert(zone: &mut InMemoryZoneHandler<TokioRuntimeProvider>, record: Record) -> io::Result<()> {
    let text = record.to_string();
    if zone.upsert_mut(record, SERIAL) {
        Ok(())
    } else {
        Err(invalid_input(format!("zone rejected record {text}")))
    }
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Sleeps per query record type, then lets the catalog answer.
struct DelayingHandler {
    catalog: Catalog,
    delays: HashMap<RecordType, Duration>,
}

impl DelayingHandler {
    fn delay_for(&self, request: &Request) -> Option<Duration> {
        request
            .queries
            .queries()
            .iter()
            .filter_map(|q| self.delays.get(&q.query_type()).copied())
            .max()
    }
}

// `RequestHandler` is an `#[async_trait]` trait; this is the signature that macro produces,
// written out so the crate does not need `async-trait` itself.
impl RequestHandler for DelayingHandler {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: 'async_trait + ResponseHandler,
        T: 'async_trait + Time,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if let Some(delay) = self.delay_for(request) {
                tokio::time::sleep(delay).await;
            }
            self.catalog
                .handle_request::<R, T>(request, response_handle)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::RData as ResolverRData;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use tokio::time::Instant;

    const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const V4B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

    async fn lab() -> DnsServer {
        DnsServer::builder()
            .host("v4only", [IpAddr::V4(V4), IpAddr::V4(V4B)])
            .host("v6only.lab.test.", [IpAddr::V6(V6)])
            .host("both", [IpAddr::V4(V4)])
            .host("both", [IpAddr::V6(V6)])
            .start()
            .await
            .unwrap()
    }

    fn v4s(lookup: &hickory_resolver::lookup::Lookup) -> Vec<Ipv4Addr> {
        lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                ResolverRData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    fn v6s(lookup: &hickory_resolver::lookup::Lookup) -> Vec<Ipv6Addr> {
        lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                ResolverRData::AAAA(aaaa) => Some(aaaa.0),
                _ => None,
            })
            .collect()
    }

    fn is_nodata(e: &NetError) -> bool {
        e.is_no_records_found() && !e.is_nx_domain()
    }

    #[tokio::test]
    async fn ports_differ_and_config_points_at_them() {
        let server = lab().await;
        assert_ne!(server.udp_addr().port(), server.tcp_addr().port());
        let config = server.resolver_config();
        let ns = &config.name_servers()[0];
        let ports: Vec<u16> = ns.connections.iter().map(|c| c.port).collect();
        assert_eq!(ports, [server.udp_addr().port(), server.tcp_addr().port()]);
    }

    #[tokio::test]
    async fn a_only_name() {
        let server = lab().await;
        let r = server.resolver();
        let mut got = v4s(&r.ipv4_lookup("v4only.lab.test.").await.unwrap());
        got.sort();
        assert_eq!(got, [V4, V4B]);
        let err = r.ipv6_lookup("v4only.lab.test.").await.unwrap_err();
        assert!(is_nodata(&err), "{err:?}");
    }

    #[tokio::test]
    async fn aaaa_only_name() {
        let server = lab().await;
        let r = server.resolver();
        assert_eq!(v6s(&r.ipv6_lookup("v6only.lab.test.").await.unwrap()), [V6]);
        let err = r.ipv4_lookup("v6only.lab.test.").await.unwrap_err();
        assert!(is_nodata(&err), "{err:?}");
    }

    #[tokio::test]
    async fn both_families() {
        let server = lab().await;
        let r = server.resolver();
        assert_eq!(v4s(&r.ipv4_lookup("both.lab.test.").await.unwrap()), [V4]);
        assert_eq!(v6s(&r.ipv6_lookup("both.lab.test.").await.unwrap()), [V6]);
        // Case-insensitive, as DNS names are.
        assert_eq!(v4s(&r.ipv4_lookup("BOTH.Lab.Test.").await.unwrap()), [V4]);
    }

    #[tokio::test]
    async fn nxdomain() {
        let server = lab().await;
        let r = server.resolver();
        for err in [
            r.ipv4_lookup("missing.lab.test.").await.unwrap_err(),
            r.ipv6_lookup("missing.lab.test.").await.unwrap_err(),
        ] {
            assert!(err.is_nx_domain(), "{err:?}");
            assert!(err.is_no_records_found(), "{err:?}");
        }
    }

    #[tokio::test]
    async fn over_tcp_only() {
        let server = lab().await;
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.tcp_addr().port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            server.tcp_addr().ip(),
            true,
            vec![tcp],
        )]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = DnsServer::resolver_opts();
        let r = builder.build().unwrap();
        assert_eq!(v6s(&r.ipv6_lookup("both.lab.test.").await.unwrap()), [V6]);
        assert!(r
            .ipv4_lookup("nope.lab.test.")
            .await
            .unwrap_err()
            .is_nx_domain());
    }

    #[tokio::test]
    async fn custom_origin_and_bad_names() {
        let server = DnsServer::builder()
            .origin("example.internal")
            .host("h", [IpAddr::V4(V4)])
            .start()
            .await
            .unwrap();
        assert_eq!(server.origin().to_string(), "example.internal.");
        let r = server.resolver();
        assert_eq!(
            v4s(&r.ipv4_lookup("h.example.internal.").await.unwrap()),
            [V4]
        );

        let err = DnsServer::builder()
            .host("elsewhere.example.", [IpAddr::V4(V4)])
            .start()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aaaa_delay_lets_a_win() {
        let server = DnsServer::builder()
            .host("both", [IpAddr::V4(V4), IpAddr::V6(V6)])
            .delay(RecordType::AAAA, Duration::from_millis(200))
            .start()
            .await
            .unwrap();
        let r = server.resolver();
        let start = Instant::now();
        let a = async {
            let res = r.ipv4_lookup("both.lab.test.").await;
            (res, start.elapsed())
        };
        let aaaa = async {
            let res = r.ipv6_lookup("both.lab.test.").await;
            (res, start.elapsed())
        };
        let ((a, a_took), (aaaa, aaaa_took)) = tokio::join!(a, aaaa);
        eprintln!("real clock: A {a_took:?}, AAAA {aaaa_took:?}");
        assert_eq!(v4s(&a.unwrap()), [V4]);
        assert_eq!(v6s(&aaaa.unwrap()), [V6]);
        assert!(a_took < Duration::from_millis(150), "A took {a_took:?}");
        assert!(
            aaaa_took >= Duration::from_millis(200),
            "AAAA took {aaaa_took:?}"
        );
    }

    #[tokio::test]
    async fn timeout_is_reported_as_timeout() {
        let server = DnsServer::builder()
            .host("slow", [IpAddr::V4(V4)])
            .delay(RecordType::A, Duration::from_secs(5))
            .start()
            .await
            .unwrap();
        let mut opts = DnsServer::resolver_opts();
        opts.timeout = Duration::from_millis(100);
        let r = server.try_resolver_with(opts).unwrap();
        let start = Instant::now();
        let err = r.ipv4_lookup("slow.lab.test.").await.unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, NetError::Timeout), "{err:?}");
        // One try only (attempts = 0): about one timeout, not two.
        assert!(took < Duration::from_millis(190), "took {took:?}");
    }

    #[tokio::test]
    async fn ip_literals_are_not_short_circuited() {
        let server = lab().await;
        let r = server.resolver();
        let v4 = r.ipv4_lookup("127.0.0.1").await;
        let v6 = r.ipv6_lookup("::1").await;
        let ip = r.lookup_ip("127.0.0.1").await.unwrap();
        eprintln!("ipv4_lookup(127.0.0.1) = {v4:?}");
        eprintln!("ipv6_lookup(::1) = {v6:?}");
        eprintln!("lookup_ip(127.0.0.1) = {:?}", ip.iter().collect::<Vec<_>>());
        assert!(v4.is_err());
        assert!(v6.is_err());
        assert_eq!(
            ip.iter().collect::<Vec<_>>(),
            [IpAddr::V4(Ipv4Addr::LOCALHOST)]
        );
    }

    #[tokio::test]
    async fn drop_stops_the_server() {
        let server = lab().await;
        let r = server.resolver();
        let udp_addr = server.udp_addr();
        let tcp_addr = server.tcp_addr();
        drop(server);
        // Let the runtime process the aborts.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Both ports are free again: the listener tasks (and their sockets) are gone.
        tokio::net::UdpSocket::bind(udp_addr).await.unwrap();
        tokio::net::TcpListener::bind(tcp_addr).await.unwrap();
        let _ = r;
    }

    #[tokio::test(start_paused = true)]
    async fn delay_under_paused_clock() {
        let server = DnsServer::builder()
            .host("both", [IpAddr::V4(V4), IpAddr::V6(V6)])
            .delay(RecordType::AAAA, Duration::from_millis(200))
            .start()
            .await
            .unwrap();
        let r = server.resolver();
        let real = std::time::Instant::now();
        for round in 0..20 {
            let start = Instant::now();
            let a = async {
                let res = r.ipv4_lookup("both.lab.test.").await;
                (res, start.elapsed())
            };
            let aaaa = async {
                let res = r.ipv6_lookup("both.lab.test.").await;
                (res, start.elapsed())
            };
            let ((a, a_took), (aaaa, aaaa_took)) = tokio::join!(a, aaaa);
            eprintln!("paused round {round}: A {a_took:?}, AAAA {aaaa_took:?} (virtual)");
            assert_eq!(v4s(&a.unwrap()), [V4], "round {round}");
            assert_eq!(v6s(&aaaa.unwrap()), [V6], "round {round}");
            assert!(
                a_took < Duration::from_millis(200),
                "round {round}: A {a_took:?}"
            );
            assert!(
                aaaa_took >= Duration::from_millis(200) && aaaa_took < RESOLVER_TIMEOUT,
                "round {round}: AAAA {aaaa_took:?}"
            );
        }
        // 20 delayed answers took 4 s of virtual time but far less real time.
        let real = real.elapsed();
        eprintln!("paused: 20 rounds in {real:?} real time");
        assert!(real < Duration::from_secs(4), "real {real:?}");
    }

    // ---- Evidence for the hickory 0.26 API questions (snippets that compile). ----

    /// (1a) System configuration (/etc/resolv.conf), then tweak the parsed options.
    fn system_resolver() -> Result<TokioResolver, NetError> {
        // Reads /etc/resolv.conf; Err(NetError::Io(..)) if unreadable or without nameservers.
        let mut builder = TokioResolver::builder_tokio()?;
        // `builder_tokio` already installed the resolv.conf options (ndots, timeout,
        // attempts, edns0): modify them in place rather than replacing them.
        let opts = builder.options_mut();
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = Duration::from_secs(2);
        builder.build()
    }

    #[tokio::test]
    async fn system_config_builds_and_errors_are_io() {
        // This machine has /etc/resolv.conf; building does not touch the network.
        let r = system_resolver().unwrap();
        assert_eq!(r.options().cache_size, 0);

        // What a missing / empty resolv.conf gives (same code path as read_system_conf).
        let err = hickory_resolver::system_conf::parse_resolv_conf("").unwrap_err();
        eprintln!("empty resolv.conf -> {err:?} / {err}");
        assert!(matches!(&err, NetError::Io(e) if e.kind() == io::ErrorKind::Other));
        let missing: NetError = std::fs::read("/nonexistent/resolv.conf")
            .unwrap_err()
            .into();
        eprintln!("missing resolv.conf -> {missing:?}");
        assert!(matches!(&missing, NetError::Io(e) if e.kind() == io::ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn hosts_file_is_consulted_by_ipv4_lookup() {
        let server = lab().await;
        // The `Hosts` table (what `ResolveHosts::Auto`/`Always` loads from /etc/hosts) is
        // checked by `ipv4_lookup` before any query is sent.
        let mut hosts = hickory_resolver::Hosts::default();
        hosts
            .read_hosts_conf(&b"192.0.2.77 hostsonly.lab.test\n"[..])
            .unwrap();
        let mut with_hosts = server.resolver();
        with_hosts.set_hosts(Arc::new(hosts));
        assert_eq!(
            v4s(&with_hosts.ipv4_lookup("hostsonly.lab.test.").await.unwrap()),
            [Ipv4Addr::new(192, 0, 2, 77)]
        );
        let err = server
            .resolver()
            .ipv4_lookup("hostsonly.lab.test.")
            .await
            .unwrap_err();
        assert!(err.is_nx_domain(), "{err:?}");

        // `localhost.` is answered inside hickory (RFC 6761), even with hosts off and a
        // server that knows nothing about it.
        let local = server.resolver().ipv4_lookup("localhost.").await.unwrap();
        assert_eq!(v4s(&local), [Ipv4Addr::LOCALHOST]);
    }

    #[tokio::test]
    async fn dead_server_error() {
        let server = lab().await;
        let r = server.resolver();
        drop(server);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        let err = r.ipv4_lookup("both.lab.test.").await.unwrap_err();
        let took = start.elapsed();
        eprintln!("dead server -> {err:?} after {took:?}");
        // UDP to a closed port is not reported as refused: hickory waits for the timeout.
        assert!(matches!(err, NetError::Timeout), "{err:?}");
        assert!(
            took < RESOLVER_TIMEOUT + Duration::from_millis(500),
            "took {took:?}"
        );
    }
}
