//! The addresses of a race: every address it took, in one table, and those not yet
//! attempted, in the order they will be attempted; and the address cap, shared fairly
//! between the families.

mod line;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::dns::ServiceEndpoint;
use crate::nanos::Nanos;
use crate::order::{Rank, Ranked};
use crate::rare::Rare;
use crate::schedule::timing::Delays;
use crate::Family;

use self::line::{PerFamily, END};

/// Per-family queues merged on the way out: `first_family_count` addresses of the leading
/// family, then alternating families (RFC 8305 §4). Each family's queue is sorted by
/// [`Rank`] (RFC 6724 and the history), equal ranks in arrival order, and addresses that
/// arrive late are sorted into what is still queued. The leading family is the preferred
/// one if the schedule names one, else the family of the better-ranked head (IPv6 on a
/// tie). A queue told to [`keep_given_order`](Self::keep_given_order) ignores ranks and
/// families: addresses leave in the order they came.
///
/// The address cap (`max_addresses`) is shared so that one family can never shut out the
/// other: until a family has answered, half the cap stays reserved for it. Addresses of the
/// first family beyond its share are held back (at most `max_addresses` of them) and
/// admitted once the other family has answered and left room. Anything beyond that is
/// dropped, so a hostile answer of hundreds of records costs a bounded amount.
///
/// Each address taken is kept once, in one table; a [`Queued`] says where.
#[derive(Debug)]
pub(super) struct AddrQueue {
    /// Every address taken (queued, attempted or refused by the policy), in the order
    /// taken.
    addrs: Vec<Address>,
    v4: PerFamily,
    v6: PerFamily,
    preferred: Option<Family>,
    first_family_count: u32,
    taken: u32,
    last: Option<Family>,
    max_addresses: u32,
    dropped: u32,
    /// Addresses pushed so far: the arrival order that breaks ties.
    pushed: u32,
    given_order: bool,
    /// The HTTPS records' endpoints the addresses serve, each once (few races have any).
    endpoints: Rare<Arc<ServiceEndpoint>>,
    /// An address the history knows was pushed.
    knows: bool,
}

/// How an address came to the race: in a plain answer (`A`, `AAAA`, a literal), or as an
/// HTTPS record's service endpoint, whose place among the endpoints goes before its rank.
#[derive(Debug, Clone, Default)]
pub(crate) struct Via {
    pub(crate) endpoint: Option<Arc<ServiceEndpoint>>,
    /// One of the endpoint's hints, which its target's own answer replaces.
    pub(crate) hint: bool,
}

impl Via {
    /// Where addresses that came this way go: an endpoint's in its order, plain ones
    /// after every endpoint's (RFC 9460 §3).
    fn group(&self) -> u16 {
        self.endpoint.as_ref().map_or(u16::MAX, |e| e.order)
    }
}

/// An address the race took, with what it knows of it, its times in [`Nanos`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Address {
    pub(super) addr: SocketAddr,
    /// The source address the system chose for it, if the race asked.
    pub(super) source: Option<IpAddr>,
    /// The learned schedule's delays for it (the next attempt's, the handshake's), if
    /// `known`.
    learned: [Option<Nanos>; 2],
    /// The history knows it: it has [`Delays::learned`].
    known: bool,
    /// How long a connect to it is expected to take at most, if the history knows it.
    expected: Option<Nanos>,
    rank: Rank,
    /// The service endpoint it serves, if it came from HTTPS records: its index among the
    /// queue's [`endpoints`](AddrQueue::endpoints), or [`NO_ENDPOINT`].
    endpoint: u16,
    /// [`Via::group`].
    group: u16,
    /// One of its endpoint's hints, not (yet) in its target's answer.
    hint: bool,
    /// While it is queued: how many of its attempts the race abandoned, when it was
    /// queued (a count of the queue's pushes), and the next address of its family's
    /// queue ([`END`] for none).
    abandoned: u32,
    seq: u32,
    next: u32,
}

/// [`Address::endpoint`] of an address that came from a plain answer.
const NO_ENDPOINT: u16 = u16::MAX;

