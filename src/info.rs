//! [`ConnectInfo`]: what happened during a race that connected.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::dns::ServiceEndpoint;

/// What happened during a race that connected: the winner, every attempt, DNS timings.
///
/// Returned by [`ConnieConnector::connect`](crate::ConnieConnector::connect), and with the
/// `hyper` feature attached to every response as an extension
/// (`res.extensions().get::<ConnectInfo>()`). All offsets are measured from the moment the
/// race started, before DNS.
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    pub(crate) remote_addr: SocketAddr,
    pub(crate) local_addr: Option<SocketAddr>,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) dns_v4: Option<Duration>,
    pub(crate) dns_v6: Option<Duration>,
    pub(crate) refused: Vec<SocketAddr>,
    pub(crate) elapsed: Duration,
    pub(crate) used_history: bool,
    pub(crate) followed: bool,
    pub(crate) alpn: Option<Vec<u8>>,
    /// The HTTPS record's endpoint the winning address served, if it came from one.
    pub(crate) endpoint: Option<Arc<ServiceEndpoint>>,
    /// What became of ECH in the winning attempt.
    #[cfg(feature = "ech")]
    pub(crate) ech: crate::dns::Ech,
}

impl ConnectInfo {
    /// The address of the attempt that won.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The local address of the winning connection, when the dialer can tell
    /// (always for the default [`TcpDialer`](crate::TcpDialer)).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Every attempt started, in the order they started, with its outcome.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The service endpoint of the name's HTTPS records that the winning address came
    /// from ([`ConnieConnector::https_records`](crate::ConnieConnector::https_records)):
    /// its priority, target, port and protocols. `None` when it came from the name's own
    /// `A` or `AAAA` records, or none were asked for.
    pub fn endpoint(&self) -> Option<&ServiceEndpoint> {
        self.endpoint.as_deref()
    }

    /// When the `A` lookup answered (successfully or not), if one was made.
    pub fn dns_v4(&self) -> Option<Duration> {
        self.dns_v4
    }

    /// When the `AAAA` lookup answered (successfully or not), if one was made.
    pub fn dns_v6(&self) -> Option<Duration> {
        self.dns_v6
    }

    /// The addresses the [`AddressPolicy`](crate::AddressPolicy) refused (never dialed), in
    /// the order they arrived.
    pub fn refused_by_policy(&self) -> &[SocketAddr] {
        &self.refused
    }

    /// How long the race took, from its start (before DNS) to the winning connection.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Whether the race used the connector's address history: with
    /// [`Schedule::learned`](crate::Schedule::learned), its best address had a known
    /// handshake time and started alone. `false` for a race of every address (nothing
    /// known, or a race that explores) and for the other schedules.
    pub fn used_history(&self) -> bool {
        self.used_history
    }

    /// Whether the race followed another race to its destination: it started cold while
    /// that one was still looking, waited for it, and went on when it won, with what it
    /// found (see [`ConnieConnector::coordinate`](crate::ConnieConnector::coordinate)).
    pub fn followed(&self) -> bool {
        self.followed
    }

    /// The application protocol the winning connection negotiated through TLS ALPN (such
    /// as `b"h2"` or `b"http/1.1"`), when its dialer does TLS and the server chose one.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// What became of Encrypted Client Hello in the winning connection (with
    /// [`ConnieConnector::ech`](crate::ConnieConnector::ech)): not offered, accepted (on
    /// the first handshake or the one retry with the server's retry configurations), or
    /// disabled by the server, the name then sent in the clear.
    #[cfg(feature = "ech")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
    pub fn ech(&self) -> crate::dns::Ech {
        self.ech
    }

    /// The account with what the winning attempt's ECH became.
    #[cfg(feature = "ech")]
    pub(crate) fn with_ech(self, ech: crate::dns::Ech) -> ConnectInfo {
        ConnectInfo { ech, ..self }
    }

