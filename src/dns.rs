//! Name resolution: `A` and `AAAA` looked up concurrently, each answer delivered the
//! moment it arrives.
//!
//! hickory's `lookup_ip` joins both families and returns only when both have answered,
//! so a slow `AAAA` would hold up a connection to an `A` address. Here the two lookups are
//! separate futures in one stream and the race starts on whichever answers first.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, FuturesUnordered, Stream, StreamExt};
use futures_util::FutureExt;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::TokioResolver;
use tracing::{trace, warn};

use crate::error::DnsError;
use crate::race::Answer;
use crate::Family;

/// The stream of answers of one lookup: one per family, in the order they arrive.
pub(crate) type Answers = std::pin::Pin<Box<dyn Stream<Item = Answer> + Send>>;

/// How long a lookup still running when its race ends may go on, so that its answer
/// reaches the resolver's cache (RFC 8305 keeps processing answers after a winner). A
/// dropped hickory lookup never fills the cache, so without this a process whose first
/// race to a name went to IPv4 would miss the cache on `AAAA` at every later connect.
pub(crate) const DNS_LINGER: Duration = Duration::from_secs(5);

/// The hickory lookups of one race, `A` and `AAAA`, yielded as they finish.
///
/// Dropped with lookups still running (the race was won, timed out or cancelled), it hands
/// them to a task of the current runtime that lets them finish, for at most
/// [`DNS_LINGER`]. The task holds nothing but the lookups, and goes away with its runtime.
struct Lookups {
    pending: FuturesUnordered<BoxFuture<'static, Answer>>,
}

impl Stream for Lookups {
    type Item = Answer;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        self.pending.poll_next_unpin(cx)
    }
}

impl Drop for Lookups {
    fn drop(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut pending = std::mem::take(&mut self.pending);
        trace!(
            lookups = pending.len(),
            "letting unfinished lookups fill the cache"
        );
        runtime.spawn(tokio::time::timeout(DNS_LINGER, async move {
            while pending.next().await.is_some() {}
        }));
    }
}

/// A resolver shared by every clone of a connector, built on first use (a connector may be
/// made outside a tokio runtime).
#[derive(Clone)]
pub(crate) struct Resolver {
    backend: Arc<OnceLock<Backend>>,
}

enum Backend {
    Hickory(Box<TokioResolver>),
    /// The system configuration could not be loaded: ask the operating system's resolver
    /// (`getaddrinfo`, on a blocking thread), which answers both families at once.
    System,
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

    pub(crate) fn hickory(resolver: TokioResolver) -> Resolver {
        Resolver {
            backend: Arc::new(OnceLock::from(Backend::Hickory(Box::new(resolver)))),
        }
    }

    fn backend(&self) -> &Backend {
        self.backend.get_or_init(|| {
            match TokioResolver::builder_tokio().and_then(|builder| builder.build()) {
                Ok(resolver) => Backend::Hickory(Box::new(resolver)),
                Err(error) => {
                    warn!(%error, "cannot load the system DNS configuration; using the system resolver (getaddrinfo) instead");
                    Backend::System
                }
            }
        })
    }

