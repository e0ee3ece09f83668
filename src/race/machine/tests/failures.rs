//! Failures: a failed attempt starts the next one at once, without waiting for the delay;
//! a race fails only when every address failed and DNS is over, with every attempt's
//! error in start order; a race with nothing to dial says why, typed.

use super::*;

/// The authoritative test of the rule, under the attempt delay. Four more prove it where
/// something else holds the next attempt back, and each stays for that: a transport up
/// that extended the delay (`handshake::a_failed_handshake_starts_the_next_attempt_at_once`),
/// the learned delays (`learned::a_known_host_that_refuses_starts_the_rest_at_once`), a
/// spent budget (`budget::a_failure_starts_the_next_attempt_while_the_budget_is_spent`),
/// and, on tokio, a budget shared with races that hold every permit
/// (`race/tests/budget.rs`).
#[test]
fn a_failure_starts_the_next_attempt_at_once() {
    let net = Net::new()
        .host("10.0.0.1:80", Refused(ms(20)))
        .host("10.0.0.2:80", Blackhole)
        .host("10.0.0.3:80", Up(ms(10)));
    let all = net.addrs();
    let race = net.race(&config(Schedule::rfc8305()));
    // 0: first; 20: first refused, second starts at once; 270: delay after the second.
    assert_eq!(
        starts(race.info()),
        vec![(all[0], ms(0)), (all[1], ms(20)), (all[2], ms(270))]
    );
    assert_eq!(race.info().elapsed(), ms(280));
}

#[test]
fn sequential_waits_for_each_failure() {
    let net = Net::new()
        .host("10.0.0.1:80", Refused(ms(20)))
        .host("10.0.0.2:80", Refused(ms(30)))
        .host("10.0.0.3:80", Up(ms(10)));
    let all = net.addrs();
    let race = net.race(&config(Schedule::sequential()));
    let info = race.info();
    assert_eq!(
        starts(info),
        vec![(all[0], ms(0)), (all[1], ms(20)), (all[2], ms(50))]
    );
    assert_eq!(durations(info), vec![ms(20), ms(30), ms(10)]);
    assert_eq!(info.elapsed(), ms(60));
}

#[test]
fn fails_only_when_every_address_failed_and_dns_finished() {
    let net = Net::new()
        .host("10.0.0.1:80", Refused(ms(5)))
        .host("[fd00::1]:80", Refused(ms(7)));
    let dns = Dns::new().a(ms(0)).aaaa(ms(100));
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    // The IPv4 attempt failed at 5 ms, but AAAA was still pending: the race goes on.
    assert_eq!(race.took, ms(107));
    let err = race.error();
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

#[test]
fn all_fail_lists_every_address_in_start_order() {
    let net = Net::new()
        .host("10.0.0.1:80", Refused(ms(40)))
        .host("10.0.0.2:80", Refused(ms(10)))
        .host("[fd00::1]:80", Refused(ms(30)))
        .host("[fd00::2]:80", Refused(ms(20)));
    let list = net.addrs();
    let race = net.race(&config(Schedule::race_all()));
    let err = race.error();
    let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(tried, vec![list[2], list[0], list[3], list[1]]);
    // The reported cause is the first attempt's.
    let source = std::error::Error::source(err)
        .unwrap()
        .downcast_ref::<crate::AttemptError>()
        .unwrap();
    assert_eq!(source.addr(), list[2]);
}

#[test]
fn zero_addresses_and_dns_failures_are_typed() {
    let net = Net::new();
    let race = net
        .with(&config(Schedule::race_all()))
        .list::<SocketAddr>([])
        .run();
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::NoAddresses);
    // An empty list of addresses needs no DNS: not a DNS error.
    assert!(!err.is_dns());

    // A name whose lookups both answered with no record has no addresses: that is DNS.
    let dns = Dns::new()
        .answer(ms(5), Family::V6, vec![])
        .answer(ms(8), Family::V4, vec![]);
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    assert_eq!(race.took, ms(8));
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::NoAddresses);
    assert!(err.is_dns());
    assert!(err.dns_errors().is_empty());
    assert_eq!(
        err.to_string(),
        "connect failed: no addresses to connect to"
    );
    // One family's lookup is enough to make it a DNS outcome.
    let dns = Dns::new().answer(ms(3), Family::V4, vec![]);
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    let err = race.error();
    assert_eq!((err.kind(), err.is_dns()), (ErrorKind::NoAddresses, true));

    let dns = Dns::new()
        .fails(ms(5), Family::V6, "nxdomain")
        .fails(ms(8), Family::V4, "nxdomain");
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    assert_eq!(race.took, ms(8));
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::Dns);
    assert!(err.is_dns());
    assert_eq!(err.dns_errors().len(), 2);
    assert_eq!(err.dns_errors()[0].family(), Some(Family::V6));
    assert!(race.dials().is_empty());
}
