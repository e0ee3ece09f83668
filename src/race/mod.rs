//! The race engine: addresses in, first connection out.
//!
//! It is generic over the [`Dial`] seam and over the stream of DNS answers, so it knows
//! nothing of sockets or resolvers, and its schedule is tested on a paused clock against a
//! simulated network (see `tests/mod.rs`). [`list`] runs the same bookkeeping without dialing,
//! for a client that connects by itself.

mod attempt;
// Only the `reqwest` feature lists addresses instead of racing them.
#[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
pub(crate) mod list;
pub(crate) mod one;
mod queue;
#[cfg(test)]
mod tests;

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use futures_util::FutureExt;
use tokio::time::{sleep_until, Instant, Sleep};
use tracing::{debug, trace};

use self::attempt::Attempting;
pub(crate) use self::one::{one, Won};
use self::queue::{AddrQueue, Admission, Queued};
use crate::budget::{Budget, Permit, Wait};
use crate::dial::{Destination, Names, Progress};
use crate::error::{AttemptError, DnsError, ErrorKind};
use crate::history::Lesson;
use crate::order::source::short_of_resources;
use crate::order::{Memory, Ranked};
use crate::policy::Policy;
use crate::{Attempt, ConnectError, ConnectInfo, Dial, Family, Outcome, Schedule};

/// The least time a partial deadline gives an attempt, unless less than that is left (Go's
/// `saneMinimum`).
pub(crate) const MIN_PARTIAL_DEADLINE: Duration = Duration::from_secs(2);

/// The least time an attempt runs before its race may abandon it for the next address
/// while the attempt budget is spent: draft-ietf-happy-happyeyeballs-v3's recommended
/// minimum attempt delay, so that a zero delay (`race_all`) does not abandon at once.
pub(crate) const MIN_ABANDON_DELAY: Duration = Duration::from_millis(100);

/// The most time an attempt runs before its race may abandon it for the next address
/// while the attempt budget is spent (the draft's maximum attempt delay); an address whose
/// doubled delay would be longer is kept until it connects or fails.
pub(crate) const MAX_ABANDON_DELAY: Duration = Duration::from_secs(2);

/// How long an attempt given `delay` before the next one (`None`: until it fails) runs
/// before its race may abandon it while the budget is spent, its address having been
/// abandoned `abandoned` times before in this race: the delay within
/// [`MIN_ABANDON_DELAY`]..=[`MAX_ABANDON_DELAY`], doubled for each earlier abandonment.
/// `None` once that passes the maximum: the attempt is never abandoned.
fn abandon_after(delay: Option<Duration>, abandoned: u32) -> Option<Duration> {
    let base = delay.map_or(MAX_ABANDON_DELAY, |d| {
        d.clamp(MIN_ABANDON_DELAY, MAX_ABANDON_DELAY)
    });
    let after = base.checked_mul(2u32.checked_pow(abandoned)?)?;
    (after <= MAX_ABANDON_DELAY).then_some(after)
}

/// Everything the engine needs to know about how to run one race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) schedule: Schedule,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    /// Go's partial deadline: each attempt gets the time left divided by the addresses
    /// left (at least [`MIN_PARTIAL_DEADLINE`]).
    pub(crate) partial_deadlines: bool,
    pub(crate) max_concurrent: usize,
    pub(crate) max_addresses: usize,
    pub(crate) policy: Option<Policy>,
    /// Addresses given as a list are attempted in the order given: no sorting, no
    /// interleaving of the families.
    pub(crate) keep_given_order: bool,
}

impl Plan {
    /// When a race started at `start` must end; none without a total timeout, or when the
    /// deadline is too far for the clock to hold.
    pub(crate) fn deadline(&self, start: Instant) -> Option<Instant> {
        self.total_timeout.and_then(|t| start.checked_add(t))
    }
}

/// One DNS answer, or the literal addresses of a target that needs no DNS.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The family this answer completes; `None` for literal addresses (no lookup made).
    pub(crate) family: Option<Family>,
    pub(crate) result: Result<Vec<SocketAddr>, DnsError>,
    /// The resolver sorted these addresses already (`getaddrinfo`: RFC 6724 with
    /// `/etc/gai.conf`): the race keeps that order, and ranks them by RFC 6724's rule 1 and
    /// the history only.
    pub(crate) sorted: bool,
}

