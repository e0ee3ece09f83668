//! Property tests of the engine: random address sets with random latencies and outcomes,
//! under each schedule, on a paused clock and a simulated network.

use proptest::prelude::*;

use std::pin::Pin;

use super::*;
use crate::history::{History, Lesson};

const TOTAL: Duration = Duration::from_secs(60);
const ATTEMPT: Duration = Duration::from_secs(1);

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
        3 => (0u64..500).prop_map(|l| Host::Up(ms(l))),
        2 => (0u64..500).prop_map(|l| Host::Refused(ms(l))),
        2 => Just(Host::Blackhole),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::RaceAll),
        Just(Kind::Rfc8305),
        Just(Kind::Sequential)
    ]
}

/// The addresses (in DNS order) with their behaviour.
fn network() -> impl Strategy<Value = Vec<(SocketAddr, Host)>> {
    prop::collection::vec((any::<bool>(), host()), 1..=12).prop_map(|v| {
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

fn schedule(kind: Kind) -> Config {
    let mut p = plan(match kind {
        Kind::RaceAll => Schedule::race_all(),
        Kind::Rfc8305 => Schedule::rfc8305(),
        Kind::Sequential => Schedule::sequential(),
        Kind::Learned => Schedule::learned(),
    });
    p.total_timeout = Some(TOTAL);
    if let Kind::Sequential = kind {
        p.attempt_timeout = Some(ATTEMPT);
    }
    p
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

use std::collections::VecDeque;

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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let pairs: Vec<(String, Host)> = hosts.iter().map(|(a, h)| (a.to_string(), *h)).collect();
        let refs: Vec<(&str, Host)> = pairs.iter().map(|(a, h)| (a.as_str(), *h)).collect();
        let net = Net::new(&refs);
        let addrs: Vec<SocketAddr> = hosts.iter().map(|(a, _)| *a).collect();
        let of = |a: SocketAddr| hosts.iter().find(|(x, _)| *x == a).unwrap().1;
        let p = schedule(kind);
        let history = History::new(64);
        let lessons = prior.iter().map(|&(i, rtt)| {
            let lesson = match rtt {
                Some(rtt) => Lesson::Connected(ms(rtt)),
                None => Lesson::Failed(io::ErrorKind::ConnectionRefused),
            };
            (addrs[i % addrs.len()], None, lesson)
        });
        history.learn(lessons, Instant::now().into_std());
        // At most this long before every address has started: each known one holds the
        // next back for at most the RFC 8305 delay.
        let known = addrs
            .iter()
            .filter(|a| {
                history
                    .known(**a, None, Instant::now().into_std())
                    .expected()
                    .is_some()
            })
            .count();
        let memory = Memory {
            history: Some(&history),
            sources: None,
        };
        let t0 = Instant::now();
        let dialer = net.dialer();
        let race = |answers| remembering(&dialer, &p, memory, answers);
        let result = match dns_delays {
            None => {
                race(Box::pin(literal(addrs.clone())) as Pin<Box<dyn Stream<Item = Answer>>>).await
            }
            Some((d4, d6)) => {
                let (v4, v6): (Vec<_>, Vec<_>) = addrs.iter().partition(|a| a.is_ipv4());
                let mut answers = vec![(ms(d4), Family::V4, Ok(v4)), (ms(d6), Family::V6, Ok(v6))];
                answers.sort_by_key(|a| a.0);
                race(Box::pin(dns(answers))).await
            }
        };
        let elapsed = t0.elapsed();
        let dials = net.dials.lock().unwrap().clone();
        let mut unique = dials.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), dials.len(), "an address was dialed twice");

        match result {
            Ok((conn, info)) => {
                prop_assert_eq!(info.elapsed(), elapsed);
                let winners: Vec<_> = info
                    .attempts()
                    .iter()
                    .filter(|a| *a.outcome() == Outcome::Connected)
                    .collect();
                prop_assert_eq!(winners.len(), 1, "exactly one winner");
                prop_assert_eq!(winners[0].addr(), conn.addr);
                prop_assert_eq!(dials.len(), info.attempts().len());
                for a in info.attempts() {
                    prop_assert!(a.started() <= elapsed, "{} started after the win", a.addr());
                    if let Host::Up(lat) = of(a.addr()) {
                        prop_assert!(
                            a.started() + lat >= elapsed,
                            "{} would have completed first",
                            a.addr()
                        );
                    }
                }
                // Only the winner's socket is left open.
                prop_assert_eq!(net.open(), 1);
                if dns_delays.is_none() {
                    let order = interleaved(&addrs);
                    let up = |a: &SocketAddr| match of(*a) {
                        Host::Up(l) => Some(l),
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
                                    Host::Up(l) => {
                                        prop_assert_eq!(elapsed, start + l);
                                        break;
                                    }
                                    Host::Refused(l) => start += l,
                                    Host::Blackhole => start += ATTEMPT,
                                    _ => unreachable!("not generated"),
                                }
                            }
                        }
                    }
                }
            }
            Err(err) => {
                prop_assert!(
                    hosts.iter().all(|(_, h)| !matches!(h, Host::Up(_))),
                    "failed although {:?}",
                    hosts
                );
                let mut listed: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
                listed.sort();
                let mut all = addrs.clone();
                all.sort();
                prop_assert_eq!(listed, all, "a total failure lists every address once");
                prop_assert_eq!(net.open(), 0);
                let any_hole = hosts.iter().any(|(_, h)| matches!(h, Host::Blackhole));
                if any_hole && !matches!(kind, Kind::Sequential) {
                    prop_assert_eq!(err.kind(), ErrorKind::TimedOut);
                    prop_assert_eq!(elapsed, TOTAL);
                } else {
                    prop_assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
                }
            }
        }
        Ok(())
    })
}

const RFC8305_DELAY: Duration = crate::RFC8305_ATTEMPT_DELAY;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn literal_races_keep_their_invariants(hosts in network(), kind in kind()) {
        run(&hosts, kind, None)?;
    }

    /// The learned schedule over any history: the same invariants, and it never holds the
    /// race back by more than the RFC 8305 delay per known address.
    #[test]
    fn learned_races_keep_their_invariants(hosts in network(), prior in prior()) {
        run_with(&hosts, Kind::Learned, None, &prior)?;
    }

    #[test]
    fn learned_dns_fed_races_keep_their_invariants(
        hosts in network(),
        prior in prior(),
        d4 in 0u64..300,
        d6 in 0u64..300,
    ) {
        run_with(&hosts, Kind::Learned, Some((d4, d6)), &prior)?;
    }

    #[test]
    fn dns_fed_races_keep_their_invariants(
        hosts in network(),
        kind in kind(),
        d4 in 0u64..300,
        d6 in 0u64..300,
    ) {
        run(&hosts, kind, Some((d4, d6)))?;
    }
}
