//! [`ConnieConnector`] and [`race_connect`]: configuration around the race engine.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::Either;
use futures_util::stream::{self, Stream};
use futures_util::TryFutureExt;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::budget::{AttemptBudget, Budget, BudgetUse};
use crate::burst::{Bursts, Joinable};
use crate::config::Config;
use crate::connectivity::Reach;
use crate::dial::Origin;
use crate::dns::https::HttpsQuery;
use crate::dns::Answer;
use crate::dns::{Resolve, Resolver};
use crate::history::History;
use crate::nat64::Pref64;
use crate::order::Ranking;
use crate::policy::Policy;
use crate::race::{self, race, Won};
use crate::target::Repr;
use crate::{
    AddressPolicy, ConnectError, ConnectInfo, Connectivity, Dial, IntoTarget, IpFamily, Schedule,
    Target, TcpDialer,
};

/// Connects by racing every address of a target; cheap to clone.
///
/// The configuration lives behind an [`Arc`], so clones share it and a clone per request
/// (as hyper makes) costs a reference count. Setters take and return `self`:
///
/// ```no_run
/// # async fn doc() -> Result<(), connie::ConnectError> {
/// use std::time::Duration;
/// use connie::{ConnieConnector, Schedule};
///
/// let connector = ConnieConnector::new()
///     .schedule(Schedule::rfc8305())
///     .attempt_timeout(Some(Duration::from_secs(2)))
///     .total_timeout(Some(Duration::from_secs(10)));
///
/// let (stream, info) = connector.connect("example.com:443").await?;
/// println!("connected to {} in {:?}", info.remote_addr(), info.elapsed());
/// # drop(stream); Ok(()) }
/// ```
///
/// `D` is the [`Dial`] seam, [`TcpDialer`] by default; [`with_dialer`](Self::with_dialer)
/// replaces it to race something else.
///
/// # The runtime
///
/// A connector may be made anywhere, but it connects on a tokio runtime with IO and time
/// enabled (`Builder::enable_all()`, as `#[tokio::main]` and `#[tokio::test]` build):
/// the schedule, the timeouts and hickory's lookups run on tokio timers. On a runtime
/// built without `enable_time()`, a connect that may need a timer fails at once, before
/// any lookup or SYN, with [`ErrorKind::NoTimeDriver`](crate::ErrorKind::NoTimeDriver):
/// every connect but one to a single address with no timeout and no address policy,
/// which needs no timer and connects. tokio offers no way to ask a runtime for its time
/// driver, so connie asks for a timer and catches tokio's panic: the process's panic
/// hook sees it (the default hook prints "timers are disabled"), and under
/// `panic = "abort"` it ends the process. Outside any runtime, a connect panics, as
/// tokio's own sockets do.
#[derive(Debug, Clone)]
pub struct ConnieConnector<D = TcpDialer> {
    pub(crate) config: Arc<Config>,
    pub(crate) resolver: Resolver,
    /// Shared by every clone; `None` when turned off.
    pub(crate) history: Option<Arc<History>>,
    /// The attempts in flight across every race; shared by every clone.
    pub(crate) budget: Arc<Budget>,
    /// The families this host can reach, as last probed; shared by every clone.
    pub(crate) reach: Arc<Reach>,
    /// The races to each destination: the cold ones others follow, the hosts that speak
    /// HTTP/2, each host's cap; shared by every clone.
    pub(crate) bursts: Arc<Bursts>,
    dialer: D,
    /// The URIs the `Service<Uri>` refuses.
    #[cfg(feature = "hyper")]
    pub(crate) schemes: crate::service::Schemes,
}

impl Default for ConnieConnector {
    fn default() -> Self {
        ConnieConnector::new()
    }
}

impl ConnieConnector {
    /// Default cap on attempts running at once in one race: 16.
    ///
    /// When the cap is reached, the next attempt waits for a running one to fail or time
    /// out. While one family has not had an attempt yet, one slot stays free for it, so
    /// attempts hanging on one family's blackholed addresses cannot shut the other family
    /// out.
    pub const DEFAULT_MAX_CONCURRENT: usize = 16;

    /// Default cap on the addresses one race takes: 16.
    ///
    /// Further addresses are ignored, so a hostile DNS answer cannot open hundreds of
    /// sockets. The cap is shared fairly: until a family has answered, half of it stays
    /// reserved for that family, and the first family's addresses over its half are held
    /// back (at most the cap's worth) and join the race if the other family leaves room.
    /// So however many records one family brings, the other family's addresses are still
    /// attempted.
    pub const DEFAULT_MAX_ADDRESSES: usize = 16;

    /// Default number of addresses the history holds: 4,096.
    ///
    /// An entry is 240 bytes, and the hash map keeps room to spare, so a full history
    /// takes about 2 MiB. When it is full, the least recently used eighth is forgotten.
    pub const DEFAULT_HISTORY_CAPACITY: usize = 4096;

    /// A connector with the defaults: [`Schedule::learned`], an address history of
    /// [`Self::DEFAULT_HISTORY_CAPACITY`] addresses, the [`TcpDialer`] defaults,
    /// [`Self::DEFAULT_MAX_CONCURRENT`], [`Self::DEFAULT_MAX_ADDRESSES`], no timeouts, and
    /// the system's DNS configuration (loaded on first use, `/etc/hosts` honoured).
    ///
    /// This does not need a tokio runtime; the resolver is built on the first lookup.
    pub fn new() -> ConnieConnector {
        crate::metrics::describe();
        ConnieConnector {
            config: Arc::new(Config {
                schedule: Schedule::learned(),
                attempt_timeout: None,
                total_timeout: None,
                partial_deadlines: false,
                max_concurrent: ConnieConnector::DEFAULT_MAX_CONCURRENT,
                attempts_per_host: None,
                coordinate: true,
                max_addresses: ConnieConnector::DEFAULT_MAX_ADDRESSES,
                policy: None,
                keep_given_order: false,
                ip_family: IpFamily::Both,
                connectivity: Connectivity::Probe,
                https_records: None,
                https: HttpsQuery::default(),
            }),
            resolver: Resolver::system(),
            history: Some(Arc::new(History::new(
                ConnieConnector::DEFAULT_HISTORY_CAPACITY,
            ))),
            budget: Arc::new(Budget::new(AttemptBudget::default())),
            reach: Arc::new(Reach::new()),
            bursts: Arc::default(),
            dialer: TcpDialer::new(),
            #[cfg(feature = "hyper")]
            schemes: crate::service::Schemes::default(),
        }
    }
}

