//! The learned schedule and the address order, on the paused clock: what each connect of
//! a series dials, and exactly when it connects.

use std::net::IpAddr;

use super::*;
use crate::history::{History, EXPLORE_EVERY, FAILURE_COOL_DOWN, HISTORY_TTL};
use crate::order::source::Sources;

/// The handshake times of the twelve-record name (ms), in DNS order: `10.0.0.1`–`.12`.
const TWELVE: [u64; 12] = [120, 45, 200, 80, 10, 160, 30, 100, 180, 60, 140, 20];

fn twelve(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8 + 1], 443))
}

/// The twelve-record name, every host alive, except those `dark` says are blackholed.
fn twelve_net(dark: &[usize]) -> Net {
    Net::of((0..12).map(|i| {
        let host = if dark.contains(&i) {
            Host::Blackhole
        } else {
            Host::Up(ms(TWELVE[i]))
        };
        (twelve(i), host)
    }))
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
async fn connect(
    net: &Net,
    history: &History,
    schedule: Schedule,
    addrs: &[SocketAddr],
) -> Connect {
    let before = net.dials.lock().unwrap().len();
    let memory = Memory {
        history: Some(history),
        sources: None,
    };
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(addrs.to_vec())),
        (ms(0), Family::V6, Ok(vec![])),
    ]);
    let t0 = Instant::now();
    let (conn, info) = remembering(&net.dialer(), &plan(schedule), memory, answers)
        .await
        .unwrap();
    Connect {
        dials: net.dials.lock().unwrap().len() - before,
        elapsed: t0.elapsed(),
        to: conn.addr,
        used_history: info.used_history(),
    }
}

fn all_twelve() -> Vec<SocketAddr> {
    (0..12).map(twelve).collect()
}

/// One connect to the twelve-record name on `net`, on the learned schedule.
async fn learned(net: &Net, history: &History) -> Connect {
    connect(net, history, Schedule::learned(), &all_twelve()).await
}

/// What a connect should be: `dials` SYNs, connected after `elapsed` ms to twelve-record
/// host `to`, with or without the history.
fn expect(dials: usize, elapsed: u64, to: usize, used_history: bool) -> Connect {
    Connect {
        dials,
        elapsed: ms(elapsed),
        to: twelve(to),
        used_history,
    }
}

/// The first connect races all twelve addresses and connects to the 10 ms host in 10 ms;
/// every later connect dials that host alone, and connects in 10 ms too.
#[tokio::test(start_paused = true)]
async fn a_known_host_costs_one_syn() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    let first = learned(&net, &history).await;
    let expected_first = expect(12, 10, 4, false);
    assert_eq!(first, expected_first);
    for n in 2..=50 {
        let c = learned(&net, &history).await;
        let expected = expect(1, 10, 4, true);
        assert_eq!(c, expected, "connect {n}");
    }
    // `race_all` ignores what the history knows about timing: twelve SYNs, every time.
    let c = connect(&net, &history, Schedule::race_all(), &all_twelve()).await;
    assert_eq!((c.dials, c.elapsed, c.used_history), (12, ms(10), false));
}

/// The 10 ms host goes dark after 20 connects. Connect 21 dials it alone, gives it its
/// expected handshake time (10 ms + 2.5 ms: twenty equal samples leave rttvar near 0, so a
/// quarter of srtt counts; 13 ms on a timer of whole milliseconds), then races the other
/// eleven: the 20 ms host connects at 13 + 20 = 33 ms. From connect 22 on the 20 ms host
/// is known, and dialed alone: the dark host's overdue attempt ranks it as taking four
/// times its 10 ms.
#[tokio::test(start_paused = true)]
async fn the_best_host_going_dark_costs_one_race_then_the_next_best_is_known() {
    let history = History::new(64);
    let alive = twelve_net(&[]);
    for _ in 0..20 {
        learned(&alive, &history).await;
    }
    let dark = twelve_net(&[4]);
    let c = learned(&dark, &history).await;
    let failover = expect(12, 33, 11, true);
    assert_eq!(c, failover);
    for n in 22..=50 {
        let c = learned(&dark, &history).await;
        let expected = expect(1, 20, 11, true);
        assert_eq!(c, expected, "connect {n}");
    }
    // Once its failure has faded (30 s later, to an eighth of 3/4), the dark host is tried
    // first again, for its 12.5 ms shrunk by that share (to 11.3 ms, 12 in whole ms), and
    // the 20 ms host connects after it; the next connect goes to the 20 ms host alone.
    tokio::time::advance(FAILURE_COOL_DOWN).await;
    let c = learned(&dark, &history).await;
    assert_eq!(c, expect(2, 32, 11, true));
    let c = learned(&dark, &history).await;
    assert_eq!(c, expect(1, 20, 11, true));
}

