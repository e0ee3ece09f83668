//! Name resolution: `A` and `AAAA` looked up concurrently, each answer delivered the
//! moment it arrives.
//!
//! hickory's `lookup_ip` joins both families and returns only when both have answered,
//! so a slow `AAAA` would hold up a connection to an `A` address. Here the two lookups are
//! separate futures in one stream and the race starts on whichever answers first. The
//! same goes for `getaddrinfo`: one call per family, each on a blocking thread.
//!
//! A name that is not fully qualified is looked up under each name of the search list in
//! turn ([`search`]), both families of one name at a time, so that a race's addresses are
//! all of one host.

mod error;
pub(crate) mod name;
mod search;

use std::error::Error;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use std::{fmt, io};

use dns_lookup::{AddrFamily, AddrInfoHints, LookupError, LookupErrorKind, SockType};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, FuturesUnordered, Stream, StreamExt};
use futures_util::FutureExt;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::TokioResolver;
use tokio::runtime::Handle;
use tracing::{trace, warn};

pub use self::error::DnsError;
use self::search::{is_absolute, SameName, Search, SearchList};
use crate::{ConnectError, Family};

/// One DNS answer, or the literal addresses of a target that needs no DNS: what a race
/// takes in.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The family this answer completes; `None` for literal addresses (no lookup made).
    pub(crate) family: Option<Family>,
    pub(crate) result: Result<Vec<SocketAddr>, DnsError>,
    /// The resolver sorted these addresses already (`getaddrinfo`: RFC 6724 with
    /// `/etc/gai.conf`): the race keeps that order, and ranks them by RFC 6724's rule 1 and
    /// the history only.
    pub(crate) sorted: bool,
}

impl Answer {
    pub(crate) fn literal(addrs: Vec<SocketAddr>) -> Answer {
        Answer {
            family: None,
            result: Ok(addrs),
            sorted: false,
        }
    }
}

/// The stream of answers of one lookup: one per family, in the order they arrive.
pub(crate) type Answers = std::pin::Pin<Box<dyn Stream<Item = Answer> + Send>>;

/// How long a lookup still running when its race ends may go on, so that its answer
/// reaches the resolver's cache (RFC 8305 keeps processing answers after a winner). A
/// dropped hickory lookup never fills the cache, so without this a process whose first
/// race to a name went to IPv4 would miss the cache on `AAAA` at every later connect.
pub(crate) const DNS_LINGER: Duration = Duration::from_secs(5);

/// Lookups of one race, yielded as they finish: `A` and `AAAA` of one name, as [`Answer`]s
/// or, for [`SameName`], as [`Named`] answers.
///
/// Dropped with lookups still running (the race was won, timed out or cancelled), it hands
/// them to a task of the runtime they were started on, which lets them finish for at most
/// [`DNS_LINGER`]. That runtime has a time driver (they were started only once
/// [`timers`](crate::runtime::timers) said so), and the task makes its timer itself: the
/// destructor makes none, so it cannot panic for want of one, wherever it runs (in
/// another runtime, in none, or while a panic unwinds). The task holds nothing but the
/// lookups, and goes away with its runtime.
struct Lookups<T: 'static = Answer> {
    /// The lookups still running, one per family at most: each is polled at every wake,
    /// which two lookups afford more cheaply than a `FuturesUnordered`'s allocations.
    pending: [Option<BoxFuture<'static, T>>; 2],
    /// The runtime the lookups were started on: their sockets are registered with it.
    runtime: Handle,
}

/// One family's answer, and the name hickory answered for (the lookup's query: a name of
/// the search list, for a name that is not fully qualified); `None` when it failed.
type Named = (Answer, Option<Name>);

impl<T> Lookups<T> {
    /// `first` and `second`, started on the current runtime; polled in that order.
    fn new(first: BoxFuture<'static, T>, second: BoxFuture<'static, T>) -> Lookups<T> {
        Lookups {
            pending: [Some(first), Some(second)],
            runtime: Handle::current(),
        }
    }
}

impl<T> Stream for Lookups<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut running = false;
        for slot in &mut self.pending {
            if let Some(lookup) = slot {
                if let Poll::Ready(answer) = lookup.poll_unpin(cx) {
                    *slot = None;
                    return Poll::Ready(Some(answer));
                }
                running = true;
            }
        }
        if running {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }
}

