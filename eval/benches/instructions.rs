//! Instructions per connect, counted by callgrind (gungraun), on loopback only.
//!
//! ```text
//! cargo install gungraun-runner --version 0.20.0   # once: the same version as the crate
//! cargo bench -p connie-eval --bench instructions                 # about 5 s once built
//! ```
//!
//! Each benchmark runs once, in a process of its own under valgrind. Its setup (not
//! counted) makes a current-thread tokio runtime, the listeners (std listeners with no
//! accept loop: the kernel completes loopback handshakes without `accept`), the client,
//! and warms them up. What is counted is the benchmark function alone (gungraun's
//! default callgrind `--toggle-collect`): `runtime.block_on(connect)` — building the
//! client's future, tokio's driver turns it causes, and every attempt's socket calls up to
//! the kernel boundary — and not the stream's drop (it is returned). Valgrind counts
//! user-space instructions only: the kernel's share of each socket call is not in them.
//!
//! - `one_address`: one alive `127.0.0.1` listener. tokio `TcpStream::connect(addr)`,
//!   hyper-util `HttpConnector` (a tower `Service` on `http://IP:PORT/`, the connector made
//!   in setup), `connie::race_connect(SocketAddr)` and `ConnieConnector::connect(SocketAddr)`
//!   (a connector made in setup). Setup connects twice with the same client first, so this
//!   is a warm connect (for connie: its history knows the address).
//! - `four_addresses`: `[refused, refused, refused, alive]` on 127.0.0.2–5: a hand-written
//!   `FuturesUnordered` of four `TcpStream::connect`s (first `Ok` wins) against
//!   `connie::race_connect(&addrs[..])`. Setup warms `race_connect` up on another port, so
//!   the race is a first connect to these addresses (all four dialed), with the
//!   process-wide connector and its source-address cache warm.
//! - `per_address`: 16 and 64 addresses on 127.0.2.x, success (N−1 refused, alive last)
//!   and failure (all refused), for `ConnieConnector::new().max_addresses(64)
//!   .max_concurrent(64).history(0)` and the `FuturesUnordered` racer. Instructions per
//!   address = (count at 64 − count at 16) ÷ 48.
//! - `by_name`: one connect by name, `http://localhost.lab.test.:PORT/`, with both families
//!   in the resolver's warm cache: a connie-lab [`DnsServer`] (its tasks on the fixture's
//!   runtime) serves the name as `127.0.0.1` and `::1`, and an alive listener waits on each
//!   at one port. Each client has a hickory resolver of its own asking that server, with
//!   the same options: the lab's ([`DnsServer::resolver_opts`]) with a cache of 64 names
//!   and every answer kept for an hour. hyper-util's `HttpConnector` resolves with
//!   hickory's `lookup_ip` (as reqwest's `hickory-dns` resolver does), connie with its own
//!   `A` and `AAAA` lookups: `ConnieConnector::new().resolver(…)` as a tower `Service` on
//!   the URI, and its `connect(("localhost.lab.test.", PORT))`. hyper-util passes the host
//!   to its resolver as the URI writes it, trailing dot included, so both clients look up
//!   the same fully qualified name and no search list applies. Setup connects three times
//!   with the same client, each connect asserted, so the caches (and connie's history)
//!   are warm: connie dials its best known address alone (setup checks it makes one
//!   attempt), hyper-util `::1` (IPv6 first).
//!
//! - `*_recorded` (with `--features metrics`, which turns connie's `metrics` feature on):
//!   `race_connect_addr`, `connector_connect`, `race_connect_4` and
//!   `connector_connect_by_name` again, with a recorder installed in setup before the
//!   warm-up: `metrics-util`'s registry of atomic counters, gauges and histogram buckets,
//!   the core of what an exporter keeps (it describes nothing, and nothing reads it). The
//!   rows without the suffix run in the same build with no recorder installed, so each pair
//!   is the feature's cost with and without one; without the feature connie compiles none
//!   of it.
//!
//! ```text
//! cargo bench -p connie-eval --features metrics --bench instructions -- "*race_connect*"
//! ```
//!
//! This bench needs valgrind and the runner, which CI does not install: CI only builds it
//! (`cargo build --workspace --benches`, `cargo clippy --all-targets`), and `cargo test`
//! leaves it out (it is the one bench of this crate without `test = true`). Without
//! `--bench` gungraun runs nothing.

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use connie::ConnieConnector;
use connie_lab::{DnsServer, RefusedHost};
use gungraun::prelude::*;
use hickory_resolver::lookup_ip::LookupIpIntoIter;
use hickory_resolver::net::NetError;
use hickory_resolver::TokioResolver;
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tower_service::Service;

