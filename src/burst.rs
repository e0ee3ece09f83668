//! Races to one destination at once: the first cold race probes, the others follow.
//!
//! The history makes a known host cost one SYN, but a burst of races to a cold host each
//! race every address before any of them has won: 500 requests to a 12-address name are
//! up to 6,000 SYNs in a few milliseconds. So races to the same destination (host and
//! port) share what the first finds:
//!
//! - A race whose best address the history knows starts at once, as ever, and takes no
//!   part in this: a warm race pays nothing for it.
//! - A cold race that finds no other cold race to its destination in flight is the
//!   **probe**: it races as it would alone.
//! - A cold race that finds a probe in flight **follows** it: its lookups run, but its
//!   first attempt waits until the probe ends, at most the [wait](follow_wait) (a quarter
//!   of a second by default). Then it ranks its addresses again: when the probe won, the
//!   history knows its winner, and the follower dials it alone. A follower never
//!   explores (races every address despite the history), as one race in
//!   [`EXPLORE_EVERY`](crate::history::EXPLORE_EVERY) otherwise does.
//! - A probe that fails lets its followers go at once, on their own, with what its
//!   failures taught the history. A probe whose caller drops it lets them go too: the
//!   first to see it becomes the next probe, and the others follow that one.
//!
//! The trade-off: a follower can be one wait slower than racing alone, and only in a cold
//! burst. It is on by default ([`ConnieConnector::coordinate`](crate::ConnieConnector::coordinate)),
//! for races by name, and shared by a connector's clones.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use std::task::{ready, Context, Poll};

use futures_util::FutureExt;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::debug;

use crate::{ConnectError, Schedule};

/// How long a race to a host known to speak HTTP/2 waits for another race to it that is
/// in flight: 300 ms, as Chromium. One HTTP/2 connection serves every request, so a
/// connection pool that hands it out meanwhile drops the waiting race, SYN unsent.
pub(crate) const H2_HOLD: Duration = Duration::from_millis(300);

/// How many hosts known to speak HTTP/2 a connector remembers; past it, the least
/// recently connected is forgotten.
const H2_HOSTS: usize = 1024;

/// How a probe ended, as its followers see it. A probe dropped before it ended leaves
/// [`Ended::Looking`], and its followers see the channel closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Looking,
    Won,
    Failed,
}

/// The probes in flight, by destination (host and port), and the destinations known to
/// speak HTTP/2; shared by a connector's clones.
#[derive(Debug, Default)]
pub(crate) struct Bursts {
    probes: Mutex<Probes>,
    h2: Mutex<H2Hosts>,
    /// Some destination is known to speak HTTP/2: until then a race does not look.
    any_h2: AtomicBool,
    /// Each destination's attempts racing beside a race's first, while any race holds it.
    caps: Mutex<Caps>,
}

#[derive(Debug, Default)]
struct Caps {
    caps: HashMap<(Box<str>, u16), Weak<Semaphore>>,
    /// How many caps were alive at the last sweep of the dead ones.
    live: usize,
}

type Probes = HashMap<(Box<str>, u16), Arc<watch::Sender<Ended>>>;

/// The destinations known to speak HTTP/2, each with the race to it in flight, if any.
#[derive(Debug, Default)]
struct H2Hosts {
    hosts: HashMap<(Box<str>, u16), H2Host>,
    /// Counts connections: each host's `used` is its last one's.
    tick: u64,
}

#[derive(Debug)]
struct H2Host {
    used: u64,
    /// Its race in flight: dropped as it ends.
    in_flight: Option<Arc<watch::Sender<()>>>,
}

/// Where a race by name goes, and the bursts of its connector: what it joins if it
/// starts cold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joinable<'a> {
    pub(crate) bursts: &'a Bursts,
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// It may follow a cold race (coordination is on, and a history to share findings
    /// through): else only the host's cap applies to it.
    pub(crate) follow: bool,
}

impl<'a> Joinable<'a> {
    /// Joins the burst to this destination.
    pub(crate) fn join(self) -> Role<'a> {
        self.bursts.join(self.host, self.port)
    }
}

/// A race's share of its destination's cap on racing attempts ([`Bursts::cap`]): the
/// permit it holds for its next attempt, those of its attempts running, and its place in
/// line. A race of literal addresses has none, nor a race of a connector without a cap:
/// then it is one null pointer, and every call returns at once.
pub(crate) struct HostShare<'a>(Option<Box<Share<'a>>>);

