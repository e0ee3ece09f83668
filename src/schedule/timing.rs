//! How long a race gives each attempt: the rules of time a [`Schedule`] sets in motion,
//! the learned schedule's included. The race's state machine asks; these answer.

use std::time::Duration;

use crate::config::Config;
use crate::history::Known;
use crate::Schedule;

/// The least time a partial deadline gives an attempt, unless less than that is left (Go's
/// `saneMinimum`).
pub(crate) const MIN_PARTIAL_DEADLINE: Duration = Duration::from_secs(2);

/// The least time an attempt runs before its race may abandon it for the next address
/// while the attempt budget is spent: draft-ietf-happy-happyeyeballs-v3's recommended
/// minimum attempt delay, so that a zero delay (`race_all`) does not abandon at once.
pub(crate) const MIN_ABANDON_DELAY: Duration = Duration::from_millis(100);

/// The most time an attempt runs before its race may abandon it for the next address
/// while the attempt budget is spent (the draft's maximum attempt delay); an address whose
/// doubled delay would be longer is kept until it connects or fails.
pub(crate) const MAX_ABANDON_DELAY: Duration = Duration::from_secs(2);

/// How long an attempt given `delay` before the next one (`None`: until it fails) runs
/// before its race may abandon it while the budget is spent, its address having been
/// abandoned `abandoned` times before in this race: the delay within
/// [`MIN_ABANDON_DELAY`]..=[`MAX_ABANDON_DELAY`], doubled for each earlier abandonment.
/// `None` once that passes the maximum: the attempt is never abandoned.
pub(crate) fn abandon_after(delay: Option<Duration>, abandoned: u32) -> Option<Duration> {
    let base = delay.map_or(MAX_ABANDON_DELAY, |d| {
        d.clamp(MIN_ABANDON_DELAY, MAX_ABANDON_DELAY)
    });
    let after = base.checked_mul(2u32.checked_pow(abandoned)?)?;
    (after <= MAX_ABANDON_DELAY).then_some(after)
}

/// The timeout of an attempt that starts with `left` of the total timeout to go (`None`:
/// no total timeout) and `addresses` addresses still to try, its own included: the
/// per-attempt timeout, shortened to the partial deadline when that is on.
#[inline]
pub(crate) fn attempt_timeout(
    config: &Config,
    left: Option<Duration>,
    addresses: usize,
) -> Option<Duration> {
    let partial = match left {
        Some(left) if config.partial_deadlines => {
            let share = left / u32::try_from(addresses).unwrap_or(u32::MAX);
            Some(if share < MIN_PARTIAL_DEADLINE {
                left.min(MIN_PARTIAL_DEADLINE)
            } else {
                share
            })
        }
        _ => None,
    };
    match (config.attempt_timeout, partial) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The two delays an attempt is given: before the next attempt starts, and before it
/// starts once the attempt's transport is up and its handshake (TLS) runs. `None`: until
/// an attempt fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delays {
    pub(crate) next: Option<Duration>,
    pub(crate) handshake: Option<Duration>,
}

impl Delays {
    /// The schedule's own: its attempt delay, for both.
    pub(crate) fn of(schedule: &Schedule) -> Delays {
        Delays {
            next: schedule.attempt_delay,
            handshake: schedule.attempt_delay,
        }
    }

    /// The learned schedule's, for an address the history knows: its expected transport
    /// time, in the measure it succeeds lately (a host that failed lately is given its
    /// time in that measure, so trying it again costs a SYN beside the next address, not
    /// a wait); then its expected handshake time, or the transport's again. `None` for an
    /// address the history does not know, which ends the learned part of a race.
    ///
    /// With it, the whole connect's expected time ([`Known::expected`]): both come from the
    /// same two expected times, each reckoned once.
    pub(crate) fn learned(known: &Known) -> Option<(Delays, Duration)> {
        let transport = known.expected_transport()?;
        let handshake = known.expected_handshake();
        let expected = transport.saturating_add(handshake.unwrap_or_default());
        let failing = known.failing();
        let succeeding = if failing.is_nan() {
            1.0
        } else {
            (1.0 - failing).clamp(0.0, 1.0)
        };
        // An address that has not failed lately waits its whole expected time: no
        // round trip through floating point for it.
        let next = if succeeding == 1.0 {
            transport
        } else {
            transport.mul_f64(succeeding)
        };
        let delays = Delays {
            next: Some(next),
            handshake: handshake.or(Some(transport)),
        };
        Some((delays, expected))
    }
}

/// Whether a race runs on the learned schedule: the schedule is [`Schedule::learned`],
/// the history knows its first address (`first_known`: it has [`Delays::learned`]), and
/// this race does not `explore` (race every address anyway, once in
/// [`EXPLORE_EVERY`](crate::history::EXPLORE_EVERY)).
pub(crate) fn uses_history(
    schedule: &Schedule,
    first_known: bool,
    explore: impl FnOnce() -> bool,
) -> bool {
    schedule.learned && first_known && !explore()
}
