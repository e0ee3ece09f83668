//! Two-stage dials (a transport, then a handshake on top, as TCP then TLS): a handshake
//! that hangs, fails or is slow, and the rule that a transport up gives its handshake the
//! attempt's delay again before the next attempt starts.

use super::*;
use crate::history::History;
use crate::order::Ranking;

/// TCP up after 10 ms, then a handshake that never answers.
const SILENT: sim::Host = Tls {
    tcp: Duration::from_millis(10),
    then: Handshake::Silent,
};

/// A host whose transport connects after `tcp` ms, then whose handshake goes as `then`.
fn tls(tcp: u64, then: Handshake) -> sim::Host {
    Tls { tcp: ms(tcp), then }
}

/// Per attempt: (address, started, transport up after, outcome).
fn stages(info: &ConnectInfo) -> Vec<(SocketAddr, Duration, Option<Duration>, Outcome)> {
    info.attempts()
        .iter()
        .map(|a| {
            (
                a.addr(),
                a.started(),
                a.transport_connected(),
                a.outcome().clone(),
            )
        })
        .collect()
}

/// RFC 8305's 250 ms delay: the first host's TCP is up at 10 ms and its TLS never
/// answers. The next attempt waits for 10 + 250 ms, not 250 ms, and wins at 260 + 30.
#[test]
fn a_transport_up_gives_its_handshake_the_attempt_delay_again() {
    let net = Net::new()
        .host("10.0.0.1:443", SILENT)
        .host("10.0.0.2:443", tls(10, Handshake::Done(ms(20))));
    let all = net.addrs();
    let race = net.race(&config(Schedule::rfc8305()));
    assert_eq!(race.winner(), all[1]);
    let info = race.info();
    assert_eq!(info.elapsed(), ms(290));
    assert_eq!(
        stages(info),
        vec![
            (all[0], ms(0), Some(ms(10)), Outcome::Cancelled),
            (all[1], ms(260), Some(ms(10)), Outcome::Connected),
        ]
    );
    // The winner's duration is its whole dial, TCP and TLS.
    assert_eq!(durations(info), vec![ms(290), ms(30)]);
}

/// The control: the same silent host, with a transport that never says it is up (a plain
/// TCP dialer), leaves the schedule as it is: the next attempt starts at 250 ms.
#[test]
fn without_a_report_the_schedule_is_unchanged() {
    let net = Net::new()
        .host("10.0.0.1:443", Blackhole)
        .host("10.0.0.2:443", Up(ms(30)));
    let all = net.addrs();
    let race = net.race(&config(Schedule::rfc8305()));
    assert_eq!(race.info().elapsed(), ms(280));
    assert_eq!(
        stages(race.info()),
        vec![
            (all[0], ms(0), None, Outcome::Cancelled),
            (all[1], ms(250), None, Outcome::Connected),
        ]
    );
}

/// A handshake that fails (a reset, a bad certificate) after the transport was up is the
/// attempt's error, and starts the next attempt at once, as a refused connect does.
#[test]
fn a_failed_handshake_starts_the_next_attempt_at_once() {
    let net = Net::new()
        .host("10.0.0.1:443", tls(10, Handshake::Fails(ms(5))))
        .host("10.0.0.2:443", SILENT)
        .host("10.0.0.3:443", tls(10, Handshake::Done(ms(10))));
    let all = net.addrs();
    let race = net.race(&config(Schedule::rfc8305()));
    // 15 ms: the first fails, the second starts; its TCP is up at 25, so the third waits
    // until 25 + 250 = 275 and connects at 295.
    assert_eq!(race.info().elapsed(), ms(295));
    assert_eq!(
        stages(race.info()),
        vec![
            (
                all[0],
                ms(0),
                Some(ms(10)),
                Outcome::Failed {
                    kind: io::ErrorKind::InvalidData,
                    reason: "invalid data".into()
                }
            ),
            (all[1], ms(15), Some(ms(10)), Outcome::Cancelled),
            (all[2], ms(275), Some(ms(10)), Outcome::Connected),
        ]
    );
}

/// Racing every address at once, a silent host costs nothing: the live one wins after its
/// own TCP and TLS.
#[test]
fn race_all_passes_a_silent_host_by() {
    let net = Net::new()
        .host("10.0.0.1:443", SILENT)
        .host("10.0.0.2:443", tls(10, Handshake::Done(ms(20))));
    let all = net.addrs();
    let race = net.race(&config(Schedule::race_all()));
    assert_eq!(race.info().elapsed(), ms(30));
    assert_eq!(
        stages(race.info()),
        vec![
            (all[0], ms(0), Some(ms(10)), Outcome::Cancelled),
            (all[1], ms(0), Some(ms(10)), Outcome::Connected),
        ]
    );
}

