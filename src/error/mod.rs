//! [`ConnectError`]: why a race produced no connection.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

mod display;
mod words;

pub(crate) use words::{reason, short_of_resources};

use crate::dns::DnsError;
use crate::IpFamily;

/// Why a race produced no connection.
///
/// The error keeps everything a caller needs to act on it: its [`kind`](Self::kind), every
/// attempt with its [`io::Error`] ([`attempts`](Self::attempts)), every failed DNS lookup
/// ([`dns_errors`](Self::dns_errors)), the addresses the
/// [`AddressPolicy`](crate::AddressPolicy) refused
/// ([`refused_by_policy`](Self::refused_by_policy)) and how many addresses the cap left out
/// ([`left_out`](Self::left_out)).
///
/// [`Display`](fmt::Display) is one line: what failed, for which target, and a summary,
/// such as `connect to example.com:443 failed: 3 addresses tried: 2 refused, 1 timed out`
/// or `connect to missing.example:443 failed: could not resolve missing.example: no such
/// name (A, AAAA)`. It never names an address the policy refused, only how many, and never
/// repeats a cause: the cause is [`source`](StdError::source), so `anyhow`'s `{:#}`,
/// `eyre` and `tracing` print each once. The source is the **first attempt made** (the
/// most preferred address, stable whatever order the failures arrived in), or for a DNS
/// failure the first failed lookup; the rest are in the accessors.
///
/// Nothing in a message, in `Debug` or in connie's `tracing` fields carries a URI's user
/// info, path or query: a target is shown as its scheme, host and port.
///
/// Converts into [`io::Error`] with a meaningful [`io::ErrorKind`] (a timeout, a DNS
/// timeout included, becomes [`io::ErrorKind::TimedOut`]), and the `ConnectError` stays
/// reachable through [`io::Error::get_ref`].
pub struct ConnectError {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    /// What the race connected to, for messages: `host:port`, an address, or "N addresses".
    target: Option<String>,
    /// The host name looked up, if any.
    host: Option<String>,
    detail: Option<String>,
    attempts: Vec<AttemptError>,
    /// Addresses the policy refused, never dialed.
    refused: Vec<SocketAddr>,
    /// Addresses `max_addresses` left out, and its value.
    left_out: usize,
    max_addresses: usize,
    /// Addresses of a family the connector's `ip_family` leaves out, never dialed, and
    /// its value.
    skipped: usize,
    ip_family: IpFamily,
    dns: Vec<DnsError>,
    timeout: Option<Duration>,
    /// A name was looked up and its lookups answered (with no address, for
    /// [`ErrorKind::NoAddresses`]); `false` for literal addresses.
    looked_up: bool,
}

/// The broad class of a [`ConnectError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target could not be understood: no port, port 0, an empty host, an unknown URI
    /// scheme…
    InvalidTarget,
    /// Name resolution failed: the name does not exist, or every lookup failed. When a
    /// lookup timed out (a silent name server), the error is a timeout as well
    /// ([`ConnectError::is_timeout`]).
    Dns,
    /// There was no address to connect to: an empty address list, or every lookup of the
    /// name answered with no address ([`ConnectError::is_dns`] is `true` for the latter).
    NoAddresses,
    /// Every attempt failed.
    AllAttemptsFailed,
    /// The total timeout elapsed before any attempt connected.
    TimedOut,
    /// The [`AddressPolicy`](crate::AddressPolicy) refused every address, so no connection
    /// was attempted.
    RefusedByPolicy,
    /// The race needed timers and its tokio runtime has no time driver: it was built
    /// without `enable_time` (or `enable_all`). Nothing was looked up or dialed; see
    /// [`ConnieConnector`](crate::ConnieConnector#the-runtime) for which races need timers.
    NoTimeDriver,
}

/// One failed connection attempt: the address and the error it ended with.
///
/// [`Display`](fmt::Display) names the address (`attempt to 192.0.2.1:443 failed`); the
/// error is [`source`](StdError::source). An attempt that hit the per-attempt timeout has
/// an error of kind [`io::ErrorKind::TimedOut`].
#[derive(Debug)]
pub struct AttemptError {
    addr: SocketAddr,
    error: io::Error,
}

