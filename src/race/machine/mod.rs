//! The race as a state machine: every rule of a race, and no I/O and no waiting.
//!
//! Events go in as plain calls, each with the time as a value: DNS answers
//! ([`answer`](Machine::answer), [`dns_done`](Machine::dns_done)), what became of an
//! attempt ([`transport_up`](Machine::transport_up), [`failed`](Machine::failed),
//! [`won`](Machine::won)), and the attempt budget's reply ([`permit`](Machine::permit)).
//! [`poll`](Machine::poll) says what to do next, one [`Action`] at a time, until it says to
//! wait. A driver does the I/O (`driver.rs` on tokio); the machine's tests are calls with
//! exact times.
//!
//! The machine knows an address by what [`Knowledge`] tells of it, and an attempt by its
//! index, in start order. It asks for an attempt budget permit only for an attempt that
//! would run beside others: a race with nothing running always starts its next attempt.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, trace};

mod follow;
mod intake;
mod queue;
mod start;
mod stop;
#[cfg(test)]
pub(super) mod tests;

use self::follow::Burst;
use self::queue::{AddrQueue, Queued};
use super::report::{attempt_timed_out, Dialed, Report};
use crate::config::Config;
use crate::dns::ServiceEndpoint;
use crate::history::Lesson;
use crate::nanos::Nanos;
use crate::nat64::Pref64;
use crate::order::Ranked;
use crate::schedule::timing::Delays;
use crate::{ConnectError, ConnectInfo, Family};

/// What a race knows of its addresses, and where it tells what it learned: the
/// connector's address history and the RFC 6724 order (`order::Ranking`), or a table in
/// tests.
pub(crate) trait Knowledge {
    /// Ranks `addr` as of `now`; by RFC 6724's rules after the first only if `rfc6724`.
    fn rank(&self, addr: SocketAddr, rfc6724: bool, now: Instant) -> Ranked;

    /// Whether a race that could start its best known address, `best`, alone at `now`
    /// should race every address instead (asked once per such race).
    fn explore(&self, best: SocketAddr, now: Instant) -> bool;

    /// The NAT64 prefix to reach IPv4 addresses through, on a host that reaches IPv6
    /// only: every IPv4 address the race takes is dialed at its IPv6 form under it, and
    /// the address policy judges the IPv4 address any address under it stands for.
    fn nat64(&self) -> Option<&Pref64> {
        None
    }

    /// Records what a finished race taught: `(address, its source address, lesson)`.
    fn learn(
        &self,
        lessons: impl Iterator<Item = (SocketAddr, Option<IpAddr>, Lesson)>,
        now: Instant,
    );
}

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Action {
    /// Start attempt `idx` to `addr`, which serves `endpoint` if it came from an HTTPS
    /// record. It holds the permit the driver was granted for it, if any
    /// ([`permit`](Machine::permit)), else one taken without waiting.
    Start {
        idx: usize,
        addr: SocketAddr,
        endpoint: Option<Arc<ServiceEndpoint>>,
    },
    /// Ask the attempt budget for a permit without waiting, and tell
    /// [`permit`](Machine::permit) whether one came.
    TryPermit,
    /// The race is cold, and would start its first attempt: join the burst of races to
    /// its destination, and tell [`joined`](Machine::joined) whether it follows a probe
    /// (see `burst`).
    Join,
    /// Attempt `idx` is abandoned for the next address: drop its dial and keep its permit
    /// for the next start.
    Abandon(usize),
    /// Attempt `idx` timed out: drop its dial and its permit.
    Drop(usize),
    /// Nothing to do until an event, or until `until`. With `in_line`, hold a place in the
    /// budget's line (and call [`permit`](Machine::permit) when it gives one); without,
    /// give up any place or permit held.
    Wait {
        until: Option<Instant>,
        in_line: bool,
    },
    /// The race failed.
    Failed(ConnectError),
}

