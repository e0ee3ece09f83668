//! The attempt budget: how many connection attempts one connector (every race of it and
//! of its clones) has in flight at once.
//!
//! Every attempt holds a [`Permit`] while it runs, and dropping the permit gives its place
//! back. A race with no attempt running takes one with [`Budget::free`], which never
//! waits; its further attempts take one with [`Budget::try_take`] or queue for one with
//! [`Budget::wait`], first come, first served, unless the race abandons an overdue
//! attempt and hands its permit to the next (the race's rule; see [`AttemptBudget`]). A
//! waiter is let in only while fewer than `limit` attempts are in flight, so at most
//! `limit` attempts hold a place they waited or asked for, and each race adds at most one
//! that never waits: the attempts in flight are fewer than the limit plus the races in
//! flight.
//!
//! It is a small policy object the race asks, like the history. What every attempt does
//! is cheap: `free`, and dropping a permit while nobody waits, are a few atomic operations
//! and take no lock; the line ([`queue`], which says why it is not tokio's `Semaphore`) is
//! locked only when someone waits.

mod queue;

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use tracing::debug;

use self::queue::{Line, Ticket};
use crate::metrics::{self, Tally};

/// [`AttemptBudget::FileLimit`] allows one attempt in flight per this many descriptors of
/// the soft file limit.
const FILE_LIMIT_BUDGET_DIVISOR: usize = 4;

/// The least budget [`AttemptBudget::FileLimit`] gives, however low the file limit.
const FILE_LIMIT_BUDGET_MIN: usize = 64;

/// The greatest budget [`AttemptBudget::FileLimit`] gives, an unlimited file limit
/// included.
const FILE_LIMIT_BUDGET_MAX: usize = 65_536;

/// The budget [`AttemptBudget::FileLimit`] gives where the file limit cannot be read.
const FILE_LIMIT_BUDGET_FALLBACK: usize = 1024;

/// How many connection attempts a connector may have in flight at once, over all its races
/// and the races of its clones.
///
/// Each attempt holds a socket, so thousands of concurrent races to hosts with many
/// addresses can open thousands of sockets at once and run the process out of descriptors
/// (`EMFILE`), failing attempts that would have connected. With a budget, the attempts
/// past it wait for one in flight to end, first come, first served.
///
/// # Under pressure
///
/// A race with no attempt running always starts one, whatever the budget says, so no race
/// ever waits for another to begin. When the budget is spent and a race's schedule wants
/// its next attempt, the race waits for a place in line, unless one of its running
/// attempts is **overdue**: then it abandons that attempt (closing its socket with a
/// reset, as a losing attempt's) and starts the next address in its place, with its
/// place in the budget. So under pressure each race dials one address at a time, as a
/// plain client does, but never waits minutes for the kernel to give up on a blackholed
/// address (about 130 s on Linux, 75 s on macOS).
///
/// - An attempt is overdue once it has run longer than its delay: the schedule's attempt
///   delay, or under [`Schedule::learned`](crate::Schedule::learned) a known address's
///   expected handshake time, at least 100 ms (so that a zero delay, as
///   [`race_all`](crate::Schedule::race_all)'s, does not abandon at once) and at most
///   2 s, the bounds of draft-ietf-happy-happyeyeballs-v3's attempt delay. While its TLS
///   handshake runs, the time counts from its TCP connecting.
/// - An abandoned address goes back to the race's list, behind every address not yet
///   tried as often, and its next attempt is given twice the delay. A path merely slower
///   than its delay so connects on a later try.
/// - An attempt whose doubled delay would pass 2 s is never abandoned: it runs until it
///   connects or fails, as a plain client's.
/// - An abandoned attempt is listed with [`Outcome::Abandoned`](crate::Outcome::Abandoned),
///   and in a failed race's error as a timeout of its own.
///
/// The attempts in flight stay fewer than the limit plus the races in flight (one per race
/// beyond the limit when every race is at its first attempt): an abandoned attempt gives
/// its socket and its place to the one that replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptBudget {
    /// A quarter of the process's soft `RLIMIT_NOFILE`, at least 64 and at most 65,536
    /// (an unlimited file limit included), and 1,024 where the limit cannot be read
    /// (systems other than unix, or a failing `getrlimit`): a soft limit of 1,024 gives
    /// 256, one of 20,000 gives 5,000. Each attempt holds a socket; the other three
    /// quarters are left to the connections won and to the rest of the program (files,
    /// listeners, accepted connections).
    ///
    /// The limit is read once, when the first attempt takes a permit, not when the
    /// connector is built: a program that raises its own limit at start-up, after building
    /// a connector, gets a budget from the raised limit. A later change is not seen.
    FileLimit,
    /// At most this many attempts in flight at once, except that a race with no attempt
    /// running still starts one. `Fixed(0)` is allowed: every race then runs one attempt
    /// at a time, moving past an overdue one (see [Under pressure](#under-pressure)).
    Fixed(usize),
    /// No limit: every attempt starts when its schedule says.
    Unbounded,
}