impl ConnectError {
    fn new(kind: ErrorKind) -> Self {
        ConnectError {
            inner: Box::new(Inner {
                kind,
                target: None,
                host: None,
                detail: None,
                attempts: Vec::new(),
                refused: Vec::new(),
                left_out: 0,
                max_addresses: 0,
                skipped: 0,
                ip_family: IpFamily::Both,
                dns: Vec::new(),
                timeout: None,
                looked_up: false,
            }),
        }
    }

    /// `detail` says what is wrong with the target; it must not carry a URI's user info,
    /// path or query.
    pub(crate) fn invalid_target(detail: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::InvalidTarget);
        e.inner.detail = Some(detail.into());
        e
    }

    /// The runtime has no time driver; `panic` is what tokio said when asked for a timer.
    pub(crate) fn no_time_driver(panic: String) -> Self {
        let mut e = Self::new(ErrorKind::NoTimeDriver);
        e.inner.detail = Some(panic);
        e
    }

    pub(crate) fn failed(kind: ErrorKind, attempts: Vec<AttemptError>, dns: Vec<DnsError>) -> Self {
        let mut e = Self::new(kind);
        e.inner.attempts = attempts;
        e.inner.dns = dns;
        e
    }

    pub(crate) fn timed_out(
        after: Duration,
        attempts: Vec<AttemptError>,
        dns: Vec<DnsError>,
    ) -> Self {
        let mut e = Self::failed(ErrorKind::TimedOut, attempts, dns);
        e.inner.timeout = Some(after);
        e
    }

    /// Records that a name was looked up, so that finding no address is a DNS outcome.
    pub(crate) fn looked_up(mut self, looked_up: bool) -> Self {
        self.inner.looked_up = looked_up;
        self
    }

    /// Records the addresses the policy refused.
    pub(crate) fn with_refused(mut self, refused: Vec<SocketAddr>) -> Self {
        self.inner.refused = refused;
        self
    }

    /// Records that `max_addresses` left `left_out` addresses out.
    pub(crate) fn with_left_out(mut self, left_out: usize, max_addresses: usize) -> Self {
        self.inner.left_out = left_out;
        self.inner.max_addresses = max_addresses;
        self
    }

    /// Records that `ip_family` left `skipped` addresses of the other family out.
    pub(crate) fn with_skipped(mut self, skipped: usize, ip_family: IpFamily) -> Self {
        self.inner.skipped = skipped;
        self.inner.ip_family = ip_family;
        self
    }

    /// Names what the race connected to, for [`Display`](fmt::Display).
    pub(crate) fn with_target(mut self, target: String, host: Option<String>) -> Self {
        self.inner.target = Some(target);
        self.inner.host = host;
        self
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// `true` if the target could not be understood (no port, port 0, empty host, bad
    /// URI…).
    pub fn is_invalid_target(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidTarget
    }

    /// `true` if name resolution is why there was nothing to connect to: a lookup failed
    /// ([`ErrorKind::Dns`]), or the name's `A` and `AAAA` lookups both answered with no
    /// address ([`ErrorKind::NoAddresses`] after a lookup: the name has no addresses).
    ///
    /// `false` for an empty list of addresses, which needs no lookup, and for every other
    /// kind: a race that timed out while a lookup was still running is a timeout.
    pub fn is_dns(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Dns => true,
            ErrorKind::NoAddresses => self.inner.looked_up,
            _ => false,
        }
    }

    /// `true` if the total timeout elapsed, every attempt ended with its own timeout, or
    /// name resolution failed because a lookup timed out ([`DnsError::is_timeout`]: a
    /// silent name server) and no lookup found that the name does not exist; then
    /// [`is_dns`](Self::is_dns) is `true` as well.
    pub fn is_timeout(&self) -> bool {
        let inner = &*self.inner;
        match inner.kind {
            ErrorKind::TimedOut => true,
            ErrorKind::AllAttemptsFailed => inner
                .attempts
                .iter()
                .all(|a| a.error.kind() == io::ErrorKind::TimedOut),
            ErrorKind::Dns => {
                inner.dns.iter().any(DnsError::is_timeout)
                    && !inner.dns.iter().any(DnsError::is_no_such_name)
            }
            _ => false,
        }
    }

    /// `true` if the [`AddressPolicy`](crate::AddressPolicy) refused every address, so no
    /// connection was attempted.
    pub fn is_refused_by_policy(&self) -> bool {
        self.inner.kind == ErrorKind::RefusedByPolicy
    }

    /// Every failed connection attempt, in the order the attempts were started. An address
    /// appears twice if it was [abandoned](crate::Outcome::Abandoned) and tried again.
    ///
    /// When the total timeout fires, attempts still in flight are listed with an error of
    /// kind [`io::ErrorKind::TimedOut`].
    pub fn attempts(&self) -> &[AttemptError] {
        &self.inner.attempts
    }

    /// The addresses the [`AddressPolicy`](crate::AddressPolicy) refused (never dialed), in
    /// the order they arrived: for the program's own logs, as the message only counts
    /// them.
    pub fn refused_by_policy(&self) -> &[SocketAddr] {
        &self.inner.refused
    }

    /// How many addresses [`max_addresses`](crate::ConnieConnector::max_addresses) left
    /// out: never attempted, and in no other list.
    pub fn left_out(&self) -> usize {
        self.inner.left_out
    }

    /// Every failed DNS lookup (at most one per address family).
    pub fn dns_errors(&self) -> &[DnsError] {
        &self.inner.dns
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self.inner.kind {
            ErrorKind::InvalidTarget => io::ErrorKind::InvalidInput,
            ErrorKind::Dns if self.is_timeout() => io::ErrorKind::TimedOut,
            ErrorKind::Dns => io::ErrorKind::NotFound,
            ErrorKind::NoAddresses => io::ErrorKind::AddrNotAvailable,
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::RefusedByPolicy => io::ErrorKind::PermissionDenied,
            ErrorKind::NoTimeDriver => io::ErrorKind::Unsupported,
            ErrorKind::AllAttemptsFailed => self
                .inner
                .attempts
                .first()
                .map_or(io::ErrorKind::Other, |a| a.error.kind()),
        }
    }
}

