//! Connect metrics through the [`metrics`](https://docs.rs/metrics/0.24) facade, for an
//! operator to read without writing code (the `metrics` feature).
//!
//! connie records every race, every attempt and every DNS answer it waits for, and keeps
//! gauges of its attempt budget and its address history, through the `metrics` crate's
//! macros: a program that installs a recorder (`metrics-exporter-prometheus`, an
//! OpenTelemetry bridge, or any other) gets them with the rest of its metrics. Without a
//! recorder each record is a call that finds none and returns; without the feature none of
//! it is compiled. hickory-resolver's own `metrics` feature records its cache and name
//! server metrics through the same facade (0.24), so one recorder sees both.
//!
//! Names follow OpenTelemetry's semantic conventions where one exists
//! (`dns.lookup.duration`, `error.type`, `network.peer.address`); connie's own are under
//! `connie.`. Durations are in seconds, as `f64`. An exporter may spell them its own way
//! (Prometheus: `connie_race_duration_seconds`). connie describes each metric (its unit
//! and meaning) to the recorder installed when a [`ConnieConnector`](crate::ConnieConnector)
//! is made.
//!
//! # The metrics
//!
//! | name | type | unit | labels | meaning |
//! |---|---|---|---|---|
//! | `connie.races` | counter | `{race}` | `connie.outcome`, `error.type` | Races ended, by how they ended. |
//! | `connie.race.duration` | histogram | `s` | `connie.outcome`, `error.type` | How long each race took, from its start (before DNS) to its end. |
//! | `connie.races.used_history` | counter | `{race}` | | Races that started their best known address alone, as [`ConnectInfo::used_history`](crate::ConnectInfo::used_history) says (failed races included). |
//! | `connie.attempts` | counter | `{attempt}` | `connie.outcome`, `error.type`, opt-in `network.peer.address`, `network.peer.port` | Connection attempts ended, by how they ended. |
//! | `connie.attempt.duration` | histogram | `s` | `connie.outcome`, `error.type`, opt-in `network.peer.address`, `network.peer.port` | How long each attempt ran until it ended, as [`Attempt::duration`](crate::Attempt::duration) says. |
//! | `dns.lookup.duration` | histogram | `s` | `dns.question.type`, `error.type` | How long each family's lookup took, from the race's start to its answer reaching the race. |
//! | `connie.budget.in_flight` | gauge | `{attempt}` | | Attempts in flight, over every attempt budget of the process. |
//! | `connie.budget.waiting` | gauge | `{attempt}` | | Attempts waiting for a place in an attempt budget. |
//! | `connie.budget.limit` | gauge | `{attempt}` | | The limits of the attempt budgets in use, added up (an unbounded budget adds nothing). |
//! | `connie.history.size` | gauge | `{address}` | | Addresses the address histories hold. |
//!
//! # Labels
//!
//! - `connie.outcome` of a race: `connected`; `failed` (every attempt failed, DNS failed
//!   or found no address, the runtime has no time driver); `timed_out` (the total
//!   timeout); `refused_by_policy` (the [`AddressPolicy`](crate::AddressPolicy) refused
//!   every address); `cancelled` (its caller dropped it before it ended).
//! - `connie.outcome` of an attempt, as its [`Outcome`](crate::Outcome): `connected`,
//!   `failed`, `timed_out` (the attempt timeout), `cancelled` (still running when its race
//!   ended: it lost, or the race timed out), `abandoned` (dropped for the next address
//!   while the attempt budget was spent).
//! - `error.type`: on a race that did not connect and was not cancelled, the
//!   [`ErrorKind`](crate::ErrorKind) variant's name (`AllAttemptsFailed`, `Dns`,
//!   `NoAddresses`, `TimedOut`, `RefusedByPolicy`, `NoTimeDriver`, `InvalidTarget`); on a
//!   `failed` attempt, its [`std::io::ErrorKind`]'s name (`ConnectionRefused`,
//!   `HostUnreachable`…); on a lookup that failed, `timeout`, `host_not_found` (the name
//!   does not exist), `no_records` (the name has no address of that family) or `_OTHER`.
//!   Absent otherwise.
//! - `dns.question.type`: `A` or `AAAA`.
//! - `network.peer.address` (the IP, as `192.0.2.1` or `2001:db8::1`) and
//!   `network.peer.port`: only after [`label_peer_address`]`(true)`. One series per
//!   address dialed: a client of many hosts makes thousands.
//!
//! # What is counted
//!
//! - Every race of [`ConnieConnector::connect`](crate::ConnieConnector::connect),
//!   [`race_connect`](crate::race_connect) and the connector's `Service<Uri>`; a target
//!   that cannot be parsed is no race. The connector's `reqwest::dns::Resolve` races
//!   nothing: only its lookups are recorded (`dns.lookup.duration`).
//! - An attempt is recorded when it ends, and a race when it returns. A race that its
//!   caller drops is counted `cancelled`, and its attempts still running are not
//!   counted.
//! - A name looked up records one `dns.lookup.duration` per family; IP literals none, and
//!   neither does a resolver that answers both families at once
//!   ([`ServiceResolver`](crate::dns::ServiceResolver), [`StaticResolver`](crate::dns::StaticResolver)).
//!   A resolver that applies a search list answers for the name it settled on, so the time
//!   includes the names tried before it.
//! - The gauges add up every connector of the process (its clones share one budget and
//!   one history): descriptors and memory are the process's. Each counts what changed
//!   while a recorder was installed, so install it before the first connect. A budget's
//!   limit counts from its first attempt (when [`AttemptBudget::FileLimit`](crate::AttemptBudget::FileLimit)
//!   reads the file limit) until the last clone of its connector is dropped.
//!
//! # Examples
//!
//! Install a recorder before the first connect: an exporter's (with
//! `metrics-exporter-prometheus`, `PrometheusBuilder::new().install()?`), or any
//! [`metrics::Recorder`]:
//!
//! ```no_run
//! # async fn doc(
//! #     recorder: impl metrics::Recorder + Sync + 'static,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! metrics::set_global_recorder(recorder)?;
//!
//! let connector = connie::ConnieConnector::new();
//! let (stream, info) = connector.connect("example.com:443").await?;
//! # Ok(()) }
//! ```

