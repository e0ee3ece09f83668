//! The address history: what earlier races learned about each address, shared by every
//! clone of a connector.
//!
//! For each address it keeps a smoothed handshake time and its variance (RFC 6298), in two
//! phases when the dialer runs a handshake on top of TCP (TLS): the transport's, from the
//! attempt's start to TCP up, and the handshake's, from TCP up to the handshake done. It
//! also keeps the last failure and the last success, and the share of recent attempts that
//! failed, which fades with time. A race asks it two questions: how to
//! rank each address ([`Known`]), and how long each phase of the best one should take
//! before more attempts start ([`Known::expected_transport`],
//! [`Known::expected_handshake`]). It is a small policy object the race consults, in
//! the manner of Chromium's `IPEndPointStateTracker`: the race loop stays a loop.
//!
//! It is bounded: at most its capacity of addresses (an LRU, evicted in batches of an
//! eighth so that each insert costs O(1) amortised), and every entry expires.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use std::time::Instant;

use crate::hash::Keyed;
use crate::metrics::{self, Tally};
use crate::order::rfc6724;
use crate::Schedule;

/// How long a measured handshake time stays fresh: 10 minutes since the last connection
/// to that address. After that the address counts as unknown again, and the next race to
/// it races every address, as a first connect does.
pub(crate) const HISTORY_TTL: Duration = Duration::from_secs(600);

/// How long an address that failed, with no handshake time measured within
/// [`HISTORY_TTL`], stays ranked below the addresses connie knows nothing about: 30
/// seconds. An address with a measured time keeps it when it fails; its failures count
/// against it as a share of its recent attempts instead (see
/// [`Schedule::learned`](crate::Schedule::learned)).
pub(crate) const FAILURE_COOL_DOWN: Duration = Duration::from_secs(30);

/// How fast an address's share of failed attempts fades when nothing new is learned
/// about it: by half every 10 seconds. A host that failed a few times in a row is so
/// tried first again a few seconds later, and one that keeps failing costs one attempt
/// every few seconds.
const FAILURE_HALF_LIFE: Duration = Duration::from_secs(10);

/// How much one refused (or otherwise failed) attempt moves the share of failures
/// towards 1: a half. Two refusals in a row leave a host at 3/4; it takes three to rank
/// a 5 ms host behind a steady 30 ms one.
const FAILED_WEIGHT: f64 = 0.5;

/// How much one attempt that timed out, or was still connecting past its expected time
/// when the race ended, moves the share of failures towards 1: three quarters. A silence
/// costs the whole expected time and usually means the path is down, not a blip: one
/// ranks a 10 ms host behind a 20 ms one.
const OVERDUE_WEIGHT: f64 = 0.75;

/// How much one success moves the share of failures towards 0: a half.
const SUCCESS_WEIGHT: f64 = 0.5;

/// The highest share of failures ranking counts: a host that always fails ranks as if it
/// took a thousand times its handshake time, not forever.
const MAX_FAILING: f64 = 0.999;

/// One race in this many, among the races that would start the best known address alone,
/// races every address instead, so that an address that became faster is found: 1 in 100.
///
/// An exploring race sends one SYN per address, so on a 12-address name it costs 11 SYNs
/// more than a learned race; spread over 100 races that is 0.11 SYNs per connect (0.15
/// with the 16-address cap). Races that overlap explore once (see [`History::explore`]).
pub(crate) const EXPLORE_EVERY: u64 = 100;

/// RFC 6298's G: the resolution of the clock that times the expected handshake (tokio's
/// timer counts milliseconds).
const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// A smoothed time and its mean deviation (RFC 6298's SRTT and RTTVAR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rtt {
    pub(crate) srtt: Duration,
    pub(crate) rttvar: Duration,
}

/// `d` in nanoseconds, at most `u64::MAX` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Rtt {
    /// The first sample: srtt = R, rttvar = R/2.
    fn first(sample: Duration) -> Rtt {
        Rtt {
            srtt: sample,
            rttvar: sample / 2,
        }
    }

    /// One more sample, smoothed with RFC 6298's α = 1/8 and β = 1/4.
    fn update(self, sample: Duration) -> Rtt {
        // In nanoseconds, as `expected` reckons: the same results as `Duration`'s own
        // operations, which carry between seconds and nanoseconds at each step (and
        // would panic past `Duration::MAX` where these saturate at 584 years).
        let (srtt, rttvar, sample) = (nanos(self.srtt), nanos(self.rttvar), nanos(sample));
        let deviation = srtt.abs_diff(sample);
        Rtt {
            rttvar: Duration::from_nanos(rttvar.saturating_mul(3).saturating_add(deviation) / 4),
            srtt: Duration::from_nanos(srtt.saturating_mul(7).saturating_add(sample) / 8),
        }
    }

    /// How long this phase is expected to take at most: srtt + max(G, 4·rttvar, srtt/4),
    /// RFC 6298's retransmission timeout with G the 1 ms resolution of tokio's timer, and
    /// at least a quarter of the time itself: a steady RTT drives rttvar towards 0, and a
    /// real path's jitter of a few milliseconds must not start a race of everything. At
    /// least [`Schedule::MIN_ATTEMPT_DELAY`] and at most `max`.
    fn expected(self, max: Duration) -> Duration {
        // In nanoseconds: each `Duration` operation carries between seconds and
        // nanoseconds, and the result is clamped to `max` (seconds) wherever a sum
        // saturates, 584 years or `Duration::MAX`.
        let (srtt, rttvar) = (nanos(self.srtt), nanos(self.rttvar));
        let margin = rttvar
            .saturating_mul(4)
            .max(srtt / 4)
            .max(nanos(CLOCK_GRANULARITY));
        Duration::from_nanos(srtt.saturating_add(margin)).clamp(Schedule::MIN_ATTEMPT_DELAY, max)
    }
}