impl Default for AttemptBudget {
    /// [`AttemptBudget::FileLimit`].
    fn default() -> Self {
        AttemptBudget::FileLimit
    }
}

impl AttemptBudget {
    /// The limit it stands for, reading the file limit for `FileLimit`; `None` when
    /// unbounded.
    fn resolve(self) -> Option<usize> {
        match self {
            AttemptBudget::FileLimit => {
                let soft = soft_file_limit();
                let limit = file_limit_budget(soft);
                debug!(soft_file_limit = soft, limit, "attempt budget sized");
                Some(limit)
            }
            AttemptBudget::Fixed(limit) => Some(limit),
            AttemptBudget::Unbounded => None,
        }
    }
}

/// The budget [`AttemptBudget::FileLimit`] gives for a soft `RLIMIT_NOFILE` of `soft`
/// (`None`: it could not be read).
pub(crate) fn file_limit_budget(soft: Option<u64>) -> usize {
    match soft {
        None => FILE_LIMIT_BUDGET_FALLBACK,
        Some(soft) => (usize::try_from(soft).unwrap_or(usize::MAX) / FILE_LIMIT_BUDGET_DIVISOR)
            .clamp(FILE_LIMIT_BUDGET_MIN, FILE_LIMIT_BUDGET_MAX),
    }
}

/// The process's soft `RLIMIT_NOFILE` (`RLIM_INFINITY` as it is, a huge number).
#[cfg(unix)]
pub(crate) fn soft_file_limit() -> Option<u64> {
    rlimit::Resource::NOFILE.get_soft().ok()
}

/// No `RLIMIT_NOFILE` to read.
#[cfg(not(unix))]
pub(crate) fn soft_file_limit() -> Option<u64> {
    None
}

/// A snapshot of an attempt budget's use.
///
/// Each number is read on its own, so a snapshot taken while attempts start and end may
/// not match any single instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetUse {
    limit: Option<usize>,
    in_flight: usize,
    waiting: usize,
    peak: usize,
}

impl BudgetUse {
    /// How many attempts may be in flight at once (a race with no attempt running still
    /// starts one); `None` when unbounded. A [`AttemptBudget::FileLimit`] not yet read is
    /// read for the snapshot.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// The attempts in flight, those started by races with no other attempt running
    /// included (which may take the count over the limit).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The attempts waiting for a place.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// The most attempts in flight at once since the budget was made.
    pub fn peak(&self) -> usize {
        self.peak
    }
}

/// The attempt budget of one connector and its clones (shared in an `Arc`).
pub(crate) struct Budget {
    sizing: AttemptBudget,
    /// The limit (`None`: unbounded), resolved when the first permit is taken.
    limit: OnceLock<Option<usize>>,
    line: Line,
    /// Its limit's part of `connie.budget.limit`, once resolved.
    metric: metrics::Part,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("sizing", &self.sizing)
            .field("limit", &self.limit.get())
            .field("line", &self.line)
            .finish()
    }
}

impl Budget {
    /// A budget with nothing in flight; a [`AttemptBudget::FileLimit`] is read later,
    /// when the first permit is taken.
    pub(crate) fn new(sizing: AttemptBudget) -> Budget {
        Budget {
            sizing,
            limit: OnceLock::new(),
            line: Line::new(),
            metric: metrics::Part::new(Tally::BudgetLimit),
        }
    }

    /// The limit, resolving it on first use; `None` when unbounded.
    #[inline]
    fn limit(&self) -> Option<usize> {
        *self.limit.get_or_init(|| {
            let limit = self.sizing.resolve();
            self.metric.set(limit.unwrap_or(0));
            limit
        })
    }

