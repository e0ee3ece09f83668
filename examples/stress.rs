//! Stress: many concurrent races on loopback; reports peak descriptors, peak memory and
//! time, and checks that descriptors return to their baseline afterwards.
//!
//! ```text
//! cargo run --release --example stress              # 10,000 races of [dead, dead, dead, alive]
//! cargo run --release --example stress -- 2000      # another number of races
//! ```
//!
//! Races run at once, as many as the process's descriptor limit allows (each needs four
//! client sockets while it runs and a server socket for its winner): with a limit of 61,000
//! or more all 10,000 run at once; below that, a window of races runs at a time and a new
//! one starts as each finishes. Each winning stream is dropped as its race finishes, and the
//! losing (blackholed) attempts are closed the moment it is won. Loopback only. Raises the
//! descriptor limit as far as the system lets it.

use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connie::lab::Lab;
use connie::ConnieConnector;
use futures_util::stream::{FuturesUnordered, StreamExt};

const DEFAULT_RACES: usize = 10_000;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let races: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => DEFAULT_RACES,
    };
    // 4 client sockets per race at the start, a server socket per winner, and slack for
    // server sockets whose reader has not yet seen the client close.
    const PER_RACE: u64 = 6;
    const MARGIN: u64 = 1_000;
    let limit = rlimit::increase_nofile_limit(races as u64 * PER_RACE + MARGIN)?;
    let window = races
        .min((limit.saturating_sub(MARGIN) / PER_RACE) as usize)
        .max(1);

    let ip = |s: &str| s.parse().expect("a loopback address");
    let lab = Lab::builder()
        .blackholed(ip("127.0.0.2"))
        .blackholed(ip("127.0.0.3"))
        .blackholed(ip("127.0.0.4"))
        .alive(ip("127.0.0.5"))
        .build()
        .await?;
    let addrs = lab.addrs();
    let connector = ConnieConnector::new().total_timeout(Some(Duration::from_secs(30)));
    drop(connector.connect(addrs.clone()).await?); // warm up
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline_fds = open_fds();
    let baseline_rss = status_kib("VmRSS").unwrap_or(0);

    // Sample the descriptor count while the races run, on a thread of its own: reading
    // /proc/self/fd is blocking work that must not steal the runtime's workers.
    let peak_fds = Arc::new(AtomicUsize::new(baseline_fds));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak_fds.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(open_fds(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let start = Instant::now();
    let mut running: FuturesUnordered<_> = (0..window)
        .map(|_| connector.connect(addrs.clone()))
        .collect();
    let mut started = window;
    let mut failures = 0;
    let mut slowest = Duration::ZERO;
    while let Some(result) = running.next().await {
        match result {
            Ok((_stream, info)) => slowest = slowest.max(info.elapsed()),
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    eprintln!("first failure: {e}");
                    for attempt in e.attempts() {
                        eprintln!("    {attempt}");
                    }
                }
            }
        }
        if started < races {
            running.push(connector.connect(addrs.clone()));
            started += 1;
        }
    }
    let elapsed = start.elapsed();
    peak_fds.fetch_max(open_fds(), Ordering::Relaxed);
    let peak_rss = status_kib("VmHWM").unwrap_or(0);

    // Server-side sockets close when the lab's readers see EOF, a moment later.
    let settle = Instant::now();
    while open_fds() > baseline_fds && settle.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().map_err(|_| "the sampler thread panicked")?;
    let after = open_fds();

    let per_race = (peak_rss.saturating_sub(baseline_rss) * 1024) / window as u64;
    println!("races:               {races}, 4 addresses each (3 blackholed, 1 alive)");
    println!("in flight at once:   {window} (descriptor limit {limit})");
    println!("succeeded / failed:  {} / {failures}", races - failures);
    println!("wall time:           {elapsed:.2?} (slowest race {slowest:.2?})");
    println!(
        "descriptors:         baseline {baseline_fds}, peak {}, after {after}",
        peak_fds.load(Ordering::Relaxed)
    );
    println!("memory (RSS):        baseline {baseline_rss} KiB, peak {peak_rss} KiB, ~{per_race} bytes per race in flight");
    if after != baseline_fds {
        return Err(
            format!("descriptors did not return to baseline: {after} != {baseline_fds}").into(),
        );
    }
    if failures > 0 {
        return Err(format!("{failures} races failed").into());
    }
    Ok(())
}
