//! With the `metrics` feature: the names, the labels and every record, through the
//! `metrics` facade.
//!
//! Each record asks the facade for the recorder at the time (a thread's local one, the
//! global one, or none), so a recorder installed after a connector was made sees its
//! races. Every key that can be is a `static`, hashed at compile time: a record with no
//! per-address label allocates nothing.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ::metrics::{with_recorder, Key, Label, Level, Metadata, Recorder, Unit};
use tokio::time::Instant;

use super::{AttemptEnd, Tally};
use crate::dns::DnsError;
use crate::{ConnectError, ErrorKind, Family};

const RACES: &str = "connie.races";
const RACE_DURATION: &str = "connie.race.duration";
const RACES_USED_HISTORY: &str = "connie.races.used_history";
const ATTEMPTS: &str = "connie.attempts";
const ATTEMPT_DURATION: &str = "connie.attempt.duration";
const DNS_LOOKUP_DURATION: &str = "dns.lookup.duration";
const BUDGET_IN_FLIGHT: &str = "connie.budget.in_flight";
const BUDGET_WAITING: &str = "connie.budget.waiting";
const BUDGET_LIMIT: &str = "connie.budget.limit";
const HISTORY_SIZE: &str = "connie.history.size";

/// What connie's records say of themselves to a recorder that filters.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Whether attempts carry `network.peer.address` and `network.peer.port`.
static PEER_ADDRESS: AtomicBool = AtomicBool::new(false);

/// A `static` key: its name, and its labels as `&'static str`s.
macro_rules! key {
    ($name:expr $(, $label:literal => $value:expr)*) => {{
        const N: usize = {
            let labels: &[&str] = &[$($label),*];
            labels.len()
        };
        static LABELS: [Label; N] = [$(Label::from_static_parts($label, $value)),*];
        static KEY: Key = Key::from_static_parts($name, &LABELS);
        &KEY
    }};
}

/// Sets whether the attempt metrics (`connie.attempts`, `connie.attempt.duration`) carry
/// the address dialed, as `network.peer.address` (the IP) and `network.peer.port`, for
/// every connector of the process.
///
/// One series per address dialed: worth it for a client of a few hosts whose addresses
/// an operator wants to tell apart, and a memory leak in the exporter for a client of
/// many (a crawler, a webhook sender). It is the process's, not a connector's, so that
/// each metric has one set of labels; set it once, before the first connect.
///
/// Default is `false`.
///
/// # Examples
///
/// ```
/// connie::metrics::label_peer_address(true);
/// ```
pub fn label_peer_address(on: bool) {
    PEER_ADDRESS.store(on, Ordering::Relaxed);
}

/// Tells the recorder installed now each metric's unit and meaning.
pub(crate) fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};

    describe_counter!(RACES, Unit::Count, "Races ended, by how they ended.");
    describe_histogram!(
        RACE_DURATION,
        Unit::Seconds,
        "How long each race took, from its start (before DNS) to its end."
    );
    describe_counter!(
        RACES_USED_HISTORY,
        Unit::Count,
        "Races that started their best known address alone."
    );
    describe_counter!(
        ATTEMPTS,
        Unit::Count,
        "Connection attempts ended, by how they ended."
    );
    describe_histogram!(
        ATTEMPT_DURATION,
        Unit::Seconds,
        "How long each connection attempt ran until it ended."
    );
    describe_histogram!(
        DNS_LOOKUP_DURATION,
        Unit::Seconds,
        "How long each family's lookup took, from the race's start to its answer."
    );
    describe_gauge!(
        BUDGET_IN_FLIGHT,
        Unit::Count,
        "Attempts in flight, over every attempt budget of the process."
    );
    describe_gauge!(
        BUDGET_WAITING,
        Unit::Count,
        "Attempts waiting for a place in an attempt budget."
    );
    describe_gauge!(
        BUDGET_LIMIT,
        Unit::Count,
        "The limits of the attempt budgets in use, added up."
    );
    describe_gauge!(
        HISTORY_SIZE,
        Unit::Count,
        "Addresses the address histories hold."
    );
}

