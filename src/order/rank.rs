//! Where one address ranks in its race, from RFC 6724 and the address history.

use std::net::{IpAddr, SocketAddr};

use std::time::Instant;

use super::rfc6724;
use super::source::Sources;
use crate::history::{History, Known};
use crate::nanos::Nanos;
use crate::nat64::Pref64;

/// Where an address ranks in its race: smaller goes first; equal ranks keep the order
/// the addresses arrived in (DNS order).
///
/// The criteria, in order:
/// 1. RFC 6724 rule 1: an address with no route goes last (its attempt fails at once);
/// 2. the history: an address with a fresh handshake time first, by
///    [`Known::rank_time`] (its time counting its recent failures); then the addresses
///    connie knows nothing about; then those that failed with no time measured, within
///    the cool-down;
/// 3. RFC 6724 rules 2, 5, 6, 8 and 9 (scope, label, precedence, smaller scope, longest
///    matching prefix).
///
/// RFC 8305 §4 puts round-trip times between rules 8 and 9, after precedence; connie puts
/// them before, because a measured handshake says more than a policy table: with a
/// 20 ms IPv4 address and a 300 ms IPv6 address both measured, the schedule should start
/// the IPv4 one alone, not wait a full attempt delay behind the IPv6 one on every connect.
/// Precedence still orders everything the history knows nothing about, so a fresh host
/// gets IPv6 first, and an address's measurement only comes from a race it won (or
/// finished in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    unusable: bool,
    standing: Standing,
    /// A fresh address's [`Known::rank_time`]: its smoothed connect time (TCP, and TLS if
    /// it was measured) over the share of its recent attempts that succeeded; zero
    /// otherwise.
    srtt: Nanos,
    /// `None` when the race does not sort by RFC 6724.
    rfc6724: Option<rfc6724::Key>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Fresh,
    Unknown,
    Failed,
}

/// An address's rank, with what the history knows of it and the source address the
/// system would use for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranked {
    pub(crate) rank: Rank,
    pub(crate) known: Known,
    pub(crate) source: Option<IpAddr>,
}

impl Ranked {
    /// Nothing known, nothing sorted: for a race with nothing to choose between.
    pub(crate) fn plain() -> Ranked {
        Ranked {
            rank: Rank {
                unusable: false,
                standing: Standing::Unknown,
                srtt: Nanos::ZERO,
                rfc6724: None,
            },
            known: Known::Unknown,
            source: None,
        }
    }
}

/// What a race orders its addresses by: the connector's history, and the source-address
/// lookups RFC 6724 needs. Either may be absent: without sources nothing is sorted by
/// RFC 6724 (DNS order), without a history nothing is known. With it, the NAT64 prefix of
/// a host that reaches IPv6 only.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ranking<'a> {
    pub(crate) history: Option<&'a History>,
    pub(crate) sources: Option<&'a Sources>,
    pub(crate) nat64: Option<&'a Pref64>,
}

impl Ranking<'_> {
    /// RFC 6724 sorting alone, with no history: for a caller that connects by itself
    /// (reqwest), so that connie never learns anything about the addresses it lists.
    pub(crate) fn sorted() -> Ranking<'static> {
        Ranking {
            history: None,
            sources: Some(Sources::global()),
            nat64: None,
        }
    }

    /// Ranks `addr` as of `now`; by RFC 6724's rules after the first only if `rfc6724`
    /// (not for addresses the resolver sorted already).
    ///
    /// An address under the NAT64 prefix is ranked and known as the IPv4 address it
    /// stands for (Happy Eyeballs v3): by RFC 6724, after the IPv6 addresses that need no
    /// translation.
    pub(crate) fn rank(&self, addr: SocketAddr, rfc6724: bool, now: Instant) -> Ranked {
        let known_as = self.known_as(addr);
        let (source, key) = match self.sources {
            Some(sources) => {
                let source = sources.source_at(addr, tokio::time::Instant::from_std(now));
                (source, Some(rfc6724::key(known_as.ip(), source)))
            }
            None => (None, None),
        };
        let known = self
            .history
            .map_or(Known::Unknown, |h| h.known(known_as, source, now));
        let standing = match known {
            Known::Fresh { .. } => Standing::Fresh,
            Known::Unknown => Standing::Unknown,
            Known::Failed => Standing::Failed,
        };
        let srtt = Nanos::new(known.rank_time().unwrap_or_default());
        Ranked {
            rank: Rank {
                unusable: key.is_some_and(|k| !k.usable()),
                standing,
                srtt,
                rfc6724: key.filter(|_| rfc6724),
            },
            known,
            source,
        }
    }
}

impl Ranking<'_> {
    /// The address `addr` is ranked and remembered as: the IPv4 address it stands for
    /// under the NAT64 prefix, if it is under it.
    fn known_as(&self, addr: SocketAddr) -> SocketAddr {
        match self.nat64 {
            Some(pref64) => pref64.extract_addr(addr).unwrap_or(addr),
            None => addr,
        }
    }
}

impl crate::race::machine::Knowledge for Ranking<'_> {
    fn rank(&self, addr: SocketAddr, rfc6724: bool, now: Instant) -> Ranked {
        Ranking::rank(self, addr, rfc6724, now)
    }

    fn explore(&self, best: SocketAddr, now: Instant) -> bool {
        self.history
            .is_some_and(|h| h.explore(self.known_as(best), now))
    }

    fn nat64(&self) -> Option<&Pref64> {
        self.nat64
    }

    fn learn(
        &self,
        lessons: impl Iterator<Item = (SocketAddr, Option<IpAddr>, crate::history::Lesson)>,
        now: Instant,
    ) {
        if let Some(history) = self.history {
            let lessons =
                lessons.map(|(addr, source, lesson)| (self.known_as(addr), source, lesson));
            history.learn(lessons, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller that lists the addresses instead of racing them (reqwest) has them sorted
    /// by RFC 6724, with the system's source addresses, and teaches no history.
    #[test]
    fn sorted_is_rfc6724_alone() {
        let ranking = Ranking::sorted();
        assert!(ranking.history.is_none());
        assert!(ranking
            .sources
            .is_some_and(|s| std::ptr::eq(s, Sources::global())));
        assert!(ranking.nat64.is_none());
    }
}
