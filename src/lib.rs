//! Fast TCP connections by racing every address of a host.
//!
//! A host name usually resolves to several addresses. A normal client tries the first,
//! and only after a timeout the next, so one dead or blackholed address costs seconds to
//! minutes (Linux retries a SYN for about two minutes). connie instead:
//!
//! 1. resolves `A` and `AAAA` **concurrently** (hickory-resolver), and feeds each answer into
//!    the race the moment it arrives, so a slow `AAAA` never holds up an IPv4 connection;
//! 2. sorts the addresses: RFC 6724 destination address selection, with what the
//!    connector's **address history** has measured (see [`ConnieConnector::history`]);
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
//! - At most [`DEFAULT_MAX_CONCURRENT`] attempts run at once and at most
//!   [`DEFAULT_MAX_ADDRESSES`] addresses are taken per race (both configurable). Both caps
//!   are shared fairly between the families: a flood of one family's records, or its
//!   attempts hanging, never shuts out the other family.
//! - Across races, every attempt but a race's first (or one while the race has none
//!   running) takes a place in the connector's **attempt budget**, or waits for one, first
//!   come, first served ([`ConnieConnector::attempt_budget`]; by default a quarter of the
//!   process's descriptor limit).
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
//! `HttpConnector` setter has an equivalent. Socket options live on the [`TcpDialer`],
//! reached with [`ConnieConnector::tcp`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use connie::{ConnieConnector, Schedule};
//!
//! // let mut http = HttpConnector::new();
//! // http.set_keepalive(Some(Duration::from_secs(60)));
//! // http.set_connect_timeout(Some(Duration::from_secs(10)));
//! // http.set_happy_eyeballs_timeout(Some(Duration::from_millis(300)));
//! let connector = ConnieConnector::new()
//!     .tcp(|tcp| tcp.keepalive(Some(Duration::from_secs(60))))
//!     .total_timeout(Some(Duration::from_secs(10)))
//!     .partial_deadlines(true)
//!     .schedule(Schedule::rfc8305().attempt_delay(Duration::from_millis(300)));
//! ```
//!
//! | `HttpConnector` | connie | difference |
//! |---|---|---|
//! | `new()` | [`ConnieConnector::new()`] | races every address at once, then dials a known host's best address alone; `TCP_NODELAY` on |
//! | `new_with_resolver(r)` | [`ConnieConnector::resolver`] (a hickory resolver), or [`ConnieConnector::resolver_config`] (its configuration) | `A` and `AAAA` looked up concurrently |
//! | `enforce_http(b)` | [`ConnieConnector::enforce_http`] | same meaning and default (`true`) |
//! | `set_connect_timeout(t)` | [`total_timeout`](ConnieConnector::total_timeout)`(t)` + [`partial_deadlines`](ConnieConnector::partial_deadlines)`(true)`, or [`attempt_timeout`](ConnieConnector::attempt_timeout) | hyper-util splits `t` evenly between a host's addresses and leaves DNS out; connie's total timeout includes DNS, and partial deadlines give each attempt at least 2 s (as Go does). `attempt_timeout` bounds each attempt alone |
//! | `set_happy_eyeballs_timeout(d)` | [`Schedule::rfc8305`]`().attempt_delay(d)` | hyper-util tries one family's addresses one by one and starts the other family after `d` (300 ms by default); connie's default, [`Schedule::learned`], starts every address at once (a known host's best address alone), and `rfc8305` staggers every address (either family) by `d`. `None` (no fallback) is closest to [`Schedule::sequential`] |
//! | `set_nodelay(b)` | [`TcpDialer::nodelay`] | default `true` in connie, `false` in hyper-util |
//! | `set_keepalive(t)` | [`TcpDialer::keepalive`] | |
//! | `set_keepalive_interval(t)` | [`TcpDialer::keepalive_interval`] | |
//! | `set_keepalive_retries(n)` | [`TcpDialer::keepalive_retries`] | |
//! | `set_send_buffer_size(n)` | [`TcpDialer::send_buffer_size`] | |
//! | `set_recv_buffer_size(n)` | [`TcpDialer::recv_buffer_size`] | |
//! | `set_reuse_address(b)` | [`TcpDialer::reuse_address`] | |
//! | `set_local_address(ip)` | [`TcpDialer::local_address`] | connie also sets `IP_BIND_ADDRESS_NO_PORT` (Linux): no port is reserved before `connect()` |
//! | `set_local_addresses(v4, v6)` | [`TcpDialer::local_address_v4`], [`TcpDialer::local_address_v6`] | |
//! | `set_interface(name)` | `TcpDialer::interface` (Linux, Android, Fuchsia), `TcpDialer::interface_index` (macOS, iOS, illumos, Solaris, Linux) | on macOS connie takes the interface's index rather than its name |
//! | `set_mark(m)` | `TcpDialer::mark` (Linux, Android, Fuchsia) | |
//! | `set_tcp_user_timeout(t)` | `TcpDialer::user_timeout` (Linux, Android, Fuchsia) | hyper-util ignores a failure to set it; connie fails that attempt |
//! | `HttpInfo` in responses | `HttpInfo` **and** [`ConnectInfo`] | |
//!
//! An option the system refuses (`SO_MARK` without `CAP_NET_ADMIN`, say) fails that
//! attempt with an error naming the option, listed in [`ConnectError::attempts`].
//!
//! [`ConnectInfo`] on a pooled hyper connection describes the race that opened the
//! connection, not the request: every response on a reused connection carries the same one.
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
//! events when they start and win, and `trace` events when they fail. Errors that are
//! returned are not logged. The span and its fields are made only for a subscriber that
//! wants them.
//!
//! # Features
//!
//! - `hyper` (default): [`ConnieConnector`] is a `tower_service::Service<http::Uri>` for
//!   hyper-util's legacy `Client`.
//! - `rustls`: `RustlsDialer` and `ConnieConnector::rustls`, TLS raced with TCP (above); on
//!   hyper-util's `Client`, TLS for `https`/`wss` and plain TCP for `http`/`ws`, HTTP/2 when
//!   ALPN chose `h2`. Bring a `rustls::ClientConfig` with a crypto provider.
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
mod config;
mod connector;
mod dial;
mod dns;
mod error;
mod history;
mod info;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
mod order;
mod policy;
mod race;
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
pub use crate::connector::{
    race_connect, race_connect_budget_use, ConnieConnector, DEFAULT_MAX_ADDRESSES,
    DEFAULT_MAX_CONCURRENT,
};
pub use crate::dial::{Destination, Dial};
pub use crate::dns::DnsError;
pub use crate::error::{AttemptError, ConnectError, ErrorKind};
pub use crate::history::DEFAULT_HISTORY_CAPACITY;
pub use crate::info::{Attempt, ConnectInfo, Outcome};
pub use crate::policy::{is_public, AddressPolicy, PublicOnly};
pub use crate::schedule::{
    Family, Schedule, MAX_ATTEMPT_DELAY, MIN_ATTEMPT_DELAY, RFC8305_ATTEMPT_DELAY,
    RFC8305_RESOLUTION_DELAY,
};
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
