//! Where one address ranks in its race, from RFC 6724 and the address history.

use std::net::{IpAddr, SocketAddr};

use std::time::Instant;

use super::rfc6724;
use super::source::{Sources, SOURCE_TTL};
use crate::history::{History, Known, Seen, Sight};
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
        // An address the history knows, whose source it has seen lately: neither the
        // source cache nor the policy table is asked again.
        let sight = match (self.history, self.sources) {
            (Some(history), Some(_)) => history.known_if_seen(known_as, now),
            _ => Sight::Unseen,
        };
        let (known, source, key) = match sight {
            Sight::Seen(known, seen) => (known, seen.source, Some(seen.key)),
            Sight::Unseen => self.rank_anew(addr, known_as, now, self.history),
            // No entry to tell: the history is not asked again.
            Sight::Unknown => self.rank_anew(addr, known_as, now, None),
        };
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
    /// What `history` knows about `addr` (`known_as`), its source and its RFC 6724 key,
    /// each asked anew; the history keeps the source and key it is told of.
    fn rank_anew(
        &self,
        addr: SocketAddr,
        known_as: SocketAddr,
        now: Instant,
        history: Option<&History>,
    ) -> (Known, Option<IpAddr>, Option<rfc6724::Key>) {
        let (source, key) = match self.sources {
            Some(sources) => {
                let source = sources.source_at(addr, tokio::time::Instant::from_std(now));
                (source, Some(rfc6724::key(known_as.ip(), source)))
            }
            None => (None, None),
        };
        let Some(history) = history else {
            return (Known::Unknown, source, key);
        };
        // Only a source found stands for its time: without one there is nothing to keep.
        let seen = source.zip(key).and_then(|(found, key)| {
            Some(Seen {
                source: Some(found),
                key,
                until: now.checked_add(SOURCE_TTL)?,
            })
        });
        (history.known_seen(known_as, source, seen, now), source, key)
    }

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

    /// A known address's source is asked of the system at most once per
    /// [`SOURCE_TTL`], as the source cache would: within it the history's entry answers,
    /// its RFC 6724 key with it. A network change (another source) is seen once it is
    /// over, and the entry, about the old network, is dropped.
    #[test]
    fn a_known_address_keeps_its_source_for_the_source_ttl() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;

        use crate::history::Lesson;

        static ASKED: AtomicUsize = AtomicUsize::new(0);
        let src = |last: u8| IpAddr::from([10, 0, 0, last]);
        let (home, away) = (src(1), src(2));
        let sources = |source: IpAddr| {
            Sources::fixed(move |_| {
                ASKED.fetch_add(1, Ordering::SeqCst);
                Some(source)
            })
        };
        let (at_home, elsewhere) = (sources(home), sources(away));
        let history = History::new(8);
        let ranking = |sources| Ranking {
            history: Some(&history),
            sources: Some(sources),
            nat64: None,
        };
        let addr = SocketAddr::from(([192, 0, 2, 1], 443));
        let start = Instant::now();
        let connected = Lesson::Connected(Duration::from_millis(20));
        history.learn([(addr, Some(home), connected)], start);

        let first = ranking(&at_home).rank(addr, true, start);
        assert_eq!(
            (first.source, ASKED.load(Ordering::SeqCst)),
            (Some(home), 1)
        );
        assert!(matches!(first.known, Known::Fresh { .. }), "{first:?}");

        // On another network now, but within the time the answer stands: the entry's.
        let later = start + SOURCE_TTL - Duration::from_millis(1);
        let again = ranking(&elsewhere).rank(addr, true, later);
        assert_eq!(
            (again.source, ASKED.load(Ordering::SeqCst)),
            (Some(home), 1)
        );
        assert_eq!(
            again.rank, first.rank,
            "the same key, and the same knowledge"
        );

        // Past it, the system is asked: another source, another network.
        let past = start + SOURCE_TTL;
        let anew = ranking(&elsewhere).rank(addr, true, past);
        assert_eq!((anew.source, ASKED.load(Ordering::SeqCst)), (Some(away), 2));
        assert_eq!(anew.known, Known::Unknown, "an entry of another network");
        assert_eq!(history.len(), 0);
    }
}