impl Address {
    /// Sets what the ranking said of it.
    fn set_rank(&mut self, ranked: Ranked) {
        let learned = Delays::learned(&ranked.known);
        let compact = |t: Option<Duration>| t.map(Nanos::new);
        self.source = ranked.source;
        self.learned = learned.map_or([None; 2], |(d, _)| [d.next, d.handshake].map(compact));
        self.known = learned.is_some();
        self.expected = learned.map(|(_, expected)| Nanos::new(expected));
        self.rank = ranked.rank;
    }

    /// The learned schedule's delays for it, if the history knows it
    /// ([`Delays::learned`]).
    pub(super) fn learned(&self) -> Option<Delays> {
        let [next, handshake] = self.learned.map(|t| t.map(Nanos::get));
        self.known.then_some(Delays { next, handshake })
    }

    /// How long a connect to it is expected to take at most, if the history knows it.
    pub(super) fn expected(&self) -> Option<Duration> {
        self.expected.map(Nanos::get)
    }
}

/// An address out of the queue: where it is among the race's addresses.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queued {
    idx: u32,
    /// How many attempts to this address the race has abandoned (see
    /// [`AddrQueue::retry`]).
    pub(super) abandoned: u32,
}

/// What [`AddrQueue::admit`] did with an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Counted against the cap: the caller either [`push`](AddrQueue::push)es it or
    /// refuses it.
    Taken,
    /// Over its family's share for now; it may be released by
    /// [`answered`](AddrQueue::answered).
    Held,
    /// Already seen in this race.
    Duplicate,
    /// Over the cap for good.
    Dropped,
}

impl AddrQueue {
    pub(super) fn new(
        preferred: Option<Family>,
        first_family_count: usize,
        max_addresses: usize,
    ) -> Self {
        AddrQueue {
            addrs: Vec::new(),
            v4: PerFamily::default(),
            v6: PerFamily::default(),
            preferred,
            first_family_count: small(first_family_count),
            taken: 0,
            last: None,
            max_addresses: small(max_addresses),
            dropped: 0,
            pushed: 0,
            given_order: false,
            endpoints: Rare::new(),
            knows: false,
        }
    }

    /// From now on addresses leave in the order they are pushed: no ranks, no interleaving
    /// of the families.
    pub(super) fn keep_given_order(&mut self) {
        self.given_order = true;
    }

    /// Makes room for `more` addresses about to be offered, of `family` (`None`: of
    /// either), as far as the cap lets them in; and while the other family's answer is
    /// due, room for as many again: it is seldom much longer, and growing the table for
    /// it would copy the first.
    pub(super) fn reserve(&mut self, more: usize, family: Option<Family>) {
        let due = family.is_some_and(|f| !self.family(f.other()).answered);
        let more = if due { more.saturating_mul(2) } else { more };
        let room = (self.max_addresses as usize).saturating_sub(self.addrs.len());
        self.addrs.reserve_exact(more.min(room));
    }

    /// Whether `addr` was taken or held back before. A race has few addresses (at most
    /// `max_addresses` taken, and as many held back per family): a scan of them costs no
    /// more instructions than hashing them, at 64 addresses as at 16, and allocates
    /// nothing.
    fn seen(&self, addr: SocketAddr) -> bool {
        self.addrs.iter().any(|a| a.addr == addr)
            || self.v4.held.contains(&addr)
            || self.v6.held.contains(&addr)
    }

    /// Counts `addr` as one of the race's addresses if its family's share allows, holds it
    /// back if only the other family's reservation is in the way, and otherwise drops it.
    pub(super) fn admit(&mut self, addr: SocketAddr) -> Admission {
        if self.seen(addr) {
            return Admission::Duplicate;
        }
        let family = Family::of(&addr);
        let other = self.family(family.other());
        let reserved = if other.answered {
            other.admitted
        } else {
            other.admitted.max(self.max_addresses / 2)
        };
        let max = self.max_addresses;
        let share = max.saturating_sub(reserved);
        let total = self.v4.admitted + self.v6.admitted;
        let this = self.family_mut(family);
        // Within its share, the total is under the cap: the share leaves the other
        // family's admitted addresses out.
        if this.admitted < share {
            this.admitted += 1;
            self.take(addr);
            Admission::Taken
        } else if total < max && this.held.len() < max as usize {
            this.held.push(addr);
            Admission::Held
        } else {
            self.dropped += 1;
            Admission::Dropped
        }
    }

