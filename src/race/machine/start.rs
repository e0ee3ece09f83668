//! When the next attempt starts: the resolution delay, the concurrency cap and its
//! share for each family, the attempt delays, and the attempt that starts.

use std::time::Instant;

use tracing::debug;

use super::{slot, Action, Knowledge, Machine, Permit, Run};
use crate::nanos::Nanos;
use crate::schedule::timing::{self, Delays};
use crate::Family;

impl<K: Knowledge> Machine<'_, K> {
    /// The first attempt waits (up to the Resolution Delay) for the preferred family when
    /// only the other family has answered so far, and for the HTTPS records while they
    /// are asked for and have not answered (HEv3).
    pub(super) fn gated(&self, now: Instant) -> bool {
        let preferred = self.preferred();
        let waiting =
            self.https_pending || !self.queue.is_answered(preferred) && !self.queue.has(preferred);
        self.report.attempts.is_empty()
            && waiting
            && self
                .resolution_gate
                .is_some_and(|until| until.is_none_or(|until| now < until))
    }

    /// Whether an attempt to an address of `family` may start under the concurrency cap.
    ///
    /// While the other family has no attempt yet but may still get one (its lookup is
    /// pending, or its addresses are queued), one slot stays free for it, so attempts of
    /// one family hanging on blackholed addresses can never shut the other family out.
    pub(super) fn may_start(&self, family: Family) -> bool {
        let max = self.config.max_concurrent;
        let other = family.other();
        let other_may_come = !self.queue.is_answered(other) || self.queue.has(other);
        let reserve = usize::from(max >= 2 && !self.tried[slot(other)] && other_may_come);
        self.running() < max && (self.running[slot(family)] as usize) < max - reserve
    }

    /// Whether an address is queued whose attempt the concurrency cap would let start.
    pub(super) fn startable(&self) -> bool {
        [Family::V6, Family::V4]
            .into_iter()
            .any(|f| self.queue.has(f) && self.may_start(f))
    }

    /// Whether the schedule lets an attempt start now, an address being
    /// [`startable`](Self::startable).
    pub(super) fn ready(&self, now: Instant) -> bool {
        !self.gated(now) && !self.held() && self.next_allowed.is_some_and(|t| t <= now)
    }

    /// When the schedule could next start an attempt without any other event happening,
    /// told whether an address is [`startable`](Self::startable).
    pub(super) fn wake_at(&self, startable: bool) -> Option<Instant> {
        if !startable {
            return None;
        }
        let next = self.next_allowed?;
        match self.resolution_gate {
            // Gated with no end: only the preferred family's answer opens the gate.
            Some(gate) if self.gated(next) => gate.map(|gate| gate.max(next)),
            _ => Some(next),
        }
    }

    /// Starts the next attempt, the schedule being [`ready`](Self::ready).
    pub(super) fn start(&mut self, now: Instant) -> Action {
        self.permit = Permit::None;
        let [v4, v6] = [Family::V4, Family::V6].map(|f| self.may_start(f));
        let Some(picked) = self.queue.pop(|f| if f == Family::V4 { v4 } else { v6 }) else {
            unreachable!("the schedule was ready");
        };
        let address = self.queue.address(picked);
        let (addr, learned) = (address.addr, address.learned());
        let endpoint = self.queue.endpoint(address).cloned();
        if self.report.attempts.is_empty() {
            let explore = || {
                // A follower dials what its probe found.
                let explore = !self.burst.follows() && self.knowledge.explore(addr, now);
                if explore {
                    debug!(%addr, "exploring: racing every address despite the history");
                }
                explore
            };
            self.learning = timing::uses_history(&self.config.schedule, learned.is_some(), explore);
            self.report.used_history = self.learning;
        }
        let (delays, learned) = match learned {
            Some(delays) if self.learning => (delays, true),
            _ => {
                // The first unknown address ends the learned part of the race.
                self.learning = false;
                (Delays::of(&self.config.schedule), false)
            }
        };
        // A delay too long for the clock never comes: `None`, as for "after a failure".
        self.next_allowed = delays.next.and_then(|d| now.checked_add(d));
        if let Some(abandoned) = self.abandoned.take() {
            self.queue
                .retry(self.report.attempts[abandoned as usize].run.picked);
        }
        let left = self.deadline.map(|d| d.saturating_duration_since(now));
        // This attempt's address has left the queue already.
        let timeout = timing::attempt_timeout(self.config, left, self.queue.len() + 1);
        let family = slot(Family::of(&addr));
        self.running[family] += 1;
        self.tried[family] = true;
        let idx = self.report.attempts.len();
        debug!(%addr, attempt = idx, ?timeout, "attempt started");
        if idx == self.report.attempts.capacity() {
            // Room for this attempt and one to every address queued, or twice as many
            // attempts as so far.
            let more = (self.queue.len() + 1).max(idx);
            self.report.attempts.reserve_exact(more);
        }
        let start = self.report.start;
        let timeout_at = timeout
            .and_then(|t| now.checked_add(t))
            .and_then(|at| Nanos::exact(at.duration_since(start)));
        self.timed += u32::from(timeout_at.is_some());
        let run = Run {
            picked,
            learned,
            timeout_at,
        };
        self.report.started(run, now);
        Action::Start {
            idx,
            addr,
            endpoint,
        }
    }
}
