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
use crate::nanos::Nanos;
use crate::rare::Rare;
use crate::{Attempt, ConnectError, ConnectInfo, Family, Outcome};

/// What a race has done so far. Of each attempt's address it keeps only `R`, what its
/// race keeps of the attempt besides its account (where its address is among the race's
/// own): the race tells the rest ([`Dialed`]) as it asks.
#[derive(Debug)]
pub(crate) struct Report<R> {
    pub(crate) start: Instant,
    /// In start order.
    pub(crate) attempts: Vec<Account<R>>,
    pub(crate) dns_errors: Rare<DnsError>,
    pub(crate) refused: Rare<SocketAddr>,
    /// Addresses of a family the connector's `ip_family` leaves out.
    pub(crate) skipped: u32,
    dns_v4: Option<Nanos>,
    dns_v6: Option<Nanos>,
    /// The race started its best known address alone, as the history said.
    pub(crate) used_history: bool,
    /// It followed another race to its destination, which won (see `burst`).
    pub(crate) followed: bool,
}

/// What a race knows of an attempt's address, told to its [`Report`] as it asks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialed {
    pub(crate) addr: SocketAddr,
    /// The source address the system chose for it, if the race asked.
    pub(crate) source: Option<IpAddr>,
    /// How long the attempt was expected to take at most, if the history knew.
    pub(crate) expected: Option<Duration>,
}

impl Dialed {
    /// `addr`, with nothing known of it.
    pub(crate) fn of(addr: SocketAddr) -> Dialed {
        Dialed {
            addr,
            source: None,
            expected: None,
        }
    }
}

/// One attempt as it stands, its times since the race's start: its [`Attempt`] and, if it
/// failed, its [`AttemptError`], both made only when the race ends, and only the one the
/// race's result needs.
#[derive(Debug)]
pub(crate) struct Account<R> {
    /// What the race keeps of it besides.
    pub(crate) run: R,
    started: Nanos,
    /// How long it ran until it ended; for one still running, set when the race ends.
    duration: Nanos,
    transport: Option<Nanos>,
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

impl<R> Account<R> {
    /// Whether it is still running (cancelled, once its race has ended).
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.end, End::Running)
    }

    /// When it started, since the race's start.
    pub(crate) fn started(&self) -> Duration {
        self.started.get()
    }

    /// How long after its start its transport was up, if its dialer said so.
    pub(crate) fn transport(&self) -> Option<Duration> {
        self.transport.map(Nanos::get)
    }

    /// Its public account, to `dialed`. `said` is the reason last given for an OS error,
    /// with its code: the reason of each code is the same, and the attempts of a race
    /// mostly fail alike (every address refused), so it is put in words once.
    fn into_attempt(self, dialed: Dialed, said: &mut Option<(i32, Arc<str>)>) -> Attempt {
        let (started, duration, transport) = (self.started(), self.duration, self.transport());
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
            addr: dialed.addr,
            started,
            duration: duration.get(),
            outcome,
            expected: dialed.expected,
            transport,
        }
    }

    /// Its error, if it failed or was abandoned; `running` gives a running attempt's.
    fn into_error(
        self,
        addr: SocketAddr,
        running: fn() -> Option<io::Error>,
    ) -> Option<AttemptError> {
        let error = match self.end {
            End::Failed(error) => error,
            End::Abandoned => io::Error::new(
                io::ErrorKind::TimedOut,
                "abandoned for the next address while the attempt budget was spent",
            ),
            End::Running => running()?,
            End::Connected => return None,
        };
        Some(AttemptError::new(addr, error))
    }
}

impl Report<()> {
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
        Report::<()>::new(start).info(addr, end, attempts)
    }
}

impl<R> Report<R> {
    pub(crate) fn new(start: Instant) -> Report<R> {
        Report {
            start,
            attempts: Vec::new(),
            dns_errors: Rare::new(),
            refused: Rare::new(),
            skipped: 0,
            dns_v4: None,
            dns_v6: None,
            used_history: false,
            followed: false,
        }
    }

