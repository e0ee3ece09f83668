//! The IANA Special-Purpose Address Registries, as the table [`PublicOnly`] reads.
//!
//! Each row is a prefix with its name, its RFC, what the registry's "Globally Reachable"
//! column says of it, and connie's verdict. The rows are those of the IPv4 and the IPv6
//! Special-Purpose Address Registries, both as last updated on 2025-10-09
//! (<https://www.iana.org/assignments/iana-ipv4-special-registry/>,
//! <https://www.iana.org/assignments/iana-ipv6-special-registry/>), plus the few rows,
//! marked [`Reachable::Unlisted`], that make every address fall under one: the `/0` rows,
//! multicast, the IPv6 Address Space's global unicast `2000::/3`, and the IPv4-compatible
//! and SIIT forms.
//!
//! An address takes the verdict of the most specific row that contains it, so
//! `192.0.0.9/32` (globally reachable) wins over `192.0.0.0/24` (not).
//!
//! Where the verdict is not what the registry says, the row's comment says why.
//!
//! [`PublicOnly`]: super::PublicOnly

use std::net::{Ipv4Addr, Ipv6Addr};

use super::carried::Form::{self, Mapped, Nat64, SixToFour, Teredo};
use Reachable::{False, NotApplicable, Terminated, True, Unlisted};
use Verdict::{Allowed, Carries, Refused};

/// One row: a prefix and what [`PublicOnly`](super::PublicOnly) does with the addresses
/// under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Row<A> {
    /// The prefix, with every bit past `len` zero.
    pub(super) prefix: A,
    /// The prefix's length in bits.
    pub(super) len: u8,
    /// The registry's name for the block.
    pub(super) name: &'static str,
    /// The RFC that defines the block.
    pub(super) rfc: &'static str,
    /// What the registry's "Globally Reachable" column says.
    pub(super) reachable: Reachable,
    /// What connie does with the addresses under the prefix.
    pub(super) verdict: Verdict,
}

/// The "Globally Reachable" column of a registry row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reachable {
    /// True: forwardable beyond the administrative domain.
    True,
    /// False.
    False,
    /// N/A: the registry leaves it to the address inside (6to4, Teredo).
    NotApplicable,
    /// The allocation was terminated; the registry leaves the column empty.
    Terminated,
    /// Not a row of the special-purpose registries: see the row's RFC.
    Unlisted,
}

/// What [`PublicOnly`](super::PublicOnly) does with an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Dial it.
    Allowed,
    /// Never dial it.
    Refused,
    /// Judge it by the IPv4 address it carries in this form.
    Carries(Form),
}

