//! What runs on the server side: the alive hosts and the lab DNS server.

use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::{AliveHost, DnsServerBuilder};

/// Addresses of the started DNS server.
pub(crate) struct Started {
    pub(crate) dns_udp: SocketAddr,
    pub(crate) dns_tcp: SocketAddr,
}

/// Binds every alive host on `port` and starts the DNS server on `dns_ip`. Runs on the
/// server thread; the listeners and the server live in local tasks until it stops.
pub(crate) async fn start(
    alive: Vec<IpAddr>,
    port: u16,
    dns: DnsServerBuilder,
    dns_ip: IpAddr,
) -> io::Result<Started> {
    let hosts = alive
        .into_iter()
        .map(|ip| {
            let addr = SocketAddr::new(ip, port);
            AliveHost::bind_in_netns(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let server = dns.start_on(dns_ip).await?;
    let started = Started {
        dns_udp: server.udp_addr(),
        dns_tcp: server.tcp_addr(),
    };
    // Keep the hosts and the server for as long as the thread runs.
    tokio::task::spawn_local(async move {
        let _running = (hosts, server);
        std::future::pending::<()>().await;
    });
    Ok(started)
}