/// What the history knows about one address, at the start of a race.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Known {
    /// A handshake time measured within [`HISTORY_TTL`].
    Fresh {
        /// The transport's (TCP's) handshake time.
        transport: Rtt,
        /// The handshake's on top of it (TLS), from TCP up to done, if the address was
        /// last reached by a dialer that runs one.
        handshake: Option<Rtt>,
        /// The share of its recent attempts that failed, faded to now: 0 for a host that
        /// has not failed lately.
        failing: f64,
    },
    /// Nothing useful: never seen, expired, or failed with no time measured longer than
    /// the cool-down ago.
    Unknown,
    /// Failed within [`FAILURE_COOL_DOWN`], with no time measured.
    Failed,
}

impl Known {
    /// How long a connect to this address is expected to take at most: the expected
    /// times of both phases, each as [`expected_transport`](Self::expected_transport)
    /// says. `None` unless fresh.
    pub(crate) fn expected(&self) -> Option<Duration> {
        let transport = self.expected_transport()?;
        Some(transport.saturating_add(self.expected_handshake().unwrap_or_default()))
    }

    /// How long the transport's handshake (TCP) is expected to take at most: srtt +
    /// max(G, 4·rttvar, srtt/4), RFC 6298's retransmission timeout with G the 1 ms
    /// resolution of tokio's timer, and at least a quarter of the time itself (a steady
    /// RTT drives rttvar towards 0, and a few milliseconds of jitter must not start a race
    /// of everything); at least [`Schedule::MIN_ATTEMPT_DELAY`] and at most
    /// [`Schedule::RFC8305_ATTEMPT_DELAY`]. `None` unless fresh.
    pub(crate) fn expected_transport(&self) -> Option<Duration> {
        match *self {
            Known::Fresh { transport, .. } => {
                Some(transport.expected(Schedule::RFC8305_ATTEMPT_DELAY))
            }
            Known::Unknown | Known::Failed => None,
        }
    }

    /// How long the handshake on top of the transport (TLS) is expected to take at most
    /// once the transport is up, by the same rule, but at most
    /// [`Schedule::MAX_ATTEMPT_DELAY`]: it takes one round trip or two (TLS 1.3, 1.2) plus
    /// the server's work, so a 200 ms path needs more than the transport's bound. `None` unless fresh with a handshake
    /// measured.
    pub(crate) fn expected_handshake(&self) -> Option<Duration> {
        match *self {
            Known::Fresh { handshake, .. } => {
                handshake.map(|h| h.expected(Schedule::MAX_ATTEMPT_DELAY))
            }
            Known::Unknown | Known::Failed => None,
        }
    }

    /// The share of its recent attempts that failed, faded to now; 0 unless fresh.
    pub(crate) fn failing(&self) -> f64 {
        match *self {
            Known::Fresh { failing, .. } => failing,
            Known::Unknown | Known::Failed => 0.0,
        }
    }

    /// The smoothed time of a whole connect (both phases).
    pub(crate) fn srtt(&self) -> Option<Duration> {
        match *self {
            Known::Fresh {
                transport,
                handshake,
                ..
            } => Some(
                transport
                    .srtt
                    .saturating_add(handshake.map_or(Duration::ZERO, |h| h.srtt)),
            ),
            Known::Unknown | Known::Failed => None,
        }
    }

    /// What ranks fresh addresses: the time to a connection if the address is tried
    /// until it connects, its connect time over the share of attempts that succeed
    /// (srtt / (1 − failing)). A 5 ms host that fails half the time ranks as 10 ms, still
    /// ahead of a steady 30 ms one; one that has failed three times in a row, behind it.
    pub(crate) fn rank_time(&self) -> Option<Duration> {
        let srtt = self.srtt()?;
        let failing = self.failing().clamp(0.0, MAX_FAILING);
        // An address that has not failed lately: its time as it is, no round trip through
        // floating point (which gives it back unchanged).
        if failing == 0.0 {
            return Some(srtt);
        }
        let secs = srtt.as_secs_f64() / (1.0 - failing);
        Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
    }
}

