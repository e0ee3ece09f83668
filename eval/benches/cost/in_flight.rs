//! Heap per race in flight: K races to blackholed addresses, all pending, then the live
//! bytes of the process divided by K.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use connie::ConnieConnector;
use connie_eval::goal::{Assert, Goal};
use connie_lab::Lab;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tower_service::Service;

use crate::alloc;
use crate::clients::{ideal, Fixed};
use crate::table::{self, dec1, int, ratio};
use crate::{BoxError, Settings};

/// How long the races get to reach pending (every attempt's `SYN` sent) before the bytes
/// are read; shorter in the smoke test.
const SETTLE: Duration = Duration::from_millis(200);
const SETTLE_SMOKE: Duration = Duration::from_millis(20);
/// How long dropped races get to release their sockets before the next baseline.
const RELEASE: Duration = Duration::from_millis(50);

/// One row: who, and how many addresses each race is given.
#[derive(Debug, Clone, Copy)]
enum Row {
    Raw,
    Ideal(usize),
    Hyper(usize),
    RaceAddr,
    RaceSlice,
    Connector(usize),
}

const ROWS: [Row; 8] = [
    Row::Raw,
    Row::Ideal(4),
    Row::Hyper(1),
    Row::Hyper(4),
    Row::RaceAddr,
    Row::RaceSlice,
    Row::Connector(1),
    Row::Connector(4),
];

impl Row {
    fn label(self) -> String {
        match self {
            Row::Raw => "tokio TcpStream::connect(addr), 1 address".to_owned(),
            Row::Ideal(n) => format!("FuturesUnordered of {n} connects (ideal racer)"),
            Row::Hyper(1) => "hyper-util HttpConnector, http://IP:PORT/".to_owned(),
            Row::Hyper(n) => format!("hyper-util HttpConnector, resolver gives {n} (sequential)"),
            Row::RaceAddr => "connie::race_connect(SocketAddr)".to_owned(),
            Row::RaceSlice => "connie::race_connect(&[4 addrs][..])".to_owned(),
            Row::Connector(n) => format!(
                "ConnieConnector::connect, {n} address{}",
                if n == 1 { "" } else { "es" }
            ),
        }
    }
}

/// What one measurement found, per race.
#[derive(Debug, Clone, Copy)]
struct Sample {
    bytes: f64,
    future: usize,
    sockets: f64,
}

/// Issue 12's goal: at most this many bytes per race in flight to one address…
const MAX_BYTES_ONE: f64 = 1_000.0;
/// …and issue 22's: to four, at most this many times the ideal racer's.
const MAX_RATIO_FOUR: f64 = 1.3;

