//! How fast clients connect to a name with dead addresses: connie against tokio, hyper-util
//! and a direct connect, on loopback only.
//!
//! ```text
//! cargo bench --bench compare              # full: median of 5 runs, 20 s cap (about 7 minutes)
//! cargo bench --bench compare -- --quick   # 1 run per cell, 3 s cap (about 20 s)
//! CONNIE_BENCH_QUICK=1 cargo bench --bench compare
//! ```
//!
//! Each scenario is a fresh [`Lab`] of alive, refused and blackholed ("dead") hosts on
//! distinct `127.0.0.x` addresses (and `::1` where it says so) sharing one port, and a fresh
//! [`DnsServer`] answering `A` and `AAAA` for `www.lab.test.` with those addresses in order.
//! Every client connects to it and the time to a connected socket is taken:
//!
//! - connie with [`Schedule::race_all`], [`Schedule::rfc8305`] and [`Schedule::sequential`]
//!   (with a 1 s per-attempt timeout: without one it waits out the kernel's SYN retries on
//!   the first dead address, like tokio), through the lab's DNS (so DNS is part of the time) and a total timeout of 10 s (2 s in
//!   quick mode), so that "every address dead" fails with a clear error;
//! - tokio's `TcpStream::connect` over the same address list, in DNS order;
//! - hyper-util's `HttpConnector` with its defaults and with `set_connect_timeout(10 s)`,
//!   called as a tower `Service` on `http://www.lab.test:PORT/`, with a resolver that
//!   answers the lab's addresses in the lab's order (never the system resolver);
//! - the oracle: `TcpStream::connect` straight to the alive address.
//!
//! tokio and hyper-util get the address list without a DNS round trip, except that in the
//! "AAAA 200 ms late" scenario they wait those 200 ms first, as `getaddrinfo` returns only
//! when both answers are in.
//!
//! Every measurement is capped (20 s, 3 s in quick mode) and reported as a timeout. A cell
//! stops repeating after a failure or a timeout (they are deterministic here) or once its
//! runs have taken 10 s. Full mode runs one measurement at a time; quick mode runs the
//! scenarios concurrently (each on its own lab and port), since it is mostly waiting, so
//! its sub-millisecond times are noisier. The table (Markdown) goes to stdout, progress to stderr, and the
//! same results to `target/connie-bench/compare.json`.
//!
//! Without `--bench` on the command line (as under `cargo test --benches`) it is a smoke
//! test: one run per client of the "alive" scenario, failing if any client fails.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connie::lab::{DnsServer, HostKind, Lab, RecordType};
use connie::{ConnieConnector, Schedule};
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tower_service::Service;

/// The name every scenario serves, fully qualified (the lab's resolver has no search list).
const NAME: &str = "www.lab.test.";
/// The same name relative to the DNS server's zone.
const HOST: &str = "www";
/// A cell stops repeating once its runs have taken this long.
const CELL_BUDGET: Duration = Duration::from_secs(10);
/// hyper-util's connect timeout in the "connect_timeout 10 s" client.
const HYPER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// In quick mode, how long after the previous scenario each scenario starts.
const STAGGER: Duration = Duration::from_millis(100);
/// The per-attempt timeout of the "connie sequential" client.
const SEQUENTIAL_ATTEMPT: Duration = Duration::from_secs(1);
/// How late the `AAAA` answer comes in the slow-`AAAA` scenario.
const AAAA_DELAY: Duration = Duration::from_millis(200);

type BoxError = Box<dyn StdError + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let settings = Settings::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&settings))
}

/// How this run measures, from the command line and the environment.
#[derive(Clone, Copy)]
struct Settings {
    mode: &'static str,
    runs: usize,
    cap: Duration,
    total_timeout: Duration,
    /// Run the scenarios at the same time (quick mode), each on its own lab.
    parallel: bool,
    /// No `--bench` flag: one tiny scenario, no JSON, fail on any failure.
    smoke: bool,
}

