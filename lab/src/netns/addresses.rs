//! The lab's addressing plan: which documentation addresses the client, the DNS server
//! and the hosts have, and the `ip` commands that give them and their routes.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::delay_line::TUN_NAME;
use super::sys::Namespace;
use super::{invalid, HostSpec};

/// The client's IPv4 address (client namespace).
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The client's IPv6 address (client namespace).
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
/// The lab DNS server's address (server namespace); reserved, not usable for a host.
pub const DNS_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);
/// The lab DNS server's address for an IPv6-only client
/// ([`NetLabBuilder::ipv6_only_client`](super::NetLabBuilder::ipv6_only_client));
/// reserved, not usable for a host.
pub const DNS_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53);
/// Hosts must be in `192.0.2.0/24` (not the DNS address) or `2001:db8::/32` (not the
/// client's `2001:db8:ffff::/48`).
pub(super) fn check_host(ip: IpAddr) -> io::Result<()> {
    let ok = match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [192, 0, 2] && v4 != DNS_V4,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            s[..2] == [0x2001, 0xdb8] && s[2] != 0xffff && v6 != DNS_V6
        }
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{ip} is not a lab host address (192.0.2.0/24 but not {DNS_V4}, \
             2001:db8::/32 but not 2001:db8:ffff::/48 or {DNS_V6})"
        )))
    }
}

/// The client's network beyond the lab's ranges: a default route of either family, into
/// its TUN device; and whether it has no IPv4 at all.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ClientNet {
    pub(super) default_v4: bool,
    pub(super) default_v6: bool,
    pub(super) ipv6_only: bool,
}

impl ClientNet {
    /// The lab DNS server's address: IPv6 for an IPv6-only client.
    pub(super) fn dns(self) -> IpAddr {
        match self.ipv6_only {
            true => IpAddr::V6(DNS_V6),
            false => IpAddr::V4(DNS_V4),
        }
    }
}

/// Addresses and routes: the client reaches the host ranges (and, as `net` says,
/// everything of a family) through its TUN device, the server holds the hosts on `lo`
/// and reaches the client ranges through its TUN device.
pub(super) fn configure(
    client: &Namespace,
    server: &Namespace,
    hosts: &[(IpAddr, HostSpec)],
    net: ClientNet,
) -> io::Result<()> {
    let (v4, v6) = (CLIENT_V4.to_string(), CLIENT_V6.to_string());
    if !net.ipv6_only {
        client.ip(&["addr", "add", &format!("{v4}/32"), "dev", TUN_NAME])?;
    }
    client.ip(&[
        "addr",
        "add",
        &format!("{v6}/128"),
        "dev",
        TUN_NAME,
        "nodad",
    ])?;
    client.ip(&["link", "set", TUN_NAME, "up"])?;
    if !net.ipv6_only {
        client.ip(&["route", "add", "192.0.2.0/24", "dev", TUN_NAME, "src", &v4])?;
    }
    client.ip(&["route", "add", "2001:db8::/32", "dev", TUN_NAME, "src", &v6])?;
    if net.default_v4 && !net.ipv6_only {
        client.ip(&["route", "add", "default", "dev", TUN_NAME, "src", &v4])?;
    }
    if net.default_v6 {
        client.ip(&["-6", "route", "add", "default", "dev", TUN_NAME, "src", &v6])?;
    }

    server.ip(&["link", "set", TUN_NAME, "up"])?;
    let dns = (net.dns(), HostSpec::Blackholed);
    for (ip, _) in hosts.iter().chain([&dns]) {
        match ip {
            IpAddr::V4(_) => server.ip(&["addr", "add", &format!("{ip}/32"), "dev", "lo"])?,
            IpAddr::V6(_) => {
                server.ip(&["addr", "add", &format!("{ip}/128"), "dev", "lo", "nodad"])?;
            }
        }
    }
    server.ip(&["route", "add", "198.51.100.0/24", "dev", TUN_NAME])?;
    server.ip(&["route", "add", "2001:db8:ffff::/48", "dev", TUN_NAME])
}