impl<T> Drop for Lookups<T> {
    fn drop(&mut self) {
        if self.pending.iter().all(Option::is_none) {
            return;
        }
        let mut pending: FuturesUnordered<_> =
            self.pending.iter_mut().filter_map(Option::take).collect();
        trace!(
            lookups = pending.len(),
            "letting unfinished lookups fill the cache"
        );
        self.runtime.spawn(async move {
            let every_answer = async { while pending.next().await.is_some() {} };
            // Given up after `DNS_LINGER`: the lookups are dropped with the task.
            let _ = tokio::time::timeout(DNS_LINGER, every_answer).await;
        });
    }
}

/// `name`'s `A` and `AAAA` lookups, concurrently, each finished by `then` (with the
/// family and `port`). hickory applies its search list to each lookup of a name that is
/// not fully qualified on its own.
fn per_family_with<T: 'static>(
    resolver: &Arc<TokioResolver>,
    name: Name,
    port: u16,
    then: fn(Family, u16, Result<Lookup, NetError>) -> T,
) -> Lookups<T> {
    let lookup = |family, name| {
        let resolver = Arc::clone(resolver);
        async move {
            let lookup = match family {
                Family::V4 => resolver.ipv4_lookup(name).await,
                Family::V6 => resolver.ipv6_lookup(name).await,
            };
            then(family, port, lookup)
        }
        .boxed()
    };
    Lookups::new(lookup(Family::V6, name.clone()), lookup(Family::V4, name))
}

/// `name`'s `A` and `AAAA` lookups, concurrently, as [`Answer`]s.
fn per_family(resolver: &Arc<TokioResolver>, name: Name, port: u16) -> Lookups {
    per_family_with(resolver, name, port, answer)
}

/// `family`'s answer: the addresses of that family in `lookup`, with `port`.
fn answer(family: Family, port: u16, lookup: Result<Lookup, NetError>) -> Answer {
    let result = lookup
        .map(|lookup| {
            lookup
                .answers()
                .iter()
                .filter_map(|record| record.data.ip_addr())
                .filter(|ip| ip.is_ipv4() == (family == Family::V4))
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        })
        .map_err(|e| DnsError::new(Some(family), e));
    Answer {
        family: Some(family),
        result,
        sorted: false,
    }
}

/// [`answer`], and the name that answered.
fn named(family: Family, port: u16, lookup: Result<Lookup, NetError>) -> Named {
    let name = lookup.as_ref().ok().map(|l| l.query().name().clone());
    (answer(family, port, lookup), name)
}

/// A resolver shared by every clone of a connector, built on first use (a connector may be
/// made outside a tokio runtime).
#[derive(Clone)]
pub(crate) struct Resolver {
    backend: Arc<OnceLock<Backend>>,
}

enum Backend {
    Hickory(Box<Hickory>),
    /// A hickory resolver that could not be built from its configuration: every lookup
    /// fails with hickory's error.
    Unbuilt(NetError),
    /// The operating system's resolver, `getaddrinfo`, one call per family (see
    /// [`getaddrinfo_per_family`]): asked for with `ConnieConnector::getaddrinfo`, or the
    /// fallback when the system configuration cannot be loaded.
    System,
}

/// A hickory resolver, and its search list when connie built it.
struct Hickory {
    /// Shared with the lookups, which outlive the borrow they are started from.
    resolver: Arc<TokioResolver>,
    /// `None` for a resolver built elsewhere: hickory does not show its search list.
    search: Option<SearchList>,
}

impl Hickory {
    fn build(config: ResolverConfig, options: ResolverOpts) -> Result<Hickory, NetError> {
        let search = SearchList::new(&config, &options);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()?;
        Ok(Hickory {
            resolver: Arc::new(resolver),
            search: Some(search),
        })
    }

    /// Looks `name` up: both families at once, and for a name that is not fully
    /// qualified, both from one name of the search list.
    fn lookup(&self, name: Name, port: u16) -> Answers {
        if is_absolute(&name) {
            return Box::pin(per_family(&self.resolver, name, port));
        }
        let Some(search) = &self.search else {
            return Box::pin(SameName::new(per_family_with(
                &self.resolver,
                name,
                port,
                named,
            )));
        };
        let mut candidates = search.candidates(&name);
        if candidates.len() == 1 {
            let only = candidates.remove(0);
            return Box::pin(per_family(&self.resolver, only, port));
        }
        Box::pin(Search::new(&self.resolver, candidates, port))
    }
}