impl Settings {
    fn from_env() -> Settings {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let flag = |name: &str| args.iter().any(|a| a == name);
        let quick = flag("--quick")
            || std::env::var("CONNIE_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let (mode, smoke) = match (flag("--bench"), quick) {
            (false, _) => (
                "smoke test (no --bench flag; run `cargo bench --bench compare`)",
                true,
            ),
            (true, true) => ("quick", false),
            (true, false) => ("full", false),
        };
        if smoke || quick {
            Settings {
                mode,
                runs: 1,
                cap: Duration::from_secs(3),
                total_timeout: Duration::from_secs(2),
                parallel: quick,
                smoke,
            }
        } else {
            Settings {
                mode,
                runs: 5,
                cap: Duration::from_secs(20),
                total_timeout: Duration::from_secs(10),
                parallel: false,
                smoke,
            }
        }
    }
}

/// A name whose addresses are these hosts, in this order.
struct Scenario {
    name: &'static str,
    hosts: Vec<(HostKind, IpAddr)>,
    aaaa_delay: Option<Duration>,
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn scenarios() -> Vec<Scenario> {
    use HostKind::{Alive, Blackholed as Dead, Refused};
    let s = |name, hosts| Scenario {
        name,
        hosts,
        aaaa_delay: None,
    };
    vec![
        s("alive", vec![(Alive, v4(2))]),
        s("dead, alive", vec![(Dead, v4(2)), (Alive, v4(3))]),
        s("refused, alive", vec![(Refused, v4(2)), (Alive, v4(3))]),
        s(
            "dead×3, alive",
            vec![(Dead, v4(2)), (Dead, v4(3)), (Dead, v4(4)), (Alive, v4(5))],
        ),
        s("dead ::1, alive v4", vec![(Dead, V6), (Alive, v4(2))]),
        s(
            "dead ::1, dead×3 v4, alive v4",
            vec![
                (Dead, V6),
                (Dead, v4(2)),
                (Dead, v4(3)),
                (Dead, v4(4)),
                (Alive, v4(5)),
            ],
        ),
        s(
            "16 addresses, 15 dead (alive last)",
            (2..=16)
                .map(|i| (Dead, v4(i)))
                .chain([(Alive, v4(17))])
                .collect(),
        ),
        Scenario {
            name: "AAAA 200 ms late (::1 alive), A alive",
            hosts: vec![(Alive, V6), (Alive, v4(2))],
            aaaa_delay: Some(AAAA_DELAY),
        },
        s(
            "every address dead",
            vec![(Dead, V6), (Dead, v4(2)), (Dead, v4(3)), (Dead, v4(4))],
        ),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    RaceAll,
    Rfc8305,
    Sequential,
    Tokio,
    HyperDefault,
    HyperTimeout,
    Oracle,
}

const CLIENTS: [Client; 7] = [
    Client::RaceAll,
    Client::Rfc8305,
    Client::Sequential,
    Client::Tokio,
    Client::HyperDefault,
    Client::HyperTimeout,
    Client::Oracle,
];

impl Client {
    fn label(self) -> &'static str {
        match self {
            Client::RaceAll => "connie race-all",
            Client::Rfc8305 => "connie rfc8305",
            Client::Sequential => "connie sequential, 1 s per attempt",
            Client::Tokio => "tokio TcpStream::connect",
            Client::HyperDefault => "hyper-util HttpConnector",
            Client::HyperTimeout => "hyper-util, connect_timeout 10 s",
            Client::Oracle => "oracle (direct connect)",
        }
    }

    fn is_connie(self) -> bool {
        matches!(self, Client::RaceAll | Client::Rfc8305 | Client::Sequential)
    }
}

/// A client set up for one scenario (outside the measurement).
enum Prepared {
    Connie(ConnieConnector),
    Tokio {
        addrs: Vec<SocketAddr>,
        dns_delay: Duration,
    },
    Hyper(HttpConnector<LabResolver>, Uri),
    Oracle(SocketAddr),
}

impl Prepared {
    /// `None` when the client has nothing to measure (the oracle with no alive address).
    fn new(
        client: Client,
        lab: &Lab,
        dns: &DnsServer,
        scenario: &Scenario,
        s: &Settings,
    ) -> Option<Prepared> {
        // Without a per-attempt timeout, sequential would wait out the kernel's SYN
        // retries on the first dead address, as tokio does; with one it shows the cost of
        // trying addresses one at a time.
        let connie = |schedule, attempt_timeout| {
            Prepared::Connie(
                ConnieConnector::new()
                    .resolver(dns.resolver())
                    .schedule(schedule)
                    .attempt_timeout(attempt_timeout)
                    .total_timeout(Some(s.total_timeout)),
            )
        };
        let dns_delay = scenario.aaaa_delay.unwrap_or_default();
        let hyper = |connect_timeout| {
            let resolver = LabResolver {
                addrs: lab.addrs().into(),
                delay: dns_delay,
            };
            let mut connector = HttpConnector::new_with_resolver(resolver);
            connector.set_connect_timeout(connect_timeout);
            let uri = format!("http://{}:{}/", NAME.trim_end_matches('.'), lab.port())
                .parse()
                .expect("a valid URI");
            Prepared::Hyper(connector, uri)
        };
        Some(match client {
            Client::RaceAll => connie(Schedule::race_all(), None),
            Client::Rfc8305 => connie(Schedule::rfc8305(), None),
            // Without a per-attempt timeout, sequential waits out the kernel's SYN retries
            // on the first dead address, as tokio does; with one it shows the cost of
            // trying addresses one at a time.
            Client::Sequential => connie(Schedule::sequential(), Some(SEQUENTIAL_ATTEMPT)),
            Client::Tokio => Prepared::Tokio {
                addrs: lab.addrs(),
                dns_delay,
            },
            Client::HyperDefault => hyper(None),
            Client::HyperTimeout => hyper(Some(HYPER_CONNECT_TIMEOUT)),
            Client::Oracle => {
                let alive = lab.addrs_of(HostKind::Alive);
                let v4 = alive.iter().copied().find(SocketAddr::is_ipv4);
                Prepared::Oracle(v4.or_else(|| alive.first().copied())?)
            }
        })
    }