/// With two known addresses, the second gets its own expected time in turn: the known
/// 10 ms host is dark, so the known 20 ms host starts at 12.5 ms (13: the timer counts
/// whole milliseconds), alone, and connects at 33 ms; nothing else is dialed.
#[tokio::test(start_paused = true)]
async fn known_addresses_are_staggered_by_their_own_expected_times() {
    let history = History::new(64);
    let src = None;
    // Twenty samples each, as in a long series.
    for _ in 0..20 {
        let lessons = [
            (twelve(4), src, crate::history::Lesson::Connected(ms(10))),
            (twelve(11), src, crate::history::Lesson::Connected(ms(20))),
        ];
        history.learn(lessons, Instant::now().into_std());
    }
    let dark = twelve_net(&[4]);
    let c = learned(&dark, &history).await;
    let expected = expect(2, 33, 11, true);
    assert_eq!(c, expected);
}

/// A failure starts the next attempt at once, as in every schedule: the known host
/// refuses after 2 ms, and the other eleven start then. One refusal does not demote it:
/// the next connect dials it first again, and the 20 ms host, known now, when it refuses
/// again.
#[tokio::test(start_paused = true)]
async fn a_known_host_that_refuses_starts_the_rest_at_once() {
    let history = History::new(64);
    connect(
        &twelve_net(&[]),
        &history,
        Schedule::learned(),
        &all_twelve(),
    )
    .await;
    let mut hosts: Vec<_> = (0..12)
        .map(|i| (twelve(i), Host::Up(ms(TWELVE[i]))))
        .collect();
    hosts[4].1 = Host::Refused(ms(2));
    let refusing = Net::of(hosts);
    let c = learned(&refusing, &history).await;
    assert_eq!((c.dials, c.elapsed, c.to), (12, ms(22), twelve(11)));
    let c = learned(&refusing, &history).await;
    assert_eq!((c.dials, c.elapsed, c.to), (2, ms(22), twelve(11)));
}

/// A handshake time stays fresh for the TTL; after it, the host is unknown and the next
/// connect races every address again.
#[tokio::test(start_paused = true)]
async fn after_the_ttl_a_host_is_raced_again() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    learned(&net, &history).await;
    tokio::time::advance(HISTORY_TTL - ms(11)).await;
    let c = learned(&net, &history).await;
    assert_eq!((c.dials, c.used_history), (1, true), "fresh until the TTL");
    tokio::time::advance(HISTORY_TTL).await;
    let c = learned(&net, &history).await;
    assert_eq!((c.dials, c.used_history), (12, false), "expired");
}

/// One learned race in `EXPLORE_EVERY` races every address: over 1 + 2·100 connects, the
/// 100th and the 200th learned races dial all twelve.
#[tokio::test(start_paused = true)]
async fn one_race_in_a_hundred_explores() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    let mut dials = Vec::new();
    for _ in 0..=2 * EXPLORE_EVERY {
        let c = learned(&net, &history).await;
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
#[tokio::test(start_paused = true)]
async fn exploring_finds_a_host_that_became_faster() {
    let history = History::new(64);
    let net = twelve_net(&[]);
    for _ in 0..EXPLORE_EVERY {
        learned(&net, &history).await;
    }
    let mut hosts: Vec<_> = (0..12)
        .map(|i| (twelve(i), Host::Up(ms(TWELVE[i]))))
        .collect();
    hosts[1].1 = Host::Up(ms(5));
    let faster = Net::of(hosts);
    // The 100th learned race explores, and the 5 ms host wins it.
    let c = learned(&faster, &history).await;
    assert_eq!(
        (c.dials, c.elapsed, c.to, c.used_history),
        (12, ms(5), twelve(1), false)
    );
    let c = learned(&faster, &history).await;
    assert_eq!(
        (c.dials, c.elapsed, c.to, c.used_history),
        (1, ms(5), twelve(1), true)
    );
}

/// The other schedules keep their timing, but sort by what is known: `rfc8305` and
/// `sequential` try the known 10 ms host first, and connect in 10 ms.
#[tokio::test(start_paused = true)]
async fn other_schedules_try_the_known_host_first() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    connect(&net, &history, Schedule::race_all(), &all_twelve()).await;
    for schedule in [Schedule::rfc8305(), Schedule::sequential()] {
        let c = connect(&net, &history, schedule, &all_twelve()).await;
        assert_eq!(
            (c.dials, c.elapsed, c.to, c.used_history),
            (1, ms(10), twelve(4), false)
        );
    }
}