struct Share<'a> {
    to: Joinable<'a>,
    limit: usize,
    /// The cap, once the race asked for a permit.
    cap: Option<Arc<Semaphore>>,
    granted: Option<OwnedSemaphorePermit>,
    /// The permits of its attempts running, by index.
    running: Vec<(usize, OwnedSemaphorePermit)>,
    waiting: Option<Pin<Box<dyn Future<Output = Option<OwnedSemaphorePermit>> + Send>>>,
}

impl<'a> HostShare<'a> {
    /// The share of a race to `to` (`None`: literal addresses), whose cap is `limit`
    /// (`None`: no cap) if no race to it holds one.
    pub(crate) fn new(to: Option<Joinable<'a>>, limit: Option<usize>) -> HostShare<'a> {
        HostShare(to.zip(limit).map(|(to, limit)| {
            Box::new(Share {
                to,
                limit,
                cap: None,
                granted: None,
                running: Vec::new(),
                waiting: None,
            })
        }))
    }

    /// Takes a permit for the next attempt if it holds none and the cap has one: whether
    /// it holds one now (always, without a cap).
    #[inline]
    pub(crate) fn try_take(&mut self) -> bool {
        self.0.as_mut().is_none_or(|share| share.try_take())
    }

    /// Whether the race waits for the cap (rather than for the attempt budget): it asked,
    /// and holds no permit.
    #[inline]
    pub(crate) fn spent(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|share| share.cap.is_some() && share.granted.is_none())
    }

    /// Takes a place in the cap's line, if it has none.
    pub(crate) fn wait(&mut self) {
        if let Some(share) = &mut self.0 {
            if let (Some(cap), None) = (&share.cap, &share.waiting) {
                let permit = Arc::clone(cap).acquire_owned();
                share.waiting = Some(Box::pin(permit.map(Result::ok)));
            }
        }
    }

    /// Gives up its place in line, and the permit it holds for no attempt.
    #[inline]
    pub(crate) fn leave(&mut self) {
        if let Some(share) = &mut self.0 {
            share.waiting = None;
            share.granted = None;
        }
    }

    /// Polls its place in line: ready when it got a permit.
    #[inline]
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Some(share) => share.poll_wait(cx),
            None => Poll::Pending,
        }
    }

    /// Attempt `idx` started: the permit held goes with it.
    #[inline]
    pub(crate) fn started(&mut self, idx: usize) {
        if let Some(share) = &mut self.0 {
            if let Some(permit) = share.granted.take() {
                share.running.push((idx, permit));
            }
        }
    }

    /// Attempt `idx` ended: its permit goes back.
    #[inline]
    pub(crate) fn ended(&mut self, idx: usize) {
        if let Some(share) = &mut self.0 {
            drop(share.take(idx));
        }
    }

    /// Attempt `idx` was abandoned for the next address: its permit goes to that one.
    #[inline]
    pub(crate) fn abandoned(&mut self, idx: usize) {
        if let Some(share) = &mut self.0 {
            if let Some(permit) = share.take(idx) {
                share.granted = Some(permit);
            }
        }
    }
}

impl Share<'_> {
    fn try_take(&mut self) -> bool {
        if self.granted.is_none() {
            let (to, limit) = (self.to, self.limit);
            let cap = (self.cap).get_or_insert_with(|| to.bursts.cap(to.host, to.port, limit));
            self.granted = Arc::clone(cap).try_acquire_owned().ok();
        }
        self.granted.is_some()
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(waiting) = &mut self.waiting else {
            return Poll::Pending;
        };
        let permit = ready!(waiting.poll_unpin(cx));
        self.waiting = None;
        self.granted = permit;
        Poll::Ready(())
    }

    /// The permit of attempt `idx`, which leaves the share.
    fn take(&mut self, idx: usize) -> Option<OwnedSemaphorePermit> {
        let at = self.running.iter().position(|&(i, _)| i == idx)?;
        Some(self.running.swap_remove(at).1)
    }
}

/// How the probe a follower waits for ended: [`Ended::Looking`] if it was dropped before
/// it ended.
pub(crate) async fn probe_end(mut probe: watch::Receiver<Ended>) -> Ended {
    // Closed or not, the value is the last one the probe sent.
    let _ = probe.changed().await;
    let ended = *probe.borrow();
    ended
}

/// A cold race's part in a burst.
pub(crate) enum Role<'a> {
    /// It probes: it races alone, and tells its followers how it ended.
    Probe(Probe<'a>),
    /// It follows the probe in flight.
    Follow(watch::Receiver<Ended>),
}