/// Where the race stands with the attempt budget for its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permit {
    /// Nothing asked since the last wait.
    None,
    /// [`Action::TryPermit`] asked; the reply is due.
    Asked,
    /// The budget is spent: the race waits in line, or abandons an overdue attempt.
    Spent,
    /// A permit is held for the next attempt.
    Held,
}

/// What the machine keeps of an attempt, with its account in the report.
#[derive(Debug)]
struct Run {
    /// Its address as it left the queue: queued again if the attempt is abandoned.
    picked: Queued,
    /// It runs on the learned schedule's delays for its address, not the schedule's.
    learned: bool,
    /// When it times out, since the race's start; `None` for never (or for a time the
    /// clock cannot hold, or more than 584 years away).
    timeout_at: Option<Nanos>,
}

/// One race: its addresses, its attempts, and what it is waiting for.
pub(crate) struct Machine<'a, K> {
    config: &'a Config,
    knowledge: K,
    /// Its attempts, in start order.
    report: Report<Run>,
    deadline: Option<Instant>,
    queue: AddrQueue,
    /// Attempts running, per family: `[V4, V6]`.
    running: [u32; 2],
    /// Whether an attempt of each family has started: `[V4, V6]`.
    tried: [bool; 2],
    /// Attempts running with a timeout: none, and no attempt need be looked at for one.
    timed: u32,
    dns_open: bool,
    permit: Permit,
    /// The attempt abandoned for the next start, whose address is queued again once that
    /// has left the queue.
    abandoned: Option<u32>,
    /// When the next attempt may start; `None` until an attempt fails (sequential).
    next_allowed: Option<Instant>,
    /// Set when the first attempt has to wait for the preferred family's answer: until
    /// when (`None` inside: until that answer, the delay being too long for a clock).
    resolution_gate: Option<Option<Instant>>,
    /// The learned schedule is on for this race (its best address was known, and it does
    /// not explore): known addresses get their expected times before the next attempt,
    /// until the first unknown one.
    learning: bool,
    /// One literal address: nothing to choose between, nothing to rank or learn.
    plain: bool,
    /// The resolver sorts its answers itself (see
    /// [`Answer::sorted`](crate::dns::Answer::sorted)).
    resolver_sorted: bool,
    /// The race's HTTPS records are asked for and have not answered: the first attempt
    /// waits for them, up to the resolution delay.
    https_pending: bool,
    /// Its part in a burst of cold races to its destination.
    burst: Burst,
}

