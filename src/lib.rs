//! Fast TCP connections by racing every address of a host.
//!
//! A host name usually resolves to several addresses. A normal client tries the first,
//! and only after a timeout the next, so one dead or blackholed address costs seconds to
//! minutes (Linux retries a SYN for about two minutes). connie instead:
//!
//! 1. resolves `A` and `AAAA` **concurrently** (hickory-resolver), and feeds each answer into
//!    the race the moment it arrives, so a slow `AAAA` never holds up an IPv4 connection;
//! 2. sorts the addresses: RFC 6724 destination address selection, with what the
//!    connector's **address history** has measured (see
//!    [the order of the addresses](#the-order-of-the-addresses));
//! 3. starts non-blocking connection attempts on a [`Schedule`]: every address at once until
//!    the history knows the host, then its best known address alone, racing the rest only
//!    if that one is late ([`Schedule::learned`], the default); every address at once, every
//!    time ([`Schedule::race_all`]); the staggered, family-interleaved Happy Eyeballs v2 of
//!    RFC 8305 ([`Schedule::rfc8305`]); or one at a time ([`Schedule::sequential`]);
//! 4. returns the **first connection to complete** and drops every other attempt at once,
//!    closing its socket (an attempt that also connected at the same instant included,
//!    with a reset, so that it leaves no `TIME_WAIT`), and records what the race taught in
//!    the history.
//!
//! # Using it
//!
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! // On a tokio runtime with IO and time (`#[tokio::main]` builds one):
//! let stream = connie::race_connect("example.com:80").await?;
//!
//! // With settings, and a report of the race:
//! use connie::{ConnieConnector, Schedule};
//! let connector = ConnieConnector::new().schedule(Schedule::rfc8305());
//! let (stream, info) = connector.connect(("example.com", 443)).await?;
//! for attempt in info.attempts() {
//!     println!("{} at {:?}: {}", attempt.addr(), attempt.started(), attempt.outcome());
//! }
//! # Ok(()) }
//! ```
//!
//! # The rules of a race
//!
//! - The next attempt starts when the schedule's attempt delay has elapsed since the
//!   previous one started, **or** an attempt fails, whichever comes first. A delay never
//!   cancels an attempt already running.
//! - At most [`ConnieConnector::DEFAULT_MAX_CONCURRENT`] attempts run at once and at most
//!   [`ConnieConnector::DEFAULT_MAX_ADDRESSES`] addresses are taken per race (both
//!   configurable). Both caps are shared fairly between the families: a flood of one
//!   family's records, or its attempts hanging, never shuts out the other family.
//! - Across races, every attempt but a race's first (or one while the race has none
//!   running) takes a place in the connector's **attempt budget**, or waits for one, first
//!   come, first served ([`ConnieConnector::attempt_budget`]; by default a quarter of the
//!   process's descriptor limit); so it does in its host's cap, if the connector sets
//!   one ([`ConnieConnector::attempts_per_host`]).
//! - No setting panics: a duration too long for the clock (`Duration::MAX`) means "no
//!   deadline". Nor does a runtime without tokio's time driver: a race that may need a
//!   timer fails at once with [`ErrorKind::NoTimeDriver`] (see
//!   [the runtime](ConnieConnector#the-runtime)).
//! - The race fails only when every address has failed **and** DNS has finished, or when
//!   the total timeout (DNS included) elapses. The [`ConnectError`] keeps every attempt
//!   with its error; its one-line message counts them, and is safe to show to whoever
//!   supplied the URL (no user info, path or query, no address the policy refused).
//!
//! # Coming from hyper-util's `HttpConnector`
//!
//! [`ConnieConnector`] is a drop-in `Service<Uri>` for hyper-util's `Client`, and every
//! `HttpConnector` setter has an equivalent: socket options on the [`TcpDialer`], reached
//! with [`ConnieConnector::tcp`], the timeouts on the connector, the Happy Eyeballs delay
//! on the [`Schedule`]. The README's section "Coming from `HttpConnector`" has the table,
//! setter by setter, with what differs (the README is on the
//! [crate's page](https://docs.rs/crate/connie/latest)).
//!
//! [`ConnectInfo`] on a pooled hyper connection describes the race that opened the
//! connection, not the request: every response on a reused connection carries the same one.
//!
//! # The order of the addresses
//!
//! Each race sorts each family's addresses, and sorts addresses that DNS delivers late
//! into those still waiting:
//!
//! 1. an address with no route goes last (RFC 6724 rule 1). connie finds the source
//!    address the system would use for a destination with a UDP `connect()`, which sends
//!    nothing, and keeps it for 5 s per IPv4 `/24` or IPv6 `/64`; a lookup that failed for
//!    lack of descriptors, buffers or memory is not kept;
//! 2. then what the connector's address history ([`ConnieConnector::history`]) knows:
//!    addresses with a fresh handshake time first, fastest first counting their recent
//!    failures; then the addresses it knows nothing about; then those that failed, with no
//!    time measured, within the last 30 s;
//! 3. then RFC 6724's other rules with its default policy table: matching scope, matching
//!    label, higher precedence (global IPv6 before IPv4, IPv4 before a ULA), smaller scope,
//!    longest matching prefix (IPv6 only, as Go does); otherwise DNS order.
//!
//! The families are then interleaved, starting with the family of the best address
//! ([`Schedule::preferred_family`] sets one). RFC 8305 puts measured round-trip times
//! after precedence; connie puts them before it, so that a measured 20 ms IPv4 address is
//! not made to wait a full attempt delay behind a measured 300 ms IPv6 one on every
//! connect. Addresses given as a list are sorted too, unless
//! [`keep_given_order`](ConnieConnector::keep_given_order) is set; with
//! [`getaddrinfo`](ConnieConnector::getaddrinfo), each family keeps the system's order but
//! for rule 1 and the history.
//!
//! [`Schedule::learned`] uses the history to start a known host's best address alone;
//! [`ConnectInfo::used_history`] tells whether a race did, and each [`Attempt`] its
//! measured [`handshake`](Attempt::handshake) and [`expected`](Attempt::expected) time.
//!
//! # Many races to one cold host
//!
//! The history cannot help a burst of races to a host it does not know yet: each would
//! race every address before any has won. So the first cold race to a host and port
//! probes, and the races by name that start while it is still looking follow it: their
//! lookups run, their first attempt waits for the probe (one attempt delay at most), and
//! they go on with what its win taught the history, its winner alone
//! ([`ConnectInfo::followed`]). A probe that fails lets them go at once; one its caller
//! drops hands over to the next of them. A race whose best address the history knows
//! never waits. In a cold burst a race can be one wait slower than racing alone; see
//! [`ConnieConnector::coordinate`].
//!
//! # Name resolution, `localhost` and `/etc/hosts`
//!
//! By default, names are resolved with hickory-resolver, not `getaddrinfo`. The resolver
//! reads `/etc/resolv.conf` and `/etc/hosts` once, on first use, and is shared by the whole
//! process (one cache); a change to either file afterwards is not seen until the process
//! restarts. Compared with `getaddrinfo`:
//!
//! - `localhost` (and names under `.localhost`) always resolve to `::1` and `127.0.0.1`,
//!   whatever `/etc/hosts` says, and `.onion` and `.invalid` names fail without a query
//!   (RFC 6761);
//! - `/etc/hosts` entries are honoured for both families, but other NSS sources
//!   (`/etc/nsswitch.conf`: mDNS, LDAP, systemd-resolved's `myhostname`…) are not;
//! - connie sorts the addresses itself (RFC 6724 with its default policy table, and the
//!   address history), so `/etc/gai.conf` does not apply;
//! - if the system configuration cannot be read, connie falls back to `getaddrinfo` for
//!   that process, with a `tracing` warning.
//!
//! A name without a final dot goes through `/etc/resolv.conf`'s search list (`search`,
//! `domain` and `options ndots:`) in hickory's order, and both families come from one of
//! the names it stands for: the first with an address in either family, as hickory's
//! `lookup_ip` and a `getaddrinfo` call for both families choose, so a race never dials
//! two hosts. The first name's `A` and `AAAA` lookups run concurrently, each joining the
//! race as it answers; the next name is looked up only once both have failed.
//! [`ConnieConnector::resolver_config`] does the same with a configuration of your own;
//! see [`ConnieConnector::resolver`] for a resolver built elsewhere, whose search list
//! connie cannot see.
//!
//! [`ConnieConnector::getaddrinfo`] resolves with `getaddrinfo` instead, so every NSS source
//! and `/etc/gai.conf` apply: one call per family, each on a blocking thread, each family
//! joining the race as its call returns, with no cache but the system's. Each family then
//! keeps `getaddrinfo`'s order; only the address history (measured addresses first) and
//! RFC 6724's rule 1 (no route last) reorder it. Each call applies the search list on its
//! own, so the two families of a name without a final dot can come from two names.
//!
//! # The families looked up
//!
//! A name is looked up in the families this host can reach, as Happy Eyeballs v3
//! (draft-ietf-happy-happyeyeballs-v3) has it: a host with an IPv4 route and no IPv6 route
//! (a container without IPv6) sends no `AAAA` query and waits for no IPv6 answer, and an
//! IPv6-only host sends no `A` query. Each family is probed with a
//! UDP `connect()` to a global address, which sends nothing: it has connectivity if the
//! kernel gives it a source address that is neither loopback nor link-local. The answer is
//! kept for 5 s, per connector. A host that reaches neither family (loopback only) looks
//! both up, since its names may be local.
//!
//! On a host that reaches IPv6 only, connie looks for a NAT64 prefix as RFC 7050 says (an
//! `AAAA` lookup of `ipv4only.arpa.`, which a DNS64 server answers under its prefix) and
//! keeps it with the probe's answer. With one, IPv4 is reached through it: a name is
//! looked up in both families and its IPv4 addresses are dialed at their IPv6 form under
//! the prefix (RFC 6052), and so are IPv4 literals (not `0.0.0.0/8`, loopback, link-local
//! or broadcast ones). The [address policy](ConnieConnector::address_policy) judges any
//! address under the prefix by the IPv4 address it stands for too, so [`PublicOnly`]
//! refuses a DNS64 answer that stands for `10.0.0.1`; and ranks and remembers it as that
//! IPv4 address, so that RFC 6724 puts it after IPv6 addresses that need no translation.
//!
//! [`ConnieConnector::connectivity`] with [`Connectivity::Assume`] looks both families up
//! whatever the routes (a proxy or a tunnel that the routing table does not show), and
//! [`ConnieConnector::ip_family`] chooses one family: the other is never looked up, and
//! its addresses are never dialed, from a resolver or a literal target. A resolver is told
//! the families wanted ([`Query::wants`](dns::Query::wants)); addresses it gives of a
//! family this host seems not to reach are still raced (they fail at once if it does not).
//!
//! # HTTPS records
//!
//! With [`ConnieConnector::https_records`], a race to a name looks its HTTPS records (RFC
//! 9460) up beside `AAAA` and `A`, as Happy Eyeballs v3 has HTTP clients do. An alias is
//! followed; each service endpoint's addresses are raced before the name's own, endpoints
//! by priority, each on its own port; an endpoint's address hints start attempts as soon
//! as the records answer, before `A` and `AAAA` do, and its target's own answers replace
//! them. With TLS, endpoints are chosen by the ALPN protocols the `ClientConfig` offers,
//! and an attempt offers only those its endpoint speaks. [`ConnectInfo::endpoint`] tells
//! which endpoint won. The records are asked for by default for `https` and `wss` URIs
//! through the `Service<Uri>` of a [`rustls`](ConnieConnector::rustls) connector. With the
//! `ech` feature, `ConnieConnector::ech` offers Encrypted Client Hello to the endpoints
//! whose records carry an ECH configuration.
//!
//! # Any resolver
//!
//! [`ConnieConnector::resolver`] takes any [`dns::Resolve`]: for a name, a stream of
//! [`Answers`](dns::Answers), each saying which family's lookup it completes, so that each
//! family joins the race as it answers. A hickory `TokioResolver`,
//! [`SystemResolver`](dns::SystemResolver) (the default), [`GetAddrInfo`](dns::GetAddrInfo),
//! [`StaticResolver`](dns::StaticResolver) (fixed names, for tests and overrides, with a
//! fallback) and, with the `hyper` feature, [`ServiceResolver`](dns::ServiceResolver) (any
//! of hyper-util's resolvers: a `tower_service::Service<Name>` such as `GaiResolver`) are
//! resolvers; so is a type of your own; the [`dns`] module has them all. The address
//! policy, the cap, the order and the history apply to every resolver's addresses, and a
//! race dials the target's port on each.
//!
//! ```
//! use std::net::IpAddr;
//! use connie::dns::{StaticResolver, SystemResolver};
//! use connie::ConnieConnector;
//!
//! // Pin one name, resolve every other as usual.
//! let pinned: IpAddr = "192.0.2.10".parse().unwrap();
//! let connector = ConnieConnector::new().resolver(
//!     StaticResolver::new()
//!         .host("api.example.com", [pinned])
//!         .fallback(SystemResolver::new()),
//! );
//! # drop(connector);
//! ```
//!
//! # Address policy
//!
//! [`ConnieConnector::address_policy`] checks every address after DNS and before any SYN;
//! [`PublicOnly`] refuses what the IANA special-purpose registries do not call globally
//! reachable (loopback, private, link-local, …), and the IPv6 forms that carry such an IPv4
//! address (an SSRF guard that DNS rebinding cannot get past, since it sees the addresses
//! actually dialed).
//!
//! # The dial seam
//!
//! The engine is generic over [`Dial`]: "open a connection to this [`Destination`]" (the
//! address, plus the target's host name, port and URI scheme). The default, [`TcpDialer`],
//! is a tokio [`TcpStream`](tokio::net::TcpStream) with socket options; any
//! `Fn(SocketAddr) -> impl Future<Output = io::Result<C>>` races whatever `C` is, such as a
//! simulated network in tests.
//!
//! # Racing the TLS handshake
//!
//! A TCP handshake proves little: a host that accepts TCP and then never answers TLS (a
//! wedged server, a middlebox, a path-MTU black hole) would win a TCP race and hang the
//! client. With the `rustls` feature, `ConnieConnector::rustls` makes each attempt a TCP
//! connect plus a rustls handshake, and **an attempt wins only when its handshake is
//! done**; a TLS failure fails that attempt and starts the next at once. A dialer with a
//! handshake after TCP reports its TCP up with [`Destination::transport_connected`]; the
//! schedule then gives the handshake its attempt delay again before trying another
//! address ([`Schedule`#tcp-up-handshake-running](Schedule#tcp-up-handshake-running)),
//! and [`Attempt::transport_connected`] and [`ConnectInfo::alpn`] report it.
//!
//! # Logging
//!
//! Each race runs in a `race` [`tracing`] span naming its `target` and `schedule`, into
//! which the race writes its `winner` (none if it failed) and its number of `attempts` as
//! it ends: with `tracing-opentelemetry`, one span per connect. Attempts emit `debug`
//! events when they start and win, and `trace` events when they fail, or wait for a place
//! in the [attempt budget](ConnieConnector::attempt_budget) and get one. Errors that are
//! returned are not logged. The span and its fields are made only for a subscriber that
//! wants them.
//!
//! # Features
//!
//! - `hyper` (default): [`ConnieConnector`] is a `tower_service::Service<http::Uri>` for
//!   hyper-util's legacy `Client`.
//! - `rustls`: `RustlsDialer` and `ConnieConnector::rustls`, TLS raced with TCP (above); on
//!   hyper-util's `Client`, TLS for `https`/`wss` and plain TCP for `http`/`ws`, HTTP/2 when
//!   ALPN chose `h2` (with hyper-util's `http2` feature; without it, its `Client` panics on
//!   such a connection, so leave `h2` out of the ALPN protocols). Bring a
//!   `rustls::ClientConfig` with a crypto provider (rustls's `ring` feature, or its
//!   default, aws-lc-rs).
//! - `ech`: Encrypted Client Hello (RFC 9849) for `RustlsDialer`, its configuration from
//!   HTTPS records (RFC 9848): `ConnieConnector::ech` takes a factory that makes the
//!   `ClientConfig` for an ECH configuration, and `ConnectInfo::ech` (a
//!   [`dns::Ech`](dns/index.html)) tells whether it was accepted. Brings rustls's
//!   `aws_lc_rs` feature (its HPKE); the `ClientConfig` may use any provider.
//! - `reqwest`: [`ConnieConnector`] is a `reqwest::dns::Resolve`, for reqwest's
//!   `ClientBuilder::dns_resolver`: a reqwest client gets connie's parallel `A`/`AAAA`
//!   lookups, its [address policy](ConnieConnector::address_policy) (the SSRF guard), its
//!   address cap and its order, but not the race: reqwest still connects by itself (see
//!   the `Resolve` impl on [`ConnieConnector`] for what applies and what does not).
//! - `metrics`: connect metrics through the [`metrics`](https://docs.rs/metrics/0.24)
//!   facade, for whatever exporter the program installs: races, attempts and DNS lookups
//!   by outcome and duration, the attempt budget and the address history as gauges. The
//!   [`connie::metrics`](metrics/index.html) module lists every metric in one table, with
//!   its type, unit and labels.

