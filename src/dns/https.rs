//! A race's HTTPS query (RFC 9460, as Happy Eyeballs v3 uses it), beside its `A` and
//! `AAAA` lookups: the records, their aliases followed, and the addresses of each service
//! endpoint (its hints at once, its target's lookups as they answer), as [`Answer`]s that
//! say which endpoint they reach.
//!
//! The stream says first that an HTTPS answer is coming ([`HttpsPart::Asked`]), so that
//! the race may wait for it (up to its resolution delay), and when it came
//! ([`HttpsPart::Answered`], whatever it held, failures included) or was given up (a
//! fifth of the time `A` and `AAAA` took after them, 5 to 50 ms). An endpoint of the name
//! itself (target `.`) is served by the name's own answers, with no lookup of its own.
//!
//! A client that offers ECH sends no ClientHello before the records have answered (RFC
//! 9848 §5.3): the name's own answers are held back until then (or until the records are
//! given up), and, when every endpoint has ECH, given without their addresses, which
//! would be reached without it (SVCB-reliant, §5.1).

use std::collections::VecDeque;
use std::future::Future;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, SelectAll, Stream, StreamExt};
use futures_util::FutureExt;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use tokio::time::{sleep_until, Instant, Sleep};
use tracing::debug;

use super::hickory::per_family;
use super::svcb::{self, Client, Service, ServiceEndpoint};
use super::Answer;
use crate::hash::Keyed;
use crate::{Family, IpFamily};

/// How many aliases (AliasMode records) a race follows before it gives up on HTTPS
/// records and connects to the name's own addresses (RFC 9460 §3.1 asks for a limit).
pub(crate) const MAX_ALIASES: usize = 4;

/// How many service endpoints of a name a race uses, the best first: each may need two
/// lookups of its own, which a hostile answer of hundreds of records must not multiply.
pub(crate) const MAX_ENDPOINTS: usize = 8;

/// How long the HTTPS records may still take once the name's `A` and `AAAA` lookups are
/// over, as a share of the time those took (a fifth), at least [`EXTRA_TIME_MIN`] and at
/// most [`EXTRA_TIME_MAX`]. Past it the records are given up for this race: a network
/// that drops HTTPS queries, or a slow authority, must not hold a race up for the
/// resolver's timeout (15 s by default) when its addresses are known, least of all one
/// whose every address failed. Chromium gives HTTPS records the same most, 50 ms.
const EXTRA_TIME_DIVISOR: u32 = 5;
const EXTRA_TIME_MIN: Duration = Duration::from_millis(5);
pub(crate) const EXTRA_TIME_MAX: Duration = Duration::from_millis(50);

/// What an [`Answer`] of the HTTPS part of a race is.
#[derive(Debug, Clone)]
pub(crate) enum HttpsPart {
    /// The race's HTTPS records were asked for: their answer is coming.
    Asked,
    /// They answered (records or none) or failed: the race waits for them no longer.
    Answered,
    /// Addresses of `endpoint`: its hints (which its target's own answer replaces) or its
    /// target's addresses. Their port is the endpoint's, if it names one.
    Endpoint {
        endpoint: Arc<ServiceEndpoint>,
        hint: bool,
    },
}

/// What a race asks of HTTPS records: what its client can make of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HttpsQuery {
    /// The protocols its TLS configuration offers; `None` without TLS.
    pub(crate) alpn: Option<Arc<[Vec<u8>]>>,
    /// Whether it offers ECH: then it waits for the records before it dials (see
    /// [`WithHttps`]).
    pub(crate) ech: bool,
    /// With ECH: whether endpoints without ECH are kept beside those with it.
    pub(crate) ech_mixed: bool,
}

/// The name whose HTTPS records a race asks for, if it asks: the name as given, fully
/// qualified, for a name of two labels or more that is not `localhost`'s. A name that goes
/// through the search list is a host's name as given, or none: a single label is left to
/// the search list alone.
pub(super) fn https_name(name: &Name) -> Option<Name> {
    if name.num_labels() < 2 || name.is_localhost() {
        return None;
    }
    let mut name = name.clone();
    name.set_fqdn(true);
    Some(name)
}

