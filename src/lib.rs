//! Fast TCP connections by racing every address of a host.
//!
//! A host name usually resolves to several addresses. A normal client tries the first,
//! and only after a timeout the next, so one dead or blackholed address costs seconds to
//! minutes (Linux retries a SYN for about two minutes). connie instead:
//!
//! 1. resolves `A` and `AAAA` **concurrently** (hickory-resolver), and feeds each answer into
//!    the race the moment it arrives, so a slow `AAAA` never holds up an IPv4 connection;
//! 2. starts non-blocking connection attempts on a [`Schedule`]: every address at once
//!    ([`Schedule::race_all`], the default), the staggered, family-interleaved Happy
//!    Eyeballs v2 of RFC 8305 ([`Schedule::rfc8305`]), or one at a time
//!    ([`Schedule::sequential`]);
//! 3. returns the **first connection to complete** and drops every other attempt at once,
//!    closing its socket (an attempt that also connected at the same instant included).
//!
//! # Using it
//!
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! // Anywhere in a tokio program:
//! let stream = connie::race_connect("example.com:80").await?;
//!
//! // With settings, and a report of the race:
//! use connie::{ConnieConnector, Schedule};
//! let connector = ConnieConnector::new().schedule(Schedule::rfc8305());
//! let (stream, info) = connector.connect(("example.com", 443)).await?;
//! for attempt in info.attempts() {
//!     println!("{} at {:?}: {:?}", attempt.addr(), attempt.started(), attempt.outcome());
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
//! - No setting panics: a duration too long for the clock (`Duration::MAX`) means "no
//!   deadline".
//! - The race fails only when every address has failed **and** DNS has finished, or when
//!   the total timeout (DNS included) elapses. The [`ConnectError`] lists every address
//!   tried with its error.
//!
//! # Address policy
//!
//! [`ConnieConnector::address_policy`] checks every address after DNS and before any SYN;
//! [`PublicOnly`] refuses loopback, private, link-local and other non-public ranges (an SSRF
//! guard that DNS rebinding cannot get past, since it sees the addresses actually dialed).
//!
//! # The dial seam
//!
//! The engine is generic over [`Dial`]: "open a connection to this address". The default,
//! [`TcpDialer`], is a tokio [`TcpStream`](tokio::net::TcpStream) with socket options;
//! any `Fn(SocketAddr) -> impl Future<Output = io::Result<C>>` races whatever `C` is, such
//! as a TCP connection with its TLS handshake done, or a simulated network in tests.
//!
//! # Logging
//!
//! Each race runs in a `race` [`tracing`] span; attempts emit `debug` events when they
//! start and win, and `trace` events when they fail. Errors that are returned are not
//! logged.
//!
//! # Features
//!
//! - `hyper` (default): [`ConnieConnector`] is a `tower_service::Service<http::Uri>` for
//!   hyper-util's legacy `Client`.
//! - `lab`: loopback hosts (alive, refused, blackholed) and an in-process DNS server, for
//!   testing clients against dead addresses.
//! - `netlab` (Linux, root): `lab::netns`, the lab in two network namespaces joined by a
//!   delay line, for real round-trip times.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod connector;
mod dial;
mod dns;
mod error;
mod info;
#[cfg(feature = "lab")]
#[cfg_attr(docsrs, doc(cfg(feature = "lab")))]
pub mod lab;
mod policy;
mod race;
mod schedule;
#[cfg(feature = "hyper")]
mod service;
mod target;

pub use crate::connector::{
    race_connect, ConnieConnector, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_ENFORCE_HTTP,
    DEFAULT_MAX_ADDRESSES, DEFAULT_MAX_CONCURRENT, DEFAULT_TOTAL_TIMEOUT,
};
pub use crate::dial::{Dial, TcpDialer, DEFAULT_NODELAY};
pub use crate::error::{AttemptError, ConnectError, DnsError, ErrorKind};
pub use crate::info::{Attempt, ConnectInfo, Outcome};
pub use crate::policy::{is_public, AddressPolicy, PolicyRefused, PublicOnly};
pub use crate::schedule::{
    Family, Schedule, MAX_ATTEMPT_DELAY, MIN_ATTEMPT_DELAY, RFC8305_ATTEMPT_DELAY,
    RFC8305_RESOLUTION_DELAY,
};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use crate::service::{Connecting, ConnieStream};
pub use crate::target::{IntoTarget, Target};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The hickory-resolver version connie uses, for building a custom resolver for
/// [`ConnieConnector::resolver`].
pub use hickory_resolver;
