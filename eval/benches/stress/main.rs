//! Stress: many concurrent races in one process, with the connector's default settings.
//!
//! ```text
//! cargo bench -p connie-eval --bench stress                  # 10,000 races of [dead, dead, dead, alive]
//! cargo bench -p connie-eval --bench stress -- 15000         # another number of races
//! cargo bench -p connie-eval --bench stress -- --own 15000   # each race with an alive host of its own
//! cargo bench -p connie-eval --bench stress -- --broken-v6   # 1,000 races behind a blackholed ::1,
//!                                                            # soft limit 1,024, connie and hyper-util
//! cargo bench -p connie-eval --bench stress -- --bursts      # races by name to one cold host, and
//!                                                            # to many hosts (see `bursts.rs`)
//! cargo test -p connie-eval --bench stress                   # smoke test, a few seconds
//! ```
//!
//! The goal it checks (issues 12 and 20): one process whose `RLIMIT_NOFILE` is 20,000 runs
//! 15,000 concurrent races of [dead, dead, dead, alive] with default settings, and every
//! race connects, no attempt fails with `EMFILE`, and the descriptors peak under the limit.
//! With `--own`, every race has an alive host of its own (served by a child process, see
//! `hosts.rs`), so the history cannot help, and every race waits at a gate until all are
//! spawned, so that all are in flight at once: every race begins on a blackhole, 15,000
//! first attempts spend the default budget of 5,000, and each race has to move past its
//! blackholes under a spent budget (see `connie::AttemptBudget`). `--broken-v6` is
//! `broken_v6.rs`.
//!
//! One process, one multi-thread runtime, one `ConnieConnector::new()` shared by every race
//! (each task has a clone: clones share the address history and the attempt budget), and a
//! lab of three blackholed loopback hosts and one alive one. Every race is spawned at once
//! on a cold connector: the races that start before the first one wins know nothing and
//! race all four addresses; after that, the history ranks the alive address first. Each
//! race drops its stream the moment it connected (it counts as connected, with its time):
//! a winner costs two descriptors here, the client's and the alive host's accepted socket,
//! and keeping every winner to the end would not fit 15,000 races in 20,000 descriptors.
//! Loopback only.
//!
//! The soft `RLIMIT_NOFILE` is raised to the hard limit at start, after the connector is
//! built and before the first race: the default budget, `AttemptBudget::FileLimit` (a
//! quarter of the soft limit), is read at the first attempt, not when the connector is
//! built, so it sees the raised limit. (`budget_use()` reads it too, so nothing asks for it
//! before the limit is raised.)
//!
//! A thread samples every millisecond or so, while the races run: the open descriptors
//! and the budget's use. The report:
//!
//! - `races`, `connected`, `failed`: the first few failures' `Display`, and whether any
//!   attempt failed with `EMFILE` or `ENFILE` (raw OS error 24 or 23);
//! - `history`: when the first race won, how many races had started by then, and how many
//!   winners began cold, racing every address with a blackhole first (the others began with
//!   the alive address alone, as the history said). The history learns as the winner's
//!   race ends, a moment before it stamps its time, so "started by then" may count a few
//!   races that began warm;
//! - `wall time`: from the first spawn to the last race's end; `race times`: the median,
//!   99th percentile and longest `ConnectInfo::elapsed` of the winners (a race's own time,
//!   without its wait to be first polled). On loopback a handshake takes microseconds: the
//!   rest is two runtime workers taking turns over every race and the alive host's tasks;
//! - `budget`: its limit, the most attempts in flight (sampled, and the budget's own
//!   `peak()`, which sees every instant) and the most attempts waiting for a place;
//! - `descriptors`: before the races, at their peak, and once every race and every socket
//!   the alive host accepted has closed, against the soft limit;
//! - `memory`: the peak resident set (`VmHWM`) and its growth over the baseline.
//!
//! Without `--bench` on the command line (as under `cargo test`) it is a smoke test: 300
//! races, then 300 with hosts of their own under a soft limit of 1,024 (a budget of 256,
//! which their first attempts spend), then `--broken-v6` with 100 races, each with the
//! same checks.
//!
//! It exits non-zero if a race failed, an attempt saw `EMFILE`/`ENFILE`, the descriptors
//! reached the limit or did not come back to their baseline, or the races were not all
//! done within 60 s (a blackholed attempt only ends at the kernel's SYN timeout, about two
//! minutes, so a race left with nothing but blackholes would hang: the bound reports it).

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connie::{ConnectError, ConnieConnector, Outcome};
use connie_lab::Lab;
use tokio::task::JoinSet;

