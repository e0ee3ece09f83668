//! HTTPS records (RFC 9460) in a race, as Happy Eyeballs v3 uses them: endpoints before
//! the name's own addresses, by priority; hints raced before the addresses answer, and
//! replaced when they do; the first attempt waiting for the records up to the resolution
//! delay.

use super::*;
use crate::dns::ServiceEndpoint;

/// An endpoint of the name itself (target `.`), `order`-th of its records, on `port`.
fn endpoint(order: u16, port: Option<u16>) -> Arc<ServiceEndpoint> {
    Arc::new(ServiceEndpoint {
        priority: order + 1,
        target: None,
        port,
        alpn: vec![b"http/1.1".to_vec()],
        ipv4_hints: Vec::new(),
        ipv6_hints: Vec::new(),
        ech: None,
        order,
    })
}

/// Hints start attempts as soon as the records answer, not when `A` and `AAAA` do.
#[test]
fn hints_start_attempts_before_the_addresses_answer() {
    let svc = endpoint(0, Some(8443));
    let net = Net::new()
        .host("192.0.2.1:8443", Up(ms(10)))
        .host("192.0.2.1:443", Up(ms(10)));
    let dns = Dns::new()
        .https_asked()
        .https_answered(ms(20))
        .endpoint(ms(20), Family::V4, addrs(&["192.0.2.1:8443"]), &svc, true)
        .answer(ms(200), Family::V4, addrs(&["192.0.2.1:443"]))
        .answer(ms(200), Family::V6, vec![]);
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    let info = race.info();
    assert_eq!(starts(info), [(addr("192.0.2.1:8443"), ms(20))]);
    assert_eq!(info.elapsed(), ms(30));
    assert_eq!(info.endpoint().map(|e| e.port()), Some(Some(8443)));
}

/// The target's own answer replaces the hints not attempted yet: a hint it does not
/// hold is never dialed, one it holds keeps its place.
#[test]
fn a_targets_answer_replaces_its_hints() {
    let svc = endpoint(0, None);
    // One attempt at a time: the first hint is dialed and hangs, the second waits.
    let net = Net::new()
        .host("192.0.2.1:443", Blackhole)
        .host("192.0.2.3:443", Up(ms(10)));
    let hints = addrs(&["192.0.2.1:443", "192.0.2.2:443"]);
    let dns = Dns::new()
        .https_asked()
        .https_answered(ms(10))
        .endpoint(ms(10), Family::V4, hints, &svc, true)
        .endpoint(ms(30), Family::V4, addrs(&["192.0.2.3:443"]), &svc, false)
        .answer(ms(40), Family::V4, vec![])
        .answer(ms(40), Family::V6, vec![]);
    // IPv4 preferred: the hints start as they come, with no wait for `AAAA`.
    let schedule = Schedule::rfc8305()
        .attempt_delay(ms(100))
        .preferred_family(Family::V4);
    let race = net.race_dns(&config(schedule), dns);
    // `.2` left with the hints at 30 ms; `.3` is next, 100 ms after `.1`.
    assert_eq!(
        starts(race.info()),
        [
            (addr("192.0.2.1:443"), ms(10)),
            (addr("192.0.2.3:443"), ms(110))
        ]
    );
}

/// Endpoints go by their order (priority), and every endpoint before the name's own
/// addresses; within an endpoint, the usual order interleaves the families.
#[test]
fn endpoints_go_by_priority_before_the_names_own_addresses() {
    let (first, second) = (endpoint(0, Some(8443)), endpoint(1, Some(9443)));
    let net = Net::new()
        .host("192.0.2.1:443", Refused(ms(1)))
        .host("192.0.2.2:9443", Refused(ms(1)))
        .host("192.0.2.3:8443", Refused(ms(1)))
        .host("[2001:db8::3]:8443", Refused(ms(1)));
    let dns = Dns::new()
        .https_asked()
        .answer(ms(0), Family::V4, addrs(&["192.0.2.1:443"]))
        .https_answered(ms(0))
        .endpoint(
            ms(0),
            Family::V4,
            addrs(&["192.0.2.2:9443"]),
            &second,
            false,
        )
        .endpoint(ms(0), Family::V4, addrs(&["192.0.2.3:8443"]), &first, false)
        .endpoint(
            ms(0),
            Family::V6,
            addrs(&["[2001:db8::3]:8443"]),
            &first,
            false,
        )
        .answer(ms(0), Family::V6, vec![]);
    let race = net.race_dns(&config(Schedule::sequential()), dns);
    assert_eq!(
        race.dials(),
        addrs(&[
            "[2001:db8::3]:8443",
            "192.0.2.3:8443",
            "192.0.2.2:9443",
            "192.0.2.1:443"
        ])
    );
}

