//! Race TCP *and* the TLS handshake, and print how every attempt went.
//!
//! ```text
//! cargo run --example tls_race --features rustls   # a built-in loopback scenario, no network needed
//! ```
//!
//! A loopback lab names four hosts `www.lab.test.`, in this order: one that accepts TCP
//! and never answers, one that resets during the TLS handshake, one whose certificate is
//! not trusted, and one that completes TLS (its certificate, and the CA the client trusts,
//! are made at start-up). connie with TLS racing connects with race-all, RFC 8305, and
//! sequential with a 1 s per-attempt timeout; then connie racing TCP alone, with the TLS
//! handshake after it (as a TCP connector wrapped by a TLS one does), is given 3 seconds.

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connie::{ConnectInfo, ConnieConnector, Schedule};
use connie_lab::{HostKind, Lab};

/// How long the TCP-only client is given before we call it hung.
const PATIENCE: Duration = Duration::from_secs(3);
/// The per-attempt timeout of the sequential schedule.
const SEQUENTIAL_ATTEMPT: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> ExitCode {
    run().await.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

async fn run() -> Result<ExitCode, Box<dyn Error>> {
    let lab = Lab::builder()
        .silent("127.0.0.2".parse()?)
        .reset("127.0.0.3".parse()?)
        .bad_tls("127.0.0.4".parse()?)
        .tls("127.0.0.5".parse()?)
        .build()
        .await?;
    let dns = lab.dns("www").start().await?;
    let identity = lab
        .tls_identity()
        .ok_or("a lab with TLS hosts has an identity")?;
    let config = identity.client_config(&[b"h2", b"http/1.1"]);
    let target = ("www.lab.test.", lab.port());
    println!("www.lab.test.:{} is, in DNS order:", lab.port());
    for addr in lab.addrs() {
        let kind = lab.kind_of(addr).unwrap_or(HostKind::Alive);
        println!("  {addr:<16} {kind}: {}", kind.behaviour());
    }

    let mut summary = Vec::new();
    for (name, schedule, attempt_timeout) in [
        ("race-all", Schedule::race_all(), None),
        ("rfc8305", Schedule::rfc8305(), None),
        // Without a timeout it would wait on the silent host forever, as any client that
        // tries one address at a time does.
        (
            "sequential, 1 s per attempt",
            Schedule::sequential(),
            Some(SEQUENTIAL_ATTEMPT),
        ),
    ] {
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .schedule(schedule)
            .attempt_timeout(attempt_timeout)
            .rustls(config.clone());
        let (stream, info) = connector.connect(target).await?;
        println!("\nconnie TLS racing, {name}:");
        print_attempts(&info, &lab);
        let alpn = stream
            .alpn()
            .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned());
        println!("  TLS up with {} (ALPN: {alpn})", info.remote_addr());
        summary.push(format!("{name} {}", ms(info.elapsed())));
    }

    println!("\nconnie racing TCP alone, then TLS on the winner:");
    let tcp = ConnieConnector::new().resolver(dns.resolver());
    let started = Instant::now();
    let (stream, info) = tcp.connect(target).await?;
    let winner = info.remote_addr();
    let kind = lab.kind_of(winner).unwrap_or(HostKind::Alive);
    println!("  TCP won by {winner} ({kind}: {})", kind.behaviour());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = tls.connect("www.lab.test".try_into()?, stream);
    let tcp_only = match tokio::time::timeout(PATIENCE, handshake).await {
        Ok(Ok(_)) => format!("TLS up after {}", ms(started.elapsed())),
        Ok(Err(e)) => format!("TLS failed after {}: {e}", ms(started.elapsed())),
        Err(_) => format!("TLS still waiting after {}", ms(PATIENCE)),
    };
    println!("  {tcp_only}");
    println!(
        "\nsummary: connie TLS racing {}; TCP racing then TLS: {tcp_only}",
        summary.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn print_attempts(info: &ConnectInfo, lab: &Lab) {
    for a in info.attempts() {
        let kind = lab
            .kind_of(a.addr())
            .map(|k| k.to_string())
            .unwrap_or_default();
        let tcp = a
            .transport_connected()
            .map_or("never".to_owned(), |t| format!("after {}", ms(t)));
        println!(
            "  {:<16} {kind:<13} started at {:>9}, TCP up {tcp:>12}, then {}",
            a.addr(),
            ms(a.started()),
            a.outcome()
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