/// The history learns the transport's handshake time (the round trip) and the TLS
/// handshake's as two phases; once a known host's TCP is up, its TLS gets its own expected
/// time. The first connect learns 20 ms for `.1`'s TCP and 20 ms for its TLS, so it
/// expects 20 + 4 · 10 = 60 ms for each, 120 ms in all. The second connect finds `.1`
/// silent after TCP: it dials it alone, its TCP is up at 20, and `.2` starts at 20 + 60 =
/// 80 ms, not at 60.
#[test]
fn the_learned_schedule_waits_for_a_known_hosts_handshake() {
    let (a, b) = (addr("10.0.0.1:443"), addr("10.0.0.2:443"));
    let history = History::new(64);
    let memory = Ranking {
        history: Some(&history),
        sources: None,
        nat64: None,
    };
    let learned = config(Schedule::learned());
    let net = Net::new()
        .host(a, tls(20, Handshake::Done(ms(20))))
        .host(b, tls(30, Handshake::Done(ms(30))));
    let race = net.with(&learned).knowing(memory).run();
    assert_eq!(race.winner(), a);

    net.set(a, tls(20, Handshake::Silent));
    let race = net.with(&learned).knowing(memory).run();
    assert_eq!(race.winner(), b);
    let info = race.info();
    assert!(info.used_history());
    assert_eq!(info.attempts()[0].expected(), Some(ms(120)));
    assert_eq!(
        stages(info),
        vec![
            (a, ms(0), Some(ms(20)), Outcome::Cancelled),
            (b, ms(80), Some(ms(30)), Outcome::Connected),
        ]
    );
    assert_eq!(info.elapsed(), ms(140));
}

/// Another schedule keeps its own delays for a known host: RFC 8305's 250 ms after the
/// transport, not the handshake time the history expects (20 ms). `.1` is learned from a
/// first connect, then found silent after its TCP (up at 20 ms): `.2` starts at 20 + 250 ms.
#[test]
fn other_schedules_give_a_known_hosts_handshake_their_own_delay() {
    let (a, b) = (addr("10.0.0.1:443"), addr("10.0.0.2:443"));
    let history = History::new(64);
    let memory = Ranking {
        history: Some(&history),
        sources: None,
        nat64: None,
    };
    let net = Net::new()
        .host(a, tls(20, Handshake::Done(ms(20))))
        .host(b, tls(30, Handshake::Done(ms(30))));
    let race = net.with(&config(Schedule::learned())).knowing(memory).run();
    assert_eq!(race.winner(), a);

    net.set(a, tls(20, Handshake::Silent));
    let rfc8305 = config(Schedule::rfc8305());
    let race = net.with(&rfc8305).knowing(memory).run();
    assert_eq!(race.winner(), b);
    assert!(!race.info().used_history());
    assert_eq!(
        stages(race.info()),
        vec![
            (a, ms(0), Some(ms(20)), Outcome::Cancelled),
            (b, ms(270), Some(ms(30)), Outcome::Connected),
        ]
    );
}

/// A known TLS host costs one TCP connection and one handshake per connect, however long
/// its handshake takes beyond its round trip: four TLS hosts (RTT r, 2r, 3r, 4r), each
/// handshake one round trip (TLS 1.3) or two (TLS 1.2) plus the server's time. After the
/// first connect (every address), each of connects 2–50 dials the best host alone and
/// connects in exactly the oracle's time (its RTT plus its handshake), for RTTs of
/// 1–200 ms and server times of 0–20 ms.
#[test]
fn a_known_tls_host_costs_one_connection_per_connect() {
    for rtt in [1, 5, 50, 200] {
        for round_trips in [1, 2] {
            for server in [0, 2, 5, 15, 20] {
                let net = Net::new().hosts((1..=4u64).map(|k| {
                    let handshake = Handshake::Done(ms(round_trips * rtt * k + server));
                    (
                        SocketAddr::from(([10, 0, 0, k as u8], 443)),
                        tls(rtt * k, handshake),
                    )
                }));
                let history = History::new(64);
                let memory = Ranking {
                    history: Some(&history),
                    sources: None,
                    nat64: None,
                };
                let oracle = ms(rtt + round_trips * rtt + server);
                let learned = config(Schedule::learned());
                let case = format!("RTT {rtt} ms, {round_trips} round trips, server {server} ms");
                for n in 1..=50 {
                    let race = net.with(&learned).knowing(memory).run();
                    assert_eq!(race.winner(), net.addrs()[0], "{case}, connect {n}");
                    assert_eq!(race.info().elapsed(), oracle, "{case}, connect {n}");
                    let expected = if n == 1 { 4 } else { 1 };
                    assert_eq!(race.dials().len(), expected, "{case}, connect {n}");
                }
            }
        }
    }
}