/// What one attempt of a finished race teaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lesson {
    /// The transport's handshake completed after this long, and no handshake ran on top.
    Connected(Duration),
    /// The transport's handshake completed after `transport`, and the handshake on top of
    /// it (TLS) `handshake` later.
    Secured {
        transport: Duration,
        handshake: Duration,
    },
    /// The attempt failed with this kind of error.
    Failed(io::ErrorKind),
    /// The attempt was still running when the race ended, past the time its handshake was
    /// expected to take: as good as a timeout.
    Overdue,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Smoothed handshake time, its variance, and when the last sample was taken.
    rtt: Option<(Rtt, Instant)>,
    /// The smoothed handshake on top of the transport (TLS), fresh while `rtt` is.
    handshake: Option<Rtt>,
    /// The last failure: its kind, when, and its [`Inner::tick`] (to order it against a
    /// success at the same instant).
    failed: Option<(io::ErrorKind, Instant, u64)>,
    /// The share of recent attempts that failed, and when it was last moved; it fades by
    /// half every [`FAILURE_HALF_LIFE`] from then.
    failing: (f64, Instant),
    /// The last success: when, and its tick.
    succeeded: Option<(Instant, u64)>,
    /// The source address the system chose for this destination when the entry was
    /// written: a different one means another network, where nothing here holds.
    source: Option<IpAddr>,
    /// When the entry was last read or written, in [`Inner::tick`]s (for the LRU).
    used: u64,
    /// Until when the last race that explored from it (raced every address, this one
    /// the best) is expected to run: its start plus this address's expected time.
    exploring: Option<Instant>,
    /// The source the system chose for it when a race last asked, and the RFC 6724 key
    /// that source gives it, while they stand (see [`Seen`]).
    seen: Option<Seen>,
}

/// The source address the system chose for a destination, the RFC 6724 key it gives the
/// destination, and until when they stand: [`SOURCE_TTL`](crate::order::source::SOURCE_TTL)
/// after the system was asked, as long as the source-address cache keeps its answer. An
/// entry keeps them so that a race to an address it knows asks neither the cache, whose
/// lock every race of the process shares, nor the policy table again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) source: Option<IpAddr>,
    pub(crate) key: rfc6724::Key,
    pub(crate) until: Instant,
}

/// What [`History::known_if_seen`] found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sight {
    /// What the entry knows, and what it has seen within its time.
    Seen(Known, Seen),
    /// The entry has not seen its source lately.
    Unseen,
    /// There is no entry.
    Unknown,
}

impl Entry {
    /// Whether the entry was written on another network than the one `source` (the
    /// source address chosen for its destination now) says; unknown sources never differ.
    fn written_on_another_network(&self, source: Option<IpAddr>) -> bool {
        source.is_some() && self.source.is_some() && source != self.source
    }

    /// What it knows at `now` if its handshake time is fresh (measured within
    /// [`HISTORY_TTL`]).
    fn fresh(&self, now: Instant) -> Option<Known> {
        let (transport, at) = self.rtt?;
        (now.saturating_duration_since(at) < HISTORY_TTL).then(|| Known::Fresh {
            transport,
            handshake: self.handshake,
            failing: self.failing(now),
        })
    }

    /// A success: the transport's time, and the handshake's on top if one ran, smoothed
    /// into what is still fresh (RFC 6298 §2), or the first samples.
    fn connected(
        &mut self,
        transport: Duration,
        handshake: Option<Duration>,
        now: Instant,
        tick: u64,
    ) {
        let fresh = self
            .rtt
            .filter(|&(_, at)| now.saturating_duration_since(at) < HISTORY_TTL);
        let (rtt, shaken) = match fresh {
            Some((rtt, _)) => (rtt.update(transport), self.handshake),
            None => (Rtt::first(transport), None),
        };
        self.rtt = Some((rtt, now));
        if let Some(sample) = handshake {
            self.handshake = Some(shaken.map_or(Rtt::first(sample), |h| h.update(sample)));
        } else if fresh.is_none() {
            self.handshake = None;
        }
        self.succeeded = Some((now, tick));
        self.attempted(0.0, SUCCESS_WEIGHT, now);
    }

    /// A failure of kind `kind`: the last failure, and a step of the share of failures
    /// towards 1, a longer one for a timeout.
    fn failed(&mut self, kind: io::ErrorKind, now: Instant, tick: u64) {
        self.failed = Some((kind, now, tick));
        let weight = match kind {
            io::ErrorKind::TimedOut => OVERDUE_WEIGHT,
            _ => FAILED_WEIGHT,
        };
        self.attempted(1.0, weight, now);
    }

    /// The share of failures at `now`, faded since it last moved.
    fn failing(&self, now: Instant) -> f64 {
        let (share, at) = self.failing;
        // Nothing to fade for an address that never failed: no `powf` on the path of every
        // race to it.
        if share == 0.0 {
            return 0.0;
        }
        let half_lives =
            now.saturating_duration_since(at).as_secs_f64() / FAILURE_HALF_LIFE.as_secs_f64();
        share * 0.5f64.powf(half_lives)
    }