/// A row for `prefix/len`.
const fn row<A>(
    prefix: A,
    len: u8,
    name: &'static str,
    rfc: &'static str,
    reachable: Reachable,
    verdict: Verdict,
) -> Row<A> {
    Row {
        prefix,
        len,
        name,
        rfc,
        reachable,
        verdict,
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

const fn v6(s: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
}

/// The IPv4 rows.
#[rustfmt::skip]
pub(super) static IPV4: [Row<Ipv4Addr>; 28] = [
    row(v4(0, 0, 0, 0), 0, "IPv4 unicast", "RFC 791", Unlisted, Allowed),
    row(v4(0, 0, 0, 0), 8, "\"This network\"", "RFC 791", False, Refused),
    row(v4(0, 0, 0, 0), 32, "\"This host on this network\"", "RFC 1122", False, Refused),
    row(v4(10, 0, 0, 0), 8, "Private-Use", "RFC 1918", False, Refused),
    row(v4(100, 64, 0, 0), 10, "Shared Address Space", "RFC 6598", False, Refused),
    row(v4(127, 0, 0, 0), 8, "Loopback", "RFC 1122", False, Refused),
    row(v4(169, 254, 0, 0), 16, "Link Local", "RFC 3927", False, Refused),
    row(v4(172, 16, 0, 0), 12, "Private-Use", "RFC 1918", False, Refused),
    row(v4(192, 0, 0, 0), 24, "IETF Protocol Assignments", "RFC 6890", False, Refused),
    row(v4(192, 0, 0, 0), 29, "IPv4 Service Continuity Prefix", "RFC 7335", False, Refused),
    row(v4(192, 0, 0, 8), 32, "IPv4 dummy address", "RFC 7600", False, Refused),
    row(v4(192, 0, 0, 9), 32, "Port Control Protocol Anycast", "RFC 7723", True, Allowed),
    row(v4(192, 0, 0, 10), 32, "Traversal Using Relays around NAT Anycast", "RFC 8155", True, Allowed),
    row(v4(192, 0, 0, 170), 32, "NAT64/DNS64 Discovery", "RFC 8880", False, Refused),
    row(v4(192, 0, 0, 171), 32, "NAT64/DNS64 Discovery", "RFC 8880", False, Refused),
    row(v4(192, 0, 2, 0), 24, "Documentation (TEST-NET-1)", "RFC 5737", False, Refused),
    row(v4(192, 31, 196, 0), 24, "AS112-v4", "RFC 7535", True, Allowed),
    row(v4(192, 52, 193, 0), 24, "AMT", "RFC 7450", True, Allowed),
    // Terminated in 2015 (RFC 7526): no relay may answer there any more.
    row(v4(192, 88, 99, 0), 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526", Terminated, Refused),
    row(v4(192, 88, 99, 2), 32, "6a44-relay anycast address", "RFC 6751", False, Refused),
    row(v4(192, 168, 0, 0), 16, "Private-Use", "RFC 1918", False, Refused),
    row(v4(192, 175, 48, 0), 24, "Direct Delegation AS112 Service", "RFC 7534", True, Allowed),
    row(v4(198, 18, 0, 0), 15, "Benchmarking", "RFC 2544", False, Refused),
    row(v4(198, 51, 100, 0), 24, "Documentation (TEST-NET-2)", "RFC 5737", False, Refused),
    row(v4(203, 0, 113, 0), 24, "Documentation (TEST-NET-3)", "RFC 5737", False, Refused),
    row(v4(224, 0, 0, 0), 4, "Multicast", "RFC 5771", Unlisted, Refused),
    row(v4(240, 0, 0, 0), 4, "Reserved", "RFC 1112", False, Refused),
    row(v4(255, 255, 255, 255), 32, "Limited Broadcast", "RFC 919", False, Refused),
];

/// The IPv6 rows.
#[rustfmt::skip]
pub(super) static IPV6: [Row<Ipv6Addr>; 30] = [
    // Outside global unicast, the IPv6 Address Space registry has the IETF's reserved
    // blocks and the special ones below (ULA, link-local, multicast, ...): none a server's.
    row(v6([0, 0, 0, 0, 0, 0, 0, 0]), 0, "Reserved by IETF", "RFC 4291", Unlisted, Refused),
    row(v6([0, 0, 0, 0, 0, 0, 0, 0]), 128, "Unspecified Address", "RFC 4291", False, Refused),
    row(v6([0, 0, 0, 0, 0, 0, 0, 1]), 128, "Loopback Address", "RFC 4291", False, Refused),
    // Deprecated (RFC 4291 §2.5.5.1) and dialed as IPv6 by nothing: refused whatever it
    // carries.
    row(v6([0, 0, 0, 0, 0, 0, 0, 0]), 96, "IPv4-compatible (deprecated)", "RFC 4291", Unlisted, Refused),
    // False as an IPv6 destination, but a socket dials the IPv4 address inside.
    row(v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96, "IPv4-mapped Address", "RFC 4291", False, Carries(Mapped)),
    row(v6([0, 0, 0, 0, 0xffff, 0, 0, 0]), 96, "IPv4-translated (SIIT)", "RFC 6145", Unlisted, Carries(Mapped)),
    // True, but a translator forwards to the IPv4 address inside.
    row(v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96, "IPv4-IPv6 Translat.", "RFC 6052", True, Carries(Nat64)),
    // False beyond the network that runs the translator, but a packet to it goes to the
    // IPv4 address inside.
    row(v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48, "IPv4-IPv6 Translat.", "RFC 8215", False, Carries(Nat64)),
    row(v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64, "Discard-Only Address Block", "RFC 6666", False, Refused),
    row(v6([0x100, 0, 0, 1, 0, 0, 0, 0]), 64, "Dummy IPv6 Prefix", "RFC 9780", False, Refused),
    row(v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3, "Global Unicast", "RFC 4291", Unlisted, Allowed),
    row(v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23, "IETF Protocol Assignments", "RFC 2928", False, Refused),
    // N/A: judged by the client's IPv4 address, and the server's.
    row(v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, "TEREDO", "RFC 4380", NotApplicable, Carries(Teredo)),
    row(v6([0x2001, 1, 0, 0, 0, 0, 0, 1]), 128, "Port Control Protocol Anycast", "RFC 7723", True, Allowed),
    row(v6([0x2001, 1, 0, 0, 0, 0, 0, 2]), 128, "Traversal Using Relays around NAT Anycast", "RFC 8155", True, Allowed),
    row(v6([0x2001, 1, 0, 0, 0, 0, 0, 3]), 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665", True, Allowed),
    row(v6([0x2001, 2, 0, 0, 0, 0, 0, 0]), 48, "Benchmarking", "RFC 5180", False, Refused),
    row(v6([0x2001, 3, 0, 0, 0, 0, 0, 0]), 32, "AMT", "RFC 7450", True, Allowed),
    row(v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0]), 48, "AS112-v6", "RFC 7535", True, Allowed),
    // Terminated in 2014.
    row(v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0]), 28, "Deprecated (previously ORCHID)", "RFC 4843", Terminated, Refused),
    // True in the registry, but RFC 7343: ORCHIDs are identifiers, not routable at the
    // IP layer, so no connection to one can be meant.
    row(v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0]), 28, "ORCHIDv2", "RFC 7343", True, Refused),
    row(v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0]), 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", True, Allowed),
    row(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32, "Documentation", "RFC 3849", False, Refused),
    // N/A: judged by the IPv4 address of the site.
    row(v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16, "6to4", "RFC 3056", NotApplicable, Carries(SixToFour)),
    row(v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0]), 48, "Direct Delegation AS112 Service", "RFC 7534", True, Allowed),
    row(v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20, "Documentation", "RFC 9637", False, Refused),
    row(v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]), 16, "Segment Routing (SRv6) SIDs", "RFC 9602", False, Refused),
    row(v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, "Unique-Local", "RFC 4193", False, Refused),
    row(v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10, "Link-Local Unicast", "RFC 4291", False, Refused),
    row(v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, "Multicast", "RFC 4291", Unlisted, Refused),
];

