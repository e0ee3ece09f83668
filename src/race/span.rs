//! A race's `tracing` span: the target and the schedule when it starts, the winner and the
//! number of attempts when it ends. A `tracing-opentelemetry` user gets one span per
//! connect, with its attempts' events in it.

use tracing::field::{display, Empty};
use tracing::Span;

use super::Won;
use crate::config::Config;
use crate::{ConnectError, Target};

/// The span a race of `target` on `config` runs in, entered only if enabled: entered at
/// every poll, a span costs a third of a connect's own work with no subscriber to see it.
/// Its fields are computed only for a subscriber that wants it (`tracing`'s macro
/// evaluates them in that branch alone); `winner` and `attempts` are declared empty, for
/// [`ended`] to write.
///
/// Each connect awaits its race itself, in this span or not: one more `async` layer
/// around a race of one address would move its future and result once more, which a
/// connect to one address would pay for nothing. In the span, the race is boxed, so that
/// a connect's future has no room for the span's wrapper when no subscriber wants it.
pub(crate) fn span(target: &Target, config: &Config) -> Span {
    let schedule = &config.schedule;
    tracing::debug_span!("race", %target, ?schedule, winner = Empty, attempts = Empty)
}

/// Writes into `span` the winner of the race that returned `result` (none for a failed
/// race) and how many attempts it made (for a failed race, those its error lists).
pub(crate) fn ended<C>(span: &Span, result: &Result<(C, Won), ConnectError>) {
    let (winner, attempts) = match result {
        Ok((_, Won::Raced(info))) => (Some(info.remote_addr), info.attempts.len()),
        Ok((_, Won::Alone { addr, .. })) => (Some(*addr), 1),
        Err(error) => (None, error.attempts().len()),
    };
    if let Some(winner) = winner {
        span.record("winner", display(winner));
    }
    span.record("attempts", attempts);
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use super::*;
    use crate::race::report::{Dialed, Report};
    use crate::{ConnieConnector, IntoTarget, Schedule};

    /// Writes down every span field, as `name=value`.
    #[derive(Clone, Default)]
    struct Fields(Arc<Mutex<Vec<String>>>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            let mut fields = self.0.lock().unwrap();
            fields.push(format!("{}={value:?}", field.name()));
        }
    }

    impl Subscriber for Fields {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.name() == "race"
        }

        fn new_span(&self, span: &Attributes<'_>) -> Id {
            span.record(&mut self.clone());
            Id::from_u64(1)
        }

        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut self.clone());
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, _: &Event<'_>) {}

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }

    /// The fields of a race's span, from its start to `result`.
    fn fields(result: &Result<((), Won), ConnectError>) -> Vec<String> {
        let fields = Fields::default();
        tracing::subscriber::with_default(fields.clone(), || {
            let config = ConnieConnector::new().schedule(Schedule::rfc8305()).config;
            let target = "www.example:443".into_target().unwrap();
            let span = span(&target, &config);
            assert!(!span.is_disabled());
            ended(&span, result);
        });
        let written = fields.0.lock().unwrap().clone();
        written
    }

    /// The target, the schedule, the winner and the attempts, for a race won by the
    /// machine, one won alone and one that failed.
    #[test]
    fn a_race_span_names_its_target_schedule_winner_and_attempts() {
        let addr = |n: u8| SocketAddr::from(([192, 0, 2, n], 443));
        let start = Instant::now();
        let schedule = format!("schedule={:?}", Schedule::rfc8305());
        let target = "target=www.example:443".to_owned();

        let mut report = Report::new(start);
        report.started(addr(1), start);
        report.started(addr(2), start);
        report.connected(1, addr(2), start);
        let dialed = |&a: &SocketAddr| Dialed::of(a);
        let raced = Won::Raced(Box::new(report.into_info(addr(2), start, dialed)));
        let want = [&*target, &schedule, "winner=192.0.2.2:443", "attempts=2"];
        assert_eq!(fields(&Ok(((), raced))), want);

        let alone = Won::Alone {
            addr: addr(3),
            start,
            transport: None,
        };
        let want = [&*target, &schedule, "winner=192.0.2.3:443", "attempts=1"];
        assert_eq!(fields(&Ok(((), alone))), want);

        let mut report = Report::new(start);
        for n in 1..=3 {
            report.started(addr(n), start);
            let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
            report.failed(usize::from(n) - 1, addr(n), refused, start);
        }
        let failed = report.exhausted(0, 16, dialed);
        assert_eq!(fields(&Err(failed)), [&*target, &schedule, "attempts=3"]);
    }
}