use connie_eval::baseline::{close, ideal};

/// The clients measured.
#[derive(Debug, Clone, Copy)]
enum Client {
    Raw,
    Hyper,
    RaceAddr,
    Connector,
    Ideal,
    RaceSlice,
    /// hyper-util's `HttpConnector` over hickory's `lookup_ip`, on a URI with a name.
    HyperByName,
    /// `ConnieConnector` as a tower `Service`, on the same URI.
    ServiceByName,
    /// `ConnieConnector::connect((name, port))`.
    ConnectByName,
}

/// The lab name served as `127.0.0.1` and `::1`, fully qualified.
const NAME: &str = "localhost.lab.test.";

/// Everything a benchmark needs, made in setup and returned by the benchmark, so that
/// neither its making nor its drop is counted.
struct Fixture {
    runtime: Runtime,
    client: Client,
    addrs: Vec<SocketAddr>,
    hyper: HttpConnector<GaiResolver>,
    uri: Uri,
    connector: ConnieConnector,
    /// hyper-util resolving names with hickory (`by_name` only).
    hyper_by_name: Option<HttpConnector<LookupIp>>,
    _listeners: Vec<TcpListener>,
    _refused: Vec<RefusedHost>,
    /// The DNS server of `by_name`: its tasks run on `runtime`.
    _dns: Option<DnsServer>,
}

impl Fixture {
    fn new(client: Client, addrs: Vec<SocketAddr>, connector: ConnieConnector) -> Fixture {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let uri = format!("http://{}/", addrs[addrs.len() - 1])
            .parse()
            .expect("a URI");
        Fixture {
            runtime,
            client,
            addrs,
            // An IP-literal URI: hyper-util never resolves it.
            hyper: HttpConnector::new(),
            uri,
            connector,
            hyper_by_name: None,
            _listeners: Vec::new(),
            _refused: Vec::new(),
            _dns: None,
        }
    }

    /// One connect, as the benchmark makes it.
    fn connect(&mut self) -> io::Result<TcpStream> {
        let (addrs, first) = (&self.addrs[..], self.addrs[0]);
        let hyper = &mut self.hyper;
        let hyper_by_name = self.hyper_by_name.as_mut();
        let uri = &self.uri;
        let connector = &mut self.connector;
        let client = self.client;
        self.runtime.block_on(async move {
            match client {
                Client::Raw => TcpStream::connect(first).await,
                Client::Hyper => {
                    poll_fn(|cx| hyper.poll_ready(cx))
                        .await
                        .map_err(io::Error::other)?;
                    let io = hyper.call(uri.clone()).await.map_err(io::Error::other)?;
                    Ok(io.into_inner())
                }
                Client::RaceAddr => connie::race_connect(first).await.map_err(io::Error::from),
                Client::Connector => match connector.connect(addrs).await {
                    Ok((stream, _)) => Ok(stream),
                    Err(e) => Err(e.into()),
                },
                Client::Ideal => ideal(addrs).await,
                Client::RaceSlice => connie::race_connect(addrs).await.map_err(io::Error::from),
                Client::HyperByName => {
                    let hyper = hyper_by_name.expect("a by-name fixture");
                    poll_fn(|cx| hyper.poll_ready(cx))
                        .await
                        .map_err(io::Error::other)?;
                    let io = hyper.call(uri.clone()).await.map_err(io::Error::other)?;
                    Ok(io.into_inner())
                }
                Client::ServiceByName => {
                    poll_fn(|cx| connector.poll_ready(cx)).await?;
                    Ok(connector.call(uri.clone()).await?.into_inner())
                }
                Client::ConnectByName => match connector.connect((NAME, first.port())).await {
                    Ok((stream, _)) => Ok(stream),
                    Err(e) => Err(e.into()),
                },
            }
        })
    }

