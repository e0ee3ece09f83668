//! File-descriptor accounting: after many races — won, cancelled at random points, or won
//! by two attempts at the same instant — the process holds exactly the descriptors it held
//! before. Its own test binary, because it counts every descriptor of the process.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connie::ConnieConnector;
use connie_lab::{HostKind, Lab};
use futures_util::stream::{FuturesUnordered, StreamExt};
use support::{bounded, ip, open_fds};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

const RACES: usize = 1_000;

/// Waits (bounded) until the process is back to `baseline` descriptors: accepted
/// server-side sockets close when the lab's reader sees EOF, a moment after the client.
async fn settle(baseline: usize, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while open_fds() != baseline {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {} descriptors open, baseline {baseline}",
            open_fds()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A tiny deterministic generator: cancellation points without a rand dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_return_to_baseline() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.2"))
            .blackholed(ip("127.0.0.3"))
            .blackholed(ip("127.0.0.4"))
            .alive(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        let pair = Lab::builder()
            .alive(ip("127.0.0.6"))
            .alive(ip("127.0.0.7"))
            .build()
            .await
            .unwrap();
        let connector = ConnieConnector::new();
        // Warm up anything lazily allocated (runtime internals), then take the baseline.
        drop(connector.connect(lab.addrs()).await.unwrap());
        settle_until_quiet().await;
        let baseline = open_fds();

        // (a) Races of [dead, dead, dead, alive] that win.
        for _ in 0..RACES {
            let (stream, info) = connector.connect(lab.addrs()).await.unwrap();
            assert_eq!(info.remote_addr(), lab.addrs_of(HostKind::Alive)[0]);
            drop(stream);
        }
        settle(baseline, "after winning races").await;

        // (b) The same races on the RFC 8305 schedule (the alive address is attempted at
        // 750 ms), a thousand at once, each dropped at a random point in its first second.
        let staggered = ConnieConnector::new().schedule(connie::Schedule::rfc8305());
        let mut rng = Lcg(7);
        let races: FuturesUnordered<_> = (0..RACES)
            .map(|_| {
                let at = Duration::from_millis(rng.below(1_000));
                tokio::time::timeout(at, staggered.connect(lab.addrs()))
            })
            .collect();
        let results: Vec<_> = races.collect().await;
        let cancelled = results.iter().filter(|r| r.is_err()).count();
        assert!(
            cancelled > RACES / 2 && cancelled < RACES,
            "{cancelled} of {RACES} cancelled: want a mix of cancelled and finished races"
        );
        drop(results);
        settle(baseline, "after cancelled races").await;

        // (c) Two attempts connect at the same instant; the loser must be closed.
        let barrier = Arc::new(Barrier::new(2));
        let both = ConnieConnector::new().with_dialer(move |addr: SocketAddr| {
            let barrier = barrier.clone();
            async move {
                let stream = TcpStream::connect(addr).await?;
                barrier.wait().await;
                Ok(stream)
            }
        });
        for _ in 0..RACES / 10 {
            let (stream, _) = both.connect(pair.addrs()).await.unwrap();
            drop(stream);
        }
        settle(baseline, "after simultaneous wins").await;
        let accepted: usize = pair.alive_hosts().map(|h| h.accepted()).sum();
        assert_eq!(
            accepted,
            2 * RACES / 10,
            "both attempts of every race connected"
        );
    })
    .await
}

/// Lets the lab's accept loops finish with the warm-up connection.
async fn settle_until_quiet() {
    let mut last = open_fds();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = open_fds();
        if now == last {
            return;
        }
        last = now;
    }
}
