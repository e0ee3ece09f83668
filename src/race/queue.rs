//! The addresses of a race not yet attempted, in the order they will be attempted.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::Family;

/// Per-family queues merged on the way out: `first_family_count` addresses of the
/// preferred family, then alternating families (RFC 8305 §4). Addresses that arrive late
/// join their family's queue, so interleaving goes on as if they had been there all along.
#[derive(Debug)]
pub(super) struct AddrQueue {
    v4: VecDeque<SocketAddr>,
    v6: VecDeque<SocketAddr>,
    seen: Vec<SocketAddr>,
    preferred: Family,
    first_family_count: usize,
    taken: usize,
    last: Option<Family>,
    max_addresses: usize,
    dropped: usize,
}

impl AddrQueue {
    pub(super) fn new(preferred: Family, first_family_count: usize, max_addresses: usize) -> Self {
        AddrQueue {
            v4: VecDeque::new(),
            v6: VecDeque::new(),
            seen: Vec::new(),
            preferred,
            first_family_count,
            taken: 0,
            last: None,
            max_addresses,
            dropped: 0,
        }
    }

    /// Counts `addr` as one of the race's addresses, unless it is a duplicate or the race
    /// already has `max_addresses`; returns whether it was taken. A taken address is
    /// either [`push`](Self::push)ed or refused by the caller.
    pub(super) fn admit(&mut self, addr: SocketAddr) -> bool {
        if self.seen.contains(&addr) {
            return false;
        }
        if self.seen.len() >= self.max_addresses {
            self.dropped += 1;
            return false;
        }
        self.seen.push(addr);
        true
    }

    /// Queues an admitted address for an attempt.
    pub(super) fn push(&mut self, addr: SocketAddr) {
        self.family_mut(Family::of(&addr)).push_back(addr);
    }

    #[cfg(test)]
    fn admit_and_push(&mut self, addr: SocketAddr) -> bool {
        let admitted = self.admit(addr);
        if admitted {
            self.push(addr);
        }
        admitted
    }

    pub(super) fn pop(&mut self) -> Option<SocketAddr> {
        let want = if self.taken < self.first_family_count {
            self.preferred
        } else {
            self.last.map_or(self.preferred, Family::other)
        };
        let family = if self.family(want).is_empty() {
            want.other()
        } else {
            want
        };
        let addr = self.family_mut(family).pop_front()?;
        self.taken += 1;
        self.last = Some(family);
        Some(addr)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub(super) fn has(&self, family: Family) -> bool {
        !self.family(family).is_empty()
    }

    /// How many addresses were turned away by `max_addresses`.
    pub(super) fn dropped(&self) -> usize {
        self.dropped
    }

    fn family(&self, family: Family) -> &VecDeque<SocketAddr> {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn family_mut(&mut self, family: Family) -> &mut VecDeque<SocketAddr> {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn drain(q: &mut AddrQueue) -> Vec<SocketAddr> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn interleaves_preferred_family_first() {
        let mut q = AddrQueue::new(Family::V6, 1, 16);
        for s in ["1.0.0.1:1", "1.0.0.2:1", "1.0.0.3:1", "[::1]:1", "[::2]:1"] {
            assert!(q.admit_and_push(a(s)));
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
        let mut q = AddrQueue::new(Family::V6, 2, 16);
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
        let mut q = AddrQueue::new(Family::V6, 1, 16);
        q.admit_and_push(a("1.0.0.1:1"));
        q.admit_and_push(a("1.0.0.2:1"));
        q.admit_and_push(a("1.0.0.3:1"));
        assert_eq!(q.pop(), Some(a("1.0.0.1:1")));
        q.admit_and_push(a("[::1]:1"));
        q.admit_and_push(a("[::2]:1"));
        assert_eq!(
            drain(&mut q),
            vec![a("[::1]:1"), a("1.0.0.2:1"), a("[::2]:1"), a("1.0.0.3:1")]
        );
    }

    #[test]
    fn duplicates_and_cap() {
        let mut q = AddrQueue::new(Family::V4, 1, 2);
        assert!(q.admit_and_push(a("1.0.0.1:1")));
        assert!(!q.admit_and_push(a("1.0.0.1:1")));
        assert!(q.admit_and_push(a("1.0.0.2:1")));
        assert!(!q.admit_and_push(a("1.0.0.3:1")));
        assert_eq!(q.dropped(), 1);
        assert_eq!(drain(&mut q).len(), 2);
        assert!(q.is_empty());
    }
}
