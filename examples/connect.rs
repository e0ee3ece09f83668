//! Race a connection and print how it went.
//!
//! ```text
//! cargo run --example connect                 # a built-in loopback scenario, no network needed
//! cargo run --example connect -- HOST:PORT    # a real connection with the default connector
//! ```
//!
//! The built-in scenario starts a loopback lab: one name, `www.lab.test.`, served by an
//! in-process DNS server, whose addresses are a blackholed `::1`, two blackholed and one
//! refused 127.0.0.x, and one alive 127.0.0.x. It connects to it with each schedule and
//! with tokio's own `TcpStream::connect` over the same addresses, and prints the result.

use std::error::Error;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connie::lab::{DnsServer, Lab};
use connie::{ConnectInfo, ConnieConnector, Schedule};

/// How long tokio's sequential connect is given before we call it hung.
const TOKIO_PATIENCE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    match std::env::args().nth(1) {
        Some(target) => real(&target).await,
        None => lab().await,
    }
}

async fn real(target: &str) -> Result<(), Box<dyn Error>> {
    let (stream, info) = ConnieConnector::new().connect(target).await?;
    print_info(target, &info);
    drop(stream);
    Ok(())
}

async fn lab() -> Result<(), Box<dyn Error>> {
    let ip = |s: &str| s.parse().expect("a valid loopback address");
    let lab = Lab::builder()
        .blackholed(ip("::1"))
        .blackholed(ip("127.0.0.2"))
        .blackholed(ip("127.0.0.3"))
        .refused(ip("127.0.0.4"))
        .alive(ip("127.0.0.5"))
        .build()
        .await?;
    let dns = DnsServer::builder()
        .host("www", lab.addrs().iter().map(SocketAddr::ip))
        .start()
        .await?;
    let name = ("www.lab.test.", lab.port());
    println!("www.lab.test. resolves to (in DNS order):");
    for addr in lab.addrs() {
        let kind = lab.kind_of(addr).expect("a host of the lab");
        println!("  {addr:<22} {kind:?}");
    }
    println!();

    for (label, schedule) in [
        ("connie race-all, 1 s per attempt", Schedule::race_all()),
        ("connie rfc8305, 1 s per attempt", Schedule::rfc8305()),
        ("connie sequential, 1 s per attempt", Schedule::sequential()),
    ] {
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .schedule(schedule)
            .attempt_timeout(Some(Duration::from_secs(1)));
        match connector.connect(name).await {
            Ok((_stream, info)) => print_info(label, &info),
            Err(e) => println!("{label}: failed: {e}"),
        }
    }

    // tokio's TcpStream::connect tries the same addresses one after another.
    let addrs = lab.addrs();
    let start = Instant::now();
    let tokio =
        tokio::time::timeout(TOKIO_PATIENCE, tokio::net::TcpStream::connect(&addrs[..])).await;
    match tokio {
        Ok(Ok(s)) => println!(
            "tokio TcpStream::connect: {} after {:?}",
            s.peer_addr()?,
            start.elapsed()
        ),
        Ok(Err(e)) => println!(
            "tokio TcpStream::connect: failed after {:?}: {e}",
            start.elapsed()
        ),
        Err(_) => {
            println!("tokio TcpStream::connect: still hanging after {TOKIO_PATIENCE:?} (gave up)")
        }
    }
    Ok(())
}

fn print_info(label: &str, info: &ConnectInfo) {
    println!(
        "{label}: connected to {} in {:?}",
        info.remote_addr(),
        info.elapsed()
    );
    if let (Some(a), Some(aaaa)) = (info.dns_v4(), info.dns_v6()) {
        println!("    dns: A after {a:?}, AAAA after {aaaa:?}");
    }
    for a in info.attempts() {
        println!(
            "    {:<22} started {:>9.1?}  ran {:>9.1?}  {:?}",
            a.addr(),
            a.started(),
            a.duration(),
            a.outcome()
        );
    }
}
