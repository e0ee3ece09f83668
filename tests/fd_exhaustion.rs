//! When the process runs out of file descriptors (EMFILE), the race goes on with the
//! attempts that got a socket, and reports the cause when none did — no panic.
//! Its own test binary, because it lowers the process's descriptor limit.

mod support;

use connie::{ConnieConnector, ErrorKind, Outcome};
use connie_lab::{HostKind, Lab};
use std::time::Duration;

use rlimit::Resource;
use support::{bounded, ip};

const EMFILE: i32 = 24;

/// The `n` lowest descriptor numbers not in use. A new descriptor always takes the lowest
/// free number, and fails with EMFILE if that number is not below the soft limit.
fn lowest_free(n: usize) -> Vec<u64> {
    let mut open: Vec<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            // Skip the descriptor of this very listing.
            let target = std::fs::read_link(e.path()).ok()?;
            if target.ends_with("fd") && target.starts_with("/proc") {
                return None;
            }
            e.file_name().to_str()?.parse().ok()
        })
        .collect();
    open.sort_unstable();
    (0..)
        .filter(|fd| open.binary_search(fd).is_err())
        .take(n)
        .collect()
}

#[tokio::test]
async fn running_out_of_descriptors_is_reported_not_fatal() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.2"))
            .alive(ip("127.0.0.3"))
            .blackholed(ip("127.0.0.4"))
            .blackholed(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        // A bound, so a mistake here fails the test rather than hanging on the blackholes.
        let connector = ConnieConnector::new().total_timeout(Some(Duration::from_secs(5)));
        let (soft, hard) = Resource::NOFILE.get().unwrap();

        // No descriptor left: every attempt fails to create its socket.
        let free = lowest_free(3);
        Resource::NOFILE.set(free[0], hard).unwrap();
        let err = connector.connect(lab.addrs()).await.unwrap_err();
        Resource::NOFILE.set(soft, hard).unwrap();
        assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
        assert_eq!(err.attempts().len(), 4);
        for a in err.attempts() {
            assert_eq!(a.error().raw_os_error(), Some(EMFILE), "{a}");
        }

        // Two descriptors left: the first two attempts (blackholed, alive) get sockets, the
        // other two fail at once, and the race is won by the alive one regardless.
        let free = lowest_free(3);
        Resource::NOFILE.set(free[2], hard).unwrap();
        let result = connector.connect(lab.addrs()).await;
        Resource::NOFILE.set(soft, hard).unwrap();
        let (_stream, info) = result.unwrap();
        assert_eq!(info.remote_addr(), lab.addrs_of(HostKind::Alive)[0]);
        let failed = info
            .attempts()
            .iter()
            .filter(|a| matches!(a.outcome(), Outcome::Failed(_)))
            .count();
        assert_eq!(failed, 2, "{info:#?}");
    })
    .await
}
