//! The account of one race as it runs: each attempt with its outcome, the DNS times, the
//! addresses the policy refused, and the errors. A won race becomes its [`ConnectInfo`],
//! a lost one its [`ConnectError`], and either way its lessons go to the history: each is
//! built here only.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use crate::dns::DnsError;
use crate::error::{reason, short_of_resources, AttemptError, ErrorKind};
use crate::history::Lesson;
use crate::metrics::{self, AttemptEnd};
use crate::{Attempt, ConnectError, ConnectInfo, Family, Outcome};

/// What a race has done so far.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) start: Instant,
    /// In start order.
    pub(crate) attempts: Vec<Account>,
    pub(crate) dns_errors: Vec<DnsError>,
    pub(crate) refused: Vec<SocketAddr>,
    /// Addresses of a family the connector's `ip_family` leaves out.
    pub(crate) skipped: usize,
    dns_v4: Option<Duration>,
    dns_v6: Option<Duration>,
    /// The race started its best known address alone, as the history said.
    pub(crate) used_history: bool,
}

/// One attempt as it stands: its [`Attempt`] and, if it failed, its [`AttemptError`],
/// both made only when the race ends, and only the one the race's result needs.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) addr: SocketAddr,
    pub(crate) started: Duration,
    /// How long it ran until it ended; for one still running, set when the race ends.
    duration: Duration,
    pub(crate) transport: Option<Duration>,
    expected: Option<Duration>,
    end: End,
}

/// How an attempt ended, if it has.
#[derive(Debug)]
enum End {
    /// Still running, or cancelled when its race ended ([`Outcome::Cancelled`]).
    Running,
    Connected,
    /// [`Outcome::TimedOut`] if the error is a timeout, else [`Outcome::Failed`].
    Failed(io::Error),
    Abandoned,
}

impl Account {
    /// Whether it is still running (cancelled, once its race has ended).
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.end, End::Running)
    }

    /// Its public account. `said` is the reason last given for an OS error, with its code:
    /// the reason of each code is the same, and the attempts of a race mostly fail alike
    /// (every address refused), so it is put in words once.
    fn into_attempt(self, said: &mut Option<(i32, Arc<str>)>) -> Attempt {
        let outcome = match self.end {
            End::Running => Outcome::Cancelled,
            End::Connected => Outcome::Connected,
            End::Failed(error) => match error.kind() {
                io::ErrorKind::TimedOut => Outcome::TimedOut,
                kind => {
                    let words = match (error.raw_os_error(), &*said) {
                        (Some(code), Some((last, words))) if code == *last => words.clone(),
                        (code, _) => {
                            let words: Arc<str> = reason(&error).into();
                            if let Some(code) = code {
                                *said = Some((code, words.clone()));
                            }
                            words
                        }
                    };
                    Outcome::Failed {
                        kind,
                        reason: words,
                    }
                }
            },
            End::Abandoned => Outcome::Abandoned,
        };
        Attempt {
            addr: self.addr,
            started: self.started,
            duration: self.duration,
            outcome,
            expected: self.expected,
            transport: self.transport,
        }
    }

    /// Its error, if it failed or was abandoned; `running` gives a running attempt's.
    fn into_error(self, running: fn() -> Option<io::Error>) -> Option<AttemptError> {
        let error = match self.end {
            End::Failed(error) => error,
            End::Abandoned => io::Error::new(
                io::ErrorKind::TimedOut,
                "abandoned for the next address while the attempt budget was spent",
            ),
            End::Running => running()?,
            End::Connected => return None,
        };
        Some(AttemptError::new(self.addr, error))
    }
}

impl Report {
    pub(crate) fn new(start: Instant) -> Report {
        Report {
            start,
            attempts: Vec::new(),
            dns_errors: Vec::new(),
            refused: Vec::new(),
            skipped: 0,
            dns_v4: None,
            dns_v6: None,
            used_history: false,
        }
    }

