//! The budget's line: the count of attempts in flight, which a race's free attempt may take
//! over the limit, and the waiters for a place, served first come, first served.
//!
//! # Why not `tokio::sync::Semaphore`
//!
//! tokio's semaphore (FIFO, cancel-safe, what tower's `ConcurrencyLimit` uses) cannot hold
//! the budget's rules without a second synchronisation beside it:
//!
//! - **The free attempt overdraws.** [`Budget::free`](super::Budget::free) counts its
//!   attempt even with no place left, and nobody waiting gets in until the count is back
//!   under the limit. A semaphore cannot go below zero, so the overdraft would be a second
//!   counter; but `add_permits`, and a dropped `Acquire`, hand a place straight to the
//!   head waiter under the semaphore's own lock, before anything outside could pay the
//!   overdraft. Not counting an overdrawn attempt at all would fit, but would let waiters
//!   in while free attempts hold the count over the limit: more attempts at once under
//!   pressure.
//! - **It does not say how many wait** ([`BudgetUse::waiting`](crate::BudgetUse::waiting)),
//!   and a count kept beside it would still count a waiter handed a place until its next
//!   poll.
//! - **Its give-back always locks**: an uncontended take and give-back is about 150
//!   instructions (callgrind, tokio 1.54) against 30 here, paid by every race's first
//!   attempt.
//! - Its `acquire` future has no name: [`Wait`](super::Wait) would have to box it.
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
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use futures_util::task::AtomicWaker;
use tracing::trace;

use crate::metrics;

/// A [`Node`] waits for a place.
const WAITING: u8 = 0;
/// A [`Node`] was handed a place: the count in `in_flight` is its own.
const GRANTED: u8 = 1;
/// A [`Node`]'s [`Ticket`] was given up before a place came; the queue skips it.
const CANCELLED: u8 = 2;

/// One waiter's place in the queue.
#[derive(Debug)]
struct Node {
    /// [`WAITING`], [`GRANTED`] or [`CANCELLED`]; written only under the queue's lock,
    /// read by its ticket without it.
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

/// A waiter's place in the [`Line`], from [`Line::enqueue`] until it is granted or
/// given up with [`Line::leave`].
#[derive(Debug)]
pub(super) struct Ticket(Arc<Node>);

impl Ticket {
    /// Whether a place was handed to it; if not, `waker` is woken when one is.
    pub(super) fn granted(&self, waker: &Waker) -> bool {
        // Register, then look: `grant` sets the state, then wakes.
        self.0.waker.register(waker);
        self.0.state.load(Ordering::Acquire) == GRANTED
    }
}

/// The attempts in flight under a limit, and the line of those waiting for a place.
///
/// It is given the limit at each call that needs it; the budget resolves it once.
pub(super) struct Line {
    /// Places taken, plus places handed to waiters that have not taken them yet.
    in_flight: AtomicUsize,
    /// Waiters in the queue, not counting the cancelled; changed only under its lock.
    waiting: AtomicUsize,
    peak: AtomicUsize,
    queue: Mutex<Queue>,
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .field("peak", &self.peak.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Line {
    /// Nothing in flight, nobody waiting.
    pub(super) fn new() -> Line {
        Line {
            in_flight: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            queue: Mutex::default(),
        }
    }

    /// The places taken, and those handed to waiters not yet polled.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The waiters in line, not counting those handed a place.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The most places taken at once.
    pub(super) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing in here can panic half-way through an update; take the queue either way.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes `in_flight` attempts in flight for the peak; the load first keeps the cache
    /// line shared when the peak does not move.
    #[inline]
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
                metrics::in_flight(1);
                true
            }
            Err(_) => false,
        }
    }

    /// Counts one more attempt in flight, whatever the limit and whoever waits.
    #[inline]
    pub(super) fn add(&self) {
        let before = self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.record(before + 1);
        metrics::in_flight(1);
    }