impl Resolver {
    /// The process's resolver from the system configuration (`/etc/resolv.conf`,
    /// `/etc/hosts`), loaded lazily, once: every connector that uses it shares one cache.
    pub(crate) fn system() -> Resolver {
        static SYSTEM: OnceLock<Arc<OnceLock<Backend>>> = OnceLock::new();
        Resolver {
            backend: Arc::clone(SYSTEM.get_or_init(Arc::default)),
        }
    }

    /// A resolver built elsewhere, whose search list connie cannot see.
    pub(crate) fn hickory(resolver: TokioResolver) -> Resolver {
        let hickory = Hickory {
            resolver: Arc::new(resolver),
            search: None,
        };
        Resolver {
            backend: Arc::new(OnceLock::from(Backend::Hickory(Box::new(hickory)))),
        }
    }

    /// A hickory resolver built from `config` and `options`, which connie applies the
    /// search list of.
    pub(crate) fn hickory_config(config: ResolverConfig, options: ResolverOpts) -> Resolver {
        let backend = match Hickory::build(config, options) {
            Ok(hickory) => Backend::Hickory(Box::new(hickory)),
            Err(error) => Backend::Unbuilt(error),
        };
        Resolver {
            backend: Arc::new(OnceLock::from(backend)),
        }
    }

    /// A resolver that asks the operating system's `getaddrinfo`, one call per family.
    pub(crate) fn getaddrinfo() -> Resolver {
        Resolver {
            backend: Arc::new(OnceLock::from(Backend::System)),
        }
    }