impl<D> ConnieConnector<D> {
    pub(crate) fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Sets when attempts start: [`Schedule::learned`], [`Schedule::race_all`],
    /// [`Schedule::rfc8305`], [`Schedule::sequential`], or a tuned one.
    ///
    /// Default is [`Schedule::learned`].
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.config_mut().schedule = schedule;
        self
    }

    /// Sets a timeout for each attempt; an attempt that hits it fails with
    /// [`std::io::ErrorKind::TimedOut`], which lets the next attempt start at once.
    ///
    /// Default is `None`: an attempt ends when the operating system gives up (about two
    /// minutes for a blackholed address on Linux).
    pub fn attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config_mut().attempt_timeout = timeout;
        self
    }

    /// Sets a timeout for the whole race, DNS included; when it elapses the race fails with
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut).
    ///
    /// Default is `None`.
    pub fn total_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config_mut().total_timeout = timeout;
        self
    }

    /// Splits the total timeout into a deadline per attempt, as Go's `net.Dialer` does:
    /// each attempt may take the time left divided by the addresses not yet attempted
    /// (itself included), but at least 2 s, or all that is left when less than 2 s is.
    ///
    /// It matters for schedules that wait for a failure before the next attempt
    /// ([`Schedule::sequential`]): with only a total timeout, a blackholed first address
    /// would take the whole budget, and the addresses after it would never be tried. With
    /// partial deadlines, `sequential()` and a 10 s total timeout over [dead, dead, alive]
    /// give the first attempt 3.3 s, the second 3.3 s, and connect to the third at 6.7 s.
    /// A per-attempt timeout, if also set, applies as well (the shorter wins). Without a
    /// total timeout this does nothing.
    ///
    /// Default is `false`.
    pub fn partial_deadlines(mut self, on: bool) -> Self {
        self.config_mut().partial_deadlines = on;
        self
    }

    /// Sets how many attempts may run at once; values below 1 are raised to 1.
    ///
    /// With 2 or more, one slot is kept for a family that has no attempt yet (see
    /// [`Self::DEFAULT_MAX_CONCURRENT`]).
    ///
    /// Default is [`Self::DEFAULT_MAX_CONCURRENT`] (16).
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.config_mut().max_concurrent = max.max(1);
        self
    }

    /// Sets how many attempts may race to one host and port at once across this
    /// connector's races by name (and its clones'), beside each race's first attempt,
    /// which never waits. A race over the cap waits its turn, first come, first served,
    /// as for the [attempt budget](Self::attempt_budget), and its own rules go on
    /// meanwhile: a failure that leaves nothing running starts the next attempt at once,
    /// and an attempt past its abandon delay gives its place to the next address. `0`
    /// makes every race to a host dial one address at a time.
    ///
    /// The races to a host share the cap of the first of them in flight.
    ///
    /// It trades time for SYNs, where races to a host cannot follow one another (see
    /// [`coordinate`](Self::coordinate): coordination off, no history, or a first race
    /// that failed or is late). Measured in `connie-eval` (`stress -- --bursts`), 1,000
    /// connects at once to a cold name of three blackholed addresses and an alive one:
    /// coordinated (the default), 1,003 SYNs and a median of 28 ms; racing alone, 4,000
    /// and 65 ms; with a cap of 16 alone, 4,007 and 244 ms, each race moving past its
    /// blackholes one at a time. Where races win before trying every address, it saves
    /// SYNs: 500 connects to a twelve-address name, on a simulated network, send 1,030
    /// instead of 6,000 with a cap of 16, the slowest in 145 ms instead of 10 ms.
    /// (Chromium's 6 per host is a connection pool's limit; hyper-util's pool decides how
    /// many connections connie opens.)
    ///
    /// Default is none.
    pub fn attempts_per_host(mut self, max: usize) -> Self {
        self.config_mut().attempts_per_host = Some(max);
        self
    }

    /// Sets how many addresses one race takes (duplicates count once); values below 1 are
    /// raised to 1.
    ///
    /// With 2 or more, each family is sure of half of them (see
    /// [`Self::DEFAULT_MAX_ADDRESSES`]).
    ///
    /// Default is [`Self::DEFAULT_MAX_ADDRESSES`] (16).
    pub fn max_addresses(mut self, max: usize) -> Self {
        self.config_mut().max_addresses = max.max(1);
        self
    }

    /// Sets which addresses may be dialed at all, checked after DNS and before any SYN;
    /// e.g. [`PublicOnly`](crate::PublicOnly), the SSRF guard for webhook senders, or any
    /// `Fn(SocketAddr) -> bool`. Refused addresses are never dialed and are reported in the
    /// error and in [`ConnectInfo::refused_by_policy`].
    ///
    /// The policy applies to IP literals as much as to DNS answers. On a host that reaches
    /// IPv4 through NAT64 (see [the families looked up](crate#the-families-looked-up)),
    /// an address under the network's prefix must pass as the IPv4 address it stands for
    /// too.
    ///
    /// Default is no policy: every address may be dialed.
    pub fn address_policy(mut self, policy: impl AddressPolicy) -> Self {
        self.config_mut().policy = Some(Policy(Arc::new(policy)));
        self
    }

    /// Sets the address families to look up and dial: both, or IPv4 or IPv6 only.
    ///
    /// A family left out is never queried, and its addresses are never dialed, whether a
    /// resolver gives them or the target is one (a race with no address left fails with
    /// [`ErrorKind::NoAddresses`](crate::ErrorKind::NoAddresses), which names the setting).
    ///
    /// ```
    /// use connie::{ConnieConnector, IpFamily};
    ///
    /// // A network whose IPv6 is broken in a way no route shows.
    /// let connector = ConnieConnector::new().ip_family(IpFamily::V4Only);
    /// # drop(connector);
    /// ```
    ///
    /// Default is [`IpFamily::Both`]: each family this host can reach (see
    /// [`connectivity`](Self::connectivity)).
    pub fn ip_family(mut self, families: IpFamily) -> Self {
        self.config_mut().ip_family = families;
        self
    }

    /// Sets how the connector tells which families this host can reach, to look names up
    /// only in those (Happy Eyeballs v3): with [`Connectivity::Probe`], a host without an
    /// IPv6 route sends no `AAAA` query and waits for no IPv6 answer, and an IPv6-only
    /// host sends no `A` query. [`Connectivity::Assume`] looks both up whatever the
    /// routes. Only a name's lookups are concerned: literal addresses are dialed as given.
    ///
    /// Default is [`Connectivity::Probe`].
    pub fn connectivity(mut self, connectivity: Connectivity) -> Self {
        self.config_mut().connectivity = connectivity;
        self
    }

    /// Sets whether a race to a name looks up its HTTPS records (RFC 9460) beside `AAAA`
    /// and `A`, as Happy Eyeballs v3 has HTTP clients do, and uses what they say:
    ///
    /// - an alias (AliasMode) is followed, at most 4 in a row;
    /// - each service endpoint's addresses are raced before the name's own `A` and `AAAA`
    ///   addresses, endpoints in the order of their priority (ties shuffled), each
    ///   endpoint's addresses by the usual order (RFC 6724 and the address history);
    /// - an endpoint's port is dialed instead of the target's (0 and the ports the Fetch
    ///   standard blocks, such as 25, are ignored);
    /// - its address hints are raced as soon as the records answer, and replaced by its
    ///   target's own `AAAA` and `A` answers when they come; a target other than the name
    ///   is looked up in parallel with the attempts already running;
    /// - an endpoint that speaks only QUIC (`h3`) is skipped, and so is a set the records
    ///   make unusable (an unknown mandatory key).
    ///
    /// With TLS ([`rustls`](Self::rustls)), an endpoint whose protocols (its `alpn`, and
    /// `http/1.1` unless it says `no-default-alpn`) include none the `ClientConfig` offers
    /// is skipped, and an attempt to one offers only the protocols it speaks.
    ///
    /// The first attempt waits for the records as it waits for the preferred family: up
    /// to the schedule's resolution delay ([`Schedule::rfc8305`]'s 50 ms; `learned` and
    /// `race_all` wait for nothing). Records that have not come a fifth of the time `A` and
    /// `AAAA` took after them (at least 5 ms, at most 50 ms, as Chromium) are given up for
    /// the race, so a network that drops HTTPS queries costs at most that: a race whose
    /// every address failed does not wait out the resolver's timeout for them. With ECH
    /// (`ConnieConnector::ech`, feature `ech`), no attempt starts before the records have
    /// answered or been given up. [`ConnectInfo::endpoint`] tells which endpoint won.
    /// Only hickory resolvers look HTTPS records up (the default, and a `TokioResolver`),
    /// for a name of two labels or more; a name without a final dot is asked as given,
    /// fully qualified.
    ///
    /// Default is on for `https` and `wss` URIs through the `Service<Uri>` of a connector
    /// made by [`rustls`](Self::rustls), and off otherwise.
    pub fn https_records(mut self, on: bool) -> Self {
        self.config_mut().https_records = Some(on);
        self
    }

    /// Whether a race to a name from `origin` asks for its HTTPS records, and with what.
    pub(crate) fn https_query(&self, origin: Origin<'_>) -> Option<&HttpsQuery> {
        let on = match self.config.https_records {
            Some(on) => on,
            None => {
                let secure = origin.scheme.and_then(crate::target::is_secure_scheme);
                self.config.https.alpn.is_some() && secure == Some(true)
            }
        };
        on.then_some(&self.config.https)
    }

    /// The families a race to a name looks up.
    pub(crate) fn families(&self) -> IpFamily {
        crate::connectivity::families(self.config.ip_family, self.config.connectivity, &self.reach)
    }

    /// Resolves names with `resolver`: any [`Resolve`], as hyper-util's
    /// `HttpConnector::new_with_resolver` takes any resolver service.
    ///
    /// - A hickory [`TokioResolver`](hickory_resolver::TokioResolver), for custom name
    ///   servers, options or caching, or a resolver shared with other code. connie calls
    ///   its `ipv4_lookup` and `ipv6_lookup` concurrently; `/etc/hosts` is consulted as
    ///   the resolver's options say.
    /// - [`StaticResolver`](crate::dns::StaticResolver): fixed addresses for some names, for
    ///   tests and overrides, with any other resolver as its fallback.
    /// - [`ServiceResolver`](crate::dns::ServiceResolver) (feature `hyper`): a resolver of
    ///   hyper-util's, any `tower_service::Service<Name>` (`GaiResolver`, service
    ///   discovery, DNS over HTTPS).
    /// - [`GetAddrInfo`](crate::dns::GetAddrInfo), as [`getaddrinfo`](Self::getaddrinfo) sets.
    /// - A resolver of your own: each family joins the race as its answer arrives.
    ///
    /// Whatever the resolver, the race applies the [address
    /// policy](Self::address_policy), the address cap, its order and the address history
    /// to its addresses, and dials the target's port on each.
    ///
    /// hickory does not show a built resolver's search list, so for a name that is not
    /// fully qualified (no final dot) hickory applies it to each family's lookup on its
    /// own, and the two may end on different names (`svc.corp.example.` with only an `A`
    /// record, `svc.example.` with only an `AAAA`). connie dials the addresses of one name
    /// only: the name of the first answer with addresses; the other family's addresses join
    /// only if they are of that name. That is the first name in the search list's order
    /// with an address in either family, unless a lookup of an earlier name answers after
    /// one of a later name. With a search list, [`resolver_config`](Self::resolver_config)
    /// has connie apply it itself, and always chooses that first name. A hickory lookup
    /// still running when its race ends (the race was won on the other family's
    /// addresses, or timed out) is left to finish in the background, for at most 5 s, so
    /// its answer reaches the resolver's cache; RFC 8305 likewise keeps processing answers
    /// after a winner.
    ///
    /// Default is [`SystemResolver`](crate::dns::SystemResolver): hickory, built from the
    /// system configuration on first use and shared by every connector made with
    /// [`new`](ConnieConnector::new) (and by [`race_connect`]), so they share one cache;
    /// connie applies its search list as [`resolver_config`](Self::resolver_config) says.
    /// If the configuration cannot be loaded, the operating system's resolver
    /// (`getaddrinfo`) is used and a `tracing` warning says so.
    ///
    /// Replaces [`resolver_config`](Self::resolver_config) and
    /// [`getaddrinfo`](Self::getaddrinfo).
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Resolver::new(resolver);
        self
    }

    /// Resolves names with a hickory resolver built from this configuration and these
    /// options: for custom name servers or options, with the search list applied so that
    /// a race dials one host.
    ///
    /// connie builds the resolver here (it does not need a tokio runtime) and keeps the
    /// configuration's search list and domain and the options' `ndots`, to try the names a
    /// name that is not fully qualified stands for in hickory's order: a name with fewer
    /// than `ndots` dots under the domain, then under each search domain, then as it is; a
    /// name with `ndots` dots or more (or under `localhost`) as it is first, then under the
    /// domain and each search domain. connie looks each name up for both families at once,
    /// and the first name with an address in either family is the host, as hickory's
    /// `lookup_ip` and a `getaddrinfo` call for both families choose:
    ///
    /// - an answer with addresses joins the race as it arrives, and the other family is
    ///   then looked up for that name only;
    /// - when both families of a name fail (no such name, no records, or any other error,
    ///   as in hickory's search), both look the next name up; a name found under none
    ///   fails with the errors of the last name tried.
    ///
    /// A fully qualified name (`svc.example.`) is looked up as it is, both families at
    /// once, as is a name with no search list or domain to apply; so are they with
    /// [`resolver`](Self::resolver). The resolver's other behaviour (name servers, cache,
    /// `/etc/hosts` as its options say) is hickory's; see [`resolver`](Self::resolver) for
    /// the lookups that outlive their race.
    ///
    /// Should hickory fail to build the resolver (it can only with one of its TLS
    /// features), every lookup fails with its error.
    ///
    /// ```no_run
    /// # fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use connie::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    /// use connie::hickory_resolver::proto::rr::Name;
    ///
    /// let mut config = ResolverConfig::from_name_servers(vec![NameServerConfig::udp_and_tcp(
    ///     "192.0.2.53".parse()?,
    /// )]);
    /// config.add_search(Name::from_ascii("corp.example.")?);
    /// let connector = connie::ConnieConnector::new().resolver_config(config, ResolverOpts::default());
    /// # drop(connector); Ok(()) }
    /// ```
    ///
    /// Default is the system configuration, as [`resolver`](Self::resolver) says.
    /// Replaces [`resolver`](Self::resolver) and [`getaddrinfo`](Self::getaddrinfo).
    pub fn resolver_config(mut self, config: ResolverConfig, options: ResolverOpts) -> Self {
        self.resolver = Resolver::hickory_config(config, options);
        self
    }

    /// Resolves names with the operating system's resolver, `getaddrinfo`
    /// ([`GetAddrInfo`](crate::dns::GetAddrInfo)), instead of hickory: for names only NSS knows
    /// (`/etc/nsswitch.conf`: systemd-resolved, mDNS, LDAP, `/etc/hosts` in the order it
    /// gives), or when `/etc/gai.conf` should order the addresses.
    ///
    /// connie makes two calls, one for IPv4 (`AF_INET`) and one for IPv6 (`AF_INET6`), each
    /// on a tokio blocking thread, and each family joins the race as soon as its own call
    /// returns. Each family keeps `getaddrinfo`'s order (RFC 6724 sorting, with
    /// `/etc/gai.conf` on glibc) instead of connie's RFC 6724 sort; the address history
    /// still puts measured addresses first (see [`history`](Self::history)). A family
    /// without addresses (the `AAAA` of an IPv4-only name) is that family's
    /// [`DnsError`](crate::dns::DnsError), "no records", as with hickory. Each call applies
    /// `/etc/resolv.conf`'s search list on its own (glibc's does), so with a search list
    /// the two families of a name that is not fully qualified can come from different
    /// names; hickory, as connie uses it by default, takes both from one.
    /// There is no cache beyond the system's (nscd, systemd-resolved): every race looks the
    /// name up again.
    ///
    /// A `getaddrinfo` call cannot be cancelled: when the race ends first, its thread runs
    /// on until the call returns, and the answer is dropped (a tokio runtime shutting down
    /// waits for it, as for any blocking task).
    ///
    /// Replaces [`resolver`](Self::resolver) and [`resolver_config`](Self::resolver_config).
    /// Default is hickory with the system configuration.
    pub fn getaddrinfo(mut self) -> Self {
        self.resolver = Resolver::new(crate::dns::GetAddrInfo);
        self
    }

    /// Sets how many addresses the connector's address history holds; `0` turns it off.
    ///
    /// The history remembers, per address (IP and port), the smoothed handshake time and
    /// its variance (RFC 6298) of every attempt that connected, the share of its recent
    /// attempts that failed, the last failure and the last success. Races sort by it
    /// (measured addresses first, fastest first counting their failures; addresses that
    /// failed with no time measured, within the last 30 seconds, last), and
    /// [`Schedule::learned`] starts the best known address alone. A handshake time stays
    /// fresh for 10 minutes after the last connection to its address. An entry is dropped when the source
    /// address the system picks for that destination changes: knowledge never crosses
    /// networks (HEv3).
    ///
    /// The history is shared by every clone of the connector, and safe to use from any
    /// number of races at once. When it is full, the least recently used eighth is
    /// forgotten, so it never holds more than `capacity` addresses (an entry is 240
    /// bytes). This makes a new, empty history: clones made before keep the old one.
    ///
    /// Default is [`Self::DEFAULT_HISTORY_CAPACITY`] (4,096 addresses).
    pub fn history(mut self, capacity: usize) -> Self {
        self.history = (capacity > 0).then(|| Arc::new(History::new(capacity)));
        self
    }

    /// Forgets everything the address history has learned, for this connector and every
    /// clone of it; the next race to any host races every address, as a first connect
    /// does. For example after the network changed in a way the source address does not
    /// show (a VPN coming up on the same interface).
    pub fn forget(&self) {
        if let Some(history) = &self.history {
            history.forget();
        }
    }

    /// Sets whether races by name to the same host and port, started while a cold one is
    /// in flight, follow it instead of racing every address at once.
    ///
    /// A cold burst (a service starts, a new upstream appears, and many requests arrive
    /// at once) otherwise sends a SYN to every address from every request before any has
    /// won: 500 requests to a 12-address name are up to 6,000 SYNs in a few milliseconds.
    /// With this on, the first race to a host the history does not know races as ever.
    /// The ones that start while it is still looking run their lookups, then wait for it,
    /// at most one attempt delay ([`Schedule`]'s, or RFC 8305's 250 ms for a schedule that
    /// starts every address at once; at most half of what a total timeout leaves), and go
    /// on with what its win taught the history: its winner alone
    /// ([`ConnectInfo::followed`](crate::ConnectInfo::followed)). If it fails, they go on
    /// at once, on their own; if its caller drops it, the next of them probes. A race whose
    /// best address the history knows never waits, and pays nothing for this.
    ///
    /// The trade-off: in a cold burst, a race can be one such wait slower than racing
    /// alone. The races share what they find through the address history, so with
    /// [`history(0)`](Self::history) they do not coordinate. A name with a single address
    /// has nothing to share: its races never wait.
    ///
    /// The connector also remembers the hosts whose connections negotiated HTTP/2 (ALPN
    /// `h2`, with [`RustlsDialer`](crate::RustlsDialer)): a race to one of them waits, at
    /// most 300 ms (as Chromium), while another race to it is in flight. One HTTP/2
    /// connection serves every request, so a connection pool that gets it meanwhile drops
    /// the waiting race before its SYN. The pool, not connie, decides how many connections
    /// to open: hyper-util's legacy `Client` opens one per request that finds none idle,
    /// unless `http2_only(true)` (see the recipes).
    ///
    /// The races of a connector and its clones coordinate with one another, those with
    /// this on; the cap on attempts per host ([`attempts_per_host`](Self::attempts_per_host))
    /// applies either way.
    ///
    /// Default is `true`.
    pub fn coordinate(mut self, on: bool) -> Self {
        self.config_mut().coordinate = on;
        self
    }

    /// Sets whether addresses given as a list (`connect(&[a, b, c][..])`, a `Vec`) are
    /// attempted exactly in the order given: no RFC 6724 sort, no reordering by the
    /// address history, no interleaving of the families. The schedule's timing still
    /// applies. Names resolved by DNS are always sorted.
    ///
    /// Default is `false`: a list is sorted like DNS answers.
    pub fn keep_given_order(mut self, keep: bool) -> Self {
        self.config_mut().keep_given_order = keep;
        self
    }

    /// Sets how many connection attempts may be in flight at once across every race of
    /// this connector and its clones: [`AttemptBudget::FileLimit`], a
    /// [`Fixed`](AttemptBudget::Fixed) number, or [`Unbounded`](AttemptBudget::Unbounded).
    ///
    /// Racing opens more sockets than a plain client: a race of four addresses may hold
    /// four at once. The budget keeps many concurrent races from running out of file
    /// descriptors. A race's first attempt, and any attempt while the race has none
    /// running, never waits for it (it may take the budget over its limit). The race's
    /// further attempts wait their turn (first come, first served) while the budget is
    /// spent, and start when an attempt anywhere ends: it connected, failed, timed out or
    /// lost; or the race abandons its own overdue attempt for the next address (see
    /// [`AttemptBudget`]'s "Under pressure"). So under pressure each race dials one address
    /// at a time, as a plain client does, without waiting for the kernel's SYN timeout, and
    /// attempts in flight stay below the limit plus the number of races running.
    ///
    /// This makes a new budget: clones made before keep the old one.
    /// [`budget_use`](Self::budget_use) reports how it is used.
    ///
    /// Default is [`AttemptBudget::FileLimit`]: a quarter of the process's soft
    /// `RLIMIT_NOFILE`, at least 64 and at most 65,536, and 1,024 where the limit cannot be
    /// read; 5,000 for a limit of 20,000. The limit is read at the first attempt, so a
    /// program that raises it at start-up gets the larger budget.
    pub fn attempt_budget(mut self, budget: AttemptBudget) -> Self {
        self.budget = Arc::new(Budget::new(budget));
        self
    }

    /// How the attempt budget is used right now: its limit, the attempts in flight, the
    /// races waiting for a permit, and the most attempts ever in flight at once. Cheap
    /// enough to read from a metrics exporter at any rate.
    pub fn budget_use(&self) -> BudgetUse {
        self.budget.usage()
    }

    /// What a race of this connector orders its addresses by.
    pub(crate) fn ranking(&self) -> Ranking<'_> {
        Ranking {
            history: self.history.as_deref(),
            ..Ranking::sorted()
        }
    }

    /// Replaces the dialer: what opens one connection to one address.
    ///
    /// Default is [`TcpDialer::new`].
    pub fn with_dialer<D2>(self, dialer: D2) -> ConnieConnector<D2> {
        ConnieConnector {
            config: self.config,
            resolver: self.resolver,
            history: self.history,
            budget: self.budget,
            reach: self.reach,
            bursts: self.bursts,
            dialer,
            #[cfg(feature = "hyper")]
            schemes: self.schemes,
        }
    }

    /// The dialer.
    pub fn dialer(&self) -> &D {
        &self.dialer
    }
}