    /// A permit for a race that has no attempt running: never waits, never fails, and may
    /// take the attempts in flight over the limit.
    // Inlined: every race's first attempt takes one, a connect to one address no other.
    #[inline]
    pub(crate) fn free(&self) -> Permit<'_> {
        self.limit();
        self.line.add();
        Permit { budget: self }
    }

    /// A permit if fewer than the limit are in flight and nobody waits (a waiter is never
    /// overtaken); always one when unbounded.
    pub(crate) fn try_take(&self) -> Option<Permit<'_>> {
        let Some(limit) = self.limit() else {
            return Some(self.free());
        };
        // A permit only for a place taken: dropping one gives a place back.
        if self.line.try_take(limit) {
            Some(Permit { budget: self })
        } else {
            None
        }
    }

    /// Waits for a permit, first come, first served; see [`Wait`].
    pub(crate) fn wait(&self) -> Wait<'_> {
        Wait {
            budget: self,
            stage: Stage::Start,
        }
    }

    /// How much of the budget is in use; reads a [`AttemptBudget::FileLimit`] not read yet.
    pub(crate) fn usage(&self) -> BudgetUse {
        BudgetUse {
            limit: self.limit(),
            in_flight: self.line.in_flight(),
            waiting: self.line.waiting(),
            peak: self.line.peak(),
        }
    }

    /// A [`Wait`]'s first poll: a permit at once if a place is free and nobody waits, or
    /// when unbounded; otherwise a ticket at the back of the line.
    fn enqueue(&self, waker: &Waker) -> Result<Permit<'_>, Ticket> {
        let Some(limit) = self.limit() else {
            return Ok(self.free());
        };
        self.line.enqueue(limit, waker)?;
        Ok(Permit { budget: self })
    }

    /// A permit's drop: its place to the first waiter, if any.
    #[inline]
    fn release(&self) {
        if self.line.release() {
            // Someone waits, so a permit was taken and the limit is known and finite.
            if let Some(limit) = self.limit() {
                self.line.grant(limit);
            }
        }
    }
}

/// One attempt's place in the budget; dropping it gives the place back (to the first
/// waiter, if any).
#[must_use = "the place is given back as soon as the permit is dropped"]
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    budget: &'a Budget,
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.budget.release();
    }
}

/// Waits for a [`Permit`] of a [`Budget`], first come, first served: the returned future
/// of [`Budget::wait`].
///
/// Its place in line is taken at its first poll. It resolves at once if a place is free
/// and nobody waits, or when unbounded; otherwise when a permit given back finds it at the
/// head of the line. With a limit of 0 it never resolves: a race uses [`Budget::free`]
/// when it has no attempt running.
///
/// # Cancel safety
///
/// Dropping it leaves the line. If a place was handed to it already, that place goes to
/// the next waiter: no place is lost.
///
/// # Panics
///
/// When polled after it resolved.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub(crate) struct Wait<'a> {
    budget: &'a Budget,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// Not polled yet.
    Start,
    /// In the line.
    Queued(Ticket),
    /// Resolved.
    Done,
}

impl<'a> Future for Wait<'a> {
    type Output = Permit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let this = &mut *self;
        let budget = this.budget;
        match &this.stage {
            Stage::Start => match budget.enqueue(cx.waker()) {
                Ok(permit) => {
                    this.stage = Stage::Done;
                    Poll::Ready(permit)
                }
                Err(ticket) => {
                    this.stage = Stage::Queued(ticket);
                    Poll::Pending
                }
            },
            Stage::Queued(ticket) => {
                if ticket.granted(cx.waker()) {
                    this.stage = Stage::Done;
                    Poll::Ready(Permit { budget })
                } else {
                    Poll::Pending
                }
            }
            Stage::Done => panic!("`Wait` polled after it resolved"),
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Stage::Queued(ticket) = mem::replace(&mut self.stage, Stage::Done) {
            if self.budget.line.leave(&ticket) {
                // Handed a place already: it goes to the next waiter.
                drop(Permit {
                    budget: self.budget,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use futures_util::task::noop_waker_ref;

    pub(super) fn fixed(limit: usize) -> Budget {
        Budget::new(AttemptBudget::Fixed(limit))
    }

    /// Polls once, with a waker that does nothing.
    pub(super) fn poll<'a>(wait: &mut Wait<'a>) -> Poll<Permit<'a>> {
        Pin::new(wait).poll(&mut Context::from_waker(noop_waker_ref()))
    }

    pub(super) fn granted<'a>(wait: &mut Wait<'a>) -> Permit<'a> {
        match poll(wait) {
            Poll::Ready(permit) => permit,
            Poll::Pending => panic!("expected a permit"),
        }
    }

    pub(super) fn queued(budget: &Budget) -> Wait<'_> {
        let mut wait = budget.wait();
        assert!(poll(&mut wait).is_pending(), "expected to wait");
        wait
    }

    /// (in flight, waiting)
    pub(super) fn counts(budget: &Budget) -> (usize, usize) {
        let usage = budget.usage();
        (usage.in_flight(), usage.waiting())
    }