    /// A connect not counted, closed at once.
    fn warm_up(&mut self) {
        if let Ok(stream) = self.connect() {
            close(stream);
        }
    }
}

/// hyper-util's resolver over hickory's `lookup_ip`, written as reqwest's `hickory-dns`
/// resolver is: the resolver shared in an `Arc`, the addresses handed on as an iterator.
#[derive(Clone)]
struct LookupIp(Arc<TokioResolver>);

/// The addresses of a `lookup_ip`, with port 0 (hyper-util sets the URI's).
struct SocketAddrs(LookupIpIntoIter);

impl Iterator for SocketAddrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        self.0.next().map(|ip| SocketAddr::new(ip, 0))
    }
}

impl Service<Name> for LookupIp {
    type Response = SocketAddrs;
    type Error = NetError;
    type Future = Pin<Box<dyn Future<Output = Result<SocketAddrs, NetError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), NetError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = Arc::clone(&self.0);
        Box::pin(async move {
            let lookup = resolver.lookup_ip(name.as_str()).await?;
            Ok(SocketAddrs(lookup.into_iter()))
        })
    }
}

fn v4(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, a, b))
}

/// A listener on `ip` (port 0: any), with no accept loop.
fn listener(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(ip, port))
}

/// An alive listener on the last IP and refused hosts on the others, all on one port.
fn hosts(
    refused: &[IpAddr],
    alive: Option<IpAddr>,
) -> (Vec<SocketAddr>, Vec<TcpListener>, Vec<RefusedHost>) {
    for _ in 0..20 {
        let (mut addrs, mut listeners, mut hosts) = (Vec::new(), Vec::new(), Vec::new());
        // The alive listener (or a first refused host) picks the port.
        let mut port = 0;
        if let Some(ip) = alive {
            let l = listener(ip, 0).expect("a listener");
            port = l.local_addr().expect("its address").port();
            listeners.push(l);
        }
        let mut ok = true;
        for &ip in refused {
            match RefusedHost::bind(SocketAddr::new(ip, port)) {
                Ok(host) => {
                    port = host.addr().port();
                    addrs.push(host.addr());
                    hosts.push(host);
                }
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            if let Some(ip) = alive {
                addrs.push(SocketAddr::new(ip, port));
            }
            return (addrs, listeners, hosts);
        }
    }
    panic!("no port free on every address")
}

fn one_address(client: Client) -> Fixture {
    let (addrs, listeners, _) = hosts(&[], Some(v4(0, 1)));
    let mut fx = Fixture::new(client, addrs, ConnieConnector::new());
    fx._listeners = listeners;
    fx.warm_up();
    fx.warm_up();
    fx
}

fn four_addresses(client: Client) -> Fixture {
    let refused = [v4(0, 2), v4(0, 3), v4(0, 4)];
    let (addrs, listeners, refused) = hosts(&refused, Some(v4(0, 5)));
    let mut fx = Fixture::new(client, addrs, ConnieConnector::new());
    fx._listeners = listeners;
    fx._refused = refused;
    // Warm the runtime, the process connector and its source-address cache up on another
    // port, so that these four addresses are new to its history.
    let other = listener(v4(0, 5), 0).expect("a listener");
    let other = other.local_addr().expect("its address");
    let warm = fx.runtime.block_on(async {
        (
            TcpStream::connect(other).await,
            connie::race_connect(other).await,
        )
    });
    if let (Ok(a), Ok(b)) = warm {
        close(a);
        close(b);
    }
    fx
}

/// Which list a `per_address` benchmark races.
#[derive(Debug, Clone, Copy)]
enum Path {
    Success,
    Failure,
}

fn per_address((client, path, n): (Client, Path, usize)) -> Fixture {
    let refused: Vec<IpAddr> = (1..=64).map(|i| v4(2, i)).collect();
    let (all, listeners, refused) = hosts(&refused, Some(v4(2, 65)));
    let addrs = match path {
        Path::Success => all[..n - 1].iter().chain(&all[64..]).copied().collect(),
        Path::Failure => all[..n].to_vec(),
    };
    let connector = ConnieConnector::new()
        .max_addresses(64)
        .max_concurrent(64)
        .history(0);
    let mut fx = Fixture::new(client, addrs, connector);
    fx._listeners = listeners;
    fx._refused = refused;
    fx.warm_up();
    fx
}

/// Alive listeners on `127.0.0.1` and `::1` at one port: `[::1]:PORT` first, as the
/// fixture's first address.
fn dual_stack() -> (Vec<SocketAddr>, Vec<TcpListener>) {
    for _ in 0..20 {
        let v4 = listener(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).expect("a listener");
        let port = v4.local_addr().expect("its address").port();
        if let Ok(v6) = listener(IpAddr::V6(Ipv6Addr::LOCALHOST), port) {
            let addrs = vec![
                SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            ];
            return (addrs, vec![v6, v4]);
        }
    }
    panic!("no port free on both 127.0.0.1 and ::1")
}

fn by_name(client: Client) -> Fixture {
    let (addrs, listeners) = dual_stack();
    let port = addrs[0].port();
    let mut fx = Fixture::new(client, addrs, ConnieConnector::new());
    fx._listeners = listeners;
    fx.uri = format!("http://{NAME}:{port}/").parse().expect("a URI");
    let (dns, connie, hyper) = fx.runtime.block_on(async {
        let dns = DnsServer::builder()
            .host(
                NAME,
                [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            )
            .start()
            .await
            .expect("the lab DNS server");
        // The lab resolver has its cache off and the lab's TTLs are 1 s: turn the cache
        // on and keep every answer for the whole run.
        let mut opts = DnsServer::resolver_opts();
        opts.cache_size = 64;
        opts.positive_min_ttl = Some(Duration::from_secs(3600));
        opts.negative_min_ttl = Some(Duration::from_secs(3600));
        let resolver = || dns.try_resolver_with(opts.clone()).expect("a resolver");
        let (connie, hyper) = (resolver(), resolver());
        (dns, connie, hyper)
    });
    fx._dns = Some(dns);
    fx.connector = ConnieConnector::new().resolver(connie);
    fx.hyper_by_name = Some(HttpConnector::new_with_resolver(LookupIp(Arc::new(hyper))));
    for _ in 0..3 {
        let stream = fx.connect().expect("a connect by name");
        let peer = stream.peer_addr().expect("its peer");
        assert!(fx.addrs.contains(&peer), "connected to {peer}");
        close(stream);
    }
    if !matches!(client, Client::HyperByName) {
        // From here on connie dials the address its history knows best, alone.
        let (stream, info) = fx
            .runtime
            .block_on(fx.connector.connect((NAME, port)))
            .expect("a connect by name");
        assert_eq!(info.attempts().len(), 1, "{info:?}");
        close(stream);
    }
    fx
}

#[library_benchmark]
#[bench::tokio_raw(args = (Client::Raw), setup = one_address)]
#[bench::hyper_util(args = (Client::Hyper), setup = one_address)]
#[bench::race_connect_addr(args = (Client::RaceAddr), setup = one_address)]
#[bench::connector_connect(args = (Client::Connector), setup = one_address)]
#[bench::ideal_4(args = (Client::Ideal), setup = four_addresses)]
#[bench::race_connect_4(args = (Client::RaceSlice), setup = four_addresses)]
#[bench::hyper_util_by_name(args = (Client::HyperByName), setup = by_name)]
#[bench::service_by_name(args = (Client::ServiceByName), setup = by_name)]
#[bench::connector_connect_by_name(args = (Client::ConnectByName), setup = by_name)]
fn connect(mut fx: Fixture) -> (Fixture, TcpStream) {
    let stream = fx.connect().expect("connected");
    black_box((fx, stream))
}

#[library_benchmark]
#[bench::connie_success_16(args = ((Client::Connector, Path::Success, 16)), setup = per_address)]
#[bench::connie_success_64(args = ((Client::Connector, Path::Success, 64)), setup = per_address)]
#[bench::connie_failure_16(args = ((Client::Connector, Path::Failure, 16)), setup = per_address)]
#[bench::connie_failure_64(args = ((Client::Connector, Path::Failure, 64)), setup = per_address)]
#[bench::ideal_success_16(args = ((Client::Ideal, Path::Success, 16)), setup = per_address)]
#[bench::ideal_success_64(args = ((Client::Ideal, Path::Success, 64)), setup = per_address)]
#[bench::ideal_failure_16(args = ((Client::Ideal, Path::Failure, 16)), setup = per_address)]
#[bench::ideal_failure_64(args = ((Client::Ideal, Path::Failure, 64)), setup = per_address)]
fn race(mut fx: Fixture) -> (Fixture, io::Result<TcpStream>) {
    let result = fx.connect();
    black_box((fx, result))
}

library_benchmark_group!(name = one_and_four, benchmarks = connect);
library_benchmark_group!(name = per_address_group, benchmarks = race);

/// A recorder that keeps every metric in `metrics-util`'s registry, as an exporter does
/// between two scrapes.
#[cfg(feature = "metrics")]
mod recorder {
    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use metrics_util::registry::{AtomicStorage, Registry};

    struct Registered(Registry<Key, AtomicStorage>);

    impl Recorder for Registered {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.0
                .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
        }

        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.0
                .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
        }

        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            self.0
                .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
        }
    }

    /// Installs it as the process's recorder (each benchmark is a process of its own).
    pub(super) fn install() {
        metrics::set_global_recorder(Registered(Registry::atomic())).expect("the only recorder");
    }
}

