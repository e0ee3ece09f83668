//! A race of one address: nothing to choose between, order or learn, so none of the race
//! machinery. `race_connect(SocketAddr)` and the `Service<Uri>` for an IP literal come
//! here; a test holds the result equal to what the engine gives the same address.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, trace};

use super::attempt::Attempting;
use super::Plan;
use crate::budget::Budget;
use crate::dial::{Destination, Names, Progress};
use crate::error::{AttemptError, ErrorKind};
use crate::{Attempt, ConnectError, ConnectInfo, Dial, Outcome};

/// How a race was won, before anyone asks for the [`ConnectInfo`]: a caller that never
/// asks (`race_connect`) builds none and reads no local address.
#[derive(Debug)]
pub(crate) enum Won {
    /// The engine's account, without the local address.
    Raced(ConnectInfo),
    /// One address, dialed alone, connected after `elapsed`, its transport after
    /// `transport` if its dialer said so.
    Alone {
        addr: SocketAddr,
        elapsed: Duration,
        transport: Option<Duration>,
    },
}

impl Won {
    /// The full account, with the winner's local address and ALPN protocol.
    pub(crate) fn into_info(
        self,
        local_addr: Option<SocketAddr>,
        alpn: Option<Vec<u8>>,
    ) -> ConnectInfo {
        match self {
            Won::Raced(info) => ConnectInfo {
                local_addr,
                alpn,
                ..info
            },
            Won::Alone {
                addr,
                elapsed,
                transport,
            } => ConnectInfo {
                remote_addr: addr,
                local_addr,
                attempts: vec![Attempt {
                    addr,
                    started: Duration::ZERO,
                    duration: elapsed,
                    outcome: Outcome::Connected,
                    expected: None,
                    transport,
                }],
                dns_v4: None,
                dns_v6: None,
                refused: Vec::new(),
                elapsed,
                used_history: false,
                alpn,
            },
        }
    }
}

/// Whether [`one`] gives what the engine would for a single address under `plan`: with
/// an address policy or a total timeout the engine's own rules apply.
pub(crate) fn applies(plan: &Plan) -> bool {
    plan.policy.is_none() && plan.total_timeout.is_none()
}

/// Dials `addr`, alone, with the plan's attempt timeout and a permit of `budget`. Only
/// for a plan that [`applies`].
///
/// Without an attempt timeout it needs no timer; with one it fails with
/// [`ErrorKind::NoTimeDriver`] before dialing if the runtime cannot make timers.
pub(crate) async fn one<D: Dial>(
    dialer: &D,
    plan: &Plan,
    budget: &Budget,
    names: Names<'_>,
    addr: SocketAddr,
) -> Result<(D::Connection, Won), ConnectError> {
    debug_assert!(applies(plan), "a plan for the engine: {plan:?}");
    let start = Instant::now();
    let timeout = plan.attempt_timeout;
    if timeout.is_some() {
        crate::runtime::timers(start)?;
    }
    debug!(%addr, attempt = 0, ?timeout, "attempt started");
    // A race's first attempt never waits for the budget.
    let permit = budget.free();
    let progress = Progress::default();
    let to = Destination::new(addr, names, &progress, 0);
    let (_, result) = Attempting::new(0, dialer.dial(to), timeout, permit).await;
    let elapsed = start.elapsed();
    match result {
        Ok(conn) => {
            debug!(%addr, ?elapsed, "connected");
            let transport = progress.take().first().map(|&(_, at)| at - start);
            Ok((
                conn,
                Won::Alone {
                    addr,
                    elapsed,
                    transport,
                },
            ))
        }
        Err(error) => {
            trace!(%addr, kind = ?error.kind(), "attempt failed");
            let errors = vec![AttemptError::new(addr, error)];
            let error = ConnectError::failed(ErrorKind::AllAttemptsFailed, errors, Vec::new());
            Err(error.looked_up(false))
        }
    }
}