/// The table, and the goals on it: at most 1,000 B per race in flight to one address
/// (issue 12) and at most 1.3× the ideal racer's to four (issue 22), both asserted in full
/// runs (an unoptimized build's futures are larger).
pub(crate) fn run(
    s: &Settings,
    client_rt: &Runtime,
    lab_rt: &Runtime,
) -> Result<Vec<Goal>, BoxError> {
    let v4 = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let lab = lab_rt.block_on(
        Lab::builder()
            .blackholed(v4(2))
            .blackholed(v4(3))
            .blackholed(v4(4))
            .blackholed(v4(5))
            .build(),
    )?;
    let addrs = lab.addrs();
    let connector = ConnieConnector::new();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); ROWS.len()];
    let settle = if s.smoke { SETTLE_SMOKE } else { SETTLE };
    client_rt.block_on(async {
        // Warm up (the timer wheel, the process connector, the source-address cache).
        for row in ROWS {
            measure(row, 4, settle, &addrs, &connector).await?;
        }
        for round in 0..s.rounds {
            for i in 0..ROWS.len() {
                let i = (i + round) % ROWS.len();
                samples[i].push(measure(ROWS[i], s.in_flight, settle, &addrs, &connector).await?);
            }
        }
        Ok::<_, BoxError>(())
    })?;
    drop(lab);

    let med =
        |v: &[Sample], f: fn(&Sample) -> f64| table::median(&v.iter().map(f).collect::<Vec<_>>());
    let raw = med(&samples[0], |x| x.bytes);
    let ideal4 = med(&samples[1], |x| x.bytes);
    let mut goals = Vec::new();
    let rows: Vec<Vec<String>> = ROWS
        .iter()
        .zip(&samples)
        .map(|(&row, v)| {
            let bytes = med(v, |x| x.bytes);
            match row {
                Row::RaceAddr | Row::Connector(1) => goals.push(Goal::new(
                    format!(
                        "heap per race in flight, {}: ≤ {} B",
                        row.label(),
                        int(MAX_BYTES_ONE)
                    ),
                    format!("{} B", int(bytes)),
                    bytes <= MAX_BYTES_ONE,
                    Assert::Full,
                )),
                Row::RaceSlice | Row::Connector(4) => goals.push(Goal::new(
                    format!(
                        "heap per race in flight, {}: ≤ {MAX_RATIO_FOUR}× the ideal racer of 4",
                        row.label()
                    ),
                    ratio(bytes, ideal4),
                    bytes <= MAX_RATIO_FOUR * ideal4,
                    Assert::Full,
                )),
                _ => {}
            }
            vec![
                row.label(),
                int(bytes),
                ratio(bytes, raw),
                int(med(v, |x| x.future as f64)),
                dec1(med(v, |x| x.sockets)),
            ]
        })
        .collect();
    table::print(
        &format!(
            "## Heap per race in flight ({} races to blackholed 127.0.0.2–5, all pending; {} rounds, median)",
            int(s.in_flight as f64),
            s.rounds
        ),
        &["client", "bytes per race", "× raw", "future size (B)", "sockets per race"],
        &rows,
    );
    println!();
    println!("bytes per race: live heap of the process with the races pending, minus before, ÷ races. Each race is one entry of a FuturesUnordered, so it includes the future itself (its size is the next column) and ~50 B of the entry's header. sockets per race: open descriptors, minus before, ÷ races.");
    Ok(goals)
}

async fn measure(
    row: Row,
    k: usize,
    settle: Duration,
    addrs: &[std::net::SocketAddr],
    connector: &ConnieConnector,
) -> Result<Sample, BoxError> {
    let first = addrs[0];
    match row {
        Row::Raw => pending(k, settle, || TcpStream::connect(first)).await,
        Row::Ideal(n) => pending(k, settle, || ideal(&addrs[..n])).await,
        Row::Hyper(n) => {
            let mut hyper = HttpConnector::new_with_resolver(Fixed(addrs[..n].into()));
            let uri: hyper::Uri = if n == 1 {
                format!("http://{first}/").parse()?
            } else {
                format!("http://cost.lab.test:{}/", first.port()).parse()?
            };
            // `HttpConnector` is always ready.
            pending(k, settle, || hyper.call(uri.clone())).await
        }
        Row::RaceAddr => pending(k, settle, || connie::race_connect(first)).await,
        Row::RaceSlice => pending(k, settle, || connie::race_connect(addrs)).await,
        Row::Connector(n) => pending(k, settle, || connector.connect(&addrs[..n])).await,
    }
}

/// Starts `k` futures from `make`, lets them reach pending, and measures.
async fn pending<F, Fut, T, E>(k: usize, settle: Duration, mut make: F) -> Result<Sample, BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let fds = connie_lab::open_fds()?;
    let live = alloc::live();
    let mut racing = FuturesUnordered::new();
    let mut future = 0;
    for _ in 0..k {
        let race = make();
        future = std::mem::size_of_val(&race);
        racing.push(race);
    }
    if tokio::time::timeout(settle, racing.next()).await.is_ok() {
        return Err(io::Error::other("a race to a blackhole finished").into());
    }
    let bytes = (alloc::live() - live) as f64 / k as f64;
    let sockets = (connie_lab::open_fds()? as f64 - fds as f64) / k as f64;
    drop(racing);
    tokio::time::sleep(RELEASE).await;
    Ok(Sample {
        bytes,
        future,
        sockets,
    })
}
