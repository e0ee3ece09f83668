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
//! and take no lock; the queue is locked only when someone waits.
//!
//! # Lost wake-ups
//!
//! A waiter must never sit in the queue while a place is free and nobody is coming to
//! hand it over. `waiting` (the live waiters) changes only under the queue's lock, and two
//! pairs of operations, all `SeqCst`, order the rest:
//!
//! - a waiter, under the lock, increments `waiting` and then looks at `in_flight`: if a
//!   place is free and nobody is ahead of it, it takes the place instead of queueing;
//! - a releaser decrements `in_flight` and then looks at `waiting`: if it is not 0, it
//!   takes the lock and hands the places that are free to the head of the queue.
//!
//! In the single order of `SeqCst` operations, either the waiter's look comes after the
//! releaser's decrement (the waiter sees the free place), or the releaser's look comes
//! after the waiter's increment (the releaser sees the waiter, and the lock makes it wait
//! until the waiter is in the queue). A waiter that queues behind others while a place is
//! free is safe too: the place was freed by a releaser that saw those others, and it hands
//! places over in order until none is free or nobody waits.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use futures_util::task::AtomicWaker;
use tracing::{debug, trace};

/// Default attempt budget: [`AttemptBudget::FileLimit`].
pub const DEFAULT_ATTEMPT_BUDGET: AttemptBudget = AttemptBudget::FileLimit;

/// [`AttemptBudget::FileLimit`] allows one attempt in flight per this many descriptors of
/// the process's soft `RLIMIT_NOFILE`: 4, so a quarter of the limit.
///
/// Each attempt holds a socket; the other three quarters are left to the connections won
/// and to the rest of the program (files, listeners, accepted connections).
pub const FILE_LIMIT_BUDGET_DIVISOR: usize = 4;

/// The smallest budget [`AttemptBudget::FileLimit`] gives, however low the file limit: 64.
pub const FILE_LIMIT_BUDGET_MIN: usize = 64;

/// The largest budget [`AttemptBudget::FileLimit`] gives, an unlimited file limit
/// included: 65,536.
pub const FILE_LIMIT_BUDGET_MAX: usize = 65_536;