#![cfg_attr(docsrs, feature(doc_cfg))]
// One `unsafe` block in the crate: `IP_BIND_ADDRESS_NO_PORT`, which socket2 does not wrap
// (see `tcp/sys.rs`); everything else is safe.
#![deny(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod budget;
mod burst;
mod config;
mod connectivity;
mod connector;
mod dial;
pub mod dns;
mod error;
mod hash;
mod history;
mod info;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
mod nanos;
mod nat64;
mod order;
mod policy;
mod race;
mod rare;
#[cfg(feature = "reqwest")]
mod reqwest;
mod runtime;
mod schedule;
#[cfg(feature = "hyper")]
mod service;
mod target;
mod tcp;
#[cfg(feature = "rustls")]
mod tls;

pub use crate::budget::{AttemptBudget, BudgetUse};
pub use crate::connectivity::{Connectivity, IpFamily};
pub use crate::connector::{race_connect, race_connect_budget_use, ConnieConnector};
pub use crate::dial::{Destination, Dial};
pub use crate::error::{AttemptError, ConnectError, ErrorKind};
pub use crate::info::{Attempt, ConnectInfo, Outcome};
pub use crate::policy::{is_public, AddressPolicy, PublicOnly};
pub use crate::schedule::{Family, Schedule};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use crate::service::{Connecting, ConnieStream};
pub use crate::target::{IntoTarget, Target};
pub use crate::tcp::TcpDialer;
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use crate::tls::{MaybeTlsStream, RustlsDialer};

/// The hickory-resolver version connie uses, for building a custom resolver for
/// [`ConnieConnector::resolver`], or its configuration for
/// [`ConnieConnector::resolver_config`].
pub use hickory_resolver;