    fn backend(&self) -> &Backend {
        self.backend.get_or_init(|| {
            // Reading the configuration fails with a `NetError` on Linux and a
            // `ProtoError` elsewhere: either is only logged.
            let system = match hickory_resolver::system_conf::read_system_conf() {
                Ok((config, options)) => Hickory::build(config, options).map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match system {
                Ok(hickory) => Backend::Hickory(Box::new(hickory)),
                Err(error) => {
                    warn!(%error, "cannot load the system DNS configuration; using the system resolver (getaddrinfo) instead");
                    Backend::System
                }
            }
        })
    }

    /// Looks up `host`'s `A` and `AAAA` records concurrently.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoTimeDriver`](crate::ErrorKind::NoTimeDriver) before any query if the
    /// resolver is hickory's, whose queries run on tokio timers, and the runtime cannot
    /// make them. `getaddrinfo` needs none.
    pub(crate) fn lookup(&self, host: &str, port: u16) -> Result<Answers, ConnectError> {
        Ok(match self.backend() {
            Backend::Hickory(hickory) => {
                crate::runtime::timers(tokio::time::Instant::now())?;
                // hickory parses a `&str` strictly (IDNA, no `_`); parse it relaxed, as
                // target validation does, so `my_host.example` is looked up.
                match name::parse(host) {
                    Ok(name) => hickory.lookup(name, port),
                    Err(e) => failed(DnsError::new(None, e)),
                }
            }
            Backend::Unbuilt(error) => failed(DnsError::new(None, error.clone())),
            Backend::System => getaddrinfo_per_family(getaddrinfo, host, port),
        })
    }
}

/// One failed answer for both families: no lookup was made.
fn failed(error: DnsError) -> Answers {
    let failed = Answer {
        family: None,
        result: Err(error),
        sorted: false,
    };
    Box::pin(stream::iter([failed]))
}

/// One lookup per family, `lookup(host, port, family)`, each on a tokio blocking thread,
/// yielded as each returns.
///
/// A blocking call cannot be cancelled: dropped before they return, the lookups' threads
/// run on until the calls return, and their answers are dropped. Dropping never blocks.
fn getaddrinfo_per_family<F>(lookup: F, host: &str, port: u16) -> Answers
where
    F: Fn(&str, u16, Family) -> Result<Vec<SocketAddr>, DnsError> + Copy + Send + 'static,
{
    let pending = FuturesUnordered::new();
    for family in [Family::V6, Family::V4] {
        let host = host.to_owned();
        pending.push(async move {
            // Spawned on first poll, not here: the stream may be made outside a runtime.
            let result = tokio::task::spawn_blocking(move || lookup(&host, port, family))
                .await
                .unwrap_or_else(|e| Err(DnsError::new(Some(family), e)));
            // getaddrinfo sorted each family (RFC 6724, `/etc/gai.conf` on glibc).
            Answer {
                family: Some(family),
                result,
                sorted: true,
            }
        });
    }
    Box::pin(pending)
}

/// `getaddrinfo` for one family's stream addresses, in the order it returns them (RFC 6724
/// and `/etc/gai.conf` on glibc), with `port`. Blocks.
///
/// A name without addresses of `family` fails with [`NoRecords`], as hickory's "no
/// records" does, whatever code the C library used to say so.
fn getaddrinfo(host: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>, DnsError> {
    let hints = AddrInfoHints {
        address: match family {
            Family::V4 => AddrFamily::Inet,
            Family::V6 => AddrFamily::Inet6,
        }
        .into(),
        // Without it each address comes once per socket type (stream, datagram, raw).
        socktype: SockType::Stream.into(),
        ..AddrInfoHints::default()
    };
    let infos = match dns_lookup::getaddrinfo(Some(host), None, Some(hints)) {
        Ok(infos) => infos,
        Err(e) if no_records(&e) => {
            return Err(DnsError::new(Some(family), NoRecords(e.into())));
        }
        Err(e) => return Err(DnsError::new(Some(family), io::Error::from(e))),
    };
    let mut addrs = Vec::new();
    for info in infos {
        let mut addr = info.map_err(|e| DnsError::new(Some(family), e))?.sockaddr;
        // Only `family` was asked for; should a C library map IPv4 into IPv6 anyway, the
        // mapped addresses are left out, as the hickory path leaves them out.
        if addr.is_ipv4() == (family == Family::V4) {
            // `set_port` keeps an IPv6 address's scope (`fe80::1%eth0` in /etc/hosts).
            addr.set_port(port);
            addrs.push(addr);
        }
    }
    Ok(addrs)
}

/// `EAI_ADDRFAMILY` in glibc and musl, which glibc returns for an IP literal of the other
/// family; the libc crate does not define it for Linux.
#[cfg(target_os = "linux")]
const EAI_ADDRFAMILY: i32 = -9;

/// Whether `getaddrinfo` failed because the name has no address of the family asked for.
///
/// A lookup of one family cannot tell a name that does not exist from one with no address
/// of that family: glibc says `EAI_NONAME` of both (and `EAI_NODATA` when a name server
/// said the name exists), and `EAI_ADDRFAMILY` of an IP literal of the other family.
fn no_records(e: &LookupError) -> bool {
    #[cfg(target_os = "linux")]
    if e.error_num() == EAI_ADDRFAMILY {
        return true;
    }
    matches!(e.kind(), LookupErrorKind::NoName | LookupErrorKind::NoData)
}

/// `getaddrinfo` found no address of the family asked for; the C library's own error is
/// the source.
#[derive(Debug)]
pub(crate) struct NoRecords(io::Error);

impl fmt::Display for NoRecords {
    /// `no records`, as hickory says of an empty answer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no records")
    }
}

impl Error for NoRecords {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend.get() {
            None => "system (not loaded yet)",
            Some(Backend::Hickory(_)) => "hickory",
            Some(Backend::Unbuilt(_)) => "hickory (could not be built)",
            Some(Backend::System) => "system (getaddrinfo)",
        };
        f.debug_struct("Resolver")
            .field("backend", &backend)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> Resolver {
        Resolver::getaddrinfo()
    }

    type Found = Result<Vec<SocketAddr>, DnsError>;