mod broken_v6;
mod bursts;
mod hosts;

use hosts::Farm;

const DEFAULT_RACES: usize = 10_000;
/// Races of each of the first two modes in the smoke test.
const SMOKE_RACES: usize = 300;
/// Races of each part of `--bursts` in the smoke test.
const SMOKE_BURSTS: usize = 100;
/// Races of `--broken-v6` in the smoke test.
const SMOKE_BROKEN_V6: usize = 100;
/// The soft descriptor limit of the smoke test's races with hosts of their own.
const SMOKE_SOFT_LIMIT: u64 = 1_024;
/// Every race must be done by then, or the run reports what is left and fails.
const WALL_BOUND: Duration = Duration::from_secs(60);
/// How long the sampler sleeps between samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(1);
/// How long the descriptors may take to come back to their baseline after the last race:
/// the alive host closes an accepted socket when its drain task reads the client's FIN.
const SETTLE: Duration = Duration::from_secs(10);
/// Descriptors the run may keep over its baseline. A leak of the races grows with them,
/// one or more per race over thousands; a few allow for something opened once, on first
/// use, and kept (the runtime's or a library's), which is not the races' doing.
const FD_SLACK: usize = 4;
/// How many failures are printed.
const SHOWN_ERRORS: usize = 3;
/// "Not yet" in the microsecond clocks below.
const NEVER: u64 = u64::MAX;

type BoxError = Box<dyn Error + Send + Sync>;

/// The process's open descriptors; the leak check means nothing without them.
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

