//! The IPv4 address inside an IPv6 address that carries one.
//!
//! A packet to such an address ends up at the IPv4 address inside: a socket dials an
//! IPv4-mapped address as IPv4, a NAT64 translator (RFC 6052) or a SIIT one (RFC 6145)
//! rewrites the destination, a 6to4 relay (RFC 3056) or a Teredo one (RFC 4380) tunnels to
//! it. So [`PublicOnly`](super::PublicOnly) judges these addresses by the IPv4 address they
//! carry, as [`Form`] reads it.
//!
//! [`Nat64Prefix`] is a NAT64 prefix of any length RFC 6052 allows: the table's two
//! well-known ones, or one a network uses (found with RFC 7050, say), which
//! [`is_public_behind`](super::is_public_behind) takes at run time.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::table::under;

/// How an IPv6 address carries an IPv4 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    /// In its last 32 bits: IPv4-mapped `::ffff:a.b.c.d` (RFC 4291) and SIIT's
    /// `::ffff:0:a.b.c.d` (RFC 6145).
    Mapped,
    /// As RFC 6052 §2.2 lays it out for the length of the row's prefix.
    Nat64,
    /// 6to4 (RFC 3056): in bits 16 to 47, after `2002::/16`.
    SixToFour,
    /// Teredo (RFC 4380 §4): the server's address in bits 32 to 63, the client's in the
    /// last 32 bits with every bit inverted.
    Teredo,
}

/// The IPv4 addresses a packet to an IPv6 address goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Carried {
    /// Where the packet ends up.
    pub(super) destination: Ipv4Addr,
    /// Where it goes first, for Teredo: the client's Teredo server.
    pub(super) via: Option<Ipv4Addr>,
}

impl Form {
    /// The IPv4 addresses `ip`, under the row `prefix/len` of this form, carries; `None` if
    /// `ip` is not a well-formed address of the form (see [`Nat64Prefix::extract`]).
    pub(super) fn carried(self, prefix: Ipv6Addr, len: u8, ip: Ipv6Addr) -> Option<Carried> {
        let bits = ip.to_bits();
        // The 32 bits that end `end` bits into the address.
        let word = |end: u32| Ipv4Addr::from_bits((bits >> (128 - end)) as u32);
        let (destination, via) = match self {
            Form::Mapped => (word(128), None),
            Form::Nat64 => (Nat64Prefix { prefix, len }.extract(ip)?, None),
            Form::SixToFour => (word(48), None),
            Form::Teredo => (Ipv4Addr::from_bits(!word(128).to_bits()), Some(word(64))),
        };
        Some(Carried { destination, via })
    }
}

/// A NAT64 prefix (RFC 6052): the addresses under it carry an IPv4 address, which the
/// translator reaches in their stead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Nat64Prefix {
    /// The prefix, with every bit past `len` zero.
    prefix: Ipv6Addr,
    /// 32, 40, 48, 56, 64 or 96.
    len: u8,
}

impl Nat64Prefix {
    /// `prefix/len`, or `None` if RFC 6052 §2.2 does not allow it: `len` must be 32, 40,
    /// 48, 56, 64 or 96, and a `/96` must have bits 64 to 71 (the "u" octet) zero. Bits of
    /// `prefix` past `len` are ignored.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the hook for a NAT64 prefix found at run time")
    )]
    pub(crate) fn new(prefix: Ipv6Addr, len: u8) -> Option<Self> {
        if !matches!(len, 32 | 40 | 48 | 56 | 64 | 96) {
            return None;
        }
        let mask = u128::MAX << (128 - u32::from(len));
        let prefix = Ipv6Addr::from_bits(prefix.to_bits() & mask);
        (prefix.octets()[U_OCTET] == 0).then_some(Nat64Prefix { prefix, len })
    }

    /// The prefix's length in bits.
    pub(crate) fn len(&self) -> u8 {
        self.len
    }

    /// `true` if `ip` is under this prefix.
    pub(crate) fn contains(&self, ip: Ipv6Addr) -> bool {
        under(self.prefix.to_bits(), self.len, ip)
    }

    /// The IPv4 address `ip` carries (RFC 6052 §2.2), or `None` if `ip` is not under this
    /// prefix or not a well-formed address of it: the "u" octet (bits 64 to 71) and the
    /// suffix (every bit after the IPv4 address) must be zero. An address that breaks the
    /// format has no IPv4 address a policy can be sure of.
    pub(crate) fn extract(&self, ip: Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.contains(ip) {
            return None;
        }
        let octets = ip.octets();
        let at = ipv4_octets(self.len);
        let suffix = &octets[at[3] + 1..];
        if octets[U_OCTET] != 0 || suffix.iter().any(|&b| b != 0) {
            return None;
        }
        Some(Ipv4Addr::from(at.map(|i| octets[i])))
    }

    /// `v4` under this prefix, as RFC 6052 §2.2 lays it out.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the hook for a NAT64 prefix found at run time; tests build addresses"
        )
    )]
    pub(crate) fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut octets = self.prefix.octets();
        for (i, b) in ipv4_octets(self.len).into_iter().zip(v4.octets()) {
            octets[i] = b;
        }
        Ipv6Addr::from(octets)
    }
}

/// The "u" octet of RFC 6052 §2.2: bits 64 to 71, always zero.
const U_OCTET: usize = 8;

/// Which octets of an address under a NAT64 prefix of `len` bits hold the IPv4 address's
/// four: those right after the prefix, skipping the "u" octet.
fn ipv4_octets(len: u8) -> [usize; 4] {
    let mut next = usize::from(len / 8);
    [0; 4].map(|_| {
        if next == U_OCTET {
            next += 1;
        }
        next += 1;
        next - 1
    })
}
