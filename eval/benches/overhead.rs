//! What connie costs on the happy path, against one alive loopback host (criterion).
//!
//! ```text
//! cargo bench -p connie-eval --bench overhead     # under a minute
//! ```
//!
//! The `connect` group times one connection to an alive [`AliveHost`] on `127.0.0.1`:
//!
//! - `raw TcpStream::connect`: tokio, the baseline;
//! - `race_connect(SocketAddr)`: [`connie::race_connect`] with an address (no DNS);
//! - `connect(localhost.lab.test.) warm DNS`: a [`ConnieConnector`] whose hickory resolver
//!   asks a lab [`DnsServer`] serving `localhost.lab.test.` → `127.0.0.1`, with its cache on
//!   and warmed (never the system resolver);
//! - `hyper-util HttpConnector`: called as a tower `Service` on `http://127.0.0.1:PORT/`.
//!
//! The `concurrent` group times 1,000 connects started at once (`join_all`) on a
//! multi-thread runtime, raw and through `race_connect(SocketAddr)`.
//!
//! Only the connect is timed (`iter_custom`); each stream is then closed with `SO_LINGER`
//! 0, so that no `TIME_WAIT` piles up and exhausts the ephemeral ports.
//!
//! After criterion, a plain loop of 2,000 sequential connects per round (5 rounds,
//! alternating raw and `race_connect(SocketAddr)`) prints the ratio the issue targets
//! (≤ 1.05×), in wall time and in CPU time of the whole process (Linux only: the sum of
//! `/proc/self/task/*/schedstat`, which includes the in-process accept loop).
//!
//! Under `cargo test --benches` (no `--bench` flag) criterion runs each benchmark once,
//! and the ratio loop is skipped.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use connie::ConnieConnector;
use connie_lab::{AliveHost, DnsServer};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use futures_util::future::join_all;
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tower_service::Service;

/// The lab name served as `127.0.0.1`, fully qualified.
const LOCALHOST: &str = "localhost.lab.test.";
/// Connects started at once in the `concurrent` group.
const CONCURRENT: usize = 1_000;
/// Sequential connects per round of the ratio loop.
const RATIO_CONNECTS: usize = 2_000;
/// Rounds of the ratio loop (each runs both ways; the median round is reported).
const RATIO_ROUNDS: usize = 5;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let env = runtime.block_on(Env::start())?;

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    connect_group(&mut criterion, &runtime, &env);
    concurrent_group(&mut criterion, &runtime, &env);
    criterion.final_summary();

    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    if flag("--bench") && !flag("--test") && !flag("--list") {
        runtime.block_on(ratio_summary(env.host.addr()));
    }
    Ok(())
}

/// The alive host and the clients set up to reach it.
struct Env {
    host: AliveHost,
    /// Kept alive for `warm`.
    _dns: DnsServer,
    warm: ConnieConnector,
    hyper: HttpConnector<NoDns>,
    uri: Uri,
}

impl Env {
    async fn start() -> Result<Env, BoxError> {
        let host = AliveHost::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let dns = DnsServer::builder()
            .host(LOCALHOST, [host.addr().ip()])
            .start()
            .await?;
        // The lab resolver has its cache off and the lab's TTLs are 1 s: turn the cache on
        // and keep answers (and the empty AAAA answer) for the whole run.
        let mut opts = DnsServer::resolver_opts();
        opts.cache_size = 64;
        opts.positive_min_ttl = Some(Duration::from_secs(3600));
        opts.negative_min_ttl = Some(Duration::from_secs(3600));
        let warm = ConnieConnector::new().resolver(dns.try_resolver_with(opts)?);
        let (stream, info) = warm.connect((LOCALHOST, host.addr().port())).await?;
        assert_eq!(info.remote_addr(), host.addr());
        close(stream);

        let uri = format!("http://{}/", host.addr()).parse()?;
        Ok(Env {
            host,
            _dns: dns,
            warm,
            hyper: HttpConnector::new_with_resolver(NoDns),
            uri,
        })
    }
}

/// A hyper-util resolver that resolves nothing: the URIs here are IP literals, which
/// hyper-util never resolves, and no lookup may reach the system resolver.
#[derive(Debug, Clone, Copy)]
struct NoDns;

impl Service<Name> for NoDns {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let error = io::Error::new(io::ErrorKind::Unsupported, format!("no DNS here: {name}"));
        Box::pin(async move { Err(error) })
    }
}

