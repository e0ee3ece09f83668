//! The schedule, proven on a paused clock against a simulated network: every time
//! asserted here is exact.
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
use crate::dial::Names;
use crate::dns::Answer;
use crate::error::DnsError;
use crate::order::Memory;
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
        Net {
            hosts: Arc::new(hosts.into_iter().collect()),
            dials: Arc::default(),
            open: Arc::default(),
        }
    }

    fn addrs(&self, list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| addr(a)).collect()
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
    remembering(dialer, plan, Memory::default(), answers).await
}

/// The engine's [`super::race`] ordering by `memory`, with no attempt budget,
/// [`guarded`].
async fn remembering<D, S>(
    dialer: &D,
    plan: &Config,
    memory: Memory<'_>,
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
        Names::default(),
        answers,
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
        Memory::default(),
        budget,
        Names::default(),
        answers,
    ))
    .await
}

fn plan(schedule: Schedule) -> Config {
    Config {
        schedule,
        attempt_timeout: None,
        total_timeout: None,
        partial_deadlines: false,
        max_concurrent: 16,
        max_addresses: 16,
        policy: None,
        keep_given_order: false,
    }
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
            }
        }),
    )
}

/// How long each attempt ran, in start order.
fn durations(info: &crate::ConnectInfo) -> Vec<Duration> {
    info.attempts().iter().map(|a| a.duration()).collect()
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
    let addrs = net.addrs(&["10.0.0.1:80"]);
    let _ = race(&net.dialer(), &plan(Schedule::race_all()), literal(addrs)).await;
}

#[tokio::test(start_paused = true)]
async fn race_all_starts_everything_at_once_interleaved_v6_first() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Refused(ms(5))),
        ("10.0.0.3:80", Host::Up(ms(30))),
        ("[fd00::1]:80", Host::Blackhole),
        ("[fd00::2]:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&[
        "10.0.0.1:80",
        "10.0.0.2:80",
        "10.0.0.3:80",
        "[fd00::1]:80",
        "[fd00::2]:80",
    ]);
    let t0 = Instant::now();
    let (conn, info) = race(&net.dialer(), &plan(Schedule::race_all()), literal(addrs))
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), ms(10));
    assert_eq!(conn.addr, addr("[fd00::2]:80"));
    assert_eq!(info.remote_addr(), addr("[fd00::2]:80"));
    assert_eq!(info.elapsed(), ms(10));
    assert_eq!(
        starts(&info),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::2]:80"), ms(0)),
            (addr("10.0.0.2:80"), ms(0)),
            (addr("10.0.0.3:80"), ms(0)),
        ]
    );
    let outcomes: Vec<_> = info
        .attempts()
        .iter()
        .map(|a| a.outcome().clone())
        .collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Cancelled,
            Outcome::Cancelled,
            Outcome::Connected,
            Outcome::Failed {
                kind: io::ErrorKind::ConnectionRefused,
                reason: "connection refused".into()
            },
            Outcome::Cancelled,
        ]
    );
    assert_eq!(info.attempts()[3].duration(), ms(5));
    assert_eq!(info.attempts()[0].duration(), ms(10));
    // Every loser's socket is gone; only the winner is open.
    assert_eq!(net.open(), 1);
    drop(conn);
    assert_eq!(net.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn rfc8305_staggers_by_250ms() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Blackhole),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let (_conn, info) = race(
        &net.dialer(),
        &plan(Schedule::rfc8305()),
        literal(addrs.clone()),
    )
    .await
    .unwrap();
    assert_eq!(info.elapsed(), ms(510));
    assert_eq!(
        starts(&info),
        vec![(addrs[0], ms(0)), (addrs[1], ms(250)), (addrs[2], ms(500))]
    );
    // Each attempt's duration runs from its own start: the winner's 10 ms handshake.
    assert_eq!(durations(&info), vec![ms(510), ms(260), ms(10)]);
    assert_eq!(net.open(), 1);
}

