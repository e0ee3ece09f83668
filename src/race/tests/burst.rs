//! Many races to one cold host at once, through the connector (`burst`): one shared host,
//! every race starting at the same instant, on the paused clock and the simulated
//! network, with the connector's own history, bursts and budget.

use std::net::IpAddr;

use super::*;
use crate::dns::StaticResolver;
use crate::{Connectivity, ConnieConnector};

/// The twelve-address name's handshake times (ms): 10 ms to 200 ms, the fastest fifth.
const TWELVE: [u64; 12] = [120, 45, 200, 80, 10, 160, 30, 100, 180, 60, 140, 20];

fn twelve(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 1, i as u8 + 1], 443))
}

/// The name `burst.test`, its twelve hosts alive, on a connector whose clones race it.
fn connector(net: &Net, coordinate: bool) -> ConnieConnector<SimDialer> {
    let ips: Vec<IpAddr> = (0..12).map(|i| twelve(i).ip()).collect();
    ConnieConnector::new()
        .connectivity(Connectivity::Assume)
        .attempt_budget(AttemptBudget::Unbounded)
        .resolver(StaticResolver::new().host("burst.test", ips))
        .coordinate(coordinate)
        .with_dialer(net.dialer())
}

fn twelve_net() -> Net {
    Net::of((0..12).map(|i| (twelve(i), Host::Up(ms(TWELVE[i])))))
}

/// `n` connects to `burst.test` started at once: how long each took, and whether it
/// followed another.
async fn burst(connector: &ConnieConnector<SimDialer>, n: usize) -> Vec<(Duration, bool)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(guarded(async move {
                let start = Instant::now();
                let (_, info) = connector.connect(("burst.test", 443)).await?;
                Ok::<_, ConnectError>((start.elapsed(), info.followed()))
            }))
        })
        .collect();
    let mut ends = Vec::new();
    for task in tasks {
        ends.push(task.await.expect("no panic").expect("no connect fails"));
    }
    ends
}

/// A cold burst of 500 connects: without coordination each races all twelve addresses
/// (6,000 SYNs); with it the first races them and the other 499 dial its winner, the
/// 10 ms host, once it has won: 511 SYNs, every connect within 20 ms, the oracle (10 ms,
/// a lone race) plus one round trip, well within the oracle plus one attempt delay.
#[tokio::test(start_paused = true)]
async fn a_cold_burst_costs_a_syn_a_connect_and_one_race() {
    let alone = twelve_net();
    let ends = burst(&connector(&alone, false), 500).await;
    let before = alone.dials.lock().unwrap().len();
    assert_eq!(before, 6000);
    assert!(ends
        .iter()
        .all(|&(took, followed)| took == ms(10) && !followed));

    let net = twelve_net();
    let ends = burst(&connector(&net, true), 500).await;
    let after = net.dials.lock().unwrap().len();
    println!(
        "a cold burst of 500 connects to 12 addresses: {before} SYNs alone, {after} coordinated"
    );
    assert_eq!(after, 12 + 499);
    assert!(after <= 500 + 12);
    assert_eq!(ends[0], (ms(10), false), "the probe");
    for (n, &end) in ends.iter().enumerate().skip(1) {
        assert_eq!(end, (ms(20), true), "connect {n}");
    }
    assert!(ends.iter().all(|&(took, _)| took <= ms(10) + ms(250)));
    assert_eq!(net.open(), 0, "every socket closed");
}

/// The probe's caller drops it at 5 ms, before it wins: a follower probes in its place and
/// races the twelve (winning at 15 ms), and the other eight follow it (connecting at
/// 25 ms). No race hangs, nothing is left in flight.
#[tokio::test(start_paused = true)]
async fn a_dropped_probe_hands_over_to_a_follower() {
    let net = twelve_net();
    let connector = connector(&net, true);
    let probe = {
        let connector = connector.clone();
        tokio::spawn(async move { connector.connect(("burst.test", 443)).await.map(|_| ()) })
    };
    tokio::task::yield_now().await;
    let followers = tokio::spawn({
        let connector = connector.clone();
        async move { burst(&connector, 9).await }
    });
    sleep(ms(5)).await;
    probe.abort();
    let mut ends = followers.await.unwrap();
    // Which follower sees the probe dropped first is the runtime's choice.
    ends.sort();
    assert_eq!(ends[0], (ms(15), false), "the new probe");
    assert_eq!(ends[1..], [(ms(25), true); 8]);
    assert_eq!(net.dials.lock().unwrap().len(), 12 + 12 + 8);
    let bursts = connector.bursts.as_deref().expect("coordination on");
    assert_eq!(bursts.probes(), 0);
    assert_eq!(net.open(), 0);
}
