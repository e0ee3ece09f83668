//! NAT64 (RFC 6146) as a client sees it: the network's IPv6 prefix that stands for all of
//! IPv4 ([`Pref64`]), found through DNS64 (RFC 7050), and the IPv6 form of an IPv4
//! address under it (RFC 6052).
//!
//! On an IPv6-only network with NAT64 (mobile carriers, IPv6-only cloud subnets), an
//! IPv4-only host is reached at its IPv4 address embedded in the prefix: a DNS64 server
//! answers `AAAA` with such addresses, and for an IPv4 literal, or an `A` answer, the
//! client makes them itself (Happy Eyeballs v3, §4.4 and §7).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::{Connectivity, ConnieConnector, IpFamily};

/// The name a DNS64 server answers with the well-known addresses under its prefix
/// (RFC 7050, §2).
pub(crate) const IPV4ONLY_ARPA: &str = "ipv4only.arpa.";

/// The two IPv4 addresses `ipv4only.arpa.` has (RFC 7050, §2.2).
const WELL_KNOWN: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 0, 170), Ipv4Addr::new(192, 0, 0, 171)];

/// The prefix lengths RFC 6052 allows, longest (the most common, `/96`) first.
const LENGTHS: [u8; 6] = [96, 64, 56, 48, 40, 32];

/// A NAT64 prefix: an IPv6 prefix of one of RFC 6052's lengths, under which each IPv4
/// address has one IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pref64 {
    /// The prefix's bytes, the rest zero.
    prefix: [u8; 16],
    /// In bytes: 4, 5, 6, 7, 8 or 12 (a byte, so that a race's future holding the prefix
    /// grows by 18 bytes, not 32).
    len: u8,
}

impl Pref64 {
    /// The prefix of `len` bits (one of 32, 40, 48, 56, 64, 96) of `ip`; `None` for another
    /// length.
    pub(crate) fn new(ip: Ipv6Addr, len: u8) -> Option<Pref64> {
        if !LENGTHS.contains(&len) {
            return None;
        }
        let len = len / 8;
        let mut prefix = [0; 16];
        let n = usize::from(len);
        prefix[..n].copy_from_slice(&ip.octets()[..n]);
        Some(Pref64 { prefix, len })
    }

    /// The prefix a DNS64 server synthesised `ipv4only.arpa.`'s `AAAA` answer under: the
    /// first of `answer`'s addresses to hold a well-known address at one of RFC 6052's
    /// places, with nothing after it (RFC 7050, §3).
    pub(crate) fn discover(answer: impl IntoIterator<Item = IpAddr>) -> Option<Pref64> {
        answer.into_iter().find_map(|ip| {
            let IpAddr::V6(ip) = ip else { return None };
            LENGTHS.into_iter().find_map(|len| {
                let pref64 = Pref64::new(ip, len)?;
                let v4 = pref64.extract(ip)?;
                (WELL_KNOWN.contains(&v4) && pref64.embed(v4) == ip).then_some(pref64)
            })
        })
    }

    /// `v4`'s IPv6 address under this prefix (RFC 6052, §2.2): its four bytes after the
    /// prefix, skipping byte 8 (bits 64 to 71, which are zero), the rest zero.
    pub(crate) fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut bytes = self.prefix;
        for (at, byte) in self.places().zip(v4.octets()) {
            bytes[at] = byte;
        }
        Ipv6Addr::from(bytes)
    }

    /// The IPv4 address `ip` embeds, if it is under this prefix.
    pub(crate) fn extract(&self, ip: Ipv6Addr) -> Option<Ipv4Addr> {
        let bytes = ip.octets();
        let n = usize::from(self.len);
        if bytes[..n] != self.prefix[..n] {
            return None;
        }
        let mut v4 = [0; 4];
        for (byte, at) in v4.iter_mut().zip(self.places()) {
            *byte = bytes[at];
        }
        Some(Ipv4Addr::from(v4))
    }

    /// The IPv4 address `addr` stands for, if it is an IPv6 address under this prefix.
    pub(crate) fn extract_addr(&self, addr: SocketAddr) -> Option<SocketAddr> {
        match addr {
            SocketAddr::V6(v6) => Some(SocketAddr::new(self.extract(*v6.ip())?.into(), v6.port())),
            SocketAddr::V4(_) => None,
        }
    }

    /// `addr`'s IPv6 address under this prefix, for an IPv4 address a client may reach
    /// through NAT64; any other address as it is. Happy Eyeballs v3 never synthesises
    /// `0.0.0.0/8`, `127.0.0.0/8`, `169.254.0.0/16` or `255.255.255.255`: they are this
    /// host's or its link's, never behind a translator.
    pub(crate) fn synthesize(&self, addr: SocketAddr) -> SocketAddr {
        match addr {
            SocketAddr::V4(v4) if !local(*v4.ip()) => {
                SocketAddr::V6(SocketAddrV6::new(self.embed(*v4.ip()), v4.port(), 0, 0))
            }
            other => other,
        }
    }

    /// Where an IPv4 address's four bytes go: from the end of the prefix on, skipping
    /// byte 8.
    fn places(&self) -> impl Iterator<Item = usize> {
        (usize::from(self.len)..16).filter(|&at| at != 8).take(4)
    }
}