/// An address the name's own answer brought moves up to an endpoint that serves it, if it
/// is still queued, and wins as that endpoint's.
#[test]
fn a_plain_address_moves_up_to_its_endpoint() {
    let svc = endpoint(0, None);
    let net = Net::new()
        .host("192.0.2.1:443", Refused(ms(10)))
        .host("192.0.2.2:443", Up(ms(10)))
        .host("192.0.2.3:443", Up(ms(10)));
    let dns = Dns::new()
        .https_asked()
        .answer(
            ms(0),
            Family::V4,
            addrs(&["192.0.2.1:443", "192.0.2.2:443", "192.0.2.3:443"]),
        )
        .answer(ms(0), Family::V6, vec![])
        .https_answered(ms(5))
        .endpoint(ms(5), Family::V4, addrs(&["192.0.2.3:443"]), &svc, false);
    // One attempt at a time: `.1` starts at once (`sequential` has no resolution delay),
    // and when it fails `.3` goes next, ahead of `.2`.
    let race = net.race_dns(&config(Schedule::sequential()), dns);
    assert_eq!(race.dials(), addrs(&["192.0.2.1:443", "192.0.2.3:443"]));
    assert_eq!(race.info().endpoint(), Some(&*svc));
}

/// The first attempt waits for the HTTPS records as for the preferred family: until they
/// answer, at most the resolution delay after the first answer.
#[test]
fn the_first_attempt_waits_for_the_records_up_to_the_resolution_delay() {
    let svc = endpoint(0, Some(8443));
    let net = Net::new()
        .host("192.0.2.1:443", Up(ms(10)))
        .host("192.0.2.1:8443", Up(ms(10)));
    let plain = |https_at: u64| {
        Dns::new()
            .https_asked()
            .answer(ms(0), Family::V4, addrs(&["192.0.2.1:443"]))
            .answer(ms(0), Family::V6, vec![])
            .https_answered(ms(https_at))
            .endpoint(
                ms(https_at),
                Family::V4,
                addrs(&["192.0.2.1:8443"]),
                &svc,
                false,
            )
    };
    // Records within the delay: the endpoint first, when they answer.
    let race = net.race_dns(&config(Schedule::rfc8305()), plain(30));
    assert_eq!(starts(race.info()), [(addr("192.0.2.1:8443"), ms(30))]);
    // Records late: the name's own address at 50 ms.
    let race = net.race_dns(&config(Schedule::rfc8305()), plain(80));
    assert_eq!(starts(race.info()), [(addr("192.0.2.1:443"), ms(50))]);
    // A schedule without a resolution delay waits for nothing.
    let race = net.race_dns(&config(Schedule::race_all()), plain(30));
    assert_eq!(starts(race.info())[0], (addr("192.0.2.1:443"), ms(0)));
}

/// Records that never answer hold up nothing past the delay, and a race without a word
/// on HTTPS is as it was: `race_all` starts at once.
#[test]
fn records_that_never_answer_hold_up_only_the_delay() {
    let net = Net::new().host("192.0.2.1:443", Up(ms(10)));
    let dns = Dns::new()
        .https_asked()
        .answer(ms(0), Family::V4, addrs(&["192.0.2.1:443"]))
        .answer(ms(0), Family::V6, vec![])
        .endless();
    let race = net.race_dns(&config(Schedule::rfc8305()), dns);
    assert_eq!(starts(race.info()), [(addr("192.0.2.1:443"), ms(50))]);
}
