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
//!
//! Races to one destination also wait their turn to a host that speaks HTTP/2 (`h2`), and
//! share its cap on racing attempts if the connector sets one (`cap`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;

use crate::Schedule;

mod cap;
mod h2;

use self::cap::Caps;
pub(crate) use self::cap::HostShare;
use self::h2::H2Hosts;

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

type Probes = HashMap<(Box<str>, u16), Arc<watch::Sender<Ended>>>;

/// Where a race by name goes, and the bursts of its connector: what it joins if it
/// starts cold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joinable<'a> {
    pub(crate) bursts: &'a Bursts,
    /// The port; the host is the race's origin's.
    pub(crate) port: u16,
    /// It may follow a cold race (coordination is on, and a history to share findings
    /// through): else only the host's cap applies to it.
    pub(crate) follow: bool,
}

impl<'a> Joinable<'a> {
    /// Joins the burst to `host` at this port.
    pub(crate) fn join(self, host: &str) -> Role<'a> {
        self.bursts.join(host, self.port)
    }
}

/// How the probe a follower waits for ended: [`Ended::Looking`] if it was dropped before
/// it ended.
async fn probe_end(mut probe: watch::Receiver<Ended>) -> Ended {
    // Closed or not, the value is the last one the probe sent.
    let _ = probe.changed().await;
    let ended = *probe.borrow();
    ended
}

/// A cold race's part in a burst.
pub(crate) enum Role<'a> {
    /// It probes: it races alone, and tells its followers how it ended (boxed: a race
    /// carries no room for it until it probes).
    Probe(Box<Probe<'a>>),
    /// It follows the probe in flight.
    Follow(watch::Receiver<Ended>),
}

/// A race's side of the bursts to its destination, as its driver keeps it: its share of
/// the host's cap, and its part if it joined a burst (one place, one reference to it in
/// the driver's wait).
pub(crate) struct Side<'a> {
    pub(crate) share: HostShare<'a>,
    pub(crate) part: Option<Part<'a>>,
}

impl<'a> Side<'a> {
    /// Joins `burst`, the burst to `host` (none for a race of literal addresses), and
    /// keeps its part: whether it follows a probe.
    pub(crate) fn join(&mut self, burst: Option<Joinable<'a>>, host: Option<&str>) -> bool {
        let host = host.unwrap_or_default();
        self.part = burst.map(|burst| Part::from(burst.join(host)));
        self.part.as_ref().is_some_and(Part::follows)
    }
}

/// A cold race's part as its driver keeps it: the probe it is, or the end of the probe it
/// follows (both boxed: a race carries 16 bytes for them).
pub(crate) enum Part<'a> {
    Probe(Box<Probe<'a>>),
    Follows(Pin<Box<dyn Future<Output = Ended> + Send + 'a>>),
}

impl<'a> From<Role<'a>> for Part<'a> {
    fn from(role: Role<'a>) -> Part<'a> {
        match role {
            Role::Probe(probe) => Part::Probe(probe),
            Role::Follow(end) => Part::Follows(Box::pin(probe_end(end))),
        }
    }
}

impl Part<'_> {
    /// Whether it follows a probe.
    pub(crate) fn follows(&self) -> bool {
        matches!(self, Part::Follows(_))
    }

    /// The end of the probe it follows; never, for a probe.
    pub(crate) fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Ended> {
        match self {
            Part::Follows(end) => end.as_mut().poll(cx),
            Part::Probe(_) => Poll::Pending,
        }
    }

    /// The race ended: a probe tells its followers whether it `won`.
    pub(crate) fn race_ended(self, won: bool) {
        if let Part::Probe(probe) = self {
            (*probe).ended(won);
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
        Role::Probe(Box::new(Probe {
            bursts: self,
            key,
            sender,
        }))
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
        (*probe).ended(true);
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