    /// Connects once: the stream and, for connie, the number of attempts started; or
    /// the number of attempts (connie) and the error.
    async fn connect(
        &mut self,
        port: u16,
    ) -> Result<(TcpStream, Option<usize>), (Option<usize>, String)> {
        match self {
            Prepared::Connie(connector) => match connector.connect((NAME, port)).await {
                Ok((stream, info)) => Ok((stream, Some(info.attempts().len()))),
                Err(e) => Err((Some(e.attempts().len()), e.to_string())),
            },
            Prepared::Tokio { addrs, dns_delay } => {
                if !dns_delay.is_zero() {
                    tokio::time::sleep(*dns_delay).await;
                }
                match TcpStream::connect(&addrs[..]).await {
                    Ok(stream) => Ok((stream, None)),
                    Err(e) => Err((None, chain(&e))),
                }
            }
            Prepared::Hyper(connector, uri) => {
                let connected = async {
                    poll_fn(|cx| connector.poll_ready(cx)).await?;
                    connector.call(uri.clone()).await
                };
                match connected.await {
                    Ok(io) => Ok((io.into_inner(), None)),
                    Err(e) => Err((None, chain(&e))),
                }
            }
            Prepared::Oracle(addr) => match TcpStream::connect(*addr).await {
                Ok(stream) => Ok((stream, None)),
                Err(e) => Err((None, chain(&e))),
            },
        }
    }
}

/// hyper-util's resolver for the lab: answers the lab's name, and only it, with the lab's
/// addresses in the lab's order, after `delay` (the slow `AAAA`, as `getaddrinfo` waits for it).
#[derive(Debug, Clone)]
struct LabResolver {
    addrs: Arc<[SocketAddr]>,
    delay: Duration,
}

impl Service<Name> for LabResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let addrs = self.addrs.to_vec();
        let delay = self.delay;
        Box::pin(async move {
            if name.as_str() != NAME.trim_end_matches('.') {
                let msg = format!("{name} is not a name of the lab");
                return Err(io::Error::new(io::ErrorKind::NotFound, msg));
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(addrs.into_iter())
        })
    }
}

/// `error: source: source…`
fn chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let _ = write!(out, ": {e}");
        source = e.source();
    }
    out
}

/// One measurement.
enum Run {
    Ok {
        secs: f64,
        attempts: Option<usize>,
    },
    Failed {
        secs: f64,
        attempts: Option<usize>,
        error: String,
    },
    Timeout,
}