/// `ConnectInfo` tells each attempt's measured handshake time and what the history
/// expected of it.
#[tokio::test(start_paused = true)]
async fn connect_info_reports_handshakes_and_expectations() {
    let (net, history) = (twelve_net(&[4]), History::new(64));
    let src = None;
    history.learn(
        [(twelve(4), src, crate::history::Lesson::Connected(ms(10)))],
        Instant::now().into_std(),
    );
    let memory = Memory {
        history: Some(&history),
        sources: None,
    };
    let answers = dns(vec![(ms(0), Family::V4, Ok(all_twelve()))]);
    let (_, info) = remembering(&net.dialer(), &plan(Schedule::learned()), memory, answers)
        .await
        .unwrap();
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

/// The sources every test address would get: a global one of its own family, so that
/// RFC 6724 orders by the destinations alone.
fn global_sources() -> &'static Sources {
    Box::leak(Box::new(Sources::fixed(|dst| {
        Some(match dst.ip() {
            IpAddr::V4(_) => "198.51.100.1".parse().unwrap(),
            IpAddr::V6(_) => "2001:db8:ffff::1".parse().unwrap(),
        })
    })))
}

/// RFC 6724 alone, with the sources of [`global_sources`], and no history.
fn sorted_by_rfc_6724() -> Memory<'static> {
    Memory {
        history: None,
        sources: Some(global_sources()),
    }
}

/// RFC 6724 in a race: a ULA-only IPv6 address (precedence 3) goes after a global IPv4
/// address (35), so IPv4 leads; a global IPv6 address (40) leads IPv4.
#[tokio::test(start_paused = true)]
async fn rfc_6724_decides_which_family_leads() {
    let memory = sorted_by_rfc_6724();
    let net = Net::new(&[
        ("[fd00::1]:80", Host::Up(ms(50))),
        ("192.0.2.1:80", Host::Up(ms(50))),
        ("[2001:db8::1]:80", Host::Up(ms(50))),
    ]);
    let p = plan(Schedule::sequential());
    let order = |info: &ConnectInfo| info.attempts().iter().map(|a| a.addr()).collect::<Vec<_>>();
    let ula_and_v4 = literal(net.addrs(&["[fd00::1]:80", "192.0.2.1:80"]));
    let (_, info) = remembering(&net.dialer(), &p, memory, ula_and_v4)
        .await
        .unwrap();
    assert_eq!(order(&info), net.addrs(&["192.0.2.1:80"]));
    let global_and_v4 = literal(net.addrs(&["192.0.2.1:80", "[2001:db8::1]:80"]));
    let (_, info) = remembering(&net.dialer(), &p, memory, global_and_v4)
        .await
        .unwrap();
    assert_eq!(order(&info), net.addrs(&["[2001:db8::1]:80"]));
}

/// `keep_given_order`: a list is attempted exactly as given, families not interleaved and
/// nothing sorted, even where RFC 6724 and the history would say otherwise.
#[tokio::test(start_paused = true)]
async fn a_list_can_keep_its_order() {
    let history = History::new(64);
    let net = Net::new(&[
        ("192.0.2.1:80", Host::Refused(ms(1))),
        ("192.0.2.2:80", Host::Refused(ms(1))),
        ("[fd00::1]:80", Host::Refused(ms(1))),
        ("[2001:db8::1]:80", Host::Up(ms(5))),
    ]);
    history.learn(
        [(
            addr("[2001:db8::1]:80"),
            None,
            crate::history::Lesson::Connected(ms(5)),
        )],
        Instant::now().into_std(),
    );
    let memory = Memory {
        history: Some(&history),
        sources: Some(global_sources()),
    };
    let given = net.addrs(&[
        "192.0.2.1:80",
        "192.0.2.2:80",
        "[fd00::1]:80",
        "[2001:db8::1]:80",
    ]);
    // A preferred family does not reorder a kept list either.
    let mut p = plan(Schedule::sequential().preferred_family(Family::V6));
    p.keep_given_order = true;
    let (_, info) = remembering(&net.dialer(), &p, memory, literal(given.clone()))
        .await
        .unwrap();
    let order: Vec<_> = info.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(order, given);
    // Sorted instead: the known address first, alone.
    p.keep_given_order = false;
    let (_, info) = remembering(&net.dialer(), &p, memory, literal(given.clone()))
        .await
        .unwrap();
    assert_eq!(info.attempts().len(), 1);
    assert_eq!(info.remote_addr(), given[3]);
}