/// What the race knows of an attempt's address, for its report.
fn dialed(queue: &AddrQueue) -> impl Fn(&Run) -> Dialed + '_ {
    |run| {
        let address = queue.address(run.picked);
        Dialed {
            addr: address.addr,
            source: address.source,
            expected: address.expected(),
        }
    }
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl<'a, K: Knowledge> Machine<'a, K> {
    /// A race that starts at `start`.
    pub(crate) fn new(config: &'a Config, knowledge: K, start: Instant) -> Self {
        let s = &config.schedule;
        let mut queue = AddrQueue::new(
            s.preferred_family,
            s.first_family_count,
            config.max_addresses,
        );
        // A family the connector leaves out has nothing to wait for.
        for family in [Family::V4, Family::V6] {
            if !config.ip_family.allows(family) {
                queue.answered(family);
            }
        }
        Machine {
            config,
            knowledge,
            report: Report::new(start),
            deadline: config.total_timeout.and_then(|t| start.checked_add(t)),
            queue,
            running: [0; 2],
            tried: [false; 2],
            timed: 0,
            dns_open: true,
            permit: Permit::None,
            abandoned: None,
            next_allowed: Some(start),
            resolution_gate: None,
            learning: false,
            plain: false,
            resolver_sorted: false,
            https_pending: false,
            burst: Burst::Off,
        }
    }

    /// When the total timeout ends the race; `None` without one, or when it is too far for
    /// the clock to hold.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Attempts running now.
    fn running(&self) -> usize {
        (self.running[0] + self.running[1]) as usize
    }

    /// The addresses queued, in the order they would be attempted if every one could
    /// start now: for a caller that connects by itself.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = SocketAddr> + '_ {
        std::iter::from_fn(|| {
            let queued = self.queue.pop(|_| true)?;
            Some(self.queue.address(queued).addr)
        })
    }

    /// Whether the race started its best known address alone, as the history said.
    pub(crate) fn used_history(&self) -> bool {
        self.report.used_history
    }

    /// How many addresses the address cap left out.
    pub(crate) fn left_out(&self) -> usize {
        self.queue.dropped()
    }

    // ----- Inputs -----

    /// DNS is over: no answer will come.
    pub(crate) fn dns_done(&mut self, now: Instant) {
        self.dns_open = false;
        self.answered_all(now);
    }

    /// Attempt `idx` reported its transport up at `at`, its handshake (TLS) running: while
    /// that handshake runs, no new attempt starts before `at` plus the delay its handshake
    /// is given (draft-ietf-happy-happyeyeballs-v3: wait for the security handshake before
    /// racing more). A failure of the handshake still starts the next attempt at once.
    pub(crate) fn transport_up(&mut self, at: Instant, idx: usize) {
        let Some(addr) = self.addr(idx) else {
            return;
        };
        if !self.report.transport_up(idx, addr, at) {
            return;
        }
        if let (Some(next), Some(delay)) = (self.next_allowed, self.delays(idx).handshake) {
            // Past what the clock holds: the next attempt waits for an event.
            self.next_allowed = at.checked_add(delay).map(|t| t.max(next));
        }
    }

    /// Attempt `idx` failed at `now`. A failure starts the next attempt at once, without
    /// waiting for the delay.
    pub(crate) fn failed(&mut self, now: Instant, idx: usize, error: io::Error) {
        if !self.is_running(idx) {
            return;
        }
        let addr = self.addr(idx).expect("a started attempt");
        trace!(%addr, kind = ?error.kind(), "attempt failed");
        self.report.failed(idx, addr, error, now);
        self.stopped(idx);
        self.next_allowed = Some(self.next_allowed.map_or(now, |t| t.min(now)));
    }

    /// Attempt `idx` connected at `now`: the race is won. What every attempt taught goes
    /// to the history, and the account of the race comes back (with no local address).
    pub(crate) fn won(mut self, now: Instant, idx: usize) -> ConnectInfo {
        let addr = self.addr(idx).expect("a started attempt");
        debug!(%addr, elapsed = ?now.saturating_duration_since(self.report.start), "connected");
        self.report.connected(idx, addr, now);
        self.learn(now);
        let endpoint = {
            let run = &self.report.attempts[idx].run;
            self.queue.endpoint(self.queue.address(run.picked)).cloned()
        };
        let mut info = self.report.into_info(addr, now, dialed(&self.queue));
        info.endpoint = endpoint;
        info
    }

    /// The attempt budget's reply to [`Action::TryPermit`], or a permit from its line:
    /// whether a permit is now held for the next attempt.
    pub(crate) fn permit(&mut self, granted: bool) {
        self.permit = if granted { Permit::Held } else { Permit::Spent };
    }

    // ----- Output -----

    /// What to do next, at `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> Action {
        if self.deadline.is_some_and(|d| now >= d) {
            debug!(
                attempts = self.report.attempts.len(),
                "total timeout elapsed"
            );
            self.learn(now);
            return Action::Failed(self.timed_out());
        }
        if let Some(idx) = self.expired(now) {
            self.failed(now, idx, attempt_timed_out());
            return Action::Drop(idx);
        }
        self.end_hold(now);
        let startable = self.startable();
        if startable && self.ready(now) {
            debug_assert_ne!(self.permit, Permit::Asked, "a permit asked, and no reply");
            if self.asks_to_join() {
                return Action::Join;
            }
            match self.permit {
                Permit::Held => return self.start(now),
                _ if self.running() == 0 => return self.start(now),
                Permit::None | Permit::Asked => {
                    self.permit = Permit::Asked;
                    return Action::TryPermit;
                }
                Permit::Spent => {
                    // One attempt overdue moves on in its place: under pressure the race
                    // dials one address at a time, as a plain client does, but never
                    // waits on the kernel.
                    if let Some(idx) = self.overdue(now) {
                        self.abandon(idx, now);
                        self.permit = Permit::Held;
                        return Action::Abandon(idx);
                    }
                }
            }
        } else {
            // Nothing to start: a place in line, or a permit, would only keep another race
            // waiting.
            self.permit = Permit::None;
        }
        if !self.dns_open && self.running() == 0 && self.queue.is_empty() {
            // The error counts the addresses the cap left out.
            self.learn(now);
            return Action::Failed(self.exhausted());
        }
        // Waiting for a permit, the schedule is ready now: it wakes only to abandon an
        // attempt that becomes overdue. The next wait's first poll asks the budget again.
        let in_line = self.permit == Permit::Spent;
        let next = if in_line {
            self.next_overdue()
        } else {
            self.wake_at(startable)
        };
        self.permit = Permit::None;
        let until = [next, self.deadline, self.next_timeout()]
            .into_iter()
            .flatten()
            .min();
        // Everything due now has happened (the schedule's starts, the deadline, every
        // timeout), so the next wake-up is later: one due now would change nothing, and
        // spin the driver forever.
        debug_assert!(
            until.is_none_or(|at| at > now),
            "the race wakes at {until:?}, not after now ({now:?}), and nothing happens"
        );
        // Something is still to come: an answer, an attempt's end, a permit from the line,
        // or the wake-up. A race waiting for none of them would hang its driver for good.
        // It reads the counts themselves, not `running()`, so that a wrong sum there cannot
        // hide a hang.
        debug_assert!(
            self.dns_open || self.running != [0; 2] || in_line || until.is_some(),
            "the race waits for nothing that can happen"
        );
        Action::Wait { until, in_line }
    }

    /// The family the Resolution Delay waits for: the preferred one, else IPv6 (RFC 8305).
    fn preferred(&self) -> Family {
        self.config.schedule.preferred_family.unwrap_or(Family::V6)
    }

    fn is_running(&self, idx: usize) -> bool {
        self.report
            .attempts
            .get(idx)
            .is_some_and(|a| a.is_running())
    }

    /// The address of attempt `idx`, if there is one.
    fn addr(&self, idx: usize) -> Option<SocketAddr> {
        let run = &self.report.attempts.get(idx)?.run;
        Some(self.queue.address(run.picked).addr)
    }

    /// The delays of attempt `idx`: its address's learned ones, or the schedule's.
    fn delays(&self, idx: usize) -> Delays {
        let run = &self.report.attempts[idx].run;
        match self.queue.address(run.picked).learned() {
            Some(delays) if run.learned => delays,
            _ => Delays::of(&self.config.schedule),
        }
    }

    /// Tells the history what this race's attempts taught, as of `now` (every attempt
    /// still running counted as cancelled then).
    fn learn(&mut self, now: Instant) {
        self.report.cancel_running(now, dialed(&self.queue));
        if self.plain {
            return;
        }
        let lessons = self.report.lessons(dialed(&self.queue));
        self.knowledge.learn(lessons, now);
    }

    /// The error of a race that ran out of addresses (or, for a caller that lists them
    /// instead of racing, found none).
    pub(crate) fn exhausted(&mut self) -> ConnectError {
        let left_out = self.queue.dropped();
        let max = self.config.max_addresses;
        let error = self.report.exhausted(left_out, max, dialed(&self.queue));
        error.with_skipped(self.report.skipped as usize, self.config.ip_family)
    }

    /// The error of a race whose total timeout elapsed.
    pub(crate) fn timed_out(&mut self) -> ConnectError {
        let after = self.config.total_timeout.unwrap_or_default();
        let left_out = self.queue.dropped();
        let max = self.config.max_addresses;
        let error = self
            .report
            .timed_out(after, left_out, max, dialed(&self.queue));
        error.with_skipped(self.report.skipped as usize, self.config.ip_family)
    }
}

impl<K> std::fmt::Debug for Machine<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("attempts", &self.report.attempts.len())
            .field("running", &self.running)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}