// What one event records goes to one recorder, looked up once.

fn count(r: &dyn Recorder, key: &Key) {
    r.register_counter(key, &METADATA).increment(1);
}

fn time(r: &dyn Recorder, key: &Key, duration: Duration) {
    r.register_histogram(key, &METADATA)
        .record(duration.as_secs_f64());
}

fn change(key: &Key, by: f64) {
    with_recorder(|r| r.register_gauge(key, &METADATA).increment(by));
}

/// How a race ended.
#[derive(Debug, Clone, Copy)]
enum RaceEnd {
    Connected,
    Failed(ErrorKind),
    Cancelled,
}

/// The keys of `connie.races` and `connie.race.duration` for a race that ended so.
fn race_keys(end: RaceEnd) -> [&'static Key; 2] {
    macro_rules! keys {
        ($($label:literal => $value:literal),*) => {
            [key!(RACES $(, $label => $value)*), key!(RACE_DURATION $(, $label => $value)*)]
        };
    }
    macro_rules! failed {
        ($outcome:literal, $error:literal) => {
            keys!("connie.outcome" => $outcome, "error.type" => $error)
        };
    }
    match end {
        RaceEnd::Connected => keys!("connie.outcome" => "connected"),
        RaceEnd::Cancelled => keys!("connie.outcome" => "cancelled"),
        RaceEnd::Failed(kind) => match kind {
            ErrorKind::AllAttemptsFailed => failed!("failed", "AllAttemptsFailed"),
            ErrorKind::Dns => failed!("failed", "Dns"),
            ErrorKind::NoAddresses => failed!("failed", "NoAddresses"),
            ErrorKind::NoTimeDriver => failed!("failed", "NoTimeDriver"),
            ErrorKind::InvalidTarget => failed!("failed", "InvalidTarget"),
            ErrorKind::TimedOut => failed!("timed_out", "TimedOut"),
            ErrorKind::RefusedByPolicy => failed!("refused_by_policy", "RefusedByPolicy"),
        },
    }
}

/// One race's metrics, from its start to its end: a race dropped before it ended is
/// recorded as `cancelled` when this is dropped.
#[derive(Debug)]
pub(crate) struct Race {
    start: Instant,
    ended: bool,
}

impl Race {
    /// A race that started at `start`.
    pub(crate) fn start(start: Instant) -> Race {
        Race {
            start,
            ended: false,
        }
    }

    /// The race ended at `now`, so, into `r`; its start was `used_history`.
    fn ended_at(
        &mut self,
        r: &dyn Recorder,
        now: Instant,
        end: RaceEnd,
        used_history: bool,
    ) -> Duration {
        self.ended = true;
        let elapsed = now.saturating_duration_since(self.start);
        let [races, duration] = race_keys(end);
        count(r, races);
        time(r, duration, elapsed);
        if used_history {
            count(r, key!(RACES_USED_HISTORY));
        }
        elapsed
    }

    /// The race connected at `now` (the time of its account); it `used_history` or not.
    /// Its attempts were recorded as each ended.
    pub(crate) fn won(&mut self, now: Instant, used_history: bool) {
        with_recorder(|r| self.ended_at(r, now, RaceEnd::Connected, used_history));
    }

    /// The race of one address, dialed alone, connected to `addr`: the attempt ends with
    /// it.
    pub(crate) fn won_alone(&mut self, addr: SocketAddr) {
        let now = Instant::now();
        with_recorder(|r| {
            let elapsed = self.ended_at(r, now, RaceEnd::Connected, false);
            record_attempt(r, AttemptEnd::Connected, elapsed, addr);
        });
    }

    /// The race failed at `now` with `error`; it `used_history` or not.
    pub(crate) fn failed(&mut self, now: Instant, error: &ConnectError, used_history: bool) {
        let end = RaceEnd::Failed(error.kind());
        with_recorder(|r| self.ended_at(r, now, end, used_history));
    }
}

