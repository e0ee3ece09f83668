//! [`Attempting`]: one attempt of a race in flight, as small as what it runs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{sleep, Sleep};

use crate::budget::Permit;

pin_project! {
    /// A dial, the index of its attempt, its timeout if it has one, and its permit of the
    /// connector's budget, given back when the future is dropped: at once when the
    /// attempt ends (a `FuturesUnordered` drops a future as soon as it is ready), or
    /// when its race drops it.
    ///
    /// [`abandon`](Self::abandon) drops the dial in place (closing its socket, as a
    /// loser's) and hands the permit to the race; what is left never completes and is
    /// dropped with the race's other attempts.
    ///
    /// The timer is boxed, so an attempt without a timeout (the default) carries 8 bytes
    /// for it, not a `Sleep`; `tokio::time::timeout` made every attempt's future about
    /// 250 bytes larger whether it timed out or not.
    #[must_use = "futures do nothing unless polled"]
    pub(super) struct Attempting<'a, F> {
        idx: usize,
        #[pin]
        dial: Option<F>,
        timeout: Option<Pin<Box<Sleep>>>,
        permit: Option<Permit<'a>>,
    }
}

impl<'a, F> Attempting<'a, F> {
    pub(super) fn new(idx: usize, dial: F, timeout: Option<Duration>, permit: Permit<'a>) -> Self {
        Attempting {
            idx,
            dial: Some(dial),
            timeout: timeout.map(|t| Box::pin(sleep(t))),
            permit: Some(permit),
        }
    }

    /// The index of its attempt.
    pub(super) fn idx(&self) -> usize {
        self.idx
    }

    /// Drops the dial and its timer now, and returns the permit, for the attempt that
    /// starts in its place; `None` if it was abandoned already.
    pub(super) fn abandon(self: Pin<&mut Self>) -> Option<Permit<'a>> {
        let mut this = self.project();
        this.dial.set(None);
        *this.timeout = None;
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
        let Some(dial) = this.dial.as_pin_mut() else {
            // Abandoned: it never completes, and nothing wakes it.
            return Poll::Pending;
        };
        let result = match dial.poll(cx) {
            Poll::Ready(result) => result,
            Poll::Pending => match this.timeout.as_mut().map(|t| t.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection attempt timed out",
                )),
                _ => return Poll::Pending,
            },
        };
        Poll::Ready((*this.idx, result))
    }
}