impl ConnieConnector<TcpDialer> {
    /// Changes the socket options of the default [`TcpDialer`]: keepalive, buffer sizes,
    /// `SO_REUSEADDR`, the interface, `SO_MARK`, `TCP_USER_TIMEOUT`, the local address…
    /// everything hyper-util's `HttpConnector` sets, without writing a dialer.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), connie::ConnectError> {
    /// use std::time::Duration;
    ///
    /// let connector = connie::ConnieConnector::new().tcp(|tcp| {
    ///     tcp.keepalive(Some(Duration::from_secs(60)))
    ///         .send_buffer_size(Some(256 * 1024))
    ///         .reuse_address(true)
    /// });
    /// let (stream, _info) = connector.connect("example.com:80").await?;
    /// # drop(stream); Ok(()) }
    /// ```
    ///
    /// Default is [`TcpDialer::new`].
    pub fn tcp(mut self, configure: impl FnOnce(TcpDialer) -> TcpDialer) -> Self {
        self.dialer = configure(self.dialer);
        self
    }
}

impl<D: Dial> ConnieConnector<D> {
    /// Connects to `target` by racing its addresses, and reports how the race went.
    ///
    /// Host names are resolved with concurrent `A` and `AAAA` lookups, each answer joining
    /// the race as soon as it arrives; IP literals and [`SocketAddr`](std::net::SocketAddr)s
    /// skip DNS. The first attempt to connect wins; every other attempt is dropped (its
    /// socket closed) before this returns.
    ///
    /// # Errors
    ///
    /// A [`ConnectError`] saying what failed: an invalid target, DNS, no addresses, every
    /// attempt (each address with its error), the total timeout, or a runtime without the
    /// time driver (see [the runtime](Self#the-runtime)).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every attempt in flight and closes their sockets.
    pub async fn connect(
        &self,
        target: impl IntoTarget,
    ) -> Result<(D::Connection, ConnectInfo), ConnectError> {
        self.connect_for(target.into_target()?, None).await
    }

