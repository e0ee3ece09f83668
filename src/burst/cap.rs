//! A destination's cap on the attempts racing to it beside each race's first, shared by
//! the races to it in flight (`ConnieConnector::attempts_per_host`), and each race's share
//! of it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, Weak};
use std::task::{ready, Context, Poll};

use futures_util::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Bursts, Joinable};

#[derive(Debug, Default)]
pub(super) struct Caps {
    caps: HashMap<(Box<str>, u16), Weak<Semaphore>>,
    /// How many caps were alive at the last sweep of the dead ones.
    live: usize,
}

/// A race's share of its destination's cap on racing attempts ([`Bursts::cap`]): the
/// permit it holds for its next attempt, those of its attempts running, and its place in
/// line. A race of literal addresses has none, nor a race of a connector without a cap:
/// then it is one null pointer, and every call returns at once.
pub(crate) struct HostShare<'a>(Option<Box<Share<'a>>>);

struct Share<'a> {
    to: Joinable<'a>,
    host: &'a str,
    limit: usize,
    /// The cap, once the race asked for a permit.
    cap: Option<Arc<Semaphore>>,
    granted: Option<OwnedSemaphorePermit>,
    /// The permits of its attempts running, by index.
    running: Vec<(usize, OwnedSemaphorePermit)>,
    waiting: Option<Pin<Box<dyn Future<Output = Option<OwnedSemaphorePermit>> + Send>>>,
}

impl<'a> HostShare<'a> {
    /// The share of a race to `host` at `to` (`None`: literal addresses), whose cap is
    /// `limit` (`None`: no cap) if no race to it holds one.
    pub(crate) fn new(
        to: Option<Joinable<'a>>,
        host: Option<&'a str>,
        limit: Option<usize>,
    ) -> HostShare<'a> {
        let to = to.zip(host).zip(limit);
        HostShare(to.map(|((to, host), limit)| {
            Box::new(Share {
                to,
                host,
                limit,
                cap: None,
                granted: None,
                running: Vec::new(),
                waiting: None,
            })
        }))
    }

    /// Takes a permit for the next attempt if it holds none and the cap has one: whether
    /// it holds one now (always, without a cap).
    #[inline]
    pub(crate) fn try_take(&mut self) -> bool {
        self.0.as_mut().is_none_or(|share| share.try_take())
    }

    /// Whether the race waits for the cap (rather than for the attempt budget): it asked,
    /// and holds no permit.
    #[inline]
    pub(crate) fn spent(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|share| share.cap.is_some() && share.granted.is_none())
    }

    /// Takes a place in the cap's line, if it has none.
    pub(crate) fn wait(&mut self) {
        if let Some(share) = &mut self.0 {
            if let (Some(cap), None) = (&share.cap, &share.waiting) {
                let permit = Arc::clone(cap).acquire_owned();
                share.waiting = Some(Box::pin(permit.map(Result::ok)));
            }
        }
    }

    /// Gives up its place in line, and the permit it holds for no attempt.
    #[inline]
    pub(crate) fn leave(&mut self) {
        if let Some(share) = &mut self.0 {
            share.waiting = None;
            share.granted = None;
        }
    }

    /// Polls its place in line: ready when it got a permit.
    #[inline]
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Some(share) => share.poll_wait(cx),
            None => Poll::Pending,
        }
    }

    /// Attempt `idx` started: the permit held goes with it.
    #[inline]
    pub(crate) fn started(&mut self, idx: usize) {
        if let Some(share) = &mut self.0 {
            if let Some(permit) = share.granted.take() {
                share.running.push((idx, permit));
            }
        }
    }

    /// Attempt `idx` ended: its permit goes back.
    #[inline]
    pub(crate) fn ended(&mut self, idx: usize) {
        if let Some(share) = &mut self.0 {
            drop(share.take(idx));
        }
    }

    /// Attempt `idx` was abandoned for the next address: its permit goes to that one.
    #[inline]
    pub(crate) fn abandoned(&mut self, idx: usize) {
        if let Some(share) = &mut self.0 {
            if let Some(permit) = share.take(idx) {
                share.granted = Some(permit);
            }
        }
    }
}

impl Share<'_> {
    fn try_take(&mut self) -> bool {
        if self.granted.is_none() {
            let (to, host, limit) = (self.to, self.host, self.limit);
            let cap = (self.cap).get_or_insert_with(|| to.bursts.cap(host, to.port, limit));
            self.granted = Arc::clone(cap).try_acquire_owned().ok();
        }
        self.granted.is_some()
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(waiting) = &mut self.waiting else {
            return Poll::Pending;
        };
        let permit = ready!(waiting.poll_unpin(cx));
        self.waiting = None;
        self.granted = permit;
        Poll::Ready(())
    }

    /// The permit of attempt `idx`, which leaves the share.
    fn take(&mut self, idx: usize) -> Option<OwnedSemaphorePermit> {
        let at = self.running.iter().position(|&(i, _)| i == idx)?;
        Some(self.running.swap_remove(at).1)
    }
}

impl Bursts {
    /// The cap on attempts racing to `host`:`port` beside each race's first, shared by
    /// the races to it in flight: `limit` permits, if no race holds it yet.
    pub(crate) fn cap(&self, host: &str, port: u16, limit: usize) -> Arc<Semaphore> {
        let mut caps = self.caps.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (Box::from(host), port);
        if let Some(cap) = caps.caps.get(&key).and_then(Weak::upgrade) {
            return cap;
        }
        // Dead caps go when the map has doubled since the last sweep: O(1) amortised.
        if caps.caps.len() >= 2 * caps.live.max(16) {
            caps.caps.retain(|_, cap| cap.strong_count() > 0);
            caps.live = caps.caps.len();
        }
        let cap = Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS)));
        caps.caps.insert(key, Arc::downgrade(&cap));
        cap
    }
}