use std::io;

// The recorder's side: `on.rs` with the feature, and `off.rs`, the same calls doing
// nothing, without it. The race code calls them either way.
#[cfg(feature = "metrics")]
mod on;
// The integration tests' recorder, for `on.rs`'s unit tests: they use part of it, and its
// items are `pub` for the tests' crates.
#[cfg(all(test, feature = "metrics"))]
#[allow(dead_code, unreachable_pub)]
#[path = "../../tests/support/recorder.rs"]
mod recorder;
#[cfg(feature = "metrics")]
pub use self::on::label_peer_address;
#[cfg(feature = "metrics")]
pub(crate) use self::on::{
    attempt_ended, attempt_failed, describe, dns_answered, in_flight, waiting, Part, Race,
};

#[cfg(not(feature = "metrics"))]
mod off;
#[cfg(not(feature = "metrics"))]
pub(crate) use self::off::{
    attempt_ended, attempt_failed, describe, dns_answered, in_flight, waiting, Part, Race,
};

/// How an attempt ended, for its metrics: its [`Outcome`](crate::Outcome), with a
/// failure's kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum AttemptEnd {
    Connected,
    Failed(io::ErrorKind),
    TimedOut,
    Cancelled,
    Abandoned,
}

/// A gauge that adds up one [`Part`] of each budget or history in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Tally {
    /// `connie.budget.limit`.
    BudgetLimit,
    /// `connie.history.size`.
    HistorySize,
}

#[cfg(test)]
mod tests {
    /// Without the feature, a race's tally and a gauge's part hold nothing and have no
    /// `Drop`: a race's future and a budget or history carry nothing of them.
    #[test]
    #[cfg(not(feature = "metrics"))]
    fn off_there_is_nothing() {
        use std::mem::{needs_drop, size_of};

        use super::{Part, Race};
        assert_eq!((size_of::<Race>(), size_of::<Part>()), (0, 0));
        assert!(!needs_drop::<Race>() && !needs_drop::<Part>());
    }
}