    /// [`connect`](Self::connect) for a URI of `scheme`, which the dialer is told.
    ///
    /// The race's future is made here: the one returned holds it and nothing of `target`
    /// beside it.
    // Inlined: the race's future is made where its caller keeps it, not copied out.
    #[inline(always)]
    pub(crate) fn connect_for<'a>(
        &'a self,
        target: Target,
        scheme: Option<&'a str>,
    ) -> impl Future<Output = Result<(D::Connection, ConnectInfo), ConnectError>> + 'a {
        self.traced(target, scheme).map_ok(move |(conn, won)| {
            // The race ends as it returns: a caller that never asks how it went reads no
            // clock.
            let info = won.into_info();
            let local_addr = self.dialer.local_addr(&conn);
            let alpn = self.dialer.alpn(&conn);
            (conn, info.with_connection(local_addr, alpn))
        })
    }

    /// [`dispatch`](Self::dispatch) in the race's `tracing` span, if a subscriber wants
    /// it: then boxed, the span with it, and the span told how the race ended.
    // Inlined: the race's future is made where its caller keeps it, not copied out.
    #[inline(always)]
    fn traced<'a>(
        &'a self,
        target: Target,
        scheme: Option<&'a str>,
    ) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
        let span = race::span(&target, &self.config);
        if span.is_disabled() {
            Either::Left(self.dispatch(target, scheme))
        } else {
            let race = self.dispatch(target, scheme).instrument(span.clone());
            Either::Right(Box::pin(async move {
                let result = race.await;
                race::ended(&span, &result);
                result
            }))
        }
    }

    /// Races `target`: one address alone, a list, or a name's addresses as DNS answers.
    ///
    /// Each way is a future of its own, made here: the one returned holds the way taken,
    /// and nothing of `target` but what its error names.
    // Inlined: the race's future is made where its caller keeps it, not copied out.
    #[inline(always)]
    fn dispatch<'a>(
        &'a self,
        target: Target,
        scheme: Option<&'a str>,
    ) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
        let literal = Origin { host: None, scheme };
        let (addrs, one) = match target.into_repr() {
            Repr::Addr(addr) if race::one::applies(&self.config) && !self.may_need_nat64(addr) => {
                let race = race::one_to(&self.dialer, &self.config, &self.budget, literal, addr);
                return Either::Left(race);
            }
            Repr::Addr(addr) => (vec![addr], Some(addr)),
            Repr::Addrs(addrs) => (addrs, None),
            Repr::Host { host, port, plain } => {
                return Either::Right(Either::Right(self.by_name(host, port, plain, scheme)));
            }
        };
        let n = addrs.len();
        let race = self.race_addrs(literal, addrs);
        Either::Right(Either::Left(race.map_err(move |e| {
            let target = match one {
                Some(addr) => addr.to_string(),
                None => format!("{n} addresses"),
            };
            e.with_target(target, None)
        })))
    }

    /// Races literal addresses, IPv4 ones through NAT64 if this host needs it.
    ///
    /// An `async` block, not an `async fn`, which would keep its arguments twice.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn stores its arguments twice"
    )]
    fn race_addrs<'a>(
        &'a self,
        origin: Origin<'a>,
        addrs: Vec<SocketAddr>,
    ) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
        async move {
            // The machine dials a local address as it is, under a prefix too.
            let nat64 = match addrs.iter().any(|a| self.may_need_nat64(*a)) {
                true => self.nat64().await,
                false => None,
            };
            let answers = stream::iter([Answer::literal(addrs)]);
            self.race(origin, answers, nat64.as_ref(), None).await
        }
    }

    /// Races the addresses of `host`, as DNS answers them.
    ///
    /// An `async` block, not an `async fn`, which would keep its arguments twice in its
    /// future (as given, and as the body's locals).
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn stores its arguments twice"
    )]
    // Inlined: the race's future is made where its caller keeps it, not copied out.
    #[inline(always)]
    fn by_name<'a>(
        &'a self,
        host: String,
        port: u16,
        plain: bool,
        scheme: Option<&'a str>,
    ) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
        async move {
            let origin = Origin {
                host: Some(host.trim_end_matches('.')),
                scheme,
            };
            // One await: what the lookup and the race keep lives in their own future. A
            // host that speaks HTTP/2 gets one race at a time, for a while (boxed: most
            // races never wait for their turn).
            let race = match self.config.coordinate && self.bursts.any_h2() {
                true => Box::pin(self.race_in_turn(origin, &host, plain, port)).await,
                false => self.race_name(origin, &host, plain, port).await,
            };
            if let Some(alpn) = race.as_ref().ok().and_then(|(c, _)| self.dialer.alpn(c)) {
                let name = origin.host.unwrap_or(&host);
                self.bursts.negotiated(name, port, alpn == b"h2");
            }
            race.map_err(|e| e.with_target(format!("{host}:{port}"), Some(host)))
        }
    }

    /// [`race_name`](Self::race_name) in its turn, if `origin`'s host speaks HTTP/2.
    async fn race_in_turn<'a>(
        &'a self,
        origin: Origin<'a>,
        host: &'a str,
        plain: bool,
        port: u16,
    ) -> Result<(D::Connection, Won), ConnectError> {
        let name = origin.host.unwrap_or(host);
        let _turn = self.bursts.h2_turn(name, port).await?;
        self.race_name(origin, host, plain, port).await
    }

    /// Races `host`'s addresses, looked up in the families this host reaches; an
    /// IPv6-only host behind NAT64 looks `A` up too, and dials each IPv4 address under
    /// the prefix.
    ///
    /// An `async` block, not an `async fn`, which would keep its arguments twice.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn stores its arguments twice"
    )]
    fn race_name<'a>(
        &'a self,
        origin: Origin<'a>,
        host: &'a str,
        plain: bool,
        port: u16,
    ) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
        async move {
            let mut families = self.families();
            let nat64 = match families {
                IpFamily::V6Only => self.nat64().await,
                _ => None,
            };
            if nat64.is_some() {
                families = IpFamily::Both;
            }
            let https = self.https_query(origin);
            let answers = self.resolver.lookup(host, plain, port, families, https)?;
            // Races to one name follow one another through the history: without it
            // they cannot.
            let burst = Some(Joinable {
                bursts: &self.bursts,
                port,
                follow: self.config.coordinate && self.history.is_some(),
            });
            self.race(origin, answers, nat64.as_ref(), burst).await
        }
    }

    /// Runs the race engine on `answers`, through `nat64` if given, in the `burst` to its
    /// destination if it starts cold.
    ///
    /// Not an `async fn`: the engine's future takes the arguments as it is made, so the
    /// one returned keeps nothing of them beside it.
    fn race<'a, S>(
        &'a self,
        origin: Origin<'a>,
        answers: S,
        nat64: Option<&'a Pref64>,
        burst: Option<Joinable<'a>>,
    ) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a
    where
        S: Stream<Item = Answer> + Unpin + 'a,
    {
        let ranking = Ranking {
            nat64,
            ..self.ranking()
        };
        // The engine's future is several hundred bytes: boxed, a race of one address
        // (`race::one`) carries no room for it.
        let race = Box::pin(race(
            &self.dialer,
            &self.config,
            ranking,
            &self.budget,
            origin,
            answers,
            burst,
        ));
        race.map_ok(|(conn, info)| (conn, Won::Raced(Box::new(info))))
    }
}