    /// Moves the share of failures `weight` of the way towards `towards` (0 or 1).
    fn attempted(&mut self, towards: f64, weight: f64, now: Instant) {
        let share = self.failing(now);
        self.failing = (share + (towards - share) * weight, now);
    }

    fn new(source: Option<IpAddr>, tick: u64, now: Instant) -> Entry {
        Entry {
            rtt: None,
            handshake: None,
            failing: (0.0, now),
            failed: None,
            succeeded: None,
            source,
            used: tick,
            exploring: None,
            seen: None,
        }
    }

    /// What it knows at `now`: fresh, failed lately, or nothing useful.
    fn at(&self, now: Instant) -> Known {
        if let Some(fresh) = self.fresh(now) {
            return fresh;
        }
        let since = |at: Instant| now.saturating_duration_since(at);
        match self.failed {
            Some((_, at, failed))
                if since(at) < FAILURE_COOL_DOWN
                    && self.succeeded.is_none_or(|(_, ok)| failed > ok) =>
            {
                Known::Failed
            }
            _ => Known::Unknown,
        }
    }
}

/// An address as the history's key: the address, hashed in two words, where the derived
/// `Hash` of a `SocketAddr` writes four to six pieces. A lookup is on every race's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(SocketAddr);

/// Equal keys hash alike: everything hashed is compared. An IPv6 address's flow label is
/// compared and not hashed.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.0 {
            SocketAddr::V4(addr) => {
                state.write_u64(u64::from(addr.ip().to_bits()) << 16 | u64::from(addr.port()));
            }
            SocketAddr::V6(addr) => {
                state.write_u128(addr.ip().to_bits());
                state.write_u64(u64::from(addr.scope_id()) << 16 | u64::from(addr.port()));
            }
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Keyed: the addresses come from DNS.
    entries: HashMap<Key, Entry, Keyed>,
    tick: u64,
}

/// The bounded, concurrent address history of one connector and its clones.
#[derive(Debug)]
pub(crate) struct History {
    capacity: usize,
    inner: Mutex<Inner>,
    /// Races that could have started the best known address alone: counted without the
    /// lock, which only one in [`EXPLORE_EVERY`] of them takes.
    learned_races: AtomicU64,
    /// Its part of `connie.history.size`, set under the lock as its size changes.
    metric: metrics::Part,
}