/// A connector's clones share its history: what one clone learned, the other uses. The
/// simulated hosts are on loopback so that the system's source lookups (which send no
/// packet) answer the same everywhere.
#[tokio::test(start_paused = true)]
async fn clones_of_a_connector_share_what_they_learned() {
    let loopback = |i: usize| SocketAddr::from(([127, 0, 0, i as u8 + 2], 443));
    let net = Net::of((0..12).map(|i| (loopback(i), Host::Up(ms(TWELVE[i])))));
    let addrs: Vec<SocketAddr> = (0..12).map(loopback).collect();
    let connector = crate::ConnieConnector::new().with_dialer(net.dialer());
    let clone = connector.clone();
    let (_, first) = guarded(connector.connect(&addrs[..])).await.unwrap();
    assert_eq!((first.attempts().len(), first.used_history()), (12, false));
    let (conn, second) = guarded(clone.connect(&addrs[..])).await.unwrap();
    assert_eq!((second.attempts().len(), second.used_history()), (1, true));
    assert_eq!((conn.addr, second.elapsed()), (loopback(4), ms(10)));
    // `forget` on one forgets for both; a connector of its own never knew.
    clone.forget();
    let (_, third) = guarded(connector.connect(&addrs[..])).await.unwrap();
    assert_eq!(third.attempts().len(), 12);
    let own = crate::ConnieConnector::new().with_dialer(net.dialer());
    let (_, fourth) = guarded(own.connect(&addrs[..])).await.unwrap();
    assert_eq!(
        (fourth.attempts().len(), fourth.used_history()),
        (12, false)
    );
}

/// Addresses the resolver sorted already (`getaddrinfo`, with `/etc/gai.conf`) keep its
/// order; connie's own RFC 6724 rules sort the others.
#[tokio::test(start_paused = true)]
async fn a_resolvers_own_order_is_kept() {
    let memory = sorted_by_rfc_6724();
    let net = Net::new(&[
        ("[fd00::1]:80", Host::Up(ms(5))),
        ("[2001:db8::1]:80", Host::Up(ms(5))),
    ]);
    let p = plan(Schedule::sequential());
    for (sorted, first) in [(false, "[2001:db8::1]:80"), (true, "[fd00::1]:80")] {
        let answer = Answer {
            family: Some(Family::V6),
            result: Ok(net.addrs(&["[fd00::1]:80", "[2001:db8::1]:80"])),
            sorted,
        };
        let answers = stream::iter([answer]);
        let (conn, _) = remembering(&net.dialer(), &p, memory, answers)
            .await
            .unwrap();
        assert_eq!(conn.addr, addr(first), "sorted by the resolver: {sorted}");
    }
}

/// Races at once share one history safely: 200 concurrent first connects all race every
/// address (nothing is known until one finishes), all connect at 10 ms, and the history
/// holds the one address that connected, once; the next connect uses it.
#[tokio::test(start_paused = true)]
async fn concurrent_races_share_one_history() {
    let (net, history) = (twelve_net(&[]), History::new(64));
    let addrs = all_twelve();
    let races = (0..200).map(|_| connect(&net, &history, Schedule::learned(), &addrs));
    let connects = futures_util::future::join_all(races).await;
    // (`Connect::dials` counts other races' dials too when they run at once.)
    assert!(connects
        .iter()
        .all(|c| c.elapsed == ms(10) && !c.used_history));
    assert_eq!(net.dials.lock().unwrap().len(), 200 * 12);
    assert_eq!(
        history.len(),
        1,
        "only the 10 ms host connected; the rest were cancelled early"
    );
    let c = learned(&net, &history).await;
    assert_eq!((c.dials, c.used_history), (1, true));
}