/// Connects to `target` by racing all of its addresses with the default
/// [`ConnieConnector`], and returns the first connection to complete.
///
/// `target` is anything that implements [`IntoTarget`]: `"host:port"`, `("host", port)`, a
/// [`SocketAddr`](std::net::SocketAddr), or a slice or `Vec` of them. Names are resolved
/// with the system's DNS configuration (loaded once per process, on first use); IP
/// literals never touch DNS. The default connector is one per process, so every call
/// shares its address history: from the second connect to a host on, its best known
/// address is dialed alone ([`Schedule::learned`]).
///
/// It needs a tokio runtime with IO and time enabled, as [`ConnieConnector`] does
/// ([the runtime](ConnieConnector#the-runtime)): on one built without `enable_time()` it
/// fails with [`ErrorKind::NoTimeDriver`](crate::ErrorKind::NoTimeDriver), unless `target`
/// is one IP address (a `SocketAddr` or a literal), which it dials alone, with no timer.
///
/// # Examples
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// let stream = connie::race_connect("example.com:80").await?;
/// println!("connected to {}", stream.peer_addr()?);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// See [`ConnieConnector::connect`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Dropping the future drops every attempt in flight and closes their sockets.
pub async fn race_connect(target: impl IntoTarget) -> Result<TcpStream, ConnectError> {
    let target = target.into_target()?;
    // As `connect` races, without the account it makes (`Won` is dropped as it is).
    let (stream, _) = process_connector().traced(target, None).await?;
    Ok(stream)
}

