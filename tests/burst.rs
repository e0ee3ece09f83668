//! A cold burst on real loopback sockets: many connects at once to one name of
//! blackholed, refused and alive hosts, behind the lab's DNS server (`burst` module). The
//! SYNs are counted as they leave, by a dialer that counts each `connect()` per address
//! before handing it to the `TcpDialer`, and the alive hosts count what they accepted.

#[path = "support/counting.rs"]
mod counting;
mod support;

use connie::{ConnectInfo, Connectivity, ConnieConnector};
use connie_lab::{DnsServer, HostKind, Lab, RecordType};
use counting::Counting;
use support::{bounded, ip};

/// `burst.lab.test.`: two blackholed hosts, one refused, two alive, on one port.
async fn lab() -> Lab {
    Lab::builder()
        .blackholed(ip("127.0.20.1"))
        .blackholed(ip("127.0.20.2"))
        .refused(ip("127.0.20.3"))
        .alive(ip("127.0.20.4"))
        .alive(ip("127.0.20.5"))
        .build()
        .await
        .unwrap()
}

/// A connector resolving through `dns`, coordinating or not, and the SYNs it counts.
fn counting(dns: &DnsServer, coordinate: bool) -> (ConnieConnector<Counting>, Counting) {
    let counting = Counting::default();
    let connector = ConnieConnector::new()
        .resolver(dns.resolver())
        .connectivity(Connectivity::Assume)
        .coordinate(coordinate)
        .with_dialer(counting.clone());
    (connector, counting)
}

/// `n` connects to `burst.lab.test.` at once, each on its own task of a current-thread
/// runtime, so that each has looked its name up and joined before the first has won.
async fn burst(connector: &ConnieConnector<Counting>, port: u16, n: usize) -> Vec<ConnectInfo> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move {
                let (stream, info) = connector.connect(("burst.lab.test.", port)).await?;
                drop(stream);
                Ok::<_, connie::ConnectError>(info)
            })
        })
        .collect();
    let mut infos = Vec::new();
    for task in tasks {
        infos.push(task.await.unwrap().expect("no connect fails"));
    }
    infos
}

/// 200 connects at once to a cold five-address name: one races the five, the others dial
/// its winner alone once it has won; 204 SYNs, where racing alone sends 1,000. DNS gets
/// one `A` and one `AAAA` query for them all (hickory coalesces the lookups in flight).
#[tokio::test]
async fn a_cold_burst_on_loopback_sends_one_race_of_syns() {
    bounded(async {
        let lab = lab().await;
        let dns = lab.dns("burst").start().await.unwrap();
        let (connector, counting) = counting(&dns, true);
        let infos = burst(&connector, lab.port(), 200).await;
        let followers = infos.iter().filter(|i| i.followed()).count();
        println!(
            "200 connects at once to 5 addresses: {} SYNs, {followers} followed",
            counting.total()
        );
        assert_eq!(counting.total(), 5 + 199);
        assert_eq!(followers, 199);
        // The alive hosts accepted what was dialed to them.
        let alive: usize = lab.alive_hosts().map(|h| h.accepted()).sum();
        let to_alive: usize = lab
            .addrs_of(HostKind::Alive)
            .into_iter()
            .map(|a| counting.to(a))
            .sum();
        assert_eq!(alive, to_alive);
        for addr in lab.addrs_of(HostKind::Blackholed) {
            assert_eq!(counting.to(addr), 1, "{addr} dialed by the probe only");
        }
        assert_eq!(dns.queries(RecordType::A), 1);
        assert_eq!(dns.queries(RecordType::AAAA), 1);
    })
    .await;
}

/// The same burst with coordination off: every connect races the five.
#[tokio::test]
async fn without_coordination_every_connect_races_every_address() {
    bounded(async {
        let lab = lab().await;
        let dns = lab.dns("burst").start().await.unwrap();
        let (connector, counting) = counting(&dns, false);
        burst(&connector, lab.port(), 200).await;
        println!("200 connects uncoordinated: {} SYNs", counting.total());
        assert_eq!(counting.total(), 5 * 200);
    })
    .await;
}