/// `preferred_family(V4)`: IPv4 goes first, then the families alternate.
#[tokio::test(start_paused = true)]
async fn the_preferred_family_goes_first() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Up(ms(10))),
        ("[fd00::1]:80", Host::Blackhole),
        ("[fd00::2]:80", Host::Blackhole),
    ]);
    let addrs = net.addrs(&["[fd00::1]:80", "[fd00::2]:80", "10.0.0.1:80", "10.0.0.2:80"]);
    let schedule = Schedule::rfc8305().preferred_family(Family::V4);
    let (conn, info) = race(&net.dialer(), &plan(schedule), literal(addrs))
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("10.0.0.2:80"));
    assert_eq!(
        starts(&info),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::1]:80"), ms(250)),
            (addr("10.0.0.2:80"), ms(500)),
        ]
    );
    assert_eq!(info.elapsed(), ms(510));
}

/// With IPv4 preferred, the Resolution Delay waits for `A`, not `AAAA`.
#[tokio::test(start_paused = true)]
async fn the_resolution_delay_waits_for_the_preferred_family() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("[fd00::1]:80", Host::Up(ms(10))),
    ]);
    let schedule = Schedule::rfc8305().preferred_family(Family::V4);
    // AAAA at 10 ms, A at 100 ms: the IPv6 attempt starts at 10 + 50.
    let answers = dns(vec![
        (ms(10), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
        (ms(100), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(schedule.clone()), answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("[fd00::1]:80"));
    assert_eq!(starts(&info), vec![(addr("[fd00::1]:80"), ms(60))]);
    assert_eq!(info.elapsed(), ms(70));

    // `A` within the delay goes first.
    let answers = dns(vec![
        (ms(10), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
        (ms(30), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(schedule), answers).await.unwrap();
    assert_eq!(conn.addr, addr("10.0.0.1:80"));
    assert_eq!(starts(&info), vec![(addr("10.0.0.1:80"), ms(30))]);
}

/// `first_family_count(2)`: two IPv6 attempts before the first IPv4 one, each 250 ms
/// apart; with a count of 1 the IPv4 address would start at 250 ms and win at 260.
#[tokio::test(start_paused = true)]
async fn first_family_count_addresses_of_the_preferred_family_go_first() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("[fd00::1]:80", Host::Blackhole),
        ("[fd00::2]:80", Host::Blackhole),
        ("[fd00::3]:80", Host::Blackhole),
    ]);
    let addrs = net.addrs(&[
        "10.0.0.1:80",
        "[fd00::1]:80",
        "[fd00::2]:80",
        "[fd00::3]:80",
    ]);
    let schedule = Schedule::rfc8305().first_family_count(2);
    let (conn, info) = race(&net.dialer(), &plan(schedule), literal(addrs))
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("10.0.0.1:80"));
    assert_eq!(
        starts(&info),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("[fd00::2]:80"), ms(250)),
            (addr("10.0.0.1:80"), ms(500)),
        ]
    );
    assert_eq!(info.elapsed(), ms(510));
}

#[tokio::test(start_paused = true)]
async fn a_failure_starts_the_next_attempt_at_once() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Refused(ms(20))),
        ("10.0.0.2:80", Host::Blackhole),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let (_conn, info) = race(
        &net.dialer(),
        &plan(Schedule::rfc8305()),
        literal(addrs.clone()),
    )
    .await
    .unwrap();
    // 0: first; 20: first refused, second starts at once; 270: delay after the second.
    assert_eq!(
        starts(&info),
        vec![(addrs[0], ms(0)), (addrs[1], ms(20)), (addrs[2], ms(270))]
    );
    assert_eq!(info.elapsed(), ms(280));
}

