//! A history shared by more than one race, on the paused clock: races at once, and the
//! clones of a connector. (The learned schedule's rules, over a series of races, are
//! tested on the machine: `machine/tests/learned.rs`.)

use super::*;
use crate::history::History;

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
    let memory = Ranking {
        history: Some(history),
        sources: None,
        nat64: None,
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
