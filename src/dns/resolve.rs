//! The resolver seam: [`Resolve`], and the [`Answers`] a resolver gives a race.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{self, Stream, StreamExt};

use super::https::{HttpsPart, HttpsQuery};
use super::svcb::ServiceEndpoint;
use super::{DnsError, Lookups};
use crate::{Family, IpFamily};

/// A name resolver for connie: for a host name, a stream of [`Answer`]s, each saying which
/// family's lookup it completes.
///
/// A race takes each answer the moment the stream yields it: a resolver that looks `A` and
/// `AAAA` up on their own and yields each answer as it arrives lets a slow `AAAA` hold up
/// nothing. One that has both families at once yields one answer for both
/// ([`Answer::new`] with no family). Whatever the resolver, the race applies its address
/// policy, its address cap, its order and the address history to the addresses.
///
/// connie ships five:
/// - a hickory [`TokioResolver`](hickory_resolver::TokioResolver), both families
///   concurrently;
/// - [`SystemResolver`](crate::dns::SystemResolver), the default: hickory from the system's
///   configuration, built once per process;
/// - [`GetAddrInfo`](crate::dns::GetAddrInfo): the operating system's `getaddrinfo`, one call
///   per family;
/// - [`StaticResolver`](crate::dns::StaticResolver): a fixed map of names, for tests and
///   overrides, with an optional fallback;
/// - [`ServiceResolver`](crate::dns::ServiceResolver) (feature `hyper`): any
///   `tower_service::Service<Name>` of hyper-util's, such as its `GaiResolver`, as
///   `HttpConnector::new_with_resolver` takes one.
///
/// # The addresses' port
///
/// A race dials the target's port on every address (an IPv6 address keeps its scope): the
/// port of an address in an answer is not used, as with reqwest's `ClientBuilder::resolve`.
///
/// # Examples
///
/// A resolver that answers every name with one address, as a test might:
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use connie::dns::{Answer, Answers, Query, Resolve};
/// use connie::Family;
///
/// struct Loopback;
///
/// impl Resolve for Loopback {
///     fn resolve(&self, _query: &Query<'_>) -> Answers {
///         let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
///         Answers::ready(Answer::new(Some(Family::V4), [addr]))
///     }
/// }
///
/// let connector = connie::ConnieConnector::new().resolver(Loopback);
/// # drop(connector);
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// Looks up what `query` asks for.
    ///
    /// The stream is dropped when the race ends, lookups still running or not: a resolver
    /// whose unfinished lookups should go on (to fill a cache) spawns them.
    fn resolve(&self, query: &Query<'_>) -> Answers;
}

impl<R: Resolve + ?Sized> Resolve for Arc<R> {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        (**self).resolve(query)
    }
}

impl<R: Resolve + ?Sized> Resolve for Box<R> {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        (**self).resolve(query)
    }
}

/// What a race asks a [`Resolve`]r: the name to look up, and the address families it
/// wants.
///
/// A struct rather than a bare name, so that what a race can ask grows without changing
/// the trait.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    name: &'a str,
    families: IpFamily,
    /// Whether `name` is known to be plain ([`name::is_plain`](super::name::is_plain)):
    /// a race's target checked it already.
    plain: bool,
    /// The race asks for the name's HTTPS records too (hickory's resolvers look them up).
    https: Option<&'a HttpsQuery>,
}

impl<'a> Query<'a> {
    /// A query for `name`'s addresses of both families, as a race makes one: for a
    /// resolver that hands the query on, or a test.
    pub fn new(name: &'a str) -> Query<'a> {
        Query {
            name,
            plain: false,
            families: IpFamily::Both,
            https: None,
        }
    }

    /// A query for `name`, which its target found plain ([`Target::host`](crate::Target::host)
    /// checks every name), or not known to be if `plain` is false.
    pub(crate) fn checked(name: &'a str, plain: bool) -> Query<'a> {
        Query {
            name,
            plain,
            families: IpFamily::Both,
            https: None,
        }
    }

    /// Whether the name is known to be plain, so that parsing it need not check again.
    pub(crate) fn plain(&self) -> bool {
        self.plain
    }

    /// The same query, asking for HTTPS records as `https` says, if given.
    pub(crate) fn with_https(self, https: Option<&'a HttpsQuery>) -> Query<'a> {
        Query { https, ..self }
    }

    /// What the race asks of the name's HTTPS records, if it asks for them.
    pub(crate) fn https(&self) -> Option<&'a HttpsQuery> {
        self.https
    }

    /// The same query, for `families` only.
    pub fn with_families(self, families: IpFamily) -> Query<'a> {
        Query { families, ..self }
    }

    /// The families the race wants (see [`wants`](Self::wants)).
    pub fn families(&self) -> IpFamily {
        self.families
    }

    /// Whether the race wants addresses of `family`: its connector's
    /// [`ip_family`](crate::ConnieConnector::ip_family), and the families this host can
    /// reach ([`Connectivity`](crate::Connectivity)). A resolver looks up only the
    /// families wanted; addresses of another family that it gives anyway are raced if
    /// this host can reach them (a connector's `ip_family` drops them).
    pub fn wants(&self, family: Family) -> bool {
        self.families.allows(family)
    }

    /// The host name, as the target spells it (never an IP literal, which needs no DNS),
    /// fully qualified if it ends with a dot.
    pub fn name(&self) -> &'a str {
        self.name
    }
}

