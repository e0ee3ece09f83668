//! A race of one address, driven without the machine: `race_connect(SocketAddr)` and the
//! `Service<Uri>` for an IP literal come here.
//!
//! For a configuration that [`applies`], the [`Machine`](super::machine::Machine) given one
//! literal address makes one decision: start it at once, alone, with the attempt timeout,
//! and let its result end the race. This shortcut makes that decision without the
//! machine's queue, timer or attempt list, and its account and its error come from the
//! same [`Report`] the machine fills; a test holds both equal.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use tokio::time::sleep;

use super::report::{attempt_timed_out, Dialed, Report};
use crate::budget::Budget;
use crate::config::Config;
use crate::dial::{Destination, Origin, Progress};
use crate::metrics;
use crate::schedule::timing;
use crate::{ConnectError, ConnectInfo, Dial, IpFamily};

/// How a race was won, before anyone asks for the [`ConnectInfo`]: a caller that never
/// asks (`race_connect`) builds none and reads no local address.
#[derive(Debug)]
pub(crate) enum Won {
    /// The machine's account, without the local address. Boxed: the result of a race of
    /// one address is moved out through every layer of the connect, and unboxed this
    /// account would make it 224 bytes instead of 96.
    Raced(Box<ConnectInfo>),
    /// One address, dialed alone from `start`, its transport up at `transport` if its
    /// dialer said so.
    Alone {
        addr: SocketAddr,
        start: Instant,
        transport: Option<Instant>,
    },
}

impl Won {
    /// The account of a race that returns now: one won alone ends now, and only it reads
    /// the clock; a raced race's account has its end already. Without the winner's local
    /// address and ALPN protocol, which [`ConnectInfo::with_connection`] adds.
    pub(crate) fn into_info(self) -> ConnectInfo {
        match self {
            Won::Raced(info) => *info,
            Won::Alone {
                addr,
                start,
                transport,
            } => {
                let end = tokio::time::Instant::now().into_std();
                Report::alone(addr, start, transport, end)
            }
        }
    }
}

/// Whether [`one_to`] makes the machine's decision for a single address under `config`:
/// with an address policy or one address family (either may refuse it) or a total
/// timeout (its own error and partial deadlines) the machine runs.
pub(crate) fn applies(config: &Config) -> bool {
    config.policy.is_none() && config.total_timeout.is_none() && config.ip_family == IpFamily::Both
}

/// Dials `addr`, alone, with the attempt timeout and a permit of `budget`. Only for a
/// configuration that [`applies`]. Its error names no target, as the machine's does.
#[cfg(test)]
pub(crate) fn one<'a, D: Dial>(
    dialer: &'a D,
    config: &'a Config,
    budget: &'a Budget,
    origin: Origin<'a>,
    addr: SocketAddr,
) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
    race(dialer, config, budget, origin, addr, false)
}

/// Dials `addr`, alone, with the attempt timeout and a permit of `budget`, its error
/// naming `addr` as the target, as a connect's does. Only for a configuration that
/// [`applies`].
///
/// The error is named here, not by an adapter around this future: a connect to one
/// address polls and moves its result through no more layers than it needs.
pub(crate) fn one_to<'a, D: Dial>(
    dialer: &'a D,
    config: &'a Config,
    budget: &'a Budget,
    origin: Origin<'a>,
    addr: SocketAddr,
) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
    race(dialer, config, budget, origin, addr, true)
}

/// The race of `one` and `one_to`, its error naming `addr` if `named`.
///
/// Without an attempt timeout it needs no timer; with one it fails with
/// [`ErrorKind::NoTimeDriver`](crate::ErrorKind::NoTimeDriver) before dialing if the
/// runtime cannot make timers.
///
/// An `async` block, not an `async fn`: an `async fn` keeps its arguments twice in its
/// future (as given, and as the body's locals), and every connect to one address carries
/// this future.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn stores its arguments twice"
)]
// Inlined: the race's future is made where its caller keeps it, not copied out.
#[inline(always)]
fn race<'a, D: Dial>(
    dialer: &'a D,
    config: &'a Config,
    budget: &'a Budget,
    origin: Origin<'a>,
    addr: SocketAddr,
    named: bool,
) -> impl Future<Output = Result<(D::Connection, Won), ConnectError>> + 'a {
    async move {
        debug_assert!(
            applies(config),
            "a configuration for the machine: {config:?}"
        );
        let now = tokio::time::Instant::now();
        // Records the race as it returns, or as `cancelled` if its caller drops it.
        let mut tally = metrics::Race::start(now);
        // No total timeout: the attempt timeout alone, with the whole race to itself.
        let timeout = timing::attempt_timeout(config, None, 1);
        if timeout.is_some() {
            crate::runtime::timers()
                .inspect_err(|e| tally.failed(now, e, false))
                .map_err(|e| name(e, addr, named))?;
        }
        let start = now.into_std();
        tracing::debug!(%addr, attempt = 0, ?timeout, "attempt started");
        // A race's first attempt never waits for the budget.
        let permit = budget.free();
        let progress = Progress::default();
        let result = {
            let mut dial = pin!(dialer.dial(Destination::new(addr, origin, &progress, 0, None)));
            match timeout {
                // The default: the dial alone, awaited as a plain connect is.
                None => dial.await,
                Some(timeout) => {
                    // Boxed: the future of a race without a timeout has no room for it.
                    let mut timer = Box::pin(sleep(timeout));
                    poll_fn(|cx| {
                        if let Poll::Ready(result) = dial.as_mut().poll(cx) {
                            return Poll::Ready(result);
                        }
                        match timer.as_mut().poll(cx) {
                            Poll::Ready(()) => Poll::Ready(Err(attempt_timed_out())),
                            Poll::Pending => Poll::Pending,
                        }
                    })
                    .await
                }
            }
        };
        drop(permit);
        match result {
            Ok(conn) => {
                // Only with a subscriber that wants the event is the clock read.
                let elapsed = || tokio::time::Instant::now().into_std() - start;
                tracing::debug!(%addr, elapsed = ?elapsed(), "connected");
                tally.won_alone(addr);
                let transport = progress.take().first().map(|&(_, at)| at.into_std());
                let won = Won::Alone {
                    addr,
                    start,
                    transport,
                };
                Ok((conn, won))
            }
            Err(error) => {
                let end = tokio::time::Instant::now().into_std();
                tracing::trace!(%addr, kind = ?error.kind(), "attempt failed");
                let mut report = Report::new(start);
                report.started((), start);
                report.failed(0, addr, error, end);
                // One address is never left out.
                let error = report.exhausted(0, config.max_addresses, |_| Dialed::of(addr));
                tally.failed(tokio::time::Instant::from_std(end), &error, false);
                Err(name(error, addr, named))
            }
        }
    }
}

/// `error`, naming `addr` as its target if `named`.
fn name(error: ConnectError, addr: SocketAddr, named: bool) -> ConnectError {
    match named {
        true => error.with_target(addr.to_string(), None),
        false => error,
    }
}