/// The budget [`AttemptBudget::FileLimit`] gives where the file limit cannot be read
/// (systems other than unix, or a failing `getrlimit`): 1,024.
pub const FILE_LIMIT_BUDGET_FALLBACK: usize = 1024;

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
    /// A quarter of the process's soft `RLIMIT_NOFILE` ([`FILE_LIMIT_BUDGET_DIVISOR`]), at
    /// least [`FILE_LIMIT_BUDGET_MIN`] and at most [`FILE_LIMIT_BUDGET_MAX`] (an unlimited
    /// file limit included); [`FILE_LIMIT_BUDGET_FALLBACK`] where the limit cannot be read.
    /// A soft limit of 1,024 gives 256; one of 20,000 gives 5,000.
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
    /// [`DEFAULT_ATTEMPT_BUDGET`].
    fn default() -> Self {
        DEFAULT_ATTEMPT_BUDGET
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

/// A [`Node`] waits for a place.
const WAITING: u8 = 0;
/// A [`Node`] was handed a place: the count in `in_flight` is its own.
const GRANTED: u8 = 1;
/// A [`Node`]'s `Wait` was dropped before a place came; the queue skips it.
const CANCELLED: u8 = 2;

/// One waiter's place in the queue.
#[derive(Debug)]
struct Node {
    /// [`WAITING`], [`GRANTED`] or [`CANCELLED`]; written only under the queue's lock,
    /// read by its `Wait` without it.
    state: AtomicU8,
    waker: AtomicWaker,
}

/// The waiters, oldest first, with the cancelled ones not yet taken out.
///
/// Once its lock is released it is empty or holds a live waiter: the last live waiter to
/// be cancelled takes the cancelled out, and a grant takes out those before the next live
/// one.
#[derive(Debug, Default)]
struct Queue {
    nodes: VecDeque<Arc<Node>>,
    /// How many of `nodes` are cancelled.
    cancelled: usize,
}

impl Queue {
    /// Takes out the oldest live waiter, and the cancelled ones before it.
    fn pop_live(&mut self) -> Option<Arc<Node>> {
        while let Some(node) = self.nodes.pop_front() {
            if node.state.load(Ordering::Relaxed) == WAITING {
                return Some(node);
            }
            self.cancelled -= 1;
        }
        None
    }

    /// Counts one more cancelled waiter, and takes the cancelled out once they are more
    /// than half the queue: O(1) amortised, and the queue stays at most twice the live
    /// waiters (plus one), however many waiters are cancelled behind a long wait.
    fn cancelled_one(&mut self) {
        self.cancelled += 1;
        if self.cancelled > self.nodes.len() / 2 {
            self.nodes
                .retain(|node| node.state.load(Ordering::Relaxed) == WAITING);
            self.cancelled = 0;
        }
    }
}

/// The attempt budget of one connector and its clones (shared in an `Arc`).
pub(crate) struct Budget {
    sizing: AttemptBudget,
    /// The limit (`None`: unbounded), resolved when the first permit is taken.
    limit: OnceLock<Option<usize>>,
    /// Permits alive, plus places handed to waiters that have not taken them yet.
    in_flight: AtomicUsize,
    /// Waiters in the queue, not counting the cancelled; changed only under its lock.
    waiting: AtomicUsize,
    peak: AtomicUsize,
    queue: Mutex<Queue>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("sizing", &self.sizing)
            .field("limit", &self.limit.get())
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .field("peak", &self.peak.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Budget {
    /// A budget with nothing in flight; a [`AttemptBudget::FileLimit`] is read later,
    /// when the first permit is taken.
    pub(crate) fn new(sizing: AttemptBudget) -> Budget {
        Budget {
            sizing,
            limit: OnceLock::new(),
            in_flight: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            queue: Mutex::default(),
        }
    }

    /// The limit, resolving it on first use; `None` when unbounded.
    fn limit(&self) -> Option<usize> {
        *self.limit.get_or_init(|| self.sizing.resolve())
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing in here can panic half-way through an update; take the queue either way.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes `in_flight` attempts in flight for [`BudgetUse::peak`]; the load first keeps
    /// the cache line shared when the peak does not move.
    fn record(&self, in_flight: usize) {
        if in_flight > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(in_flight, Ordering::Relaxed);
        }
    }

    /// Counts one more attempt in flight if fewer than `limit` are.
    fn take_below(&self, limit: usize) -> bool {
        let taken = self
            .in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            });
        match taken {
            Ok(before) => {
                self.record(before + 1);
                true
            }
            Err(_) => false,
        }
    }

    /// A permit for a race that has no attempt running: never waits, never fails, and may
    /// take the attempts in flight over the limit.
    pub(crate) fn free(&self) -> Permit<'_> {
        self.limit();
        let before = self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.record(before + 1);
        Permit { budget: self }
    }

    /// A permit if fewer than the limit are in flight and nobody waits (a waiter is never
    /// overtaken); always one when unbounded.
    pub(crate) fn try_take(&self) -> Option<Permit<'_>> {
        let Some(limit) = self.limit() else {
            return Some(self.free());
        };
        if self.waiting.load(Ordering::SeqCst) > 0 || !self.take_below(limit) {
            return None;
        }
        Some(Permit { budget: self })
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
            in_flight: self.in_flight.load(Ordering::SeqCst),
            waiting: self.waiting.load(Ordering::SeqCst),
            peak: self.peak.load(Ordering::Relaxed),
        }
    }

    /// A [`Wait`]'s first poll: a permit at once if a place is free and nobody waits,
    /// otherwise a place at the back of the queue.
    fn enqueue(&self, waker: &Waker) -> Result<Permit<'_>, Arc<Node>> {
        let Some(limit) = self.limit() else {
            return Ok(self.free());
        };
        let mut queue = self.lock();
        // Announce, then look (see the module's "Lost wake-ups").
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        if ahead == 0 && self.take_below(limit) {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Ok(Permit { budget: self });
        }
        let node = Arc::new(Node {
            state: AtomicU8::new(WAITING),
            waker: AtomicWaker::new(),
        });
        node.waker.register(waker);
        queue.nodes.push_back(Arc::clone(&node));
        trace!(
            in_flight = self.in_flight.load(Ordering::Relaxed),
            waiting = ahead + 1,
            limit,
            "attempt waits for the budget"
        );
        Err(node)
    }

    /// A permit's drop: decrement, then look for waiters (see "Lost wake-ups").
    fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.grant();
        }
    }

    /// Hands the free places to the waiters at the head of the queue, and wakes them.
    fn grant(&self) {
        // A waiter exists, so a permit was taken and the limit is known and finite.
        let Some(limit) = self.limit() else { return };
        loop {
            let mut queue = self.lock();
            let Some(node) = queue.pop_live() else { return };
            if !self.take_below(limit) {
                queue.nodes.push_front(node);
                return;
            }
            node.state.store(GRANTED, Ordering::Release);
            let waiting = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
            trace!(
                in_flight = self.in_flight.load(Ordering::Relaxed),
                waiting,
                limit,
                "attempt granted by the budget"
            );
            drop(queue);
            node.waker.wake();
        }
    }

    /// A queued [`Wait`]'s drop: out of the line, or, if a place was handed to it
    /// already, that place passed on.
    fn leave(&self, node: &Node) {
        let mut queue = self.lock();
        // The state changes only under the lock, so it cannot change under us now.
        if node.state.load(Ordering::Relaxed) == GRANTED {
            drop(queue);
            drop(Permit { budget: self });
            return;
        }
        node.state.store(CANCELLED, Ordering::Relaxed);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        queue.cancelled_one();
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
    /// In the queue.
    Queued(Arc<Node>),
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
                Err(node) => {
                    this.stage = Stage::Queued(node);
                    Poll::Pending
                }
            },
            Stage::Queued(node) => {
                // Register, then look: `grant` sets the state, then wakes.
                node.waker.register(cx.waker());
                if node.state.load(Ordering::Acquire) == GRANTED {
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
        if let Stage::Queued(node) = mem::replace(&mut self.stage, Stage::Done) {
            self.budget.leave(&node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::pin::pin;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;
    use std::thread;
    use std::time::{Duration, Instant};

    use futures_util::task::noop_waker_ref;

    fn fixed(limit: usize) -> Budget {
        Budget::new(AttemptBudget::Fixed(limit))
    }

    /// Polls once, with a waker that does nothing.
    fn poll<'a>(wait: &mut Wait<'a>) -> Poll<Permit<'a>> {
        Pin::new(wait).poll(&mut Context::from_waker(noop_waker_ref()))
    }

    fn granted<'a>(wait: &mut Wait<'a>) -> Permit<'a> {
        match poll(wait) {
            Poll::Ready(permit) => permit,
            Poll::Pending => panic!("expected a permit"),
        }
    }

    fn queued(budget: &Budget) -> Wait<'_> {
        let mut wait = budget.wait();
        assert!(poll(&mut wait).is_pending(), "expected to wait");
        wait
    }

    /// (in flight, waiting)
    fn counts(budget: &Budget) -> (usize, usize) {
        let usage = budget.usage();
        (usage.in_flight(), usage.waiting())
    }

    /// A waker that remembers it was woken.
    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Runs a future on this thread, parking between polls (at most 100 ms, so that a lost
    /// wake-up shows as slowness, then as a failure at `deadline`, never as a hang).
    fn block_on<F: Future>(future: F, deadline: Instant) -> F::Output {
        struct Unpark(thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            assert!(Instant::now() < deadline, "stalled: a lost wake-up?");
            thread::park_timeout(Duration::from_millis(100));
        }
    }

    /// The defaults the docs promise, written out as numbers.
    #[test]
    fn defaults_are_the_documented_numbers() {
        assert_eq!(AttemptBudget::default(), AttemptBudget::FileLimit);
        assert_eq!(DEFAULT_ATTEMPT_BUDGET, AttemptBudget::FileLimit);
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

    /// Between a release's decrement and its hand-over, a place looks free: `try_take`
    /// must leave it to the waiter.
    #[test]
    fn try_take_never_overtakes_a_waiter() {
        let budget = fixed(1);
        let held = budget.try_take().expect("a place is free");
        let mut waiter = queued(&budget);
        // The first half of `held`'s release.
        mem::forget(held);
        budget.in_flight.fetch_sub(1, Ordering::SeqCst);
        assert!(budget.try_take().is_none(), "overtook a waiter");
        // The second half.
        budget.grant();
        let permit = granted(&mut waiter);
        assert_eq!(counts(&budget), (1, 0));
        drop(permit);
        assert_eq!(counts(&budget), (0, 0));
    }

    /// The line is in the order of first polls; each permit given back goes to the next.
    #[test]
    fn waiters_are_served_first_come_first_served() {
        let budget = fixed(1);
        let first = budget.try_take().expect("a place is free");
        let mut waits: Vec<_> = (0..50).map(|_| budget.wait()).collect();
        // Queue them in another order than they were made.
        let order: Vec<usize> = (0..50).map(|i| (i * 7) % 50).collect();
        for &i in &order {
            assert!(poll(&mut waits[i]).is_pending());
        }
        assert_eq!(counts(&budget), (1, 50));
        let mut held = first;
        for (n, &i) in order.iter().enumerate() {
            drop(held);
            held = granted(&mut waits[i]);
            for &later in &order[n + 1..] {
                assert!(poll(&mut waits[later]).is_pending(), "{later} overtook {i}");
            }
            assert_eq!(counts(&budget), (1, 49 - n));
        }
        drop(held);
        assert_eq!(counts(&budget), (0, 0));
    }

    #[test]
    fn a_permit_given_back_is_handed_to_the_head_waiter_and_wakes_it() {
        let budget = fixed(2);
        let a = budget.try_take().expect("1 of 2");
        let b = budget.try_take().expect("2 of 2");
        let (head, second) = (Arc::new(Flag::default()), Arc::new(Flag::default()));
        let mut head_wait = budget.wait();
        let mut second_wait = budget.wait();
        for (wait, flag) in [(&mut head_wait, &head), (&mut second_wait, &second)] {
            let waker = Waker::from(Arc::clone(flag));
            assert!(Pin::new(wait)
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
        }
        drop(a);
        assert!(head.0.load(Ordering::SeqCst), "the head was not woken");
        assert!(!second.0.load(Ordering::SeqCst), "the second was woken");
        assert_eq!(counts(&budget), (2, 1), "the place moved to the head");
        assert!(budget.try_take().is_none());
        let permit = granted(&mut head_wait);
        drop((b, permit));
        assert!(second.0.load(Ordering::SeqCst));
        drop(granted(&mut second_wait));
        assert_eq!(counts(&budget), (0, 0));
    }

    #[test]
    fn a_cancelled_waiter_is_skipped() {
        let budget = fixed(1);
        let held = budget.try_take().expect("a place is free");
        let mut first = queued(&budget);
        let cancelled = queued(&budget);
        let mut third = queued(&budget);
        drop(cancelled);
        assert_eq!(counts(&budget), (1, 2));
        drop(held);
        let permit = granted(&mut first);
        drop(permit);
        let permit = granted(&mut third);
        assert_eq!(counts(&budget), (1, 0));
        drop(permit);
        assert_eq!(counts(&budget), (0, 0));
    }

    #[test]
    fn a_wait_dropped_after_its_grant_passes_the_place_on() {
        let budget = fixed(1);
        let held = budget.try_take().expect("a place is free");
        let unpolled = queued(&budget);
        let mut next = queued(&budget);
        drop(held);
        assert_eq!(counts(&budget), (1, 1), "handed to `unpolled`");
        drop(unpolled);
        assert_eq!(counts(&budget), (1, 0), "passed on to `next`");
        drop(granted(&mut next));
        assert_eq!(counts(&budget), (0, 0), "no place lost");
    }

    #[test]
    fn cancelled_waiters_do_not_pile_up() {
        let budget = fixed(1);
        let held = budget.try_take().expect("a place is free");
        let mut head = queued(&budget);
        for _ in 0..1000 {
            drop(queued(&budget));
        }
        assert!(budget.lock().nodes.len() <= 3, "{:?}", budget.lock());
        assert_eq!(counts(&budget), (1, 1));
        drop(held);
        drop(granted(&mut head));
        assert_eq!(counts(&budget), (0, 0));
        // Cancelled waiters behind a granted one go with it.
        let held = budget.try_take().expect("a place is free");
        let head = queued(&budget);
        drop(queued(&budget));
        drop(held);
        assert!(budget.lock().nodes.is_empty());
        drop(head);
        assert_eq!(counts(&budget), (0, 0));
    }

    #[test]
    fn a_wait_resolves_at_once_when_a_place_is_free() {
        let budget = fixed(1);
        let mut wait = budget.wait();
        assert_eq!(counts(&budget), (0, 0), "lazy until polled");
        drop(granted(&mut wait));
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

    /// Waits only, on a limit of 1: a release that misses a waiter registering at the
    /// same moment strands it, and everyone after it, until the deadline.
    #[test]
    fn stress_waits_hand_over_a_single_place() {
        const THREADS: usize = 4;
        const ROUNDS: usize = 5_000;
        let budget = fixed(1);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        drop(block_on(budget.wait(), deadline));
                    }
                });
            }
        });
        assert_eq!(counts(&budget), (0, 0));
        assert_eq!(budget.usage().peak(), 1);
    }

    /// 8 threads × 10,000 rounds on a limit of 3: free permits, `try_take`, waits to the
    /// end, and waits dropped after one poll (granted or not). Permits not taken with
    /// `free` never exceed the limit, and nothing is left in flight or waiting.
    #[test]
    fn stress_threads_share_a_small_budget() {
        const LIMIT: usize = 3;
        const THREADS: u64 = 8;
        const ROUNDS: usize = 10_000;
        let budget = fixed(LIMIT);
        let held = AtomicUsize::new(0);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        thread::scope(|s| {
            for t in 0..THREADS {
                let (budget, held) = (&budget, &held);
                s.spawn(move || {
                    let mut rng = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    for _ in 0..ROUNDS {
                        // xorshift64
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let permit = match rng % 8 {
                            0 => {
                                let _free = budget.free();
                                thread::yield_now();
                                continue;
                            }
                            1..=3 => budget.try_take(),
                            4 => {
                                let mut wait = budget.wait();
                                match poll(&mut wait) {
                                    Poll::Ready(permit) => Some(permit),
                                    Poll::Pending if rng & 64 == 0 => None,
                                    Poll::Pending => Some(block_on(wait, deadline)),
                                }
                            }
                            _ => Some(block_on(budget.wait(), deadline)),
                        };
                        if let Some(permit) = permit {
                            let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                            assert!(now <= LIMIT, "{now} permits over a limit of {LIMIT}");
                            if rng & 128 == 0 {
                                thread::yield_now();
                            }
                            held.fetch_sub(1, Ordering::SeqCst);
                            drop(permit);
                        }
                    }
                });
            }
        });
        let usage = budget.usage();
        assert_eq!((usage.in_flight(), usage.waiting()), (0, 0));
        assert!(usage.peak() <= LIMIT + THREADS as usize);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}
