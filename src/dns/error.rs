//! [`DnsError`]: one failed lookup, and what hickory's errors mean in a few words.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::Family;

type BoxError = Box<dyn StdError + Send + Sync>;

/// One failed DNS lookup: the address family asked for and the resolver's error.
///
/// [`Display`](fmt::Display) names the lookup (`AAAA lookup failed`); the resolver's error
/// is [`source`](StdError::source).
#[derive(Debug)]
pub struct DnsError {
    family: Option<Family>,
    error: BoxError,
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
    pub(crate) fn record_type(&self) -> Option<&'static str> {
        self.family.map(|f| match f {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        })
    }

    /// Whether a name server said the name does not exist (`NXDOMAIN`), of every type.
    pub(crate) fn is_no_such_name(&self) -> bool {
        use hickory_resolver::net::{DnsError as Semantic, NetError};
        use hickory_resolver::proto::op::ResponseCode;

        matches!(
            self.error.downcast_ref::<NetError>(),
            Some(NetError::Dns(Semantic::NoRecordsFound(none)))
                if none.response_code == ResponseCode::NXDomain
        )
    }

    /// Whether the name has no address of the family asked for (hickory's "no records",
    /// or `getaddrinfo`'s), where a name server did not say the name does not exist.
    pub(crate) fn is_no_records(&self) -> bool {
        use hickory_resolver::net::{DnsError as Semantic, NetError};

        let hickory = matches!(
            self.error.downcast_ref::<NetError>(),
            Some(NetError::Dns(Semantic::NoRecordsFound(_)))
        );
        self.error.is::<super::NoRecords>() || (hickory && !self.is_no_such_name())
    }

    /// What went wrong in a few words, when connie can tell: `no such name`, `timed out`…;
    /// `None` for any other error, whose own message the error chain prints.
    fn class(&self) -> Option<String> {
        use hickory_resolver::net::{DnsError as Semantic, NetError};

        if self.is_timeout() {
            return Some("timed out".to_owned());
        }
        if self.is_no_such_name() {
            return Some("no such name".to_owned());
        }
        if self.is_no_records() {
            return Some("no records".to_owned());
        }
        match self.error.downcast_ref::<NetError>()? {
            NetError::Dns(Semantic::ResponseCode(code)) => Some(format!(
                "the name server answered {}",
                code.to_str().to_lowercase()
            )),
            NetError::NoConnections => Some("no name server could be reached".to_owned()),
            _ => None,
        }
    }

    /// [`class`](Self::class), or `lookup failed`.
    pub(crate) fn summary(&self) -> String {
        self.class().unwrap_or_else(|| "lookup failed".to_owned())
    }
}

impl fmt::Display for DnsError {
    /// `AAAA lookup failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record_type() {
            Some(rtype) => write!(f, "{rtype} lookup failed"),
            None => f.write_str("lookup failed"),
        }
    }
}

impl StdError for DnsError {
    /// The resolver's error, past any wrapper that prints its own source in its message
    /// (hickory's `DNS error: {0}`), so that a chain prints that source once.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let mut error: &(dyn StdError + 'static) = &*self.error;
        while let Some(inner) = error.source() {
            if !error.to_string().ends_with(&inner.to_string()) {
                break;
            }
            error = inner;
        }
        Some(error)
    }
}
