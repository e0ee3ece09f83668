//! The destination address order of RFC 6724 §6, as a sort key.
//!
//! RFC 6724 orders a host's addresses with ten rules, each comparing two destinations and
//! the source addresses the system would use for them. [`key`] turns one destination and its
//! source into a [`Key`] that compares as rules 2, 5, 6, 8 and 9 do, smaller first. Rule 1 is
//! [`Key::usable`], kept out of the order because connie asks its address history between
//! rule 1 and the others; the caller sorts by `(!usable, history, key)`.
//!
//! Rules 3, 4 and 7 are left out, as Go leaves them out: a client does not know them.
//! Rule 3 (avoid deprecated sources) needs each source's lifetimes, and the kernel already
//! avoids a deprecated source when it has another; rule 4 (prefer home addresses) needs
//! Mobile IPv6 home and care-of addresses; rule 7 (prefer native transport) needs to know
//! which interface is a tunnel, which a UDP `connect()` does not tell. The common tunnels,
//! 6to4 and Teredo, lose on precedence (rule 6) anyway.
//!
//! Rule 10 (otherwise keep the order) is the caller's: equal keys keep DNS order if the
//! caller sorts stably, or keeps arrival order.
//!
//! Everything here is pure: the caller finds each source (`order::source` asks the kernel).

use std::cmp::Reverse;
use std::net::{IpAddr, Ipv6Addr};

/// How a destination compares with others under RFC 6724 §6, given the source the system
/// would use for it; made by [`key`]. Smaller is preferred.
///
/// Keys compare by rule 2 (matching scope), rule 5 (matching label), rule 6 (higher
/// precedence), rule 8 (smaller scope) and rule 9 (longest matching prefix, IPv6 only), in
/// that order. Equal keys are equally good: keep their DNS order (rule 10).
///
/// Rule 1 is not one of the rules compared: ask [`usable`](Key::usable) first. A key still
/// records it, in its last field so that `Eq` and `Ord` agree, where it decides only
/// between two keys equal under every rule, and puts the unusable one last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// Rule 2: the destination's scope is not its source's (or it has no source).
    scope_differs: bool,
    /// Rule 5: the destination's label is not its source's (or it has no source).
    label_differs: bool,
    /// Rule 6: the destination's precedence, higher first.
    precedence: Reverse<u8>,
    /// Rule 8: the destination's scope, smaller first.
    scope: Scope,
    /// Rule 9: how many leading bits, at most 64, an IPv6 destination shares with its
    /// source, more first; 0 for IPv4 or without a source. A byte: a race keeps a key per
    /// address.
    common_prefix: Reverse<u8>,
    /// Rule 1: the destination has no source, so it cannot be reached.
    no_source: bool,
}

impl Key {
    /// `false` if the destination cannot be reached: the system has no source address for
    /// it, usually because it has no route (RFC 6724 rule 1, "avoid unusable
    /// destinations").
    pub(crate) fn usable(&self) -> bool {
        !self.no_source
    }
}

