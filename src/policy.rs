//! Address policy: which resolved addresses a race may dial at all.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Decides, after DNS and before any SYN, whether an address may be dialed.
///
/// A refused address is never dialed; it is listed in the
/// [`ConnectError`](crate::ConnectError) with an [`io::Error`](std::io::Error) of kind
/// [`PermissionDenied`](std::io::ErrorKind::PermissionDenied) whose inner error is
/// [`PolicyRefused`]. If every address is refused, no connection is attempted and the race
/// fails with [`ErrorKind::RefusedByPolicy`](crate::ErrorKind::RefusedByPolicy).
///
/// Because the policy sees the addresses actually dialed, not the name, it also holds
/// against DNS rebinding (a name that resolves to a public address when checked and to
/// `127.0.0.1` when used).
///
/// Any `Fn(SocketAddr) -> bool + Send + Sync` is a policy; [`PublicOnly`] is the SSRF guard
/// a webhook sender needs.
pub trait AddressPolicy: Send + Sync + 'static {
    /// `true` if `addr` may be dialed.
    fn allows(&self, addr: SocketAddr) -> bool;
}

impl<F> AddressPolicy for F
where
    F: Fn(SocketAddr) -> bool + Send + Sync + 'static,
{
    fn allows(&self, addr: SocketAddr) -> bool {
        self(addr)
    }
}

/// Allows only globally routable unicast addresses: refuses loopback, private (RFC 1918,
/// ULA `fc00::/7`), link-local, unspecified, multicast, broadcast, shared CGNAT
/// (`100.64.0.0/10`), reserved and documentation ranges, and the IPv4-mapped, NAT64 and
/// 6to4 forms of any of those. See [`is_public`].
///
/// ```
/// use connie::{ConnieConnector, PublicOnly};
/// let connector = ConnieConnector::new().address_policy(PublicOnly);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicOnly;

impl AddressPolicy for PublicOnly {
    fn allows(&self, addr: SocketAddr) -> bool {
        is_public(addr.ip())
    }
}

/// `true` if `ip` is a globally routable unicast address, as [`PublicOnly`] decides.
///
/// Refused IPv4: `0.0.0.0/8`, `10.0.0.0/8`, `100.64.0.0/10` (CGNAT), `127.0.0.0/8`,
/// `169.254.0.0/16`, `172.16.0.0/12`, `192.0.0.0/24`, `192.0.2.0/24`, `192.168.0.0/16`,
/// `198.18.0.0/15`, `198.51.100.0/24`, `203.0.113.0/24`, `224.0.0.0/4` (multicast),
/// `240.0.0.0/4` (reserved, broadcast included).
///
/// Refused IPv6: `::` and `::1`, `::/96` (IPv4-compatible), `100::/64` (discard),
/// `2001:db8::/32` (documentation), `fc00::/7` (ULA), `fe80::/10` (link-local),
/// `fec0::/10` (site-local), `ff00::/8` (multicast); and `::ffff:0:0/96` (IPv4-mapped),
/// `64:ff9b::/96` (NAT64) and `2002::/16` (6to4) when the IPv4 address they carry is refused.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || (a == 100 && (64..128).contains(&b))
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // ::/96: unspecified, loopback and the deprecated IPv4-compatible form.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // ::ffff:0:0/96, IPv4-mapped.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // 64:ff9b::/96, NAT64.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded_v4(hi, lo)),
        // 2002::/16, 6to4.
        [0x2002, hi, lo, ..] => is_public_v4(embedded_v4(hi, lo)),
        // 100::/64, discard-only.
        [0x100, 0, 0, 0, ..] => false,
        // 2001:db8::/32, documentation.
        [0x2001, 0xdb8, ..] => false,
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00 // fc00::/7, unique local
                || (first & 0xffc0) == 0xfe80 // fe80::/10, link-local
                || (first & 0xffc0) == 0xfec0 // fec0::/10, site-local
                || (first & 0xff00) == 0xff00) // ff00::/8, multicast
        }
    }
}

/// The error inside an attempt's [`io::Error`](std::io::Error) when the
/// [`AddressPolicy`] refused its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRefused;

impl fmt::Display for PolicyRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("address refused by policy")
    }
}

impl std::error::Error for PolicyRefused {}

/// A shared policy in the connector's configuration.
#[derive(Clone)]
pub(crate) struct Policy(pub(crate) Arc<dyn AddressPolicy>);

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Policy(..)")
    }
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Policy {}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn refuses_every_non_public_range() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
            "100::1",
            "2001:db8::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn allows_public_unicast() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.255",
            // Each refused range needs all of its octets: one alone refuses nothing.
            "169.253.1.1",
            "1.254.1.1",
            "1.64.0.1",
            "1.16.0.1",
            "192.1.2.1",
            "1.0.2.1",
            "1.168.0.1",
            "1.18.0.1",
            "198.51.99.1",
            "198.50.100.1",
            "1.51.100.1",
            "203.0.112.1",
            "203.1.113.1",
            "1.0.113.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(public(ip), "{ip} must be allowed");
        }
    }

    /// A connector's policy is the same one as long as it is the same `Arc`; its `Debug`
    /// says nothing of a closure it cannot print.
    #[test]
    fn a_policy_is_equal_only_to_itself() {
        let a = Policy(Arc::new(PublicOnly));
        let b = Policy(Arc::new(PublicOnly));
        assert_eq!(a, a.clone());
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Policy(..)");
        assert_eq!(PolicyRefused.to_string(), "address refused by policy");
    }

    #[test]
    fn closures_are_policies() {
        let only_port_443 = |a: SocketAddr| a.port() == 443;
        assert!(only_port_443.allows("1.1.1.1:443".parse().unwrap()));
        assert!(!only_port_443.allows("1.1.1.1:80".parse().unwrap()));
        assert!(!PublicOnly.allows("127.0.0.1:443".parse().unwrap()));
    }
}
