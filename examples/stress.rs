//! Stress: 10,000 concurrent races on loopback; reports peak descriptors, peak memory and
//! time, and checks that descriptors return to their baseline afterwards.
//!
//! ```text
//! cargo run --release --example stress              # 10,000 races of [dead, dead, dead, alive]
//! cargo run --release --example stress -- 2000      # another number of races
//! ```
//!
//! Every race starts at the same moment and keeps its winning stream until all have
//! finished, so the peak holds about five descriptors per race: four client sockets while
//! it runs (the three blackholed attempts are closed the moment it is won) and the two ends
//! of the winning connection. 10,000 races need about 50,000 descriptors; when one
//! process's limit cannot be raised that far (this sandbox caps it at 20,000), the races are
//! split over worker processes — copies of this program, each with its own lab — that build
//! everything, report ready, and start their races together on a "go" from the parent.
//! Loopback only.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connie::ConnieConnector;
use connie_lab::Lab;
use futures_util::stream::{FuturesUnordered, StreamExt};

const DEFAULT_RACES: usize = 10_000;
/// Descriptors one race may hold at its peak, with slack.
const PER_RACE: u64 = 6;
/// Descriptors kept free for everything else.
const MARGIN: u64 = 1_000;
/// Set in a worker's environment; its value is the number of races it runs.
const WORKER_ENV: &str = "CONNIE_STRESS_WORKER";

type BoxError = Box<dyn Error + Send + Sync>;

/// The process's open descriptors; the example's leak check means nothing without them.
fn open_fds() -> usize {
    connie_lab::open_fds().expect("counting descriptors needs a readable /proc/self/fd (Linux)")
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field));
    line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// What one process measured.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    races: usize,
    failures: usize,
    wall: Duration,
    slowest: Duration,
    baseline_fds: usize,
    peak_fds: usize,
    after_fds: usize,
    baseline_kib: u64,
    peak_kib: u64,
}

impl Report {
    fn line(&self) -> String {
        format!(
            "report {} {} {} {} {} {} {} {} {}",
            self.races,
            self.failures,
            self.wall.as_micros(),
            self.slowest.as_micros(),
            self.baseline_fds,
            self.peak_fds,
            self.after_fds,
            self.baseline_kib,
            self.peak_kib
        )
    }

    fn parse(line: &str) -> Option<Report> {
        let f: Vec<u64> = line
            .strip_prefix("report ")?
            .split(' ')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        let [races, failures, wall, slowest, bfds, pfds, afds, bkib, pkib] = f[..] else {
            return None;
        };
        Some(Report {
            races: races as usize,
            failures: failures as usize,
            wall: Duration::from_micros(wall),
            slowest: Duration::from_micros(slowest),
            baseline_fds: bfds as usize,
            peak_fds: pfds as usize,
            after_fds: afds as usize,
            baseline_kib: bkib,
            peak_kib: pkib,
        })
    }
}

fn main() -> Result<(), BoxError> {
    if let Ok(races) = std::env::var(WORKER_ENV) {
        let report = worker(races.parse()?, true)?;
        println!("{}", report.line());
        return Ok(());
    }
    let races: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => DEFAULT_RACES,
    };
    let limit = rlimit::increase_nofile_limit(races as u64 * PER_RACE + MARGIN)?;
    let per_process = ((limit.saturating_sub(MARGIN) / PER_RACE) as usize).max(1);
    let processes = races.div_ceil(per_process);
    let reports = if processes <= 1 {
        vec![worker(races, false)?]
    } else {
        spawn_workers(races, processes)?
    };
    summarize(races, processes, limit, &reports)
}