    /// Looks up `host`'s `A` and `AAAA` records concurrently.
    pub(crate) fn lookup(&self, host: &str, port: u16) -> Answers {
        match self.backend() {
            Backend::Hickory(resolver) => {
                // hickory parses a `&str` strictly (IDNA, no `_`); parse it relaxed, as
                // target validation does, so `my_host.example` is looked up.
                let name = match Name::from_str_relaxed(host) {
                    Ok(name) => name,
                    Err(e) => {
                        let failed = Answer {
                            family: None,
                            result: Err(DnsError::new(None, e)),
                        };
                        return Box::pin(stream::iter([failed]));
                    }
                };
                let lookups = Lookups {
                    pending: FuturesUnordered::new(),
                };
                for family in [Family::V6, Family::V4] {
                    let (resolver, host) = (TokioResolver::clone(resolver), name.clone());
                    lookups.pending.push(
                        async move {
                            let lookup = match family {
                                Family::V4 => resolver.ipv4_lookup(host).await,
                                Family::V6 => resolver.ipv6_lookup(host).await,
                            };
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
                            }
                        }
                        .boxed(),
                    );
                }
                Box::pin(lookups)
            }
            Backend::System => {
                let host = host.to_owned();
                let lookup = async move {
                    match tokio::net::lookup_host((host.as_str(), port)).await {
                        Ok(addrs) => {
                            let (v4, v6): (Vec<_>, Vec<_>) = addrs.partition(SocketAddr::is_ipv4);
                            vec![
                                Answer {
                                    family: Some(Family::V6),
                                    result: Ok(v6),
                                },
                                Answer {
                                    family: Some(Family::V4),
                                    result: Ok(v4),
                                },
                            ]
                        }
                        Err(e) => vec![Answer {
                            family: None,
                            result: Err(DnsError::new(None, e)),
                        }],
                    }
                };
                Box::pin(stream::once(lookup).flat_map(stream::iter))
            }
        }
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend.get() {
            None => "system (not loaded yet)",
            Some(Backend::Hickory(_)) => "hickory",
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

    /// The fallback splits one `getaddrinfo` answer into a V6 and a V4 answer. A numeric
    /// host keeps the test off the network: `getaddrinfo` parses it without a query.
    #[tokio::test]
    async fn system_fallback_answers_per_family() {
        let resolver = Resolver {
            backend: Arc::new(OnceLock::from(Backend::System)),
        };
        let answers: Vec<Answer> = resolver.lookup("127.0.0.1", 8080).collect().await;
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].family, Some(Family::V6));
        assert_eq!(
            answers[0].result.as_ref().unwrap(),
            &Vec::<SocketAddr>::new()
        );
        assert_eq!(answers[1].family, Some(Family::V4));
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(answers[1].result.as_ref().unwrap(), &vec![v4]);
        assert_eq!(
            format!("{resolver:?}"),
            r#"Resolver { backend: "system (getaddrinfo)" }"#
        );
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
        Resolver::hickory(
            TokioResolver::builder_with_config(
                hickory_resolver::config::ResolverConfig::default(),
                hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
            )
            .build()
            .unwrap(),
        )
    }

    /// The hickory path: one answer per family, each holding that family's addresses
    /// only, with the port. `localhost` is answered without a query (RFC 6761).
    #[tokio::test]
    async fn hickory_answers_each_family_with_its_own_addresses() {
        let mut answers: Vec<Answer> = offline().lookup("localhost", 8080).collect().await;
        assert_eq!(answers.len(), 2);
        answers.sort_by_key(|a| a.family.map(|f| f == Family::V6));
        assert_eq!(answers[0].family, Some(Family::V4));
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(answers[0].result.as_ref().unwrap(), &vec![v4]);
        assert_eq!(answers[1].family, Some(Family::V6));
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(answers[1].result.as_ref().unwrap(), &vec![v6]);

        // `.invalid` never resolves: each family's lookup fails, with its family.
        let answers: Vec<Answer> = offline().lookup("x.invalid", 80).collect().await;
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
        let answers: Vec<Answer> = offline().lookup(&long, 80).collect().await;
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
        let lookups = Lookups {
            pending: FuturesUnordered::new(),
        };
        lookups
            .pending
            .push(lookup(Duration::from_secs(1), Arc::clone(&quick)));
        lookups
            .pending
            .push(lookup(Duration::from_secs(6), Arc::clone(&slow)));
        drop(lookups);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(quick.load(Ordering::SeqCst), "a lookup of 1 s finishes");
        assert!(!slow.load(Ordering::SeqCst), "a lookup of 6 s is given up");
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
                }
            }
            .boxed()
        };
        let lookups = Lookups {
            pending: FuturesUnordered::new(),
        };
        lookups.pending.push(at(2, Family::V6));
        lookups.pending.push(at(1, Family::V4));
        let families: Vec<_> = lookups.map(|a| a.family).collect().await;
        assert_eq!(families, [Some(Family::V4), Some(Family::V6)]);
    }

    #[tokio::test]
    async fn system_fallback_reports_a_failed_lookup() {
        let resolver = Resolver {
            backend: Arc::new(OnceLock::from(Backend::System)),
        };
        // An empty host fails inside getaddrinfo without a query.
        let answers: Vec<Answer> = resolver.lookup("", 80).collect().await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].family, None);
        assert!(answers[0].result.is_err());
    }
}