impl Drop for Race {
    /// A race dropped before it ended is `cancelled`. Its time is tokio's (paused in
    /// tests) on a runtime, and the system's elsewhere: with tokio's `test-util` feature,
    /// tokio's clock panics in a thread's destructors, where a race held in a
    /// thread-local may be dropped. Nothing here panics.
    fn drop(&mut self) {
        if !self.ended {
            let now = match tokio::runtime::Handle::try_current() {
                Ok(_) => Instant::now(),
                Err(_) => Instant::from_std(std::time::Instant::now()),
            };
            with_recorder(|r| self.ended_at(r, now, RaceEnd::Cancelled, false));
        }
    }
}

/// An attempt to `addr` ended so after `duration`.
pub(crate) fn attempt_ended(end: AttemptEnd, duration: Duration, addr: SocketAddr) {
    with_recorder(|r| record_attempt(r, end, duration, addr));
}

/// An attempt to `addr` failed with `error` after `duration`: a timeout is
/// [`AttemptEnd::TimedOut`]. The error's kind is read here, not by the caller, so that
/// without the feature it is not read at all (`io::Error::kind` is not inlined).
pub(crate) fn attempt_failed(error: &io::Error, duration: Duration, addr: SocketAddr) {
    let end = match error.kind() {
        io::ErrorKind::TimedOut => AttemptEnd::TimedOut,
        kind => AttemptEnd::Failed(kind),
    };
    attempt_ended(end, duration, addr);
}