#[tokio::test(start_paused = true)]
async fn a_delay_never_cancels_a_running_attempt() {
    // The first attempt is slower than the delay, but still finishes first.
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(300))),
        ("10.0.0.2:80", Host::Up(ms(100))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80"]);
    let (conn, info) = race(
        &net.dialer(),
        &plan(Schedule::rfc8305()),
        literal(addrs.clone()),
    )
    .await
    .unwrap();
    assert_eq!(conn.addr, addrs[0]);
    assert_eq!(info.elapsed(), ms(300));
    assert_eq!(starts(&info), vec![(addrs[0], ms(0)), (addrs[1], ms(250))]);
    assert_eq!(info.attempts()[1].outcome().clone(), Outcome::Cancelled);
    assert_eq!(info.attempts()[1].duration(), ms(50));

    // And when the second is faster, it wins while the first is still running.
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(400))),
        ("10.0.0.2:80", Host::Up(ms(10))),
    ]);
    let (conn, info) = race(
        &net.dialer(),
        &plan(Schedule::rfc8305()),
        literal(addrs.clone()),
    )
    .await
    .unwrap();
    assert_eq!(conn.addr, addrs[1]);
    assert_eq!(info.elapsed(), ms(260));
}

#[tokio::test(start_paused = true)]
async fn sequential_waits_for_each_failure() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Refused(ms(20))),
        ("10.0.0.2:80", Host::Refused(ms(30))),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let (_conn, info) = race(
        &net.dialer(),
        &plan(Schedule::sequential()),
        literal(addrs.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        starts(&info),
        vec![(addrs[0], ms(0)), (addrs[1], ms(20)), (addrs[2], ms(50))]
    );
    assert_eq!(durations(&info), vec![ms(20), ms(30), ms(10)]);
    assert_eq!(info.elapsed(), ms(60));
}

/// The slot kept free for a family ends once that family has had an attempt: here, with
/// room for two, the alive IPv6 address starts the moment the IPv4 attempt fails, although
/// another IPv4 address is still queued.
#[tokio::test(start_paused = true)]
async fn the_reserved_slot_ends_once_the_other_family_has_had_an_attempt() {
    let net = Net::new(&[
        ("[fd00::1]:80", Host::Blackhole),
        ("[fd00::2]:80", Host::Up(ms(10))),
        ("10.0.0.1:80", Host::Refused(ms(5))),
        ("10.0.0.2:80", Host::Blackhole),
    ]);
    let addrs = net.addrs(&["[fd00::1]:80", "[fd00::2]:80", "10.0.0.1:80", "10.0.0.2:80"]);
    let mut p = plan(Schedule::race_all());
    p.max_concurrent = 2;
    let (conn, info) = race(&net.dialer(), &p, literal(addrs)).await.unwrap();
    assert_eq!(conn.addr, addr("[fd00::2]:80"));
    assert_eq!(
        starts(&info),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::2]:80"), ms(5)),
        ]
    );
    assert_eq!(info.elapsed(), ms(15));
}

/// Once the preferred family has answered, the Resolution Delay no longer holds anything
/// back: with a 500 ms Resolution Delay and a 10 ms Attempt Delay, the second attempt
/// starts 10 ms after the first, not when the Resolution Delay would have ended.
#[tokio::test(start_paused = true)]
async fn an_answered_resolution_delay_holds_nothing_back() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(5))),
        ("[fd00::1]:80", Host::Blackhole),
    ]);
    let schedule = Schedule::rfc8305()
        .attempt_delay(ms(10))
        .resolution_delay(ms(500));
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(10), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(schedule), answers).await.unwrap();
    assert_eq!(conn.addr, addr("10.0.0.1:80"));
    assert_eq!(
        starts(&info),
        vec![
            (addr("[fd00::1]:80"), ms(10)),
            (addr("10.0.0.1:80"), ms(20))
        ]
    );
    assert_eq!(info.elapsed(), ms(25));
}

#[tokio::test(start_paused = true)]
async fn sequential_with_attempt_timeout_moves_past_a_blackhole() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80"]);
    let mut p = plan(Schedule::sequential());
    p.attempt_timeout = Some(ms(1000));
    let (_conn, info) = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap();
    assert_eq!(starts(&info), vec![(addrs[0], ms(0)), (addrs[1], ms(1000))]);
    assert_eq!(info.attempts()[0].outcome().clone(), Outcome::TimedOut);
    assert_eq!(info.elapsed(), ms(1010));
    assert_eq!(net.open(), 1);
}