impl Run {
    fn secs(&self) -> Option<f64> {
        match self {
            Run::Ok { secs, .. } | Run::Failed { secs, .. } => Some(*secs),
            Run::Timeout => None,
        }
    }

    fn attempts(&self) -> Option<usize> {
        match self {
            Run::Ok { attempts, .. } | Run::Failed { attempts, .. } => *attempts,
            Run::Timeout => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Failed,
    Timeout,
    NotApplicable,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::NotApplicable => "n/a",
        }
    }
}

/// The runs of one client in one scenario.
struct Cell {
    scenario: &'static str,
    client: Client,
    runs: Vec<Run>,
}

impl Cell {
    fn status(&self) -> Status {
        if self.runs.is_empty() {
            Status::NotApplicable
        } else if self.runs.iter().any(|r| matches!(r, Run::Timeout)) {
            Status::Timeout
        } else if self.runs.iter().any(|r| matches!(r, Run::Failed { .. })) {
            Status::Failed
        } else {
            Status::Ok
        }
    }

    /// The median time of the runs that ended (connected or failed).
    fn median(&self) -> Option<f64> {
        let mut secs: Vec<f64> = self.runs.iter().filter_map(Run::secs).collect();
        if secs.is_empty() {
            return None;
        }
        secs.sort_by(f64::total_cmp);
        let mid = secs.len() / 2;
        Some(if secs.len() % 2 == 1 {
            secs[mid]
        } else {
            (secs[mid - 1] + secs[mid]) / 2.0
        })
    }

    /// Attempts started per run, as "n" or "min–max" (connie only).
    fn attempts(&self) -> Option<(usize, usize)> {
        let counts = self.runs.iter().filter_map(Run::attempts);
        let min = counts.clone().min()?;
        Some((min, counts.max()?))
    }

    fn note(&self) -> String {
        let error = self.runs.iter().find_map(|r| match r {
            Run::Failed { error, .. } => Some(error.clone()),
            _ => None,
        });
        let ok = self
            .runs
            .iter()
            .filter(|r| matches!(r, Run::Ok { .. }))
            .count();
        let mut notes = Vec::new();
        if ok > 0 && ok < self.runs.len() {
            notes.push(format!("{ok} of {} runs connected", self.runs.len()));
        }
        notes.extend(error);
        if self.status() == Status::NotApplicable {
            notes.push("no alive address".to_owned());
        }
        notes.join("; ")
    }
}

async fn run(s: &Settings) -> Result<(), BoxError> {
    let started = Instant::now();
    let date = utc_now();
    let mut scenarios = scenarios();
    if s.smoke {
        scenarios.truncate(1);
    }
    let mut cells = Vec::new();
    if s.parallel {
        // Most of a quick run is waiting for caps and timeouts: wait for all scenarios at
        // once, their starts staggered so that their first connects do not coincide.
        let mut handles = Vec::new();
        for (i, scenario) in scenarios.into_iter().enumerate() {
            let s = *s;
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(STAGGER * i as u32).await;
                run_scenario(&scenario, &s).await
            }));
        }
        for handle in handles {
            cells.extend(handle.await??);
        }
    } else {
        for scenario in &scenarios {
            cells.extend(run_scenario(scenario, s).await?);
        }
    }
    let wall = started.elapsed();

    println!();
    println!("## connie compare: seconds to a connected socket (loopback lab)");
    println!();
    println!("- date: {date}");
    println!("- system: {}", system());
    println!(
        "- mode: {} — median of up to {} run(s) per cell, each capped at {} s; connie total timeout {} s{}",
        s.mode,
        s.runs,
        s.cap.as_secs(),
        s.total_timeout.as_secs(),
        if s.parallel {
            "; scenarios run concurrently (sub-millisecond times are noisier: use full mode to publish)"
        } else {
            ""
        }
    );
    println!();
    print!("{}", table(&cells, s));
    println!();
    println!("seconds: median time to a connected socket (DNS included for connie); FAIL: the error in notes, after that many seconds; TIMEOUT: hit the cap.");
    println!("× oracle: median ÷ the oracle's median in the same scenario. attempts: connections connie started (SYNs), min–max over runs.");
    println!(
        "runs: measurements made; a cell stops after a failure, a timeout, or {} s of runs.",
        CELL_BUDGET.as_secs()
    );
    println!("dead = blackholed (SYNs dropped), refused = RST. tokio and hyper-util get the lab's addresses without DNS; with the late AAAA they first wait {} ms, as getaddrinfo does.", AAAA_DELAY.as_millis());
    println!();
    println!("total wall time: {} s", fmt_secs(wall.as_secs_f64()));

    if s.smoke {
        let failed: Vec<_> = cells
            .iter()
            .filter(|c| c.status() != Status::Ok)
            .map(|c| format!("{} / {}", c.scenario, c.client.label()))
            .collect();
        if !failed.is_empty() {
            return Err(format!("smoke test failed: {}", failed.join(", ")).into());
        }
        println!("(smoke test only: run `cargo bench --bench compare` for every scenario)");
        return Ok(());
    }
    let path = json_path();
    std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
    std::fs::write(&path, json(&cells, s, &date, wall))?;
    println!("JSON: {}", path.display());
    Ok(())
}

