//! A cold race among others to its destination (see `burst`): the probe races alone; a
//! follower holds its first attempt until the probe ends or its wait is over, then ranks
//! its addresses anew and never explores; a warm race takes no part.
//!
//! Each race here is one race of the burst, with the probe's end scripted: when it ends,
//! and what its race taught the shared history.

use super::sim::{Part, ProbeEnd, ProbeEnds};
use super::*;
use crate::history::{History, Lesson};
use crate::race::machine::Knowledge;

/// Four hosts: `10.0.0.1`–`.4`, alive, with these handshake times (ms).
const TIMES: [u64; 4] = [40, 10, 30, 20];

fn net() -> Net {
    Net::new().hosts((1..=4).map(|i| (v4(i), Up(ms(TIMES[i - 1])))))
}

fn all() -> Vec<SocketAddr> {
    (1..=4).map(v4).collect()
}

/// The `A` answer with every host, and an empty `AAAA` one, at the race's start.
fn dns() -> Dns {
    Dns::new()
        .answer(ms(0), Family::V4, all())
        .answer(ms(0), Family::V6, vec![])
}

fn knowing(history: &History) -> Ranking<'_> {
    Ranking {
        history: Some(history),
        sources: None,
        nat64: None,
    }
}

/// The probe ends `at` ms as `end` says; if it won, the history learned that `10.0.0.2`
/// connected in 10 ms, at that instant.
fn probe<'n>(net: &Net, history: &'n History, at: u64, end: ProbeEnd) -> Part<'n> {
    let when = net.now() + ms(at);
    Part::Follow(Some(ProbeEnds {
        at: ms(at),
        end,
        then: Box::new(move || {
            if end == ProbeEnd::Won {
                history.learn([(v4(2), None, Lesson::Connected(ms(10)))], when);
            }
        }),
    }))
}

/// A race of [`dns`] on `net` with `c`, knowing `history`, taking `part` in a burst.
fn race<'n>(net: &'n Net, c: &'n Config, history: &'n History, part: Part<'n>) -> sim::Race {
    let knowledge = knowing(history);
    net.with(c).dns(dns()).knowing(knowledge).burst(part).run()
}

fn joined(race: &sim::Race) -> Vec<(Duration, Step)> {
    let joins = race
        .log
        .iter()
        .filter(|(_, step)| matches!(step, Step::Joined { .. } | Step::ProbeEnded(_)));
    joins.cloned().collect()
}

/// A follower waits for its probe, and dials what the probe found alone: the probe wins
/// at 30 ms, the follower dials `10.0.0.2` then, and connects 10 ms later.
#[test]
fn a_follower_dials_what_its_probe_found_alone() {
    let (net, history) = (net(), History::new(64));
    let c = config(Schedule::learned());
    let race = race(&net, &c, &history, probe(&net, &history, 30, ProbeEnd::Won));
    assert_eq!(
        joined(&race),
        [
            (ms(0), Step::Joined { follows: true }),
            (ms(30), Step::ProbeEnded(ProbeEnd::Won)),
        ]
    );
    assert_eq!(race.dials(), [v4(2)]);
    assert_eq!(race.took, ms(40));
    assert!(race.info().followed());
    assert!(race.info().used_history());
}

/// A probe that never ends holds its follower one wait: 250 ms on the learned schedule
/// (RFC 8305's attempt delay, for a schedule that starts every address at once). Then the
/// follower races on its own: every address, the 10 ms host winning at 260 ms.
#[test]
fn the_wait_ends_after_one_attempt_delay() {
    let (net, history) = (net(), History::new(64));
    let c = config(Schedule::learned());
    let race = race(&net, &c, &history, Part::Follow(None));
    assert_eq!(race.dials(), all());
    assert_eq!(race.took, ms(260));
    assert!(!race.info().followed());
    // On a staggered schedule, its own attempt delay: 100 ms.
    let c = config(Schedule::rfc8305().attempt_delay(ms(100)));
    let race = net.with(&c).dns(dns()).burst(Part::Follow(None)).run();
    let first_dial = race.log.iter().find(|(_, s)| matches!(s, Step::Dial(_)));
    assert_eq!(first_dial.map(|(at, _)| *at), Some(ms(100)));
}

/// A follower whose total timeout leaves less than two waits holds half of it: 50 ms of
/// a 100 ms timeout, and connects on its own by 60 ms.
#[test]
fn a_follower_keeps_half_its_total_timeout() {
    let net = net();
    let c = Config {
        total_timeout: Some(ms(100)),
        ..config(Schedule::learned())
    };
    let race = net.with(&c).dns(dns()).burst(Part::Follow(None)).run();
    assert_eq!(race.dials(), all());
    assert_eq!(race.took, ms(60));
}

