//! When a running attempt ends before it connects or fails: its timeout, or its race
//! abandons it for the next address while the attempt budget is spent.

use std::time::Instant;

use super::{slot, Knowledge, Machine};
use crate::schedule::timing;
use crate::Family;

impl<K: Knowledge> Machine<'_, K> {
    /// Marks attempt `idx` as no longer running.
    pub(super) fn stopped(&mut self, idx: usize) {
        let addr = self.addr(idx).expect("a started attempt");
        if self.report.attempts[idx].run.timeout_at.is_some() {
            self.timed -= 1;
        }
        self.running[slot(Family::of(&addr))] -= 1;
    }

    /// The running attempts that have a timeout, with when each times out, in start
    /// order: none to look at while no attempt has one.
    fn timeouts(&self) -> impl Iterator<Item = (Instant, usize)> + '_ {
        let attempts = if self.timed == 0 {
            &[][..]
        } else {
            &self.report.attempts[..]
        };
        let start = self.report.start;
        attempts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_running())
            .filter_map(move |(idx, a)| Some((start.checked_add(a.run.timeout_at?.get())?, idx)))
    }

    /// The first running attempt, in start order, whose timeout has come, if any.
    pub(super) fn expired(&self, now: Instant) -> Option<usize> {
        self.timeouts()
            .find(|&(at, _)| at <= now)
            .map(|(_, idx)| idx)
    }

    /// When the first running attempt times out.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.timeouts().map(|(at, _)| at).min()
    }

    /// When running attempt `idx` may be abandoned: [`timing::abandon_after`] its delay
    /// past its start, or its handshake's delay past its transport connecting while its
    /// handshake runs; `None` for never.
    pub(super) fn overdue_at(&self, idx: usize) -> Option<Instant> {
        let a = &self.report.attempts[idx];
        let delays = self.delays(idx);
        let delay = match a.transport() {
            Some(_) => delays.handshake,
            None => delays.next,
        };
        let after = timing::abandon_after(delay, a.run.picked.abandoned)?;
        // Abandoned sooner, attempts under a spent budget would go round the addresses
        // for good, none given the time to connect.
        debug_assert!(
            after >= timing::MIN_ABANDON_DELAY,
            "an attempt abandoned after {after:?}"
        );
        let from = a.started() + a.transport().unwrap_or_default();
        self.report.start.checked_add(from)?.checked_add(after)
    }

    /// The running attempts with when each may be abandoned.
    pub(super) fn abandonable(&self) -> impl Iterator<Item = (Instant, usize)> + '_ {
        (0..self.report.attempts.len())
            .filter(|&idx| self.is_running(idx))
            .filter_map(|idx| Some((self.overdue_at(idx)?, idx)))
    }

    /// The running attempt to abandon for the next address when the budget has no place:
    /// the one overdue longest, if any is overdue at `now`.
    pub(super) fn overdue(&self, now: Instant) -> Option<usize> {
        let (at, idx) = self.abandonable().min()?;
        (at <= now).then_some(idx)
    }

    /// When the first running attempt becomes overdue: what a race waiting for a place
    /// wakes for.
    pub(super) fn next_overdue(&self) -> Option<Instant> {
        self.abandonable().map(|(at, _)| at).min()
    }

    /// Abandons running attempt `idx` at `now`: its place goes to the next address, and
    /// its address is queued again once that has left the queue.
    pub(super) fn abandon(&mut self, idx: usize, now: Instant) {
        let addr = self
            .queue
            .address(self.report.attempts[idx].run.picked)
            .addr;
        self.report.abandoned(idx, addr, now);
        self.stopped(idx);
        self.abandoned = Some(u32::try_from(idx).expect("fewer than 2³² attempts"));
    }
}