impl Answer {
    pub(crate) fn literal(addrs: Vec<SocketAddr>) -> Answer {
        Answer {
            family: None,
            result: Ok(addrs),
            sorted: false,
        }
    }
}

enum Event<'a, C> {
    Attempt(usize, io::Result<C>),
    Dns(Option<Answer>),
    /// The permit this race waited for.
    Permit(Permit<'a>),
    Timer,
}

/// Bookkeeping of one race; the I/O lives in [`race`].
struct State<'a> {
    plan: &'a Plan,
    memory: Memory<'a>,
    start: Instant,
    queue: AddrQueue,
    attempts: Vec<Attempt>,
    /// Each attempt's address as it left the queue (with the source address the system
    /// chose for it), in start order: queued again if the attempt is abandoned.
    picked: Vec<Queued>,
    /// The delay each attempt was given before the next one, in start order.
    delays: Vec<Option<Duration>>,
    /// The delay each attempt's handshake is given once its transport is up, in start
    /// order: a known address's expected handshake time under the learned schedule, else
    /// the attempt's delay again.
    handshake_delays: Vec<Option<Duration>>,
    /// Attempts running, per family: `[V4, V6]`.
    running: [usize; 2],
    /// Attempts started, per family: `[V4, V6]`.
    started: [usize; 2],
    /// Each failed attempt's error with the index of its attempt, in the order they came.
    errors: Vec<(usize, AttemptError)>,
    dns_errors: Vec<DnsError>,
    refused: Vec<SocketAddr>,
    dns_v4: Option<Duration>,
    dns_v6: Option<Duration>,
    /// When the next attempt may start; `None` until an attempt fails (sequential).
    next_allowed: Option<Instant>,
    /// Set when the first attempt has to wait for the preferred family's answer: until
    /// when (`None` inside: until that answer, the delay being too long for a clock).
    resolution_gate: Option<Option<Instant>>,
    /// The learned schedule is on for this race (its best address was known, and it does
    /// not explore): known addresses get their expected handshake time before the next
    /// attempt, until the first unknown one.
    learning: bool,
    /// The race started its best known address alone, as the history said.
    used_history: bool,
    /// One literal address: nothing to choose between, nothing to rank or learn.
    plain: bool,
    /// The resolver sorts its answers itself (see [`Answer::sorted`]).
    resolver_sorted: bool,
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl<'a> State<'a> {
    fn new(plan: &'a Plan, memory: Memory<'a>, start: Instant) -> Self {
        let s = &plan.schedule;
        State {
            plan,
            memory,
            start,
            queue: AddrQueue::new(s.preferred_family, s.first_family_count, plan.max_addresses),
            attempts: Vec::new(),
            picked: Vec::new(),
            delays: Vec::new(),
            handshake_delays: Vec::new(),
            running: [0; 2],
            started: [0; 2],
            errors: Vec::new(),
            dns_errors: Vec::new(),
            refused: Vec::new(),
            dns_v4: None,
            dns_v6: None,
            next_allowed: Some(start),
            resolution_gate: None,
            learning: false,
            used_history: false,
            plain: false,
            resolver_sorted: false,
        }
    }

    /// The family the Resolution Delay waits for: the preferred one, else IPv6 (RFC 8305).
    fn preferred(&self) -> Family {
        self.plan.schedule.preferred_family.unwrap_or(Family::V6)
    }

    fn running(&self) -> usize {
        self.running.iter().sum()
    }

    /// The first attempt waits (up to the Resolution Delay) for the preferred family when
    /// only the other family has answered so far.
    fn gated(&self, now: Instant) -> bool {
        let preferred = self.preferred();
        self.attempts.is_empty()
            && !self.queue.is_answered(preferred)
            && !self.queue.has(preferred)
            && self
                .resolution_gate
                .is_some_and(|until| until.is_none_or(|until| now < until))
    }

    /// Whether an attempt to an address of `family` may start under the concurrency cap.
    ///
    /// While the other family has no attempt yet but may still get one (its lookup is
    /// pending, or its addresses are queued), one slot stays free for it, so attempts of
    /// one family hanging on blackholed addresses can never shut the other family out.
    fn may_start(&self, family: Family) -> bool {
        let max = self.plan.max_concurrent;
        let other = family.other();
        let other_may_come = !self.queue.is_answered(other) || self.queue.has(other);
        let reserve = usize::from(max >= 2 && self.started[slot(other)] == 0 && other_may_come);
        self.running() < max && self.running[slot(family)] < max - reserve
    }

    /// Whether an address is queued whose attempt the concurrency cap would let start.
    fn startable(&self) -> bool {
        [Family::V6, Family::V4]
            .into_iter()
            .any(|f| self.queue.has(f) && self.may_start(f))
    }

    /// The timeout of an attempt starting now: the per-attempt timeout, shortened to the
    /// partial deadline when that is on.
    fn attempt_timeout(&self, now: Instant, deadline: Option<Instant>) -> Option<Duration> {
        let partial = match deadline {
            Some(deadline) if self.plan.partial_deadlines => {
                let left = deadline.saturating_duration_since(now);
                // This attempt's address has left the queue already.
                let addresses = u32::try_from(self.queue.len() + 1).unwrap_or(u32::MAX);
                let share = left / addresses;
                Some(if share < MIN_PARTIAL_DEADLINE {
                    left.min(MIN_PARTIAL_DEADLINE)
                } else {
                    share
                })
            }
            _ => None,
        };
        match (self.plan.attempt_timeout, partial) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the schedule lets an attempt start now.
    fn ready(&self, now: Instant) -> bool {
        self.startable() && !self.gated(now) && self.next_allowed.is_some_and(|t| t <= now)
    }

    /// The address whose attempt starts now, the schedule being [`ready`](Self::ready).
    fn next_attempt(&mut self, now: Instant) -> Option<SocketAddr> {
        let [v4, v6] = [Family::V4, Family::V6].map(|f| self.may_start(f));
        let queued = self.queue.pop(|f| if f == Family::V4 { v4 } else { v6 })?;
        let addr = queued.addr;
        let expected = queued.known.expected();
        let expected_transport = queued.known.expected_transport();
        if self.attempts.is_empty() && self.plan.schedule.learned && expected.is_some() {
            let explore = self.memory.history.is_some_and(|h| h.explore());
            if explore {
                debug!(%addr, "exploring: racing every address despite the history");
            }
            self.learning = !explore;
            self.used_history = !explore;
        }
        let (delay, handshake_delay) = match expected_transport {
            Some(transport) if self.learning => {
                // A host that failed lately is given its time in the measure it succeeds:
                // trying it again costs a SYN beside the next address, not a wait.
                let failing = queued.known.failing();
                let succeeding = if failing.is_nan() {
                    1.0
                } else {
                    (1.0 - failing).clamp(0.0, 1.0)
                };
                let handshake = queued.known.expected_handshake();
                (
                    Some(transport.mul_f64(succeeding)),
                    handshake.or(Some(transport)),
                )
            }
            _ => {
                // The first unknown address ends the learned part of the race.
                self.learning = false;
                let delay = self.plan.schedule.attempt_delay;
                (delay, delay)
            }
        };
        // A delay too long for the clock never comes: `None`, as for "after a failure".
        self.next_allowed = delay.and_then(|d| now.checked_add(d));
        let family = slot(Family::of(&addr));
        self.running[family] += 1;
        self.started[family] += 1;
        self.attempts.push(Attempt {
            addr,
            started: now - self.start,
            duration: Duration::ZERO,
            outcome: Outcome::Cancelled,
            expected,
            transport: None,
        });
        self.picked.push(queued);
        self.delays.push(delay);
        self.handshake_delays.push(handshake_delay);
        Some(addr)
    }

    /// When running attempt `idx` may be abandoned: [`abandon_after`] its delay past its
    /// start, or its handshake's delay past its transport connecting while its handshake
    /// runs; `None` for never.
    fn overdue_at(&self, idx: usize) -> Option<Instant> {
        let a = &self.attempts[idx];
        let delay = match a.transport {
            Some(_) => self.handshake_delays[idx],
            None => self.delays[idx],
        };
        let after = abandon_after(delay, self.picked[idx].abandoned)?;
        let from = a.started + a.transport.unwrap_or_default();
        self.start.checked_add(from)?.checked_add(after)
    }

    /// The running attempts with when each may be abandoned.
    fn abandonable(&self) -> impl Iterator<Item = (Instant, usize)> + '_ {
        (0..self.attempts.len())
            .filter(|&idx| self.attempts[idx].outcome == Outcome::Cancelled)
            .filter_map(|idx| Some((self.overdue_at(idx)?, idx)))
    }

    /// The running attempt to abandon for the next address when the budget has no place:
    /// the one overdue longest, if any is overdue at `now`.
    fn overdue(&self, now: Instant) -> Option<usize> {
        let (at, idx) = self.abandonable().min()?;
        (at <= now).then_some(idx)
    }

    /// When the first running attempt becomes overdue: what a race waiting for a place
    /// wakes for.
    fn next_overdue(&self) -> Option<Instant> {
        self.abandonable().map(|(at, _)| at).min()
    }

    /// Abandons running attempt `idx` at `now`: its place goes to the next address, and
    /// its address is queued again by [`retry`](Self::retry) once that has left the
    /// queue.
    fn abandon(&mut self, idx: usize, now: Instant) {
        let attempt = &mut self.attempts[idx];
        attempt.duration = now - self.start - attempt.started;
        attempt.outcome = Outcome::Abandoned;
        debug!(addr = %attempt.addr, after = ?attempt.duration, "attempt abandoned for the next address: the budget is spent");
        let error = io::Error::new(
            io::ErrorKind::TimedOut,
            "abandoned for the next address while the attempt budget was spent",
        );
        self.errors
            .push((idx, AttemptError::new(attempt.addr, error)));
        self.running[slot(Family::of(&attempt.addr))] -= 1;
    }

    /// Queues the address of abandoned attempt `idx` again, behind every address not yet
    /// tried as often.
    fn retry(&mut self, idx: usize) {
        self.queue.retry(self.picked[idx]);
    }

    /// When the schedule could next start an attempt without any other event happening.
    fn wake_at(&self) -> Option<Instant> {
        if !self.startable() {
            return None;
        }
        let next = self.next_allowed?;
        match self.resolution_gate {
            // Gated with no end: only the preferred family's answer opens the gate.
            Some(gate) if self.gated(next) => gate.map(|gate| gate.max(next)),
            _ => Some(next),
        }
    }

    fn on_answer(&mut self, answer: Answer, now: Instant) {
        let elapsed = now - self.start;
        self.resolver_sorted |= answer.sorted;
        match answer.family {
            Some(Family::V4) => self.dns_v4 = Some(elapsed),
            Some(Family::V6) => self.dns_v6 = Some(elapsed),
            None => {}
        }
        match answer.result {
            Ok(addrs) => {
                debug!(family = ?answer.family, count = addrs.len(), "addresses received");
                if answer.family.is_none() {
                    self.plain = addrs.len() == 1;
                    if self.plan.keep_given_order {
                        self.queue.keep_given_order();
                    }
                }
                for addr in addrs {
                    self.admit(addr, now);
                }
            }
            Err(error) => {
                // The error itself goes back to the caller, so only its family is logged.
                debug!(family = ?answer.family, "lookup failed");
                self.dns_errors.push(error);
            }
        }
        match answer.family {
            Some(family) => self.answered(family, now),
            None => self.answered_all(now),
        }
        let preferred = self.preferred();
        if answer.family == Some(preferred.other()) && self.resolution_gate.is_none() {
            let delay = self.plan.schedule.resolution_delay;
            self.resolution_gate = Some(now.checked_add(delay));
        }
    }

    /// Marks `family`'s lookup finished; addresses of the other family held back for it
    /// join the race if they fit.
    fn answered(&mut self, family: Family, now: Instant) {
        for addr in self.queue.answered(family) {
            self.enqueue(addr, now);
        }
    }

    /// Marks both lookups finished: DNS is over, or there was none.
    fn answered_all(&mut self, now: Instant) {
        self.answered(Family::V4, now);
        self.answered(Family::V6, now);
    }

    /// Queues `addr` for an attempt, unless it is a duplicate, over the address cap, or
    /// refused by the address policy (then it is never dialed).
    fn admit(&mut self, addr: SocketAddr, now: Instant) {
        match self.queue.admit(addr) {
            Admission::Taken => self.enqueue(addr, now),
            Admission::Held => trace!(%addr, "address held back for the other family"),
            Admission::Duplicate | Admission::Dropped => {
                trace!(%addr, "address skipped (duplicate or over the address cap)");
            }
        }
    }

    /// Queues a taken address in its place by rank, unless the address policy refuses it.
    fn enqueue(&mut self, addr: SocketAddr, now: Instant) {
        if self.plan.policy.as_ref().is_some_and(|p| !p.0.allows(addr)) {
            debug!(%addr, "address refused by policy");
            self.refused.push(addr);
        } else {
            let ranked = if self.plain {
                Ranked::plain()
            } else {
                self.memory.rank(addr, !self.resolver_sorted, now)
            };
            self.queue.push(addr, ranked);
        }
    }

    /// Tells the history what this race's attempts taught, as of `now` (every attempt
    /// still running counted as cancelled then).
    fn learn(&mut self, now: Instant) {
        self.cancel_running(now);
        let Some(history) = self.memory.history.filter(|_| !self.plain) else {
            return;
        };
        // An attempt that found the process or the system short of descriptors, buffers
        // or memory says nothing about its address.
        let local: Vec<usize> = self
            .errors
            .iter()
            .filter(|(_, e)| short_of_resources(e.error()))
            .map(|&(idx, _)| idx)
            .collect();
        let lessons = self
            .attempts
            .iter()
            .zip(&self.picked)
            .enumerate()
            .filter(|(idx, _)| !local.contains(idx))
            .filter_map(|(_, (a, picked))| {
                let lesson = match a.outcome {
                    // The transport's handshake is the address's round trip; a TLS
                    // handshake on top is a phase of its own, with the server's time.
                    Outcome::Connected => match a.transport {
                        Some(transport) => Lesson::Secured {
                            transport,
                            handshake: a.duration.saturating_sub(transport),
                        },
                        None => Lesson::Connected(a.duration),
                    },
                    Outcome::Failed { kind, .. } => Lesson::Failed(kind),
                    Outcome::TimedOut => Lesson::Failed(io::ErrorKind::TimedOut),
                    Outcome::Cancelled | Outcome::Abandoned => match a.expected {
                        Some(expected) if a.duration >= expected => Lesson::Overdue,
                        _ => return None,
                    },
                };
                Some((a.addr, picked.source, lesson))
            });
        history.learn(lessons, now);
    }

    /// Attempt `idx` reported its transport up at `at`, its handshake (TLS) running: while
    /// that handshake runs, no new attempt starts before `at` plus the delay its handshake
    /// is given (draft-ietf-happy-happyeyeballs-v3: wait for the security handshake before
    /// racing more): a known address's expected handshake time under the learned
    /// schedule, else the attempt's own delay again. A failure of the handshake still
    /// starts the next attempt at once.
    fn on_transport(&mut self, idx: usize, at: Instant) {
        let attempt = &mut self.attempts[idx];
        if attempt.outcome != Outcome::Cancelled || attempt.transport.is_some() {
            return; // over, or reported twice
        }
        let transport = at - self.start - attempt.started;
        attempt.transport = Some(transport);
        trace!(addr = %attempt.addr, ?transport, "transport connected, handshake running");
        if let (Some(next), Some(delay)) = (self.next_allowed, self.handshake_delays[idx]) {
            // Past what the clock holds: the next attempt waits for an event.
            self.next_allowed = at.checked_add(delay).map(|t| t.max(next));
        }
    }

    fn on_failure(&mut self, idx: usize, error: io::Error, now: Instant) {
        let attempt = &mut self.attempts[idx];
        attempt.duration = now - self.start - attempt.started;
        attempt.outcome = match error.kind() {
            io::ErrorKind::TimedOut => Outcome::TimedOut,
            kind => Outcome::Failed {
                kind,
                reason: crate::error::reason(&error).into(),
            },
        };
        trace!(addr = %attempt.addr, kind = ?error.kind(), "attempt failed");
        self.errors
            .push((idx, AttemptError::new(attempt.addr, error)));
        self.running[slot(Family::of(&attempt.addr))] -= 1;
        // A failure starts the next attempt at once, without waiting for the delay.
        self.next_allowed = Some(self.next_allowed.map_or(now, |t| t.min(now)));
    }

    /// Marks every attempt still running as cancelled, as of `now`.
    fn cancel_running(&mut self, now: Instant) {
        for a in &mut self.attempts {
            if a.outcome == Outcome::Cancelled {
                a.duration = now - self.start - a.started;
            }
        }
    }

    fn exhausted(mut self) -> ConnectError {
        let kind = if !self.attempts.is_empty() {
            ErrorKind::AllAttemptsFailed
        } else if !self.refused.is_empty() {
            ErrorKind::RefusedByPolicy
        } else if !self.dns_errors.is_empty() {
            ErrorKind::Dns
        } else {
            ErrorKind::NoAddresses
        };
        let looked_up = self.dns_v4.is_some() || self.dns_v6.is_some();
        let errors = self.sorted_errors();
        let error = ConnectError::failed(kind, errors, std::mem::take(&mut self.dns_errors));
        self.not_attempted(error.looked_up(looked_up))
    }

    fn timed_out(mut self, after: Duration) -> ConnectError {
        for (idx, a) in self.attempts.iter().enumerate() {
            if a.outcome == Outcome::Cancelled {
                let error =
                    io::Error::new(io::ErrorKind::TimedOut, "total connect timeout elapsed");
                self.errors.push((idx, AttemptError::new(a.addr, error)));
            }
        }
        let errors = self.sorted_errors();
        let error = ConnectError::timed_out(after, errors, std::mem::take(&mut self.dns_errors));
        self.not_attempted(error)
    }

    /// `error` with the addresses the policy refused and the cap left out.
    fn not_attempted(&mut self, error: ConnectError) -> ConnectError {
        error
            .with_refused(std::mem::take(&mut self.refused))
            .with_left_out(self.queue.dropped(), self.plan.max_addresses)
    }

    /// The attempt errors in the order the attempts started.
    fn sorted_errors(&mut self) -> Vec<AttemptError> {
        let mut errors = std::mem::take(&mut self.errors);
        errors.sort_by_key(|&(idx, _)| idx);
        errors.into_iter().map(|(_, error)| error).collect()
    }
}

