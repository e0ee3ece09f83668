//! A cold race among others to its destination: it probes, or it follows the probe (see
//! `burst`). The driver joins the burst when the machine asks ([`Action::Join`]) and
//! tells it when the probe ends; the machine holds the first attempt of a follower, and
//! ranks its addresses again when the hold ends. The hold's end, if the probe does not
//! end first, is the first attempt's `next_allowed`: a follower's first attempt may not
//! start before it anyway.
//!
//! [`Action::Join`]: super::Action::Join

use std::time::Instant;

use tracing::debug;

use super::{Knowledge, Machine};
use crate::burst::follow_wait;

/// A race's part in a burst of cold races to its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Burst {
    /// It takes no part: a race of literal addresses, coordination off, or a warm race.
    Off,
    /// It joins the burst if its first attempt would go to an address the history does
    /// not know.
    Cold,
    /// It asked to join; the reply is due.
    Asked,
    /// It probes: it races alone.
    Probe,
    /// It follows a probe: its first attempt waits for the probe's end, or for its
    /// `next_allowed` (`None`: a wait too long for the clock).
    Follow,
    /// It followed a probe, and goes on on its own.
    Followed,
}

impl Burst {
    /// Whether the race follows, or followed, a probe: it never explores.
    pub(super) fn follows(self) -> bool {
        matches!(self, Burst::Follow | Burst::Followed)
    }
}

impl<K: Knowledge> Machine<'_, K> {
    /// The race takes part in bursts to its destination (the driver has somewhere to join
    /// them): it will ask to join one if it starts cold.
    pub(crate) fn coordinated(&mut self) {
        self.burst = Burst::Cold;
    }

    /// The driver joined the burst at `now`: the race follows a probe, or probes.
    pub(crate) fn joined(&mut self, now: Instant, follows: bool) {
        debug_assert_eq!(self.burst, Burst::Asked, "joined, and not asked to");
        self.burst = if follows {
            let left = self.deadline.map(|d| d.saturating_duration_since(now));
            let wait = follow_wait(&self.config.schedule, left);
            debug!(?wait, "following the race in flight to this destination");
            self.next_allowed = now.checked_add(wait);
            Burst::Follow
        } else {
            Burst::Probe
        };
    }

    /// The probe this race follows ended at `now`: it `won` (the history knows its
    /// winner), failed, or was dropped (and this race probes now).
    pub(crate) fn probe_ended(&mut self, now: Instant, won: bool) {
        if self.burst == Burst::Follow {
            debug!(won, "the race followed ended");
            self.report.followed = won;
            self.release(now);
        }
    }

    /// Whether the race waits for a probe to end.
    pub(crate) fn follows_a_probe(&self) -> bool {
        self.burst == Burst::Follow
    }

    /// Whether the race would start its first attempt cold, and has to ask to join the
    /// burst first. A race whose best address the history knows takes no part (one whose
    /// best has no route but the history knows another takes none either: rare, and it
    /// races as ever), nor one with a single address and no more to come: following would
    /// save it nothing.
    pub(super) fn asks_to_join(&mut self) -> bool {
        if self.burst != Burst::Cold || !self.report.attempts.is_empty() {
            return false;
        }
        let alone = self.plain || !self.dns_open && self.queue.len() <= 1;
        if alone || self.queue.knows_one() {
            self.burst = Burst::Off;
            return false;
        }
        self.burst = Burst::Asked;
        true
    }

    /// Whether the race's first attempt waits for the burst: for the reply to its ask, or
    /// for the probe it follows (its wait's end is its `next_allowed`).
    pub(super) fn held(&self) -> bool {
        matches!(self.burst, Burst::Asked | Burst::Follow)
    }

    /// Ends a follower's wait at `now` if it is over, or if its answers brought an
    /// address the history knows (another race taught it).
    pub(super) fn end_hold(&mut self, now: Instant) {
        if self.burst != Burst::Follow {
            return;
        }
        if self.next_allowed.is_some_and(|t| t <= now) {
            debug!("the race followed is late: racing alone");
            self.release(now);
        } else if self.queue.knows_one() {
            debug!("an address the history knows: starting at once");
            self.release(now);
        }
    }

    /// The follower goes on on its own: its addresses ranked anew, with what the history
    /// learned meanwhile.
    fn release(&mut self, now: Instant) {
        self.burst = Burst::Followed;
        self.next_allowed = Some(now);
        if !self.plain {
            let (knowledge, rfc6724) = (&self.knowledge, !self.resolver_sorted);
            self.queue.rerank(|addr| knowledge.rank(addr, rfc6724, now));
        }
    }
}