/// Go's partial deadlines: with only a total timeout, a sequential race still reaches the
/// third address; each attempt gets the time left over the addresses left.
#[tokio::test(start_paused = true)]
async fn partial_deadlines_split_the_total_timeout_between_addresses() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Blackhole),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let mut p = plan(Schedule::sequential());
    p.total_timeout = Some(ms(9_000));
    p.partial_deadlines = true;
    let (_conn, info) = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap();
    assert_eq!(
        starts(&info),
        vec![
            (addrs[0], ms(0)),
            (addrs[1], ms(3_000)),
            (addrs[2], ms(6_000))
        ]
    );
    assert_eq!(info.elapsed(), ms(6_010));

    // Without them, the first blackhole takes the whole budget.
    p.partial_deadlines = false;
    let err = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(err.attempts().len(), 1);
    p.partial_deadlines = true;

    // The 2 s floor: 3 s over [dead, dead, alive] would give each 1 s; the first gets 2 s,
    // the second all that is left (1 s), and the third is never reached.
    p.total_timeout = Some(ms(3_000));
    let t0 = Instant::now();
    let err = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), ms(3_000));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(tried, addrs[..2].to_vec());
    let (_conn, info) = race(&net.dialer(), &p, literal(vec![addrs[0], addrs[2]]))
        .await
        .unwrap();
    assert_eq!(
        starts(&info),
        vec![(addrs[0], ms(0)), (addrs[2], ms(2_000))]
    );

    // A shorter per-attempt timeout still wins.
    p.total_timeout = Some(ms(9_000));
    p.attempt_timeout = Some(ms(1_000));
    let (_conn, info) = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap();
    assert_eq!(info.elapsed(), ms(2_010));
}

/// Partial deadlines count the addresses left of both families: over [dead IPv6, dead
/// IPv4, alive IPv6] and 9 s, each attempt gets 3 s.
#[tokio::test(start_paused = true)]
async fn partial_deadlines_count_the_addresses_of_both_families() {
    let net = Net::new(&[
        ("[fd00::1]:80", Host::Blackhole),
        ("10.0.0.1:80", Host::Blackhole),
        ("[fd00::2]:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["[fd00::1]:80", "[fd00::2]:80", "10.0.0.1:80"]);
    let mut p = plan(Schedule::sequential());
    p.total_timeout = Some(ms(9_000));
    p.partial_deadlines = true;
    let (_conn, info) = race(&net.dialer(), &p, literal(addrs)).await.unwrap();
    assert_eq!(
        starts(&info),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(3_000)),
            (addr("[fd00::2]:80"), ms(6_000)),
        ]
    );
    assert_eq!(info.elapsed(), ms(6_010));
}

#[tokio::test(start_paused = true)]
async fn concurrency_cap_holds_attempts_until_a_slot_frees() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Refused(ms(40))),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let mut p = plan(Schedule::race_all());
    p.max_concurrent = 2;
    let (_conn, info) = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap();
    assert_eq!(
        starts(&info),
        vec![(addrs[0], ms(0)), (addrs[1], ms(0)), (addrs[2], ms(40))]
    );
    assert_eq!(info.elapsed(), ms(50));
}

#[tokio::test(start_paused = true)]
async fn address_cap_drops_the_rest() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Refused(ms(1))),
        ("10.0.0.2:80", Host::Refused(ms(1))),
        ("10.0.0.3:80", Host::Up(ms(1))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let mut p = plan(Schedule::race_all());
    p.max_addresses = 2;
    let err = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
    assert_eq!(*net.dials.lock().unwrap(), addrs[..2].to_vec());
}