    /// The `A` and the `AAAA` answer of one lookup, each checked to carry its family, in
    /// its error too: the two lookups finish in either order.
    async fn by_family(resolver: &Resolver, host: &str) -> (Found, Found) {
        let (mut v4, mut v6) = (None, None);
        for answer in resolver
            .lookup(host, 8080)
            .unwrap()
            .collect::<Vec<_>>()
            .await
        {
            if let Err(e) = &answer.result {
                assert_eq!(e.family(), answer.family, "{e}");
            }
            let slot = match answer.family {
                Some(Family::V4) => &mut v4,
                Some(Family::V6) => &mut v6,
                None => panic!("an answer without its family"),
            };
            assert!(
                slot.replace(answer.result).is_none(),
                "one answer per family"
            );
        }
        (v4.expect("an A answer"), v6.expect("an AAAA answer"))
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    /// One `getaddrinfo` per family: an IP literal is an address of its own family and
    /// "no records" of the other (glibc says `EAI_ADDRFAMILY`, others `EAI_NONAME`). A
    /// numeric host is parsed without a query.
    #[tokio::test]
    async fn getaddrinfo_asks_each_family_on_its_own() {
        let (v4, v6) = by_family(&system(), "127.0.0.1").await;
        assert_eq!(v4.unwrap(), addrs(&["127.0.0.1:8080"]));
        assert_eq!(v6.unwrap_err().error().to_string(), "no records");

        let (v4, v6) = by_family(&system(), "::1").await;
        assert_eq!(v4.unwrap_err().error().to_string(), "no records");
        assert_eq!(v6.unwrap(), addrs(&["[::1]:8080"]));
    }

    /// `localhost` through NSS: `127.0.0.1` alone for `A`, and `::1` alone for `AAAA` where
    /// `/etc/hosts` says so. Where it does not, `AAAA` would go on to the name servers
    /// (nsswitch's `files dns`), so only `A` is asked: tests stay off the network.
    #[tokio::test]
    async fn getaddrinfo_answers_localhost_per_family() {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let v6_in_hosts = hosts.lines().any(|line| {
            let mut words = line.split('#').next().unwrap_or("").split_whitespace();
            words.next() == Some("::1") && words.any(|name| name == "localhost")
        });
        if v6_in_hosts {
            let (v4, v6) = by_family(&system(), "localhost").await;
            assert_eq!(v4.unwrap(), addrs(&["127.0.0.1:8080"]));
            assert_eq!(v6.unwrap(), addrs(&["[::1]:8080"]));
        } else {
            let v4 = getaddrinfo("localhost", 8080, Family::V4);
            assert_eq!(v4.unwrap(), addrs(&["127.0.0.1:8080"]));
        }
    }

    /// A name `getaddrinfo` refuses is each family's error, not a panic: the empty name
    /// fails inside the C library without a query, a NUL before it is called.
    #[tokio::test]
    async fn getaddrinfo_reports_a_bad_name_per_family() {
        let (v4, v6) = by_family(&system(), "").await;
        let (v4, v6) = (v4.unwrap_err(), v6.unwrap_err());
        assert_eq!(v4.to_string(), "A lookup failed");
        assert_eq!(v4.error().to_string(), "no records");
        assert_eq!(v6.error().to_string(), "no records");
        // Not "no records": the C library was never asked.
        let (v4, v6) = by_family(&system(), "local\0host").await;
        for e in [v4.unwrap_err(), v6.unwrap_err()] {
            assert!(e.error().to_string().contains("nul byte"), "{e}");
        }
    }

    /// Each family joins as soon as its own lookup returns: an `AAAA` lookup stuck on its
    /// thread holds up neither the `A` answer nor dropping the stream, and finishes in the
    /// background once unstuck.
    #[tokio::test]
    async fn each_family_answers_when_its_own_lookup_returns() {
        use std::sync::{Condvar, Mutex};

        // (released, finished), with a condition variable for each change.
        static STATE: (Mutex<(bool, bool)>, Condvar) = (Mutex::new((false, false)), Condvar::new());
        fn lookup(_: &str, port: u16, family: Family) -> Found {
            if family == Family::V6 {
                let (lock, changed) = &STATE;
                let mut state = changed.wait_while(lock.lock().unwrap(), |s| !s.0).unwrap();
                state.1 = true;
                changed.notify_all();
            }
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        }

        let mut answers = getaddrinfo_per_family(lookup, "stuck.example", 80);
        let first = answers.next().await.expect("the A answer");
        assert_eq!(first.family, Some(Family::V4));
        assert_eq!(first.result.unwrap(), addrs(&["127.0.0.1:80"]));

        // Dropped on a thread of its own, so a drop that waited for the stuck lookup
        // fails the test instead of hanging it.
        let dropped = tokio::task::spawn_blocking(move || drop(answers));
        tokio::time::timeout(Duration::from_secs(5), dropped)
            .await
            .expect("dropping the stream does not wait for a lookup")
            .unwrap();

        let (lock, changed) = &STATE;
        lock.lock().unwrap().0 = true;
        changed.notify_all();
        let (state, _) = changed
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(5), |s| !s.1)
            .unwrap();
        assert!(state.1, "the stuck lookup finishes in the background");
    }

