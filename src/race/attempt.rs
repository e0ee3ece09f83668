//! [`Attempting`]: one attempt of a race in flight, as small as what it runs; and
//! [`Dials`], the attempts of a race.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::budget::Permit;

pin_project! {
    /// A dial, the index of its attempt, and its permit of the connector's budget, given
    /// back when the future is dropped: at once when the attempt ends ([`Dials`] drops an
    /// attempt as soon as it is ready), or when its race drops it.
    ///
    /// [`abandon`](Self::abandon) drops the dial in place (closing its socket, as a
    /// loser's) and hands the permit to the race; what is left never completes and is
    /// dropped with the race's other attempts. Its timeout is the race's: one timer for
    /// every attempt.
    #[must_use = "futures do nothing unless polled"]
    #[project = Projection]
    pub(super) enum Attempting<'a, F> {
        Running {
            #[pin]
            dial: F,
            // With the enum's tag, in the room `dial`'s alignment leaves.
            idx: u32,
            permit: Option<Permit<'a>>,
        },
        Abandoned,
    }
}

impl<'a, F> Attempting<'a, F> {
    pub(super) fn new(idx: usize, dial: F, permit: Permit<'a>) -> Self {
        Attempting::Running {
            dial,
            idx: u32::try_from(idx).expect("fewer than 2³² attempts"),
            permit: Some(permit),
        }
    }

    /// The index of its attempt, unless it was abandoned.
    pub(super) fn idx(&self) -> Option<usize> {
        match self {
            Attempting::Running { idx, .. } => Some(*idx as usize),
            Attempting::Abandoned => None,
        }
    }

    /// Drops the dial now, and returns the permit, for the attempt that starts in its
    /// place; `None` if it was abandoned already.
    pub(super) fn abandon(mut self: Pin<&mut Self>) -> Option<Permit<'a>> {
        let permit = match self.as_mut().project() {
            Projection::Running { permit, .. } => permit.take(),
            Projection::Abandoned => return None,
        };
        self.set(Attempting::Abandoned);
        permit
    }
}

impl<F, C> Future for Attempting<'_, F>
where
    F: Future<Output = io::Result<C>>,
{
    type Output = (usize, io::Result<C>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projection::Running { dial, idx, .. } => {
                dial.poll(cx).map(|result| (*idx as usize, result))
            }
            // Abandoned: it never completes, and nothing wakes it.
            Projection::Abandoned => Poll::Pending,
        }
    }
}

pin_project! {
    /// The attempts of a race in flight: the first in place, the others each in a box of
    /// its own when they run beside it, all polled with the race's waker. A race that
    /// dials one address at a time (a known host, one address) allocates nothing for its
    /// attempts but their sockets; one that races n addresses, a box per attempt beside
    /// the first and a list of them.
    pub(super) struct Dials<'a, F> {
        // An attempt, or `Abandoned` for no attempt: it never completes.
        #[pin]
        first: Attempting<'a, F>,
        // In start order; an attempt leaves as it ends or is abandoned.
        others: Vec<Pin<Box<Attempting<'a, F>>>>,
    }
}

impl<'a, F> Dials<'a, F> {
    pub(super) fn new() -> Self {
        Dials {
            first: Attempting::Abandoned,
            others: Vec::new(),
        }
    }

    /// Runs `attempt` beside the others.
    pub(super) fn push(self: Pin<&mut Self>, attempt: Attempting<'a, F>) {
        let mut this = self.project();
        if this.first.idx().is_none() {
            this.first.set(attempt);
        } else {
            this.others.push(Box::pin(attempt));
        }
    }

    /// Whether no attempt runs.
    pub(super) fn is_empty(&self) -> bool {
        self.first.idx().is_none() && self.others.is_empty()
    }

    /// Drops the dial of attempt `idx`, and returns its permit.
    pub(super) fn stop(self: Pin<&mut Self>, idx: usize) -> Option<Permit<'a>> {
        let this = self.project();
        if this.first.idx() == Some(idx) {
            return this.first.abandon();
        }
        let at = this.others.iter().position(|a| a.idx() == Some(idx))?;
        this.others.remove(at).as_mut().abandon()
    }

    /// The next attempt to end, with its result: of those that have, the one in place,
    /// else the earliest started. An attempt is dropped as it ends, and its permit given
    /// back.
    pub(super) fn poll_next<C>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<(usize, io::Result<C>)>
    where
        F: Future<Output = io::Result<C>>,
    {
        let mut this = self.project();
        if let Poll::Ready(ended) = this.first.as_mut().poll(cx) {
            this.first.set(Attempting::Abandoned);
            return Poll::Ready(ended);
        }
        for at in 0..this.others.len() {
            if let Poll::Ready(ended) = this.others[at].as_mut().poll(cx) {
                drop(this.others.remove(at));
                return Poll::Ready(ended);
            }
        }
        Poll::Pending
    }
}
