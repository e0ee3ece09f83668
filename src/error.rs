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
/// [`Display`](fmt::Display) names the target and summarises the attempts, for example
/// `connect to example.com:443 failed: [2001:db8::1]:443 timed out, 192.0.2.1:443
/// connection refused` (at most three, then "and N more"), or says which lookups failed and
/// why; [`source`](StdError::source) is the underlying cause. When every attempt failed,
/// that cause is the error of the **first attempt made** (the most preferred address), so
/// it is stable whatever order the failures arrived in; the rest are in
/// [`attempts`](Self::attempts).
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
    /// The target could not be understood: no port, an empty host, an unknown URI scheme…
    InvalidTarget,
    /// Name resolution failed: the name does not exist, or every lookup failed. When a
    /// lookup timed out (a silent name server), the error is a timeout as well
    /// ([`ConnectError::is_timeout`]).
    Dns,
    /// There was no address to connect to: an empty address list, or every lookup of the
    /// name answered with no address ([`ConnectError::is_dns`] is `true` for the latter).
    NoAddresses,
    /// Every address was attempted and every attempt failed.
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
                target: None,
                host: None,
                detail: None,
                attempts: Vec::new(),
                dns: Vec::new(),
                timeout: None,
                looked_up: false,
            }),
        }
    }

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

    /// `true` if the target could not be understood (no port, empty host, bad URI…).
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

/// At most this many attempts are named in a [`ConnectError`]'s message; the rest are
/// counted ("and 3 more"). [`ConnectError::attempts`] has them all.
const SHOWN_ATTEMPTS: usize = 3;

impl fmt::Display for ConnectError {
    /// `connect to example.com:443 failed: [2001:db8::1]:443 timed out, 192.0.2.1:443
    /// connection refused`, and the like: what was connected to, and why it failed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let host = inner.host.as_deref();
        match inner.kind {
            ErrorKind::InvalidTarget => match &inner.detail {
                Some(d) => write!(f, "invalid connect target: {d}"),
                None => f.write_str("invalid connect target"),
            },
            ErrorKind::TimedOut => {
                self.write_subject(f)?;
                match inner.timeout {
                    Some(t) => write!(f, "timed out after {t:?}")?,
                    None => f.write_str("timed out")?,
                }
                if inner.attempts.is_empty() {
                    f.write_str(" before any connection attempt")?;
                    if !inner.dns.is_empty() {
                        f.write_str("; ")?;
                        write_dns(f, host, &inner.dns)?;
                    }
                    return Ok(());
                }
                f.write_str(": ")?;
                write_attempts(f, &inner.attempts)
            }
            ErrorKind::Dns => {
                self.write_failed(f)?;
                write_dns(f, host, &inner.dns)
            }
            ErrorKind::NoAddresses => {
                self.write_failed(f)?;
                match host {
                    Some(host) => write!(f, "{host} has no addresses"),
                    None => f.write_str("no addresses to connect to"),
                }
            }
            ErrorKind::RefusedByPolicy => {
                self.write_failed(f)?;
                f.write_str("every address was refused by the address policy (")?;
                write_list(f, &inner.attempts, |f, a| write!(f, "{}", a.addr))?;
                f.write_str(")")
            }
            ErrorKind::AllAttemptsFailed => {
                self.write_failed(f)?;
                write_attempts(f, &inner.attempts)
            }
            ErrorKind::NoTimeDriver => {
                self.write_failed(f)?;
                f.write_str(
                    "the tokio runtime has no time driver (build it with `enable_all()` \
                     or `enable_time()`)",
                )
            }
        }
    }
}

impl ConnectError {
    /// `connect to example.com:443 `, or `connect ` when the target is not known.
    fn write_subject(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.target {
            Some(target) => write!(f, "connect to {target} "),
            None => f.write_str("connect "),
        }
    }

    /// `connect to example.com:443 failed: `.
    fn write_failed(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_subject(f)?;
        f.write_str("failed: ")
    }
}

/// `a timed out, b connection refused, and 2 more`.
fn write_attempts(f: &mut fmt::Formatter<'_>, attempts: &[AttemptError]) -> fmt::Result {
    write_list(f, attempts, |f, a| {
        write!(f, "{} {}", a.addr, Words(&a.error))
    })
}

fn write_list<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    mut each: impl FnMut(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().take(SHOWN_ATTEMPTS).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    match items.len().saturating_sub(SHOWN_ATTEMPTS) {
        0 => Ok(()),
        more => write!(f, ", and {more} more"),
    }
}

