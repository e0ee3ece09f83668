//! What runs on the server side: the alive and TLS hosts and the lab DNS server.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rustls::ServerConfig;

use crate::dns::QueryCounts;
use crate::{AliveHost, DnsServerBuilder, TlsHost};

/// Addresses of the started DNS server, and the TLS hosts.
pub(crate) struct Started {
    pub(crate) dns_udp: SocketAddr,
    pub(crate) dns_tcp: SocketAddr,
    pub(crate) dns_queries: QueryCounts,
    pub(crate) tls: Vec<(IpAddr, TlsHost)>,
}

/// Binds every alive host and every TLS host (handshaking with their configuration) on
/// `port`, and starts the DNS server on `dns_ip`. Runs on the server thread; the alive
/// hosts and the DNS server live in local tasks until it stops, the TLS hosts as long as
/// the returned handles (their tasks run on this thread too).
pub(crate) async fn start(
    alive: Vec<IpAddr>,
    tls: Option<(Vec<IpAddr>, Arc<ServerConfig>)>,
    port: u16,
    dns: DnsServerBuilder,
    dns_ip: IpAddr,
) -> io::Result<Started> {
    let listening = |addr: SocketAddr| {
        move |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
    };
    let hosts = alive
        .into_iter()
        .map(|ip| {
            let addr = SocketAddr::new(ip, port);
            AliveHost::bind_in_netns(addr).map_err(listening(addr))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut tls_hosts = Vec::new();
    if let Some((ips, config)) = tls {
        for ip in ips {
            let addr = SocketAddr::new(ip, port);
            let host =
                TlsHost::bind_in_netns(addr, Arc::clone(&config)).map_err(listening(addr))?;
            tls_hosts.push((ip, host));
        }
    }
    let server = dns.start_on(dns_ip).await?;
    let started = Started {
        dns_udp: server.udp_addr(),
        dns_tcp: server.tcp_addr(),
        dns_queries: server.counts.clone(),
        tls: tls_hosts,
    };
    // Keep the hosts and the server for as long as the thread runs.
    tokio::task::spawn_local(async move {
        let _running = (hosts, server);
        std::future::pending::<()>().await;
    });
    Ok(started)
}
