//! Address policy: which resolved addresses a race may dial at all.
//!
//! [`AddressPolicy`] is the question a race asks of each address. [`PublicOnly`] answers
//! it from [`table`], the IANA special-purpose registries as rows, and from [`carried`],
//! which reads the IPv4 address inside the IPv6 forms that carry one.

mod carried;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use self::carried::Carried;
pub(crate) use self::carried::Nat64Prefix;
use self::table::Verdict;

/// Decides, after DNS and before any SYN, whether an address may be dialed.
///
/// A refused address is never dialed. It is kept apart from the attempts: in
/// [`ConnectError::refused_by_policy`](crate::ConnectError::refused_by_policy) and
/// [`ConnectInfo::refused_by_policy`](crate::ConnectInfo::refused_by_policy), while the
/// error's message only counts the refused addresses, so that a service reflecting it
/// does not tell whoever gave it a name what internal addresses that name resolves to.
/// If every address is refused, no connection is attempted and the race fails with
/// [`ErrorKind::RefusedByPolicy`](crate::ErrorKind::RefusedByPolicy).
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

/// Allows only globally reachable unicast addresses: the SSRF guard a webhook sender needs.
///
/// An address takes the verdict of the most specific row that contains it in connie's
/// copy of the IANA IPv4 and IPv6 Special-Purpose Address Registries, both as last
/// updated on 2025-10-09 (the table is `src/policy/table.rs`; each row names its block,
/// its RFC and what the registry says). So [`PublicOnly`]:
///
/// - refuses every block the registries do not call globally reachable, but for the forms
///   below that carry an IPv4 address: loopback, "this network", private-use (RFC 1918),
///   shared (`100.64.0.0/10`), link-local, unique local (`fc00::/7`), documentation
///   (`192.0.2.0/24`, `2001:db8::/32`, `3fff::/20`, …), benchmarking, discard-only, the
///   IETF protocol assignments (`192.0.0.0/24`, `2001::/23`), SRv6 SIDs (`5f00::/16`), the
///   reserved `240.0.0.0/4` and broadcast; and multicast, and every IPv6 address outside
///   global unicast `2000::/3`;
/// - refuses as well, going further than the registries: the terminated 6to4 relay
///   anycast `192.88.99.0/24` and ORCHID `2001:10::/28`, ORCHIDv2 `2001:20::/28` (which the
///   registry marks reachable, but RFC 7343 says is not routable), and the deprecated
///   IPv4-compatible `::/96`, whatever it carries;
/// - judges an IPv6 address that carries an IPv4 address by that address: IPv4-mapped
///   `::ffff:0:0/96`, SIIT `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96` and local-use
///   `64:ff9b:1::/48` (laid out as RFC 6052 §2.2 says for a `/48`; an address that breaks
///   the layout is refused), 6to4 `2002::/16`, and Teredo `2001::/32` (its client's address
///   and its server's must both be allowed);
/// - allows everything else, the more specific blocks the registries call globally
///   reachable included (`192.0.0.9`, `192.0.0.10`, AS112, AMT, `2001:1::1`, …).
///
/// `64:ff9b::a9fe:a9fe` is `169.254.169.254` (a cloud's metadata service) behind a NAT64,
/// so it is refused; `64:ff9b::808:808` is `8.8.8.8`, so it is allowed.
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

/// `true` if `ip` is a globally reachable unicast address, as [`PublicOnly`] decides: see
/// there for what it refuses, and why.
///
/// ```
/// use std::net::IpAddr;
/// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
/// assert!(connie::is_public(ip("8.8.8.8")));
/// assert!(!connie::is_public(ip("169.254.169.254")));
/// assert!(!connie::is_public(ip("::ffff:127.0.0.1")));
/// assert!(!connie::is_public(ip("64:ff9b:1:7f00:0:100::"))); // 127.0.0.1 behind a NAT64
/// ```
pub fn is_public(ip: IpAddr) -> bool {
    is_public_behind(ip, &[])
}

/// [`is_public`], on a network whose NAT64 translators use `nat64` as well as the
/// well-known prefixes: an address under one of them is judged by the IPv4 address it
/// carries (and refused if it breaks RFC 6052's layout), unless a row of the table with a
/// longer prefix contains it. Under two of them, the longer decides.
pub(crate) fn is_public_behind(ip: IpAddr, nat64: &[Nat64Prefix]) -> bool {
    let v6 = match ip {
        IpAddr::V4(v4) => return is_public_v4(v4),
        IpAddr::V6(v6) => v6,
    };
    // Without a row, refuse: the table's `::/0` row means it never happens.
    let Some(row) = table::lookup(&table::IPV6, v6) else {
        return false;
    };
    let local = nat64
        .iter()
        .filter(|prefix| prefix.contains(v6) && prefix.len() >= row.len)
        .max_by_key(|prefix| prefix.len());
    let carried = match (local, row.verdict) {
        (Some(prefix), _) => prefix.extract(v6).map(|destination| Carried {
            destination,
            via: None,
        }),
        (None, Verdict::Allowed) => return true,
        (None, Verdict::Refused) => return false,
        (None, Verdict::Carries(form)) => form.carried(row.prefix, row.len, v6),
    };
    carried.is_some_and(|c| is_public_v4(c.destination) && c.via.is_none_or(is_public_v4))
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    table::lookup(&table::IPV4, ip).is_some_and(|row| row.verdict == Verdict::Allowed)
}

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
