//! The order addresses leave the queue in: a line per family through the race's
//! addresses, sorted by [`AddrQueue::key`], and the interleaving of the two.

use std::net::SocketAddr;

use super::{AddrQueue, Address, Queued};
use crate::order::{Rank, Ranked};
use crate::rare::Rare;
use crate::Family;

/// A family's queue is a list through the race's addresses (their `next`), sorted by
/// [`AddrQueue::key`]: a race needs no allocation of its own for it.
#[derive(Debug)]
pub(super) struct PerFamily {
    /// The first and last queued address, [`END`] for none.
    pub(super) head: u32,
    pub(super) tail: u32,
    /// How many are queued.
    pub(super) queued: u32,
    /// Addresses counted against the cap (queued, attempted or refused by the policy).
    pub(super) admitted: u32,
    /// Addresses over this family's share while the other family has not answered.
    pub(super) held: Rare<SocketAddr>,
    /// The family's lookup has finished (or there is none to wait for).
    pub(super) answered: bool,
}

impl Default for PerFamily {
    fn default() -> PerFamily {
        PerFamily {
            head: END,
            tail: END,
            queued: 0,
            admitted: 0,
            held: Rare::new(),
            answered: false,
        }
    }
}

/// The end of a family's queue.
pub(super) const END: u32 = u32::MAX;

impl AddrQueue {
    /// Queues again an address whose attempt was abandoned: behind every address
    /// abandoned fewer times, so every address is tried once before any is tried again.
    /// It is not counted against the cap a second time.
    pub(in crate::race::machine) fn retry(&mut self, queued: Queued) {
        self.insert(queued.idx, queued.abandoned.saturating_add(1));
    }

    /// Where address `idx` goes in its family's queue: every address once before any
    /// again, then by its endpoint's place (HTTPS records), then by rank (unless the given
    /// order is kept), then in arrival order.
    pub(super) fn key(&self, idx: u32) -> (u32, u16, Option<Rank>, u32) {
        let address = &self.addrs[idx as usize];
        let rank = (!self.given_order).then_some(address.rank);
        (address.abandoned, address.group, rank, address.seq)
    }

    /// Takes the queued addresses of `family` that `which` picks out of its queue, in one
    /// pass: the first only if `one`, else all of them. How many.
    pub(super) fn unlink(
        &mut self,
        family: Family,
        one: bool,
        which: impl Fn(u32, &Address) -> bool,
    ) -> u32 {
        let (mut prev, mut at, mut taken) = (END, self.family(family).head, 0);
        while at != END {
            let next = self.addrs[at as usize].next;
            if !which(at, &self.addrs[at as usize]) {
                (prev, at) = (at, next);
                continue;
            }
            let line = self.family_mut(family);
            if line.tail == at {
                line.tail = prev;
            }
            line.queued -= 1;
            match prev {
                END => line.head = next,
                prev => self.addrs[prev as usize].next = next,
            }
            taken += 1;
            if one {
                break;
            }
            at = next;
        }
        taken
    }

    /// Ranks every queued address anew with `rank`, and puts each in its new place.
    pub(in crate::race::machine) fn rerank(&mut self, mut rank: impl FnMut(SocketAddr) -> Ranked) {
        for family in [Family::V4, Family::V6] {
            let mut queued = Vec::new();
            let mut at = self.family(family).head;
            while at != END {
                let address = &mut self.addrs[at as usize];
                address.set_rank(rank(address.addr));
                self.knows |= address.known;
                queued.push(at);
                at = address.next;
            }
            queued.sort_unstable_by_key(|&idx| self.key(idx));
            let line = self.family_mut(family);
            (line.head, line.tail) = (END, END);
            line.queued = 0;
            for idx in queued {
                self.link_last(family, idx);
            }
        }
    }

    /// Puts `idx` last in `family`'s queue.
    pub(super) fn link_last(&mut self, family: Family, idx: u32) {
        self.addrs[idx as usize].next = END;
        let line = self.family_mut(family);
        let tail = std::mem::replace(&mut line.tail, idx);
        line.queued += 1;
        match tail {
            END => line.head = idx,
            tail => self.addrs[tail as usize].next = idx,
        }
    }

    /// Puts address `idx`, its attempts abandoned `abandoned` times, in its place in its
    /// family's queue, as the latest arrival.
    pub(super) fn insert(&mut self, idx: u32, abandoned: u32) {
        let address = &mut self.addrs[idx as usize];
        (address.abandoned, address.seq) = (abandoned, self.pushed);
        self.pushed += 1;
        let family = Family::of(&address.addr);
        let key = self.key(idx);
        let tail = self.family(family).tail;
        // Behind the last, as addresses that arrive in their order are: no search.
        if tail == END || self.key(tail) < key {
            self.link_last(family, idx);
            return;
        }
        let (mut prev, mut at) = (END, self.family(family).head);
        while self.key(at) < key {
            (prev, at) = (at, self.addrs[at as usize].next);
        }
        self.addrs[idx as usize].next = at;
        let line = self.family_mut(family);
        line.queued += 1;
        match prev {
            END => line.head = idx,
            prev => self.addrs[prev as usize].next = idx,
        }
    }

    /// The family whose head goes first: the preferred family if the schedule names one,
    /// else the family of the better head, IPv6 on a tie (or the earlier head, when the
    /// given order is kept).
    pub(super) fn leading(&self) -> Family {
        // `END` is past any race's addresses: an empty queue has no head.
        let front = |line: &PerFamily| self.addrs.get(line.head as usize);
        let (v4, v6) = (front(&self.v4), front(&self.v6));
        let v4_first = match (self.preferred, v4, v6) {
            (_, Some(v4), Some(v6)) if self.given_order => v4.seq < v6.seq,
            (Some(family), _, _) => family == Family::V4,
            (None, Some(v4), Some(v6)) => (v4.group, v4.rank) < (v6.group, v6.rank),
            _ => false,
        };
        if v4_first {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// The next address in interleaved order (or in the given order) whose family
    /// `may_start`.
    pub(in crate::race::machine) fn pop(
        &mut self,
        may_start: impl Fn(Family) -> bool,
    ) -> Option<Queued> {
        let want = match self.last {
            _ if self.given_order || self.taken < self.first_family_count => self.leading(),
            Some(last) => last.other(),
            None => self.leading(),
        };
        let family = [want, want.other()]
            .into_iter()
            .find(|&f| self.has(f) && may_start(f))?;
        let idx = self.family(family).head;
        let address = &self.addrs[idx as usize];
        let (next, abandoned) = (address.next, address.abandoned);
        let line = self.family_mut(family);
        line.head = next;
        if next == END {
            line.tail = END;
        }
        line.queued -= 1;
        let queued = Queued { idx, abandoned };
        self.taken = self.taken.saturating_add(1);
        self.last = Some(family);
        Some(queued)
    }

    /// How many addresses are queued.
    pub(in crate::race::machine) fn len(&self) -> usize {
        (self.v4.queued + self.v6.queued) as usize
    }

    pub(in crate::race::machine) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(in crate::race::machine) fn has(&self, family: Family) -> bool {
        self.family(family).queued > 0
    }
}
