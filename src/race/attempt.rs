//! [`Attempting`]: one attempt of a race in flight, as small as what it runs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{sleep, Sleep};

pin_project! {
    /// A dial, the index of its attempt, and its timeout if it has one.
    ///
    /// The timer is boxed, so an attempt without a timeout (the default) carries 8 bytes
    /// for it, not a `Sleep`; `tokio::time::timeout` made every attempt's future about
    /// 250 bytes larger whether it timed out or not.
    #[must_use = "futures do nothing unless polled"]
    pub(super) struct Attempting<F> {
        idx: usize,
        #[pin]
        dial: F,
        timeout: Option<Pin<Box<Sleep>>>,
    }
}

impl<F> Attempting<F> {
    pub(super) fn new(idx: usize, dial: F, timeout: Option<Duration>) -> Self {
        Attempting {
            idx,
            dial,
            timeout: timeout.map(|t| Box::pin(sleep(t))),
        }
    }
}

impl<F, C> Future for Attempting<F>
where
    F: Future<Output = io::Result<C>>,
{
    type Output = (usize, io::Result<C>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.dial.poll(cx) {
            return Poll::Ready((*this.idx, result));
        }
        match this.timeout.as_mut().map(|t| t.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => {
                let error = io::Error::new(io::ErrorKind::TimedOut, "connection attempt timed out");
                Poll::Ready((*this.idx, Err(error)))
            }
            _ => Poll::Pending,
        }
    }
}
