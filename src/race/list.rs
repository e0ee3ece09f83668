//! The addresses a race would attempt, as one list in the order it would attempt them, for a
//! client that connects by itself (reqwest's `dns::Resolve`).
//!
//! It runs the race's own state machine ([`Machine`]) on the DNS answers and dials nothing, so
//! the address cap and its fair share between the families, the address policy and the
//! interleaving of the families are the race's, not a copy of them.

use std::net::SocketAddr;

use futures_util::stream::{Stream, StreamExt};
use tokio::time::{timeout_at, Instant};
use tracing::debug;

use super::machine::{Knowledge, Machine};
use crate::config::Config;
use crate::dns::Answer;
use crate::metrics;
use crate::ConnectError;
/// Waits for every answer of `answers` (for at most the plan's total timeout), then returns
/// their addresses in the order a race would attempt them once both families had answered:
/// at most `max_addresses`, shared fairly between the families; without the addresses the
/// policy refuses; the preferred family's first `first_family_count` addresses, then the
/// families alternating.
///
/// If the total timeout elapses first, the addresses already answered are returned, and a
/// lookup still running is given up (it goes on in the background to fill the cache).
///
/// # Errors
///
/// When no address is left, as a race with no address would fail:
/// [`RefusedByPolicy`](crate::ErrorKind::RefusedByPolicy) if the policy refused every
/// address, [`Dns`](crate::ErrorKind::Dns) if the lookups failed,
/// [`NoAddresses`](crate::ErrorKind::NoAddresses) if they found none, and
/// [`TimedOut`](crate::ErrorKind::TimedOut) if the total timeout elapsed first. With a
/// total timeout, [`NoTimeDriver`](crate::ErrorKind::NoTimeDriver) before waiting if the
/// runtime cannot make timers.
pub(crate) async fn addresses<K, S>(
    config: &Config,
    knowledge: K,
    mut answers: S,
) -> Result<Vec<SocketAddr>, ConnectError>
where
    K: Knowledge,
    S: Stream<Item = Answer> + Unpin,
{
    let start = Instant::now();
    let mut machine = Machine::new(config, knowledge, start.into_std());
    let deadline = machine.deadline().map(Instant::from_std);
    if deadline.is_some() {
        crate::runtime::timers()?;
    }
    let every_answer = async {
        while let Some(answer) = answers.next().await {
            let now = Instant::now();
            let error = answer.result.as_ref().err();
            let now = now.into_std();
            metrics::dns_answered(answer.family, error, start.into_std(), now);
            machine.answer(now, answer);
        }
    };
    let timed_out = match deadline {
        Some(deadline) => timeout_at(deadline, every_answer).await.is_err(),
        None => {
            every_answer.await;
            false
        }
    };
    if timed_out {
        debug!("total timeout elapsed; listing the addresses answered so far");
    }
    machine.dns_done(Instant::now().into_std());
    let addrs: Vec<SocketAddr> = machine.drain().collect();
    if machine.left_out() > 0 {
        debug!(
            dropped = machine.left_out(),
            "addresses over the cap were left out"
        );
    }
    match (addrs.is_empty(), timed_out) {
        (false, _) => Ok(addrs),
        (true, false) => Err(machine.exhausted()),
        (true, true) => Err(machine.timed_out()),
    }
}
