//! The learned schedule, over a series of races sharing one history: what each connect of
//! a series dials, and exactly when it connects.
//!
//! Its delays are the history's expected times, which need not be whole milliseconds: the
//! times here are the machine's, to the nanosecond (the tokio driver's timer rounds them up
//! to the next millisecond).

use super::*;
use crate::history::{History, Known, Lesson, EXPLORE_EVERY, FAILURE_COOL_DOWN, HISTORY_TTL};
use crate::order::Ranking;

/// The handshake times of the twelve-record name (ms), in DNS order: `10.0.0.1`–`.12`.
const TWELVE: [u64; 12] = [120, 45, 200, 80, 10, 160, 30, 100, 180, 60, 140, 20];

fn twelve(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8 + 1], 443))
}

fn all_twelve() -> Vec<SocketAddr> {
    (0..12).map(twelve).collect()
}

/// The twelve-record name, every host alive, except those `dark` says are blackholed.
fn twelve_net(dark: &[usize]) -> Net {
    Net::new().hosts((0..12).map(|i| {
        let host = if dark.contains(&i) {
            Blackhole
        } else {
            Up(ms(TWELVE[i]))
        };
        (twelve(i), host)
    }))
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// One connect of a series: what it dialed, when it connected, and to where.
#[derive(Debug, PartialEq, Eq)]
struct Connect {
    dials: usize,
    elapsed: Duration,
    to: SocketAddr,
    used_history: bool,
}

/// Connects once over `net` to every address of `addrs` (an `A` answer, and an empty
/// `AAAA` answer at the same instant, as from a cache), with `history`.
fn connect(net: &Net, history: &History, schedule: Schedule, addrs: &[SocketAddr]) -> Connect {
    let memory = Ranking {
        history: Some(history),
        sources: None,
        nat64: None,
    };
    let dns =
        Dns::new()
            .answer(ms(0), Family::V4, addrs.to_vec())
            .answer(ms(0), Family::V6, vec![]);
    let c = config(schedule);
    let race = net.with(&c).dns(dns).knowing(memory).run();
    Connect {
        dials: race.dials().len(),
        elapsed: race.took,
        to: race.winner(),
        used_history: race.info().used_history(),
    }
}

/// One connect to the twelve-record name on `net`, on the learned schedule.
fn learned(net: &Net, history: &History) -> Connect {
    connect(net, history, Schedule::learned(), &all_twelve())
}

/// What a connect should be: `dials` SYNs, connected after `elapsed` to twelve-record
/// host `to`, with or without the history.
fn expect(dials: usize, elapsed: Duration, to: usize, used_history: bool) -> Connect {
    Connect {
        dials,
        elapsed,
        to: twelve(to),
        used_history,
    }
}

/// The first connect races all twelve addresses and connects to the 10 ms host in 10 ms;
/// every later connect dials that host alone, and connects in 10 ms too.
#[test]
fn a_known_host_costs_one_syn() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    let first = learned(&net, &history);
    assert_eq!(first, expect(12, ms(10), 4, false));
    for n in 2..=50 {
        let c = learned(&net, &history);
        assert_eq!(c, expect(1, ms(10), 4, true), "connect {n}");
    }
    // `race_all` ignores what the history knows about timing: twelve SYNs, every time.
    let c = connect(&net, &history, Schedule::race_all(), &all_twelve());
    assert_eq!((c.dials, c.elapsed, c.used_history), (12, ms(10), false));
}

