//! The machine's rules, one file per behaviour, each test a race on a simulated network
//! ([`sim`]) with exact times and no runtime:
//!
//! - [`race_all`]: every address at once;
//! - [`staggered`]: RFC 8305's attempt delay, the preferred family, `first_family_count`,
//!   the interleaving of the families;
//! - [`resolution_delay`]: the wait for the preferred family's answer;
//! - [`caps`]: `max_concurrent`, `max_addresses`, and each family's fair share of both;
//! - [`failures`]: a failure starts the next attempt at once; a race fails only when every
//!   address failed and DNS is over; the errors of a race with nothing to dial;
//! - [`timeouts`]: the attempt timeout, the total timeout, partial deadlines;
//! - [`handshake`]: two-stage dials (TCP, then TLS);
//! - [`learned`]: the learned schedule, over a series of races sharing a history;
//! - [`order`]: the order of the addresses (RFC 6724, the resolver's, the given one);
//! - [`policy`]: the address policy;
//! - [`families`]: the families dialed (`ip_family`, NAT64);
//! - [`https`]: HTTPS records' endpoints, their hints and priorities, and the wait for
//!   them;
//! - [`budget`] and [`abandon`]: the attempt budget, and abandoning an overdue attempt
//!   while it is spent;
//! - [`burst`]: a cold race among others to its destination, probing or following;
//! - [`props`]: invariants over random networks, under each schedule.
//!
//! What only the tokio driver can show (sockets closed, the DNS stream, a budget shared
//! between races, a runtime without timers, the one-address fast path) is tested in
//! `race/tests/`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::{any, prop, ProptestConfig, Strategy};

#[cfg(unix)]
use self::sim::Host::OutOfFiles;
use self::sim::Host::{Blackhole, GivesUp, Refused, Tls, Up};
use self::sim::{Budget, Dns, Handshake, Net, Step};
use super::{Action, Machine};
use crate::config::Config;
use crate::dns::Answer;
use crate::order::Ranking;
use crate::{ConnectInfo, ErrorKind, Family, Outcome, Schedule};

mod abandon;
mod budget;
mod burst;
mod caps;
mod failures;
mod families;
mod handshake;
mod https;
mod learned;
mod order;
mod policy;
mod props;
mod race_all;
mod resolution_delay;
pub(in crate::race) mod sim;
mod staggered;
mod timeouts;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| addr(a)).collect()
}

/// `10.0.i.j:80`, for `i·256 + j` = `n`.
fn v4(n: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (n / 256) as u8, (n % 256) as u8], 80))
}

/// `[fd00::n+1]:80`.
fn v6(n: usize) -> SocketAddr {
    SocketAddr::new(format!("fd00::{:x}", n + 1).parse().unwrap(), 80)
}

/// How the race's property tests run: 512 cases, and a failure reported after at most 2 s
/// of shrinking, so that a broken rule fails the suite at once instead of outlasting a
/// mutation test's timeout.
pub(crate) fn props_config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        max_shrink_time: 2_000,
        ..ProptestConfig::default()
    }
}

/// Up to `max` addresses (in DNS order), each IPv4 or IPv6, each behaving as `host` draws.
pub(crate) fn network(
    host: impl Strategy<Value = sim::Host>,
    max: usize,
) -> impl Strategy<Value = Vec<(SocketAddr, sim::Host)>> {
    prop::collection::vec((any::<bool>(), host), 1..=max).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (v6, h))| {
                let a = if v6 {
                    format!("[fd00::{}]:80", i + 1)
                } else {
                    format!("10.0.0.{}:80", i + 1)
                };
                (addr(&a), h)
            })
            .collect()
    })
}

/// A race on `schedule`, with no timeouts, caps of 16, no policy.
pub(crate) fn config(schedule: Schedule) -> Config {
    Config {
        schedule,
        attempt_timeout: None,
        total_timeout: None,
        partial_deadlines: false,
        max_concurrent: 16,
        attempts_per_host: None,
        coordinate: true,
        max_addresses: 16,
        policy: None,
        keep_given_order: false,
        ip_family: crate::IpFamily::Both,
        connectivity: crate::Connectivity::Assume,
        https_records: None,
        https: Default::default(),
    }
}

/// A machine on `c` that started at `start` and heard `addrs` as literal addresses then,
/// with no history and no RFC 6724 sort: for a test that calls it by hand.
fn literal(c: &Config, start: Instant, addrs: Vec<SocketAddr>) -> Machine<'_, Ranking<'static>> {
    let mut machine = Machine::new(c, Ranking::default(), start);
    machine.answer(start, Answer::literal(addrs));
    machine
}

/// (address, start offset) of every attempt.
fn starts(info: &ConnectInfo) -> Vec<(SocketAddr, Duration)> {
    info.attempts()
        .iter()
        .map(|a| (a.addr(), a.started()))
        .collect()
}

/// How long each attempt ran, in start order.
fn durations(info: &ConnectInfo) -> Vec<Duration> {
    info.attempts().iter().map(|a| a.duration()).collect()
}

/// How each attempt ended, in start order.
fn outcomes(info: &ConnectInfo) -> Vec<Outcome> {
    info.attempts()
        .iter()
        .map(|a| a.outcome().clone())
        .collect()
}

/// The simulator's own guard: a race that can never end fails the test, at once.
#[test]
#[should_panic(expected = "the race hangs")]
fn a_hung_race_fails_the_test_instead_of_hanging_it() {
    let net = Net::new().host("10.0.0.1:80", Blackhole);
    net.race(&config(Schedule::race_all()));
}

/// A race holds an `Account` per attempt, the machine's `Run` in it, for as long as it
/// runs: it does not grow unnoticed.
#[test]
#[cfg(target_pointer_width = "64")]
fn the_records_of_an_attempt_stay_small() {
    assert_eq!(std::mem::size_of::<super::Run>(), 24);
    assert_eq!(
        std::mem::size_of::<crate::race::report::Account<super::Run>>(),
        64
    );
}

/// The driver's debug checks show the machine by its counts: its attempts, those running
/// per family (`[V4, V6]`), and the addresses still queued.
#[test]
fn a_machine_shows_its_counts() {
    let c = config(Schedule::race_all());
    let start = Instant::now();
    let mut machine = literal(&c, start, vec![v4(0), v6(0), v4(1)]);
    assert!(matches!(machine.poll(start), Action::Start { .. }));
    assert_eq!(
        format!("{machine:?}"),
        "Machine { attempts: 1, running: [0, 1], queued: 2, .. }"
    );
}

/// A race makes room for its attempts' records once, at its first start: one for each of
/// its addresses (3), not the 4 a `Vec` grows to by itself.
#[test]
fn a_race_makes_room_for_an_attempt_to_each_address() {
    let c = config(Schedule::race_all());
    let start = Instant::now();
    let mut machine = literal(&c, start, vec![v4(0), v4(1), v4(2)]);
    assert!(matches!(machine.poll(start), Action::Start { .. }));
    assert_eq!(machine.report.attempts.capacity(), 3);
}