type BoxError = Box<dyn Error + Send + Sync>;

/// One lookup's answer: the addresses of a family, or why there are none.
#[derive(Debug)]
pub struct Answer {
    /// The family this answer completes; `None` for both at once, or for the literal
    /// addresses of a target that needs no DNS.
    pub(crate) family: Option<Family>,
    pub(crate) result: Result<Vec<SocketAddr>, DnsError>,
    /// The resolver sorted these addresses already (`getaddrinfo`: RFC 6724 with
    /// `/etc/gai.conf`): the race keeps that order, and ranks them by RFC 6724's rule 1 and
    /// the history only.
    pub(crate) sorted: bool,
    /// Part of the race's HTTPS query, if it is: the addresses of a service endpoint, or a
    /// word on the query itself. Boxed: most races have none, and an answer is moved
    /// several times on its way into the race.
    pub(crate) https: Option<Box<HttpsPart>>,
}

impl Answer {
    /// The addresses `family`'s lookup found (`None`: both families' lookups, at once).
    ///
    /// Addresses of the other family are kept; an answer with no address is a lookup that
    /// found none.
    pub fn new(family: Option<Family>, addrs: impl IntoIterator<Item = SocketAddr>) -> Answer {
        Answer {
            family,
            result: Ok(addrs.into_iter().collect()),
            sorted: false,
            https: None,
        }
    }

    /// `family`'s lookup failed with `error` (`None`: both families failed at once, or the
    /// name could not be looked up at all). The error is the [`DnsError`]'s source.
    pub fn failed(family: Option<Family>, error: impl Into<BoxError>) -> Answer {
        Answer {
            family,
            result: Err(DnsError::new(family, error)),
            sorted: false,
            https: None,
        }
    }

    /// Says whether the resolver sorted the addresses already (as `getaddrinfo` does, by
    /// RFC 6724 and `/etc/gai.conf`): the race then keeps their order, moving only an
    /// address with no route to the end, and those the address history knows first.
    ///
    /// Default is `false`: the race sorts them by RFC 6724's rules.
    pub fn sorted(mut self, sorted: bool) -> Answer {
        self.sorted = sorted;
        self
    }

    /// The family whose lookup this answer completes; `None` for both.
    pub fn family(&self) -> Option<Family> {
        self.family
    }

    /// The addresses found, or the lookup's error.
    pub fn result(&self) -> Result<&[SocketAddr], &DnsError> {
        self.result.as_deref()
    }

    /// A word on the race's HTTPS query.
    pub(crate) fn https(part: HttpsPart) -> Answer {
        Answer {
            https: Some(Box::new(part)),
            ..Answer::new(None, [])
        }
    }

    /// `family`'s addresses of `endpoint`: its hints, or its target's.
    pub(crate) fn of_endpoint(
        family: Family,
        addrs: impl IntoIterator<Item = SocketAddr>,
        endpoint: &Arc<ServiceEndpoint>,
        hint: bool,
    ) -> Answer {
        Answer {
            https: Some(Box::new(HttpsPart::Endpoint {
                endpoint: Arc::clone(endpoint),
                hint,
            })),
            ..Answer::new(Some(family), addrs)
        }
    }

    /// The literal addresses of a target that needs no DNS.
    pub(crate) fn literal(addrs: Vec<SocketAddr>) -> Answer {
        Answer::new(None, addrs)
    }
}

/// The answers of one lookup, in the order they arrive: a [`Stream`] of [`Answer`]s, as
/// [`Resolve::resolve`] returns them.
#[must_use = "streams do nothing unless polled"]
pub struct Answers {
    inner: Source,
    /// The port set on every address; `None` leaves them as the resolver gave them.
    pub(crate) port: Option<u16>,
    /// The resolver's lookups run on tokio timers (hickory's do), so a race without a time
    /// driver must fail before polling them.
    pub(crate) needs_timers: bool,
}