impl History {
    /// An empty history of at most `capacity` addresses (at least 1).
    pub(crate) fn new(capacity: usize) -> History {
        History {
            capacity: capacity.max(1),
            inner: Mutex::default(),
            learned_races: AtomicU64::new(0),
            metric: metrics::Part::new(Tally::HistorySize),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing in here can panic half-way through an update; take the data either way.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What is known about `addr` at `now`. `source` is the source address the system
    /// would use for it today, if known: an entry written with another source is about
    /// another network, and is dropped (HEv3 asks that history never cross networks).
    #[cfg(test)]
    pub(crate) fn known(&self, addr: SocketAddr, source: Option<IpAddr>, now: Instant) -> Known {
        self.known_seen(addr, source, None, now)
    }

    /// [`known`](Self::known), the entry keeping `seen` (its source, `source`, and
    /// what it gives) for the races that follow.
    pub(crate) fn known_seen(
        &self,
        addr: SocketAddr,
        source: Option<IpAddr>,
        seen: Option<Seen>,
        now: Instant,
    ) -> Known {
        let mut inner = self.lock();
        // A read counts as recent as the latest write.
        let tick = inner.tick;
        let Some(entry) = inner.entries.get_mut(&Key(addr)) else {
            return Known::Unknown;
        };
        if entry.written_on_another_network(source) {
            inner.entries.remove(&Key(addr));
            self.metric.set(inner.entries.len());
            return Known::Unknown;
        }
        entry.used = tick;
        entry.seen = seen;
        entry.at(now)
    }

    /// What is known about `addr` at `now`, with what its entry has [`Seen`] if it has
    /// seen it within its time: the source is as good as the source-address cache's
    /// answer, and on the same network as the entry. If the entry has not, ask the cache
    /// and tell [`known_seen`](Self::known_seen); if there is none, nothing is known.
    pub(crate) fn known_if_seen(&self, addr: SocketAddr, now: Instant) -> Sight {
        let mut inner = self.lock();
        let tick = inner.tick;
        let Some(entry) = inner.entries.get_mut(&Key(addr)) else {
            return Sight::Unknown;
        };
        let Some(seen) = entry.seen.filter(|seen| now < seen.until) else {
            return Sight::Unseen;
        };
        entry.used = tick;
        Sight::Seen(entry.at(now), seen)
    }

    /// Whether a race that could start its best known address, `best`, alone should race
    /// every address instead, at `now`: true once in [`EXPLORE_EVERY`] such races, unless
    /// the last race that explored from `best` is still expected to run (it started less
    /// than `best`'s expected time ago). So races that overlap explore once: a burst of
    /// races to a known host sends one exploration's SYNs, not one in a hundred's.
    pub(crate) fn explore(&self, best: SocketAddr, now: Instant) -> bool {
        let learned_races = self
            .learned_races
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if !learned_races.is_multiple_of(EXPLORE_EVERY) {
            return false;
        }
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(&Key(best)) else {
            return true;
        };
        if entry.exploring.is_some_and(|until| now < until) {
            return false;
        }
        let expected = entry.fresh(now).and_then(|known| known.expected());
        let expected = expected.unwrap_or(Schedule::RFC8305_ATTEMPT_DELAY);
        entry.exploring = now.checked_add(expected);
        true
    }

    /// Records what a finished race taught about its addresses: `(address, the source
    /// address used for it, lesson)`.
    pub(crate) fn learn(
        &self,
        lessons: impl IntoIterator<Item = (SocketAddr, Option<IpAddr>, Lesson)>,
        now: Instant,
    ) {
        let mut inner = self.lock();
        for (addr, source, lesson) in lessons {
            inner.tick += 1;
            let tick = inner.tick;
            if inner.entries.len() >= self.capacity && !inner.entries.contains_key(&Key(addr)) {
                self.make_room(&mut inner, now);
            }
            let entry = inner
                .entries
                .entry(Key(addr))
                .or_insert_with(|| Entry::new(source, tick, now));
            if entry.written_on_another_network(source) {
                // Learned on another network: start over.
                *entry = Entry::new(source, tick, now);
            }
            entry.used = tick;
            entry.source = source.or(entry.source);
            match lesson {
                Lesson::Connected(transport) => entry.connected(transport, None, now, tick),
                Lesson::Secured {
                    transport,
                    handshake,
                } => entry.connected(transport, Some(handshake), now, tick),
                Lesson::Failed(kind) => entry.failed(kind, now, tick),
                Lesson::Overdue => entry.failed(io::ErrorKind::TimedOut, now, tick),
            }
        }
        self.metric.set(inner.entries.len());
    }

    /// Makes room for one more entry in a full history: drops expired entries, and if that
    /// is not enough, the least recently used eighth of the capacity.
    fn make_room(&self, inner: &mut Inner, now: Instant) {
        let stale = |e: &Entry| {
            let old = |at: Instant| now.saturating_duration_since(at) >= HISTORY_TTL;
            let rtt_gone = e.rtt.is_none_or(|(_, at)| old(at));
            let failure_gone = e
                .failed
                .is_none_or(|(_, at, _)| now.saturating_duration_since(at) >= FAILURE_COOL_DOWN);
            rtt_gone && failure_gone
        };
        inner.entries.retain(|_, e| !stale(e));
        if inner.entries.len() < self.capacity {
            return;
        }
        let batch = (self.capacity / 8).max(1);
        let mut ages: Vec<u64> = inner.entries.values().map(|e| e.used).collect();
        let (_, &mut cutoff, _) = ages.select_nth_unstable(batch - 1);
        inner.entries.retain(|_, e| e.used > cutoff);
    }

    /// Forgets everything.
    pub(crate) fn forget(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        self.learned_races.store(0, Ordering::Relaxed);
        self.metric.set(0);
    }

    /// How many addresses it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The most addresses it may hold.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConnieConnector;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn a(i: u32) -> SocketAddr {
        SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), 443))
    }

    const SRC: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 255, 0, 1)));

    fn rtt(srtt: u64, rttvar: u64) -> Rtt {
        Rtt {
            srtt: ms(srtt),
            rttvar: ms(rttvar),
        }
    }

    fn fresh(srtt: u64, rttvar: u64) -> Known {
        Known::Fresh {
            transport: rtt(srtt, rttvar),
            handshake: None,
            failing: 0.0,
        }
    }

    fn connected(h: &History, addr: SocketAddr, rtt: u64, now: Instant) {
        h.learn([(addr, SRC, Lesson::Connected(ms(rtt)))], now);
    }

    #[test]
    fn constants_are_the_documented_numbers() {
        assert_eq!(HISTORY_TTL, Duration::from_secs(600));
        assert_eq!(FAILURE_COOL_DOWN, Duration::from_secs(30));
        assert_eq!(EXPLORE_EVERY, 100);
    }

    /// RFC 6298: the first sample sets srtt = R and rttvar = R/2; later ones smooth with
    /// α = 1/8 and β = 1/4.
    #[test]
    fn smoothing_follows_rfc_6298() {
        let h = History::new(16);
        let now = tokio::time::Instant::now().into_std();
        connected(&h, a(1), 80, now);
        assert_eq!(h.known(a(1), SRC, now), fresh(80, 40));
        connected(&h, a(1), 160, now);
        // rttvar = 3/4·40 + 1/4·|80 − 160| = 50; srtt = 7/8·80 + 1/8·160 = 90.
        assert_eq!(h.known(a(1), SRC, now), fresh(90, 50));
    }

    /// A connect through TLS teaches both phases, each smoothed on its own; the expected
    /// time of the address is the sum of both phases' expected times.
    #[test]
    fn the_handshake_is_learned_as_a_phase_of_its_own() {
        let h = History::new(16);
        let now = tokio::time::Instant::now().into_std();
        let secured = |transport, handshake| Lesson::Secured {
            transport: ms(transport),
            handshake: ms(handshake),
        };
        h.learn([(a(1), SRC, secured(20, 40))], now);
        let known = h.known(a(1), SRC, now);
        assert_eq!(
            known,
            Known::Fresh {
                transport: rtt(20, 10),
                handshake: Some(rtt(40, 20)),
                failing: 0.0,
            }
        );
        // 20 + 4·10 = 60, and 40 + 4·20 = 120.
        assert_eq!(known.expected_transport(), Some(ms(60)));
        assert_eq!(known.expected_handshake(), Some(ms(120)));
        assert_eq!(known.expected(), Some(ms(180)));
        assert_eq!(known.srtt(), Some(ms(60)));
        h.learn([(a(1), SRC, secured(20, 120))], now);
        // rttvar = 3/4·20 + 1/4·|40 − 120| = 35; srtt = 7/8·40 + 1/8·120 = 50.
        // The transport: rttvar = 3/4·10 + 0 = 7.5, srtt 20.
        let transport = Rtt {
            srtt: ms(20),
            rttvar: Duration::from_micros(7_500),
        };
        assert_eq!(
            h.known(a(1), SRC, now),
            Known::Fresh {
                transport,
                handshake: Some(rtt(50, 35)),
                failing: 0.0,
            }
        );
        // A plain TCP connect leaves the handshake as it was.
        connected(&h, a(1), 20, now);
        assert_eq!(
            h.known(a(1), SRC, now).expected_handshake(),
            Some(ms(50 + 4 * 35))
        );
        // A plain TCP connect with nothing fresh knows no handshake.
        connected(&h, a(2), 20, now);
        assert_eq!(h.known(a(2), SRC, now).expected_handshake(), None);
        assert_eq!(h.known(a(2), SRC, now).expected(), Some(ms(60)));
    }

    #[test]
    fn expected_is_srtt_plus_four_rttvar_within_bounds() {
        assert_eq!(fresh(20, 5).expected(), Some(ms(40)));
        assert_eq!(
            fresh(30, 0).expected(),
            Some(Duration::from_micros(37_500)),
            "a quarter of srtt when rttvar is 0"
        );
        assert_eq!(
            fresh(100, 10).expected(),
            Some(ms(140)),
            "4·rttvar when it is more"
        );
        assert_eq!(
            fresh(2, 0).expected_transport(),
            Some(ms(10)),
            "G = 1 ms, floored at Schedule::MIN_ATTEMPT_DELAY"
        );
        assert_eq!(
            fresh(1, 0).expected(),
            Some(ms(10)),
            "floored at Schedule::MIN_ATTEMPT_DELAY"
        );
        assert_eq!(
            fresh(200, 40).expected(),
            Some(ms(250)),
            "capped at the RFC 8305 delay"
        );
        let huge = Known::Fresh {
            transport: Rtt {
                srtt: Duration::MAX,
                rttvar: Duration::MAX,
            },
            handshake: Some(Rtt {
                srtt: Duration::MAX,
                rttvar: Duration::MAX,
            }),
            failing: 1.0,
        };
        assert_eq!(huge.expected_transport(), Some(ms(250)), "no overflow");
        assert_eq!(huge.expected(), Some(ms(2250)), "no overflow");
        assert_eq!(huge.srtt(), Some(Duration::MAX), "no overflow");
        assert_eq!(Known::Unknown.expected(), None);
        assert_eq!(Known::Failed.expected(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_handshake_time_expires_after_the_ttl() {
        let h = History::new(16);
        connected(&h, a(1), 20, tokio::time::Instant::now().into_std());
        tokio::time::advance(HISTORY_TTL - ms(1)).await;
        assert!(matches!(
            h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
            Known::Fresh { .. }
        ));
        tokio::time::advance(ms(1)).await;
        assert_eq!(
            h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
            Known::Unknown
        );
        // A sample after expiry starts the smoothing over.
        connected(&h, a(1), 60, tokio::time::Instant::now().into_std());
        assert_eq!(
            h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
            fresh(60, 30)
        );
    }

    /// A measured address keeps its handshake time when it fails: each failure moves its
    /// share of failures towards 1 (a half for a refusal, three quarters for a timeout or
    /// an overdue attempt), a success halves it, and it fades by half every 10 s.
    #[tokio::test(start_paused = true)]
    async fn a_failure_keeps_the_rtt_and_counts_against_it() {
        let h = History::new(16);
        let failing = |h: &History| {
            h.known(a(1), SRC, tokio::time::Instant::now().into_std())
                .failing()
        };
        connected(&h, a(1), 20, tokio::time::Instant::now().into_std());
        let refused = Lesson::Failed(io::ErrorKind::ConnectionRefused);
        h.learn(
            [(a(1), SRC, refused)],
            tokio::time::Instant::now().into_std(),
        );
        let known = h.known(a(1), SRC, tokio::time::Instant::now().into_std());
        assert_eq!(known.srtt(), Some(ms(20)), "{known:?}");
        assert_eq!(known.failing(), 0.5);
        // Ranked as if it took 20 / (1 − 0.5) = 40 ms.
        assert_eq!(known.rank_time(), Some(ms(40)));
        h.learn(
            [(a(1), SRC, refused)],
            tokio::time::Instant::now().into_std(),
        );
        assert_eq!(failing(&h), 0.75);
        connected(&h, a(1), 20, tokio::time::Instant::now().into_std());
        assert_eq!(failing(&h), 0.375);
        h.learn(
            [(a(1), SRC, Lesson::Overdue)],
            tokio::time::Instant::now().into_std(),
        );
        assert_eq!(failing(&h), 0.375 + 0.625 * 0.75);
        let timed_out = Lesson::Failed(io::ErrorKind::TimedOut);
        h.learn(
            [(a(1), SRC, timed_out)],
            tokio::time::Instant::now().into_std(),
        );
        let share = failing(&h);
        tokio::time::advance(FAILURE_HALF_LIFE).await;
        assert!((failing(&h) - share / 2.0).abs() < 1e-9, "{}", failing(&h));
        tokio::time::advance(FAILURE_HALF_LIFE * 2).await;
        assert!((failing(&h) - share / 8.0).abs() < 1e-9, "{}", failing(&h));
        // However often it failed, it ranks as taking at most a thousand times its time.
        for _ in 0..100 {
            h.learn(
                [(a(1), SRC, Lesson::Overdue)],
                tokio::time::Instant::now().into_std(),
            );
        }
        let known = h.known(a(1), SRC, tokio::time::Instant::now().into_std());
        assert_eq!(known.rank_time(), Some(ms(20) * 1000));
    }

    /// An address with no measured time that fails ranks last for the cool-down, then is
    /// unknown; a success after the failure counts at once.
    #[tokio::test(start_paused = true)]
    async fn a_failure_with_no_time_lasts_for_the_cool_down() {
        let h = History::new(16);
        for lesson in [
            Lesson::Failed(io::ErrorKind::ConnectionRefused),
            Lesson::Overdue,
        ] {
            h.learn(
                [(a(1), SRC, lesson)],
                tokio::time::Instant::now().into_std(),
            );
            assert_eq!(
                h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
                Known::Failed
            );
            tokio::time::advance(FAILURE_COOL_DOWN - ms(1)).await;
            assert_eq!(
                h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
                Known::Failed
            );
            tokio::time::advance(ms(1)).await;
            assert_eq!(
                h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
                Known::Unknown
            );
        }
        h.learn(
            [(a(1), SRC, Lesson::Failed(io::ErrorKind::ConnectionRefused))],
            tokio::time::Instant::now().into_std(),
        );
        connected(&h, a(1), 30, tokio::time::Instant::now().into_std());
        assert!(matches!(
            h.known(a(1), SRC, tokio::time::Instant::now().into_std()),
            Known::Fresh { .. }
        ));
    }

    /// HEv3: history never crosses networks. Asked with another source address, the entry
    /// is dropped; learning with another source starts it over.
    #[test]
    fn another_source_address_drops_the_entry() {
        let h = History::new(16);
        let now = tokio::time::Instant::now().into_std();
        let other = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 2)));
        connected(&h, a(1), 20, now);
        assert!(
            matches!(h.known(a(1), None, now), Known::Fresh { .. }),
            "source unknown: kept"
        );
        assert_eq!(h.known(a(1), other, now), Known::Unknown);
        assert_eq!(h.len(), 0);
        assert_eq!(h.known(a(1), SRC, now), Known::Unknown);

        connected(&h, a(2), 20, now);
        h.learn([(a(2), other, Lesson::Connected(ms(100)))], now);
        assert_eq!(
            h.known(a(2), other, now),
            fresh(100, 50),
            "not smoothed with the other network's 20 ms"
        );
    }

    #[test]
    fn one_race_in_explore_every_explores() {
        let now = Instant::now();
        let h = History::new(16);
        let explored: Vec<u64> = (1..=3 * EXPLORE_EVERY)
            .filter(|_| h.explore(a(1), now))
            .collect();
        assert_eq!(explored.len(), 3);
        let h = History::new(16);
        let first = (1..=EXPLORE_EVERY).find(|_| h.explore(a(1), now));
        assert_eq!(first, Some(EXPLORE_EVERY));
    }

    /// Races that overlap explore once: of 500 races at one instant from a known 10 ms
    /// address, the hundredth explores, and the others skip their turn while that race is
    /// expected to run, 12.5 ms (10 ms and a quarter more); an address of its own explores
    /// on its own.
    #[test]
    fn a_burst_explores_once() {
        let h = History::new(16);
        let now = Instant::now();
        connected(&h, a(1), 10, now);
        let explored = |at: Instant| {
            let burst = (0..5 * EXPLORE_EVERY).filter(|_| h.explore(a(1), at));
            burst.count()
        };
        assert_eq!(explored(now), 1);
        assert_eq!(explored(now + Duration::from_micros(29_999)), 0);
        assert_eq!(explored(now + Duration::from_millis(30)), 1);
        connected(&h, a(2), 10, now);
        let other = (0..EXPLORE_EVERY).filter(|_| h.explore(a(2), now)).count();
        assert_eq!(other, 1);
    }

    #[test]
    fn forget_clears_everything() {
        let h = History::new(16);
        let now = tokio::time::Instant::now().into_std();
        connected(&h, a(1), 20, now);
        h.explore(a(1), now);
        h.forget();
        assert_eq!(h.len(), 0);
        assert_eq!(h.known(a(1), SRC, now), Known::Unknown);
        assert_eq!(
            (1..EXPLORE_EVERY).filter(|_| h.explore(a(1), now)).count(),
            0
        );
    }

    /// 100,000 distinct addresses: the history never holds more than its capacity, and
    /// what it evicts is the least recently used.
    #[test]
    fn the_bound_holds_under_100_000_distinct_addresses() {
        let h = History::new(ConnieConnector::DEFAULT_HISTORY_CAPACITY);
        let now = tokio::time::Instant::now().into_std();
        connected(&h, a(0), 20, now);
        for i in 1..100_000 {
            connected(&h, a(i), 20, now);
            // a(0) is read often, so it is never the least recently used.
            if i % 100 == 0 {
                assert!(
                    matches!(h.known(a(0), SRC, now), Known::Fresh { .. }),
                    "at {i}"
                );
            }
            assert!(
                h.len() <= ConnieConnector::DEFAULT_HISTORY_CAPACITY,
                "{} entries at {i}",
                h.len()
            );
        }
        assert!(h.len() > ConnieConnector::DEFAULT_HISTORY_CAPACITY / 2);
        assert_eq!(
            h.known(a(1), SRC, now),
            Known::Unknown,
            "the oldest went first"
        );
        assert!(matches!(h.known(a(99_999), SRC, now), Known::Fresh { .. }));
    }

    #[test]
    fn a_capacity_of_one_holds_one() {
        let h = History::new(0);
        assert_eq!(h.capacity(), 1);
        let now = tokio::time::Instant::now().into_std();
        connected(&h, a(1), 20, now);
        connected(&h, a(2), 20, now);
        assert_eq!(h.len(), 1);
        assert!(matches!(h.known(a(2), SRC, now), Known::Fresh { .. }));
    }

    /// Expired entries stay until room is needed (no scan before that), and then go
    /// first: an address still cooling down after a failure is not expired.
    #[tokio::test(start_paused = true)]
    async fn what_expires_and_when_it_goes() {
        let h = History::new(3);
        let refused = Lesson::Failed(io::ErrorKind::ConnectionRefused);
        connected(&h, a(1), 20, tokio::time::Instant::now().into_std());
        tokio::time::advance(HISTORY_TTL).await;
        connected(&h, a(2), 20, tokio::time::Instant::now().into_std());
        assert_eq!(h.len(), 2, "an expired entry stays while there is room");
        h.learn(
            [(a(3), SRC, refused)],
            tokio::time::Instant::now().into_std(),
        );
        connected(&h, a(4), 20, tokio::time::Instant::now().into_std());
        assert_eq!(h.len(), 3, "only the expired a(1) made room");
        assert_eq!(
            h.known(a(3), SRC, tokio::time::Instant::now().into_std()),
            Known::Failed
        );
        // Past the cool-down a failure is expired too, and a fresh time is not.
        tokio::time::advance(FAILURE_COOL_DOWN).await;
        connected(&h, a(5), 20, tokio::time::Instant::now().into_std());
        assert_eq!(h.len(), 3, "the failed a(3) made room");
        assert_eq!(
            h.known(a(3), SRC, tokio::time::Instant::now().into_std()),
            Known::Unknown
        );
        assert!(matches!(
            h.known(a(2), SRC, tokio::time::Instant::now().into_std()),
            Known::Fresh { .. }
        ));
    }

    /// Expired entries go before any live one is evicted.
    #[tokio::test(start_paused = true)]
    async fn expired_entries_make_room_first() {
        let h = History::new(8);
        for i in 0..8 {
            connected(&h, a(i), 20, tokio::time::Instant::now().into_std());
        }
        tokio::time::advance(HISTORY_TTL).await;
        connected(&h, a(100), 20, tokio::time::Instant::now().into_std());
        assert_eq!(h.len(), 1);
    }
}