impl<'a> Role<'a> {
    pub(crate) fn into_probe(self) -> Option<Probe<'a>> {
        match self {
            Role::Probe(probe) => Some(probe),
            Role::Follow(_) => None,
        }
    }
}

impl Bursts {
    fn lock(&self) -> MutexGuard<'_, Probes> {
        // The map is consistent between any two statements: a panic elsewhere leaves it
        // usable.
        self.probes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The part of a cold race to `host`:`port`: it follows the probe in flight, if any,
    /// else it is the probe.
    pub(crate) fn join(&self, host: &str, port: u16) -> Role<'_> {
        let key = (Box::from(host), port);
        let mut probes = self.lock();
        if let Some(probe) = probes.get(&key) {
            return Role::Follow(probe.subscribe());
        }
        let sender = Arc::new(watch::Sender::new(Ended::Looking));
        probes.insert(key.clone(), Arc::clone(&sender));
        Role::Probe(Probe {
            bursts: self,
            key,
            sender,
        })
    }

    fn h2_hosts(&self) -> MutexGuard<'_, H2Hosts> {
        self.h2.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A race to `host`:`port` connected, and negotiated HTTP/2 (`h2`) or not.
    pub(crate) fn negotiated(&self, host: &str, port: u16, h2: bool) {
        if !h2 && !self.any_h2.load(Ordering::Relaxed) {
            return;
        }
        let mut known = self.h2_hosts();
        known.tick += 1;
        let key = (Box::from(host), port);
        if !h2 {
            known.hosts.remove(&key);
            return;
        }
        let used = known.tick;
        if known.hosts.len() >= H2_HOSTS && !known.hosts.contains_key(&key) {
            let oldest = known.hosts.iter().min_by_key(|(_, h)| h.used);
            if let Some(oldest) = oldest.map(|(key, _)| key.clone()) {
                known.hosts.remove(&oldest);
            }
        }
        known
            .hosts
            .entry(key)
            .or_insert(H2Host {
                used,
                in_flight: None,
            })
            .used = used;
        self.any_h2.store(true, Ordering::Relaxed);
    }

    /// Whether any destination is known to speak HTTP/2: if none is, a race need not
    /// ask for its [`h2_turn`](Self::h2_turn).
    pub(crate) fn any_h2(&self) -> bool {
        self.any_h2.load(Ordering::Relaxed)
    }

    /// A race to `host`:`port` starts. If the destination speaks HTTP/2 and another race
    /// to it is in flight, it waits for that race to end, at most [`H2_HOLD`]; then, if
    /// none is in flight, it is, until the returned guard is dropped.
    ///
    /// # Errors
    ///
    /// [`NoTimeDriver`](crate::ErrorKind::NoTimeDriver), when it would wait on a runtime
    /// without timers.
    pub(crate) async fn h2_turn(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Option<H2Turn<'_>>, ConnectError> {
        let key = (Box::from(host), port);
        let in_flight = match self.h2_hosts().hosts.get(&key) {
            None => return Ok(None),
            Some(known) => known.in_flight.as_ref().map(|race| race.subscribe()),
        };
        if let Some(mut race) = in_flight {
            crate::runtime::timers()?;
            debug!(?H2_HOLD, "waiting for the race in flight to an HTTP/2 host");
            let _ = tokio::time::timeout(H2_HOLD, race.changed()).await;
        }
        let mut known = self.h2_hosts();
        let Some(host) = known.hosts.get_mut(&key) else {
            return Ok(None);
        };
        if host.in_flight.is_some() {
            return Ok(None);
        }
        let race = Arc::new(watch::Sender::new(()));
        host.in_flight = Some(Arc::clone(&race));
        Ok(Some(H2Turn {
            bursts: self,
            key,
            race,
        }))
    }

    /// The cap on attempts racing to `host`:`port` beside each race's first, shared by
    /// the races to it in flight: `limit` permits, if no race holds it yet.
    pub(crate) fn cap(&self, host: &str, port: u16, limit: usize) -> Arc<Semaphore> {
        let mut caps = self.caps.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (Box::from(host), port);
        if let Some(cap) = caps.caps.get(&key).and_then(Weak::upgrade) {
            return cap;
        }
        // Dead caps go when the map has doubled since the last sweep: O(1) amortised.
        if caps.caps.len() >= 2 * caps.live.max(16) {
            caps.caps.retain(|_, cap| cap.strong_count() > 0);
            caps.live = caps.caps.len();
        }
        let cap = Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS)));
        caps.caps.insert(key, Arc::downgrade(&cap));
        cap
    }

    /// How many probes are in flight.
    #[cfg(test)]
    pub(crate) fn probes(&self) -> usize {
        self.lock().len()
    }
}

