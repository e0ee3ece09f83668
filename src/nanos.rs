//! [`Nanos`]: a span of time in 8 bytes, for the records a race keeps per address and per
//! attempt.

use std::num::NonZeroU64;
use std::time::Duration;

/// A span of time in whole nanoseconds, exact up to 584 years (a longer one is held as
/// that much): 8 bytes where a [`Duration`] takes 16, and 8 as an `Option`, with the same
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Nanos(
    /// The nanoseconds, plus one: an `Option<Nanos>` needs no room of its own.
    NonZeroU64,
);

impl Nanos {
    /// Nothing.
    pub(crate) const ZERO: Nanos = Nanos(NonZeroU64::MIN);

    /// `span`, if it is at most 584 years.
    pub(crate) fn exact(span: Duration) -> Option<Nanos> {
        let nanos = u64::try_from(span.as_nanos()).ok()?;
        NonZeroU64::new(nanos.wrapping_add(1)).map(Nanos)
    }

    /// `span`, or 584 years if it is longer.
    pub(crate) fn new(span: Duration) -> Nanos {
        Nanos::exact(span).unwrap_or(Nanos(NonZeroU64::MAX))
    }

    pub(crate) fn get(self) -> Duration {
        Duration::from_nanos(self.0.get() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span comes back as it went in, and spans keep their order; a span too long to
    /// hold is held as the longest.
    #[test]
    fn a_span_is_kept_exactly_and_in_order() {
        let spans = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::new(3, 999_999_999),
            Duration::from_secs(86_400 * 365 * 584),
        ];
        for span in spans {
            assert_eq!(Nanos::new(span).get(), span);
        }
        assert!(spans
            .windows(2)
            .all(|w| Nanos::new(w[0]) < Nanos::new(w[1])));
        assert_eq!(Nanos::ZERO.get(), Duration::ZERO);
        let longest = Duration::from_nanos(u64::MAX - 1);
        assert_eq!(Nanos::exact(Duration::from_nanos(u64::MAX)), None);
        assert_eq!(Nanos::new(Duration::MAX).get(), longest);
        assert_eq!(std::mem::size_of::<Option<Nanos>>(), 8);
    }
}