/// Abandons attempt `idx` among `running`: drops its dial and returns its permit.
fn take_permit<'a, F>(
    running: &mut FuturesUnordered<Attempting<'a, F>>,
    idx: usize,
) -> Option<Permit<'a>> {
    let attempt = Pin::new(running).iter_pin_mut().find(|a| a.idx() == idx)?;
    attempt.abandon()
}

/// Runs one race: dials addresses as `answers` delivers them, on the schedule of `plan`,
/// and returns the first connection to complete, with an account that has no local
/// address (read by the caller that wants one). Every other attempt is dropped before
/// this returns.
///
/// It fails with [`ErrorKind::NoTimeDriver`] before anything else if the runtime cannot
/// make timers.
///
/// Every attempt holds a permit of `budget` while it runs. The first attempt, and any
/// attempt while none runs, takes one without waiting (over the limit if need be); the
/// others wait their turn in the budget's line when it is spent, and the race's own rules
/// go on meanwhile: a failure that leaves nothing running starts the next attempt at once,
/// and a running attempt past its abandon delay gives its place to the next address (see
/// [`AttemptBudget`](crate::AttemptBudget)).
pub(crate) async fn race<D, S>(
    dialer: &D,
    plan: &Plan,
    memory: Memory<'_>,
    budget: &Budget,
    names: Names<'_>,
    mut answers: S,
) -> Result<(D::Connection, ConnectInfo), ConnectError>
where
    D: Dial,
    S: Stream<Item = Answer> + Unpin,
{
    let start = Instant::now();
    // Its schedule and timeouts run on tokio timers.
    crate::runtime::timers(start)?;
    let deadline = plan.deadline(start);
    let mut state = State::new(plan, memory, start);
    let progress = Progress::default();
    let mut running = FuturesUnordered::new();
    let mut dns_open = true;
    // This race's place in the budget's line, while the schedule is ready and every
    // permit is taken; and the permit it got, until its attempt starts.
    let mut waiting: Option<Wait<'_>> = None;
    let mut granted: Option<Permit<'_>> = None;
    let mut timer: Option<Pin<Box<Sleep>>> = None;

    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            debug!(attempts = state.attempts.len(), "total timeout elapsed");
            state.learn(now);
            return Err(state.timed_out(plan.total_timeout.unwrap_or_default()));
        }
        while state.ready(now) {
            // A race with nothing running may always start an attempt, and one whose
            // attempt is overdue moves on in its place: under pressure it dials one
            // address at a time, as a plain client does, but never waits on the kernel.
            let mut abandoned = None;
            let permit = match granted.take() {
                Some(permit) => permit,
                None if state.running() == 0 => budget.free(),
                None => match budget.try_take() {
                    Some(permit) => permit,
                    None => match state
                        .overdue(now)
                        .and_then(|idx| Some((idx, take_permit(&mut running, idx)?)))
                    {
                        Some((idx, permit)) => {
                            state.abandon(idx, now);
                            abandoned = Some(idx);
                            permit
                        }
                        None => {
                            waiting.get_or_insert_with(|| budget.wait());
                            break;
                        }
                    },
                },
            };
            let Some(addr) = state.next_attempt(now) else {
                unreachable!("the schedule was ready");
            };
            if let Some(idx) = abandoned {
                state.retry(idx);
            }
            let idx = state.attempts.len() - 1;
            let timeout = state.attempt_timeout(now, deadline);
            debug!(%addr, attempt = idx, ?timeout, in_flight = budget.usage().in_flight(), "attempt started");
            let to = Destination::new(addr, names, &progress, idx);
            running.push(Attempting::new(idx, dialer.dial(to), timeout, permit));
        }
        if !state.ready(now) {
            // Nothing to start: a place in line, or a permit, would only keep another
            // race waiting.
            waiting = None;
            granted = None;
        }
        if !dns_open && state.running() == 0 && state.queue.is_empty() {
            if state.queue.dropped() > 0 {
                debug!(
                    dropped = state.queue.dropped(),
                    "addresses over the cap were not attempted"
                );
            }
            state.learn(now);
            return Err(state.exhausted());
        }

        // Waiting for a permit, the schedule is ready now: it wakes only to abandon an
        // attempt that becomes overdue.
        let next = if waiting.is_some() {
            state.next_overdue()
        } else {
            state.wake_at()
        };
        // Everything the schedule allows now has started, so its next wake-up is later: a
        // wake-up due now would fire at once, start nothing, and spin this loop forever
        // without yielding (no paused-clock timeout could end that in a test).
        debug_assert!(
            next.is_none_or(|at| at > now),
            "the schedule wakes at {next:?}, not after now ({now:?}), and starts nothing"
        );
        let wake = match (next, deadline) {
            (Some(w), Some(d)) => Some(w.min(d)),
            (w, d) => w.or(d),
        };
        // One timer for the whole race, made the first time the race has to wake itself
        // (a race of attempts all started at once never does), and moved after that.
        if let Some(at) = wake {
            match &mut timer {
                Some(timer) => timer.as_mut().reset(at),
                None => timer = Some(Box::pin(sleep_until(at))),
            }
        }
        let event = poll_fn(|cx| {
            if let Poll::Ready(Some((idx, result))) = running.poll_next_unpin(cx) {
                return Poll::Ready(Event::Attempt(idx, result));
            }
            if dns_open {
                if let Poll::Ready(answer) = answers.poll_next_unpin(cx) {
                    return Poll::Ready(Event::Dns(answer));
                }
            }
            if let Some(Poll::Ready(permit)) = waiting.as_mut().map(|w| w.poll_unpin(cx)) {
                return Poll::Ready(Event::Permit(permit));
            }
            match timer
                .as_mut()
                .filter(|_| wake.is_some())
                .map(|t| t.as_mut().poll(cx))
            {
                Some(Poll::Ready(())) => Poll::Ready(Event::Timer),
                _ => Poll::Pending,
            }
        })
        .await;

        let now = Instant::now();
        for (idx, at) in progress.take() {
            state.on_transport(idx, at);
        }
        match event {
            Event::Attempt(idx, Ok(conn)) => {
                drop(running); // closes every losing socket, including any that also connected
                let won = &mut state.attempts[idx];
                won.outcome = Outcome::Connected;
                won.duration = now - start - won.started;
                let remote_addr = won.addr;
                debug!(addr = %remote_addr, elapsed = ?(now - start), "connected");
                state.learn(now);
                let info = ConnectInfo {
                    remote_addr,
                    local_addr: None,
                    attempts: state.attempts,
                    dns_v4: state.dns_v4,
                    dns_v6: state.dns_v6,
                    refused: state.refused,
                    elapsed: now - start,
                    used_history: state.used_history,
                    alpn: None,
                };
                return Ok((conn, info));
            }
            Event::Attempt(idx, Err(error)) => state.on_failure(idx, error, now),
            Event::Dns(mut answer) => {
                // Answers that are ready together (both families from a cache) join the
                // race together, so the first attempt goes to the best of all of them.
                loop {
                    match answer {
                        Some(answer) => state.on_answer(answer, now),
                        None => {
                            dns_open = false;
                            state.answered_all(now);
                            break;
                        }
                    }
                    match answers.next().now_or_never() {
                        Some(next) => answer = next,
                        None => break,
                    }
                }
            }
            Event::Permit(permit) => {
                waiting = None;
                granted = Some(permit);
            }
            Event::Timer => {}
        }
    }
}