/// Where the answers come from.
enum Source {
    Boxed(Pin<Box<dyn Stream<Item = Answer> + Send>>),
    /// hickory's `A` and `AAAA` lookups of one name, the most common source, held in
    /// place: no box of their own.
    Lookups(Lookups),
}

impl Answers {
    /// The answers `stream` yields, each as it arrives.
    pub fn new(stream: impl Stream<Item = Answer> + Send + 'static) -> Answers {
        Answers {
            inner: Source::Boxed(Box::pin(stream)),
            port: None,
            needs_timers: false,
        }
    }

    /// The answers of hickory's `lookups`, which run on tokio timers.
    pub(crate) fn lookups(lookups: Lookups) -> Answers {
        Answers {
            inner: Source::Lookups(lookups),
            port: None,
            needs_timers: true,
        }
    }

    /// The one answer `lookup` gives.
    pub fn from_future(lookup: impl Future<Output = Answer> + Send + 'static) -> Answers {
        Answers::new(stream::once(lookup))
    }

    /// One answer, there already.
    pub fn ready(answer: Answer) -> Answers {
        Answers::new(stream::iter([answer]))
    }

    /// Answers whose lookups run on tokio timers.
    pub(crate) fn timed(stream: impl Stream<Item = Answer> + Send + 'static) -> Answers {
        Answers {
            needs_timers: true,
            ..Answers::new(stream)
        }
    }
}

impl Stream for Answers {
    type Item = Answer;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        let next = match &mut self.inner {
            Source::Boxed(stream) => stream.poll_next_unpin(cx),
            Source::Lookups(lookups) => lookups.poll_next_unpin(cx),
        };
        let mut answer = match next {
            Poll::Ready(Some(answer)) => answer,
            other => return other,
        };
        if let (Some(port), Ok(addrs)) = (self.port, &mut answer.result) {
            // An HTTPS record's endpoint may name its own port.
            let port = match answer.https.as_deref() {
                Some(HttpsPart::Endpoint { endpoint, .. }) => endpoint.port.unwrap_or(port),
                _ => port,
            };
            for addr in addrs {
                addr.set_port(port);
            }
        }
        Poll::Ready(Some(answer))
    }
}

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answers")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    /// An answer says its family, its addresses or its error, and whether it is sorted;
    /// `Answers` sets the race's port on each address and keeps an IPv6 scope.
    #[tokio::test]
    async fn answers_carry_their_family_and_take_the_races_port() {
        let scoped: SocketAddr = "[fe80::1%2]:0".parse().unwrap();
        let v6 = Answer::new(Some(Family::V6), [scoped]).sorted(true);
        assert_eq!(v6.family(), Some(Family::V6));
        assert!(v6.sorted);
        let failed = Answer::failed(Some(Family::V4), "refused");
        assert_eq!(failed.family(), Some(Family::V4));
        assert_eq!(failed.result().unwrap_err().to_string(), "A lookup failed");

        let mut answers = Answers::new(stream::iter([v6, failed]));
        answers.port = Some(443);
        let got: Vec<Answer> = answers.collect().await;
        let addr = got[0].result().unwrap()[0];
        assert_eq!(addr, "[fe80::1%2]:443".parse::<SocketAddr>().unwrap());
        assert!(got[1].result().is_err());
    }

    /// Every public resolver and `Answers` say what they are in `Debug`, and show no
    /// internals that change per lookup.
    #[test]
    fn resolvers_and_answers_say_what_they_are() {
        let answers = Answers::ready(Answer::new(None, []));
        assert_eq!(format!("{answers:?}"), "Answers { port: None, .. }");
        let resolver =
            crate::dns::StaticResolver::new().host("a.example", ["192.0.2.1".parse().unwrap()]);
        assert_eq!(
            format!("{resolver:?}"),
            r#"StaticResolver { names: {"a.example": [192.0.2.1:0]}, fallback: false }"#
        );
        assert!(format!("{:?}", crate::dns::SystemResolver::new())
            .starts_with("SystemResolver { backend: "));
        #[cfg(feature = "hyper")]
        {
            use hyper_util::client::legacy::connect::dns::GaiResolver;
            let gai = crate::dns::ServiceResolver::new(GaiResolver::new());
            assert_eq!(
                format!("{gai:?}"),
                r#"ServiceResolver { service: "hyper_util::client::legacy::connect::dns::GaiResolver" }"#
            );
        }
    }
}