#[tokio::test(start_paused = true)]
async fn total_timeout_fails_at_exactly_the_deadline_listing_running_attempts() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("[fd00::1]:80", Host::Blackhole),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "[fd00::1]:80"]);
    let mut p = plan(Schedule::race_all());
    p.total_timeout = Some(ms(3000));
    let t0 = Instant::now();
    let err = race(&net.dialer(), &p, literal(addrs)).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(3000));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.is_timeout());
    let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(tried, vec![addr("[fd00::1]:80"), addr("10.0.0.1:80")]);
    assert!(err
        .attempts()
        .iter()
        .all(|a| a.error().kind() == io::ErrorKind::TimedOut));
    assert_eq!(net.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn total_timeout_includes_dns() {
    let net = Net::new(&[]);
    let mut p = plan(Schedule::race_all());
    p.total_timeout = Some(ms(2000));
    let t0 = Instant::now();
    let never = stream::pending::<Answer>();
    let err = race(&net.dialer(), &p, never).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(2000));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.attempts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn rfc8305_resolution_delay_waits_50ms_for_a_late_aaaa() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("[fd00::1]:80", Host::Up(ms(10))),
    ]);
    // A at 10 ms, AAAA at 100 ms: the IPv4 attempt starts at 10 + 50.
    let answers = dns(vec![
        (ms(10), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(100), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(Schedule::rfc8305()), answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("10.0.0.1:80"));
    assert_eq!(starts(&info), vec![(addr("10.0.0.1:80"), ms(60))]);
    assert_eq!(info.elapsed(), ms(70));
    assert_eq!(info.dns_v4(), Some(ms(10)));
    assert_eq!(info.dns_v6(), None);
}

#[tokio::test(start_paused = true)]
async fn rfc8305_aaaa_within_the_resolution_delay_goes_first() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("[fd00::1]:80", Host::Up(ms(10))),
    ]);
    let answers = dns(vec![
        (ms(10), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(30), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(Schedule::rfc8305()), answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("[fd00::1]:80"));
    assert_eq!(starts(&info), vec![(addr("[fd00::1]:80"), ms(30))]);
    assert_eq!(info.elapsed(), ms(40));
    assert_eq!((info.dns_v4(), info.dns_v6()), (Some(ms(10)), Some(ms(30))));
}

#[tokio::test(start_paused = true)]
async fn a_failed_aaaa_ends_the_resolution_delay() {
    let net = Net::new(&[("10.0.0.1:80", Host::Up(ms(10)))]);
    let answers = dns(vec![
        (ms(10), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(20), Family::V6, Err("no records")),
    ]);
    let (_conn, info) = race(&net.dialer(), &plan(Schedule::rfc8305()), answers)
        .await
        .unwrap();
    assert_eq!(starts(&info), vec![(addr("10.0.0.1:80"), ms(20))]);
}

#[tokio::test(start_paused = true)]
async fn a_late_aaaa_joins_a_running_race() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("[fd00::1]:80", Host::Up(ms(10))),
    ]);
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(200), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("[fd00::1]:80"));
    assert_eq!(
        starts(&info),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::1]:80"), ms(200))
        ]
    );
    assert_eq!(info.elapsed(), ms(210));
    assert_eq!(net.open(), 1);
}