/// The 10 ms host goes dark after 20 connects. Connect 21 dials it alone, gives it its
/// expected handshake time (10 ms + 2.5 ms: twenty equal samples leave rttvar near 0, so a
/// quarter of srtt counts), then races the other eleven: the 20 ms host connects at
/// 12.5 + 20 = 32.5 ms. From connect 22 on the 20 ms host is known, and dialed alone: the
/// dark host's overdue attempt ranks it as taking four times its 10 ms.
#[test]
fn the_best_host_going_dark_costs_one_race_then_the_next_best_is_known() {
    let history = History::new(64);
    let net = twelve_net(&[]);
    for _ in 0..20 {
        learned(&net, &history);
    }
    net.set(twelve(4), Blackhole);
    let c = learned(&net, &history);
    assert_eq!(c, expect(12, us(32_500), 11, true));
    for n in 22..=50 {
        let c = learned(&net, &history);
        assert_eq!(c, expect(1, ms(20), 11, true), "connect {n}");
    }
    // Once its failure has faded (30.58 s later, 3/4 halved every 10 s: 0.090), the dark
    // host is tried first again, for its 12.5 ms shrunk by that share (to 11.374 ms), and
    // the 20 ms host connects after it; the next connect goes to the 20 ms host alone.
    net.advance(FAILURE_COOL_DOWN);
    let c = learned(&net, &history);
    assert_eq!(c, expect(2, Duration::from_nanos(31_374_303), 11, true));
    let c = learned(&net, &history);
    assert_eq!(c, expect(1, ms(20), 11, true));
}

/// With two known addresses, the second gets its own expected time in turn: the known
/// 10 ms host is dark, so the known 20 ms host starts at 12.5 ms, alone, and connects at
/// 32.5 ms; nothing else is dialed.
#[test]
fn known_addresses_are_staggered_by_their_own_expected_times() {
    let history = History::new(64);
    let dark = twelve_net(&[4]);
    // Twenty samples each, as in a long series.
    for _ in 0..20 {
        let lessons = [
            (twelve(4), None, Lesson::Connected(ms(10))),
            (twelve(11), None, Lesson::Connected(ms(20))),
        ];
        history.learn(lessons, dark.now());
    }
    let c = learned(&dark, &history);
    assert_eq!(c, expect(2, us(32_500), 11, true));
}

/// The learned part of a race ends at its first unknown address: every address after it
/// gets the schedule's own delay (none, on the learned schedule), known or not. Two known
/// `A` hosts (10 ms, expected 30 ms; 20 ms, expected 60 ms) are dark, as is an unknown
/// IPv6 host, and the families alternate: `.1` at 0, the unknown one at 30 ms, then `.2`
/// and the alive IPv6 host at once, not 60 ms later.
#[test]
fn the_first_unknown_address_ends_the_learned_part() {
    let history = History::new(64);
    let net = Net::new()
        .host("10.0.0.1:443", Blackhole)
        .host("10.0.0.2:443", Blackhole)
        .host("[fd00::1]:443", Blackhole)
        .host("[fd00::2]:443", Up(ms(10)));
    let lessons = [
        (addr("10.0.0.1:443"), None, Lesson::Connected(ms(10))),
        (addr("10.0.0.2:443"), None, Lesson::Connected(ms(20))),
    ];
    history.learn(lessons, net.now());
    let memory = Ranking {
        history: Some(&history),
        sources: None,
        nat64: None,
    };
    let race = net.with(&config(Schedule::learned())).knowing(memory).run();
    let info = race.info();
    assert!(info.used_history());
    assert_eq!(
        starts(info),
        vec![
            (addr("10.0.0.1:443"), ms(0)),
            (addr("[fd00::1]:443"), ms(30)),
            (addr("10.0.0.2:443"), ms(30)),
            (addr("[fd00::2]:443"), ms(30)),
        ]
    );
    assert_eq!(info.elapsed(), ms(40));
}

/// A failure starts the next attempt at once, as in every schedule: the known host
/// refuses after 2 ms, and the other eleven start then. One refusal does not demote it:
/// the next connect dials it first again, and the 20 ms host, known now, when it refuses
/// again.
#[test]
fn a_known_host_that_refuses_starts_the_rest_at_once() {
    let history = History::new(64);
    let net = twelve_net(&[]);
    learned(&net, &history);
    net.set(twelve(4), Refused(ms(2)));
    let c = learned(&net, &history);
    assert_eq!((c.dials, c.elapsed, c.to), (12, ms(22), twelve(11)));
    let c = learned(&net, &history);
    assert_eq!((c.dials, c.elapsed, c.to), (2, ms(22), twelve(11)));
}