/// The plain answers of a race (`A` and `AAAA` of the name), and its HTTPS part beside
/// them.
pub(super) struct WithHttps<S> {
    plain: Option<S>,
    /// Whether [`HttpsPart::Asked`] went out.
    asked: bool,
    /// The name whose records are asked for.
    name: Name,
    /// The plain lookups are of `name` itself (not of a name of the search list), so an
    /// endpoint of `name` (target `.`) is served by their addresses.
    plain_is_name: bool,
    /// The HTTPS records, their aliases followed: the name that holds them, and what
    /// they say.
    records: Option<BoxFuture<'static, (Name, Service)>>,
    /// Answers to give before polling anything again.
    ready: VecDeque<Answer>,
    /// The addresses of each plain answer so far, for endpoints of `name` that come later.
    plain_addrs: Vec<(Family, Vec<SocketAddr>)>,
    /// The endpoints of `name` itself, which its plain answers serve as they come.
    own: Vec<Arc<ServiceEndpoint>>,
    /// The lookups of the endpoints' other targets.
    targets: SelectAll<BoxStream<'static, Answer>>,
    resolver: Arc<TokioResolver>,
    families: IpFamily,
    /// When the lookups started, on the first poll.
    start: Option<Instant>,
    /// When the records are given up, once the plain lookups are over.
    cutoff: Option<Pin<Box<Sleep>>>,
    /// The client offers ECH: plain answers wait for the records.
    ech: bool,
    /// Plain answers waiting for the records.
    held: Vec<Answer>,
    /// Every endpoint has ECH: the plain answers go without their addresses.
    reliant: bool,
}

impl<S> WithHttps<S> {
    /// `plain`, the lookups of `name` (of that very name if `plain_is_name`), and the
    /// HTTPS records of `name` looked up on `resolver` for `query`.
    pub(super) fn new(
        plain: S,
        plain_is_name: bool,
        resolver: &Arc<TokioResolver>,
        name: Name,
        query: &HttpsQuery,
        families: IpFamily,
    ) -> WithHttps<S> {
        let records = {
            let resolver = Arc::clone(resolver);
            let (name, query) = (name.clone(), query.clone());
            async move { records(&resolver, name, &query).await }.boxed()
        };
        WithHttps {
            plain: Some(plain),
            asked: false,
            name,
            plain_is_name,
            records: Some(records),
            ready: VecDeque::new(),
            plain_addrs: Vec::new(),
            own: Vec::new(),
            targets: SelectAll::new(),
            resolver: Arc::clone(resolver),
            families,
            start: None,
            cutoff: None,
            ech: query.ech,
            held: Vec::new(),
            reliant: false,
        }
    }

    /// A plain answer goes out: its addresses serve the endpoints of the name itself too.
    fn plain_answer(&mut self, answer: &Answer) {
        let (Some(family), Ok(addrs)) = (answer.family, &answer.result) else {
            return;
        };
        if !self.plain_is_name || addrs.is_empty() {
            return;
        }
        for endpoint in &self.own {
            let addrs = addrs.iter().copied();
            self.ready
                .push_back(Answer::of_endpoint(family, addrs, endpoint, false));
        }
        if self.records.is_some() {
            self.plain_addrs.push((family, addrs.clone()));
        }
    }

    /// The plain lookups are over: the records get their extra time from now.
    fn plain_done(&mut self) {
        self.plain = None;
        if self.records.is_none() {
            return;
        }
        let now = Instant::now();
        let took = now.saturating_duration_since(self.start.unwrap_or(now));
        let extra = (took / EXTRA_TIME_DIVISOR).clamp(EXTRA_TIME_MIN, EXTRA_TIME_MAX);
        self.cutoff = Some(Box::pin(sleep_until(now + extra)));
    }

    /// The records took too long: the race goes on without them.
    fn give_up(&mut self) {
        debug!("HTTPS records given up: too late after A and AAAA");
        self.records = None;
        self.plain_addrs = Vec::new();
        self.ready.push_back(Answer::https(HttpsPart::Answered));
        self.release();
    }

    /// The plain answers held back for the records go out.
    fn release(&mut self) {
        for answer in std::mem::take(&mut self.held) {
            let answer = self.plain_out(answer);
            self.ready.push_back(answer);
        }
    }

    /// A plain answer as the race gets it: without its addresses when every endpoint has
    /// ECH (they serve those endpoints of the name itself as their answers already).
    fn plain_out(&self, mut answer: Answer) -> Answer {
        if let (true, Ok(addrs)) = (self.reliant, &mut answer.result) {
            addrs.clear();
        }
        answer
    }

    /// The records of `owner` arrived: the answer that says so, each endpoint's hints,
    /// and its addresses: the plain answers' for an endpoint of the name itself, and the
    /// lookups of the other targets, one per target name.
    fn arrived(&mut self, owner: Name, service: Service) {
        self.ready.push_back(Answer::https(HttpsPart::Answered));
        let plain_addrs = std::mem::take(&mut self.plain_addrs);
        let Service::Endpoints(endpoints) = service else {
            self.release();
            return;
        };
        self.reliant = self.ech && endpoints.iter().all(|e| e.service.has_ech());
        let mut targets: Vec<(Name, Vec<Arc<ServiceEndpoint>>)> = Vec::new();
        for endpoint in endpoints {
            let target = endpoint.target.unwrap_or_else(|| owner.clone());
            let endpoint = Arc::new(endpoint.service);
            self.hints(&endpoint);
            if self.plain_is_name && target == self.name {
                for (family, addrs) in &plain_addrs {
                    let addrs = addrs.iter().copied();
                    self.ready
                        .push_back(Answer::of_endpoint(*family, addrs, &endpoint, false));
                }
                self.own.push(endpoint);
                continue;
            }
            match targets.iter_mut().find(|(name, _)| *name == target) {
                Some((_, of)) => of.push(endpoint),
                None => targets.push((target, vec![endpoint])),
            }
        }
        for (target, endpoints) in targets {
            self.look_up(target, endpoints);
        }
        self.release();
    }

