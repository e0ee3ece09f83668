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
//!
//! This bench needs valgrind and the runner, which CI does not install: CI only builds it
//! (`cargo build --workspace --benches`, `cargo clippy --all-targets`), and `cargo test`
//! leaves it out (it is the one bench of this crate without `test = true`). Without
//! `--bench` gungraun runs nothing.

use std::hint::black_box;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use connie::ConnieConnector;
use connie_lab::RefusedHost;
use gungraun::prelude::*;
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::GaiResolver;
use hyper_util::client::legacy::connect::HttpConnector;
use std::future::poll_fn;
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
}

/// Everything a benchmark needs, made in setup and returned by the benchmark, so that
/// neither its making nor its drop is counted.
struct Fixture {
    runtime: Runtime,
    client: Client,
    addrs: Vec<SocketAddr>,
    hyper: HttpConnector<GaiResolver>,
    uri: Uri,
    connector: ConnieConnector,
    _listeners: Vec<TcpListener>,
    _refused: Vec<RefusedHost>,
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
            _listeners: Vec::new(),
            _refused: Vec::new(),
        }
    }

    /// One connect, as the benchmark makes it.
    fn connect(&mut self) -> io::Result<TcpStream> {
        let (addrs, first) = (&self.addrs[..], self.addrs[0]);
        let hyper = &mut self.hyper;
        let uri = &self.uri;
        let connector = &self.connector;
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

#[library_benchmark]
#[bench::tokio_raw(args = (Client::Raw), setup = one_address)]
#[bench::hyper_util(args = (Client::Hyper), setup = one_address)]
#[bench::race_connect_addr(args = (Client::RaceAddr), setup = one_address)]
#[bench::connector_connect(args = (Client::Connector), setup = one_address)]
#[bench::ideal_4(args = (Client::Ideal), setup = four_addresses)]
#[bench::race_connect_4(args = (Client::RaceSlice), setup = four_addresses)]
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

main!(library_benchmark_groups = one_and_four, per_address_group);
