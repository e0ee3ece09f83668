//! When the process runs out of file descriptors (EMFILE), the race goes on with the
//! attempts that got a socket, and reports the cause when none did — no panic.
//! Its own test binary, because it lowers the process's descriptor limit; its tests take
//! turns at that ([`taking_turns`]).

mod support;

use connie::{ConnieConnector, ErrorKind, Outcome, Schedule};
use connie_lab::{HostKind, Lab};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rlimit::Resource;
use support::{bounded, ip};

const EMFILE: i32 = 24;

/// Held by a test for as long as its runtime exists, so that the tests of this binary (run
/// on threads of one process) take turns at the descriptor limit.
static LIMIT: Mutex<()> = Mutex::new(());

/// Runs `test` alone in the process: [`LIMIT`] is taken before its runtime is built, and
/// given back after the runtime is dropped and the soft descriptor limit restored.
///
/// A runtime opens descriptors when it is built (tokio's epoll and eventfd). A
/// `#[tokio::test]` builds its runtime when libtest starts its thread, which may be while
/// the other test has counted the free descriptors and lowered the limit: the runtime
/// would take the places counted for the race's sockets, or fail to build with EMFILE.
/// With the turn taken first, nothing but the test's own race opens a descriptor while
/// the limit is lowered.
fn taking_turns(test: impl Future<Output = ()>) {
    let _turn = LIMIT.lock().unwrap_or_else(PoisonError::into_inner);
    let _restore = RestoreLimit(Resource::NOFILE.get().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bounded(test));
}

/// Sets the descriptor limits back to these when dropped, even by a test that panicked
/// while it had lowered them, so that the next test starts with its descriptors.
struct RestoreLimit((u64, u64));

impl Drop for RestoreLimit {
    fn drop(&mut self) {
        let (soft, hard) = self.0;
        let _ = Resource::NOFILE.set(soft, hard);
    }
}

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

#[test]
fn running_out_of_descriptors_is_reported_not_fatal() {
    taking_turns(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.2"))
            .alive(ip("127.0.0.3"))
            .blackholed(ip("127.0.0.4"))
            .blackholed(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        // Every address at once, in the order given, and no history: which attempts get
        // the descriptors left depends on nothing but that order. A total timeout, so a
        // mistake here fails the test rather than hanging on the blackholes.
        let connector = ConnieConnector::new()
            .schedule(Schedule::race_all())
            .keep_given_order(true)
            .history(0)
            .total_timeout(Some(Duration::from_secs(5)));
        // The process-wide source of the lab's /24 is cached first (nothing listens on
        // port 1: both refused), so that ranking the lab's addresses opens no descriptor
        // while the limit is lowered: only the attempts' sockets do.
        let refused: Vec<SocketAddr> =
            vec![([127, 0, 0, 9], 1).into(), ([127, 0, 0, 10], 1).into()];
        connector.connect(refused).await.unwrap_err();
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
            .filter(|a| matches!(a.outcome(), Outcome::Failed { .. }))
            .count();
        assert_eq!(failed, 2, "{info:#?}");
    });
}

/// A race that ran out of descriptors while ranking its addresses (the source-address
/// lookup of `::1` failed with EMFILE) leaves nothing behind in the process's
/// source-address cache: the next race, with descriptors again, finds the route to `::1`
/// and dials it first (RFC 6724 precedence), rather than taking IPv6 for unroutable and
/// dialing the blackholed IPv4 address first.
#[test]
fn running_out_of_descriptors_leaves_no_route_behind() {
    taking_turns(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.1.2"))
            .alive(ip("::1"))
            .build()
            .await
            .unwrap();
        // Each connector its own history: only the process's source cache is shared.
        let connector = || {
            ConnieConnector::new()
                .schedule(Schedule::rfc8305())
                .total_timeout(Some(Duration::from_secs(5)))
        };
        // IPv4's source is cached first (nothing listens on port 1: both refused), so
        // that only `::1` is looked up while descriptors are out; in a /24 of its own, so
        // that the other test's races leave nothing there.
        let refused: Vec<SocketAddr> =
            vec![([127, 0, 1, 9], 1).into(), ([127, 0, 1, 10], 1).into()];
        connector().connect(refused).await.unwrap_err();
        let (soft, hard) = Resource::NOFILE.get().unwrap();

        let free = lowest_free(3);
        Resource::NOFILE.set(free[0], hard).unwrap();
        let err = connector().connect(lab.addrs()).await.unwrap_err();
        Resource::NOFILE.set(soft, hard).unwrap();
        assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);

        let (_stream, info) = connector().connect(lab.addrs()).await.unwrap();
        let dialed: Vec<_> = info.attempts().iter().map(|a| a.addr().ip()).collect();
        assert_eq!(dialed, [ip("::1")], "{info:#?}");
    });
}