/// The sort key of the destination `dst` under RFC 6724 §6, where `src` is the source
/// address the system would use for it (`None`: it has none, there is no route).
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`), as `dst` or `src`, count as the IPv4
/// address they carry. A destination without a source matches no scope (rule 2) and no
/// label (rule 5), and shares no prefix (rule 9).
///
/// Rule 9, "use longest matching prefix", is applied to IPv6 only, as Go does: applied to
/// IPv4 it ranks public servers by how many leading bits they happen to share with the
/// client's address, often a private one, which defeats DNS round-robin (Go issues 13283
/// and 18518). IPv4 keys carry 0 there. IPv4 and IPv6 destinations never get as far as
/// rule 9: rule 6 always separates them, IPv4 having a precedence (35) that no IPv6 prefix
/// has.
pub(crate) fn key(dst: IpAddr, src: Option<IpAddr>) -> Key {
    let dst = dst.to_canonical();
    let src = src.map(|src| src.to_canonical());
    let row = policy(dst);
    let dst_scope = scope(dst);
    let common_prefix = match (dst, src) {
        (IpAddr::V6(dst), Some(IpAddr::V6(src))) => common_prefix_len(dst, src),
        _ => 0,
    };
    // At most 64.
    let common_prefix = u8::try_from(common_prefix).unwrap_or(u8::MAX);
    Key {
        scope_differs: src.is_none_or(|src| scope(src) != dst_scope),
        label_differs: src.is_none_or(|src| policy(src).label != row.label),
        precedence: Reverse(row.precedence),
        scope: dst_scope,
        common_prefix: Reverse(common_prefix),
        no_source: src.is_none(),
    }
}

/// A row of the policy table: the precedence and label of the addresses under a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    /// The prefix, as the bits of an IPv6 address.
    prefix: u128,
    /// The prefix's length in bits.
    len: u32,
    /// The prefix's bits set: `len` ones, then zeros.
    mask: u128,
    /// How much the addresses under the prefix are preferred as destinations (rule 6).
    precedence: u8,
    /// Which sources suit the addresses under the prefix: those with the same label
    /// (rule 5).
    label: u8,
}

impl Row {
    /// A row for `prefix/len`.
    const fn new(prefix: Ipv6Addr, len: u32, precedence: u8, label: u8) -> Self {
        Row {
            prefix: prefix.to_bits(),
            len,
            mask: match u128::MAX.checked_shl(128 - len) {
                Some(mask) => mask,
                None => 0,
            },
            precedence,
            label,
        }
    }

    /// `true` if `ip` is under this row's prefix.
    fn contains(&self, ip: Ipv6Addr) -> bool {
        ip.to_bits() & self.mask == self.prefix
    }
}

/// The default policy table of RFC 6724 §2.1, in its order.
const POLICY_TABLE: [Row; 9] = [
    // Loopback.
    Row::new(Ipv6Addr::LOCALHOST, 128, 50, 0),
    // Everything else, native IPv6.
    Row::new(Ipv6Addr::UNSPECIFIED, 0, 40, 1),
    // IPv4, as IPv4-mapped addresses.
    Row::new(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, 35, 4),
    // 6to4.
    Row::new(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, 30, 2),
    // Teredo.
    Row::new(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, 5, 5),
    // Unique local addresses (ULA).
    Row::new(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, 3, 13),
    // IPv4-compatible, deprecated.
    Row::new(Ipv6Addr::UNSPECIFIED, 96, 1, 3),
    // Site-local, deprecated.
    Row::new(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, 1, 11),
    // 6bone, returned.
    Row::new(Ipv6Addr::new(0x3ffe, 0, 0, 0, 0, 0, 0, 0), 16, 1, 12),
];

/// Where IPv4 is in [`POLICY_TABLE`]: `::ffff:0:0/96`, the IPv4-mapped addresses.
const IPV4_ROW: usize = 2;

/// The policy table's row for `ip`: the one with the longest prefix that contains it. IPv4
/// is looked up as its IPv4-mapped form, whose row is always [`IPV4_ROW`] (no longer
/// prefix holds any of them; a test checks it), so it is not searched.
fn policy(ip: IpAddr) -> Row {
    match ip {
        IpAddr::V4(_) => POLICY_TABLE[IPV4_ROW],
        IpAddr::V6(v6) => longest_row(v6),
    }
}

/// The row of [`POLICY_TABLE`] with the longest prefix that contains `ip`.
fn longest_row(ip: Ipv6Addr) -> Row {
    // `::/0` contains every address; no two rows of one length overlap.
    let mut longest = &POLICY_TABLE[1];
    for row in &POLICY_TABLE {
        if row.len > longest.len && row.contains(ip) {
            longest = row;
        }
    }
    *longest
}

/// An address's scope (RFC 6724 §3.1, RFC 4291 §2.7): the part of the network it is
/// meaningful in. Smaller is nearer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scope(u8);

impl Scope {
    /// One link: IPv6 `fe80::/10`, loopback, IPv4 `169.254.0.0/16`.
    const LINK_LOCAL: Scope = Scope(0x2);
    /// One site: IPv6 `fec0::/10`, deprecated.
    const SITE_LOCAL: Scope = Scope(0x5);
    /// Everywhere; ULA and private IPv4 included.
    const GLOBAL: Scope = Scope(0xe);
}

/// The scope of `ip`, as RFC 6724 §3.1 and §3.2 define it.
///
/// IPv6 multicast carries its scope in its second byte; loopback counts as link-local, as
/// do IPv4's `127.0.0.0/8` and `169.254.0.0/16` (§3.2). Every other IPv4 address is global,
/// private and multicast ones included.
fn scope(ip: IpAddr) -> Scope {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_link_local() => Scope::LINK_LOCAL,
        IpAddr::V4(_) => Scope::GLOBAL,
        IpAddr::V6(v6) => {
            let [first, second, ..] = v6.octets();
            if v6.is_loopback() || (first == 0xfe && second & 0xc0 == 0x80) {
                Scope::LINK_LOCAL
            } else if first == 0xff {
                Scope(second & 0x0f)
            } else if first == 0xfe && second & 0xc0 == 0xc0 {
                Scope::SITE_LOCAL
            } else {
                Scope::GLOBAL
            }
        }
    }
}

/// How many leading bits `a` and `b` share, counting only their first 64 (the prefix, not
/// the interface identifier: RFC 6724 §2.2).
fn common_prefix_len(a: Ipv6Addr, b: Ipv6Addr) -> u32 {
    (a.to_bits() ^ b.to_bits()).leading_zeros().min(64)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// The rule that orders `a` and `b`: the first field of the key where they differ.
    fn deciding_rule(a: Key, b: Key) -> Option<u8> {
        [
            (2, a.scope_differs.cmp(&b.scope_differs)),
            (5, a.label_differs.cmp(&b.label_differs)),
            (6, a.precedence.cmp(&b.precedence)),
            (8, a.scope.cmp(&b.scope)),
            (9, a.common_prefix.cmp(&b.common_prefix)),
        ]
        .into_iter()
        .find(|(_, order)| order.is_ne())
        .map(|(rule, _)| rule)
    }

    /// Which of two destinations comes first.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Wins {
        A,
        B,
        /// Neither: they keep their DNS order.
        Neither,
    }

    /// The rule that decides (`None`: none does), which destination wins, destination A and
    /// its source, destination B and its source, and why.
    type Case = (
        Option<u8>,
        Wins,
        [&'static str; 2],
        [&'static str; 2],
        &'static str,
    );

    /// The rules one by one: each pair of destinations (with the source each would get)
    /// is ordered by the rule named and by no earlier one; rule 10 ("neither") means the
    /// keys are equal.
    #[test]
    fn each_rule_alone() {
        use Wins::{Neither, A, B};
        #[rustfmt::skip]
        let cases: &[Case] = &[
            // Rule 2, prefer matching scope.
            (Some(2), A, ["2001:db8:1::1", "2001:db8:1::2"], ["198.51.100.121", "169.254.13.78"],
                "RFC 6724 §10.2: the IPv4 source is link-local, its destination global"),
            (Some(2), B, ["2001:db8:1::1", "fe80::1"], ["198.51.100.121", "198.51.100.117"],
                "RFC 6724 §10.2: the IPv6 source is link-local, its destination global"),
            (Some(2), B, ["fe80::1", "2001:db8::2"], ["2001:db8::1", "2001:db8::2"],
                "a link-local destination with only a global source loses, though rule 8 prefers it"),
            // Rule 5, prefer matching label.
            (Some(5), A, ["2002:c633:6401::1", "2002:c633:6401::2"], ["2001:db8:1::1", "2002:c633:6401::2"],
                "RFC 6724 §10.2: a 6to4 source suits a 6to4 destination, despite its lower precedence"),
            (Some(5), B, ["2001:db8::1", "fd00::2"], ["198.51.100.1", "192.0.2.2"],
                "a global IPv6 destination from a ULA-only host (a default route, no global address) loses to IPv4"),
            (Some(5), B, ["2001:db8::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"], ["198.51.100.1", "192.0.2.2"],
                "a global IPv6 destination from a Teredo-only host loses to IPv4"),
            // Rule 6, prefer higher precedence.
            (Some(6), A, ["2001:db8::1", "2001:db8::2"], ["198.51.100.1", "192.0.2.2"],
                "global IPv6 before global IPv4"),
            (Some(6), A, ["2001:db8:1::1", "2001:db8:1::2"], ["10.1.2.3", "10.1.2.4"],
                "RFC 6724 §10.2: IPv6 before private IPv4"),
            (Some(6), A, ["::1", "::1"], ["127.0.0.1", "127.0.0.1"],
                "loopback ::1 before 127.0.0.1"),
            (Some(6), B, ["fd00::1", "fd00::2"], ["198.51.100.1", "192.0.2.2"],
                "a ULA destination, the only IPv6 a ULA-only host reaches, loses to global IPv4"),
            (Some(6), A, ["2001:db8::1", "2001:db8::2"], ["fd00::1", "fd00::2"],
                "global IPv6 before ULA"),
            (Some(6), B, ["2002:c000:201::1", "2002:c000:201::2"], ["198.51.100.1", "192.0.2.2"],
                "6to4 loses to IPv4"),
            (Some(6), B, ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd3"],
                ["2001:db8::1", "2001:db8::2"],
                "Teredo loses to native IPv6"),
            // Rule 8, prefer smaller scope.
            (Some(8), B, ["2001:db8:1::1", "2001:db8:1::2"], ["fe80::1", "fe80::2"],
                "RFC 6724 §10.2: link-local before global"),
            (Some(8), A, ["169.254.1.1", "169.254.1.2"], ["198.51.100.1", "192.0.2.2"],
                "IPv4 link-local before global"),
            (Some(8), A, ["127.0.0.1", "127.0.0.1"], ["198.51.100.1", "192.0.2.2"],
                "IPv4 loopback before global"),
            (Some(8), A, ["fec0::1", "fec0::2"], ["3ffe::1", "3ffe::2"],
                "site-local before global at equal precedence"),
            // Rule 9, use longest matching prefix.
            (Some(9), A, ["2001:db8:1::1", "2001:db8:1::2"], ["2001:db8:2::1", "2001:db8:1::2"],
                "the IPv6 destination in the source's /64 first"),
            (Some(9), B, ["2001:db8:ffff::1", "2001:db8:1::2"], ["2001:db8:3::1", "2001:db8:1::2"],
                "the IPv6 destination sharing 46 bits before the one sharing 32"),
            (None, Neither, ["2001:db8:1::1", "2001:db8:1::1"], ["2001:db8:1::ffff", "2001:db8:1::1"],
                "rule 9 stops at the /64: interface identifiers do not count"),
            (None, Neither, ["198.51.100.1", "10.0.0.2"], ["10.0.0.1", "10.0.0.2"],
                "no rule 9 for IPv4: sharing 30 bits with the source wins nothing"),
            (None, Neither, ["198.51.100.1", "192.0.2.2"], ["203.0.113.1", "192.0.2.2"],
                "no rule 9 for IPv4: DNS round-robin is kept (Go issue 13283)"),
            // Rule 10, otherwise leave the order unchanged.
            (None, Neither, ["2001:db8::1", "2001:db8::2"], ["2001:db8::3", "2001:db8::2"],
                "two addresses of one /64"),
            (None, Neither, ["::ffff:198.51.100.1", "::ffff:192.0.2.2"], ["198.51.100.1", "192.0.2.2"],
                "an IPv4-mapped address is its IPv4 address"),
        ];
        for &(rule, wins, [dst_a, src_a], [dst_b, src_b], why) in cases {
            let a = key(ip(dst_a), Some(ip(src_a)));
            let b = key(ip(dst_b), Some(ip(src_b)));
            assert!(a.usable() && b.usable(), "{why}");
            assert_eq!(deciding_rule(a, b), rule, "{why}: {a:?} {b:?}");
            let order = match wins {
                A => Ordering::Less,
                B => Ordering::Greater,
                Neither => Ordering::Equal,
            };
            assert_eq!(a.cmp(&b), order, "{why}");
            assert_eq!(b.cmp(&a), order.reverse(), "{why}");
            // As the caller sorts: stably, so a tie keeps the order it was given.
            for given in [[(dst_a, a), (dst_b, b)], [(dst_b, b), (dst_a, a)]] {
                let mut sorted = given;
                sorted.sort_by_key(|&(_, key)| key);
                let first = match wins {
                    A => dst_a,
                    B => dst_b,
                    Neither => given[0].0,
                };
                assert_eq!(sorted[0].0, first, "{why}");
            }
        }
    }

    /// Rule 1 is `usable()`, not part of the order: a destination without a source still
    /// has a key, which differs from a usable one's only where every rule is equal.
    #[test]
    fn no_source_is_unusable() {
        for dst in ["2001:db8::1", "198.51.100.1", "::1", "127.0.0.1", "fe80::1"] {
            assert!(!key(ip(dst), None).usable(), "{dst}");
            assert!(key(ip(dst), Some(ip(dst))).usable(), "{dst}");
        }
        // A destination with no source matches nothing: it loses rule 2 to one with a
        // source of its scope.
        let none = key(ip("2001:db8::1"), None);
        let some = key(ip("2001:db8::1"), Some(ip("2001:db8::2")));
        assert_eq!(deciding_rule(none, some), Some(2));
        // A source of another scope and label, sharing no bit, is worth exactly as much as
        // none under rules 2 to 9: only the remembered rule 1 tells the keys apart.
        let none = key(ip("2002:c000:201::1"), None);
        let other = key(ip("2002:c000:201::1"), Some(ip("fe80::1")));
        assert_eq!(deciding_rule(none, other), None);
        assert!(other < none);
    }

    /// The policy table of RFC 6724 §2.1, looked up by longest prefix.
    #[test]
    fn precedence_and_label() {
        for (addr, precedence, label) in [
            ("::1", 50, 0),
            ("2001:db8::1", 40, 1),
            ("2606:4700::1111", 40, 1),
            ("fe80::1", 40, 1),
            ("::", 1, 3),
            ("::2", 1, 3),
            ("::198.51.100.1", 1, 3),
            ("::ffff:198.51.100.1", 35, 4),
            ("198.51.100.1", 35, 4),
            ("127.0.0.1", 35, 4),
            ("2002::1", 30, 2),
            ("2002:c000:201::1", 30, 2),
            ("2001::1", 5, 5),
            ("2001:0:ffff::1", 5, 5),
            ("2001:1::1", 40, 1),
            ("fc00::1", 3, 13),
            ("fd00::1", 3, 13),
            ("fe00::1", 40, 1),
            ("fec0::1", 1, 11),
            ("feff::1", 1, 11),
            ("3ffe::1", 1, 12),
            ("3fff::1", 40, 1),
        ] {
            let row = policy(ip(addr));
            assert_eq!((row.precedence, row.label), (precedence, label), "{addr}");
        }
    }

    /// Every IPv4 address's row is the IPv4-mapped one, which `policy` returns without a
    /// search: no longer prefix holds an IPv4-mapped address.
    #[test]
    fn ipv4_is_always_its_mapped_row() {
        for row in POLICY_TABLE {
            let holds_ipv4 = row.contains(Ipv4Addr::UNSPECIFIED.to_ipv6_mapped())
                || row.contains(Ipv4Addr::BROADCAST.to_ipv6_mapped());
            assert!(
                !holds_ipv4 || row.len <= POLICY_TABLE[IPV4_ROW].len,
                "{row:?}"
            );
        }
        for v4 in [
            "0.0.0.0",
            "127.0.0.1",
            "169.254.1.2",
            "10.1.2.3",
            "198.51.100.1",
            "255.255.255.255",
        ] {
            let v4: Ipv4Addr = v4.parse().expect("an IPv4 address");
            assert_eq!(
                longest_row(v4.to_ipv6_mapped()),
                POLICY_TABLE[IPV4_ROW],
                "{v4}"
            );
            assert_eq!(policy(IpAddr::V4(v4)), POLICY_TABLE[IPV4_ROW], "{v4}");
        }
    }

    /// Rows of one length have different prefixes, so no address is under two of them:
    /// the first row of the greatest length that contains an address is the longest match.
    #[test]
    fn rows_of_one_length_do_not_overlap() {
        for (i, a) in POLICY_TABLE.iter().enumerate() {
            for b in &POLICY_TABLE[i + 1..] {
                assert!(a.len != b.len || a.prefix != b.prefix, "{a:?} {b:?}");
            }
        }
    }

    /// Rule 9 may skip IPv4 only because rule 6 never lets an IPv4 and an IPv6 destination
    /// reach it: no IPv6 row shares IPv4's precedence.
    #[test]
    fn only_ipv4_has_precedence_35() {
        let ipv4 = policy(ip("198.51.100.1"));
        assert_eq!(ipv4.precedence, 35);
        for row in POLICY_TABLE {
            assert!(row == ipv4 || row.precedence != ipv4.precedence, "{row:?}");
        }
    }

    #[test]
    fn scopes() {
        for (addr, want) in [
            ("127.0.0.1", 0x2),
            ("127.1.2.3", 0x2),
            ("169.254.1.2", 0x2),
            ("169.253.1.2", 0xe),
            ("10.1.2.3", 0xe),
            ("198.51.100.1", 0xe),
            ("224.0.0.1", 0xe),
            ("::1", 0x2),
            ("fe80::1", 0x2),
            ("febf::1", 0x2),
            ("fec0::1", 0x5),
            ("feff::1", 0x5),
            ("fe7f::1", 0xe),
            ("fd00::1", 0xe),
            ("2001:db8::1", 0xe),
            ("ff01::1", 0x1),
            ("ff02::1", 0x2),
            ("ff04::1", 0x4),
            ("ff05::1", 0x5),
            ("ff08::1", 0x8),
            ("ff0e::1", 0xe),
            ("ff12::1", 0x2),
        ] {
            assert_eq!(scope(ip(addr)), Scope(want), "{addr}");
        }
    }

    #[test]
    fn common_prefix_stops_at_64_bits() {
        for (a, b, len) in [
            ("fe80::1", "fe80::2", 64),
            ("fe81::1", "fe80::2", 15),
            ("2001:db8::1", "2001:db8::1", 64),
            ("2001:db8:1::1", "2001:db8:2::1", 46),
            ("::", "8000::", 0),
        ] {
            assert_eq!(common_prefix_len(v6(a), v6(b)), len, "{a} {b}");
            assert_eq!(common_prefix_len(v6(b), v6(a)), len, "{b} {a}");
        }
        let carried = |dst: &str, src: &str| key(ip(dst), Some(ip(src))).common_prefix.0;
        assert_eq!(carried("2001:db8:1::1", "2001:db8:1::2"), 64);
        assert_eq!(carried("198.51.100.1", "198.51.100.2"), 0);
        assert_eq!(carried("::ffff:198.51.100.1", "::ffff:198.51.100.2"), 0);
    }
}