/// Whether `error`, or an error it wraps, is `EMFILE` or `ENFILE`.
fn is_out_of_files(error: &io::Error) -> bool {
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            // EMFILE (24): the process's limit; ENFILE (23): the system's.
            if matches!(io.raw_os_error(), Some(24 | 23)) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// `error: source: source…`, for errors whose causes are not `io::Error`s (hyper-util's).
fn chain(error: &dyn Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// What every race and the sampler share.
struct Shared {
    t0: Instant,
    connected: AtomicUsize,
    /// When each race was first polled (its connect called), in µs since `t0`.
    started: Vec<AtomicU64>,
    /// Whether each race has ended, connected or failed.
    ended: Vec<AtomicBool>,
    /// When the first race connected, in µs since `t0`.
    first_win: AtomicU64,
    sampling: AtomicBool,
    samples: AtomicUsize,
    peak_fds: AtomicUsize,
    peak_in_flight: AtomicUsize,
    peak_waiting: AtomicUsize,
}

impl Shared {
    fn micros(&self) -> u64 {
        u64::try_from(self.t0.elapsed().as_micros()).unwrap_or(NEVER - 1)
    }
}

/// A race that connected.
struct Won {
    elapsed: Duration,
    /// Its first attempt went to a blackholed address: the history knew nothing yet.
    began_cold: bool,
    /// Its attempts abandoned for the next address while the budget was spent.
    abandoned: usize,
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|arg| arg == "--bench");
    let args: Vec<String> = (std::env::args().skip(1))
        .filter(|arg| arg != "--bench")
        .collect();
    let number = |i: usize, default: usize| -> Result<usize, BoxError> {
        Ok(args
            .get(i)
            .map(|n| n.parse())
            .transpose()?
            .unwrap_or(default))
    };
    match args.first().map(String::as_str) {
        // A child serving the farm's hosts (`hosts.rs`), in either mode.
        Some("--hosts") => {
            let port = u16::try_from(number(1, 0)?)?;
            hosts::serve(port, number(2, 0)?, number(3, 0)?)
        }
        _ if !full => smoke(),
        Some("--broken-v6") => broken_v6::main(number(1, broken_v6::RACES)?),
        Some("--bursts") => bursts::main(number(1, bursts::RACES)?, number(2, bursts::MANY)?),
        Some("--own") => stress(number(1, DEFAULT_RACES)?, true),
        _ => stress(number(0, DEFAULT_RACES)?, false),
    }
}

/// Without `--bench` (as under `cargo test`): each mode once, at a small size, with the
/// same checks. The races with hosts of their own run under a soft limit of 1,024 (a budget
/// of 256), so that their first attempts spend the budget as 15,000 spend 5,000.
fn smoke() -> Result<(), BoxError> {
    println!(
        "# stress (smoke test: no --bench flag; run `cargo bench -p connie-eval --bench stress`)"
    );
    stress(SMOKE_RACES, false)?;
    stress_under(SMOKE_RACES, true, Some(SMOKE_SOFT_LIMIT))?;
    broken_v6::main(SMOKE_BROKEN_V6)?;
    bursts::main(SMOKE_BURSTS, SMOKE_BURSTS)
}

/// `races` concurrent races of [dead, dead, dead, alive], each with an alive host of its
/// own if `own`, the soft descriptor limit raised to the hard one; fails if a check fails.
fn stress(races: usize, own: bool) -> Result<(), BoxError> {
    stress_under(races, own, None)
}

/// [`stress`] with the soft descriptor limit set to `soft_limit` instead, if given.
fn stress_under(races: usize, own: bool, soft_limit: Option<u64>) -> Result<(), BoxError> {
    println!();
    // Built before the limit is changed on purpose: its budget is sized at the first attempt.
    let connector = ConnieConnector::new();
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let raised = match soft_limit {
        Some(limit) => {
            rlimit::setrlimit(rlimit::Resource::NOFILE, limit, hard)?;
            limit
        }
        None => rlimit::increase_nofile_limit(u64::MAX)?,
    };
    println!("RLIMIT_NOFILE:       soft {soft}, hard {hard}; soft set to {raised}");

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if own {
        // Polls for I/O only when no task is ready to run: every race starts its
        // attempts before any connect is seen, as when a real round trip separates them.
        runtime.event_interval(u32::MAX);
    }
    runtime
        .enable_all()
        .build()?
        .block_on(run(connector, races, raised, own))
}

async fn run(
    connector: ConnieConnector,
    races: usize,
    limit: u64,
    own: bool,
) -> Result<(), BoxError> {
    let ip = |s: &str| s.parse().expect("a loopback address");
    let lab = Lab::builder()
        .blackholed(ip("127.0.0.2"))
        .blackholed(ip("127.0.0.3"))
        .blackholed(ip("127.0.0.4"))
        .alive(ip("127.0.0.5"))
        .build()
        .await?;
    let shared_alive: SocketAddr = lab.alive_hosts().next().ok_or("no alive host")?.addr();
    let dead = lab.addrs_of(connie_lab::HostKind::Blackholed);
    // Each race's alive host: the lab's, or one of its own in the farm.
    let farm = own.then(|| Farm::spawn(lab.port(), races)).transpose()?;
    let alive_of = move |race: usize| {
        if own {
            Farm::addr(shared_alive.port(), race)
        } else {
            shared_alive
        }
    };
    let baseline_fds = open_fds();
    let baseline_kib = status_kib("VmRSS");

    let shared = Arc::new(Shared {
        t0: Instant::now(),
        connected: AtomicUsize::new(0),
        started: (0..races).map(|_| AtomicU64::new(NEVER)).collect(),
        ended: (0..races).map(|_| AtomicBool::new(false)).collect(),
        first_win: AtomicU64::new(NEVER),
        sampling: AtomicBool::new(true),
        samples: AtomicUsize::new(0),
        peak_fds: AtomicUsize::new(baseline_fds),
        peak_in_flight: AtomicUsize::new(0),
        peak_waiting: AtomicUsize::new(0),
    });

    // A thread of its own: reading /proc/self/fd is blocking work that must not stall the
    // runtime's workers.
    let sampler = {
        let (shared, connector) = (Arc::clone(&shared), connector.clone());
        std::thread::spawn(move || {
            while shared.sampling.load(Ordering::Relaxed) {
                let budget = connector.budget_use();
                let fds = open_fds();
                shared.peak_fds.fetch_max(fds, Ordering::Relaxed);
                let peak_in_flight = &shared.peak_in_flight;
                peak_in_flight.fetch_max(budget.in_flight(), Ordering::Relaxed);
                let peak_waiting = &shared.peak_waiting;
                peak_waiting.fetch_max(budget.waiting(), Ordering::Relaxed);
                shared.samples.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };

    // With hosts of their own, every race waits at this gate until all are spawned, so
    // that all of them are in flight at once: no race's history, and no early finisher,
    // makes room for a later one.
    let (open_gate, gate) = tokio::sync::watch::channel(!own);
    let mut running = JoinSet::new();
    for race in 0..races {
        let (shared, connector) = (Arc::clone(&shared), connector.clone());
        let mut gate = gate.clone();
        let alive = alive_of(race);
        let addrs = vec![dead[0], dead[1], dead[2], alive];
        running.spawn(async move {
            // The sender lives until every race has been spawned and the gate opened.
            let _ = gate.wait_for(|open| *open).await;
            shared.started[race].store(shared.micros(), Ordering::Relaxed);
            let result = connector.connect(addrs).await;
            shared.ended[race].store(true, Ordering::Relaxed);
            // Dropped at once, so the alive host reads EOF and closes its end too. A plain
            // close leaves the client end in TIME_WAIT: no descriptor, and one ephemeral
            // port per race towards the lab's port, which fits; so no SO_LINGER 0 (RST).
            let (stream, info) = result?;
            drop(stream);
            shared.connected.fetch_add(1, Ordering::Relaxed);
            shared
                .first_win
                .fetch_min(shared.micros(), Ordering::Relaxed);
            let first = info.attempts().first().map(|a| a.addr());
            let abandoned = info.attempts().iter();
            let abandoned = abandoned.filter(|a| *a.outcome() == Outcome::Abandoned);
            Ok::<_, ConnectError>(Won {
                elapsed: info.elapsed(),
                began_cold: first != Some(alive),
                abandoned: abandoned.count(),
            })
        });
    }

    open_gate.send_replace(true);
    let deadline = tokio::time::Instant::from_std(shared.t0 + WALL_BOUND);
    let (mut times, mut began_cold, mut failed, mut emfile) = (Vec::new(), 0, 0, false);
    let mut abandoned = 0;
    let mut shown = Vec::new();
    loop {
        let joined = match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(Some(joined)) => joined?,
            // Every race is done, or the wall-time bound came first: report what is left.
            Ok(None) | Err(_) => break,
        };
        match joined {
            Ok(won) => {
                times.push(won.elapsed);
                began_cold += usize::from(won.began_cold);
                abandoned += won.abandoned;
            }
            Err(e) => {
                failed += 1;
                emfile |= e.attempts().iter().any(|a| is_out_of_files(a.error()));
                if shown.len() < SHOWN_ERRORS {
                    let attempts: Vec<String> =
                        e.attempts().iter().map(|a| a.to_string()).collect();
                    shown.push(format!("{e} [{}]", attempts.join("; ")));
                }
            }
        }
    }
    let wall = shared.t0.elapsed();
    let at_end = connector.budget_use();
    let peak_kib = status_kib("VmHWM");
    let unfinished = running.len();
    // Dropping the set aborts what is left, closing its sockets.
    drop(running);

    // The farm's hosts are in another process; only the lab's count here.
    drop(farm);
    // The alive host closes each accepted socket when it reads the client's FIN.
    let settle = Instant::now();
    while open_fds() > baseline_fds && settle.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.sampling.store(false, Ordering::Relaxed);
    sampler.join().map_err(|_| "the sampler thread panicked")?;
    let after_fds = open_fds();
    let budget = connector.budget_use();

    let first_win = shared.first_win.load(Ordering::Relaxed);
    let started: Vec<u64> = shared
        .started
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    let before_win = started.iter().filter(|&&s| s < first_win).count();
    let never_polled = started.iter().filter(|&&s| s == NEVER).count();
    let connected = shared.connected.load(Ordering::Relaxed);
    let samples = shared.samples.load(Ordering::Relaxed);
    let ms = |us: u64| {
        if us == NEVER {
            "never".to_string()
        } else {
            format!("{:.1} ms", us as f64 / 1000.0)
        }
    };

    let alive_hosts = if own {
        "an alive host of its own"
    } else {
        "one alive host for all"
    };
    println!("races:               {races} at once, [3 blackholed, 1 alive] each, {alive_hosts}, one connector with default settings");
    println!(
        "connected / failed:  {connected} / {failed}, {unfinished} unfinished at {WALL_BOUND:?}"
    );
    for e in &shown {
        println!("    {e}");
    }
    println!(
        "EMFILE / ENFILE:     {}",
        if emfile { "seen" } else { "none" }
    );
    println!(
        "history:             first win at {}, {before_win} races started by then; {began_cold} winners began cold (a blackholed address first)",
        ms(first_win)
    );
    times.sort_unstable();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1));
        times.get(i).copied().unwrap_or_default()
    };
    println!(
        "wall time:           {wall:.2?} (race times: median {:.2?}, p99 {:.2?}, slowest {:.2?})",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    println!("abandoned attempts:  {abandoned} (overdue attempts given up for the next address while the budget was spent)");
    println!(
        "budget:              limit {}, in flight peak {} (sampled {}), waiting peak {} (sampled); now in flight {}, waiting {}",
        budget.limit().map_or("none".to_string(), |l| l.to_string()),
        budget.peak(),
        shared.peak_in_flight.load(Ordering::Relaxed),
        shared.peak_waiting.load(Ordering::Relaxed),
        budget.in_flight(),
        budget.waiting(),
    );
    println!(
        "descriptors:         baseline {baseline_fds}, peak {} (sampled), after {after_fds}; soft limit {limit}",
        shared.peak_fds.load(Ordering::Relaxed)
    );
    println!(
        "memory:              peak RSS (VmHWM) {peak_kib} KiB, {} KiB over the baseline",
        peak_kib.saturating_sub(baseline_kib)
    );
    println!(
        "samples:             {samples} (one per {:.2?})",
        wall / samples.max(1) as u32
    );

    let mut problems = Vec::new();
    if unfinished > 0 {
        // Where the stuck races stand, for whoever decides about the engine.
        let stuck_before_win = started
            .iter()
            .zip(&shared.ended)
            .filter(|&(&s, ended)| s < first_win && !ended.load(Ordering::Relaxed))
            .count();
        problems.push(format!(
            "{unfinished} races unfinished after {WALL_BOUND:?} ({never_polled} never polled; \
             at the bound the budget had {} in flight and {} waiting; {stuck_before_win} of \
             them started before the first win)",
            at_end.in_flight(),
            at_end.waiting(),
        ));
    }
    if failed > 0 {
        problems.push(format!("{failed} races failed"));
    }
    if emfile {
        problems.push("an attempt failed with EMFILE/ENFILE".to_string());
    }
    let peak_fds = shared.peak_fds.load(Ordering::Relaxed);
    if peak_fds as u64 >= limit {
        problems.push(format!(
            "descriptors peaked at {peak_fds}, the limit {limit}"
        ));
    }
    if after_fds > baseline_fds + FD_SLACK {
        problems.push(format!(
            "descriptors did not return to baseline: {after_fds} > {baseline_fds} + {FD_SLACK}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; ").into())
    }
}
