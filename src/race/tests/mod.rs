//! What only the tokio driver (`driver.rs`) can show, on a paused clock against a
//! simulated network: sockets closed, the stream of DNS answers, the attempt budget shared
//! between races, a runtime without timers, the one-address fast path, and that the
//! driver takes the same decisions as the simulation the machine's rules are tested on
//! (`machine/tests/`, one file per rule).
//!
//! Every race here runs through [`race`] (or [`guarded`]), which fails a race that is still
//! running after an hour of paused time: a bug that keeps a failure from starting the next
//! attempt fails the test at once instead of hanging it forever.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use tokio::time::{sleep, sleep_until, Instant};

use crate::budget::Budget;
use crate::config::Config;
use crate::dial::Origin;
use crate::dns::Answer;
use crate::dns::DnsError;
use crate::order::Ranking;
use crate::race::machine::tests::sim::{Handshake, Host};
use crate::{
    AttemptBudget, ConnectError, ConnectInfo, Destination, Dial, ErrorKind, Family, Outcome,
    Schedule,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A simulated network: per-address behaviour, a log of dials, and a count of sockets
/// that exist (created at dial, gone when dropped).
#[derive(Clone)]
struct Net {
    hosts: Arc<HashMap<SocketAddr, Host>>,
    /// Every host's address, in the order given.
    order: Arc<Vec<SocketAddr>>,
    dials: Arc<Mutex<Vec<SocketAddr>>>,
    open: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Socket {
    addr: SocketAddr,
    open: Arc<AtomicUsize>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Net {
    fn new(hosts: &[(&str, Host)]) -> Net {
        Net::of(hosts.iter().map(|(a, h)| (addr(a), *h)))
    }

    fn of(hosts: impl IntoIterator<Item = (SocketAddr, Host)>) -> Net {
        let hosts: Vec<_> = hosts.into_iter().collect();
        Net {
            order: Arc::new(hosts.iter().map(|(a, _)| *a).collect()),
            hosts: Arc::new(hosts.into_iter().collect()),
            dials: Arc::default(),
            open: Arc::default(),
        }
    }

    fn addrs(&self, list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| addr(a)).collect()
    }

    /// Every host's address, in the order given.
    fn all(&self) -> Vec<SocketAddr> {
        self.order.to_vec()
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    fn dialer(&self) -> SimDialer {
        SimDialer(self.clone())
    }
}

/// Dials the simulated network.
#[derive(Clone)]
struct SimDialer(Net);

impl Dial for SimDialer {
    type Connection = Socket;

    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<Socket>> + Send {
        let net = &self.0;
        let a = to.addr();
        let host = *net
            .hosts
            .get(&a)
            .unwrap_or_else(|| panic!("dialed {a}, which is not on the simulated network"));
        net.dials.lock().unwrap().push(a);
        net.open.fetch_add(1, Ordering::SeqCst);
        let socket = Socket {
            addr: a,
            open: net.open.clone(),
        };
        async move {
            match host {
                Host::Up(d) => {
                    sleep(d).await;
                    Ok(socket)
                }
                Host::Refused(d) => {
                    sleep(d).await;
                    Err(io::ErrorKind::ConnectionRefused.into())
                }
                Host::Blackhole => std::future::pending().await,
                Host::GivesUp(d) => {
                    sleep(d).await;
                    Err(io::ErrorKind::TimedOut.into())
                }
                #[cfg(unix)]
                Host::OutOfFiles => Err(io::Error::from_raw_os_error(libc::EMFILE)),
                Host::Tls { tcp, then } => {
                    sleep(tcp).await;
                    to.transport_connected();
                    match then {
                        Handshake::Done(d) => {
                            sleep(d).await;
                            Ok(socket)
                        }
                        Handshake::Fails(d) => {
                            sleep(d).await;
                            Err(io::ErrorKind::InvalidData.into())
                        }
                        Handshake::Silent => std::future::pending().await,
                    }
                }
            }
        }
    }
}

/// How long a race may run, in paused time, before a test calls it hung: far more than any
/// test waits for (a minute at most), and free, since the paused clock jumps straight to it
/// when nothing else can happen.
const HUNG: Duration = Duration::from_secs(3600);

/// Awaits `future`, and panics if it is still running after [`HUNG`] of paused time.
async fn guarded<F: Future>(future: F) -> F::Output {
    match tokio::time::timeout(HUNG, future).await {
        Ok(output) => output,
        Err(_) => panic!(
            "the race was still running after {HUNG:?} of paused time: it hangs \
             (did a failure not start the next attempt, or the last one not end it?)"
        ),
    }
}

/// The engine's [`super::race`], [`guarded`], with no history and no RFC 6724 sort: what
/// every test here calls, but those of what a race remembers.
async fn race<D, S>(
    dialer: &D,
    plan: &Config,
    answers: S,
) -> Result<(D::Connection, ConnectInfo), ConnectError>
where
    D: Dial,
    S: Stream<Item = Answer> + Unpin,
{
    remembering(dialer, plan, Ranking::default(), answers).await
}

/// The engine's [`super::race`] ordering by `memory`, with no attempt budget,
/// [`guarded`].
async fn remembering<D, S>(
    dialer: &D,
    plan: &Config,
    memory: Ranking<'_>,
    answers: S,
) -> Result<(D::Connection, ConnectInfo), ConnectError>
where
    D: Dial,
    S: Stream<Item = Answer> + Unpin,
{
    let budget = Budget::new(AttemptBudget::Unbounded);
    guarded(super::race(
        dialer,
        plan,
        memory,
        &budget,
        Origin::default(),
        answers,
        None,
    ))
    .await
}

/// The engine's [`super::race`] under `budget`, with no history and no RFC 6724 sort,
/// [`guarded`].
async fn budgeted<D, S>(
    dialer: &D,
    plan: &Config,
    budget: &Budget,
    answers: S,
) -> Result<(D::Connection, ConnectInfo), ConnectError>
where
    D: Dial,
    S: Stream<Item = Answer> + Unpin,
{
    guarded(super::race(
        dialer,
        plan,
        Ranking::default(),
        budget,
        Origin::default(),
        answers,
        None,
    ))
    .await
}

/// A race on `schedule`, with no timeouts, caps of 16, no policy.
fn plan(schedule: Schedule) -> Config {
    crate::race::machine::tests::config(schedule)
}

fn literal(addrs: Vec<SocketAddr>) -> impl Stream<Item = Answer> + Unpin {
    stream::iter([Answer::literal(addrs)])
}

/// When a simulated answer arrives, for which family, and what it says.
type SimAnswer = (Duration, Family, Result<Vec<SocketAddr>, &'static str>);

/// DNS answers delivered at the given offsets from now (listed in time order).
fn dns(answers: Vec<SimAnswer>) -> impl Stream<Item = Answer> + Unpin {
    let start = Instant::now();
    Box::pin(
        stream::iter(answers).then(move |(at, family, result)| async move {
            sleep_until(start + at).await;
            Answer {
                family: Some(family),
                result: result.map_err(|e| DnsError::new(Some(family), e)),
                sorted: false,
                https: None,
            }
        }),
    )
}

/// How long each attempt ran, in start order.
fn durations(info: &crate::ConnectInfo) -> Vec<Duration> {
    info.attempts().iter().map(|a| a.duration()).collect()
}

/// What two races that failed alike must agree on: the error's kind and message, each
/// attempt's address, error kind and message, and the failed lookups.
fn error_seen(e: &ConnectError) -> String {
    let attempts: Vec<_> = e
        .attempts()
        .iter()
        .map(|a| (a.addr(), a.error().kind(), a.error().to_string()))
        .collect();
    format!("{:?} {e} {attempts:?} {:?}", e.kind(), e.dns_errors())
}

/// (address, start offset) of every attempt.
fn starts(info: &crate::ConnectInfo) -> Vec<(SocketAddr, Duration)> {
    info.attempts()
        .iter()
        .map(|a| (a.addr(), a.started()))
        .collect()
}

/// The guard itself: a race that can never end fails the test, at once in real time.
#[tokio::test(start_paused = true)]
#[should_panic(expected = "the race was still running after 3600s of paused time")]
async fn a_hung_race_fails_the_test_instead_of_hanging_it() {
    let net = Net::new(&[("10.0.0.1:80", Host::Blackhole)]);
    let p = plan(Schedule::race_all());
    let _ = race(&net.dialer(), &p, literal(net.all())).await;
}

#[tokio::test(start_paused = true)]
async fn simultaneous_winners_leave_exactly_one_socket_open() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("10.0.0.2:80", Host::Up(ms(10))),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let p = plan(Schedule::race_all());
    let (conn, info) = race(&net.dialer(), &p, literal(net.all())).await.unwrap();
    assert_eq!(info.elapsed(), ms(10));
    assert_eq!(net.open(), 1);
    let connected = info
        .attempts()
        .iter()
        .filter(|a| *a.outcome() == Outcome::Connected)
        .count();
    assert_eq!(connected, 1);
    drop(conn);
    assert_eq!(net.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_race_closes_every_attempt() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Blackhole),
    ]);
    let p = plan(Schedule::race_all());
    let dialer = net.dialer();
    let fut = race(&dialer, &p, literal(net.all()));
    assert!(tokio::time::timeout(ms(100), fut).await.is_err());
    assert_eq!(net.dials.lock().unwrap().len(), 2);
    assert_eq!(net.open(), 0);
}

/// Answers that are ready together (both families from a cache) join the race together,
/// so the first attempt goes to the best of all of them: here `AAAA` (a ULA address, RFC
/// 6724 precedence 3) and `A` (a global one, 35) arrive at the same instant, `AAAA` read
/// first. The IPv4 address goes first, alone; read one at a time, the ULA address would
/// have started alone, as soon as its family answered.
#[tokio::test(start_paused = true)]
async fn answers_ready_together_join_the_race_together() {
    let sources = Box::leak(Box::new(crate::order::source::Sources::fixed(|dst| {
        Some(match dst.ip() {
            std::net::IpAddr::V4(_) => "198.51.100.1".parse().unwrap(),
            std::net::IpAddr::V6(_) => "2001:db8:ffff::1".parse().unwrap(),
        })
    })));
    let memory = Ranking {
        history: None,
        sources: Some(sources),
        nat64: None,
    };
    let net = Net::new(&[
        ("[fd00::1]:80", Host::Up(ms(10))),
        ("192.0.2.1:80", Host::Up(ms(10))),
    ]);
    let answers = dns(vec![
        (ms(0), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
        (ms(0), Family::V4, Ok(net.addrs(&["192.0.2.1:80"]))),
    ]);
    let p = plan(Schedule::sequential());
    let (conn, info) = remembering(&net.dialer(), &p, memory, answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("192.0.2.1:80"));
    assert_eq!(starts(&info), vec![(addr("192.0.2.1:80"), ms(0))]);
}

fn with_policy(schedule: Schedule, policy: impl crate::AddressPolicy) -> Config {
    let mut p = plan(schedule);
    p.policy = Some(crate::policy::Policy(Arc::new(policy)));
    p
}

mod abandon;
mod budget;
mod burst;
mod flaky;
mod learned;
mod list;
mod no_time;
mod one;
mod same_as_sim;
