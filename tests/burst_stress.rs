//! Cold bursts on a multi-thread runtime, with callers dropping races at random moments,
//! the probes among them: no race hangs (a lost wake-up or a deadlock would), every race
//! not dropped connects, and the process's descriptors come back to where they were. A
//! binary of its own, so that no other test's sockets are counted.

mod support;

use std::time::Duration;

use connie::{Connectivity, ConnieConnector};
use connie_lab::Lab;
use support::{bounded, ip, open_fds};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cold_bursts_with_dropped_races_neither_hang_nor_leak() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.21.1"))
            .refused(ip("127.0.21.2"))
            .alive(ip("127.0.21.3"))
            .alive(ip("127.0.21.4"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("stress").start().await.unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .connectivity(Connectivity::Assume);
        let port = lab.port();
        // The resolver's sockets, and the runtime's, are made by the first connect.
        drop(connector.connect(("stress.lab.test.", port)).await.unwrap());
        let baseline = open_fds();
        for round in 0..20u64 {
            // Cold again: every round is a burst to a host the history does not know.
            connector.forget();
            let tasks: Vec<_> = (0..100u64)
                .map(|_| {
                    let connector = connector.clone();
                    tokio::spawn(async move {
                        connector
                            .connect(("stress.lab.test.", port))
                            .await
                            .map(drop)
                    })
                })
                .collect();
            // Drop one race in seven, the first (most likely the probe) among them, each
            // after a few microseconds to a millisecond.
            for (n, task) in tasks.iter().enumerate() {
                if n % 7 == 0 {
                    let micros = (round * 131 + n as u64 * 17) % 1000;
                    tokio::time::sleep(Duration::from_micros(micros)).await;
                    task.abort();
                }
            }
            for (n, task) in tasks.into_iter().enumerate() {
                match task.await {
                    Ok(result) => result.expect("a race not dropped connects"),
                    Err(e) => assert!(e.is_cancelled() && n % 7 == 0, "{e}"),
                }
            }
        }
        // Every losing socket is closed as its race ends; give the runtime's workers a
        // moment to drop the tasks aborted last.
        let mut open = open_fds();
        for _ in 0..100 {
            if open <= baseline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            open = open_fds();
        }
        assert!(
            open <= baseline,
            "{open} descriptors open, {baseline} before"
        );
    })
    .await;
}
