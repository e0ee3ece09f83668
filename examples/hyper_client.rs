//! GET a URL with hyper-util's `Client` over `ConnieConnector`, and print how the race went.
//!
//! ```text
//! cargo run --example hyper_client                          # built-in loopback scenario
//! cargo run --example hyper_client -- http://example.com/   # a real request (plain HTTP)
//! ```
//!
//! The built-in scenario needs no network: it starts an HTTP server on a loopback address,
//! a blackholed host on another loopback address with the same port, and an in-process DNS
//! server resolving `www.lab.test.` to both. The GET succeeds at once although the first
//! address would hang for minutes, and the response says which address won and how each
//! attempt ended (read from `ConnectInfo` in the response's extensions).

use std::convert::Infallible;
use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use connie::{ConnectError, ConnectInfo, ConnieConnector};
use connie_lab::{DnsServer, Lab};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type BoxError = Box<dyn Error + Send + Sync>;

/// The whole request, connecting included, is given up after this long.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// The built-in scenario's addresses: the blackhole is first in DNS order.
const BLACKHOLED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 61));
const ALIVE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 62));
/// How many lab ports to try before giving up on binding the server next to the lab.
const BIND_TRIES: usize = 20;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::args().nth(1) {
        Some(url) => {
            let uri: Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
            if uri.scheme_str() != Some("http") {
                return Err(format!(
                    "{url:?}: this example speaks plain HTTP only (an http:// URL); \
                     for HTTPS wrap the connector with hyper-rustls, as tests/https.rs does"
                )
                .into());
            }
            get(ConnieConnector::new(), uri).await
        }
        None => built_in().await,
    }
}

/// GETs `uri` and prints the status, the winning address and every attempt.
async fn get(connector: ConnieConnector, uri: Uri) -> Result<(), BoxError> {
    let connector = connector.total_timeout(Some(TOTAL_TIMEOUT));
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    println!("GET {uri}");
    let response = match client.get(uri).await {
        Ok(response) => response,
        Err(error) => {
            print_failure(&error);
            return Err("the request failed".into());
        }
    };
    println!("status: {}", response.status());
    match response.extensions().get::<ConnectInfo>() {
        Some(info) => print_info(info),
        None => println!("(no ConnectInfo: the connection did not come from connie)"),
    }
    let body = response.into_body().collect().await?.to_bytes();
    println!("body: {} bytes", body.len());
    if body.len() <= 80 {
        println!("  {}", String::from_utf8_lossy(&body).trim_end());
    }
    Ok(())
}

fn print_info(info: &ConnectInfo) {
    println!(
        "winner: {} in {} (local address {})",
        info.remote_addr(),
        ms(info.elapsed()),
        info.local_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string())
    );
    if let Some(a) = info.dns_v4() {
        println!("  dns: A answered after {}", ms(a));
    }
    if let Some(aaaa) = info.dns_v6() {
        println!("  dns: AAAA answered after {}", ms(aaaa));
    }
    for attempt in info.attempts() {
        println!(
            "  {:<24} started at {:>10}, ran {:>10}: {}",
            attempt.addr(),
            ms(attempt.started()),
            ms(attempt.duration()),
            attempt.outcome()
        );
    }
}

/// `2.60 ms`: every duration in one unit, as a person compares them.
fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Prints a failed request, with every address connie tried if connecting failed.
fn print_failure(error: &hyper_util::client::legacy::Error) {
    println!("request failed: {error}");
    let mut next = error.source();
    while let Some(e) = next {
        if let Some(connie) = e.downcast_ref::<ConnectError>() {
            println!("  connie: {connie}");
            for attempt in connie.attempts() {
                println!("  {:<24} {}", attempt.addr(), attempt.error());
            }
            for dns in connie.dns_errors() {
                println!("  dns: {dns}");
            }
            return;
        }
        println!("  caused by: {e}");
        next = e.source();
    }
}

/// The built-in loopback scenario.
async fn built_in() -> Result<(), BoxError> {
    let (lab, server) = lab_with_server().await?;
    let dns = DnsServer::builder()
        .host("www", [BLACKHOLED, ALIVE])
        .start()
        .await?;
    println!("www.lab.test. resolves to:");
    println!(
        "  {:<24} blackholed (a plain connect would hang ~2 minutes)",
        lab.addrs()[0]
    );
    println!("  {:<24} alive HTTP server", server);
    println!();

    let connector = ConnieConnector::new().resolver(dns.resolver());
    let uri: Uri = format!("http://www.lab.test.:{}/", lab.port()).parse()?;
    get(connector, uri).await
}

/// A lab with a blackhole on `BLACKHOLED:P`, and an HTTP server on `ALIVE:P`.
async fn lab_with_server() -> Result<(Lab, SocketAddr), BoxError> {
    for _ in 0..BIND_TRIES {
        let lab = Lab::builder().blackholed(BLACKHOLED).build().await?;
        match TcpListener::bind(SocketAddr::new(ALIVE, lab.port())).await {
            Ok(listener) => {
                let addr = listener.local_addr()?;
                tokio::spawn(serve(listener));
                return Ok((lab, addr));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(format!("no lab port was free on {ALIVE} after {BIND_TRIES} tries").into())
}

/// Serves `hello from <address>` over HTTP/1 to every connection.
async fn serve(listener: TcpListener) {
    while let Ok((stream, _peer)) = listener.accept().await {
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let service = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
            let body = Full::new(Bytes::from(format!("hello from {local}\n")));
            Ok::<_, Infallible>(Response::new(body))
        });
        tokio::spawn(async move {
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("server connection failed: {error}");
            }
        });
    }
}
