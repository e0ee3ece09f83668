//! [`ConnectError`]: why a race produced no connection.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Family;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Why a race produced no connection.
///
/// The error keeps everything a caller needs to act on it: its [`kind`](Self::kind), every
/// address that was attempted together with that attempt's [`io::Error`]
/// ([`attempts`](Self::attempts)), and the error of each failed DNS lookup
/// ([`dns_errors`](Self::dns_errors)).
///
/// [`Display`](fmt::Display) is a short message; [`source`](StdError::source) is the
/// underlying cause. When every attempt failed, that cause is the error of the **first
/// attempt made** (the most preferred address), so it is stable whatever order the
/// failures arrived in; the rest are in [`attempts`](Self::attempts).
///
/// Converts into [`io::Error`] with a meaningful [`io::ErrorKind`] (a timeout becomes
/// [`io::ErrorKind::TimedOut`]), and the `ConnectError` stays reachable through
/// [`io::Error::get_ref`].
pub struct ConnectError {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    detail: Option<String>,
    attempts: Vec<AttemptError>,
    dns: Vec<DnsError>,
    timeout: Option<Duration>,
}

/// The broad class of a [`ConnectError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target could not be understood: no port, an empty host, an unknown URI scheme…
    InvalidTarget,
    /// Name resolution failed: the name does not exist, or every lookup failed.
    Dns,
    /// There was no address to connect to: an empty address list, or DNS answered with none.
    NoAddresses,
    /// Every address was attempted and every attempt failed.
    AllAttemptsFailed,
    /// The total timeout elapsed before any attempt connected.
    TimedOut,
    /// The [`AddressPolicy`](crate::AddressPolicy) refused every address, so no connection
    /// was attempted.
    RefusedByPolicy,
}

/// One failed connection attempt: the address and the error it ended with.
///
/// An attempt that hit the per-attempt timeout has an error of kind
/// [`io::ErrorKind::TimedOut`].
#[derive(Debug)]
pub struct AttemptError {
    addr: SocketAddr,
    error: io::Error,
}

/// One failed DNS lookup: the address family asked for and the resolver's error.
#[derive(Debug)]
pub struct DnsError {
    family: Option<Family>,
    error: BoxError,
}

impl ConnectError {
    fn new(kind: ErrorKind) -> Self {
        ConnectError {
            inner: Box::new(Inner {
                kind,
                detail: None,
                attempts: Vec::new(),
                dns: Vec::new(),
                timeout: None,
            }),
        }
    }

    pub(crate) fn invalid_target(detail: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::InvalidTarget);
        e.inner.detail = Some(detail.into());
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

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// `true` if the target could not be understood (no port, empty host, bad URI…).
    pub fn is_invalid_target(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidTarget
    }

    /// `true` if name resolution failed, or produced no address at all.
    pub fn is_dns(&self) -> bool {
        self.inner.kind == ErrorKind::Dns
            || (self.inner.kind == ErrorKind::NoAddresses && !self.inner.dns.is_empty())
    }

    /// `true` if the total timeout elapsed, or every attempt ended with its own timeout.
    pub fn is_timeout(&self) -> bool {
        match self.inner.kind {
            ErrorKind::TimedOut => true,
            ErrorKind::AllAttemptsFailed => self
                .inner
                .attempts
                .iter()
                .all(|a| a.error.kind() == io::ErrorKind::TimedOut),
            _ => false,
        }
    }

    /// `true` if the [`AddressPolicy`](crate::AddressPolicy) refused every address, so no
    /// connection was attempted.
    pub fn is_refused_by_policy(&self) -> bool {
        self.inner.kind == ErrorKind::RefusedByPolicy
    }

    /// Every failed connection attempt, in the order the attempts were started, then every
    /// address the [`AddressPolicy`](crate::AddressPolicy) refused (an error of kind
    /// [`io::ErrorKind::PermissionDenied`] whose inner error is
    /// [`PolicyRefused`](crate::PolicyRefused)).
    ///
    /// When the total timeout fires, attempts still in flight are listed with an error of
    /// kind [`io::ErrorKind::TimedOut`].
    pub fn attempts(&self) -> &[AttemptError] {
        &self.inner.attempts
    }