/// A handshake time stays fresh for the TTL; after it, the host is unknown and the next
/// connect races every address again.
#[test]
fn after_the_ttl_a_host_is_raced_again() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    learned(&net, &history);
    net.advance(HISTORY_TTL - ms(11));
    let c = learned(&net, &history);
    assert_eq!((c.dials, c.used_history), (1, true), "fresh until the TTL");
    net.advance(HISTORY_TTL);
    let c = learned(&net, &history);
    assert_eq!((c.dials, c.used_history), (12, false), "expired");
}

/// One learned race in `EXPLORE_EVERY` races every address: over 1 + 2·100 connects, the
/// 100th and the 200th learned races dial all twelve.
#[test]
fn one_race_in_a_hundred_explores() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    let mut dials = Vec::new();
    for _ in 0..=2 * EXPLORE_EVERY {
        let c = learned(&net, &history);
        assert_eq!((c.elapsed, c.to), (ms(10), twelve(4)));
        dials.push(c.dials);
    }
    let sweeps: Vec<usize> = (0..dials.len()).filter(|&i| dials[i] == 12).collect();
    assert_eq!(sweeps, [0, 100, 200]);
    let total: usize = dials[1..].iter().sum();
    // 200 connects after the first: 198 SYNs alone, 2 explorations of 12.
    assert_eq!(total, 198 + 2 * 12);
}

/// An exploring race finds a host that became faster: the 45 ms host now answers in
/// 5 ms, and after the next exploration it is the one dialed alone.
#[test]
fn exploring_finds_a_host_that_became_faster() {
    let history = History::new(64);
    let net = twelve_net(&[]);
    for _ in 0..EXPLORE_EVERY {
        learned(&net, &history);
    }
    net.set(twelve(1), Up(ms(5)));
    // The 100th learned race explores, and the 5 ms host wins it.
    let c = learned(&net, &history);
    assert_eq!(c, expect(12, ms(5), 1, false));
    let c = learned(&net, &history);
    assert_eq!(c, expect(1, ms(5), 1, true));
}

/// The other schedules keep their timing, but sort by what is known: `rfc8305` and
/// `sequential` try the known 10 ms host first, and connect in 10 ms.
#[test]
fn other_schedules_try_the_known_host_first() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    connect(&net, &history, Schedule::race_all(), &all_twelve());
    for schedule in [Schedule::rfc8305(), Schedule::sequential()] {
        let c = connect(&net, &history, schedule, &all_twelve());
        assert_eq!(c, expect(1, ms(10), 4, false));
    }
}

/// `ConnectInfo` tells each attempt's measured handshake time and what the history
/// expected of it.
#[test]
fn connect_info_reports_handshakes_and_expectations() {
    let (net, history) = (twelve_net(&[4]), History::new(64));
    history.learn([(twelve(4), None, Lesson::Connected(ms(10)))], net.now());
    let memory = Ranking {
        history: Some(&history),
        sources: None,
        nat64: None,
    };
    let dns = Dns::new().answer(ms(0), Family::V4, all_twelve());
    let c = config(Schedule::learned());
    let race = net.with(&c).dns(dns).knowing(memory).run();
    let info = race.info();
    // rttvar = 5 ms after one 10 ms sample: expected 10 + 4·5 = 30 ms.
    let first = &info.attempts()[0];
    assert_eq!(
        (first.addr(), first.expected(), first.handshake()),
        (twelve(4), Some(ms(30)), None)
    );
    assert_eq!(first.outcome().clone(), Outcome::Cancelled);
    let won = info
        .attempts()
        .iter()
        .find(|a| a.outcome() == &Outcome::Connected)
        .unwrap();
    assert_eq!(
        (won.addr(), won.handshake(), won.expected()),
        (twelve(11), Some(ms(20)), None)
    );
    assert_eq!(info.elapsed(), ms(50));
    assert!(info.used_history());
}