/// An address family's addresses as bits, for prefix matching.
pub(super) trait Bits: Copy {
    /// The address's width in bits.
    const WIDTH: u32;
    /// The address as an integer.
    fn bits(self) -> u128;
}

impl Bits for Ipv4Addr {
    const WIDTH: u32 = 32;
    fn bits(self) -> u128 {
        u128::from(self.to_bits())
    }
}

impl Bits for Ipv6Addr {
    const WIDTH: u32 = 128;
    fn bits(self) -> u128 {
        self.to_bits()
    }
}

impl<A: Bits> Row<A> {
    /// `true` if `ip` is under this row's prefix.
    pub(super) fn contains(&self, ip: A) -> bool {
        under(self.prefix.bits(), self.len, ip)
    }
}

/// `true` if `ip`'s first `len` bits are `prefix`'s.
pub(super) fn under<A: Bits>(prefix: u128, len: u8, ip: A) -> bool {
    let host_bits = A::WIDTH.saturating_sub(u32::from(len));
    (ip.bits() ^ prefix).checked_shr(host_bits).unwrap_or(0) == 0
}

/// The most specific row of `table` that contains `ip`; `None` only for a table without a
/// `/0` row.
pub(super) fn lookup<A: Bits>(table: &'static [Row<A>], ip: A) -> Option<&'static Row<A>> {
    table
        .iter()
        .filter(|row| row.contains(ip))
        .max_by_key(|row| row.len)
}