    /// The account of a race of one address, `addr`, dialed alone from `start` and
    /// connected at `end`, its transport up at `transport` if its dialer said so: what
    /// [`started`](Self::started), [`transport_up`](Self::transport_up),
    /// [`connected`](Self::connected) and [`into_info`](Self::into_info) would make of it,
    /// with one allocation.
    pub(crate) fn alone(
        addr: SocketAddr,
        start: Instant,
        transport: Option<Instant>,
        end: Instant,
    ) -> ConnectInfo {
        let attempts = vec![Attempt {
            addr,
            started: Duration::ZERO,
            duration: end.saturating_duration_since(start),
            outcome: Outcome::Connected,
            expected: None,
            transport: transport.map(|at| at.saturating_duration_since(start)),
        }];
        Report::new(start).info(addr, end, attempts)
    }

    fn since_start(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// How long attempt `idx` has run at `now`.
    fn ran(&self, idx: usize, now: Instant) -> Duration {
        self.since_start(now)
            .saturating_sub(self.attempts[idx].started)
    }

    /// A lookup of `family` answered at `now` (none for literal addresses).
    pub(crate) fn looked_up(&mut self, family: Option<Family>, now: Instant) {
        let elapsed = Some(self.since_start(now));
        match family {
            Some(Family::V4) => self.dns_v4 = elapsed,
            Some(Family::V6) => self.dns_v6 = elapsed,
            None => {}
        }
    }

    /// An attempt to `addr` started at `now`, expected to take `expected` at most.
    pub(crate) fn started(&mut self, addr: SocketAddr, now: Instant, expected: Option<Duration>) {
        self.attempts.push(Account {
            addr,
            started: self.since_start(now),
            duration: Duration::ZERO,
            transport: None,
            expected,
            end: End::Running,
        });
    }

    /// Attempt `idx`, running, reported its transport up at `at`, its handshake running;
    /// false if it is over or reported before.
    pub(crate) fn transport_up(&mut self, idx: usize, at: Instant) -> bool {
        let since = self.since_start(at);
        let Some(attempt) = self.attempts.get_mut(idx) else {
            return false;
        };
        if !attempt.is_running() || attempt.transport.is_some() {
            return false;
        }
        let transport = since.saturating_sub(attempt.started);
        attempt.transport = Some(transport);
        trace!(addr = %attempt.addr, ?transport, "transport connected, handshake running");
        true
    }

    /// Attempt `idx` failed at `now` with `error`.
    pub(crate) fn failed(&mut self, idx: usize, error: io::Error, now: Instant) {
        let duration = self.ran(idx, now);
        let attempt = &mut self.attempts[idx];
        metrics::attempt_failed(&error, duration, attempt.addr);
        attempt.duration = duration;
        attempt.end = End::Failed(error);
    }

    /// Attempt `idx` was abandoned at `now` for the next address, the budget being spent.
    pub(crate) fn abandoned(&mut self, idx: usize, now: Instant) {
        let duration = self.ran(idx, now);
        let attempt = &mut self.attempts[idx];
        metrics::attempt_ended(AttemptEnd::Abandoned, duration, attempt.addr);
        attempt.duration = duration;
        attempt.end = End::Abandoned;
        debug!(addr = %attempt.addr, after = ?attempt.duration, "attempt abandoned for the next address: the budget is spent");
    }

    /// Attempt `idx` connected at `now`.
    pub(crate) fn connected(&mut self, idx: usize, now: Instant) {
        let duration = self.ran(idx, now);
        let attempt = &mut self.attempts[idx];
        metrics::attempt_ended(AttemptEnd::Connected, duration, attempt.addr);
        attempt.end = End::Connected;
        attempt.duration = duration;
    }

    /// Marks every attempt still running as cancelled, as of `now`: once, as the race
    /// ends.
    pub(crate) fn cancel_running(&mut self, now: Instant) {
        let elapsed = self.since_start(now);
        for a in &mut self.attempts {
            if a.is_running() {
                a.duration = elapsed.saturating_sub(a.started);
                metrics::attempt_ended(AttemptEnd::Cancelled, a.duration, a.addr);
            }
        }
    }

    /// What each attempt taught about its address, given the source address each used
    /// (in start order). An attempt that found the process or the system short of
    /// descriptors, buffers or memory says nothing about its address; nor does one
    /// cancelled before its expected time.
    pub(crate) fn lessons<'a>(
        &'a self,
        sources: impl Iterator<Item = Option<IpAddr>> + 'a,
    ) -> impl Iterator<Item = (SocketAddr, Option<IpAddr>, Lesson)> + 'a {
        self.attempts.iter().zip(sources).filter_map(|(a, source)| {
            let lesson = match &a.end {
                // The transport's handshake is the address's round trip; a TLS
                // handshake on top is a phase of its own, with the server's time.
                End::Connected => match a.transport {
                    Some(transport) => Lesson::Secured {
                        transport,
                        handshake: a.duration.saturating_sub(transport),
                    },
                    None => Lesson::Connected(a.duration),
                },
                End::Failed(error) if short_of_resources(error) => return None,
                End::Failed(error) => Lesson::Failed(error.kind()),
                End::Running | End::Abandoned => match a.expected {
                    Some(expected) if a.duration >= expected => Lesson::Overdue,
                    _ => return None,
                },
            };
            Some((a.addr, source, lesson))
        })
    }

    /// The account of a race won by `remote_addr` at `now`, with no local address.
    pub(crate) fn into_info(self, remote_addr: SocketAddr, now: Instant) -> ConnectInfo {
        let mut report = self;
        let attempts = std::mem::take(&mut report.attempts);
        let mut said = None;
        let attempts = attempts
            .into_iter()
            .map(|a| a.into_attempt(&mut said))
            .collect();
        report.info(remote_addr, now, attempts)
    }

    fn info(self, remote_addr: SocketAddr, now: Instant, attempts: Vec<Attempt>) -> ConnectInfo {
        ConnectInfo {
            elapsed: self.since_start(now),
            remote_addr,
            local_addr: None,
            attempts,
            dns_v4: self.dns_v4,
            dns_v6: self.dns_v6,
            refused: self.refused,
            used_history: self.used_history,
            alpn: None,
        }
    }

    /// The error of a race that ran out of addresses: every attempt failed, or the
    /// policy refused every address, or DNS failed or found none. `max_addresses` left
    /// `left_out` addresses out.
    pub(crate) fn exhausted(&mut self, left_out: usize, max_addresses: usize) -> ConnectError {
        let kind = if !self.attempts.is_empty() {
            ErrorKind::AllAttemptsFailed
        } else if !self.refused.is_empty() {
            ErrorKind::RefusedByPolicy
        } else if !self.dns_errors.is_empty() {
            ErrorKind::Dns
        } else {
            ErrorKind::NoAddresses
        };
        let looked_up = self.dns_v4.is_some() || self.dns_v6.is_some();
        let errors = self.errors(|| None);
        let error = ConnectError::failed(kind, errors, std::mem::take(&mut self.dns_errors));
        error
            .looked_up(looked_up)
            .with_refused(std::mem::take(&mut self.refused))
            .with_left_out(left_out, max_addresses)
    }

    /// The error of a race whose total timeout, `after`, elapsed: every attempt still
    /// running timed out. `max_addresses` left `left_out` addresses out.
    pub(crate) fn timed_out(
        &mut self,
        after: Duration,
        left_out: usize,
        max_addresses: usize,
    ) -> ConnectError {
        let errors = self.errors(|| {
            Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "total connect timeout elapsed",
            ))
        });
        let error = ConnectError::timed_out(after, errors, std::mem::take(&mut self.dns_errors));
        error
            .with_refused(std::mem::take(&mut self.refused))
            .with_left_out(left_out, max_addresses)
    }

    /// The attempt errors in the order the attempts started, `running` giving each
    /// running attempt's.
    fn errors(&mut self, running: fn() -> Option<io::Error>) -> Vec<AttemptError> {
        std::mem::take(&mut self.attempts)
            .into_iter()
            .filter_map(|a| a.into_error(running))
            .collect()
    }
}