/// A known address that loses before its expected time is not late: it keeps its
/// handshake time. In `race_all`, an unknown 5 ms host beats the known 10 ms host (expected
/// 30 ms) at 5 ms; the 10 ms host stays known, and is dialed alone on the learned schedule.
#[tokio::test(start_paused = true)]
async fn losing_early_is_not_late() {
    let history = History::new(64);
    let lesson = crate::history::Lesson::Connected(ms(10));
    history.learn([(twelve(4), None, lesson)], Instant::now().into_std());
    let mut hosts: Vec<_> = (0..12)
        .map(|i| (twelve(i), Host::Up(ms(TWELVE[i]))))
        .collect();
    hosts[0].1 = Host::Up(ms(5));
    let net = Net::of(hosts);
    let c = connect(&net, &history, Schedule::race_all(), &all_twelve()).await;
    assert_eq!((c.to, c.elapsed), (twelve(0), ms(5)));
    let c = learned(&net, &history).await;
    assert_eq!(
        (c.dials, c.to, c.used_history),
        (1, twelve(0), true),
        "the 5 ms host is known now"
    );
    let known = history.known(twelve(4), None, Instant::now().into_std());
    assert!(
        matches!(known, crate::history::Known::Fresh { .. }),
        "{known:?}"
    );
}

/// RFC 6724 rule 1: an address with no source (no route) goes after every usable one,
/// whatever DNS order says. (Sources are cached per /24, so each address has its own.)
#[tokio::test(start_paused = true)]
async fn an_address_without_a_route_goes_last() {
    let no_route: SocketAddr = addr("192.0.2.1:80");
    let sources = Box::leak(Box::new(Sources::fixed(move |dst| {
        (dst != no_route).then(|| "198.51.100.1".parse().unwrap())
    })));
    let memory = Memory {
        history: None,
        sources: Some(sources),
    };
    let net = Net::new(&[
        ("192.0.2.1:80", Host::Refused(ms(1))),
        ("198.51.100.2:80", Host::Refused(ms(1))),
        ("203.0.113.3:80", Host::Up(ms(1))),
    ]);
    let given = net.addrs(&["192.0.2.1:80", "198.51.100.2:80", "203.0.113.3:80"]);
    let p = plan(Schedule::sequential());
    let (_, info) = remembering(&net.dialer(), &p, memory, literal(given))
        .await
        .unwrap();
    let order: Vec<_> = info.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(order, net.addrs(&["198.51.100.2:80", "203.0.113.3:80"]));
}

/// A known host a little late costs no sweep: the 10 ms host answers one connect in 12 ms,
/// within its expected 12.5 ms (a steady host's srtt plus a quarter of it). Over connects
/// 2–50 that is 49 SYNs, where an expected time of srtt + 1 ms (11 ms) raced every address
/// on the late connect: 60.
#[tokio::test(start_paused = true)]
async fn a_late_known_host_costs_no_sweep() {
    let history = History::new(64);
    let (steady, mut syns) = (twelve_net(&[]), 0);
    let mut hosts: Vec<_> = (0..12)
        .map(|i| (twelve(i), Host::Up(ms(TWELVE[i]))))
        .collect();
    hosts[4].1 = Host::Up(ms(12));
    let late = Net::of(hosts);
    learned(&steady, &history).await;
    for n in 2..=50 {
        let c = if n == 30 {
            let c = learned(&late, &history).await;
            assert_eq!(c, expect(1, 12, 4, true), "the late connect");
            c
        } else {
            learned(&steady, &history).await
        };
        syns += c.dials;
    }
    assert_eq!(syns, 49);
}

/// An attempt that finds the process out of descriptors says nothing about its address:
/// the known 10 ms host fails with `EMFILE` and the race goes on to the others, but the
/// history still counts no failure against it, and the next connect dials it alone.
#[cfg(unix)]
#[tokio::test(start_paused = true)]
async fn running_out_of_descriptors_teaches_nothing() {
    let history = History::new(64);
    learned(&twelve_net(&[]), &history).await;
    let mut hosts: Vec<_> = (0..12)
        .map(|i| (twelve(i), Host::Up(ms(TWELVE[i]))))
        .collect();
    hosts[4].1 = Host::OutOfFiles;
    let c = learned(&Net::of(hosts), &history).await;
    assert_eq!((c.dials, c.to), (12, twelve(11)));
    let known = history.known(twelve(4), None, Instant::now().into_std());
    assert_eq!(known.failing(), 0.0, "{known:?}");
    let c = learned(&twelve_net(&[]), &history).await;
    assert_eq!(c, expect(1, 10, 4, true));
}