/// `could not resolve example.com: no such name (A, AAAA)`, or per family when the
/// lookups failed differently.
fn write_dns(f: &mut fmt::Formatter<'_>, host: Option<&str>, dns: &[DnsError]) -> fmt::Result {
    match host {
        Some(host) => write!(f, "could not resolve {host}")?,
        None => f.write_str("could not resolve the name")?,
    }
    let words: Vec<String> = dns.iter().map(|d| d.words()).collect();
    if words.is_empty() {
        return Ok(());
    }
    f.write_str(": ")?;
    if words.iter().all(|w| *w == words[0]) {
        f.write_str(&words[0])?;
        let mut families: Vec<&str> = dns.iter().filter_map(|d| d.record_type()).collect();
        families.sort_unstable();
        if !families.is_empty() {
            write!(f, " ({})", families.join(", "))?;
        }
        return Ok(());
    }
    for (i, (d, w)) in dns.iter().zip(&words).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        match d.record_type() {
            Some(rtype) => write!(f, "{rtype}: {w}")?,
            None => f.write_str(w)?,
        }
    }
    Ok(())
}

/// An attempt's error in a few words: `connection refused`, `timed out`, or, when it
/// carries a message of its own (`SO_MARK: Operation not permitted`), that message.
struct Words<'a>(&'a io::Error);

impl fmt::Display for Words<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if e.kind() == io::ErrorKind::TimedOut {
            return f.write_str("timed out");
        }
        match e.get_ref() {
            Some(inner) if inner.is::<crate::PolicyRefused>() => {
                f.write_str("refused by the address policy")
            }
            Some(inner) => write!(f, "{inner}"),
            None if e.raw_os_error().is_some() => write!(f, "{}", e.kind()),
            None => write!(f, "{e}"),
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
    /// or `None` for a failure before either lookup (a name the resolver cannot parse).
    pub fn family(&self) -> Option<Family> {
        self.family
    }

    /// The resolver's error.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// `true` if the lookup gave up waiting for an answer: hickory's timeout (no name
    /// server answered within the resolver's `timeout`, on any of its tries), or an I/O
    /// error of kind [`io::ErrorKind::TimedOut`].
    ///
    /// `getaddrinfo` does not say whether a lookup timed out (its `EAI_AGAIN` stands for a
    /// silent name server and a failing one alike), so its lookups never count.
    pub fn is_timeout(&self) -> bool {
        use hickory_resolver::net::NetError;

        match self.error.downcast_ref::<NetError>() {
            Some(NetError::Timeout) => true,
            Some(NetError::Io(e)) => e.kind() == io::ErrorKind::TimedOut,
            Some(_) => false,
            None => self
                .error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut),
        }
    }
}