    /// The defaults the docs promise, written out as numbers.
    #[test]
    fn defaults_are_the_documented_numbers() {
        assert_eq!(AttemptBudget::default(), AttemptBudget::FileLimit);
        assert_eq!(FILE_LIMIT_BUDGET_DIVISOR, 4);
        assert_eq!(FILE_LIMIT_BUDGET_MIN, 64);
        assert_eq!(FILE_LIMIT_BUDGET_MAX, 65_536);
        assert_eq!(FILE_LIMIT_BUDGET_FALLBACK, 1024);
    }

    #[test]
    fn the_file_limit_rule() {
        let table = [
            (Some(1024), 256),
            (Some(20_000), 5_000),
            (Some(4096), 1024),
            (Some(256), 64), // macOS's default soft limit
            (Some(100), 64),
            (Some(0), 64),
            (Some(262_144), 65_536),
            (Some(1 << 40), 65_536),
            (Some(u64::MAX), 65_536),
            (None, 1024),
        ];
        for (soft, limit) in table {
            assert_eq!(file_limit_budget(soft), limit, "soft limit {soft:?}");
        }
        #[cfg(unix)]
        assert_eq!(file_limit_budget(Some(rlimit::INFINITY)), 65_536);
    }

    /// Built before a program raises its limit, used after: the limit is read at the first
    /// permit, not at construction.
    #[test]
    fn the_file_limit_is_read_at_first_use() {
        let budget = Budget::new(AttemptBudget::FileLimit);
        assert_eq!(budget.limit.get(), None);
        drop(budget.free());
        let expected = file_limit_budget(soft_file_limit());
        assert_eq!(budget.limit.get(), Some(&Some(expected)));
        assert_eq!(budget.usage().limit(), Some(expected));
    }

    #[test]
    fn free_never_waits_and_may_overdraw() {
        let budget = fixed(1);
        let first = budget.try_take().expect("a place is free");
        let _waiter = queued(&budget);
        let frees: Vec<_> = (0..3).map(|_| budget.free()).collect();
        assert_eq!(
            counts(&budget),
            (4, 1),
            "over the limit of 1, a waiter or not"
        );
        drop(frees);
        drop(first);
        assert_eq!(counts(&budget), (1, 0), "the waiter got the place");
    }

    #[test]
    fn try_take_respects_the_limit() {
        let budget = fixed(2);
        let a = budget.try_take().expect("1 of 2");
        let b = budget.try_take().expect("2 of 2");
        assert!(budget.try_take().is_none());
        drop(a);
        let c = budget.try_take().expect("a place was given back");
        assert!(budget.try_take().is_none());
        drop((b, c));
        assert_eq!(counts(&budget), (0, 0));
    }

    #[test]
    fn unbounded_never_refuses_nor_waits() {
        let budget = Budget::new(AttemptBudget::Unbounded);
        let permits: Vec<_> = (0..1000)
            .map(|_| budget.try_take().expect("unbounded"))
            .collect();
        let waited = granted(&mut budget.wait());
        let usage = budget.usage();
        assert_eq!(usage.limit(), None);
        assert_eq!(
            (usage.in_flight(), usage.waiting(), usage.peak()),
            (1001, 0, 1001)
        );
        drop((permits, waited));
        assert_eq!(counts(&budget), (0, 0));
    }

    /// `Fixed(0)`: only each race's free attempt runs.
    #[test]
    fn fixed_zero_leaves_one_attempt_per_race() {
        let budget = fixed(0);
        assert!(budget.try_take().is_none());
        let race_a = budget.free();
        let race_b = budget.free();
        assert!(budget.try_take().is_none());
        let waiter = queued(&budget);
        drop((race_a, race_b));
        assert_eq!(counts(&budget), (0, 1), "nothing to hand over");
        drop(waiter);
        assert_eq!(counts(&budget), (0, 0));
        assert_eq!(budget.usage().limit(), Some(0));
    }

    #[test]
    fn peak_is_the_most_in_flight_at_once() {
        let budget = fixed(2);
        assert_eq!(budget.usage().peak(), 0);
        let frees: Vec<_> = (0..3).map(|_| budget.free()).collect();
        drop(frees);
        let _one = budget.try_take().expect("a place is free");
        let usage = budget.usage();
        assert_eq!((usage.in_flight(), usage.peak()), (1, 3));
    }

    #[test]
    fn types_are_small_and_thread_safe() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Budget>();
        send_sync::<Permit<'_>>();
        send_sync::<Wait<'_>>();
        send_sync::<AttemptBudget>();
        send_sync::<BudgetUse>();
        assert_eq!(mem::size_of::<Permit<'_>>(), mem::size_of::<usize>());
    }
}
