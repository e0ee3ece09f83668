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
//! - connie with [`Schedule::race_all`] and [`Schedule::rfc8305`] (no per-attempt timeout,
//!   connie's default) and with [`Schedule::sequential`] and a 1 s per-attempt timeout
//!   (without one it waits out the kernel's SYN retries on the first dead address, like
//!   tokio), through the lab's DNS (so DNS is part of the time), each with a total timeout
//!   of 10 s (2 s in quick mode), so that "every address dead" fails with a clear error;
//! - connie with [`Schedule::race_all`] given the address list without DNS, as tokio and
//!   hyper-util are (`ConnieConnector::new().connect(addrs)`, same total timeout): the
//!   like-for-like row, next to the one with DNS;
//! - tokio's `TcpStream::connect` over the same address list, in DNS order;
//! - hyper-util's `HttpConnector` with its defaults and with `set_connect_timeout` equal to
//!   connie's total timeout (10 s, 2 s in quick mode: below the cap, so that the row shows
//!   how hyper-util gives up rather than the cap), called as a tower `Service` on
//!   `http://www.lab.test:PORT/`, with a resolver that answers the lab's addresses in the
//!   lab's order (never the system resolver);
//! - the oracle: `TcpStream::connect` straight to the alive address.
//!
//! tokio, hyper-util and connie's "addresses without DNS" row get the address list without
//! a DNS round trip, except that in the "AAAA 200 ms late" scenario they wait those 200 ms
//! first, as `getaddrinfo` returns only when both answers are in.
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

mod clients;
#[path = "../common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use connie_lab::{HostKind, Lab, RecordType};

use crate::clients::is_connie;
use crate::common::clients::{Prepared, CLIENTS};
use crate::common::report::{self, Cell, Run, CELL_BUDGET};
use crate::common::settings::Settings;
use crate::common::BoxError;

/// The name every scenario serves, fully qualified (the lab's resolver has no search list).
const NAME: &str = "www.lab.test.";
/// The same name relative to the DNS server's zone.
const HOST: &str = "www";
/// In quick mode, how long after the previous scenario each scenario starts.
const STAGGER: Duration = Duration::from_millis(100);
/// How late the `AAAA` answer comes in the slow-`AAAA` scenario.
const AAAA_DELAY: Duration = Duration::from_millis(200);

fn main() -> Result<(), BoxError> {
    let settings = Settings::from_env("cargo bench --bench compare", true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&settings))
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

async fn run(s: &Settings) -> Result<(), BoxError> {
    let started = Instant::now();
    let date = report::utc_now();
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

    let title = "connie compare: seconds to a connected socket (loopback lab)";
    print!("{}", report::header(title, s, &date));
    println!();
    print!("{}", report::table(&cells, s));
    println!();
    println!("seconds: median time to a connected socket (DNS included for connie, except in its \"addresses without DNS\" row); FAIL: the error in notes, after that many seconds; TIMEOUT: hit the cap.");
    println!("× oracle: median ÷ the oracle's median in the same scenario. attempts: connections connie started (SYNs), min–max over runs.");
    println!(
        "runs: measurements made; a cell stops after a failure, a timeout, or {} s of runs.",
        CELL_BUDGET.as_secs()
    );
    println!("dead = blackholed (SYNs dropped), refused = RST. tokio, hyper-util and connie's \"addresses without DNS\" row get the lab's addresses without DNS; with the late AAAA they first wait {} ms, as getaddrinfo does.", AAAA_DELAY.as_millis());
    let json = || report::json(&report::json_results(&cells, s), s, &date, wall);
    report::finish("compare", &report::failures(&cells, s), json, s, wall)
}

/// Builds the scenario's lab and DNS server, measures every client, then drops them.
async fn run_scenario(scenario: &Scenario, s: &Settings) -> Result<Vec<Cell>, BoxError> {
    let lab = scenario
        .hosts
        .iter()
        .fold(Lab::builder(), |b, &(kind, ip)| b.host(kind, ip))
        .build()
        .await?;
    let mut dns = lab.dns(HOST);
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
            counted: is_connie(client),
            runs,
        };
        let result = report::seconds_cell(&cell, s);
        eprintln!("{} / {}: {result}", scenario.name, client.label(s));
        cells.push(cell);
    }
    drop(dns);
    drop(lab);
    Ok(cells)
}

async fn measure(prepared: &mut Prepared, port: u16, cap: Duration) -> Run {
    let start = Instant::now();
    match tokio::time::timeout(cap, prepared.connect(NAME, port)).await {
        Ok(Ok((stream, attempts))) => {
            let secs = start.elapsed().as_secs_f64();
            drop(stream);
            Run::Ok {
                secs,
                attempts,
                remote: None,
            }
        }
        Ok(Err((attempts, error))) => Run::Failed {
            secs: start.elapsed().as_secs_f64(),
            attempts,
            error,
        },
        Err(_) => Run::Timeout { attempts: None },
    }
}