impl DnsError {
    /// `A`, `AAAA`, or `None` for a lookup of both at once.
    fn record_type(&self) -> Option<&'static str> {
        self.family.map(|f| match f {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        })
    }

    /// Whether a name server said the name does not exist (`NXDOMAIN`), of every type.
    fn is_no_such_name(&self) -> bool {
        use hickory_resolver::net::{DnsError as Semantic, NetError};
        use hickory_resolver::proto::op::ResponseCode;

        matches!(
            self.error.downcast_ref::<NetError>(),
            Some(NetError::Dns(Semantic::NoRecordsFound(none)))
                if none.response_code == ResponseCode::NXDomain
        )
    }

    /// What went wrong, in words rather than the resolver's debug output.
    fn words(&self) -> String {
        use hickory_resolver::net::{DnsError as Semantic, NetError};
        use hickory_resolver::proto::op::ResponseCode;

        let Some(error) = self.error.downcast_ref::<NetError>() else {
            return self.error.to_string();
        };
        match error {
            NetError::Dns(Semantic::NoRecordsFound(none)) => {
                if none.response_code == ResponseCode::NXDomain {
                    "no such name".to_owned()
                } else {
                    "no records".to_owned()
                }
            }
            NetError::Dns(Semantic::ResponseCode(code)) => {
                format!("the name server answered {}", code.to_str().to_lowercase())
            }
            NetError::Timeout => "timed out".to_owned(),
            NetError::NoConnections => "no name server could be reached".to_owned(),
            NetError::Io(e) => e.to_string(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for DnsError {
    /// `AAAA lookup: no such name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record_type() {
            Some(rtype) => write!(f, "{rtype} lookup: {}", self.words()),
            None => write!(f, "lookup: {}", self.words()),
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
    use hickory_resolver::net::NetError;
    use hickory_resolver::proto::op::ResponseCode;

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
        assert_eq!(
            e.to_string(),
            "connect failed: 127.0.0.1:1 connection refused, 127.0.0.2:1 timed out"
        );
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
            (
                ConnectError::no_time_driver("timers are disabled".into()),
                io::ErrorKind::Unsupported,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(io::Error::from(e).kind(), kind);
        }
    }

    #[test]
    fn the_message_names_the_target_and_caps_the_attempts() {
        let attempts = (1..=5)
            .map(|i| {
                let addr = SocketAddr::from(([192, 0, 2, i], 443));
                AttemptError::new(addr, io::Error::from_raw_os_error(111))
            })
            .collect();
        let e = ConnectError::failed(ErrorKind::AllAttemptsFailed, attempts, vec![])
            .with_target("example.com:443".into(), Some("example.com".into()));
        assert_eq!(
            e.to_string(),
            "connect to example.com:443 failed: 192.0.2.1:443 connection refused, \
             192.0.2.2:443 connection refused, 192.0.2.3:443 connection refused, and 2 more"
        );
        let marked = io::Error::new(io::ErrorKind::PermissionDenied, "SO_MARK: not permitted");
        let a: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        let e = ConnectError::failed(
            ErrorKind::AllAttemptsFailed,
            vec![AttemptError::new(a, marked)],
            vec![],
        );
        assert_eq!(
            e.to_string(),
            "connect failed: [2001:db8::1]:443 SO_MARK: not permitted"
        );
    }

    /// hickory's "no records" for `family`, with the name server's `code`: `NXDomain` (no
    /// such name) or `NoError` (the name has no record of that type).
    fn no_records(family: Family, code: ResponseCode) -> DnsError {
        let query = hickory_resolver::proto::op::Query::query(
            "missing.example.".parse().unwrap(),
            hickory_resolver::proto::rr::RecordType::A,
        );
        let error = hickory_resolver::net::DnsError::NoRecordsFound(
            hickory_resolver::net::NoRecords::new(query, code),
        );
        DnsError::new(Some(family), NetError::from(error))
    }

    #[test]
    fn a_failed_lookup_is_told_in_words() {
        let none = |family| no_records(family, ResponseCode::NXDomain);
        let timeout = DnsError::new(Some(Family::V4), NetError::Timeout);
        let e = ConnectError::failed(
            ErrorKind::Dns,
            vec![],
            vec![none(Family::V6), none(Family::V4)],
        )
        .with_target("missing.example:80".into(), Some("missing.example".into()));
        assert_eq!(
            e.to_string(),
            "connect to missing.example:80 failed: could not resolve missing.example: \
             no such name (A, AAAA)"
        );
        let e = ConnectError::failed(ErrorKind::Dns, vec![], vec![none(Family::V6), timeout])
            .with_target("missing.example:80".into(), Some("missing.example".into()));
        assert_eq!(
            e.to_string(),
            "connect to missing.example:80 failed: could not resolve missing.example: \
             AAAA: no such name, A: timed out"
        );
        assert_eq!(e.dns_errors()[0].to_string(), "AAAA lookup: no such name");
    }

    fn lookup_failed(family: Family) -> DnsError {
        DnsError::new(Some(family), io::Error::other("servfail"))
    }

    /// A lookup that timed out makes a DNS failure a timeout, unless another found that
    /// the name does not exist: `is_dns` and `is_timeout` together, and `TimedOut` as an
    /// `io::Error`.
    #[test]
    fn a_dns_timeout_is_a_timeout() {
        let timeout = |family| DnsError::new(Some(family), NetError::Timeout);
        let io_timeout = |family| {
            let e = io::Error::from(io::ErrorKind::TimedOut);
            DnsError::new(Some(family), NetError::Io(std::sync::Arc::new(e)))
        };
        let (v4, v6) = (Family::V4, Family::V6);
        // (the lookups' errors, is_timeout)
        let cases = [
            (vec![timeout(v6), timeout(v4)], true),
            (vec![timeout(v4)], true),
            (vec![io_timeout(v6), io_timeout(v4)], true),
            // No AAAA record, and `A` timed out: `A` might have found the name.
            (
                vec![no_records(v6, ResponseCode::NoError), timeout(v4)],
                true,
            ),
            (vec![lookup_failed(v6), timeout(v4)], true),
            // The name does not exist: no wait would have found it.
            (
                vec![no_records(v6, ResponseCode::NXDomain), timeout(v4)],
                false,
            ),
            (vec![lookup_failed(v6), lookup_failed(v4)], false),
            (vec![no_records(v6, ResponseCode::NoError)], false),
        ];
        for (dns, timed_out) in cases {
            let e = ConnectError::failed(ErrorKind::Dns, vec![], dns);
            let shown = format!("{e:?}");
            assert!(e.is_dns(), "{shown}");
            assert_eq!(e.is_timeout(), timed_out, "{shown}");
            let kind = if timed_out {
                io::ErrorKind::TimedOut
            } else {
                io::ErrorKind::NotFound
            };
            assert_eq!(io::Error::from(e).kind(), kind, "{shown}");
        }

        let e = ConnectError::failed(ErrorKind::Dns, vec![], vec![timeout(v6), timeout(v4)])
            .with_target("silent.example:80".into(), Some("silent.example".into()));
        assert_eq!(
            e.to_string(),
            "connect to silent.example:80 failed: could not resolve silent.example: \
             timed out (A, AAAA)"
        );
    }

    /// Which lookup errors are timeouts: hickory's, an I/O timeout inside hickory's error
    /// or on its own; not a failure, not "no records", not another I/O error.
    #[test]
    fn a_lookup_times_out_by_hickory_or_io() {
        let timeouts = [
            DnsError::new(None, NetError::Timeout),
            DnsError::new(
                None,
                NetError::Io(std::sync::Arc::new(io::ErrorKind::TimedOut.into())),
            ),
            DnsError::new(None, io::Error::from(io::ErrorKind::TimedOut)),
        ];
        for e in &timeouts {
            assert!(e.is_timeout(), "{e:?}");
        }
        let others = [
            DnsError::new(None, NetError::NoConnections),
            DnsError::new(
                None,
                NetError::Io(std::sync::Arc::new(io::ErrorKind::ConnectionRefused.into())),
            ),
            no_records(Family::V4, ResponseCode::NXDomain),
            lookup_failed(Family::V4),
        ];
        for e in &others {
            assert!(!e.is_timeout(), "{e:?}");
        }
    }

    /// Each `is_*` query against each kind. `is_dns` is true for a failed lookup and for a
    /// name whose lookups found no address, not for an empty list of addresses.
    #[test]
    fn each_query_answers_for_its_own_kind() {
        let a: SocketAddr = "192.0.2.1:80".parse().unwrap();
        let refused = || {
            vec![AttemptError::new(
                a,
                io::ErrorKind::ConnectionRefused.into(),
            )]
        };
        let timed_out = || vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())];
        let policy = || {
            let e = io::Error::new(io::ErrorKind::PermissionDenied, crate::PolicyRefused);
            vec![AttemptError::new(a, e)]
        };
        let no_name = || vec![lookup_failed(Family::V6), lookup_failed(Family::V4)];
        // (error, is_invalid_target, is_dns, is_timeout, is_refused_by_policy)
        let cases = [
            (ConnectError::invalid_target("x"), true, false, false, false),
            (
                ConnectError::failed(ErrorKind::Dns, vec![], no_name()),
                false,
                true,
                false,
                false,
            ),
            (
                ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![]).looked_up(true),
                false,
                true,
                false,
                false,
            ),
            (
                ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![]),
                false,
                false,
                false,
                false,
            ),
            (
                ConnectError::failed(ErrorKind::AllAttemptsFailed, refused(), vec![]),
                false,
                false,
                false,
                false,
            ),
            (
                ConnectError::failed(ErrorKind::AllAttemptsFailed, timed_out(), vec![]),
                false,
                false,
                true,
                false,
            ),
            (
                ConnectError::timed_out(Duration::from_secs(1), vec![], no_name()),
                false,
                false,
                true,
                false,
            ),
            (
                ConnectError::failed(ErrorKind::RefusedByPolicy, policy(), vec![]),
                false,
                false,
                false,
                true,
            ),
        ];
        for (e, invalid, dns, timeout, policy) in cases {
            let got = (
                e.is_invalid_target(),
                e.is_dns(),
                e.is_timeout(),
                e.is_refused_by_policy(),
            );
            assert_eq!(got, (invalid, dns, timeout, policy), "{e:?}");
        }
    }

    /// The cause of a DNS error is the first lookup's error; of any other, the first
    /// attempt's; of an empty list, none.
    #[test]
    fn the_source_is_the_first_lookup_or_attempt() {
        let e = ConnectError::failed(
            ErrorKind::Dns,
            vec![],
            vec![lookup_failed(Family::V6), lookup_failed(Family::V4)],
        );
        let source = e.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(source.to_string(), "servfail");
        assert!(ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![])
            .source()
            .is_none());
        assert_eq!(e.dns_errors()[1].family(), Some(Family::V4));
        assert_eq!(e.dns_errors()[0].error().to_string(), "servfail");
        assert_eq!(e.dns_errors()[0].source().unwrap().to_string(), "servfail");
    }

    /// Without a time driver: what to do in the message, tokio's own words in `Debug`,
    /// and no other query true.
    #[test]
    fn a_runtime_without_time_says_what_to_build() {
        let e = ConnectError::no_time_driver("timers are disabled".into())
            .with_target("example.com:80".into(), Some("example.com".into()));
        assert_eq!(
            e.to_string(),
            "connect to example.com:80 failed: the tokio runtime has no time driver \
             (build it with `enable_all()` or `enable_time()`)"
        );
        assert_eq!(
            format!("{e:?}"),
            r#"ConnectError { kind: NoTimeDriver, detail: "timers are disabled", attempts: [], dns: [] }"#
        );
        let queries = (
            e.is_invalid_target(),
            e.is_dns(),
            e.is_timeout(),
            e.is_refused_by_policy(),
        );
        assert_eq!(queries, (false, false, false, false));
        assert!(e.source().is_none());
    }

    #[test]
    fn debug_shows_the_kind_the_detail_and_the_timeout() {
        let e = ConnectError::invalid_target("port 0");
        assert_eq!(
            format!("{e:?}"),
            r#"ConnectError { kind: InvalidTarget, detail: "port 0", attempts: [], dns: [] }"#
        );
        let e = ConnectError::timed_out(Duration::from_secs(2), vec![], vec![]);
        assert_eq!(
            format!("{e:?}"),
            "ConnectError { kind: TimedOut, timeout: 2s, attempts: [], dns: [] }"
        );
    }

    /// A timeout before any attempt says so, and names the lookups that had failed.
    #[test]
    fn a_timeout_before_any_attempt_names_the_failed_lookups() {
        let e = ConnectError::timed_out(Duration::from_secs(2), vec![], vec![])
            .with_target("example.com:80".into(), Some("example.com".into()));
        assert_eq!(
            e.to_string(),
            "connect to example.com:80 timed out after 2s before any connection attempt"
        );
        let e = ConnectError::timed_out(
            Duration::from_secs(2),
            vec![],
            vec![lookup_failed(Family::V6)],
        )
        .with_target("example.com:80".into(), Some("example.com".into()));
        assert_eq!(
            e.to_string(),
            "connect to example.com:80 timed out after 2s before any connection attempt; \
             could not resolve example.com: servfail (AAAA)"
        );
    }

    /// An attempt's error in words: a policy refusal, an error's own message, and a
    /// message std keeps without an OS code.
    #[test]
    fn attempt_errors_in_words() {
        let a: SocketAddr = "192.0.2.1:80".parse().unwrap();
        let refused = io::Error::new(io::ErrorKind::PermissionDenied, crate::PolicyRefused);
        let eof = std::io::Read::read_exact(&mut &[][..], &mut [0_u8; 1]).unwrap_err();
        assert_eq!(eof.kind(), io::ErrorKind::UnexpectedEof);
        let e = ConnectError::failed(
            ErrorKind::AllAttemptsFailed,
            vec![AttemptError::new(a, refused), AttemptError::new(a, eof)],
            vec![],
        );
        assert_eq!(
            e.to_string(),
            format!(
                "connect failed: {a} refused by the address policy, {a} {}",
                "failed to fill whole buffer"
            )
        );
        assert_eq!(
            e.attempts()[0].to_string(),
            "192.0.2.1:80: address refused by policy"
        );
        let cause = e.attempts()[0].source().unwrap();
        assert!(cause.downcast_ref::<io::Error>().is_some(), "{cause:?}");
        assert_eq!(
            e.attempts()[0].error().kind(),
            io::ErrorKind::PermissionDenied
        );
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
        assert_eq!(e.to_string(), "connect failed: 127.0.0.1:1 timed out");
        let one = vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())];
        let e = ConnectError::timed_out(Duration::from_secs(2), one, vec![]);
        assert_eq!(
            e.to_string(),
            "connect timed out after 2s: 127.0.0.1:1 timed out"
        );
    }
}
