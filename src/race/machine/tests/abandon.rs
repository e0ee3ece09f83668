//! Abandoning an overdue attempt while the attempt budget is spent: when a race moves past
//! an attempt without waiting for the kernel, how a path slower than its delay still
//! connects, and when an address is kept for good.

use super::*;
use crate::schedule::timing::abandon_after;

/// The rule's numbers: the delay within 100 ms..=2 s, doubled for each earlier
/// abandonment of the address, and never abandoned once that passes 2 s.
#[test]
fn the_abandon_delay() {
    let table = [
        // (attempt delay, abandoned before, abandon after)
        (Some(ms(0)), 0, Some(ms(100))),
        (Some(ms(0)), 1, Some(ms(200))),
        (Some(ms(0)), 4, Some(ms(1600))),
        (Some(ms(0)), 5, None),
        (Some(ms(40)), 0, Some(ms(100))),
        (Some(ms(250)), 0, Some(ms(250))),
        (Some(ms(250)), 3, Some(ms(2000))),
        (Some(ms(250)), 4, None),
        (Some(ms(2000)), 0, Some(ms(2000))),
        (Some(ms(2000)), 1, None),
        (Some(Duration::from_secs(60)), 0, Some(ms(2000))),
        (Some(Duration::MAX), 0, Some(ms(2000))),
        // "Until it fails" (sequential) is given the longest delay.
        (None, 0, Some(ms(2000))),
        (None, 1, None),
        (Some(ms(0)), 31, None),
        (Some(ms(0)), u32::MAX, None),
    ];
    for (delay, abandoned, after) in table {
        assert_eq!(
            abandon_after(delay, abandoned),
            after,
            "delay {delay:?}, abandoned {abandoned} times before"
        );
    }
}

/// A race of [dead, dead, dead, alive] while another race's hanging attempt holds the
/// only place: each blackhole is abandoned after RFC 8305's 250 ms for the next address,
/// one attempt in flight at a time, and the race connects at 750 + 10 ms instead of
/// waiting for the kernel to give up on the first blackhole.
#[test]
fn an_overdue_attempt_gives_its_place_to_the_next_address() {
    let net = Net::dead_x3_alive(GivesUp(Duration::from_secs(127)), Up(ms(10)));
    let hung = Budget::fixed(1).held_by_others(1);
    let c = config(Schedule::rfc8305());
    let race = net.with(&c).budget(hung).run();
    let info = race.info();
    assert_eq!(info.elapsed(), ms(760));
    assert_eq!(
        starts(info),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("10.0.0.2:80"), ms(250)),
            (addr("10.0.0.3:80"), ms(500)),
            (addr("10.0.0.4:80"), ms(750)),
        ]
    );
    assert_eq!(durations(info), vec![ms(250), ms(250), ms(250), ms(10)]);
    assert_eq!(
        outcomes(info),
        vec![
            Outcome::Abandoned,
            Outcome::Abandoned,
            Outcome::Abandoned,
            Outcome::Connected,
        ]
    );
    // The hung race's attempt and one of this race's, never more.
    assert_eq!(race.peak, 2);
}

/// Broken IPv6 under `Fixed(0)`: the AAAA blackhole goes first, and `race_all`'s zero
/// delay is raised to 100 ms before it is abandoned for IPv4.
#[test]
fn race_all_abandons_after_100_ms() {
    let net = Net::new()
        .host("[fd00::1]:80", Blackhole)
        .host("10.0.0.1:80", Up(ms(5)));
    let c = config(Schedule::race_all());
    let race = net.with(&c).budget(Budget::fixed(0)).run();
    assert_eq!(race.info().elapsed(), ms(105));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(100))
        ]
    );
    assert_eq!(race.peak, 1);
}

/// A path 150 ms away, slower than its 100 ms: abandoned once, then, every address tried,
/// retried with the delay doubled to 200 ms, and it connects.
#[test]
fn a_path_slower_than_its_delay_connects_on_a_later_try() {
    let net = Net::new()
        .host("10.0.0.1:80", Up(ms(150)))
        .host("10.0.0.2:80", Blackhole);
    let c = config(Schedule::race_all());
    let race = net.with(&c).budget(Budget::fixed(0)).run();
    assert_eq!(race.winner(), addr("10.0.0.1:80"));
    let info = race.info();
    assert_eq!(
        starts(info),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("10.0.0.2:80"), ms(100)),
            (addr("10.0.0.1:80"), ms(200)),
        ]
    );
    assert_eq!(
        outcomes(info),
        vec![Outcome::Abandoned, Outcome::Abandoned, Outcome::Connected]
    );
    assert_eq!(info.elapsed(), ms(350));
}

/// Every address dead, under a 2 s delay: each is abandoned once, and its second try,
/// which would be given 4 s, is kept until it fails, as a plain client keeps its attempt.
/// The error lists every attempt, the abandoned ones as timeouts of their own.
#[test]
fn an_address_is_kept_once_its_doubled_delay_passes_2_s() {
    let net = Net::new()
        .host("10.0.0.1:80", GivesUp(Duration::from_secs(10)))
        .host("10.0.0.2:80", GivesUp(Duration::from_secs(10)));
    let c = config(Schedule::rfc8305().attempt_delay(Duration::from_secs(2)));
    let race = net.with(&c).budget(Budget::fixed(0)).run();
    // 0–2 s and 2–4 s abandoned; then 4–14 s and 14–24 s, until the kernel gives up.
    assert_eq!(race.took, Duration::from_secs(24));
    let error = race.error();
    assert_eq!(error.kind(), ErrorKind::AllAttemptsFailed);
    assert!(
        error.is_timeout(),
        "every attempt ended in a timeout: {error}"
    );
    let tried: Vec<_> = error.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(
        tried,
        addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80", "10.0.0.2:80"])
    );
    let abandoned = error.attempts()[0].error().to_string();
    assert!(abandoned.contains("abandoned"), "{abandoned}");
    assert_eq!(race.peak, 1);
}

/// While its handshake runs, an attempt is overdue its delay after its transport
/// connected: a host that accepts TCP and stays silent is abandoned 100 ms after its TCP
/// came up, not 100 ms after it started.
#[test]
fn a_silent_handshake_is_abandoned_its_delay_after_its_transport() {
    let net = Net::new()
        .host(
            "10.0.0.1:80",
            Tls {
                tcp: ms(30),
                then: Handshake::Silent,
            },
        )
        .host(
            "10.0.0.2:80",
            Tls {
                tcp: ms(30),
                then: Handshake::Done(ms(30)),
            },
        );
    let c = config(Schedule::race_all());
    let race = net.with(&c).budget(Budget::fixed(0)).run();
    assert_eq!(race.winner(), addr("10.0.0.2:80"));
    assert_eq!(starts(race.info())[1], (addr("10.0.0.2:80"), ms(130)));
    assert_eq!(race.info().elapsed(), ms(190));
}

/// A race with a place to spare never abandons: under an unspent budget the schedule runs
/// as ever, and the blackhole is cancelled, not abandoned, when the race is won.
#[test]
fn a_race_with_places_to_spare_abandons_nothing() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Up(ms(400)));
    let c = config(Schedule::rfc8305());
    let race = net.with(&c).budget(Budget::fixed(2)).run();
    assert_eq!(
        outcomes(race.info()),
        vec![Outcome::Cancelled, Outcome::Connected]
    );
    assert_eq!(race.info().elapsed(), ms(650));
}
