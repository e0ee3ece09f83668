//! The addresses that come in: the address cap, the address policy, the rank.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, trace};

use super::queue::Admission;
use super::{Knowledge, Machine};
use crate::order::Ranked;
use crate::Family;

impl<K: Knowledge> Machine<'_, K> {
    /// Marks `family`'s lookup finished; addresses of the other family held back for it
    /// join the race if they fit.
    pub(super) fn answered(&mut self, family: Family, now: Instant) {
        for addr in self.queue.answered(family) {
            self.enqueue(addr, now);
        }
    }

    /// Marks both lookups finished: DNS is over, or there was none.
    pub(super) fn answered_all(&mut self, now: Instant) {
        self.answered(Family::V4, now);
        self.answered(Family::V6, now);
    }

    /// Queues `addr` for an attempt, unless it is of a family the connector leaves out, a
    /// duplicate, over the address cap, or refused by the address policy (then it is never
    /// dialed).
    pub(super) fn admit(&mut self, addr: SocketAddr, now: Instant) {
        let addr = match self.knowledge.nat64() {
            Some(pref64) => pref64.synthesize(addr),
            None => addr,
        };
        if !self.config.ip_family.allows(Family::of(&addr)) {
            trace!(%addr, ip_family = ?self.config.ip_family, "address skipped: not of ip_family");
            self.report.skipped += 1;
            return;
        }
        match self.queue.admit(addr) {
            Admission::Taken => self.enqueue(addr, now),
            Admission::Held => trace!(%addr, "address held back for the other family"),
            Admission::Duplicate | Admission::Dropped => {
                trace!(%addr, "address skipped (duplicate or over the address cap)");
            }
        }
    }

    /// Queues a taken address in its place by rank, unless the address policy refuses it,
    /// or the IPv4 address it stands for under the NAT64 prefix.
    pub(super) fn enqueue(&mut self, addr: SocketAddr, now: Instant) {
        let embedded = || self.knowledge.nat64().and_then(|p| p.extract_addr(addr));
        if self
            .config
            .policy
            .as_ref()
            .is_some_and(|p| !p.0.allows(addr) || embedded().is_some_and(|v4| !p.0.allows(v4)))
        {
            debug!(%addr, "address refused by policy");
            self.report.refused.push(addr);
        } else {
            let ranked = if self.plain {
                Ranked::plain()
            } else {
                self.knowledge.rank(addr, !self.resolver_sorted, now)
            };
            self.queue.push(addr, ranked);
        }
    }
}
