//! Name resolution: the [`Resolve`] trait a race takes its addresses from, and the
//! resolvers connie brings.
//!
//! [`ConnieConnector::resolver`](crate::ConnieConnector::resolver) takes any [`Resolve`]:
//! - [`SystemResolver`], the default: hickory-resolver with the system's configuration,
//!   one cache for the process;
//! - [`GetAddrInfo`]: the system's `getaddrinfo`, one call per family on a blocking thread;
//! - [`StaticResolver`]: fixed names, for tests and overrides, with a fallback;
//! - [`ServiceResolver`] (feature `hyper`): any of hyper-util's resolvers, a
//!   `tower_service::Service<Name>` such as `GaiResolver`;
//! - a hickory `TokioResolver`, or a type of your own.
//!
//! A race takes a stream of [`Answers`] and starts on whichever family answers first: a
//! slow `AAAA` never holds up a connection to an `A` address. With
//! [`https_records`](crate::ConnieConnector::https_records), hickory's resolvers look the
//! name's HTTPS records up too; [`ServiceEndpoint`] is what one of them says.

// hickory's `lookup_ip` joins both families and returns only when both have answered, so
// connie's hickory resolver runs `A` and `AAAA` as separate futures in one stream
// (`hickory`); `getaddrinfo` makes one call per family. A name that is not fully
// qualified is looked up under each name of the search list in turn (`search`), both
// families of one name at a time, so that a race's addresses are all of one host.

mod error;
mod fixed;
mod getaddrinfo;
mod hickory;
pub(crate) mod https;
pub(crate) mod name;
mod resolve;
mod search;
mod svcb;
#[cfg(feature = "hyper")]
mod tower;

use std::any::{type_name, Any};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use futures_util::FutureExt;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::TokioResolver;
use tokio::runtime::Handle;
use tracing::trace;

pub use self::error::DnsError;
pub use self::fixed::StaticResolver;
pub use self::getaddrinfo::GetAddrInfo;
pub(crate) use self::getaddrinfo::NoRecords;
pub use self::hickory::SystemResolver;
use self::hickory::{Hickory, Unbuilt};
use self::https::HttpsQuery;
pub use self::resolve::{Answer, Answers, Query, Resolve};
#[cfg(feature = "ech")]
pub use self::svcb::Ech;
pub use self::svcb::ServiceEndpoint;
#[cfg(feature = "hyper")]
pub use self::tower::ServiceResolver;
use crate::nat64::{Pref64, IPV4ONLY_ARPA};
use crate::{ConnectError, IpFamily};

/// How long a lookup still running when its race ends may go on, so that its answer
/// reaches the resolver's cache (RFC 8305 keeps processing answers after a winner). A
/// dropped hickory lookup never fills the cache, so without this a process whose first
/// race to a name went to IPv4 would miss the cache on `AAAA` at every later connect.
pub(crate) const DNS_LINGER: Duration = Duration::from_secs(5);

/// Lookups of one race, yielded as they finish: `A` and `AAAA` of one name, as [`Answer`]s
/// or, for [`SameName`](search::SameName), as `Named` answers.
///
/// Dropped with lookups still running (the race was won, timed out or cancelled), it hands
/// them to a task of the runtime they were first polled on, which lets them finish for at
/// most [`DNS_LINGER`]. That runtime has a time driver (a race polls its lookups only once
/// [`timers`](crate::runtime::timers) said so), and the task makes its timer itself: the
/// destructor makes none, so it cannot panic for want of one, wherever it runs (in
/// another runtime, in none, or while a panic unwinds). The task holds nothing but the
/// lookups, and goes away with its runtime. Lookups never polled have sent nothing, and
/// are dropped.
pub(super) struct Lookups<T: 'static = Answer> {
    /// The lookups still running, one per family at most: each is polled at every wake,
    /// which two lookups afford more cheaply than a `FuturesUnordered`'s allocations.
    pending: [Option<BoxFuture<'static, T>>; 2],
    /// The runtime the lookups were first polled on: their sockets are registered with it.
    runtime: Option<Handle>,
}

impl<T> Lookups<T> {
    /// `first` and `second`, those given, polled in that order.
    pub(super) fn new(
        first: Option<BoxFuture<'static, T>>,
        second: Option<BoxFuture<'static, T>>,
    ) -> Lookups<T> {
        Lookups {
            pending: [first, second],
            runtime: None,
        }
    }
}

impl<T> Stream for Lookups<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.runtime.is_none() {
            self.runtime = Handle::try_current().ok();
        }
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
        let Some(runtime) = &self.runtime else {
            return;
        };
        if self.pending.iter().all(Option::is_none) {
            return;
        }
        let mut pending: FuturesUnordered<_> =
            self.pending.iter_mut().filter_map(Option::take).collect();
        trace!(
            lookups = pending.len(),
            "letting unfinished lookups fill the cache"
        );
        runtime.spawn(async move {
            let every_answer = async { while pending.next().await.is_some() {} };
            // Given up after `DNS_LINGER`: the lookups are dropped with the task.
            let _ = tokio::time::timeout(DNS_LINGER, every_answer).await;
        });
    }
}