impl fmt::Debug for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut d = f.debug_struct("ConnectError");
        d.field("kind", &inner.kind);
        if let Some(detail) = &inner.detail {
            d.field("detail", detail);
        }
        if let Some(t) = &inner.timeout {
            d.field("timeout", t);
        }
        d.field("attempts", &inner.attempts);
        if !inner.refused.is_empty() {
            d.field("refused_by_policy", &inner.refused);
        }
        if inner.left_out > 0 {
            d.field("left_out", &inner.left_out);
        }
        if inner.skipped > 0 {
            d.field("skipped", &inner.skipped);
            d.field("ip_family", &inner.ip_family);
        }
        d.field("dns", &inner.dns).finish()
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let inner = &*self.inner;
        match inner.kind {
            ErrorKind::Dns | ErrorKind::NoAddresses => {
                inner.dns.first().map(|d| d as &(dyn StdError + 'static))
            }
            ErrorKind::TimedOut if inner.attempts.is_empty() => {
                inner.dns.first().map(|d| d as &(dyn StdError + 'static))
            }
            _ => inner
                .attempts
                .first()
                .map(|a| a as &(dyn StdError + 'static)),
        }
    }
}

impl From<ConnectError> for io::Error {
    fn from(e: ConnectError) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

impl AttemptError {
    pub(crate) fn new(addr: SocketAddr, error: io::Error) -> Self {
        AttemptError { addr, error }
    }

    /// The address that was attempted.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The error the attempt ended with.
    pub fn error(&self) -> &io::Error {
        &self.error
    }
}

impl fmt::Display for AttemptError {
    /// `attempt to 192.0.2.1:443 failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt to {} failed", self.addr)
    }
}

impl StdError for AttemptError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests;
