//! A race to a host that speaks HTTP/2 waits its turn: one HTTP/2 connection serves every
//! request, so while a race to such a host is in flight, another waits for it (at most
//! [`H2_HOLD`]), and a connection pool that gets the first connection meanwhile drops it
//! before its SYN.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tracing::debug;

use super::Bursts;
use crate::ConnectError;

/// How long a race to a host known to speak HTTP/2 waits for another race to it that is
/// in flight: 300 ms, as Chromium. One HTTP/2 connection serves every request, so a
/// connection pool that hands it out meanwhile drops the waiting race, SYN unsent.
const H2_HOLD: Duration = Duration::from_millis(300);

/// How many hosts known to speak HTTP/2 a connector remembers; past it, the least
/// recently connected is forgotten.
const H2_HOSTS: usize = 1024;

/// The destinations known to speak HTTP/2, each with the race to it in flight, if any.
#[derive(Debug, Default)]
pub(super) struct H2Hosts {
    hosts: HashMap<(Box<str>, u16), H2Host>,
    /// Counts connections: each host's `used` is its last one's.
    tick: u64,
}

#[derive(Debug)]
struct H2Host {
    used: u64,
    /// Its race in flight: dropped as it ends.
    in_flight: Option<Arc<watch::Sender<()>>>,
}

impl Bursts {
    fn h2_hosts(&self) -> MutexGuard<'_, H2Hosts> {
        self.h2.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A race to `host`:`port` connected, and negotiated HTTP/2 (`h2`) or not.
    pub(crate) fn negotiated(&self, host: &str, port: u16, h2: bool) {
        if !h2 && !self.any_h2.load(Ordering::Relaxed) {
            return;
        }
        let mut known = self.h2_hosts();
        known.tick += 1;
        let key = (Box::from(host), port);
        if !h2 {
            known.hosts.remove(&key);
            return;
        }
        let used = known.tick;
        if known.hosts.len() >= H2_HOSTS && !known.hosts.contains_key(&key) {
            let oldest = known.hosts.iter().min_by_key(|(_, h)| h.used);
            if let Some(oldest) = oldest.map(|(key, _)| key.clone()) {
                known.hosts.remove(&oldest);
            }
        }
        known
            .hosts
            .entry(key)
            .or_insert(H2Host {
                used,
                in_flight: None,
            })
            .used = used;
        self.any_h2.store(true, Ordering::Relaxed);
    }

    /// Whether any destination is known to speak HTTP/2: if none is, a race need not
    /// ask for its [`h2_turn`](Self::h2_turn).
    pub(crate) fn any_h2(&self) -> bool {
        self.any_h2.load(Ordering::Relaxed)
    }

    /// A race to `host`:`port` starts. If the destination speaks HTTP/2 and another race
    /// to it is in flight, it waits for that race to end, at most [`H2_HOLD`]; then, if
    /// none is in flight, it is, until the returned guard is dropped.
    ///
    /// # Errors
    ///
    /// [`NoTimeDriver`](crate::ErrorKind::NoTimeDriver), when it would wait on a runtime
    /// without timers.
    pub(crate) async fn h2_turn(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Option<H2Turn<'_>>, ConnectError> {
        let key = (Box::from(host), port);
        let in_flight = match self.h2_hosts().hosts.get(&key) {
            None => return Ok(None),
            Some(known) => known.in_flight.as_ref().map(|race| race.subscribe()),
        };
        if let Some(mut race) = in_flight {
            crate::runtime::timers()?;
            debug!(?H2_HOLD, "waiting for the race in flight to an HTTP/2 host");
            let _ = tokio::time::timeout(H2_HOLD, race.changed()).await;
        }
        let mut known = self.h2_hosts();
        let Some(host) = known.hosts.get_mut(&key) else {
            return Ok(None);
        };
        if host.in_flight.is_some() {
            return Ok(None);
        }
        let race = Arc::new(watch::Sender::new(()));
        host.in_flight = Some(Arc::clone(&race));
        Ok(Some(H2Turn {
            bursts: self,
            key,
            race,
        }))
    }
}

/// A race in flight to a destination that speaks HTTP/2: the others wait for it (see
/// [`Bursts::h2_turn`]). Dropped as the race ends.
pub(crate) struct H2Turn<'a> {
    bursts: &'a Bursts,
    key: (Box<str>, u16),
    race: Arc<watch::Sender<()>>,
}

impl Drop for H2Turn<'_> {
    fn drop(&mut self) {
        let mut known = self.bursts.h2_hosts();
        if let Some(host) = known.hosts.get_mut(&self.key) {
            if host
                .in_flight
                .as_ref()
                .is_some_and(|race| Arc::ptr_eq(race, &self.race))
            {
                // The last sender: the races waiting see the channel closed.
                host.in_flight = None;
            }
        }
    }
}
