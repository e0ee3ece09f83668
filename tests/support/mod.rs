//! Helpers shared by the integration tests. Every address used is loopback.
#![allow(dead_code)] // each test binary uses a different subset

use std::error::Error;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

pub mod http;

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("a valid IP literal")
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The first `T` in `error`'s `source()` chain (`error` included).
///
/// An `io::Error`'s `source()` skips the error it wraps (it returns that error's source),
/// so the walk looks inside each `io::Error` with `get_ref()` as well.
pub fn find<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Real time allowed for something that must happen "at once" on loopback (a connect, a
/// request). A blackholed address left to the kernel would hang for about two minutes, so
/// what beats this did not wait for one; a test that hits it fails.
pub const PROMPT: Duration = Duration::from_secs(5);

/// The process's open descriptors ([`connie_lab::open_fds`]); a test that counts them fails
/// where they cannot be counted, rather than comparing zeros.
pub fn open_fds() -> usize {
    connie_lab::open_fds().expect("counting descriptors needs a readable /proc/self/fd")
}

/// The most one test may take, in its runtime's time: real time, or paused time that
/// advances on its own while the test waits. A test that hits it has hung (a bug stopped
/// a race from ending) and fails here instead of holding CI until its own limit.
pub const TEST_BOUND: Duration = Duration::from_secs(120);

/// Runs a test body under [`TEST_BOUND`].
pub async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_BOUND, test).await {
        Ok(output) => output,
        Err(_) => panic!("the test hung: not done after {TEST_BOUND:?}"),
    }
}