/// Closes `stream` with a RST (`SO_LINGER` 0), leaving no `TIME_WAIT` behind.
fn close(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn raw(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("raw connect")
}

async fn race(addr: SocketAddr) -> TcpStream {
    connie::race_connect(addr).await.expect("race_connect")
}

/// Benchmarks `connect`, timing only the connect and closing each stream afterwards.
fn bench_one<F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    connect: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = TcpStream>,
{
    let connect = &connect;
    group.bench_function(name, |b| {
        b.to_async(runtime).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let stream = connect().await;
                total += start.elapsed();
                close(stream);
            }
            total
        })
    });
}

fn connect_group(c: &mut Criterion, runtime: &Runtime, env: &Env) {
    let addr = env.host.addr();
    let mut group = c.benchmark_group("connect");
    bench_one(&mut group, runtime, "raw TcpStream::connect", || raw(addr));
    bench_one(&mut group, runtime, "race_connect(SocketAddr)", || {
        race(addr)
    });
    bench_one(
        &mut group,
        runtime,
        "connect(localhost.lab.test.) warm DNS",
        || async move {
            let target = (LOCALHOST, addr.port());
            env.warm.connect(target).await.expect("connect by name").0
        },
    );
    bench_one(&mut group, runtime, "hyper-util HttpConnector", || {
        let mut connector = env.hyper.clone();
        let uri = env.uri.clone();
        async move {
            poll_fn(|cx| connector.poll_ready(cx))
                .await
                .expect("always ready");
            let io = connector.call(uri).await.expect("hyper-util connect");
            io.into_inner()
        }
    });
    group.finish();
}

/// Benchmarks `CONCURRENT` connects started at once.
fn bench_many<F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    connect: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = TcpStream>,
{
    let connect = &connect;
    group.bench_function(name, |b| {
        b.to_async(runtime).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let streams = join_all((0..CONCURRENT).map(|_| connect())).await;
                total += start.elapsed();
                streams.into_iter().for_each(close);
            }
            total
        })
    });
}

fn concurrent_group(c: &mut Criterion, runtime: &Runtime, env: &Env) {
    let addr = env.host.addr();
    let mut group = c.benchmark_group("concurrent");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(CONCURRENT as u64));
    bench_many(
        &mut group,
        runtime,
        "1000 × raw TcpStream::connect",
        || raw(addr),
    );
    bench_many(
        &mut group,
        runtime,
        "1000 × race_connect(SocketAddr)",
        || race(addr),
    );
    group.finish();
}

/// CPU time of every thread of this process so far, if Linux tells.
fn process_cpu() -> Option<Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(ns))
}

/// `RATIO_CONNECTS` sequential connects; wall and CPU time per connect. The streams are
/// kept open until the clock stops, then closed.
async fn round<F, Fut>(connect: F) -> (Duration, Option<Duration>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = TcpStream>,
{
    let mut streams = Vec::with_capacity(RATIO_CONNECTS);
    let cpu = process_cpu();
    let start = Instant::now();
    for _ in 0..RATIO_CONNECTS {
        streams.push(connect().await);
    }
    let wall = start.elapsed();
    let cpu = process_cpu().zip(cpu).map(|(end, start)| end - start);
    streams.into_iter().for_each(close);
    let n = RATIO_CONNECTS as u32;
    (wall / n, cpu.map(|c| c / n))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

async fn ratio_summary(addr: SocketAddr) {
    let (mut raw_wall, mut race_wall, mut raw_cpu, mut race_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..RATIO_ROUNDS {
        // Alternate which goes first, so that drift hits both alike.
        for race_now in [i % 2 == 1, i % 2 == 0] {
            if race_now {
                let (wall, cpu) = round(|| race(addr)).await;
                race_wall.push(wall);
                race_cpu.extend(cpu);
            } else {
                let (wall, cpu) = round(|| raw(addr)).await;
                raw_wall.push(wall);
                raw_cpu.extend(cpu);
            }
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let line = |what: &str, raw: Vec<Duration>, race: Vec<Duration>, how: &str| {
        let (raw, race) = (median(raw), median(race));
        println!(
            "{what}: raw {:.1} µs, race_connect(SocketAddr) {:.1} µs per connect → ratio {:.3}× (target ≤ 1.05×; {how})",
            us(raw),
            us(race),
            race.as_secs_f64() / raw.as_secs_f64(),
        );
    };
    println!();
    println!(
        "happy path on loopback, {RATIO_CONNECTS} sequential connects × {RATIO_ROUNDS} rounds, median round:"
    );
    line("wall time", raw_wall, race_wall, "wall clock, not CPU time");
    if raw_cpu.len() == RATIO_ROUNDS && race_cpu.len() == RATIO_ROUNDS {
        line(
            "CPU time ",
            raw_cpu,
            race_cpu,
            "all threads of this process incl. the in-process accept loop, from /proc/self/task/*/schedstat",
        );
    } else {
        println!("CPU time: not available (needs /proc/self/task/*/schedstat)");
    }
}