    /// `ConnieConnector::getaddrinfo`, `ConnieConnector::resolver` and
    /// `ConnieConnector::resolver_config` each replace the others; the fallback is the same
    /// backend as the setter's.
    #[test]
    fn getaddrinfo_and_a_hickory_resolver_replace_each_other() {
        let backend = |c: crate::ConnieConnector| format!("{:?}", c.resolver);
        let (gai, hickory) = (
            r#"Resolver { backend: "system (getaddrinfo)" }"#,
            r#"Resolver { backend: "hickory" }"#,
        );
        let c = crate::ConnieConnector::new;
        assert_eq!(backend(c().getaddrinfo()), gai);
        assert_eq!(
            backend(c().getaddrinfo().resolver(no_name_server())),
            hickory
        );
        assert_eq!(backend(c().resolver(no_name_server()).getaddrinfo()), gai);
        let config = || {
            (
                hickory_resolver::config::ResolverConfig::default(),
                ResolverOpts::default(),
            )
        };
        let (config_a, options_a) = config();
        assert_eq!(
            backend(c().getaddrinfo().resolver_config(config_a, options_a)),
            hickory
        );
        let (config_b, options_b) = config();
        assert_eq!(
            backend(c().resolver_config(config_b, options_b).getaddrinfo()),
            gai
        );
    }

