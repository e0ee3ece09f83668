//! Invariants of the rules over random networks: random address sets with random
//! latencies and outcomes, under each schedule, literal or fed by DNS, with or without a
//! history. (That only the winner's socket is left open is the driver's part, tested on
//! tokio in `race/tests/mod.rs`.)

use std::collections::VecDeque;

use proptest::prelude::*;

use super::sim::Host;
use super::*;
use crate::history::{History, Lesson};
use crate::order::Ranking;

const TOTAL: Duration = Duration::from_secs(60);
const ATTEMPT: Duration = Duration::from_secs(1);
const RFC8305_DELAY: Duration = crate::Schedule::RFC8305_ATTEMPT_DELAY;

#[derive(Debug, Clone, Copy)]
enum Kind {
    RaceAll,
    Rfc8305,
    Sequential,
    /// The learned schedule, over a history that knows some of the addresses.
    Learned,
}

/// What the history knows before a learned race: per address (by index, modulo the
/// network's size), a handshake time it measured, or a failure.
fn prior() -> impl Strategy<Value = Vec<(usize, Option<u64>)>> {
    prop::collection::vec((0usize..12, prop::option::of(0u64..400)), 0..6)
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        3 => (0u64..500).prop_map(|l| Up(ms(l))),
        2 => (0u64..500).prop_map(|l| Refused(ms(l))),
        2 => Just(Blackhole),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::RaceAll),
        Just(Kind::Rfc8305),
        Just(Kind::Sequential)
    ]
}

fn schedule(kind: Kind) -> Config {
    let mut c = config(match kind {
        Kind::RaceAll => Schedule::race_all(),
        Kind::Rfc8305 => Schedule::rfc8305(),
        Kind::Sequential => Schedule::sequential(),
        Kind::Learned => Schedule::learned(),
    });
    c.total_timeout = Some(TOTAL);
    if let Kind::Sequential = kind {
        c.attempt_timeout = Some(ATTEMPT);
    }
    c
}

/// The order RFC 8305 §4 gives: IPv6 first, then alternating families.
fn interleaved(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let (mut v6, mut v4): (VecDeque<SocketAddr>, VecDeque<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv6());
    let mut out = Vec::new();
    let mut six = true;
    while !(v6.is_empty() && v4.is_empty()) {
        let q = if (six && !v6.is_empty()) || v4.is_empty() {
            &mut v6
        } else {
            &mut v4
        };
        let a = q.pop_front().unwrap();
        six = !a.is_ipv6();
        out.push(a);
    }
    out
}

fn run(
    hosts: &[(SocketAddr, Host)],
    kind: Kind,
    dns_delays: Option<(u64, u64)>,
) -> Result<(), TestCaseError> {
    run_with(hosts, kind, dns_delays, &[])
}