    /// The account with the winning connection's local address and ALPN protocol, as its
    /// dialer tells them.
    pub(crate) fn with_connection(
        self,
        local_addr: Option<SocketAddr>,
        alpn: Option<Vec<u8>>,
    ) -> ConnectInfo {
        ConnectInfo {
            local_addr,
            alpn,
            ..self
        }
    }
}

/// One connection attempt of a race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub(crate) addr: SocketAddr,
    pub(crate) started: Duration,
    pub(crate) duration: Duration,
    pub(crate) outcome: Outcome,
    pub(crate) expected: Option<Duration>,
    pub(crate) transport: Option<Duration>,
}

impl Attempt {
    /// The address attempted.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// When the attempt started, as an offset from the start of the race.
    pub fn started(&self) -> Duration {
        self.started
    }

    /// How long the attempt ran until its outcome (for a cancelled attempt: until the race
    /// ended). For a dialer with a handshake after TCP (TLS), a connected attempt's
    /// duration includes that handshake.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// How the attempt ended.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The measured handshake time: how long the attempt took to connect, if it did (for
    /// a TLS dialer, until its TLS handshake finished).
    pub fn handshake(&self) -> Option<Duration> {
        (self.outcome == Outcome::Connected).then_some(self.duration)
    }

    /// How long after it started the attempt's transport (TCP) connected, when its dialer
    /// runs a handshake on top (TLS) and said so with
    /// [`Destination::transport_connected`](crate::Destination::transport_connected);
    /// `None` for a plain TCP dialer, and for an attempt whose transport never connected.
    ///
    /// An attempt with a transport time and an outcome other than
    /// [`Connected`](Outcome::Connected) failed, timed out or was cancelled during its
    /// handshake: a host that accepts TCP and then never answers, resets, or presents a
    /// bad certificate.
    pub fn transport_connected(&self) -> Option<Duration> {
        self.transport
    }

    /// How long the address history expected its handshake to take, if it knew the
    /// address: srtt + max(1 ms, 4·rttvar, srtt/4) of its TCP handshake (within 10–250 ms), plus
    /// the same of its TLS handshake (within 10 ms–2 s) if one was measured; see
    /// [`Schedule::learned`](crate::Schedule::learned).
    pub fn expected(&self) -> Option<Duration> {
        self.expected
    }
}

/// How a connection attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It connected and won the race.
    Connected,
    /// It failed with an error of this kind.
    Failed {
        /// The error's kind, such as `ConnectionRefused`.
        kind: io::ErrorKind,
        /// The error in its own words: the message it carries (`invalid peer certificate:
        /// UnknownIssuer`), or the OS's name for it (`connection refused`, `too many open
        /// files`).
        reason: Arc<str>,
    },
    /// It hit the per-attempt timeout.
    TimedOut,
    /// It was still running when the race ended, and was dropped (its socket closed).
    Cancelled,
    /// Its race dropped it to start the next address in its place: the attempt budget
    /// was spent, and it had run longer than its delay (see
    /// [`AttemptBudget`](crate::AttemptBudget)). Its address may be tried again later in
    /// the race.
    Abandoned,
}

impl fmt::Display for Outcome {
    /// In words: `connected`, the failure's reason (`connection refused`, `invalid peer
    /// certificate: UnknownIssuer`), `timed out`, `still connecting when the race ended`,
    /// `abandoned for the next address`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Connected => f.write_str("connected"),
            Outcome::Failed { reason, .. } => f.write_str(reason),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::Cancelled => f.write_str("still connecting when the race ended"),
            Outcome::Abandoned => f.write_str("abandoned for the next address"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_in_words() {
        let words = [
            Outcome::Connected,
            Outcome::Failed {
                kind: io::ErrorKind::InvalidData,
                reason: "invalid peer certificate: UnknownIssuer".into(),
            },
            Outcome::TimedOut,
            Outcome::Cancelled,
            Outcome::Abandoned,
        ]
        .map(|o| o.to_string());
        assert_eq!(
            words,
            [
                "connected",
                "invalid peer certificate: UnknownIssuer",
                "timed out",
                "still connecting when the race ended",
                "abandoned for the next address",
            ]
        );
    }
}