/// The resolver of a connector, shared by its clones.
#[derive(Clone)]
pub(crate) struct Resolver {
    resolve: Arc<dyn Resolve>,
    /// What it is, for `Debug`.
    kind: &'static str,
}

impl Resolver {
    /// The process's [`SystemResolver`]: every connector that uses it shares one.
    pub(crate) fn system() -> Resolver {
        static SYSTEM: OnceLock<Arc<dyn Resolve>> = OnceLock::new();
        Resolver {
            resolve: Arc::clone(SYSTEM.get_or_init(|| Arc::new(SystemResolver::new()))),
            kind: "system",
        }
    }

    /// `resolver`. A hickory `TokioResolver` is shared by its lookups as it is, where its
    /// [`Resolve`] impl, which has only a borrow of it, clones it for each lookup.
    pub(crate) fn new<R: Resolve>(resolver: R) -> Resolver {
        let mut given = Some(resolver);
        let any: &mut dyn Any = &mut given;
        if let Some(hickory) = any
            .downcast_mut::<Option<TokioResolver>>()
            .and_then(Option::take)
        {
            return Resolver::of(Hickory::built(hickory), "hickory");
        }
        let kind = if (&given as &dyn Any).is::<Option<GetAddrInfo>>() {
            "getaddrinfo"
        } else {
            type_name::<R>()
        };
        match given {
            Some(resolver) => Resolver::of(resolver, kind),
            None => unreachable!("only a `TokioResolver` is taken out"),
        }
    }

    /// A hickory resolver built from `config` and `options`, which connie applies the
    /// search list of; one that cannot be built fails every lookup with hickory's error.
    pub(crate) fn hickory_config(config: ResolverConfig, options: ResolverOpts) -> Resolver {
        match Hickory::build(config, options) {
            Ok(hickory) => Resolver::of(hickory, "hickory"),
            Err(error) => Resolver::of(Unbuilt(error), "hickory (could not be built)"),
        }
    }

    fn of(resolver: impl Resolve, kind: &'static str) -> Resolver {
        Resolver {
            resolve: Arc::new(resolver),
            kind,
        }
    }

    /// Looks `host`'s addresses of `families` up, for a race to `port`, and its HTTPS
    /// records if `https` asks for them; `plain` if `host` is known to be a plain name (see
    /// [`Query::checked`]).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoTimeDriver`](crate::ErrorKind::NoTimeDriver) before any query if the
    /// resolver's lookups run on tokio timers (hickory's do) and the runtime cannot make
    /// them. `getaddrinfo` needs none.
    pub(crate) fn lookup(
        &self,
        host: &str,
        plain: bool,
        port: u16,
        families: IpFamily,
        https: Option<&HttpsQuery>,
    ) -> Result<Answers, ConnectError> {
        let query = Query::checked(host, plain)
            .with_families(families)
            .with_https(https);
        let mut answers = self.resolve.resolve(&query);
        if answers.needs_timers {
            crate::runtime::timers()?;
        }
        answers.port = Some(port);
        Ok(answers)
    }
}

/// The longest a NAT64 prefix discovery waits for `ipv4only.arpa.`'s answer, which a
/// DNS64 server gives at once: a resolver that does not answer delays a race this long,
/// once per [`PROBE_TTL`](crate::connectivity::PROBE_TTL), on a host that reaches IPv6
/// only.
const NAT64_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(1);