/// Builds the scenario's lab and DNS server, measures every client, then drops them.
async fn run_scenario(scenario: &Scenario, s: &Settings) -> Result<Vec<Cell>, BoxError> {
    let lab = scenario
        .hosts
        .iter()
        .fold(Lab::builder(), |b, &(kind, ip)| b.host(kind, ip))
        .build()
        .await?;
    let mut dns = DnsServer::builder().host(HOST, lab.addrs().iter().map(SocketAddr::ip));
    if let Some(delay) = scenario.aaaa_delay {
        dns = dns.delay(RecordType::AAAA, delay);
    }
    let dns = dns.start().await?;
    // One untimed lookup, so that the first client measured does not pay the server's
    // first query.
    let _ = dns.resolver().ipv4_lookup(NAME).await?;

    let mut cells = Vec::new();
    for client in CLIENTS {
        let mut runs = Vec::new();
        if let Some(mut prepared) = Prepared::new(client, &lab, &dns, scenario, s) {
            let cell_start = Instant::now();
            while runs.len() < s.runs {
                let run = measure(&mut prepared, lab.port(), s.cap).await;
                let stop = !matches!(run, Run::Ok { .. });
                runs.push(run);
                if stop || cell_start.elapsed() >= CELL_BUDGET {
                    break;
                }
            }
        }
        let cell = Cell {
            scenario: scenario.name,
            client,
            runs,
        };
        let result = seconds_cell(&cell, s);
        eprintln!("{} / {}: {result}", scenario.name, client.label());
        cells.push(cell);
    }
    drop(dns);
    drop(lab);
    Ok(cells)
}

async fn measure(prepared: &mut Prepared, port: u16, cap: Duration) -> Run {
    let start = Instant::now();
    match tokio::time::timeout(cap, prepared.connect(port)).await {
        Ok(Ok((stream, attempts))) => {
            let secs = start.elapsed().as_secs_f64();
            drop(stream);
            Run::Ok { secs, attempts }
        }
        Ok(Err((attempts, error))) => Run::Failed {
            secs: start.elapsed().as_secs_f64(),
            attempts,
            error,
        },
        Err(_) => Run::Timeout,
    }
}

/// Seconds with 4 significant digits (at most 7 decimals).
fn fmt_secs(secs: f64) -> String {
    let decimals = if secs > 0.0 {
        (3 - secs.log10().floor() as i32).clamp(0, 7) as usize
    } else {
        1
    };
    format!("{secs:.decimals$}")
}

fn fmt_ratio(ratio: f64) -> String {
    if ratio >= 100.0 {
        format!("{ratio:.0}×")
    } else if ratio >= 10.0 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.2}×")
    }
}

fn seconds_cell(cell: &Cell, s: &Settings) -> String {
    match (cell.status(), cell.median()) {
        (Status::Ok, Some(m)) => fmt_secs(m),
        (Status::Failed, Some(m)) => format!("FAIL {}", fmt_secs(m)),
        (Status::Timeout, _) => format!("TIMEOUT >{}", s.cap.as_secs()),
        _ => "n/a".to_owned(),
    }
}