/// How the attempt budget of [`race_connect`]'s connector is used right now, as
/// [`ConnieConnector::budget_use`] tells for a connector of one's own: its limit, the
/// attempts in flight, those waiting for a place, and the most ever in flight at once.
///
/// That connector is one per process, with the default budget
/// ([`AttemptBudget::FileLimit`]); the first call reads the file limit, as the first
/// attempt does, so call it after any change a program makes to its own limit.
///
/// # Examples
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// let stream = connie::race_connect("example.com:80").await?;
/// let used = connie::race_connect_budget_use();
/// println!("{} attempts in flight, peak {}", used.in_flight(), used.peak());
/// # Ok(()) }
/// ```
pub fn race_connect_budget_use() -> BudgetUse {
    process_connector().budget_use()
}

/// The connector [`race_connect`] uses: one per process, built on first use.
fn process_connector() -> &'static ConnieConnector {
    static DEFAULT: OnceLock<ConnieConnector> = OnceLock::new();
    DEFAULT.get_or_init(ConnieConnector::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults the docs promise, written out as numbers: a comparison with the
    /// `DEFAULT_*` constants themselves would pass whatever the constants said.
    #[test]
    fn defaults_are_the_documented_numbers() {
        assert_eq!(ConnieConnector::DEFAULT_MAX_CONCURRENT, 16);
        assert_eq!(ConnieConnector::DEFAULT_MAX_ADDRESSES, 16);
        assert_eq!(ConnieConnector::DEFAULT_HISTORY_CAPACITY, 4096);
        // `partial_deadlines`: "at least 2 s"; `resolver`: lookups linger "at most 5 s".
        assert_eq!(
            crate::schedule::timing::MIN_PARTIAL_DEADLINE,
            Duration::from_secs(2)
        );
        assert_eq!(crate::dns::DNS_LINGER, Duration::from_secs(5));

        let documented = Config {
            // `Schedule::learned`: every address at once until the history knows better,
            // no resolution delay, one address of the leading family first.
            schedule: Schedule {
                attempt_delay: Some(Duration::ZERO),
                resolution_delay: Duration::ZERO,
                first_family_count: 1,
                preferred_family: None,
                learned: true,
            },
            attempt_timeout: None,
            total_timeout: None,
            partial_deadlines: false,
            max_concurrent: 16,
            attempts_per_host: None,
            coordinate: true,
            max_addresses: 16,
            policy: None,
            keep_given_order: false,
            ip_family: IpFamily::Both,
            connectivity: Connectivity::Probe,
            https_records: None,
            https: HttpsQuery::default(),
        };
        for c in [ConnieConnector::new(), ConnieConnector::default()] {
            assert_eq!(*c.config, documented);
            // Its fields are pinned by `tcp::tests::defaults_are_the_documented_values`.
            assert_eq!(*c.dialer(), TcpDialer::new());
            // `enforce_http`: on; `https_only`: off.
            #[cfg(feature = "hyper")]
            assert_eq!(
                (c.schemes.enforce_http, c.schemes.https_only),
                (true, false)
            );
            // An address history of 4,096 addresses, its own.
            let history = c.history.as_ref().expect("the history is on by default");
            assert_eq!(history.capacity(), 4096);
            assert_eq!(history.len(), 0);
            // A budget sized from the file limit, its own, unused.
            let soft = crate::budget::soft_file_limit();
            let limit = crate::budget::file_limit_budget(soft);
            let unused = (Some(limit), 0, 0, 0);
            let u = c.budget_use();
            assert_eq!((u.limit(), u.in_flight(), u.waiting(), u.peak()), unused);
        }
        assert!(!Arc::ptr_eq(
            &ConnieConnector::new().budget,
            &ConnieConnector::new().budget
        ));
        assert!(!Arc::ptr_eq(
            ConnieConnector::new().history.as_ref().unwrap(),
            ConnieConnector::new().history.as_ref().unwrap()
        ));
    }

    /// Each setter changes what it says, and only that; the caps are raised to 1.
    #[test]
    fn every_setter_sets_its_own_field() {
        let base = ConnieConnector::new();
        let plan = |c: ConnieConnector| (*c.config).clone();
        let changed = |f: fn(&mut Config)| {
            let mut p = plan(ConnieConnector::new());
            f(&mut p);
            p
        };
        let s = Duration::from_secs;
        assert_eq!(
            plan(base.clone().schedule(Schedule::rfc8305())),
            changed(|p| p.schedule = Schedule::rfc8305())
        );
        assert_eq!(
            plan(base.clone().attempt_timeout(Some(s(3)))),
            changed(|p| p.attempt_timeout = Some(Duration::from_secs(3)))
        );
        assert_eq!(
            plan(base.clone().total_timeout(Some(s(9)))),
            changed(|p| p.total_timeout = Some(Duration::from_secs(9)))
        );
        assert_eq!(
            plan(base.clone().partial_deadlines(true)),
            changed(|p| p.partial_deadlines = true)
        );
        for (given, set) in [(0, 1), (1, 1), (2, 2), (300, 300)] {
            assert_eq!(
                base.clone().max_concurrent(given).config.max_concurrent,
                set
            );
            assert_eq!(base.clone().max_addresses(given).config.max_addresses, set);
            let both = base.clone().max_concurrent(given).max_addresses(given);
            assert_eq!(
                (both.config.max_concurrent, both.config.max_addresses),
                (set, set)
            );
        }
        assert_eq!(
            plan(base.clone().https_records(true)),
            changed(|p| p.https_records = Some(true))
        );
        assert_eq!(
            plan(base.clone().attempts_per_host(0)),
            changed(|p| p.attempts_per_host = Some(0))
        );
        assert_eq!(
            plan(base.clone().coordinate(false)),
            changed(|p| p.coordinate = false)
        );
        assert_eq!(
            plan(base.clone().https_records(false)),
            changed(|p| p.https_records = Some(false))
        );
        let guarded = base.clone().address_policy(crate::PublicOnly);
        let policy = guarded.config.policy.as_ref().expect("a policy");
        assert!(!policy.0.allows("127.0.0.1:80".parse().unwrap()));
        assert!(policy.0.allows("1.1.1.1:80".parse().unwrap()));
        #[cfg(feature = "hyper")]
        {
            assert!(!base.clone().enforce_http(false).schemes.enforce_http);
            assert!(base.clone().enforce_http(true).schemes.enforce_http);
            assert!(base.clone().https_only(true).schemes.https_only);
        }

        let tcp = base
            .clone()
            .tcp(|tcp| tcp.nodelay(false).reuse_address(true));
        assert_eq!(
            *tcp.dialer(),
            TcpDialer::new().nodelay(false).reuse_address(true)
        );
        // Replacing the dialer keeps everything else.
        let tuned = base.max_addresses(3);
        #[cfg(feature = "hyper")]
        let tuned = tuned.enforce_http(false).https_only(true);
        let other = tuned.clone().with_dialer(7_u8);
        assert_eq!(*other.dialer(), 7);
        assert!(Arc::ptr_eq(&other.config, &tuned.config));
        #[cfg(feature = "hyper")]
        assert_eq!(other.schemes, tuned.schemes);
    }

    #[test]
    fn clones_share_config_until_changed() {
        let a = ConnieConnector::new();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.config, &b.config));
        let c = b.clone().max_concurrent(0);
        assert_eq!(c.config.max_concurrent, 1);
        assert_eq!(
            a.config.max_concurrent,
            ConnieConnector::DEFAULT_MAX_CONCURRENT
        );
    }

    /// Clones share one history, also across setters and `with_dialer`; `history(n)` makes
    /// a new one, and `history(0)` turns it off.
    #[test]
    fn clones_share_the_history_until_it_is_replaced() {
        let shared = |a: &Option<Arc<History>>, b: &Option<Arc<History>>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        let a = ConnieConnector::new();
        let tuned = a.clone().max_concurrent(3).keep_given_order(true);
        assert!(shared(&a.history, &tuned.history));
        assert!(shared(&a.history, &a.clone().with_dialer(7_u8).history));
        let resized = a.clone().history(10);
        assert!(!shared(&a.history, &resized.history));
        assert_eq!(resized.history.as_ref().map(|h| h.capacity()), Some(10));
        let off = a.clone().history(0);
        assert!(off.history.is_none());
        off.forget(); // nothing to forget, and no panic
        assert!(tuned.config.keep_given_order && !a.config.keep_given_order);
    }

    /// Clones share the attempt budget: an attempt of one counts for all of them, until
    /// `attempt_budget` gives one its own.
    #[test]
    fn clones_share_the_budget_until_it_is_replaced() {
        let a = ConnieConnector::new().attempt_budget(AttemptBudget::Fixed(3));
        let tuned = a.clone().max_concurrent(2).with_dialer(7_u8);
        let own = a.clone().attempt_budget(AttemptBudget::Unbounded);
        let permit = a.budget.free();
        assert_eq!(tuned.budget_use().in_flight(), 1);
        assert_eq!(tuned.budget_use().limit(), Some(3));
        assert_eq!(own.budget_use().in_flight(), 0);
        assert_eq!(own.budget_use().limit(), None);
        drop(permit);
        assert_eq!((a.budget_use().in_flight(), a.budget_use().peak()), (0, 1));
    }

    /// Every `race_connect` call uses the one process-wide connector, so they share its
    /// history and its attempt budget.
    #[test]
    fn race_connect_shares_one_history() {
        let (a, b) = (process_connector(), process_connector());
        assert!(std::ptr::eq(a, b));
        assert!(a.history.is_some());
        assert_eq!(
            a.budget_use().limit(),
            ConnieConnector::new().budget_use().limit()
        );
        assert_eq!(*a.config, *ConnieConnector::new().config);
    }

    /// `race_connect_budget_use` reads the process-wide connector's own budget: a permit
    /// taken there shows in it.
    #[test]
    fn race_connect_budget_use_is_the_process_connectors() {
        let permit = process_connector().budget.free();
        let used = race_connect_budget_use();
        assert!(used.in_flight() >= 1, "{used:?}");
        assert!(used.peak() >= 1, "{used:?}");
        assert_eq!(used.limit(), process_connector().budget_use().limit());
        drop(permit);
    }

    /// The connectivity probe decides the queries: a host that reaches IPv4 only sends
    /// no `AAAA` query (and waits for no IPv6 answer), one that reaches IPv6 only no `A`
    /// query (its second `AAAA` query looks for a NAT64 prefix, `ipv4only.arpa.`, and
    /// finds none); `Assume`, or a probe that finds both or neither, asks both. Against a real
    /// DNS server that counts what it receives; the probe's answers are the test's.
    #[tokio::test(start_paused = true)]
    async fn the_probe_decides_the_queries() {
        use std::net::{IpAddr, SocketAddr};

        use connie_lab::{HostKind, Lab, RecordType};

        use crate::Family;

        fn ip(s: &str) -> IpAddr {
            s.parse().unwrap()
        }
        // A global source for a family with a route; `ENETUNREACH` for one without.
        let reaches = |v4: bool, v6: bool| {
            Reach::with_probe(Box::new(move |dst: SocketAddr| match dst {
                SocketAddr::V4(_) if v4 => Ok(ip("192.0.2.2")),
                SocketAddr::V6(_) if v6 => Ok(ip("2001:db8::2")),
                _ => Err(std::io::ErrorKind::NetworkUnreachable.into()),
            }))
        };
        let lab = Lab::builder()
            .host(HostKind::Alive, ip("::1"))
            .host(HostKind::Alive, ip("127.0.0.2"))
            .build()
            .await
            .unwrap();
        let cases = [
            ((true, false), Connectivity::Probe, (1, 0), Some(Family::V4)),
            ((false, true), Connectivity::Probe, (0, 2), Some(Family::V6)),
            ((true, true), Connectivity::Probe, (1, 1), None),
            ((false, false), Connectivity::Probe, (1, 1), None),
            ((true, false), Connectivity::Assume, (1, 1), None),
        ];
        for ((v4, v6), connectivity, (a, aaaa), family) in cases {
            let dns = lab.dns("www").start().await.unwrap();
            let mut connector = ConnieConnector::new()
                .resolver(dns.resolver())
                .connectivity(connectivity);
            connector.reach = Arc::new(reaches(v4, v6));
            let (_stream, info) = connector
                .connect(("www.lab.test.", lab.port()))
                .await
                .unwrap();
            let case = format!("v4 {v4}, v6 {v6}, {connectivity:?}");
            assert_eq!(dns.queries(RecordType::A), a, "{case}");
            assert_eq!(dns.queries(RecordType::AAAA), aaaa, "{case}");
            if let Some(family) = family {
                assert_eq!(Family::of(&info.remote_addr()), family, "{case}");
                assert_eq!(info.elapsed(), Duration::ZERO, "{case}: nothing waited for");
            }
        }
    }

    /// On a host that reaches IPv6 only, the NAT64 prefix is found through the
    /// connector's own resolver (`ipv4only.arpa.`, RFC 7050), and `PublicOnly` judges
    /// every address under it by the IPv4 address it stands for: a DNS64 answer for
    /// `10.0.0.1`, and an `A` answer of `10.0.0.2` the race puts under the prefix, are
    /// both refused, though the prefix is global. Nothing is dialed.
    #[tokio::test(start_paused = true)]
    async fn public_only_judges_the_ipv4_address_under_the_discovered_prefix() {
        use std::net::{IpAddr, SocketAddr};

        use connie_lab::{DnsServer, RecordType};

        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let dns = DnsServer::builder()
            .ipv4only_arpa("2600:1f00:64::".parse().unwrap())
            .host("dns64", [ip("2600:1f00:64::a00:1")])
            .host("private", [ip("10.0.0.2")])
            .start()
            .await
            .unwrap();
        let mut connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .address_policy(crate::PublicOnly);
        connector.reach = Arc::new(Reach::with_probe(Box::new(|dst: SocketAddr| match dst {
            SocketAddr::V6(_) => Ok("2001:db8::2".parse().unwrap()),
            SocketAddr::V4(_) => Err(std::io::ErrorKind::NetworkUnreachable.into()),
        })));
        for (name, refused) in [
            ("dns64.lab.test.", "[2600:1f00:64::a00:1]:443"),
            ("private.lab.test.", "[2600:1f00:64::a00:2]:443"),
        ] {
            let err = connector.connect((name, 443)).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::RefusedByPolicy, "{name}");
            let want: SocketAddr = refused.parse().unwrap();
            assert_eq!(err.refused_by_policy(), [want], "{name}");
        }
        // A list of IPv4 literals goes under the prefix too, whatever comes first: the
        // loopback address as it is, the other in its IPv6 form.
        let list: [SocketAddr; 2] = [
            "127.0.0.1:443".parse().unwrap(),
            "10.0.0.3:443".parse().unwrap(),
        ];
        let err = connector.connect(&list[..]).await.unwrap_err();
        let mut refused = err.refused_by_policy().to_vec();
        refused.sort();
        let want: Vec<SocketAddr> = ["127.0.0.1:443", "[2600:1f00:64::a00:3]:443"]
            .map(|a| a.parse().unwrap())
            .into();
        assert_eq!(refused, want);
        // The prefix was looked up once, and kept.
        assert_eq!(
            dns.queries(RecordType::AAAA),
            3,
            "ipv4only.arpa., then each name"
        );
        assert_eq!(
            dns.queries(RecordType::A),
            2,
            "each name's, through the prefix"
        );
    }
}