    /// `endpoint`'s hints of the families wanted, as answers.
    fn hints(&mut self, endpoint: &Arc<ServiceEndpoint>) {
        let v6: Vec<IpAddr> = endpoint.ipv6_hints.iter().map(|&ip| ip.into()).collect();
        let v4: Vec<IpAddr> = endpoint.ipv4_hints.iter().map(|&ip| ip.into()).collect();
        for (family, hints) in [(Family::V6, v6), (Family::V4, v4)] {
            if !hints.is_empty() && self.families.allows(family) {
                let addrs = hints.into_iter().map(|ip| SocketAddr::new(ip, 0));
                self.ready
                    .push_back(Answer::of_endpoint(family, addrs, endpoint, true));
            }
        }
    }

    /// Looks `target` up, its answers serving each of `endpoints`.
    fn look_up(&mut self, target: Name, endpoints: Vec<Arc<ServiceEndpoint>>) {
        let lookups = per_family(&self.resolver, target, self.families);
        let answers = lookups.flat_map(move |answer| {
            let tagged: Vec<Answer> = match (answer.family, answer.result) {
                (Some(family), Ok(addrs)) => endpoints
                    .iter()
                    .map(|e| Answer::of_endpoint(family, addrs.iter().copied(), e, false))
                    .collect(),
                (_, Ok(_)) => Vec::new(),
                (_, Err(error)) => {
                    debug!(%error, "an endpoint's lookup failed");
                    Vec::new()
                }
            };
            futures_util::stream::iter(tagged)
        });
        self.targets.push(answers.boxed());
    }
}

impl<S: Stream<Item = Answer> + Unpin> Stream for WithHttps<S> {
    type Item = Answer;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        let this = &mut *self;
        if !this.asked {
            this.asked = true;
            this.start = Some(Instant::now());
            return Poll::Ready(Some(Answer::https(HttpsPart::Asked)));
        }
        loop {
            if let Some(answer) = this.ready.pop_front() {
                return Poll::Ready(Some(answer));
            }
            if let Some(plain) = &mut this.plain {
                match plain.poll_next_unpin(cx) {
                    Poll::Ready(Some(answer)) => {
                        this.plain_answer(&answer);
                        if this.ech && this.records.is_some() {
                            this.held.push(answer);
                            continue;
                        }
                        return Poll::Ready(Some(this.plain_out(answer)));
                    }
                    Poll::Ready(None) => this.plain_done(),
                    Poll::Pending => {}
                }
            }
            if let Some(records) = &mut this.records {
                if let Poll::Ready((owner, service)) = records.poll_unpin(cx) {
                    this.records = None;
                    this.cutoff = None;
                    this.arrived(owner, service);
                    continue;
                }
                if let Some(Poll::Ready(())) = this.cutoff.as_mut().map(|c| c.as_mut().poll(cx)) {
                    this.cutoff = None;
                    this.give_up();
                    continue;
                }
            }
            if !this.targets.is_empty() {
                if let Poll::Ready(Some(answer)) = this.targets.poll_next_unpin(cx) {
                    return Poll::Ready(Some(answer));
                }
            }
            let done = this.plain.is_none() && this.records.is_none() && this.targets.is_empty();
            return if done {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
    }
}

/// The HTTPS records of `name`, its aliases followed (at most [`MAX_ALIASES`]): the name
/// that holds them, and what they say. A failed lookup says nothing
/// ([`Service::Plain`]).
async fn records(resolver: &TokioResolver, mut name: Name, query: &HttpsQuery) -> (Name, Service) {
    let client = Client {
        alpn: query.alpn.as_deref(),
        ech: query.ech,
        ech_mixed: query.ech_mixed,
    };
    let keyed = Keyed::default();
    for _ in 0..=MAX_ALIASES {
        let lookup = match resolver.lookup(name.clone(), RecordType::HTTPS).await {
            Ok(lookup) => lookup,
            Err(error) => {
                debug!(%name, %error, "no HTTPS records");
                return (name, Service::Plain);
            }
        };
        let records = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::HTTPS(https) => Some(&https.0),
                _ => None,
            });
        match svcb::read(records, client, |i| keyed.hash_one(i)) {
            Service::Alias(target) => {
                debug!(%name, %target, "HTTPS alias");
                name = target;
            }
            mut service => {
                if let Service::Endpoints(endpoints) = &mut service {
                    endpoints.truncate(MAX_ENDPOINTS);
                }
                return (name, service);
            }
        }
    }
    debug!(%name, "too many HTTPS aliases");
    (name, Service::Plain)
}