fn run_with(
    hosts: &[(SocketAddr, Host)],
    kind: Kind,
    dns_delays: Option<(u64, u64)>,
    prior: &[(usize, Option<u64>)],
) -> Result<(), TestCaseError> {
    let net = Net::new().hosts(hosts.iter().copied());
    let all = net.addrs();
    let of = |a: SocketAddr| hosts.iter().find(|(x, _)| *x == a).unwrap().1;
    let c = schedule(kind);
    let history = History::new(64);
    let lessons = prior.iter().map(|&(i, rtt)| {
        let lesson = match rtt {
            Some(rtt) => Lesson::Connected(ms(rtt)),
            None => Lesson::Failed(io::ErrorKind::ConnectionRefused),
        };
        (all[i % all.len()], None, lesson)
    });
    history.learn(lessons, net.now());
    // At most this long before every address has started: each known one holds the
    // next back for at most the RFC 8305 delay.
    let known = all
        .iter()
        .filter(|a| history.known(**a, None, net.now()).expected().is_some())
        .count();
    let memory = Ranking {
        history: Some(&history),
        sources: None,
        nat64: None,
    };
    let setup = net.with(&c).knowing(memory);
    let race = match dns_delays {
        None => setup.run(),
        Some((d4, d6)) => {
            let dns = if d4 <= d6 {
                Dns::new().a(ms(d4)).aaaa(ms(d6))
            } else {
                Dns::new().aaaa(ms(d6)).a(ms(d4))
            };
            setup.dns(dns).run()
        }
    };
    let elapsed = race.took;
    let dials = race.dials();
    let mut unique = dials.clone();
    unique.sort();
    unique.dedup();
    prop_assert_eq!(unique.len(), dials.len(), "an address was dialed twice");

    match &race.result {
        Ok(info) => {
            prop_assert_eq!(info.elapsed(), elapsed);
            let winners: Vec<_> = info
                .attempts()
                .iter()
                .filter(|a| *a.outcome() == Outcome::Connected)
                .collect();
            prop_assert_eq!(winners.len(), 1, "exactly one winner");
            prop_assert_eq!(winners[0].addr(), race.winner());
            prop_assert_eq!(dials.len(), info.attempts().len());
            for a in info.attempts() {
                prop_assert!(a.started() <= elapsed, "{} started after the win", a.addr());
                if let Up(lat) = of(a.addr()) {
                    prop_assert!(
                        a.started() + lat >= elapsed,
                        "{} would have completed first",
                        a.addr()
                    );
                }
            }
            if dns_delays.is_none() {
                let order = interleaved(&all);
                let up = |a: &SocketAddr| match of(*a) {
                    Up(l) => Some(l),
                    _ => None,
                };
                match kind {
                    Kind::RaceAll => {
                        let best = order.iter().filter_map(up).min().unwrap();
                        prop_assert_eq!(elapsed, best);
                    }
                    Kind::Rfc8305 => {
                        let bound = order
                            .iter()
                            .enumerate()
                            .filter_map(|(i, a)| up(a).map(|l| RFC8305_DELAY * i as u32 + l))
                            .min()
                            .unwrap();
                        prop_assert!(elapsed <= bound, "{elapsed:?} > bound {bound:?}");
                    }
                    Kind::Learned => {
                        let best = order.iter().filter_map(up).min().unwrap();
                        let bound = RFC8305_DELAY * known as u32 + best;
                        prop_assert!(elapsed <= bound, "{elapsed:?} > bound {bound:?}");
                    }
                    Kind::Sequential => {
                        let mut start = Duration::ZERO;
                        for a in &order {
                            match of(*a) {
                                Up(l) => {
                                    prop_assert_eq!(elapsed, start + l);
                                    break;
                                }
                                Refused(l) => start += l,
                                Blackhole => start += ATTEMPT,
                                _ => unreachable!("not generated"),
                            }
                        }
                    }
                }
            }
        }
        Err(err) => {
            prop_assert!(
                hosts.iter().all(|(_, h)| !matches!(h, Up(_))),
                "failed although {:?}",
                hosts
            );
            let mut listed: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
            listed.sort();
            let mut every = all.clone();
            every.sort();
            prop_assert_eq!(listed, every, "a total failure lists every address once");
            let any_hole = hosts.iter().any(|(_, h)| matches!(h, Blackhole));
            if any_hole && !matches!(kind, Kind::Sequential) {
                prop_assert_eq!(err.kind(), ErrorKind::TimedOut);
                prop_assert_eq!(elapsed, TOTAL);
            } else {
                prop_assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(super::props_config())]

    #[test]
    fn literal_races_keep_their_invariants(hosts in network(host(), 12), kind in kind()) {
        run(&hosts, kind, None)?;
    }

    /// The learned schedule over any history: the same invariants, and it never holds the
    /// race back by more than the RFC 8305 delay per known address.
    #[test]
    fn learned_races_keep_their_invariants(hosts in network(host(), 12), prior in prior()) {
        run_with(&hosts, Kind::Learned, None, &prior)?;
    }

    #[test]
    fn learned_dns_fed_races_keep_their_invariants(
        hosts in network(host(), 12),
        prior in prior(),
        d4 in 0u64..300,
        d6 in 0u64..300,
    ) {
        run_with(&hosts, Kind::Learned, Some((d4, d6)), &prior)?;
    }

    #[test]
    fn dns_fed_races_keep_their_invariants(
        hosts in network(host(), 12),
        kind in kind(),
        d4 in 0u64..300,
        d6 in 0u64..300,
    ) {
        run(&hosts, kind, Some((d4, d6)))?;
    }
}
