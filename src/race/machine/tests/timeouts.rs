//! Timeouts: the attempt timeout moves past an address that never answers; the total
//! timeout ends the race at exactly its deadline, DNS included; partial deadlines (Go's)
//! share the total timeout between the addresses left; and no duration is too long.

use super::*;

#[test]
fn sequential_with_attempt_timeout_moves_past_a_blackhole() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Up(ms(10)));
    let all = net.addrs();
    let mut c = config(Schedule::sequential());
    c.attempt_timeout = Some(ms(1000));
    let race = net.race(&c);
    let info = race.info();
    assert_eq!(starts(info), vec![(all[0], ms(0)), (all[1], ms(1000))]);
    assert_eq!(info.attempts()[0].outcome().clone(), Outcome::TimedOut);
    assert_eq!(info.elapsed(), ms(1010));
}

/// Go's partial deadlines: with only a total timeout, a sequential race still reaches the
/// third address; each attempt gets the time left over the addresses left.
#[test]
fn partial_deadlines_split_the_total_timeout_between_addresses() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Blackhole)
        .host("10.0.0.3:80", Up(ms(10)));
    let all = net.addrs();
    let mut c = config(Schedule::sequential());
    c.total_timeout = Some(ms(9_000));
    c.partial_deadlines = true;
    let race = net.race(&c);
    assert_eq!(
        starts(race.info()),
        vec![(all[0], ms(0)), (all[1], ms(3_000)), (all[2], ms(6_000))]
    );
    assert_eq!(race.info().elapsed(), ms(6_010));

    // Without them, the first blackhole takes the whole budget.
    c.partial_deadlines = false;
    let race = net.race(&c);
    assert_eq!(race.error().kind(), ErrorKind::TimedOut);
    assert_eq!(race.error().attempts().len(), 1);
    c.partial_deadlines = true;

    // The 2 s floor: 3 s over [dead, dead, alive] would give each 1 s; the first gets 2 s,
    // the second all that is left (1 s), and the third is never reached.
    c.total_timeout = Some(ms(3_000));
    let race = net.race(&c);
    assert_eq!(race.took, ms(3_000));
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(tried, all[..2].to_vec());
    let race = net.with(&c).list([all[0], all[2]]).run();
    assert_eq!(
        starts(race.info()),
        vec![(all[0], ms(0)), (all[2], ms(2_000))]
    );

    // A shorter per-attempt timeout still wins.
    c.total_timeout = Some(ms(9_000));
    c.attempt_timeout = Some(ms(1_000));
    let race = net.race(&c);
    assert_eq!(race.info().elapsed(), ms(2_010));
}

/// Partial deadlines count the addresses left of both families: over [dead IPv6, dead
/// IPv4, alive IPv6] and 9 s, each attempt gets 3 s.
#[test]
fn partial_deadlines_count_the_addresses_of_both_families() {
    let net = Net::new()
        .host("[fd00::1]:80", Blackhole)
        .host("[fd00::2]:80", Up(ms(10)))
        .host("10.0.0.1:80", Blackhole);
    let mut c = config(Schedule::sequential());
    c.total_timeout = Some(ms(9_000));
    c.partial_deadlines = true;
    let race = net.race(&c);
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(3_000)),
            (addr("[fd00::2]:80"), ms(6_000)),
        ]
    );
    assert_eq!(race.info().elapsed(), ms(6_010));
}

#[test]
fn total_timeout_fails_at_exactly_the_deadline_listing_running_attempts() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("[fd00::1]:80", Blackhole);
    let mut c = config(Schedule::race_all());
    c.total_timeout = Some(ms(3000));
    let race = net.race(&c);
    assert_eq!(race.took, ms(3000));
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.is_timeout());
    let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(tried, vec![addr("[fd00::1]:80"), addr("10.0.0.1:80")]);
    assert!(err
        .attempts()
        .iter()
        .all(|a| a.error().kind() == io::ErrorKind::TimedOut));
}

#[test]
fn total_timeout_includes_dns() {
    let net = Net::new();
    let mut c = config(Schedule::race_all());
    c.total_timeout = Some(ms(2000));
    let race = net.race_dns(&c, Dns::new().endless());
    assert_eq!(race.took, ms(2000));
    assert_eq!(race.error().kind(), ErrorKind::TimedOut);
    assert!(race.error().attempts().is_empty());
}

#[test]
fn a_total_timeout_of_duration_max_is_no_deadline() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Up(ms(10)));
    let mut c = config(Schedule::sequential());
    c.total_timeout = Some(Duration::MAX);
    c.attempt_timeout = Some(Duration::MAX);
    let race = net.with(&c).list(["10.0.0.2:80"]).run();
    assert_eq!(race.info().elapsed(), ms(10));

    // Nothing ever answers: still no panic, only a wait no clock can end.
    let never = net.with(&c).list(["10.0.0.1:80"]);
    assert!(never.hangs(), "a blackhole with no deadline waits");
}

/// The machine counts the running attempts that have a timeout (a race with none looks
/// at no attempt for one): the count follows them as they start, fail and time out.
#[test]
fn the_count_of_timed_attempts_follows_the_attempts() {
    let mut c = config(Schedule::race_all());
    c.attempt_timeout = Some(ms(100));
    let start = Instant::now();
    let mut machine = literal(&c, start, vec![v4(0), v4(1)]);
    machine.dns_done(start);
    assert!(matches!(machine.poll(start), Action::Start { idx: 0, .. }));
    assert!(matches!(machine.poll(start), Action::TryPermit));
    machine.permit(true);
    assert!(matches!(machine.poll(start), Action::Start { idx: 1, .. }));
    assert_eq!(machine.timed, 2);
    machine.failed(start + ms(1), 0, io::ErrorKind::ConnectionRefused.into());
    assert_eq!(machine.timed, 1);
    assert!(matches!(machine.poll(start + ms(100)), Action::Drop(1)));
    assert_eq!(machine.timed, 0);
}