/// Runs `races` races at once in this process. A worker waits for "go" on stdin after
/// printing "ready", so that every worker's races start together.
fn worker(races: usize, wait_for_go: bool) -> Result<Report, BoxError> {
    rlimit::increase_nofile_limit(races as u64 * PER_RACE + MARGIN)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
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
        let mut report = Report {
            races,
            baseline_fds: open_fds(),
            baseline_kib: status_kib("VmRSS"),
            ..Report::default()
        };
        if wait_for_go {
            println!("ready");
            std::io::stdout().flush()?;
            let mut go = String::new();
            std::io::stdin().read_line(&mut go)?;
        }

        // Sample descriptors on a thread of its own: reading /proc/self/fd is blocking
        // work that must not stall the runtime's workers.
        let peak = Arc::new(AtomicUsize::new(report.baseline_fds));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(open_fds(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };

        let start = Instant::now();
        let mut running: FuturesUnordered<_> = (0..races)
            .map(|_| connector.connect(addrs.clone()))
            .collect();
        let mut streams = Vec::with_capacity(races);
        while let Some(result) = running.next().await {
            match result {
                Ok((stream, info)) => {
                    report.slowest = report.slowest.max(info.elapsed());
                    streams.push(stream);
                }
                Err(e) => {
                    report.failures += 1;
                    if report.failures == 1 {
                        eprintln!("first failure: {e}");
                        for attempt in e.attempts() {
                            eprintln!("    {attempt}");
                        }
                    }
                }
            }
        }
        report.wall = start.elapsed();
        peak.fetch_max(open_fds(), Ordering::Relaxed);
        report.peak_kib = status_kib("VmHWM");
        drop(streams);

        // Server-side sockets close when the lab's readers see EOF, a moment later.
        let settle = Instant::now();
        while open_fds() > report.baseline_fds && settle.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sampling.store(false, Ordering::Relaxed);
        sampler.join().map_err(|_| "the sampler thread panicked")?;
        report.peak_fds = peak.load(Ordering::Relaxed);
        report.after_fds = open_fds();
        Ok(report)
    })
}

/// Starts `processes` copies of this program sharing `races`, waits until all are ready,
/// starts them together and collects their reports.
fn spawn_workers(races: usize, processes: usize) -> Result<Vec<Report>, BoxError> {
    let exe = std::env::current_exe()?;
    let mut workers = Vec::new();
    for i in 0..processes {
        let share = races / processes + usize::from(i < races % processes);
        let mut child = Command::new(&exe)
            .env(WORKER_ENV, share.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no worker stdout")?);
        workers.push((child, stdout));
    }
    for (_, stdout) in &mut workers {
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(format!("a worker said {line:?} instead of ready").into());
        }
    }
    for (child, _) in &mut workers {
        writeln!(child.stdin.as_mut().ok_or("no worker stdin")?, "go")?;
    }
    let mut reports = Vec::new();
    for (mut child, mut stdout) in workers {
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let status = child.wait()?;
        let report = Report::parse(line.trim())
            .ok_or_else(|| format!("a worker ({status}) reported {line:?}"))?;
        reports.push(report);
    }
    Ok(reports)
}

fn summarize(
    races: usize,
    processes: usize,
    limit: u64,
    reports: &[Report],
) -> Result<(), BoxError> {
    let sum = |f: fn(&Report) -> usize| reports.iter().map(f).sum::<usize>();
    let failures = sum(|r| r.failures);
    let wall = reports.iter().map(|r| r.wall).max().unwrap_or_default();
    let slowest = reports.iter().map(|r| r.slowest).max().unwrap_or_default();
    let grown_kib: u64 = reports
        .iter()
        .map(|r| r.peak_kib.saturating_sub(r.baseline_kib))
        .sum();
    let per_race = grown_kib * 1024 / races.max(1) as u64;
    let (baseline, peak, after) = (
        sum(|r| r.baseline_fds),
        sum(|r| r.peak_fds),
        sum(|r| r.after_fds),
    );
    println!("races:               {races} at once, 4 addresses each (3 blackholed, 1 alive)");
    println!("processes:           {processes} (descriptor limit {limit} per process)");
    println!("succeeded / failed:  {} / {failures}", races - failures);
    println!("wall time:           {wall:.2?} (slowest race {slowest:.2?})");
    println!("descriptors:         baseline {baseline}, peak {peak}, after {after}");
    println!(
        "memory (RSS):        grew {grown_kib} KiB at the peak, ~{per_race} bytes per race in flight"
    );
    if after != baseline {
        return Err(
            format!("descriptors did not return to baseline: {after} != {baseline}").into(),
        );
    }
    if failures > 0 {
        return Err(format!("{failures} races failed").into());
    }
    Ok(())
}