/// The error of an attempt that ran out of time.
pub(crate) fn attempt_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection attempt timed out")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `alone` is the long way round in one step, with and without a transport time.
    #[test]
    fn alone_is_what_the_steps_make() {
        let addr: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        for transport in [None, Some(at(7))] {
            let mut report = Report::new(start);
            report.started(addr, start, None);
            if let Some(t) = transport {
                assert!(report.transport_up(0, t));
            }
            report.connected(0, at(19));
            let steps = report.into_info(addr, at(19));
            let alone = Report::alone(addr, start, transport, at(19));
            assert_eq!(format!("{alone:?}"), format!("{steps:?}"));
        }
    }

    /// A transport reported twice keeps its first time; one reported for an attempt that
    /// is over is not recorded.
    #[test]
    fn a_transport_counts_once_and_only_while_its_attempt_runs() {
        let a: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:443".parse().unwrap();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut report = Report::new(start);
        report.started(a, start, None);
        report.started(b, start, None);
        assert!(report.transport_up(0, at(5)));
        assert!(!report.transport_up(0, at(9)));
        report.failed(1, io::Error::from(io::ErrorKind::ConnectionRefused), at(3));
        assert!(!report.transport_up(1, at(7)));
        assert!(!report.transport_up(2, at(7)), "no such attempt");
        let transports: Vec<_> = report.attempts.iter().map(|a| a.transport).collect();
        assert_eq!(transports, [Some(Duration::from_millis(5)), None]);
    }

    /// Attempts that failed alike share their reason's words; each says its own.
    #[test]
    #[cfg(unix)]
    fn each_failure_keeps_its_reason() {
        let addr = |n: u8| SocketAddr::from(([192, 0, 2, n], 443));
        let start = Instant::now();
        let mut report = Report::new(start);
        for n in 1..=5 {
            report.started(addr(n), start, None);
        }
        let refused = || io::Error::from_raw_os_error(libc::ECONNREFUSED);
        report.failed(0, refused(), start);
        report.failed(1, io::Error::other("bad certificate"), start);
        report.failed(2, refused(), start);
        report.failed(3, io::Error::from_raw_os_error(libc::EHOSTUNREACH), start);
        report.failed(4, refused(), start);
        let info = report.into_info(addr(6), start);
        let reasons: Vec<_> = info
            .attempts
            .iter()
            .map(|a| a.outcome().to_string())
            .collect();
        let want = [
            "connection refused",
            "bad certificate",
            "connection refused",
            "no route to host",
            "connection refused",
        ];
        assert_eq!(reasons, want);
    }

    /// What each attempt teaches: a failure its kind, unless the process ran short of
    /// descriptors or memory (which says nothing of the address); a cancelled attempt
    /// only that it was overdue, and only once past its expected time.
    #[test]
    #[cfg(unix)]
    fn the_lessons_of_a_race() {
        let addr = |n: u8| SocketAddr::from(([192, 0, 2, n], 443));
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let expected = Some(Duration::from_millis(20));
        let mut report = Report::new(start);
        for n in 1..=4 {
            report.started(addr(n), start, None);
        }
        report.started(addr(5), at(10), expected);
        report.started(addr(6), start, expected);
        report.failed(0, io::Error::from(io::ErrorKind::ConnectionRefused), at(3));
        report.failed(1, io::Error::from_raw_os_error(libc::EMFILE), at(1));
        report.connected(2, at(10));
        // Still running when the race ends at 25 ms: the 4th with no expected time, the
        // 5th 15 ms into its 20 ms, the 6th 25 ms into its 20 ms.
        report.cancel_running(at(25));
        let sources = std::iter::repeat_n(None, 6);
        let lessons: Vec<_> = report.lessons(sources).map(|(a, _, l)| (a, l)).collect();
        let want = [
            (addr(1), Lesson::Failed(io::ErrorKind::ConnectionRefused)),
            (addr(3), Lesson::Connected(Duration::from_millis(10))),
            (addr(6), Lesson::Overdue),
        ];
        assert_eq!(lessons, want);
    }
}