    /// Adds `addr` to the race's addresses, not yet ranked nor queued.
    fn take(&mut self, addr: SocketAddr) {
        self.addrs.push(Address {
            addr,
            source: None,
            learned: [None; 2],
            known: false,
            expected: None,
            rank: Ranked::plain().rank,
            endpoint: NO_ENDPOINT,
            group: u16::MAX,
            hint: false,
            abandoned: 0,
            seq: 0,
            next: END,
        });
    }

    /// Marks `family`'s lookup as finished, which ends the reservation kept for it, and
    /// returns the other family's held-back addresses that now fit under the cap, already
    /// counted as [`Taken`](Admission::Taken). The rest of them are dropped.
    // Inlined, the rest of it cold: each lookup's end and DNS's end come here, four times
    // a race by name, and most often none are held.
    #[inline]
    pub(super) fn answered(&mut self, family: Family) -> Vec<SocketAddr> {
        self.family_mut(family).answered = true;
        if self.family(family.other()).held.is_empty() {
            return Vec::new();
        }
        self.release(family.other())
    }

    /// The addresses of `family` held back that fit under the cap, taken; the rest are
    /// dropped.
    #[cold]
    fn release(&mut self, family: Family) -> Vec<SocketAddr> {
        let total = self.v4.admitted + self.v6.admitted;
        let room = self.max_addresses.saturating_sub(total) as usize;
        let other = self.family_mut(family);
        let mut released = other.held.take();
        let over = released.len().saturating_sub(room);
        released.truncate(released.len() - over);
        // Both at most `max_addresses`, held back or over.
        other.admitted += released.len() as u32;
        self.dropped += over as u32;
        for &addr in &released {
            self.take(addr);
        }
        released
    }

    /// Whether `family`'s lookup has finished.
    pub(super) fn is_answered(&self, family: Family) -> bool {
        self.family(family).answered
    }

    /// Queues a taken address for an attempt, in its place by rank (after its endpoint's
    /// place, if it came `via` one).
    pub(super) fn push(&mut self, addr: SocketAddr, ranked: Ranked, via: Via) {
        // Taken last, or among the last released.
        let Some(idx) = self.addrs.iter().rposition(|a| a.addr == addr) else {
            unreachable!("{addr} was not taken");
        };
        let (group, hint) = (via.group(), via.hint);
        let endpoint = self.endpoint_index(via.endpoint);
        let address = &mut self.addrs[idx];
        address.set_rank(ranked);
        (address.group, address.hint, address.endpoint) = (group, hint, endpoint);
        self.knows |= address.known;
        let idx = u32::try_from(idx).expect("fewer than 2³² addresses");
        self.insert(idx, 0);
    }

    /// The address `queued` names.
    pub(super) fn address(&self, queued: Queued) -> &Address {
        &self.addrs[queued.idx as usize]
    }

    /// The index of `endpoint` among the queue's endpoints, added if new.
    fn endpoint_index(&mut self, endpoint: Option<Arc<ServiceEndpoint>>) -> u16 {
        let Some(endpoint) = endpoint else {
            return NO_ENDPOINT;
        };
        let known = self.endpoints.as_slice();
        if let Some(at) = known.iter().position(|e| Arc::ptr_eq(e, &endpoint)) {
            return at as u16;
        }
        // A race uses a few endpoints (`dns::https::MAX_ENDPOINTS`), far fewer than this.
        let at = u16::try_from(known.len()).unwrap_or(NO_ENDPOINT - 1);
        self.endpoints.push(endpoint);
        at
    }

    /// The service endpoint `address` serves, if it came from HTTPS records.
    pub(super) fn endpoint(&self, address: &Address) -> Option<&Arc<ServiceEndpoint>> {
        self.endpoints.as_slice().get(usize::from(address.endpoint))
    }

