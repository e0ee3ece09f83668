//! The Resolution Delay (RFC 8305 §3): when the other family answers first, the first
//! attempt waits up to 50 ms for the preferred family's answer, and no longer than that
//! answer, or its failure, takes.

use super::*;

/// One host of each family, both 10 ms away.
fn both_up() -> Net {
    Net::new()
        .host("10.0.0.1:80", Up(ms(10)))
        .host("[fd00::1]:80", Up(ms(10)))
}

#[test]
fn rfc8305_resolution_delay_waits_50ms_for_a_late_aaaa() {
    // A at 10 ms, AAAA at 100 ms: the IPv4 attempt starts at 10 + 50.
    let dns = Dns::new().a(ms(10)).aaaa(ms(100));
    let race = both_up().race_dns(&config(Schedule::rfc8305()), dns);
    assert_eq!(race.winner(), addr("10.0.0.1:80"));
    let info = race.info();
    assert_eq!(starts(info), vec![(addr("10.0.0.1:80"), ms(60))]);
    assert_eq!(info.elapsed(), ms(70));
    assert_eq!(info.dns_v4(), Some(ms(10)));
    assert_eq!(info.dns_v6(), None);
}

#[test]
fn rfc8305_aaaa_within_the_resolution_delay_goes_first() {
    let dns = Dns::new().a(ms(10)).aaaa(ms(30));
    let race = both_up().race_dns(&config(Schedule::rfc8305()), dns);
    assert_eq!(race.winner(), addr("[fd00::1]:80"));
    let info = race.info();
    assert_eq!(starts(info), vec![(addr("[fd00::1]:80"), ms(30))]);
    assert_eq!(info.elapsed(), ms(40));
    assert_eq!((info.dns_v4(), info.dns_v6()), (Some(ms(10)), Some(ms(30))));
}

#[test]
fn a_failed_aaaa_ends_the_resolution_delay() {
    let net = Net::new().host("10.0.0.1:80", Up(ms(10)));
    let dns = Dns::new().a(ms(10)).fails(ms(20), Family::V6, "no records");
    let race = net.race_dns(&config(Schedule::rfc8305()), dns);
    assert_eq!(starts(race.info()), vec![(addr("10.0.0.1:80"), ms(20))]);
}

/// With IPv4 preferred, the Resolution Delay waits for `A`, not `AAAA`.
#[test]
fn the_resolution_delay_waits_for_the_preferred_family() {
    let net = both_up();
    let schedule = Schedule::rfc8305().preferred_family(Family::V4);
    // AAAA at 10 ms, A at 100 ms: the IPv6 attempt starts at 10 + 50.
    let dns = Dns::new().aaaa(ms(10)).a(ms(100));
    let race = net.race_dns(&config(schedule.clone()), dns);
    assert_eq!(race.winner(), addr("[fd00::1]:80"));
    assert_eq!(starts(race.info()), vec![(addr("[fd00::1]:80"), ms(60))]);
    assert_eq!(race.info().elapsed(), ms(70));

    // `A` within the delay goes first.
    let dns = Dns::new().aaaa(ms(10)).a(ms(30));
    let race = net.race_dns(&config(schedule), dns);
    assert_eq!(race.winner(), addr("10.0.0.1:80"));
    assert_eq!(starts(race.info()), vec![(addr("10.0.0.1:80"), ms(30))]);
}

/// Once the preferred family has answered, the Resolution Delay no longer holds anything
/// back: with a 500 ms Resolution Delay and a 10 ms Attempt Delay, the second attempt
/// starts 10 ms after the first, not when the Resolution Delay would have ended.
#[test]
fn an_answered_resolution_delay_holds_nothing_back() {
    let net = Net::new()
        .host("10.0.0.1:80", Up(ms(5)))
        .host("[fd00::1]:80", Blackhole);
    let schedule = Schedule::rfc8305()
        .attempt_delay(ms(10))
        .resolution_delay(ms(500));
    let dns = Dns::new().a(ms(0)).aaaa(ms(10));
    let race = net.race_dns(&config(schedule), dns);
    assert_eq!(race.winner(), addr("10.0.0.1:80"));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("[fd00::1]:80"), ms(10)),
            (addr("10.0.0.1:80"), ms(20))
        ]
    );
    assert_eq!(race.info().elapsed(), ms(25));
}

/// A Resolution Delay too long for the clock: the race waits for `AAAA`'s answer, and no
/// longer.
#[test]
fn a_resolution_delay_of_duration_max_waits_for_aaaa_and_no_longer() {
    let net = both_up();
    let schedule = Schedule::rfc8305().resolution_delay(Duration::MAX);
    // A at 0, AAAA fails at 700 ms: the IPv4 attempt starts then, not before.
    let dns = Dns::new().a(ms(0)).fails(ms(700), Family::V6, "no records");
    let race = net.race_dns(&config(schedule.clone()), dns);
    assert_eq!(starts(race.info()), vec![(addr("10.0.0.1:80"), ms(700))]);

    // AAAA arrives at 300 ms: it goes first.
    let dns = Dns::new().a(ms(0)).aaaa(ms(300));
    let race = net.race_dns(&config(schedule), dns);
    assert_eq!(race.winner(), addr("[fd00::1]:80"));
}

/// The delay counts from the other family's first answer: a second one (a search list's
/// next name, after the first failed) does not start it again.
#[test]
fn the_resolution_delay_counts_from_the_first_answer_of_the_other_family() {
    // A fails at 10 ms, A answers at 30 ms, AAAA never: the IPv4 attempt starts at 10 + 50.
    let dns = Dns::new()
        .fails(ms(10), Family::V4, "no such name")
        .a(ms(30))
        .endless();
    let net = Net::new().host("10.0.0.1:80", Up(ms(10)));
    let race = net.race_dns(&config(Schedule::rfc8305()), dns);
    assert_eq!(race.winner(), addr("10.0.0.1:80"));
    assert_eq!(starts(race.info()), vec![(addr("10.0.0.1:80"), ms(60))]);
}