    fn since_start(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// How long attempt `idx` has run at `now`.
    fn ran(&self, idx: usize, now: Instant) -> Duration {
        self.since_start(now)
            .saturating_sub(self.attempts[idx].started())
    }

    /// A lookup of `family` answered at `now` (none for literal addresses).
    pub(crate) fn looked_up(&mut self, family: Option<Family>, now: Instant) {
        let elapsed = Some(Nanos::new(self.since_start(now)));
        match family {
            Some(Family::V4) => self.dns_v4 = elapsed,
            Some(Family::V6) => self.dns_v6 = elapsed,
            None => {}
        }
    }

    /// An attempt started at `now`; the race keeps `run` of it besides.
    pub(crate) fn started(&mut self, run: R, now: Instant) {
        self.attempts.push(Account {
            run,
            started: Nanos::new(self.since_start(now)),
            duration: Nanos::ZERO,
            transport: None,
            end: End::Running,
        });
    }

    /// Attempt `idx`, to `addr` and running, reported its transport up at `at`, its
    /// handshake running; false if it is over or reported before.
    pub(crate) fn transport_up(&mut self, idx: usize, addr: SocketAddr, at: Instant) -> bool {
        let since = self.since_start(at);
        let Some(attempt) = self.attempts.get_mut(idx) else {
            return false;
        };
        if !attempt.is_running() || attempt.transport.is_some() {
            return false;
        }
        let transport = since.saturating_sub(attempt.started());
        attempt.transport = Some(Nanos::new(transport));
        trace!(%addr, ?transport, "transport connected, handshake running");
        true
    }

    /// Attempt `idx`, to `addr`, failed at `now` with `error`.
    pub(crate) fn failed(&mut self, idx: usize, addr: SocketAddr, error: io::Error, now: Instant) {
        let duration = self.ran(idx, now);
        let attempt = &mut self.attempts[idx];
        metrics::attempt_failed(&error, duration, addr);
        attempt.duration = Nanos::new(duration);
        attempt.end = End::Failed(error);
    }

    /// Attempt `idx`, to `addr`, was abandoned at `now` for the next address, the budget
    /// being spent.
    pub(crate) fn abandoned(&mut self, idx: usize, addr: SocketAddr, now: Instant) {
        let duration = self.ran(idx, now);
        let attempt = &mut self.attempts[idx];
        metrics::attempt_ended(AttemptEnd::Abandoned, duration, addr);
        attempt.duration = Nanos::new(duration);
        attempt.end = End::Abandoned;
        debug!(%addr, after = ?duration, "attempt abandoned for the next address: the budget is spent");
    }

    /// Attempt `idx`, to `addr`, connected at `now`.
    pub(crate) fn connected(&mut self, idx: usize, addr: SocketAddr, now: Instant) {
        let duration = self.ran(idx, now);
        let attempt = &mut self.attempts[idx];
        metrics::attempt_ended(AttemptEnd::Connected, duration, addr);
        attempt.end = End::Connected;
        attempt.duration = Nanos::new(duration);
    }

    /// Marks every attempt still running as cancelled, as of `now`: once, as the race
    /// ends. `dialed` tells each attempt's address.
    pub(crate) fn cancel_running(&mut self, now: Instant, dialed: impl Fn(&R) -> Dialed) {
        // Computed for a running attempt only: a race that is won most often has none left.
        let start = self.start;
        for a in &mut self.attempts {
            if a.is_running() {
                let elapsed = now.saturating_duration_since(start);
                let duration = elapsed.saturating_sub(a.started());
                a.duration = Nanos::new(duration);
                metrics::attempt_ended(AttemptEnd::Cancelled, duration, dialed(&a.run).addr);
            }
        }
    }

    /// What each attempt taught about its address, `dialed` telling the address, the
    /// source address it used and its expected time. An attempt that found the process or
    /// the system short of descriptors, buffers or memory says nothing about its address;
    /// nor does one cancelled before its expected time.
    pub(crate) fn lessons<'a>(
        &'a self,
        dialed: impl Fn(&R) -> Dialed + 'a,
    ) -> impl Iterator<Item = (SocketAddr, Option<IpAddr>, Lesson)> + 'a {
        self.attempts.iter().filter_map(move |a| {
            let dialed = dialed(&a.run);
            let duration = a.duration.get();
            let lesson = match &a.end {
                // The transport's handshake is the address's round trip; a TLS
                // handshake on top is a phase of its own, with the server's time.
                End::Connected => match a.transport() {
                    Some(transport) => Lesson::Secured {
                        transport,
                        handshake: duration.saturating_sub(transport),
                    },
                    None => Lesson::Connected(duration),
                },
                End::Failed(error) if short_of_resources(error) => return None,
                End::Failed(error) => Lesson::Failed(error.kind()),
                End::Running | End::Abandoned => match dialed.expected {
                    Some(expected) if duration >= expected => Lesson::Overdue,
                    _ => return None,
                },
            };
            Some((dialed.addr, dialed.source, lesson))
        })
    }

    /// The account of a race won by `remote_addr` at `now`, with no local address;
    /// `dialed` tells each attempt's address.
    pub(crate) fn into_info(
        self,
        remote_addr: SocketAddr,
        now: Instant,
        dialed: impl Fn(&R) -> Dialed,
    ) -> ConnectInfo {
        let mut report = self;
        let attempts = std::mem::take(&mut report.attempts);
        let mut said = None;
        let attempts = attempts
            .into_iter()
            .map(|a| {
                let to = dialed(&a.run);
                a.into_attempt(to, &mut said)
            })
            .collect();
        report.info(remote_addr, now, attempts)
    }

    fn info(
        mut self,
        remote_addr: SocketAddr,
        now: Instant,
        attempts: Vec<Attempt>,
    ) -> ConnectInfo {
        ConnectInfo {
            elapsed: self.since_start(now),
            remote_addr,
            local_addr: None,
            attempts,
            dns_v4: self.dns_v4.map(Nanos::get),
            dns_v6: self.dns_v6.map(Nanos::get),
            refused: self.refused.take(),
            used_history: self.used_history,
            followed: self.followed,
            alpn: None,
            endpoint: None,
            #[cfg(feature = "ech")]
            ech: crate::dns::Ech::NotOffered,
        }
    }

    /// The error of a race that ran out of addresses: every attempt failed, or the
    /// policy refused every address, or DNS failed or found none. `max_addresses` left
    /// `left_out` addresses out; `dialed` tells each attempt's address.
    pub(crate) fn exhausted(
        &mut self,
        left_out: usize,
        max_addresses: usize,
        dialed: impl Fn(&R) -> Dialed,
    ) -> ConnectError {
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
        let errors = self.errors(|| None, dialed);
        let error = ConnectError::failed(kind, errors, self.dns_errors.take());
        error
            .looked_up(looked_up)
            .with_refused(self.refused.take())
            .with_left_out(left_out, max_addresses)
    }

    /// The error of a race whose total timeout, `after`, elapsed: every attempt still
    /// running timed out. `max_addresses` left `left_out` addresses out; `dialed` tells
    /// each attempt's address.
    pub(crate) fn timed_out(
        &mut self,
        after: Duration,
        left_out: usize,
        max_addresses: usize,
        dialed: impl Fn(&R) -> Dialed,
    ) -> ConnectError {
        let running = || {
            Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "total connect timeout elapsed",
            ))
        };
        let errors = self.errors(running, dialed);
        let error = ConnectError::timed_out(after, errors, self.dns_errors.take());
        error
            .with_refused(self.refused.take())
            .with_left_out(left_out, max_addresses)
    }

    /// The attempt errors in the order the attempts started, `running` giving each
    /// running attempt's.
    fn errors(
        &mut self,
        running: fn() -> Option<io::Error>,
        dialed: impl Fn(&R) -> Dialed,
    ) -> Vec<AttemptError> {
        std::mem::take(&mut self.attempts)
            .into_iter()
            .filter_map(|a| {
                let addr = dialed(&a.run).addr;
                a.into_error(addr, running)
            })
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

    /// The address of an attempt whose race keeps its address, and knows nothing else.
    fn dialed(addr: &SocketAddr) -> Dialed {
        Dialed::of(*addr)
    }

    /// `alone` is the long way round in one step, with and without a transport time.
    #[test]
    fn alone_is_what_the_steps_make() {
        let addr: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        for transport in [None, Some(at(7))] {
            let mut report = Report::new(start);
            report.started(addr, start);
            if let Some(t) = transport {
                assert!(report.transport_up(0, addr, t));
            }
            report.connected(0, addr, at(19));
            let steps = report.into_info(addr, at(19), dialed);
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
        report.started(a, start);
        report.started(b, start);
        assert!(report.transport_up(0, a, at(5)));
        assert!(!report.transport_up(0, a, at(9)));
        report.failed(
            1,
            b,
            io::Error::from(io::ErrorKind::ConnectionRefused),
            at(3),
        );
        assert!(!report.transport_up(1, b, at(7)));
        assert!(!report.transport_up(2, b, at(7)), "no such attempt");
        let transports: Vec<_> = report.attempts.iter().map(|a| a.transport()).collect();
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
            report.started(addr(n), start);
        }
        let refused = || io::Error::from_raw_os_error(libc::ECONNREFUSED);
        report.failed(0, addr(1), refused(), start);
        report.failed(1, addr(2), io::Error::other("bad certificate"), start);
        report.failed(2, addr(3), refused(), start);
        let unreachable = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        report.failed(3, addr(4), unreachable, start);
        report.failed(4, addr(5), refused(), start);
        let info = report.into_info(addr(6), start, dialed);
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
        // The 5th and the 6th are expected to take 20 ms.
        let dialed = |&a: &SocketAddr| Dialed {
            expected: (a.ip() >= addr(5).ip()).then_some(Duration::from_millis(20)),
            ..Dialed::of(a)
        };
        let mut report = Report::new(start);
        for n in 1..=4 {
            report.started(addr(n), start);
        }
        report.started(addr(5), at(10));
        report.started(addr(6), start);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        report.failed(0, addr(1), refused, at(3));
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        report.failed(1, addr(2), emfile, at(1));
        report.connected(2, addr(3), at(10));
        // Still running when the race ends at 25 ms: the 4th with no expected time, the
        // 5th 15 ms into its 20 ms, the 6th 25 ms into its 20 ms.
        report.cancel_running(at(25), dialed);
        let lessons: Vec<_> = report.lessons(dialed).map(|(a, _, l)| (a, l)).collect();
        let want = [
            (addr(1), Lesson::Failed(io::ErrorKind::ConnectionRefused)),
            (addr(3), Lesson::Connected(Duration::from_millis(10))),
            (addr(6), Lesson::Overdue),
        ];
        assert_eq!(lessons, want);
    }
}