/// The keys of `connie.attempts` and `connie.attempt.duration` for an attempt that
/// ended so; and for a failure of a kind a connect seldom meets, that kind, for its
/// `error.type` to be made on the spot (the keys have none then).
fn attempt_keys(end: AttemptEnd) -> ([&'static Key; 2], Option<io::ErrorKind>) {
    macro_rules! keys {
        ($($label:literal => $value:expr),*) => {
            [key!(ATTEMPTS $(, $label => $value)*), key!(ATTEMPT_DURATION $(, $label => $value)*)]
        };
    }
    // The kinds a connect, a socket option or a TLS handshake fails with.
    macro_rules! failed {
        ($kind:expr, $($name:ident),*) => {
            match $kind {
                $(io::ErrorKind::$name => {
                    (keys!("connie.outcome" => "failed", "error.type" => stringify!($name)), None)
                })*
                other => (keys!("connie.outcome" => "failed"), Some(other)),
            }
        };
    }
    match end {
        AttemptEnd::Connected => (keys!("connie.outcome" => "connected"), None),
        AttemptEnd::TimedOut => (keys!("connie.outcome" => "timed_out"), None),
        AttemptEnd::Cancelled => (keys!("connie.outcome" => "cancelled"), None),
        AttemptEnd::Abandoned => (keys!("connie.outcome" => "abandoned"), None),
        AttemptEnd::Failed(kind) => failed!(
            kind,
            ConnectionRefused,
            ConnectionReset,
            ConnectionAborted,
            HostUnreachable,
            NetworkUnreachable,
            NetworkDown,
            AddrNotAvailable,
            AddrInUse,
            PermissionDenied,
            NotConnected,
            BrokenPipe,
            UnexpectedEof,
            InvalidData,
            InvalidInput,
            Unsupported,
            OutOfMemory,
            Interrupted,
            Other
        ),
    }
}

/// An attempt to `addr` ended so after `duration`, recorded into `r`. With no label made
/// on the spot, its keys are `static`: nothing is allocated.
fn record_attempt(r: &dyn Recorder, end: AttemptEnd, duration: Duration, addr: SocketAddr) {
    let ([attempts, attempt_duration], unusual) = attempt_keys(end);
    let mut extra = Vec::new();
    if let Some(kind) = unusual {
        extra.push(Label::new("error.type", format!("{kind:?}")));
    }
    if PEER_ADDRESS.load(Ordering::Relaxed) {
        extra.push(Label::new("network.peer.address", addr.ip().to_string()));
        extra.push(Label::new("network.peer.port", addr.port().to_string()));
    }
    if extra.is_empty() {
        count(r, attempts);
        time(r, attempt_duration, duration);
    } else {
        count(r, &attempts.with_extra_labels(extra.clone()));
        time(r, &attempt_duration.with_extra_labels(extra), duration);
    }
}

/// An answer of `family` (none for literal addresses) reached at `now` the race that
/// started at `start`, with `error` if its lookup failed. The time between is taken here,
/// not by the caller, so that without the feature the clock's arithmetic is not done.
pub(crate) fn dns_answered(
    family: Option<Family>,
    error: Option<&DnsError>,
    start: std::time::Instant,
    now: std::time::Instant,
) {
    let Some(family) = family else { return };
    macro_rules! by_error {
        ($rtype:literal) => {{
            macro_rules! failed {
                ($error:literal) => {
                    key!(DNS_LOOKUP_DURATION, "dns.question.type" => $rtype, "error.type" => $error)
                };
            }
            match error {
                None => key!(DNS_LOOKUP_DURATION, "dns.question.type" => $rtype),
                Some(e) if e.is_timeout() => failed!("timeout"),
                Some(e) if e.is_no_such_name() => failed!("host_not_found"),
                Some(e) if e.is_no_records() => failed!("no_records"),
                Some(_) => failed!("_OTHER"),
            }
        }};
    }
    let key = match family {
        Family::V4 => by_error!("A"),
        Family::V6 => by_error!("AAAA"),
    };
    with_recorder(|r| time(r, key, now.saturating_duration_since(start)));
}

/// `by` more attempts in flight in an attempt budget (fewer if negative).
pub(crate) fn in_flight(by: i32) {
    change(key!(BUDGET_IN_FLIGHT), f64::from(by));
}

/// `by` more attempts waiting for a place in an attempt budget (fewer if negative).
pub(crate) fn waiting(by: i32) {
    change(key!(BUDGET_WAITING), f64::from(by));
}

/// One budget's or history's part of a gauge that adds them all up: what it added, taken
/// back when it is dropped.
#[derive(Debug)]
pub(crate) struct Part {
    key: &'static Key,
    added: AtomicUsize,
}

impl Part {
    /// A part of `tally` that adds nothing yet.
    pub(crate) fn new(tally: Tally) -> Part {
        let key = match tally {
            Tally::BudgetLimit => key!(BUDGET_LIMIT),
            Tally::HistorySize => key!(HISTORY_SIZE),
        };
        Part {
            key,
            added: AtomicUsize::new(0),
        }
    }

    /// Makes this part `n`.
    pub(crate) fn set(&self, n: usize) {
        let was = self.added.swap(n, Ordering::Relaxed);
        if was != n {
            change(self.key, n as f64 - was as f64);
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        let added = *self.added.get_mut();
        if added != 0 {
            change(self.key, -(added as f64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::metrics::recorder::{Recorder, Value};

    /// Each call records what the docs say, and nothing else: with exact durations on a
    /// paused clock.
    #[test]
    fn each_call_records_what_the_docs_say() {
        let recorder = Recorder::default();
        let addr = SocketAddr::from(([192, 0, 2, 1], 443));
        let ms = Duration::from_millis;
        ::metrics::with_local_recorder(&recorder, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut won = Race::start(Instant::now());
                tokio::time::advance(ms(30)).await;
                won.won(Instant::now(), true);
                drop(won);
                let cancelled = Race::start(Instant::now());
                tokio::time::advance(ms(5)).await;
                drop(cancelled);
                let mut alone = Race::start(Instant::now());
                tokio::time::advance(ms(2)).await;
                alone.won_alone(addr);
                let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
                attempt_failed(&refused, ms(7), addr);
                let overdue = io::Error::from(io::ErrorKind::TimedOut);
                attempt_failed(&overdue, ms(9), addr);
                attempt_ended(AttemptEnd::Abandoned, ms(100), addr);
                let timeout = io::Error::from(io::ErrorKind::TimedOut);
                let error = DnsError::new(Some(Family::V4), timeout);
                let t0 = std::time::Instant::now();
                dns_answered(Some(Family::V4), Some(&error), t0, t0 + ms(4));
                dns_answered(Some(Family::V6), None, t0, t0 + ms(3));
                dns_answered(None, None, t0, t0 + ms(1));
                in_flight(1);
                in_flight(1);
                in_flight(-1);
                waiting(1);
                let kept = Part::new(Tally::HistorySize);
                kept.set(3);
                kept.set(5);
                let dropped = Part::new(Tally::HistorySize);
                dropped.set(2);
                drop(dropped);
                // Given back as it is dropped.
                Part::new(Tally::BudgetLimit).set(64);
                std::mem::forget(kept);
            });
        });
        let mut got: Vec<String> = recorder
            .snapshot()
            .into_iter()
            .map(|(_, key, _, _, value)| {
                let mut labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                labels.sort();
                let value = match value {
                    Value::Counter(n) => n.to_string(),
                    Value::Gauge(v) => v.to_string(),
                    Value::Histogram(v) => format!("{v:?}"),
                };
                format!("{} {} {value}", key.name(), labels.join(","))
            })
            .collect();
        got.sort();
        let want = [
            "connie.attempt.duration connie.outcome=abandoned [0.1]",
            "connie.attempt.duration connie.outcome=connected [0.002]",
            "connie.attempt.duration connie.outcome=failed,error.type=ConnectionRefused [0.007]",
            "connie.attempt.duration connie.outcome=timed_out [0.009]",
            "connie.attempts connie.outcome=abandoned 1",
            "connie.attempts connie.outcome=connected 1",
            "connie.attempts connie.outcome=failed,error.type=ConnectionRefused 1",
            "connie.attempts connie.outcome=timed_out 1",
            "connie.budget.in_flight  1",
            "connie.budget.limit  0",
            "connie.budget.waiting  1",
            "connie.history.size  5",
            "connie.race.duration connie.outcome=cancelled [0.005]",
            "connie.race.duration connie.outcome=connected [0.03, 0.002]",
            "connie.races connie.outcome=cancelled 1",
            "connie.races connie.outcome=connected 2",
            "connie.races.used_history  1",
            "dns.lookup.duration dns.question.type=A,error.type=timeout [0.004]",
            "dns.lookup.duration dns.question.type=AAAA [0.003]",
        ];
        assert_eq!(got, want);
    }

    /// An attempt's `error.type` is its kind's name as `Debug` writes it, in a `static`
    /// key for the kinds a connect meets, made on the spot for the others.
    #[test]
    fn an_attempt_error_type_is_its_kinds_name() {
        use io::ErrorKind::*;
        let common = [ConnectionRefused, HostUnreachable, InvalidData, Other];
        for kind in common.into_iter().chain([NotFound, StorageFull]) {
            let ([attempts, duration], unusual) = attempt_keys(AttemptEnd::Failed(kind));
            let error = |key: &Key| {
                let label = key.labels().find(|l| l.key() == "error.type");
                label.map(|l| l.value().to_owned())
            };
            assert_eq!(error(attempts), error(duration));
            let made = unusual.map(|k| format!("{k:?}"));
            assert_eq!(unusual.is_none(), common.contains(&kind), "{kind:?}");
            assert_eq!(error(attempts).or(made), Some(format!("{kind:?}")));
        }
    }

    /// A race's `error.type` is its kind's name as `Debug` writes it, as the docs say.
    #[test]
    fn a_race_error_type_is_its_kinds_name() {
        let kinds = [
            ErrorKind::AllAttemptsFailed,
            ErrorKind::Dns,
            ErrorKind::NoAddresses,
            ErrorKind::NoTimeDriver,
            ErrorKind::InvalidTarget,
            ErrorKind::TimedOut,
            ErrorKind::RefusedByPolicy,
        ];
        for kind in kinds {
            for key in race_keys(RaceEnd::Failed(kind)) {
                let error = key.labels().find(|l| l.key() == "error.type");
                assert_eq!(error.map(Label::value), Some(&*format!("{kind:?}")));
            }
        }
    }
}