    /// Counts one more attempt in flight if fewer than `limit` are and nobody waits (a
    /// waiter is never overtaken).
    pub(super) fn try_take(&self, limit: usize) -> bool {
        self.waiting.load(Ordering::SeqCst) == 0 && self.take_below(limit)
    }

    /// A waiter's first poll: a place at once (`Ok`) if one is free under `limit` and
    /// nobody waits, otherwise a ticket at the back of the line, woken through `waker`.
    pub(super) fn enqueue(&self, limit: usize, waker: &Waker) -> Result<(), Ticket> {
        let mut queue = self.lock();
        // Announce, then look (see "Lost wake-ups").
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        if ahead == 0 && self.take_below(limit) {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Ok(());
        }
        let node = Arc::new(Node {
            state: AtomicU8::new(WAITING),
            waker: AtomicWaker::new(),
        });
        node.waker.register(waker);
        queue.nodes.push_back(Arc::clone(&node));
        metrics::waiting(1);
        trace!(
            in_flight = self.in_flight.load(Ordering::Relaxed),
            waiting = ahead + 1,
            limit,
            "attempt waits for the budget"
        );
        Err(Ticket(node))
    }

    /// Counts one attempt fewer in flight: decrement, then look for waiters (see "Lost
    /// wake-ups"). `true` when someone waits: the caller then [`grant`](Self::grant)s.
    #[must_use = "a waiter must be granted the place"]
    #[inline]
    pub(super) fn release(&self) -> bool {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        metrics::in_flight(-1);
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Hands the places free under `limit` to the waiters at the head of the line, and
    /// wakes them.
    pub(super) fn grant(&self, limit: usize) {
        loop {
            let mut queue = self.lock();
            let Some(node) = queue.pop_live() else { return };
            if !self.take_below(limit) {
                queue.nodes.push_front(node);
                return;
            }
            node.state.store(GRANTED, Ordering::Release);
            let waiting = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
            metrics::waiting(-1);
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

    /// Gives `ticket` up: out of the line. `true` if a place was handed to it already:
    /// the caller holds that place and gives it back.
    #[must_use = "a place granted must be given back"]
    pub(super) fn leave(&self, ticket: &Ticket) -> bool {
        let mut queue = self.lock();
        let node = &ticket.0;
        // The state changes only under the lock, so it cannot change under us now.
        if node.state.load(Ordering::Relaxed) == GRANTED {
            return true;
        }
        node.state.store(CANCELLED, Ordering::Relaxed);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        metrics::waiting(-1);
        queue.cancelled_one();
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::future::Future;
    use std::mem;
    use std::pin::{pin, Pin};
    use std::sync::atomic::AtomicBool;
    use std::task::{Context, Poll, Wake};
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::budget::tests::{counts, fixed, granted, poll, queued};

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

    /// Between a release's decrement and its hand-over, a place looks free: `try_take`
    /// must leave it to the waiter.
    #[test]
    fn try_take_never_overtakes_a_waiter() {
        let budget = fixed(1);
        let held = budget.try_take().expect("a place is free");
        let mut waiter = queued(&budget);
        // The first half of `held`'s release.
        mem::forget(held);
        budget.line.in_flight.fetch_sub(1, Ordering::SeqCst);
        assert!(budget.try_take().is_none(), "overtook a waiter");
        // The second half.
        budget.line.grant(1);
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
        assert!(
            budget.line.lock().nodes.len() <= 3,
            "{:?}",
            budget.line.lock()
        );
        assert_eq!(counts(&budget), (1, 1));
        drop(held);
        drop(granted(&mut head));
        assert_eq!(counts(&budget), (0, 0));
        // Cancelled waiters behind a granted one go with it.
        let held = budget.try_take().expect("a place is free");
        let head = queued(&budget);
        drop(queued(&budget));
        drop(held);
        assert!(budget.line.lock().nodes.is_empty());
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
