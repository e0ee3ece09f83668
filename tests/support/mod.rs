//! Helpers shared by the integration tests. Every address used is loopback.
#![allow(dead_code)] // each test binary uses a different subset

use std::error::Error;
use std::net::IpAddr;
use std::time::Duration;

use connie::ConnectError;

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("a valid IP literal")
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every message in an error's source chain, outermost first.
pub fn error_chain(e: &(dyn Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out
}

/// The first `ConnectError` in an error's source chain (the error itself included).
pub fn find_connect_error<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a ConnectError> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<ConnectError>() {
            return Some(found);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|i| i.downcast_ref::<ConnectError>()) {
                return Some(found);
            }
        }
        cur = err.source();
    }
    None
}

/// Real time allowed for something that must happen "at once" on loopback. A test that
/// hits it fails; it only bounds how long a broken build hangs.
pub const PROMPTLY: Duration = Duration::from_secs(5);
