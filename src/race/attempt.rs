//! [`Attempting`]: one attempt of a race in flight, as small as what it runs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::budget::Permit;

pin_project! {
    /// A dial, the index of its attempt, and its permit of the connector's budget, given
    /// back when the future is dropped: at once when the attempt ends (a
    /// `FuturesUnordered` drops a future as soon as it is ready), or when its race drops
    /// it.
    ///
    /// [`abandon`](Self::abandon) drops the dial in place (closing its socket, as a
    /// loser's) and hands the permit to the race; what is left never completes and is
    /// dropped with the race's other attempts. Its timeout is the race's: one timer for
    /// every attempt.
    #[must_use = "futures do nothing unless polled"]
    pub(super) struct Attempting<'a, F> {
        idx: usize,
        #[pin]
        dial: Option<F>,
        permit: Option<Permit<'a>>,
    }
}

impl<'a, F> Attempting<'a, F> {
    pub(super) fn new(idx: usize, dial: F, permit: Permit<'a>) -> Self {
        Attempting {
            idx,
            dial: Some(dial),
            permit: Some(permit),
        }
    }

    /// The index of its attempt.
    pub(super) fn idx(&self) -> usize {
        self.idx
    }

    /// Drops the dial now, and returns the permit, for the attempt that starts in its
    /// place; `None` if it was abandoned already.
    pub(super) fn abandon(self: Pin<&mut Self>) -> Option<Permit<'a>> {
        let mut this = self.project();
        this.dial.set(None);
        this.permit.take()
    }
}

impl<F, C> Future for Attempting<'_, F>
where
    F: Future<Output = io::Result<C>>,
{
    type Output = (usize, io::Result<C>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.dial.as_pin_mut() {
            Some(dial) => dial.poll(cx).map(|result| (*this.idx, result)),
            // Abandoned: it never completes, and nothing wakes it.
            None => Poll::Pending,
        }
    }
}
