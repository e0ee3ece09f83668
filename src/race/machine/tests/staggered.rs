//! Staggered schedules (`rfc8305`, and any attempt delay): each attempt starts its delay
//! after the one before, the preferred family first, `first_family_count` of it, then the
//! families alternating; a delay never cancels an attempt that runs.

use super::*;

#[test]
fn rfc8305_staggers_by_250ms() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Blackhole)
        .host("10.0.0.3:80", Up(ms(10)));
    let all = net.addrs();
    let race = net.race(&config(Schedule::rfc8305()));
    let info = race.info();
    assert_eq!(info.elapsed(), ms(510));
    assert_eq!(
        starts(info),
        vec![(all[0], ms(0)), (all[1], ms(250)), (all[2], ms(500))]
    );
    // Each attempt's duration runs from its own start: the winner's 10 ms handshake.
    assert_eq!(durations(info), vec![ms(510), ms(260), ms(10)]);
}

/// `preferred_family(V4)`: IPv4 goes first, then the families alternate.
#[test]
fn the_preferred_family_goes_first() {
    let net = Net::new()
        .host("[fd00::1]:80", Blackhole)
        .host("[fd00::2]:80", Blackhole)
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Up(ms(10)));
    let schedule = Schedule::rfc8305().preferred_family(Family::V4);
    let race = net.race(&config(schedule));
    assert_eq!(race.winner(), addr("10.0.0.2:80"));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::1]:80"), ms(250)),
            (addr("10.0.0.2:80"), ms(500)),
        ]
    );
    assert_eq!(race.info().elapsed(), ms(510));
}

/// `first_family_count(2)`: two IPv6 attempts before the first IPv4 one, each 250 ms
/// apart; with a count of 1 the IPv4 address would start at 250 ms and win at 260.
#[test]
fn first_family_count_addresses_of_the_preferred_family_go_first() {
    let net = Net::new()
        .host("10.0.0.1:80", Up(ms(10)))
        .host("[fd00::1]:80", Blackhole)
        .host("[fd00::2]:80", Blackhole)
        .host("[fd00::3]:80", Blackhole);
    let schedule = Schedule::rfc8305().first_family_count(2);
    let race = net.race(&config(schedule));
    assert_eq!(race.winner(), addr("10.0.0.1:80"));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("[fd00::2]:80"), ms(250)),
            (addr("10.0.0.1:80"), ms(500)),
        ]
    );
    assert_eq!(race.info().elapsed(), ms(510));
}

#[test]
fn a_delay_never_cancels_a_running_attempt() {
    // The first attempt is slower than the delay, but still finishes first.
    let net = Net::new()
        .host("10.0.0.1:80", Up(ms(300)))
        .host("10.0.0.2:80", Up(ms(100)));
    let all = net.addrs();
    let race = net.race(&config(Schedule::rfc8305()));
    let info = race.info();
    assert_eq!(race.winner(), all[0]);
    assert_eq!(info.elapsed(), ms(300));
    assert_eq!(starts(info), vec![(all[0], ms(0)), (all[1], ms(250))]);
    assert_eq!(info.attempts()[1].outcome().clone(), Outcome::Cancelled);
    assert_eq!(info.attempts()[1].duration(), ms(50));

    // And when the second is faster, it wins while the first is still running.
    net.set(all[0], Up(ms(400)));
    net.set(all[1], Up(ms(10)));
    let race = net.race(&config(Schedule::rfc8305()));
    assert_eq!(race.winner(), all[1]);
    assert_eq!(race.info().elapsed(), ms(260));
}

#[test]
fn rfc8305_late_aaaa_is_interleaved_into_the_remaining_addresses() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Blackhole)
        .host("10.0.0.3:80", Blackhole)
        .host("[fd00::1]:80", Up(ms(10)));
    let dns = Dns::new().a(ms(0)).aaaa(ms(400));
    let race = net.race_dns(&config(Schedule::rfc8305()), dns);
    assert_eq!(race.winner(), addr("[fd00::1]:80"));
    // 50: resolution delay over, first IPv4; 300: second IPv4; 400: AAAA arrives and joins
    // the queue; 550: the next attempt is the IPv6 one, ahead of 10.0.0.3.
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("10.0.0.1:80"), ms(50)),
            (addr("10.0.0.2:80"), ms(300)),
            (addr("[fd00::1]:80"), ms(550)),
        ]
    );
    assert_eq!(race.info().elapsed(), ms(560));
}

/// A literal list of one family followed by one address of the other: the other family
/// is still attempted, second, as interleaving wants.
#[test]
fn a_long_literal_list_still_reaches_the_other_family() {
    let net = Net::new()
        .hosts((0..30).map(|i| (v4(i), Blackhole)))
        .host(v6(0), Up(ms(5)));
    let race = net.race(&config(Schedule::rfc8305()));
    assert_eq!(race.winner(), v6(0));
    assert_eq!(starts(race.info()), vec![(v6(0), ms(0))]);
}