/// A probe that fails, or that its caller drops, lets its follower go at once, on its
/// own: at 100 ms it races every address, and connects at 110 ms.
#[test]
fn a_failed_or_dropped_probe_lets_its_follower_go_at_once() {
    for end in [ProbeEnd::Failed, ProbeEnd::Dropped] {
        let (net, history) = (net(), History::new(64));
        let c = config(Schedule::learned());
        let race = race(&net, &c, &history, probe(&net, &history, 100, end));
        assert_eq!(
            joined(&race),
            [
                (ms(0), Step::Joined { follows: true }),
                (ms(100), Step::ProbeEnded(end)),
            ],
            "{end:?}"
        );
        assert_eq!(race.dials(), all(), "{end:?}");
        assert_eq!(race.took, ms(110), "{end:?}");
        assert!(!race.info().followed(), "{end:?}");
    }
}

/// The probe races as it would alone: every address at its start.
#[test]
fn the_probe_races_alone() {
    let net = net();
    let c = config(Schedule::learned());
    let race = net.with(&c).dns(dns()).burst(Part::Probe).run();
    assert_eq!(joined(&race), [(ms(0), Step::Joined { follows: false })]);
    assert_eq!(race.dials(), all());
    assert_eq!(race.took, ms(10));
}

/// A race whose best address the history knows takes no part: it never joins, and dials
/// that address alone at once.
#[test]
fn a_warm_race_never_joins() {
    let (net, history) = (net(), History::new(64));
    history.learn([(v4(2), None, Lesson::Connected(ms(10)))], net.now());
    let c = config(Schedule::learned());
    let race = race(&net, &c, &history, Part::Follow(None));
    assert_eq!(joined(&race), []);
    assert_eq!(race.dials(), [v4(2)]);
    assert_eq!(race.took, ms(10));
}

/// A follower starts at once when an answer brings an address the history knows: the
/// `A` answer (every host cold) makes it follow at 0; the `AAAA` answer at 20 ms brings
/// `[fd00::1]`, known at 5 ms, which it dials then, alone.
#[test]
fn a_follower_starts_at_once_on_a_known_address() {
    let history = History::new(64);
    let net = net().host(v6(0), Up(ms(5)));
    history.learn([(v6(0), None, Lesson::Connected(ms(5)))], net.now());
    let dns = Dns::new()
        .answer(ms(0), Family::V4, all())
        .answer(ms(20), Family::V6, vec![v6(0)]);
    let c = config(Schedule::learned());
    let race = net
        .with(&c)
        .dns(dns)
        .knowing(knowing(&history))
        .burst(Part::Follow(None))
        .run();
    assert_eq!(joined(&race), [(ms(0), Step::Joined { follows: true })]);
    assert_eq!(race.dials(), [v6(0)]);
    assert_eq!(race.took, ms(25));
}

/// Knowledge that explores every race it is asked about.
struct Exploring<'a>(Ranking<'a>);

impl Knowledge for Exploring<'_> {
    fn rank(&self, addr: SocketAddr, rfc6724: bool, now: Instant) -> crate::order::Ranked {
        self.0.rank(addr, rfc6724, now)
    }

    fn explore(&self, _: SocketAddr, _: Instant) -> bool {
        true
    }

    fn learn(
        &self,
        lessons: impl Iterator<Item = (SocketAddr, Option<std::net::IpAddr>, Lesson)>,
        now: Instant,
    ) {
        self.0.learn(lessons, now);
    }
}

/// A follower never explores: with knowledge that would explore every race, a warm race
/// dials all four, and a follower only what its probe found.
#[test]
fn a_follower_never_explores() {
    let (net, history) = (net(), History::new(64));
    let c = config(Schedule::learned());
    let race = net
        .with(&c)
        .dns(dns())
        .knowing(Exploring(knowing(&history)))
        .burst(probe(&net, &history, 30, ProbeEnd::Won))
        .run();
    assert_eq!(race.dials(), [v4(2)]);
    let warm = net
        .with(&c)
        .dns(dns())
        .knowing(Exploring(knowing(&history)))
        .run();
    assert_eq!(warm.dials().len(), 4);
}

/// A race with a single address, and no answer to come, takes no part: following would
/// save it nothing, as it would dial that address anyway.
#[test]
fn a_single_address_never_joins() {
    let net = net();
    let c = config(Schedule::learned());
    let dns = Dns::new()
        .answer(ms(0), Family::V4, vec![v4(2)])
        .answer(ms(0), Family::V6, vec![]);
    let race = net.with(&c).dns(dns).burst(Part::Follow(None)).run();
    assert_eq!(joined(&race), []);
    assert_eq!(race.took, ms(10));
    // Nor does a literal address.
    let race = net.with(&c).list([v4(2)]).burst(Part::Follow(None)).run();
    assert_eq!((joined(&race), race.took), (vec![], ms(10)));
}