    /// Takes `addr`, which the race has already, as an address of `via`'s endpoint too:
    /// a queued address moves up to a better-placed endpoint, and a hint its target's
    /// answer holds is a hint no longer. Whether it moved up.
    pub(super) fn also_via(&mut self, addr: SocketAddr, via: &Via) -> bool {
        let Some(endpoint) = &via.endpoint else {
            return false;
        };
        let Some(idx) = self.addrs.iter().position(|a| a.addr == addr) else {
            // Held back for the other family: it joins as a plain address.
            return false;
        };
        if serves(self.endpoints.as_slice(), &self.addrs[idx], endpoint) {
            self.addrs[idx].hint &= via.hint;
            return false;
        }
        if via.group() >= self.addrs[idx].group {
            return false;
        }
        let family = Family::of(&addr);
        let idx = idx as u32;
        if self.unlink(family, true, |i, _| i == idx) == 0 {
            // Attempted already: it stays as it was dialed.
            return false;
        }
        let index = self.endpoint_index(via.endpoint.clone());
        let address = &mut self.addrs[idx as usize];
        address.endpoint = index;
        address.group = via.group();
        address.hint = via.hint;
        let abandoned = address.abandoned;
        self.insert(idx, abandoned);
        true
    }

    /// Drops the queued hints of `endpoint` of `family` that its target's answer, `kept`,
    /// does not hold: that answer replaces them (HEv3). Hints attempted already stay.
    pub(super) fn drop_hints(
        &mut self,
        endpoint: &Arc<ServiceEndpoint>,
        family: Family,
        kept: &[SocketAddr],
    ) {
        let endpoints = std::mem::take(&mut self.endpoints);
        self.unlink(family, false, |_, address| {
            address.hint
                && serves(endpoints.as_slice(), address, endpoint)
                && !kept.contains(&address.addr)
        });
        self.endpoints = endpoints;
    }

    /// Whether the history knows an address that was queued: the best-ranked, unless it
    /// has no route.
    pub(super) fn knows_one(&self) -> bool {
        self.knows
    }

    #[cfg(test)]
    fn admit_and_push(&mut self, addr: SocketAddr) -> Admission {
        let admission = self.admit(addr);
        if admission == Admission::Taken {
            self.push(addr, Ranked::plain(), Via::default());
        }
        admission
    }

    /// How many addresses were turned away by `max_addresses`.
    pub(super) fn dropped(&self) -> usize {
        self.dropped as usize
    }