#[cfg(feature = "metrics")]
fn one_address_recorded(client: Client) -> Fixture {
    recorder::install();
    one_address(client)
}

#[cfg(feature = "metrics")]
fn four_addresses_recorded(client: Client) -> Fixture {
    recorder::install();
    four_addresses(client)
}

#[cfg(feature = "metrics")]
fn by_name_recorded(client: Client) -> Fixture {
    recorder::install();
    by_name(client)
}

#[cfg(feature = "metrics")]
#[library_benchmark]
#[bench::race_connect_addr_recorded(args = (Client::RaceAddr), setup = one_address_recorded)]
#[bench::connector_connect_recorded(args = (Client::Connector), setup = one_address_recorded)]
#[bench::race_connect_4_recorded(args = (Client::RaceSlice), setup = four_addresses_recorded)]
#[bench::connector_connect_by_name_recorded(args = (Client::ConnectByName), setup = by_name_recorded)]
fn connect_recorded(mut fx: Fixture) -> (Fixture, TcpStream) {
    let stream = fx.connect().expect("connected");
    black_box((fx, stream))
}

#[cfg(feature = "metrics")]
library_benchmark_group!(name = recorded_group, benchmarks = connect_recorded);

#[cfg(not(feature = "metrics"))]
main!(library_benchmark_groups = one_and_four, per_address_group);
#[cfg(feature = "metrics")]
main!(
    library_benchmark_groups = one_and_four,
    per_address_group,
    recorded_group
);