/// The oracle's median in the cell's scenario, if it connected.
fn ratio(cell: &Cell, cells: &[Cell]) -> Option<f64> {
    let oracle = cells
        .iter()
        .find(|c| c.scenario == cell.scenario && c.client == Client::Oracle)?;
    if cell.status() != Status::Ok || oracle.status() != Status::Ok {
        return None;
    }
    Some(cell.median()? / oracle.median()?)
}

fn table(cells: &[Cell], s: &Settings) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "scenario".into(),
        "client".into(),
        "seconds".into(),
        "× oracle".into(),
        "attempts".into(),
        "runs".into(),
        "notes".into(),
    ]];
    for (i, cell) in cells.iter().enumerate() {
        let first = i == 0 || cells[i - 1].scenario != cell.scenario;
        let attempts = match cell.attempts() {
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}–{b}"),
            None if cell.client.is_connie() => "?".to_owned(),
            None => String::new(),
        };
        rows.push([
            if first {
                cell.scenario.to_owned()
            } else {
                String::new()
            },
            cell.client.label().to_owned(),
            seconds_cell(cell, s),
            ratio(cell, cells)
                .map(fmt_ratio)
                .unwrap_or_else(|| "—".into()),
            attempts,
            cell.runs.len().to_string(),
            cell.note(),
        ]);
    }
    let width = |col: usize| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..7).map(width).collect();
    let numeric = |col: usize| (2..=5).contains(&col);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cols: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(col, (text, &w))| {
                let pad = " ".repeat(w - text.chars().count());
                if numeric(col) && i > 0 {
                    format!("{pad}{text}")
                } else {
                    format!("{text}{pad}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cols.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(col, &w)| {
                    if numeric(col) {
                        format!("{}:", "-".repeat(w - 1))
                    } else {
                        "-".repeat(w)
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
    out
}

fn json_path() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("connie-bench")
        .join("compare.json")
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(x: Option<f64>) -> String {
    x.map_or_else(|| "null".to_owned(), |x| format!("{x}"))
}

fn json(cells: &[Cell], s: &Settings, date: &str, wall: Duration) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"date\": {},", json_str(date));
    let _ = writeln!(out, "  \"system\": {},", json_str(&system()));
    let _ = writeln!(out, "  \"mode\": {},", json_str(s.mode));
    let _ = writeln!(out, "  \"runs_per_cell\": {},", s.runs);
    let _ = writeln!(out, "  \"cap_s\": {},", s.cap.as_secs_f64());
    let _ = writeln!(
        out,
        "  \"connie_total_timeout_s\": {},",
        s.total_timeout.as_secs_f64()
    );
    let _ = writeln!(out, "  \"total_wall_s\": {},", wall.as_secs_f64());
    out.push_str("  \"results\": [\n");
    for (i, cell) in cells.iter().enumerate() {
        let secs: Vec<String> = cell.runs.iter().map(|r| json_num(r.secs())).collect();
        let attempts: Vec<String> = cell
            .runs
            .iter()
            .map(|r| r.attempts().map_or("null".to_owned(), |a| a.to_string()))
            .collect();
        let note = cell.note();
        let _ = write!(
            out,
            "    {{\"scenario\": {}, \"client\": {}, \"status\": {}, \"median_s\": {}, \"ratio_vs_oracle\": {}, \"runs_s\": [{}], \"attempts\": {}, \"note\": {}}}",
            json_str(cell.scenario),
            json_str(cell.client.label()),
            json_str(cell.status().as_str()),
            json_num(cell.median()),
            json_num(ratio(cell, cells)),
            secs.join(", "),
            if cell.client.is_connie() { format!("[{}]", attempts.join(", ")) } else { "null".to_owned() },
            if note.is_empty() { "null".to_owned() } else { json_str(&note) },
        );
        out.push_str(if i + 1 < cells.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ]\n}\n");
    out
}

/// `linux 6.8.0 x86_64; CPU: … (N logical CPUs)`, from what is readable.
fn system() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!(" {}", r.trim()))
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{}{release} {}; CPU: {cpu} ({cpus} logical CPUs)",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Now as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, no date crate needed).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
