//! The caps: `max_concurrent` attempts at once and `max_addresses` per race, each shared
//! so that neither family can shut the other out, however many records one of them brings
//! and however its attempts hang.

use super::*;

/// How many of the addresses `race` dialed are of `family`.
fn dialed(race: &sim::Race, family: Family) -> usize {
    race.dials()
        .iter()
        .filter(|a| Family::of(a) == family)
        .count()
}

#[test]
fn concurrency_cap_holds_attempts_until_a_slot_frees() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Refused(ms(40)))
        .host("10.0.0.3:80", Up(ms(10)));
    let all = net.addrs();
    let mut c = config(Schedule::race_all());
    c.max_concurrent = 2;
    let race = net.race(&c);
    assert_eq!(
        starts(race.info()),
        vec![(all[0], ms(0)), (all[1], ms(0)), (all[2], ms(40))]
    );
    assert_eq!(race.info().elapsed(), ms(50));
}

/// The slot kept free for a family ends once that family has had an attempt: here, with
/// room for two, the alive IPv6 address starts the moment the IPv4 attempt fails, although
/// another IPv4 address is still queued.
#[test]
fn the_reserved_slot_ends_once_the_other_family_has_had_an_attempt() {
    let net = Net::new()
        .host("[fd00::1]:80", Blackhole)
        .host("[fd00::2]:80", Up(ms(10)))
        .host("10.0.0.1:80", Refused(ms(5)))
        .host("10.0.0.2:80", Blackhole);
    let mut c = config(Schedule::race_all());
    c.max_concurrent = 2;
    let race = net.race(&c);
    assert_eq!(race.winner(), addr("[fd00::2]:80"));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::2]:80"), ms(5)),
        ]
    );
    assert_eq!(race.info().elapsed(), ms(15));
}

#[test]
fn address_cap_drops_the_rest() {
    let net = Net::new()
        .host("10.0.0.1:80", Refused(ms(1)))
        .host("10.0.0.2:80", Refused(ms(1)))
        .host("10.0.0.3:80", Up(ms(1)));
    let mut c = config(Schedule::race_all());
    c.max_addresses = 2;
    let race = net.race(&c);
    assert_eq!(race.error().kind(), ErrorKind::AllAttemptsFailed);
    assert_eq!(race.dials(), net.addrs()[..2].to_vec());
}

/// 20 refused `A` records answer first and would fill the address cap on their own; the
/// alive `AAAA` arriving 10 ms later still gets its attempt and wins.
#[test]
fn refused_a_records_first_cannot_shut_out_a_late_aaaa() {
    let net = Net::new()
        .hosts((0..20).map(|i| (v4(i), Refused(ms(1)))))
        .host(v6(0), Up(ms(5)));
    let dns = Dns::new().a(ms(0)).aaaa(ms(10));
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    assert_eq!(race.winner(), v6(0));
    assert_eq!(race.took, ms(15));
    let info = race.info();
    assert_eq!(info.attempts().last().map(|a| a.started()), Some(ms(10)));
    // Half the cap waited for AAAA: 8 `A` records were dialed at once, and 7 of those held
    // back joined when AAAA answered with one address (16 in all, the cap).
    let early = info.attempts().iter().filter(|a| a.started() == ms(0));
    assert_eq!(early.count(), 8);
    assert_eq!(dialed(&race, Family::V4), 15);
}

/// 20 blackholed `AAAA` records at 0 ms and an alive `A` (5 ms handshake) at 10 ms, raced
/// on `c` with a long total timeout.
fn blackholed_aaaa_then_a_late_a(mut c: Config) -> sim::Race {
    let net = Net::new()
        .hosts((0..20).map(|i| (v6(i), Blackhole)))
        .host(v4(0), Up(ms(5)));
    let dns = Dns::new().aaaa(ms(0)).a(ms(10));
    c.total_timeout = Some(ms(60_000));
    net.race_dns(&c, dns)
}