/// A probe in flight. Dropped, it leaves the map, and its followers go.
pub(crate) struct Probe<'a> {
    bursts: &'a Bursts,
    key: (Box<str>, u16),
    sender: Arc<watch::Sender<Ended>>,
}

impl Probe<'_> {
    /// The probe ended: it won, or it failed. Its race has taught the history already.
    pub(crate) fn ended(self, won: bool) {
        self.sender
            .send_replace(if won { Ended::Won } else { Ended::Failed });
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        let mut probes = self.bursts.lock();
        if probes
            .get(&self.key)
            .is_some_and(|probe| Arc::ptr_eq(probe, &self.sender))
        {
            probes.remove(&self.key);
        }
        // The last sender goes with this: followers still waiting see the channel closed.
    }
}

/// A race in flight to a destination that speaks HTTP/2: the others wait for it (see
/// [`Bursts::h2_turn`]). Dropped as the race ends.
pub(crate) struct H2Turn<'a> {
    bursts: &'a Bursts,
    key: (Box<str>, u16),
    race: Arc<watch::Sender<()>>,
}

impl Drop for H2Turn<'_> {
    fn drop(&mut self) {
        let mut known = self.bursts.h2_hosts();
        if let Some(host) = known.hosts.get_mut(&self.key) {
            if host
                .in_flight
                .as_ref()
                .is_some_and(|race| Arc::ptr_eq(race, &self.race))
            {
                // The last sender: the races waiting see the channel closed.
                host.in_flight = None;
            }
        }
    }
}

/// The longest a follower waits for its probe: the schedule's attempt delay, or RFC
/// 8305's 250 ms for a schedule that starts every address at once (or one at a time);
/// at most half the time a total timeout leaves, so that a follower always has time of
/// its own.
pub(crate) fn follow_wait(schedule: &Schedule, left: Option<Duration>) -> Duration {
    let wait = match schedule.attempt_delay {
        Some(delay) if !delay.is_zero() => delay,
        _ => Schedule::RFC8305_ATTEMPT_DELAY,
    };
    left.map_or(wait, |left| wait.min(left / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_probes_and_the_others_follow() {
        let bursts = Bursts::default();
        let Role::Probe(probe) = bursts.join("example.com", 443) else {
            panic!("the first race follows");
        };
        let Role::Follow(mut follower) = bursts.join("example.com", 443) else {
            panic!("a second race probes");
        };
        // Another port is another destination.
        let Role::Probe(other) = bursts.join("example.com", 80) else {
            panic!("a race to another port follows");
        };
        assert_eq!(bursts.probes(), 2);
        probe.ended(true);
        assert_eq!(*follower.borrow_and_update(), Ended::Won);
        assert!(follower.has_changed().is_err(), "the channel is closed");
        assert_eq!(bursts.probes(), 1);
        drop(other);
        assert_eq!(bursts.probes(), 0);
    }

    #[test]
    fn a_dropped_probe_closes_the_channel_and_the_next_race_probes() {
        let bursts = Bursts::default();
        let Role::Probe(probe) = bursts.join("example.com", 443) else {
            panic!("the first race follows");
        };
        let Role::Follow(follower) = bursts.join("example.com", 443) else {
            panic!("a second race probes");
        };
        drop(probe);
        assert!(follower.has_changed().is_err());
        assert_eq!(*follower.borrow(), Ended::Looking);
        assert!(matches!(bursts.join("example.com", 443), Role::Probe(_)));
    }

    #[test]
    fn the_wait_is_one_attempt_delay_and_leaves_time_of_its_own() {
        let ms = Duration::from_millis;
        assert_eq!(follow_wait(&Schedule::learned(), None), ms(250));
        assert_eq!(follow_wait(&Schedule::race_all(), None), ms(250));
        assert_eq!(follow_wait(&Schedule::sequential(), None), ms(250));
        let staggered = Schedule::rfc8305().attempt_delay(ms(100));
        assert_eq!(follow_wait(&staggered, None), ms(100));
        assert_eq!(follow_wait(&Schedule::learned(), Some(ms(300))), ms(150));
        assert_eq!(follow_wait(&Schedule::learned(), Some(ms(0))), ms(0));
    }
}