/// An IPv4 address of this host or its link, which no NAT64 stands for.
fn local(v4: Ipv4Addr) -> bool {
    v4.octets()[0] == 0 || v4.is_loopback() || v4.is_link_local() || v4.is_broadcast()
}

/// The connector's side of NAT64: whether a race may need it, and the prefix, found once
/// per connectivity probe.
impl<D> ConnieConnector<D> {
    /// Whether a race to `addr` may have to reach it through NAT64: an IPv4 address, on a
    /// host that probes its connectivity and may lack IPv4 (one atomic load).
    pub(crate) fn may_need_nat64(&self, addr: SocketAddr) -> bool {
        addr.is_ipv4() && self.probes_nat64() && self.reach.may_lack_ipv4()
    }

    /// Whether this connector reaches IPv4 through NAT64 when the probe finds IPv6 only:
    /// it probes its connectivity, and may use IPv6.
    pub(crate) fn probes_nat64(&self) -> bool {
        self.config.connectivity == Connectivity::Probe && self.config.ip_family != IpFamily::V4Only
    }

    /// The NAT64 prefix to reach IPv4 addresses through, if this host reaches IPv6 only
    /// (as probed) and its network has one: found with the connector's resolver (RFC
    /// 7050), and kept as long as the probe's answer.
    pub(crate) async fn nat64(&self) -> Option<Pref64> {
        if !self.probes_nat64() || self.reach.families() != IpFamily::V6Only {
            return None;
        }
        if let Some(known) = self.reach.pref64() {
            return known;
        }
        // Boxed: a race that never looks it up carries no room for it.
        let found = Box::pin(self.resolver.nat64_prefix()).await;
        self.reach.found_pref64(found);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// RFC 6052 §2.4's table: 192.0.2.33 under each prefix length.
    #[test]
    fn rfc6052_examples() {
        let examples = [
            ("2001:db8::", 32, "2001:db8:c000:221::"),
            ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
            ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::", 96, "2001:db8:122:344::192.0.2.33"),
            ("64:ff9b::", 96, "64:ff9b::192.0.2.33"),
        ];
        for (prefix, len, want) in examples {
            let pref64 = Pref64::new(v6(prefix), len).unwrap();
            assert_eq!(pref64.embed(v4("192.0.2.33")), v6(want), "/{len}");
            assert_eq!(pref64.extract(v6(want)), Some(v4("192.0.2.33")), "/{len}");
        }
    }

    #[test]
    fn only_rfc6052_lengths() {
        for len in [0, 31, 33, 72, 80, 128] {
            assert_eq!(Pref64::new(v6("64:ff9b::"), len), None, "/{len}");
        }
    }

    #[test]
    fn an_address_outside_the_prefix_embeds_nothing() {
        let pref64 = Pref64::new(v6("2001:db8:64::"), 96).unwrap();
        assert_eq!(pref64.extract(v6("2001:db8:65::c000:221")), None);
        let addr: SocketAddr = "[2001:db8:64::a00:1]:443".parse().unwrap();
        assert_eq!(
            pref64.extract_addr(addr),
            Some("10.0.0.1:443".parse().unwrap())
        );
        assert_eq!(pref64.extract_addr("10.0.0.1:443".parse().unwrap()), None);
    }

    /// Discovery finds the prefix at whichever length the server used, and ignores
    /// answers without a well-known address.
    #[test]
    fn discovery() {
        for (prefix, len) in [
            ("64:ff9b::", 96),
            ("2001:db8:122:344::", 64),
            ("2001:db8::", 32),
        ] {
            let pref64 = Pref64::new(v6(prefix), len).unwrap();
            let answer = [
                IpAddr::V4(v4("192.0.0.170")),
                IpAddr::V6(v6("2001:db8::1")),
                IpAddr::V6(pref64.embed(v4("192.0.0.171"))),
            ];
            assert_eq!(Pref64::discover(answer), Some(pref64), "/{len}");
        }
        assert_eq!(Pref64::discover([IpAddr::V6(v6("64:ff9b::1"))]), None);
        assert_eq!(Pref64::discover([]), None);
    }

    /// Local IPv4 addresses are never synthesised; IPv6 ones are kept as they are.
    #[test]
    fn what_is_synthesised() {
        let pref64 = Pref64::new(v6("64:ff9b::"), 96).unwrap();
        let s = |a: &str| pref64.synthesize(a.parse().unwrap()).to_string();
        assert_eq!(s("192.0.2.1:80"), "[64:ff9b::c000:201]:80");
        assert_eq!(s("10.0.0.1:80"), "[64:ff9b::a00:1]:80");
        for kept in [
            "0.1.2.3:80",
            "127.0.0.1:80",
            "169.254.1.1:80",
            "255.255.255.255:80",
            "[::1]:80",
        ] {
            assert_eq!(s(kept), kept);
        }
    }
}
