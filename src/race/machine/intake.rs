//! The addresses that come in: the answers (plain, or an HTTPS record's endpoint's), the
//! address cap, the address policy, the rank.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, trace};

use super::queue::{Admission, Via};
use super::{Knowledge, Machine};
use crate::dns::https::HttpsPart;
use crate::dns::{Answer, DnsError, ServiceEndpoint};
use crate::order::Ranked;
use crate::Family;

impl<K: Knowledge> Machine<'_, K> {
    /// A DNS answer arrived (or the literal addresses of a target that needs none).
    pub(crate) fn answer(&mut self, now: Instant, answer: Answer) {
        let Answer {
            family,
            result,
            sorted,
            https,
        } = answer;
        match https.map(|part| *part) {
            None => self.plain_answer(now, family, result, sorted),
            // A word on the query, which brings no address.
            Some(HttpsPart::Asked) => {
                self.https_pending = true;
                return;
            }
            Some(HttpsPart::Answered) => {
                debug!("HTTPS records answered");
                self.https_pending = false;
                return;
            }
            Some(HttpsPart::Endpoint { endpoint, hint }) => {
                if let Ok(addrs) = result {
                    self.endpoint_answer(now, family, addrs, endpoint, hint);
                }
            }
        }
        // The resolution delay counts from the first answer of the family not waited for,
        // or from the first lookup's answer of any while HTTPS records are awaited.
        let preferred = self.preferred();
        if self.resolution_gate.is_none()
            && (family == Some(preferred.other()) || self.https_pending)
        {
            let delay = self.config.schedule.resolution_delay;
            self.resolution_gate = Some(now.checked_add(delay));
        }
    }

    /// `family`'s answer of `endpoint`: its hints, or its target's addresses, which replace
    /// the hints of that family not yet attempted.
    fn endpoint_answer(
        &mut self,
        now: Instant,
        family: Option<Family>,
        addrs: Vec<SocketAddr>,
        endpoint: Arc<ServiceEndpoint>,
        hint: bool,
    ) {
        debug!(
            ?family,
            count = addrs.len(),
            hint,
            "addresses of an HTTPS endpoint received"
        );
        if let (false, Some(family)) = (hint, family) {
            let kept: Vec<SocketAddr> = addrs.iter().map(|&addr| self.dialed(addr)).collect();
            self.queue.drop_hints(&endpoint, family, &kept);
        }
        self.queue.reserve(addrs.len(), None);
        for addr in addrs {
            let via = Via {
                endpoint: Some(Arc::clone(&endpoint)),
                hint,
            };
            self.admit(addr, via, now);
        }
    }

    /// A plain answer: `family`'s addresses (`None`: both, or a literal target's).
    fn plain_answer(
        &mut self,
        now: Instant,
        family: Option<Family>,
        result: Result<Vec<SocketAddr>, DnsError>,
        sorted: bool,
    ) {
        self.resolver_sorted |= sorted;
        self.report.looked_up(family, now);
        match result {
            Ok(addrs) => {
                debug!(?family, count = addrs.len(), "addresses received");
                self.queue.reserve(addrs.len(), family);
                if family.is_none() {
                    self.plain = addrs.len() == 1;
                    if self.config.keep_given_order {
                        self.queue.keep_given_order();
                    }
                }
                for addr in addrs {
                    self.admit(addr, Via::default(), now);
                }
            }
            Err(error) => {
                // The error itself goes back to the caller, so only its family is logged.
                debug!(?family, "lookup failed");
                self.report.dns_errors.push(error);
            }
        }
        match family {
            Some(family) => self.answered(family, now),
            None => self.answered_all(now),
        }
    }

    /// Marks `family`'s lookup finished; addresses of the other family held back for it
    /// join the race if they fit.
    // Inlined, the queueing cold: most often no address is held back.
    #[inline]
    pub(super) fn answered(&mut self, family: Family, now: Instant) {
        let released = self.queue.answered(family);
        if !released.is_empty() {
            self.released(released, now);
        }
    }

    /// Queues the held-back addresses `released`.
    #[cold]
    fn released(&mut self, released: Vec<SocketAddr>, now: Instant) {
        // An endpoint's address held back joins as a plain one.
        for addr in released {
            self.enqueue(addr, Via::default(), now);
        }
    }

    /// Marks both lookups finished: DNS is over, or there was none.
    pub(super) fn answered_all(&mut self, now: Instant) {
        self.answered(Family::V4, now);
        self.answered(Family::V6, now);
    }

    /// The address dialed for `addr`: its IPv6 form under the NAT64 prefix, on a host that
    /// reaches IPv4 through one.
    pub(super) fn dialed(&self, addr: SocketAddr) -> SocketAddr {
        match self.knowledge.nat64() {
            Some(pref64) => pref64.synthesize(addr),
            None => addr,
        }
    }

    /// Queues `addr`, which came `via` a plain answer or an endpoint, for an attempt,
    /// unless it is of a family the connector leaves out, a duplicate, over the address
    /// cap, or refused by the address policy (then it is never dialed). An address the race
    /// has already moves up to a better-placed endpoint, if it is still queued.
    pub(super) fn admit(&mut self, addr: SocketAddr, via: Via, now: Instant) {
        let addr = self.dialed(addr);
        if !self.config.ip_family.allows(Family::of(&addr)) {
            trace!(%addr, ip_family = ?self.config.ip_family, "address skipped: not of ip_family");
            self.report.skipped += 1;
            return;
        }
        match self.queue.admit(addr) {
            Admission::Taken => self.enqueue(addr, via, now),
            Admission::Held => trace!(%addr, "address held back for the other family"),
            Admission::Duplicate => {
                if self.queue.also_via(addr, &via) {
                    trace!(%addr, "address moved up to an HTTPS record's endpoint");
                } else {
                    trace!(%addr, "address skipped: a duplicate");
                }
            }
            Admission::Dropped => trace!(%addr, "address skipped: over the address cap"),
        }
    }

    /// Queues a taken address in its place by rank, unless the address policy refuses it,
    /// or the IPv4 address it stands for under the NAT64 prefix.
    pub(super) fn enqueue(&mut self, addr: SocketAddr, via: Via, now: Instant) {
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
            self.queue.push(addr, ranked, via);
        }
    }
}
