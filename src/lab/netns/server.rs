//! What runs on the server side: accept loops of alive hosts and the lab DNS server.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::lab::DnsServerBuilder;

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
    for ip in alive {
        let addr = SocketAddr::new(ip, port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        tokio::task::spawn_local(accept_loop(listener, addr));
    }
    let server = dns.start_on(dns_ip).await?;
    let started = Started {
        dns_udp: server.udp_addr(),
        dns_tcp: server.tcp_addr(),
    };
    // Keep the server for as long as the thread runs.
    tokio::task::spawn_local(async move {
        let _server = server;
        std::future::pending::<()>().await;
    });
    Ok(started)
}

/// Accepts connections and reads each until EOF, like [`AliveHost`](crate::lab::AliveHost)
/// (which only binds loopback addresses).
async fn accept_loop(listener: TcpListener, addr: SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::trace!(%addr, %peer, "netlab host accepted a connection");
                tokio::task::spawn_local(drain(stream));
            }
            Err(error) => {
                tracing::trace!(%addr, %error, "netlab host accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn drain(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
