//! The machine's tests run on a simulation of the driver (`machine/tests/sim.rs`), not on
//! the driver itself. This proves the two take the same decisions at the same times: over
//! random networks, schedules, caps, timeouts, DNS delays and budgets, the tokio driver on
//! its paused clock and the simulation end the same race with the same account.
//!
//! Two kinds of race are left out, where the two part on purpose. When two attempts end
//! (or report a transport up) at one instant, the driver hears them in an order of its
//! own (the attempt it keeps in place first), and the simulation in start order. And the driver's
//! timer counts whole milliseconds, where the machine may ask to wake at any instant (a
//! partial deadline's share, a learned delay): the simulation wakes it then.

use std::pin::Pin;

use proptest::prelude::*;

use super::*;
use crate::race::machine::tests::network;
use crate::race::machine::tests::sim::{self, Step};

const TOTAL: Duration = Duration::from_secs(60);

/// A time in whole steps of 10 ms below `max`: coarse, so that events often fall at one
/// instant (a DNS answer and an attempt's end, a wake-up and a transport up).
fn time(max: u64) -> impl Strategy<Value = Duration> {
    (0..max / 10).prop_map(|n| ms(n * 10))
}

fn host() -> impl Strategy<Value = Host> {
    let handshake = prop_oneof![
        time(300).prop_map(Handshake::Done),
        time(300).prop_map(Handshake::Fails),
        Just(Handshake::Silent),
    ];
    prop_oneof![
        3 => time(500).prop_map(Host::Up),
        2 => time(500).prop_map(Host::Refused),
        2 => Just(Host::Blackhole),
        1 => time(3000).prop_map(Host::GivesUp),
        2 => (time(200), handshake).prop_map(|(tcp, then)| Host::Tls { tcp, then }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let schedule = prop_oneof![
        Just(Schedule::race_all()),
        Just(Schedule::rfc8305()),
        Just(Schedule::sequential()),
        time(400).prop_map(|d| Schedule::rfc8305().attempt_delay(d)),
        Just(Schedule::rfc8305().preferred_family(Family::V4)),
        Just(Schedule::rfc8305().first_family_count(2)),
    ];
    (
        schedule,
        prop::option::of(time(2000)),
        any::<bool>(),
        prop_oneof![Just(16usize), 1usize..4],
        prop_oneof![Just(16usize), 1usize..6],
    )
        .prop_map(
            |(schedule, attempt, partial, max_concurrent, max_addresses)| {
                let mut c = plan(schedule);
                c.attempt_timeout = attempt;
                c.total_timeout = Some(TOTAL);
                c.partial_deadlines = partial;
                c.max_concurrent = max_concurrent;
                c.max_addresses = max_addresses;
                c
            },
        )
}

/// Whether two things the race could hear from its attempts (an outcome, a transport up)
/// fall at one instant, by the race's end: every dial's, as its host would answer, though
/// the race may have dropped it before.
fn ties(race: &sim::Race, hosts: &[(SocketAddr, Host)]) -> bool {
    let of = |a: SocketAddr| hosts.iter().find(|(x, _)| *x == a).unwrap().1;
    let mut heard = Vec::new();
    for (at, step) in &race.log {
        let Step::Dial(a) = step else { continue };
        match of(*a) {
            Host::Up(d) | Host::Refused(d) | Host::GivesUp(d) => heard.push(*at + d),
            Host::Blackhole => {}
            #[cfg(unix)]
            Host::OutOfFiles => heard.push(*at),
            Host::Tls { tcp, then } => {
                heard.push(*at + tcp);
                match then {
                    Handshake::Done(d) | Handshake::Fails(d) => heard.push(*at + tcp + d),
                    Handshake::Silent => {}
                }
            }
        }
    }
    heard.retain(|at| *at <= race.took);
    heard.sort();
    heard.windows(2).any(|w| w[0] == w[1])
}

/// Whether the machine asked to wake at an instant between two milliseconds.
fn between_milliseconds(race: &sim::Race) -> bool {
    race.log.iter().any(|(_, s)| match s {
        Step::Wait {
            until: Some(at), ..
        } => at.subsec_nanos() % 1_000_000 != 0,
        _ => false,
    })
}

/// What the two races must agree on: the account of a won race, or what [`error_seen`]
/// shows of its error; and when the race ended.
fn seen(result: Result<ConnectInfo, ConnectError>) -> String {
    match result {
        Ok(info) => format!("{info:?}"),
        Err(e) => error_seen(&e),
    }
}

fn check(
    hosts: &[(SocketAddr, Host)],
    config: &Config,
    dns_delays: Option<(Duration, Duration)>,
    limit: Option<usize>,
) -> Result<(), TestCaseError> {
    let lab = sim::Net::new().hosts(hosts.iter().copied());
    let dns_of = || {
        let (d4, d6) = dns_delays?;
        Some(if d4 <= d6 {
            sim::Dns::new().a(d4).aaaa(d6)
        } else {
            sim::Dns::new().aaaa(d6).a(d4)
        })
    };
    let budget = limit.map_or(sim::Budget::unbounded(), sim::Budget::fixed);
    let mut setup = lab.with(config).budget(budget);
    if let Some(dns) = dns_of() {
        setup = setup.dns(dns);
    }
    let simulated = setup.run();
    prop_assume!(!ties(&simulated, hosts) && !between_milliseconds(&simulated));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (driven, took) = rt.block_on(async {
        let net = Net::of(hosts.iter().copied());
        let all: Vec<SocketAddr> = hosts.iter().map(|(a, _)| *a).collect();
        let answers: Pin<Box<dyn Stream<Item = Answer>>> = match dns_delays {
            None => Box::pin(literal(all)),
            Some((d4, d6)) => {
                let (v4, v6): (Vec<_>, Vec<_>) = all.iter().partition(|a| a.is_ipv4());
                let mut answers = vec![(d4, Family::V4, Ok(v4)), (d6, Family::V6, Ok(v6))];
                answers.sort_by_key(|a| a.0);
                Box::pin(dns(answers))
            }
        };
        let budget = Budget::new(limit.map_or(AttemptBudget::Unbounded, AttemptBudget::Fixed));
        let t0 = Instant::now();
        let result = budgeted(&net.dialer(), config, &budget, answers).await;
        (result.map(|(_, info)| info), t0.elapsed())
    });
    let log = format!("{simulated:?}");
    prop_assert_eq!(took, simulated.took, "{}", log);
    prop_assert_eq!(seen(driven), seen(simulated.result), "{}", log);
    Ok(())
}

proptest! {
    #![proptest_config(crate::race::machine::tests::props_config())]

    #[test]
    fn the_driver_and_the_simulation_agree(
        hosts in network(host(), 8),
        config in config(),
        dns_delays in prop::option::of((time(300), time(300))),
        limit in prop::option::of(0usize..3),
    ) {
        check(&hosts, &config, dns_delays, limit)?;
    }
}
