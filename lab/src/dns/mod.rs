//! An in-process authoritative DNS server for tests, built on `hickory-server`.
//!
//! [`DnsServer`] serves A, AAAA and HTTPS records ([`Https`]) for a single zone on
//! loopback, over UDP and TCP (each on its own ephemeral port), optionally delaying answers
//! per record type. Names
//! inside the zone that were not given answer `NXDOMAIN`; a name that exists but has no
//! record of the asked type answers `NOERROR` with an empty answer section (NODATA).
//!
//! ```no_run
//! # async fn doc() -> std::io::Result<()> {
//! use std::time::Duration;
//! use connie_lab::{DnsServer, RecordType};
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

mod builder;
mod handler;
mod https;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::{runtime::TokioRuntimeProvider, NetError};
use hickory_resolver::TokioResolver;
use hickory_server::proto::rr::Name;
use hickory_server::Server;

pub use self::builder::DnsServerBuilder;
use self::handler::DelayingHandler;
pub(crate) use self::handler::QueryCounts;
pub use self::https::Https;

/// DNS record type, as used by [`DnsServerBuilder::delay`] (re-exported from `hickory-proto`).
pub use hickory_server::proto::rr::RecordType;

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
    pub(crate) counts: QueryCounts,
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

    /// How many queries of `rtype` the server has received, answered or not yet (for a
    /// test that counts the queries a client sends, such as no `AAAA` without IPv6).
    pub fn queries(&self, rtype: RecordType) -> usize {
        self.counts.of(rtype)
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