    /// A resolver hickory could not build fails every lookup with its error, once for both
    /// families.
    #[tokio::test]
    async fn an_unbuilt_resolver_fails_every_lookup() {
        let unbuilt = Resolver {
            backend: Arc::new(OnceLock::from(Backend::Unbuilt(NetError::from(
                "no TLS roots",
            )))),
        };
        let answers: Vec<Answer> = unbuilt.lookup("example.com", 80).unwrap().collect().await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].family, None);
        let error = answers[0].result.as_ref().unwrap_err();
        assert_eq!(error.to_string(), "lookup failed");
        assert_eq!(error.error().to_string(), "no TLS roots");
    }

    #[test]
    fn every_system_resolver_is_the_same_one() {
        let (a, b) = (Resolver::system(), Resolver::system());
        assert!(Arc::ptr_eq(&a.backend, &b.backend));
        let custom = Resolver::hickory(
            TokioResolver::builder_with_config(
                hickory_resolver::config::ResolverConfig::default(),
                hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
            )
            .build()
            .unwrap(),
        );
        assert!(!Arc::ptr_eq(&a.backend, &custom.backend));
    }

    /// A hickory resolver with no name server: what it answers, it answers without a query.
    fn offline() -> Resolver {
        Resolver::hickory(no_name_server())
    }

    fn no_name_server() -> TokioResolver {
        TokioResolver::builder_with_config(
            hickory_resolver::config::ResolverConfig::default(),
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        )
        .build()
        .unwrap()
    }

    /// The hickory path: one answer per family, each holding that family's addresses
    /// only, with the port. `localhost` is answered without a query (RFC 6761).
    #[tokio::test]
    async fn hickory_answers_each_family_with_its_own_addresses() {
        let mut answers: Vec<Answer> = offline().lookup("localhost", 8080).unwrap().collect().await;
        assert_eq!(answers.len(), 2);
        answers.sort_by_key(|a| a.family.map(|f| f == Family::V6));
        assert_eq!(answers[0].family, Some(Family::V4));
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(answers[0].result.as_ref().unwrap(), &vec![v4]);
        assert_eq!(answers[1].family, Some(Family::V6));
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(answers[1].result.as_ref().unwrap(), &vec![v6]);

        // `.invalid` never resolves: each family's lookup fails, with its family.
        let answers: Vec<Answer> = offline().lookup("x.invalid", 80).unwrap().collect().await;
        let mut failed: Vec<_> = answers
            .iter()
            .map(|a| (a.family, a.result.as_ref().unwrap_err().family()))
            .collect();
        failed.sort_by_key(|(f, _)| f.map(|f| f == Family::V6));
        let (v4, v6) = (Some(Family::V4), Some(Family::V6));
        assert_eq!(failed, vec![(v4, v4), (v6, v6)]);
    }

    /// A name hickory cannot parse is one failed answer for both families, not a panic.
    #[tokio::test]
    async fn an_unparsable_name_is_one_failed_answer() {
        let long = format!("{}.example", "a".repeat(64));
        let answers: Vec<Answer> = offline().lookup(&long, 80).unwrap().collect().await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].family, None);
        assert!(answers[0].result.is_err());
    }

    /// Lookups dropped unfinished go on in the background, for at most [`DNS_LINGER`]: one
    /// that needs 1 s finishes, one that needs 6 s is given up at 5 s.
    #[tokio::test(start_paused = true)]
    async fn dropped_lookups_linger_for_at_most_five_seconds() {
        use std::sync::atomic::{AtomicBool, Ordering};

        let lookup = |after: Duration, done: Arc<AtomicBool>| {
            async move {
                tokio::time::sleep(after).await;
                done.store(true, Ordering::SeqCst);
                Answer::literal(vec![])
            }
            .boxed()
        };
        let (quick, slow) = (Arc::new(AtomicBool::new(false)), Arc::default());
        let lookups = Lookups::new(
            lookup(Duration::from_secs(1), Arc::clone(&quick)),
            lookup(Duration::from_secs(6), Arc::clone(&slow)),
        );
        drop(lookups);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(quick.load(Ordering::SeqCst), "a lookup of 1 s finishes");
        assert!(!slow.load(Ordering::SeqCst), "a lookup of 6 s is given up");
    }

    /// On a runtime without the time driver a hickory lookup, whose queries need timers,
    /// is refused before it starts; `getaddrinfo` needs none.
    #[test]
    fn a_hickory_lookup_needs_timers() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        let Err(e) = offline().lookup("localhost", 80) else {
            panic!("a hickory lookup started without a time driver");
        };
        assert_eq!(e.kind(), crate::ErrorKind::NoTimeDriver, "{e:?}");
        assert!(system().lookup("localhost", 80).is_ok());
    }

    /// A name hickory cannot parse is one failed answer for both families, not a panic.
    /// Dropped while a panic unwinds, inside a runtime without a time driver, `Lookups`
    /// makes no timer: the panic goes on, where a second panic in the destructor would
    /// have aborted the process, and the lookup lingers on the runtime it started on.
    #[test]
    fn dropped_while_unwinding_without_time_the_lookups_linger_where_they_started() {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        use tokio::runtime::Builder;
        use tokio::sync::oneshot;

        let started = Builder::new_current_thread().enable_all().build().unwrap();
        let (answer, answered) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        let lookup = async move {
            let _ = answered.await;
            let _ = finished.send(());
            Answer::literal(vec![])
        };
        let lookups = Lookups {
            pending: [Some(lookup.boxed()), None],
            runtime: started.handle().clone(),
        };

        let no_time = Builder::new_current_thread().enable_io().build().unwrap();
        let unwound = {
            let _inside = no_time.enter();
            catch_unwind(AssertUnwindSafe(move || {
                let _lookups = lookups;
                panic!("the race panicked");
            }))
        };
        let panic = unwound.expect_err("the race's own panic goes on");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the race panicked"));

        answer.send(()).unwrap();
        started
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), done).await })
            .expect("the lookup lingers on the runtime it started on")
            .unwrap();
    }

    /// `Lookups` yields each lookup's answer as it finishes, then ends.
    #[tokio::test(start_paused = true)]
    async fn lookups_yield_answers_as_they_finish() {
        let at = |secs: u64, family: Family| {
            async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                Answer {
                    family: Some(family),
                    result: Ok(vec![]),
                    sorted: false,
                }
            }
            .boxed()
        };
        let lookups = Lookups::new(at(2, Family::V6), at(1, Family::V4));
        let families: Vec<_> = lookups.map(|a| a.family).collect().await;
        assert_eq!(families, [Some(Family::V4), Some(Family::V6)]);
    }
}