/// The mirror case: 20 blackholed `AAAA` first, an alive `A` 10 ms later. Without room
/// kept for IPv4 the race would hang until its timeout.
#[test]
fn blackholed_aaaa_records_first_cannot_shut_out_a_late_a() {
    let race = blackholed_aaaa_then_a_late_a(config(Schedule::race_all()));
    assert_eq!(race.winner(), v4(0));
    let info = race.info();
    assert_eq!(info.elapsed(), ms(15));
    let early = info.attempts().iter().filter(|a| a.started() == ms(0));
    assert_eq!(early.count(), 8);
    assert_eq!(dialed(&race, Family::V6), 15);
}

/// The concurrency cap kept full by one family's hanging attempts keeps a slot for the
/// other family until it has had an attempt.
#[test]
fn hanging_attempts_of_one_family_leave_a_slot_for_the_other() {
    let mut c = config(Schedule::race_all());
    c.max_concurrent = 4;
    c.max_addresses = 64;
    let race = blackholed_aaaa_then_a_late_a(c);
    assert_eq!(race.winner(), v4(0));
    assert_eq!(race.info().elapsed(), ms(15));
    assert_eq!(dialed(&race, Family::V6), 3);
}

/// Once the other family has answered with nothing, the held-back addresses use the whole
/// cap: reserving room never costs attempts.
#[test]
fn held_back_addresses_use_the_room_the_other_family_left() {
    let net = Net::new().hosts((0..20).map(|i| (v4(i), Refused(ms(1)))));
    let dns = Dns::new().a(ms(0)).answer(ms(10), Family::V6, vec![]);
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    assert_eq!(race.error().kind(), ErrorKind::AllAttemptsFailed);
    assert_eq!(race.dials(), (0..16).map(v4).collect::<Vec<_>>());
}

/// An address held back over its family's share, and given again, is one address: the
/// first family's 10 records repeat their last, 8 are dialed at once and the 2 held back
/// join when the other family answers with nothing, each dialed once.
#[test]
fn a_held_back_address_given_twice_is_dialed_once() {
    for (first, of) in [
        (Family::V4, v4 as fn(usize) -> SocketAddr),
        (Family::V6, v6),
    ] {
        let net = Net::new().hosts((0..10).map(|i| (of(i), Refused(ms(1)))));
        let records: Vec<SocketAddr> = (0..10).chain([9, 8]).map(of).collect();
        let dns = Dns::new()
            .answer(ms(0), first, records)
            .answer(ms(10), first.other(), vec![]);
        let race = net.race_dns(&config(Schedule::race_all()), dns);
        assert_eq!(
            race.error().kind(),
            ErrorKind::AllAttemptsFailed,
            "{first:?}"
        );
        assert_eq!(
            race.dials(),
            (0..10).map(of).collect::<Vec<_>>(),
            "{first:?}"
        );
    }
}

/// A hostile answer of hundreds of records in each family, the refused `AAAA` flood first:
/// each family gets half the cap, so the alive `A` among the first of its family is still
/// reached, and no more than the cap is ever dialed.
#[test]
fn hundreds_of_records_stay_within_the_caps() {
    let net = Net::new()
        .hosts((0..400).map(|i| (v4(i), Blackhole)))
        .hosts((0..400).map(|i| (v6(i), Refused(ms(1)))))
        .host(v4(3), Up(ms(20)));
    let dns = Dns::new().aaaa(ms(0)).a(ms(30));
    let mut c = config(Schedule::race_all());
    c.total_timeout = Some(ms(60_000));
    let race = net.race_dns(&c, dns);
    assert_eq!(race.winner(), v4(3));
    assert_eq!(race.info().elapsed(), ms(50));
    assert_eq!(dialed(&race, Family::V6), 8);
    assert_eq!(dialed(&race, Family::V4), 8);
    assert!(race.info().attempts().len() <= 16);
}

/// A caller that lists the addresses instead of racing them (`race/list.rs`) drains them
/// in the order they would be attempted, and hears how many the cap left out: 3 of 5.
#[test]
fn a_listing_hears_how_many_the_cap_left_out() {
    let mut c = config(Schedule::rfc8305());
    c.max_addresses = 2;
    let start = Instant::now();
    let mut machine = literal(&c, start, (0..5).map(v4).collect());
    machine.dns_done(start);
    assert_eq!(machine.drain().collect::<Vec<_>>(), vec![v4(0), v4(1)]);
    assert_eq!(machine.left_out(), 3);
}
