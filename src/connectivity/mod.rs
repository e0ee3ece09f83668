//! Which address families a connector looks up: the ones it is told to use
//! ([`IpFamily`]), and of those, the ones this host can reach ([`Connectivity`]).
//!
//! Happy Eyeballs v3 (draft-ietf-happy-happyeyeballs-v3, §4) sends an `AAAA` query only
//! with IPv6 connectivity and an `A` query only with IPv4 connectivity. A container
//! without IPv6, or an IPv6-only subnet, then spends nothing on the family it cannot
//! use: no query, no answer to wait for, no attempt bound to fail.
//!
//! Connectivity is probed as the source address of a destination is found (see
//! `order::source`): a UDP socket `connect()`ed to a global address of the family has a
//! route and a source address, or fails, and sends no packet. A family has connectivity
//! if the kernel gives it a source that is neither loopback, link-local nor unspecified.
//! The answer is kept for [`PROBE_TTL`], per connector (its clones share it): the probe
//! runs in the network namespace of the thread that connects.

mod reach;

use std::time::Duration;

pub(crate) use self::reach::Reach;
use crate::Family;

/// The address families a connector looks up and dials.
///
/// Set with [`ConnieConnector::ip_family`](crate::ConnieConnector::ip_family). A family
/// left out is never queried, and its addresses (a literal target's, or a resolver's that
/// answers both families at once) are never dialed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4 and IPv6, as far as this host can reach each (see [`Connectivity`]).
    #[default]
    Both,
    /// IPv4 only: `A` lookups and IPv4 addresses.
    V4Only,
    /// IPv6 only: `AAAA` lookups and IPv6 addresses; on a host that reaches IPv6 only,
    /// IPv4 addresses too, dialed through the network's NAT64 prefix (IPv6 addresses).
    V6Only,
}

impl IpFamily {
    /// Whether `family` is one of these.
    pub fn allows(self, family: Family) -> bool {
        match self {
            IpFamily::Both => true,
            IpFamily::V4Only => family == Family::V4,
            IpFamily::V6Only => family == Family::V6,
        }
    }
}

/// How a connector tells which families this host can reach, to look up only those.
///
/// Set with
/// [`ConnieConnector::connectivity`](crate::ConnieConnector::connectivity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Connectivity {
    /// Ask the kernel whether each family has a route and a source address to a global
    /// destination (no packet is sent), every 5 seconds at most. A family without
    /// one is not looked up, as long as the other family has one: with neither (a
    /// machine with loopback only), both are looked up, since the names may be local.
    #[default]
    Probe,
    /// Take both families as reachable, and look both up: for a host whose routing
    /// table does not tell (a proxy, a tunnel that routes everything, a test bench).
    Assume,
}

/// How long a probe's answer stands before the kernel is asked again: a network change
/// (a VPN coming up, an interface losing its IPv6 address) is followed within seconds.
pub(crate) const PROBE_TTL: Duration = Duration::from_secs(5);

/// The families a race to a host name looks up, with `ip_family` and `connectivity` set
/// on its connector, whose probes `reach` keeps.
pub(crate) fn families(ip_family: IpFamily, connectivity: Connectivity, reach: &Reach) -> IpFamily {
    match (ip_family, connectivity) {
        (IpFamily::Both, Connectivity::Probe) => reach.families(),
        (families, _) => families,
    }
}