    fn family(&self, family: Family) -> &PerFamily {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn family_mut(&mut self, family: Family) -> &mut PerFamily {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
}

/// Whether `address` serves `endpoint`, one of the queue's `endpoints`.
fn serves(
    endpoints: &[Arc<ServiceEndpoint>],
    address: &Address,
    endpoint: &Arc<ServiceEndpoint>,
) -> bool {
    endpoints
        .get(usize::from(address.endpoint))
        .is_some_and(|e| Arc::ptr_eq(e, endpoint))
}

/// A count from the configuration in 4 bytes: a race never counts past 2³² addresses, so
/// a larger one is as good as 2³² − 1.
fn small(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn v4(i: usize) -> SocketAddr {
        SocketAddr::from(([10, 0, (i / 256) as u8, (i % 256) as u8], 1))
    }

    fn v6(i: usize) -> SocketAddr {
        SocketAddr::new(format!("fd00::{:x}", i + 1).parse().unwrap(), 1)
    }

    fn drain(q: &mut AddrQueue) -> Vec<SocketAddr> {
        std::iter::from_fn(|| pop(q, |_| true)).collect()
    }

    /// The address [`AddrQueue::pop`] takes out.
    fn pop(q: &mut AddrQueue, may_start: impl Fn(Family) -> bool) -> Option<SocketAddr> {
        q.pop(may_start).map(|p| q.address(p).addr)
    }

    /// A queue whose families have both answered: no reservation applies.
    fn settled(preferred: Family, first_family_count: usize, max: usize) -> AddrQueue {
        let mut q = AddrQueue::new(Some(preferred), first_family_count, max);
        q.answered(Family::V4);
        q.answered(Family::V6);
        q
    }

    /// An endpoint of the name itself, `order`-th of its records.
    fn endpoint(order: u16) -> Arc<ServiceEndpoint> {
        Arc::new(ServiceEndpoint {
            priority: order + 1,
            target: None,
            port: None,
            alpn: vec![b"http/1.1".to_vec()],
            ipv4_hints: Vec::new(),
            ipv6_hints: Vec::new(),
            ech: None,
            order,
        })
    }

    /// The way of `endpoint`'s hints (`hint`) or of its target's answer.
    fn via(endpoint: &Arc<ServiceEndpoint>, hint: bool) -> Via {
        Via {
            endpoint: Some(Arc::clone(endpoint)),
            hint,
        }
    }

    /// Takes and queues `addr`, which came `via` an endpoint.
    fn admit_and_push_via(q: &mut AddrQueue, addr: SocketAddr, via: Via) {
        assert_eq!(q.admit(addr), Admission::Taken);
        q.push(addr, Ranked::plain(), via);
    }

    #[test]
    fn interleaves_preferred_family_first() {
        let mut q = settled(Family::V6, 1, 16);
        for s in ["1.0.0.1:1", "1.0.0.2:1", "1.0.0.3:1", "[::1]:1", "[::2]:1"] {
            assert_eq!(q.admit_and_push(a(s)), Admission::Taken);
        }
        assert_eq!(
            drain(&mut q),
            vec![
                a("[::1]:1"),
                a("1.0.0.1:1"),
                a("[::2]:1"),
                a("1.0.0.2:1"),
                a("1.0.0.3:1")
            ]
        );
    }

    #[test]
    fn first_family_count_two() {
        let mut q = settled(Family::V6, 2, 16);
        for s in ["1.0.0.1:1", "1.0.0.2:1", "[::1]:1", "[::2]:1", "[::3]:1"] {
            q.admit_and_push(a(s));
        }
        assert_eq!(
            drain(&mut q),
            vec![
                a("[::1]:1"),
                a("[::2]:1"),
                a("1.0.0.1:1"),
                a("[::3]:1"),
                a("1.0.0.2:1")
            ]
        );
    }

    #[test]
    fn late_family_joins_the_interleaving() {
        let mut q = settled(Family::V6, 1, 16);
        q.admit_and_push(a("1.0.0.1:1"));
        q.admit_and_push(a("1.0.0.2:1"));
        q.admit_and_push(a("1.0.0.3:1"));
        assert_eq!(pop(&mut q, |_| true), Some(a("1.0.0.1:1")));
        q.admit_and_push(a("[::1]:1"));
        q.admit_and_push(a("[::2]:1"));
        assert_eq!(
            drain(&mut q),
            vec![a("[::1]:1"), a("1.0.0.2:1"), a("[::2]:1"), a("1.0.0.3:1")]
        );
    }

    #[test]
    fn a_family_that_may_not_start_is_skipped_not_lost() {
        let mut q = settled(Family::V6, 1, 16);
        for s in ["[::1]:1", "[::2]:1", "1.0.0.1:1"] {
            q.admit_and_push(a(s));
        }
        assert_eq!(pop(&mut q, |f| f == Family::V4), Some(a("1.0.0.1:1")));
        assert_eq!(pop(&mut q, |f| f == Family::V4), None);
        assert_eq!(drain(&mut q), vec![a("[::1]:1"), a("[::2]:1")]);
    }

    #[test]
    fn duplicates_and_cap() {
        let mut q = settled(Family::V4, 1, 2);
        assert_eq!(q.admit_and_push(a("1.0.0.1:1")), Admission::Taken);
        assert_eq!(q.admit_and_push(a("1.0.0.1:1")), Admission::Duplicate);
        assert_eq!(q.admit_and_push(a("1.0.0.2:1")), Admission::Taken);
        assert_eq!(q.admit_and_push(a("1.0.0.3:1")), Admission::Dropped);
        assert_eq!(q.dropped(), 1);
        assert_eq!(drain(&mut q).len(), 2);
        assert!(q.is_empty());
    }

    /// An abandoned address goes behind every address not yet tried as often, late
    /// arrivals included, and ahead of those abandoned more often.
    #[test]
    fn a_retry_waits_for_every_address_tried_fewer_times() {
        let mut q = settled(Family::V4, 1, 16);
        for i in 0..3 {
            q.admit_and_push(v4(i));
        }
        let next = |q: &mut AddrQueue| {
            let popped = q.pop(|_| true).unwrap();
            (popped, (q.address(popped).addr, popped.abandoned))
        };
        let (first, _) = next(&mut q);
        q.retry(first);
        q.admit_and_push(v4(3));
        let (second, popped) = next(&mut q);
        assert_eq!(popped, (v4(1), 0));
        q.retry(second);
        assert_eq!(next(&mut q).1, (v4(2), 0));
        assert_eq!(next(&mut q).1, (v4(3), 0));
        let (again, popped) = next(&mut q);
        assert_eq!(popped, (v4(0), 1));
        q.retry(again);
        q.admit_and_push(v4(4));
        let order: Vec<_> = (0..3).map(|_| next(&mut q).1).collect();
        assert_eq!(order, vec![(v4(4), 0), (v4(1), 1), (v4(0), 2)]);
        assert!(q.is_empty());
    }

    /// `len` and `is_empty` count the queued addresses of both families.
    #[test]
    fn len_and_is_empty_count_both_families() {
        let mut q = settled(Family::V6, 1, 16);
        assert_eq!((q.len(), q.is_empty()), (0, true));
        q.admit_and_push(v6(0));
        assert_eq!((q.len(), q.is_empty()), (1, false));
        q.admit_and_push(v4(0));
        q.admit_and_push(v4(1));
        assert_eq!((q.len(), q.is_empty()), (3, false));
        assert_eq!(pop(&mut q, |f| f == Family::V4), Some(v4(0)));
        assert_eq!(pop(&mut q, |f| f == Family::V4), Some(v4(1)));
        assert_eq!((q.len(), q.is_empty()), (1, false));
        drain(&mut q);
        assert_eq!((q.len(), q.is_empty()), (0, true));
    }

    /// 20 `A` records first: 8 are taken, 12 held back, and half the cap waits for `AAAA`.
    #[test]
    fn half_the_cap_waits_for_the_family_that_has_not_answered() {
        let mut q = AddrQueue::new(Some(Family::V6), 1, 16);
        let admitted: Vec<_> = (0..20).map(|i| q.admit_and_push(v4(i))).collect();
        assert_eq!(admitted[..8], [Admission::Taken; 8]);
        assert_eq!(admitted[8..], [Admission::Held; 12]);
        assert_eq!(q.answered(Family::V4), vec![]);
        // AAAA brings 3: all taken; once it has answered, 5 held `A`s fill the cap.
        for i in 0..3 {
            assert_eq!(q.admit_and_push(v6(i)), Admission::Taken);
        }
        let released = q.answered(Family::V6);
        assert_eq!(released, (8..13).map(v4).collect::<Vec<_>>());
        assert_eq!(q.dropped(), 7);
        assert_eq!(q.admit(v6(9)), Admission::Dropped);
    }

    /// Literal addresses arrive with both families at once: each gets half, then the rest
    /// fill up in the order given.
    #[test]
    fn a_long_list_of_one_family_leaves_room_for_the_other() {
        let mut q = AddrQueue::new(Some(Family::V6), 1, 4);
        for i in 0..10 {
            q.admit_and_push(v4(i));
        }
        assert_eq!(q.admit_and_push(v6(0)), Admission::Taken);
        let mut released = q.answered(Family::V4);
        released.extend(q.answered(Family::V6));
        assert_eq!(released, vec![v4(2)]);
        assert_eq!(q.dropped(), 7);
    }

    /// Held-back addresses released into the last of the room count against the cap: once
    /// it is full, no address of either family is taken.
    #[test]
    fn released_addresses_count_against_the_cap() {
        let mut q = AddrQueue::new(Some(Family::V6), 1, 4);
        for i in 0..3 {
            q.admit_and_push(v4(i));
        }
        assert_eq!(q.admit_and_push(v6(0)), Admission::Taken);
        assert_eq!(q.answered(Family::V4), vec![]);
        assert_eq!(q.answered(Family::V6), vec![v4(2)]);
        assert_eq!(q.admit(v4(3)), Admission::Dropped);
        assert_eq!(q.admit(v6(1)), Admission::Dropped);
    }

    /// A queued address that comes again via an endpoint moves up to that endpoint's place,
    /// ahead of the plain addresses, as that endpoint's; it leaves its old place, and the
    /// others keep theirs.
    #[test]
    fn a_queued_address_moves_up_to_its_endpoint() {
        let mut q = settled(Family::V6, 1, 16);
        for i in 0..3 {
            q.admit_and_push(v6(i));
        }
        let svc = endpoint(0);
        assert_eq!(q.admit(v6(2)), Admission::Duplicate);
        assert!(q.also_via(v6(2), &via(&svc, false)));
        assert_eq!(q.len(), 3);
        let first = q.pop(|_| true).unwrap();
        assert_eq!(q.address(first).addr, v6(2));
        assert!(q
            .endpoint(q.address(first))
            .is_some_and(|e| Arc::ptr_eq(e, &svc)));
        assert_eq!(drain(&mut q), vec![v6(0), v6(1)]);
    }

    /// A hint that its target's answer holds is a hint no longer: dropping the endpoint's
    /// hints leaves it queued.
    #[test]
    fn a_hint_its_targets_answer_holds_is_a_hint_no_longer() {
        let mut q = settled(Family::V6, 1, 16);
        let svc = endpoint(0);
        admit_and_push_via(&mut q, v6(0), via(&svc, true));
        assert_eq!(q.admit(v6(0)), Admission::Duplicate);
        assert!(!q.also_via(v6(0), &via(&svc, false)));
        q.drop_hints(&svc, Family::V6, &[]);
        assert_eq!(drain(&mut q), vec![v6(0)]);
    }

    /// A target's answer drops the queued hints of its own endpoint that it does not hold,
    /// all of them (the first and the last here), and nothing else: another endpoint's
    /// hints and the plain addresses stay queued.
    #[test]
    fn a_targets_answer_drops_only_its_endpoints_hints() {
        let mut q = settled(Family::V6, 1, 16);
        let (first, second) = (endpoint(0), endpoint(1));
        admit_and_push_via(&mut q, v6(0), via(&first, true));
        admit_and_push_via(&mut q, v6(1), via(&second, true));
        admit_and_push_via(&mut q, v6(2), Via::default());
        admit_and_push_via(&mut q, v6(3), via(&first, true));
        admit_and_push_via(&mut q, v6(4), via(&first, true));
        q.drop_hints(&first, Family::V6, &[v6(3)]);
        assert_eq!(q.len(), 3);
        assert_eq!(drain(&mut q), vec![v6(3), v6(1), v6(2)]);
    }

    /// Ranking the queue anew takes note of an address the history has come to know.
    #[test]
    fn a_rerank_notes_an_address_the_history_knows() {
        use crate::history::{Known, Rtt};
        let mut q = settled(Family::V6, 1, 16);
        q.admit_and_push(v4(0));
        q.admit_and_push(v6(0));
        assert!(!q.knows_one());
        let fresh = Known::Fresh {
            transport: Rtt {
                srtt: Duration::from_millis(10),
                rttvar: Duration::from_millis(5),
            },
            handshake: None,
            failing: 0.0,
        };
        q.rerank(|addr| Ranked {
            known: if addr == v4(0) { fresh } else { Known::Unknown },
            ..Ranked::plain()
        });
        assert!(q.knows_one());
    }

    /// A race holds one `Address` per address for as long as it runs, its queue's links
    /// among them, and a `Queued` in each of its attempts: neither grows unnoticed.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_records_of_an_address_stay_small() {
        assert_eq!(std::mem::size_of::<Address>(), 112);
        assert_eq!(std::mem::size_of::<Queued>(), 8);
    }

    /// An answer makes room for its addresses as far as the cap lets them in: 3, then 16
    /// for a hostile answer of 1000 records; and a family's answer, while the other's is
    /// due, as much again for it.
    #[test]
    fn room_is_made_for_an_answer_up_to_the_cap() {
        let mut q = AddrQueue::new(Some(Family::V6), 1, 16);
        q.reserve(3, None);
        assert_eq!(q.addrs.capacity(), 3);
        q.reserve(1000, None);
        assert_eq!(q.addrs.capacity(), 16);

        let mut q = AddrQueue::new(Some(Family::V6), 1, 16);
        q.reserve(3, Some(Family::V4));
        assert_eq!(q.addrs.capacity(), 6);
        let mut q = AddrQueue::new(Some(Family::V6), 1, 16);
        q.answered(Family::V6);
        q.reserve(3, Some(Family::V4));
        assert_eq!(q.addrs.capacity(), 3);
    }

    /// However many records arrive, what is held back is bounded by the cap.
    #[test]
    fn a_hostile_answer_is_bounded() {
        let mut q = AddrQueue::new(Some(Family::V6), 1, 16);
        for i in 0..1000 {
            q.admit(v4(i));
        }
        assert_eq!(q.v4.admitted, 8);
        assert_eq!(q.v4.held.len(), 16);
        assert_eq!(q.addrs.len() + q.v4.held.len() + q.v6.held.len(), 24);
        assert_eq!(q.dropped(), 1000 - 24);
    }
}