    /// Every failed DNS lookup (at most one per address family).
    pub fn dns_errors(&self) -> &[DnsError] {
        &self.inner.dns
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self.inner.kind {
            ErrorKind::InvalidTarget => io::ErrorKind::InvalidInput,
            ErrorKind::Dns => io::ErrorKind::NotFound,
            ErrorKind::NoAddresses => io::ErrorKind::AddrNotAvailable,
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::RefusedByPolicy => io::ErrorKind::PermissionDenied,
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
        let mut d = f.debug_struct("ConnectError");
        d.field("kind", &self.inner.kind);
        if let Some(detail) = &self.inner.detail {
            d.field("detail", detail);
        }
        if let Some(t) = &self.inner.timeout {
            d.field("timeout", t);
        }
        d.field("attempts", &self.inner.attempts)
            .field("dns", &self.inner.dns)
            .finish()
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.attempts.len();
        match self.inner.kind {
            ErrorKind::InvalidTarget => match &self.inner.detail {
                Some(d) => write!(f, "invalid connect target: {d}"),
                None => f.write_str("invalid connect target"),
            },
            ErrorKind::Dns => f.write_str("dns lookup failed"),
            ErrorKind::NoAddresses => f.write_str("no addresses to connect to"),
            ErrorKind::RefusedByPolicy => {
                write!(f, "all {n} addresses were refused by the address policy")
            }
            ErrorKind::AllAttemptsFailed if n == 1 => f.write_str("the connection attempt failed"),
            ErrorKind::AllAttemptsFailed => write!(f, "all {n} connection attempts failed"),
            ErrorKind::TimedOut => {
                let plural = if n == 1 { "" } else { "s" };
                match self.inner.timeout {
                    Some(t) => write!(f, "connect timed out after {t:?} ({n} attempt{plural})"),
                    None => f.write_str("connect timed out"),
                }
            }
        }
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self.inner.kind {
            ErrorKind::Dns | ErrorKind::NoAddresses => self
                .inner
                .dns
                .first()
                .map(|d| &*d.error as &(dyn StdError + 'static)),
            _ => self
                .inner
                .attempts
                .first()
                .map(|a| &a.error as &(dyn StdError + 'static)),
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.addr, self.error)
    }
}

impl StdError for AttemptError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

impl DnsError {
    pub(crate) fn new(family: Option<Family>, error: impl Into<BoxError>) -> Self {
        DnsError {
            family,
            error: error.into(),
        }
    }

    /// The family that was looked up (`A` for [`Family::V4`], `AAAA` for [`Family::V6`]),
    /// or `None` for a lookup that asks for both at once (the system resolver fallback).
    pub fn family(&self) -> Option<Family> {
        self.family
    }

    /// The resolver's error.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Some(Family::V4) => write!(f, "A lookup: {}", self.error),
            Some(Family::V6) => write!(f, "AAAA lookup: {}", self.error),
            None => write!(f, "lookup: {}", self.error),
        }
    }
}

impl StdError for DnsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn is_small_send_and_sync() {
        assert_send_sync::<ConnectError>();
        assert_eq!(
            std::mem::size_of::<ConnectError>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn all_failed_reports_first_attempt_as_source_and_io_kind() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.2:1".parse().unwrap();
        let e = ConnectError::failed(
            ErrorKind::AllAttemptsFailed,
            vec![
                AttemptError::new(a, io::ErrorKind::ConnectionRefused.into()),
                AttemptError::new(b, io::ErrorKind::TimedOut.into()),
            ],
            vec![],
        );
        assert_eq!(e.to_string(), "all 2 connection attempts failed");
        assert!(!e.is_timeout());
        let src = e.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(src.kind(), io::ErrorKind::ConnectionRefused);
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        let back = io
            .get_ref()
            .unwrap()
            .downcast_ref::<ConnectError>()
            .unwrap();
        assert_eq!(back.attempts().len(), 2);
        assert_eq!(back.attempts()[1].addr(), b);
    }

    #[test]
    fn io_kinds() {
        let cases = [
            (
                ConnectError::invalid_target("x"),
                io::ErrorKind::InvalidInput,
            ),
            (
                ConnectError::failed(ErrorKind::Dns, vec![], vec![]),
                io::ErrorKind::NotFound,
            ),
            (
                ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![]),
                io::ErrorKind::AddrNotAvailable,
            ),
            (
                ConnectError::timed_out(Duration::from_secs(1), vec![], vec![]),
                io::ErrorKind::TimedOut,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(io::Error::from(e).kind(), kind);
        }
    }

    #[test]
    fn every_attempt_timing_out_is_a_timeout() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let e = ConnectError::failed(
            ErrorKind::AllAttemptsFailed,
            vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())],
            vec![],
        );
        assert!(e.is_timeout());
        assert_eq!(e.to_string(), "the connection attempt failed");
        let one = vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())];
        let e = ConnectError::timed_out(Duration::from_secs(2), one, vec![]);
        assert_eq!(e.to_string(), "connect timed out after 2s (1 attempt)");
    }
}
