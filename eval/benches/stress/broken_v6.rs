//! `--broken-v6`: the broken-IPv6 case under a common descriptor limit, connie beside
//! hyper-util.
//!
//! The soft `RLIMIT_NOFILE` is lowered to 1,024 (a common default; connie's default budget
//! is then 256), and `n` races (1,000 by default) run at once, each to [a blackholed
//! `[::1]`, an alive `127.1.x.y` of its own] (the alive hosts in a child process, see
//! `hosts.rs`), so the history cannot help. Both clients are given the two addresses, no
//! DNS: connie as a literal list, hyper-util's `HttpConnector` through a resolver that
//! returns them, with its defaults (IPv6 first, the other family after 300 ms). Each client
//! runs twice, interleaved (connie, hyper-util, connie, hyper-util), connie with a new
//! connector each time; each round reports how many connected within 20 s (a blackholed
//! attempt left to the kernel takes about 130 s), how many failed and whether any saw
//! `EMFILE`, the time until the last connected, the median and slowest connect, and the
//! peak of open descriptors.
//!
//! Issue 20's goals, per pair of rounds, asserted in every run: every one of connie's races
//! connects within 2 s and none sees `EMFILE`, and connie's last connect comes no later than
//! hyper-util's (a race that never connected counting as the 20 s wait). hyper-util's own
//! results are reported only.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connie::ConnieConnector;
use connie_eval::goal::{self, Assert, Goal};
use connie_lab::Lab;
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::task::JoinSet;
use tower_service::Service;

use crate::hosts::Farm;
use crate::{is_out_of_files, open_fds, BoxError};

/// Races per round by default.
pub(crate) const RACES: usize = 1_000;
/// The soft descriptor limit of the run.
const SOFT_LIMIT: u64 = 1_024;
/// How long a connect may take before it counts as stuck.
const STUCK: Duration = Duration::from_secs(20);
/// Issue 20's goal: every one of connie's races connected within this.
const ALL_WITHIN: Duration = Duration::from_secs(2);

/// hyper-util's resolver here: `r<i>.test` is race `i`'s two addresses, IPv6 first.
#[derive(Clone)]
struct TwoAddrs {
    dead: SocketAddr,
    port: u16,
}

impl Service<Name> for TwoAddrs {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let race = name
            .as_str()
            .strip_prefix('r')
            .and_then(|rest| rest.strip_suffix(".test"))
            .and_then(|i| i.parse().ok());
        let addrs = race.map(|race| vec![self.dead, Farm::addr(self.port, race)]);
        Box::pin(async move {
            addrs
                .map(Vec::into_iter)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not a race"))
        })
    }
}

#[derive(Clone, Copy)]
enum Client {
    Connie,
    Hyper,
}

/// One round of one client.
struct Round {
    connected: usize,
    failed: usize,
    stuck: usize,
    emfile: bool,
    last: Duration,
    times: Vec<Duration>,
    peak_fds: usize,
}