#[tokio::test(start_paused = true)]
async fn rfc8305_late_aaaa_is_interleaved_into_the_remaining_addresses() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Blackhole),
        ("10.0.0.3:80", Host::Blackhole),
        ("[fd00::1]:80", Host::Up(ms(10))),
    ]);
    let answers = dns(vec![
        (
            ms(0),
            Family::V4,
            Ok(net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"])),
        ),
        (ms(400), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let (conn, info) = race(&net.dialer(), &plan(Schedule::rfc8305()), answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("[fd00::1]:80"));
    // 50: resolution delay over, first IPv4; 300: second IPv4; 400: AAAA arrives and joins
    // the queue; 550: the next attempt is the IPv6 one, ahead of 10.0.0.3.
    assert_eq!(
        starts(&info),
        vec![
            (addr("10.0.0.1:80"), ms(50)),
            (addr("10.0.0.2:80"), ms(300)),
            (addr("[fd00::1]:80"), ms(550)),
        ]
    );
    assert_eq!(info.elapsed(), ms(560));
}

#[tokio::test(start_paused = true)]
async fn fails_only_when_every_address_failed_and_dns_finished() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Refused(ms(5))),
        ("[fd00::1]:80", Host::Refused(ms(7))),
    ]);
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(100), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let t0 = Instant::now();
    let err = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap_err();
    // The IPv4 attempt failed at 5 ms, but AAAA was still pending: the race goes on.
    assert_eq!(t0.elapsed(), ms(107));
    assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
    assert_eq!(
        err.to_string(),
        "connect failed: 2 addresses tried: all refused"
    );
    let tried: Vec<_> = err
        .attempts()
        .iter()
        .map(|a| (a.addr(), a.error().kind()))
        .collect();
    assert_eq!(
        tried,
        vec![
            (addr("10.0.0.1:80"), io::ErrorKind::ConnectionRefused),
            (addr("[fd00::1]:80"), io::ErrorKind::ConnectionRefused),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn all_fail_lists_every_address_in_start_order() {
    let list = ["10.0.0.1:80", "10.0.0.2:80", "[fd00::1]:80", "[fd00::2]:80"];
    let net = Net::new(&[
        (list[0], Host::Refused(ms(40))),
        (list[1], Host::Refused(ms(10))),
        (list[2], Host::Refused(ms(30))),
        (list[3], Host::Refused(ms(20))),
    ]);
    let err = race(
        &net.dialer(),
        &plan(Schedule::race_all()),
        literal(net.addrs(&list)),
    )
    .await
    .unwrap_err();
    let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(tried, net.addrs(&[list[2], list[0], list[3], list[1]]));
    // The reported cause is the first attempt's.
    let source = std::error::Error::source(&err)
        .unwrap()
        .downcast_ref::<crate::AttemptError>()
        .unwrap();
    assert_eq!(source.addr(), net.addrs(&[list[2]])[0]);
}

#[tokio::test(start_paused = true)]
async fn zero_addresses_and_dns_failures_are_typed() {
    let net = Net::new(&[]);
    let err = race(&net.dialer(), &plan(Schedule::race_all()), literal(vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoAddresses);
    // An empty list of addresses needs no DNS: not a DNS error.
    assert!(!err.is_dns());

    // A name whose lookups both answered with no record has no addresses: that is DNS.
    let answers = dns(vec![
        (ms(5), Family::V6, Ok(vec![])),
        (ms(8), Family::V4, Ok(vec![])),
    ]);
    let t0 = Instant::now();
    let err = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), ms(8));
    assert_eq!(err.kind(), ErrorKind::NoAddresses);
    assert!(err.is_dns());
    assert!(err.dns_errors().is_empty());
    assert_eq!(
        err.to_string(),
        "connect failed: no addresses to connect to"
    );
    // One family's lookup is enough to make it a DNS outcome.
    let answers = dns(vec![(ms(3), Family::V4, Ok(vec![]))]);
    let err = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.is_dns()), (ErrorKind::NoAddresses, true));

    let answers = dns(vec![
        (ms(5), Family::V6, Err("nxdomain")),
        (ms(8), Family::V4, Err("nxdomain")),
    ]);
    let t0 = Instant::now();
    let err = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), ms(8));
    assert_eq!(err.kind(), ErrorKind::Dns);
    assert!(err.is_dns());
    assert_eq!(err.dns_errors().len(), 2);
    assert_eq!(err.dns_errors()[0].family(), Some(Family::V6));
    assert!(net.dials.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn simultaneous_winners_leave_exactly_one_socket_open() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("10.0.0.2:80", Host::Up(ms(10))),
        ("10.0.0.3:80", Host::Up(ms(10))),
    ]);
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    let (conn, info) = race(&net.dialer(), &plan(Schedule::race_all()), literal(addrs))
        .await
        .unwrap();
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
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80"]);
    let p = plan(Schedule::race_all());
    let dialer = net.dialer();
    let fut = race(&dialer, &p, literal(addrs));
    assert!(tokio::time::timeout(ms(100), fut).await.is_err());
    assert_eq!(net.dials.lock().unwrap().len(), 2);
    assert_eq!(net.open(), 0);
}