/// A known address that loses before its expected time is not late: it keeps its
/// handshake time. In `race_all`, an unknown 5 ms host beats the known 10 ms host (expected
/// 30 ms) at 5 ms; the 10 ms host stays known, and is dialed alone on the learned schedule.
#[test]
fn losing_early_is_not_late() {
    let history = History::new(64);
    let net = twelve_net(&[]).host(twelve(0), Up(ms(5)));
    history.learn([(twelve(4), None, Lesson::Connected(ms(10)))], net.now());
    let c = connect(&net, &history, Schedule::race_all(), &all_twelve());
    assert_eq!((c.to, c.elapsed), (twelve(0), ms(5)));
    let c = learned(&net, &history);
    assert_eq!(
        (c.dials, c.to, c.used_history),
        (1, twelve(0), true),
        "the 5 ms host is known now"
    );
    let known = history.known(twelve(4), None, net.now());
    assert!(matches!(known, Known::Fresh { .. }), "{known:?}");
}

/// A known host a little late costs no sweep: the 10 ms host answers one connect in 12 ms,
/// within its expected 12.5 ms (a steady host's srtt plus a quarter of it). Over connects
/// 2–50 that is 49 SYNs, where an expected time of srtt + 1 ms (11 ms) raced every address
/// on the late connect: 60.
#[test]
fn a_late_known_host_costs_no_sweep() {
    let history = History::new(64);
    let (net, mut syns) = (twelve_net(&[]), 0);
    learned(&net, &history);
    for n in 2..=50 {
        let c = if n == 30 {
            net.set(twelve(4), Up(ms(12)));
            let c = learned(&net, &history);
            net.set(twelve(4), Up(ms(10)));
            assert_eq!(c, expect(1, ms(12), 4, true), "the late connect");
            c
        } else {
            learned(&net, &history)
        };
        syns += c.dials;
    }
    assert_eq!(syns, 49);
}

/// An attempt that finds the process out of descriptors says nothing about its address:
/// the known 10 ms host fails with `EMFILE` and the race goes on to the others, but the
/// history still counts no failure against it, and the next connect dials it alone.
#[cfg(unix)]
#[test]
fn running_out_of_descriptors_teaches_nothing() {
    let history = History::new(64);
    let net = twelve_net(&[]);
    learned(&net, &history);
    net.set(twelve(4), OutOfFiles);
    let c = learned(&net, &history);
    assert_eq!((c.dials, c.to), (12, twelve(11)));
    let known = history.known(twelve(4), None, net.now());
    assert_eq!(known.failing(), 0.0, "{known:?}");
    net.set(twelve(4), Up(ms(10)));
    let c = learned(&net, &history);
    assert_eq!(c, expect(1, ms(10), 4, true));
}

/// A race that fails says whether it used the history, as one that is won does (the
/// driver's metrics count both): the known 10 ms host starts alone and refuses, then the
/// other refuses too, and the race fails having used the history; `race_all`, failing the
/// same way, did not.
#[test]
fn a_failed_race_says_whether_it_used_the_history() {
    let history = History::new(64);
    let net = Net::new()
        .host(twelve(0), Up(ms(10)))
        .host(twelve(1), Up(ms(20)));
    let hosts = net.addrs();
    assert_eq!(
        connect(&net, &history, Schedule::learned(), &hosts).to,
        twelve(0)
    );
    net.set(twelve(0), Refused(ms(1)));
    net.set(twelve(1), Refused(ms(1)));
    for (schedule, used_history) in [(Schedule::learned(), true), (Schedule::race_all(), false)] {
        let memory = Ranking {
            history: Some(&history),
            sources: None,
            nat64: None,
        };
        let c = config(schedule);
        let race = net.with(&c).knowing(memory).run();
        assert_eq!(race.error().kind(), ErrorKind::AllAttemptsFailed);
        assert_eq!(race.used_history, used_history, "{race:?}");
    }
}