pub(crate) fn main(races: usize) -> Result<(), BoxError> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let lab = Lab::builder()
            .blackholed("::1".parse()?)
            .build()
            .await?;
        let dead = lab.addrs()[0];
        let farm = Farm::spawn(lab.port(), races)?;
        rlimit::setrlimit(rlimit::Resource::NOFILE, SOFT_LIMIT, hard)?;
        println!(
            "races:       {races} at once per round, [blackholed {dead}, alive 127.1.x.y of its own] each; soft RLIMIT_NOFILE {SOFT_LIMIT}, baseline {} open",
            open_fds()
        );
        println!("client                      connected  failed  stuck  EMFILE  last connected  median    slowest   peak fds");
        let resolver = TwoAddrs { dead, port: lab.port() };
        let mut goals = Vec::new();
        // connie's time to its last connect in the round before, for the goal against
        // hyper-util's round that follows it.
        let mut connie_done = None;
        for (i, client) in [Client::Connie, Client::Hyper, Client::Connie, Client::Hyper]
            .into_iter()
            .enumerate()
        {
            let round = round(client, races, dead, &resolver).await?;
            // A race that never connected counts as the whole wait.
            let done = if round.connected == races {
                round.last
            } else {
                STUCK
            };
            let pair = i / 2 + 1;
            match client {
                Client::Connie => {
                    connie_done = Some(done);
                    goals.push(Goal::new(
                        format!(
                            "round {pair}, connie: every race connects within {}, none sees EMFILE",
                            secs(ALL_WITHIN)
                        ),
                        format!(
                            "{} of {races} in {done:.2?}{}",
                            round.connected,
                            if round.emfile { ", EMFILE seen" } else { "" }
                        ),
                        round.connected == races && done <= ALL_WITHIN && !round.emfile,
                        Assert::Always,
                    ));
                }
                Client::Hyper => {
                    let connie = connie_done.take().unwrap_or(STUCK);
                    goals.push(Goal::new(
                        format!("round {pair}: connie's races all connected no later than hyper-util's"),
                        format!("connie {connie:.2?}, hyper-util {done:.2?}"),
                        connie <= done,
                        Assert::Always,
                    ));
                }
            }
            let mut times = round.times.clone();
            times.sort_unstable();
            let median = times.get(times.len() / 2).copied().unwrap_or_default();
            let slowest = times.last().copied().unwrap_or_default();
            let name = match client {
                Client::Connie => "connie (defaults)",
                Client::Hyper => "hyper-util HttpConnector",
            };
            println!(
                "{name:<27} {:>9}  {:>6}  {:>5}  {:>6}  {:>14.2?}  {:>8.2?}  {:>8.2?}  {:>8}",
                round.connected,
                round.failed,
                round.stuck,
                if round.emfile { "seen" } else { "none" },
                round.last,
                median,
                slowest,
                round.peak_fds,
            );
            // Let every socket of the round close (the farm drains and closes its ends).
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        drop(farm);
        println!();
        print!("{}", goal::lines(&goals, true));
        let missed = goal::missed(&goals, true);
        if missed.is_empty() {
            Ok(())
        } else {
            Err(format!("goal missed: {}", missed.join("; ")).into())
        }
    })
}

/// `2 s`.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

async fn round(
    client: Client,
    races: usize,
    dead: SocketAddr,
    resolver: &TwoAddrs,
) -> Result<Round, BoxError> {
    let connie = ConnieConnector::new();
    let hyper = HttpConnector::new_with_resolver(resolver.clone());
    let port = resolver.port;
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (sampling, peak) = (Arc::clone(&sampling), Arc::clone(&peak));
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                // Listing /proc/self/fd takes a descriptor: none left means all are used.
                let open = connie_lab::open_fds().unwrap_or(SOFT_LIMIT as usize);
                peak.fetch_max(open, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let t0 = Instant::now();
    let mut running = JoinSet::new();
    for race in 0..races {
        let (connie, mut hyper) = (connie.clone(), hyper.clone());
        running.spawn(async move {
            let start = Instant::now();
            let connect =
                async {
                    match client {
                        Client::Connie => {
                            let addrs = vec![dead, Farm::addr(port, race)];
                            connie.connect(addrs).await.map(drop).map_err(|e| {
                                e.attempts().iter().any(|a| is_out_of_files(a.error()))
                            })
                        }
                        Client::Hyper => {
                            let uri: Uri = format!("http://r{race}.test:{port}/").parse().unwrap();
                            poll_fn(|cx| hyper.poll_ready(cx))
                                .await
                                .map_err(|_| false)?;
                            hyper.call(uri).await.map(drop).map_err(|e| {
                                let text = crate::chain(&e);
                                text.contains("os error 24") || text.contains("Too many open files")
                            })
                        }
                    }
                };
            let result = tokio::time::timeout(STUCK, connect).await;
            (result, start.elapsed(), t0.elapsed())
        });
    }
    let mut round = Round {
        connected: 0,
        failed: 0,
        stuck: 0,
        emfile: false,
        last: Duration::ZERO,
        times: Vec::with_capacity(races),
        peak_fds: 0,
    };
    while let Some(joined) = running.join_next().await {
        let (result, took, at) = joined?;
        match result {
            Ok(Ok(())) => {
                round.connected += 1;
                round.times.push(took);
                round.last = round.last.max(at);
            }
            Ok(Err(emfile)) => {
                round.failed += 1;
                round.emfile |= emfile;
            }
            Err(_) => round.stuck += 1,
        }
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().map_err(|_| "the sampler panicked")?;
    round.peak_fds = peak.load(Ordering::Relaxed);
    Ok(round)
}
