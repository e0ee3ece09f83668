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

/// The name `burst.test`, its twelve hosts alive, on a connector whose clones race it,
/// with room for `per_host` attempts to it beside each race's first, if given.
fn connector(net: &Net, coordinate: bool, per_host: Option<usize>) -> ConnieConnector<SimDialer> {
    let ips: Vec<IpAddr> = (0..12).map(|i| twelve(i).ip()).collect();
    let connector = ConnieConnector::new()
        .connectivity(Connectivity::Assume)
        .attempt_budget(AttemptBudget::Unbounded)
        .resolver(StaticResolver::new().host("burst.test", ips))
        .coordinate(coordinate);
    match per_host {
        Some(max) => connector.attempts_per_host(max),
        None => connector,
    }
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

/// A cold burst of 500 connects: each racing alone, all twelve addresses each (6,000
/// SYNs); with a cap of 16 per host alone, one SYN per race and 16 more at a time (1,030);
/// coordinated, the first races them and the other 499 dial its winner, the 10 ms host,
/// once it has won: 511 SYNs, every connect within 20 ms, the oracle (10 ms, a lone race)
/// plus one round trip, well within the oracle plus one attempt delay.
#[tokio::test(start_paused = true)]
async fn a_cold_burst_costs_a_syn_a_connect_and_one_race() {
    let alone = twelve_net();
    let ends = burst(&connector(&alone, false, None), 500).await;
    let before = alone.dials.lock().unwrap().len();
    assert_eq!(before, 6000);
    assert!(ends
        .iter()
        .all(|&(took, followed)| took == ms(10) && !followed));

    let capped = twelve_net();
    let ends = burst(&connector(&capped, false, Some(16)), 500).await;
    let cap_only = capped.dials.lock().unwrap().len();
    let slowest = ends.iter().map(|&(took, _)| took).max().unwrap();
    assert!(cap_only < before / 4, "{cap_only}");

    let net = twelve_net();
    let ends = burst(&connector(&net, true, None), 500).await;
    let after = net.dials.lock().unwrap().len();
    println!(
        "a cold burst of 500 connects to 12 addresses: {before} SYNs alone, \
         {cap_only} with a cap of 16 per host alone (the slowest in {slowest:?}), {after} coordinated"
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

/// A warm burst: once the history knows the name, 500 connects at once dial its best
/// host alone, but for one that explores (races every address): 511 SYNs, where one race
/// in a hundred exploring would make 555.
#[tokio::test(start_paused = true)]
async fn a_warm_burst_explores_once() {
    let net = twelve_net();
    let connector = connector(&net, true, None);
    burst(&connector, 1).await;
    net.dials.lock().unwrap().clear();
    let ends = burst(&connector, 500).await;
    assert_eq!(net.dials.lock().unwrap().len(), 500 + 11);
    assert!(ends
        .iter()
        .all(|&(took, followed)| took == ms(10) && !followed));
}

/// The probe's caller drops it at 5 ms, before it wins: a follower probes in its place and
/// races the twelve (winning at 15 ms), and the other eight follow it (connecting at
/// 25 ms). No race hangs, nothing is left in flight.
#[tokio::test(start_paused = true)]
async fn a_dropped_probe_hands_over_to_a_follower() {
    let net = twelve_net();
    let connector = connector(&net, true, None);
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
    assert_eq!(connector.bursts.probes(), 0);
    assert_eq!(net.open(), 0);
}

/// The simulated network, through a dialer whose every connection negotiated HTTP/2.
#[derive(Clone)]
struct H2(SimDialer);

impl Dial for H2 {
    type Connection = Socket;

    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<Socket>> + Send {
        self.0.dial(to)
    }

    fn alpn(&self, _: &Socket) -> Option<Vec<u8>> {
        Some(b"h2".to_vec())
    }
}

/// `h2.test`, one host that accepts after `rtt`, through `dialer`.
fn one_host<D>(rtt: Duration, dialer: impl FnOnce(SimDialer) -> D) -> (Net, ConnieConnector<D>) {
    let net = Net::of([(SocketAddr::from(([127, 0, 1, 100], 443)), Host::Up(rtt))]);
    let connector = ConnieConnector::new()
        .connectivity(Connectivity::Assume)
        .resolver(StaticResolver::new().host("h2.test", [net.all()[0].ip()]))
        .with_dialer(dialer(net.dialer()));
    (net, connector)
}

/// When `connect` of `connector` to `h2.test`, started `after` from now, ends, from now.
fn started_after<D>(
    connector: &ConnieConnector<D>,
    after: Duration,
) -> tokio::task::JoinHandle<Duration>
where
    D: Dial + Clone + Send + Sync + 'static,
    D::Connection: Send,
{
    let connector = connector.clone();
    let start = Instant::now();
    tokio::spawn(guarded(async move {
        sleep(after).await;
        connector.connect(("h2.test", 443)).await.expect("connects");
        start.elapsed()
    }))
}

/// Once a host has negotiated HTTP/2, a race to it waits for the one in flight: race A
/// starts at 0 and connects at 50 ms; race B, started at 10 ms, waits for it, dials at
/// 50 ms and connects at 100 ms (a pool handing out A's connection would have dropped B
/// by then). A host that does not speak HTTP/2 gets no such wait.
#[tokio::test(start_paused = true)]
async fn a_race_to_an_http2_host_waits_for_the_one_in_flight() {
    let (net, connector) = one_host(ms(50), H2);
    // The first connect tells the connector that the host speaks HTTP/2.
    connector.connect(("h2.test", 443)).await.unwrap();
    let (a, b) = (
        started_after(&connector, ms(0)),
        started_after(&connector, ms(10)),
    );
    assert_eq!(a.await.unwrap(), ms(50));
    assert_eq!(b.await.unwrap(), ms(100));
    assert_eq!(net.dials.lock().unwrap().len(), 3);

    let (_, plain) = one_host(ms(50), |d| d);
    plain.connect(("h2.test", 443)).await.unwrap();
    let (a, b) = (started_after(&plain, ms(0)), started_after(&plain, ms(10)));
    assert_eq!((a.await.unwrap(), b.await.unwrap()), (ms(50), ms(60)));
}

/// The wait lasts 300 ms at most: with a 500 ms host, race B, started at 10 ms, dials at
/// 310 ms and connects at 810 ms.
#[tokio::test(start_paused = true)]
async fn the_http2_wait_lasts_300ms_at_most() {
    let (_, connector) = one_host(ms(500), H2);
    connector.connect(("h2.test", 443)).await.unwrap();
    let (a, b) = (
        started_after(&connector, ms(0)),
        started_after(&connector, ms(10)),
    );
    assert_eq!(a.await.unwrap(), ms(500));
    assert_eq!(b.await.unwrap(), ms(810));
}

/// `cap.test`: three hosts that accept after 30, 20 and 10 ms, in DNS order.
fn three_hosts(connector: ConnieConnector) -> (Net, ConnieConnector<SimDialer>) {
    let net = Net::of([30, 20, 10].into_iter().enumerate().map(|(i, rtt)| {
        let addr = SocketAddr::from(([127, 0, 1, 10 + i as u8], 443));
        (addr, Host::Up(ms(rtt)))
    }));
    let connector = connector
        .connectivity(Connectivity::Assume)
        .attempt_budget(AttemptBudget::Unbounded)
        .history(0)
        .schedule(crate::Schedule::race_all())
        .keep_given_order(true)
        .resolver(StaticResolver::new().host("cap.test", net.all().iter().map(|a| a.ip())))
        .with_dialer(net.dialer());
    (net, connector)
}

/// When each attempt of a connect to `cap.test` started, and when it connected.
async fn starts(connector: ConnieConnector<SimDialer>) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let (_, info) = connector.connect(("cap.test", 443)).await.unwrap();
    let starts = info.attempts().iter().map(|a| a.started()).collect();
    (starts, start.elapsed())
}

/// Two races at once to one host, with room for two attempts beside each race's first:
/// race A takes both, dialing the three addresses at 0 and connecting at 10 ms; race B
/// dials its first at 0, waits for the cap, and dials the other two when A's end gives
/// their places back, at 10 ms, connecting at 20 ms. With the default cap of 16 both
/// connect at 10 ms.
#[tokio::test(start_paused = true)]
async fn races_to_one_host_share_its_cap() {
    let (net, connector) = three_hosts(ConnieConnector::new().attempts_per_host(2));
    let a = tokio::spawn(starts(connector.clone()));
    let b = tokio::spawn(starts(connector));
    assert_eq!(a.await.unwrap(), (vec![ms(0); 3], ms(10)));
    assert_eq!(b.await.unwrap(), (vec![ms(0), ms(10), ms(10)], ms(20)));
    assert_eq!(net.dials.lock().unwrap().len(), 6);

    let (_, connector) = three_hosts(ConnieConnector::new());
    let a = tokio::spawn(starts(connector.clone()));
    let b = tokio::spawn(starts(connector));
    assert_eq!(a.await.unwrap(), (vec![ms(0); 3], ms(10)));
    assert_eq!(b.await.unwrap(), (vec![ms(0); 3], ms(10)));
}