fn with_policy(schedule: Schedule, policy: impl crate::AddressPolicy) -> Config {
    let mut p = plan(schedule);
    p.policy = Some(crate::policy::Policy(Arc::new(policy)));
    p
}

// The simulated network below has no host at the refused addresses: dialing one panics,
// so these tests prove that a refused address is never dialed.

#[tokio::test(start_paused = true)]
async fn policy_refused_addresses_are_never_dialed() {
    let net = Net::new(&[("8.8.8.8:443", Host::Up(ms(10)))]);
    let answers = dns(vec![
        (
            ms(0),
            Family::V4,
            Ok(net.addrs(&["127.0.0.1:443", "10.0.0.1:443", "8.8.8.8:443"])),
        ),
        (
            ms(5),
            Family::V6,
            Ok(net.addrs(&["[::ffff:192.168.0.1]:443", "[fe80::1]:443"])),
        ),
    ]);
    let p = with_policy(Schedule::race_all(), crate::PublicOnly);
    let (conn, info) = race(&net.dialer(), &p, answers).await.unwrap();
    assert_eq!(conn.addr, addr("8.8.8.8:443"));
    assert_eq!(*net.dials.lock().unwrap(), net.addrs(&["8.8.8.8:443"]));
    assert_eq!(
        info.refused_by_policy(),
        net.addrs(&[
            "127.0.0.1:443",
            "10.0.0.1:443",
            "[::ffff:192.168.0.1]:443",
            "[fe80::1]:443"
        ])
    );
    assert_eq!(info.attempts().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn policy_refusing_everything_attempts_nothing() {
    let net = Net::new(&[]);
    let p = with_policy(Schedule::rfc8305(), crate::PublicOnly);
    let addrs = net.addrs(&["127.0.0.1:80", "[::1]:80", "169.254.169.254:80"]);
    let t0 = Instant::now();
    let err = race(&net.dialer(), &p, literal(addrs.clone()))
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(err.kind(), ErrorKind::RefusedByPolicy);
    assert!(err.is_refused_by_policy());
    // Counted, not named: a message shown to whoever gave the name must not say what
    // internal addresses it resolves to.
    assert_eq!(
        err.to_string(),
        "connect failed: 3 addresses refused by the address policy"
    );
    assert!(err.attempts().is_empty());
    assert_eq!(err.refused_by_policy(), addrs);
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::PermissionDenied);
    assert!(net.dials.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn policy_refusals_are_listed_apart_from_failed_attempts() {
    let net = Net::new(&[("1.1.1.1:80", Host::Refused(ms(3)))]);
    let p = with_policy(Schedule::race_all(), |a: SocketAddr| {
        a.ip().to_string() != "9.9.9.9"
    });
    let err = race(
        &net.dialer(),
        &p,
        literal(net.addrs(&["9.9.9.9:80", "1.1.1.1:80"])),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
    let listed: Vec<_> = err
        .attempts()
        .iter()
        .map(|a| (a.addr(), a.error().kind()))
        .collect();
    assert_eq!(
        listed,
        vec![(addr("1.1.1.1:80"), io::ErrorKind::ConnectionRefused)]
    );
    assert_eq!(err.refused_by_policy(), [addr("9.9.9.9:80")]);
    assert_eq!(
        err.to_string(),
        "connect failed: 1 address tried: refused; 1 address refused by the address policy"
    );
}

mod abandon;
mod budget;
mod caps;
mod flaky;
mod handshake;
mod learned;
mod list;
mod no_time;
mod one;
mod props;
mod same_as_sim;