impl Resolver {
    /// Finds the network's NAT64 prefix by looking `ipv4only.arpa.` up (RFC 7050):
    /// `None` if the answer holds no well-known address (no DNS64), the lookup fails or
    /// takes over [`NAT64_DISCOVERY_TIMEOUT`], or the runtime has no timers.
    pub(crate) async fn nat64_prefix(&self) -> Option<Pref64> {
        crate::runtime::timers().ok()?;
        let mut answers = self
            .lookup(IPV4ONLY_ARPA, false, 0, IpFamily::V6Only, None)
            .ok()?;
        let every_address = async {
            let mut ips = Vec::new();
            while let Some(answer) = answers.next().await {
                ips.extend(answer.result.into_iter().flatten().map(|a| a.ip()));
            }
            ips
        };
        let ips = tokio::time::timeout(NAT64_DISCOVERY_TIMEOUT, every_address)
            .await
            .unwrap_or_default();
        let pref64 = Pref64::discover(ips);
        tracing::debug!(?pref64, "NAT64 prefix discovery");
        pref64
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Resolver").field(&self.kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::Family;

    /// `ConnieConnector::getaddrinfo`, `ConnieConnector::resolver` and
    /// `ConnieConnector::resolver_config` each replace the others.
    #[test]
    fn each_resolver_setter_replaces_the_others() {
        let kind = |c: crate::ConnieConnector| c.resolver.kind;
        let c = crate::ConnieConnector::new;
        assert_eq!(kind(c()), "system");
        assert_eq!(kind(c().getaddrinfo()), "getaddrinfo");
        assert_eq!(kind(c().resolver(GetAddrInfo)), "getaddrinfo");
        assert_eq!(
            kind(c().getaddrinfo().resolver(no_name_server())),
            "hickory"
        );
        assert_eq!(
            kind(c().resolver(no_name_server()).getaddrinfo()),
            "getaddrinfo"
        );
        let config = || (ResolverConfig::default(), ResolverOpts::default());
        let (config_a, options_a) = config();
        assert_eq!(
            kind(c().getaddrinfo().resolver_config(config_a, options_a)),
            "hickory"
        );
        let (config_b, options_b) = config();
        assert_eq!(
            kind(c().resolver_config(config_b, options_b).getaddrinfo()),
            "getaddrinfo"
        );
        let custom = c().resolver(StaticResolver::new());
        assert_eq!(kind(custom.clone()), type_name::<StaticResolver>());
        assert_eq!(
            format!("{:?}", custom.resolver),
            format!("Resolver({:?})", type_name::<StaticResolver>())
        );
    }

    /// A resolver hickory could not build fails every lookup with its error, once for both
    /// families.
    #[tokio::test]
    async fn an_unbuilt_resolver_fails_every_lookup() {
        use hickory_resolver::net::NetError;

        let unbuilt = Resolver::of(Unbuilt(NetError::from("no TLS roots")), "unbuilt");
        let answers: Vec<Answer> = unbuilt
            .lookup("example.com", false, 80, IpFamily::Both, None)
            .unwrap()
            .collect()
            .await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].family, None);
        let error = answers[0].result.as_ref().unwrap_err();
        assert_eq!(error.to_string(), "lookup failed");
        assert_eq!(error.error().to_string(), "no TLS roots");
    }

    #[test]
    fn every_system_resolver_is_the_same_one() {
        let (a, b) = (Resolver::system(), Resolver::system());
        assert!(Arc::ptr_eq(&a.resolve, &b.resolve));
        assert!(SystemResolver::new().same(&SystemResolver::default()));
        let custom = Resolver::new(no_name_server());
        assert!(!Arc::ptr_eq(&a.resolve, &custom.resolve));
    }

    /// A hickory resolver with no name server: what it answers, it answers without a query.
    fn offline() -> Resolver {
        Resolver::new(no_name_server())
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
        let mut answers: Vec<Answer> = offline()
            .lookup("localhost", false, 8080, IpFamily::Both, None)
            .unwrap()
            .collect()
            .await;
        assert_eq!(answers.len(), 2);
        answers.sort_by_key(|a| a.family.map(|f| f == Family::V6));
        assert_eq!(answers[0].family, Some(Family::V4));
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(answers[0].result.as_ref().unwrap(), &vec![v4]);
        assert_eq!(answers[1].family, Some(Family::V6));
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(answers[1].result.as_ref().unwrap(), &vec![v6]);

        // `.invalid` never resolves: each family's lookup fails, with its family.
        let answers: Vec<Answer> = offline()
            .lookup("x.invalid", false, 80, IpFamily::Both, None)
            .unwrap()
            .collect()
            .await;
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
        let answers: Vec<Answer> = offline()
            .lookup(&long, false, 80, IpFamily::Both, None)
            .unwrap()
            .collect()
            .await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].family, None);
        assert!(answers[0].result.is_err());
    }

    /// Lookups dropped unfinished go on in the background, for at most [`DNS_LINGER`]: one
    /// that needs 1 s finishes, one that needs 6 s is given up at 5 s. Lookups never
    /// polled are dropped: they have sent nothing.
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
        let mut lookups = Lookups::new(
            Some(lookup(Duration::from_secs(1), Arc::clone(&quick))),
            Some(lookup(Duration::from_secs(6), Arc::clone(&slow))),
        );
        assert!(lookups.next().now_or_never().is_none(), "both are running");
        drop(lookups);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(quick.load(Ordering::SeqCst), "a lookup of 1 s finishes");
        assert!(!slow.load(Ordering::SeqCst), "a lookup of 6 s is given up");

        let unpolled = Arc::new(AtomicBool::new(false));
        drop(Lookups::new(
            Some(lookup(Duration::from_secs(1), Arc::clone(&unpolled))),
            Some(lookup(Duration::from_secs(1), Arc::clone(&unpolled))),
        ));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!unpolled.load(Ordering::SeqCst), "never polled, never run");
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
        let Err(e) = offline().lookup("localhost", false, 80, IpFamily::Both, None) else {
            panic!("a hickory lookup started without a time driver");
        };
        assert_eq!(e.kind(), crate::ErrorKind::NoTimeDriver, "{e:?}");
        assert!(Resolver::new(GetAddrInfo)
            .lookup("localhost", false, 80, IpFamily::Both, None)
            .is_ok());
    }

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
            runtime: Some(started.handle().clone()),
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
                    https: None,
                }
            }
            .boxed()
        };
        let lookups = Lookups::new(Some(at(2, Family::V6)), Some(at(1, Family::V4)));
        let families: Vec<_> = lookups.map(|a| a.family).collect().await;
        assert_eq!(families, [Some(Family::V4), Some(Family::V6)]);
    }
}
