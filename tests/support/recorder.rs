//! A `metrics` recorder that keeps every value it is given, for the `metrics` feature's
//! tests (`tests/metrics.rs`, and `src/metrics/on.rs`'s unit tests, which include this
//! file).
//!
//! It does what `metrics-util`'s `DebuggingRecorder` does for these tests, without the ten
//! crates `metrics-util` would add to every build of connie's examples: a newcomer's first
//! `cargo run --example connect` compiles every dev-dependency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata,
    SharedString, Unit,
};

/// What kind of metric a series is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A series' value: a counter's count, a gauge's value, a histogram's samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

/// One recorded series: its kind, key, unit, description and value.
pub type Series = (Kind, Key, Option<Unit>, Option<String>, Value);

/// The recorder: clones share what it keeps.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Kept>>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each series, in the order it was registered.
    series: Vec<(Kind, Key, Arc<Slot>)>,
    descriptions: HashMap<(Kind, KeyName), (Option<Unit>, String)>,
}

/// One series' value, shared with the handles the recorder gave out for it.
#[derive(Debug)]
struct Slot(Mutex<Value>);

impl Slot {
    fn value(&self) -> MutexGuard<'_, Value> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Recorder {
    /// Every series recorded so far, in the order each was first registered.
    pub fn snapshot(&self) -> Vec<Series> {
        let kept = self.kept();
        kept.series
            .iter()
            .map(|(kind, key, slot)| {
                let described = kept
                    .descriptions
                    .get(&(*kind, KeyName::from(key.name().to_owned())));
                let (unit, description) = match described {
                    Some((unit, description)) => (*unit, Some(description.clone())),
                    None => (None, None),
                };
                let value = slot.value().clone();
                (*kind, key.clone(), unit, description, value)
            })
            .collect()
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `key` as a `kind`, made with `empty` on its first registration.
    fn slot(&self, kind: Kind, key: &Key, empty: Value) -> Arc<Slot> {
        let mut kept = self.kept();
        if let Some((.., slot)) = kept.series.iter().find(|(k, s, _)| *k == kind && s == key) {
            return slot.clone();
        }
        let slot = Arc::new(Slot(Mutex::new(empty)));
        kept.series.push((kind, key.clone(), slot.clone()));
        slot
    }

    fn describe(&self, kind: Kind, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.kept()
            .descriptions
            .insert((kind, key), (unit, text.to_string()));
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(Kind::Counter, key, unit, text);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(Kind::Gauge, key, unit, text);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(Kind::Histogram, key, unit, text);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.slot(Kind::Counter, key, Value::Counter(0)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.slot(Kind::Gauge, key, Value::Gauge(0.0)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.slot(Kind::Histogram, key, Value::Histogram(Vec::new())))
    }
}

impl CounterFn for Slot {
    fn increment(&self, by: u64) {
        if let Value::Counter(n) = &mut *self.value() {
            *n += by;
        }
    }

    fn absolute(&self, to: u64) {
        if let Value::Counter(n) = &mut *self.value() {
            *n = (*n).max(to);
        }
    }
}

impl GaugeFn for Slot {
    fn increment(&self, by: f64) {
        if let Value::Gauge(v) = &mut *self.value() {
            *v += by;
        }
    }

    fn decrement(&self, by: f64) {
        if let Value::Gauge(v) = &mut *self.value() {
            *v -= by;
        }
    }

    fn set(&self, to: f64) {
        if let Value::Gauge(v) = &mut *self.value() {
            *v = to;
        }
    }
}

impl HistogramFn for Slot {
    fn record(&self, sample: f64) {
        if let Value::Histogram(samples) = &mut *self.value() {
            samples.push(sample);
        }
    }
}
