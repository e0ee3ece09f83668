//! [`Counts`]: a host's counters, shared with its connection tasks, that a test can wait on.

use std::sync::Arc;

use tokio::sync::watch;

/// Counters of type `C` (a small `Copy` struct per host kind), updated by the connection
/// tasks and read or awaited by the test.
#[derive(Debug)]
pub(super) struct Counts<C> {
    sender: Arc<watch::Sender<C>>,
}

impl<C> Clone for Counts<C> {
    fn clone(&self) -> Self {
        Counts {
            sender: Arc::clone(&self.sender),
        }
    }
}

impl<C: Copy + Default> Counts<C> {
    /// Counters at their default (zero).
    pub(super) fn new() -> Counts<C> {
        Counts {
            sender: Arc::new(watch::Sender::new(C::default())),
        }
    }

    /// The counters now.
    pub(super) fn get(&self) -> C {
        *self.sender.borrow()
    }

    /// Changes the counters and wakes whoever waits on them.
    pub(super) fn update(&self, change: impl FnOnce(&mut C)) {
        self.sender.send_modify(change);
    }

    /// Waits until `done` holds for the counters; returns at once if it already does. A
    /// value that is only held for an instant may be missed.
    pub(super) async fn wait_for(&self, mut done: impl FnMut(&C) -> bool) {
        let mut counts = self.sender.subscribe();
        // `self` holds a sender, so the channel cannot close while we wait.
        if counts.wait_for(|c| done(c)).await.is_err() {
            tracing::error!("host counters closed");
        }
    }
}
