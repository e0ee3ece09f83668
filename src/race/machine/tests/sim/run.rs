//! The simulation itself: the tokio driver's loop (`race/driver.rs`), with the hosts'
//! answers, the DNS answers and the machine's wake-ups as scheduled events instead of
//! futures and a timer.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::budget::BudgetState;
use super::{Budget, Handshake, Host, Hung, Net, Part, ProbeEnd, ProbeEnds, Race, Step};
use crate::config::Config;
use crate::dns::Answer;
use crate::race::machine::{Action, Knowledge, Machine};
use crate::ConnectError;

/// Runs a race of `net` on `config`, with `knowledge`, hearing `dns`, drawing from
/// `budget`: to its end, or until it waits for nothing that can happen.
pub(super) fn simulate<K: Knowledge>(
    net: &Net,
    config: &Config,
    knowledge: K,
    dns: Vec<DnsEvent>,
    budget: Budget,
    burst: Option<Part<'_>>,
) -> Result<Race, Hung> {
    let start = net.now();
    let mut sim = Sim {
        net,
        start,
        now: start,
        scheduled: Vec::new(),
        seq: 0,
        addrs: Vec::new(),
        dns,
        budget: BudgetState::new(budget),
        timer: None,
        log: Vec::new(),
        burst,
        probe_ends: None,
    };
    let mut machine = Machine::new(config, knowledge, start);
    if sim.burst.is_some() {
        machine.coordinated();
    }
    let end = sim.drive(&mut machine);
    net.now.set(sim.now);
    let used_history = machine.used_history();
    let result = match end {
        Drive::Won(idx) => Ok(machine.won(sim.now, idx)),
        Drive::Failed(error) => Err(error),
        Drive::Hung => {
            return Err(Hung {
                at: sim.now - start,
                log: sim.log,
            })
        }
    };
    Ok(Race {
        result,
        took: sim.now - start,
        log: sim.log,
        peak: sim.budget.peak,
        used_history,
    })
}

/// Answers due at one instant, and whether DNS ends with them.
pub(super) struct DnsEvent {
    pub(super) at: Instant,
    pub(super) answers: Vec<Answer>,
    pub(super) done: bool,
}

/// What an attempt has still to do, and when.
#[derive(Clone, Copy)]
struct Scheduled {
    at: Instant,
    /// Breaks ties: the order things were scheduled in (so attempts in start order).
    seq: u64,
    idx: usize,
    what: What,
}

#[derive(Debug, Clone, Copy)]
enum What {
    TransportUp,
    Connects,
    Fails(Failure),
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    Kind(io::ErrorKind),
    #[cfg(unix)]
    Os(i32),
}

impl Failure {
    fn error(self) -> io::Error {
        match self {
            Failure::Kind(kind) => kind.into(),
            #[cfg(unix)]
            Failure::Os(code) => io::Error::from_raw_os_error(code),
        }
    }
}

/// How a drive ended.
enum Drive {
    Won(usize),
    Failed(ConnectError),
    Hung,
}

/// What the race wakes for.
enum Event {
    Attempt(usize),
    Dns,
    Permit,
    ProbeEnds,
    Timer,
}

/// A race being run.
struct Sim<'n, 'p> {
    net: &'n Net,
    start: Instant,
    now: Instant,
    scheduled: Vec<Scheduled>,
    seq: u64,
    /// Each attempt's address, in start order.
    addrs: Vec<SocketAddr>,
    /// The answers still to come.
    dns: Vec<DnsEvent>,
    budget: BudgetState,
    /// The machine's wake-up.
    timer: Option<Instant>,
    log: Vec<(Duration, Step)>,
    /// Its part in a burst, until it joins.
    burst: Option<Part<'p>>,
    /// The end of the probe it follows, when it follows one that ends.
    probe_ends: Option<(Instant, ProbeEnds<'p>)>,
}

/// Five times the steps the longest test takes: a race past it spins. Each step can cost
/// as much as the attempts so far, so a larger cap makes a spinning race slow to fail.
const MAX_STEPS: usize = 10_000;

impl Sim<'_, '_> {
    fn log(&mut self, step: Step) {
        self.log.push((self.now - self.start, step));
        assert!(self.log.len() < MAX_STEPS, "the race spins");
    }

    fn schedule(&mut self, after: Duration, idx: usize, what: What) {
        self.seq += 1;
        self.scheduled.push(Scheduled {
            at: self.now + after,
            seq: self.seq,
            idx,
            what,
        });
    }

    /// Forgets what attempt `idx` had still to do: its dial is dropped.
    fn cancel(&mut self, idx: usize) {
        self.scheduled.retain(|s| s.idx != idx);
    }

    /// Dials `addr` for attempt `idx`, now.
    fn dial(&mut self, idx: usize, addr: SocketAddr) {
        let host = self.net.behaviour(addr);
        debug_assert_eq!(
            idx,
            self.addrs.len(),
            "attempts are numbered in start order"
        );
        self.addrs.push(addr);
        self.log(Step::Dial(addr));
        let fails = |kind| What::Fails(Failure::Kind(kind));
        match host {
            Host::Up(d) => self.schedule(d, idx, What::Connects),
            Host::Refused(d) => self.schedule(d, idx, fails(io::ErrorKind::ConnectionRefused)),
            Host::Blackhole => {}
            Host::GivesUp(d) => self.schedule(d, idx, fails(io::ErrorKind::TimedOut)),
            #[cfg(unix)]
            Host::OutOfFiles => {
                self.schedule(Duration::ZERO, idx, What::Fails(Failure::Os(libc::EMFILE)))
            }
            Host::Tls { tcp, then } => {
                self.schedule(tcp, idx, What::TransportUp);
                match then {
                    Handshake::Done(d) => self.schedule(tcp + d, idx, What::Connects),
                    Handshake::Fails(d) => {
                        self.schedule(tcp + d, idx, fails(io::ErrorKind::InvalidData))
                    }
                    Handshake::Silent => {}
                }
            }
        }
    }

    /// Polls `machine` until it waits, doing what it says; `Some` when the race is over.
    fn act<K: Knowledge>(&mut self, machine: &mut Machine<'_, K>) -> Option<Drive> {
        loop {
            match machine.poll(self.now) {
                Action::Start { idx, addr, .. } => {
                    self.budget.start();
                    self.dial(idx, addr);
                }
                Action::Join => {
                    let part = self.burst.take().expect("a part to take in the burst");
                    let follows = matches!(part, Part::Follow(_));
                    self.log(Step::Joined { follows });
                    if let Part::Follow(Some(ends)) = part {
                        self.probe_ends = Some((self.start + ends.at, ends));
                    }
                    machine.joined(self.now, follows);
                }
                Action::TryPermit => {
                    let granted = self.budget.try_take();
                    self.log(Step::Permit(granted));
                    machine.permit(granted);
                }
                Action::Abandon(idx) => {
                    self.cancel(idx);
                    self.budget.hand_over();
                    self.log(Step::Abandoned(self.addrs[idx]));
                    machine.permit(true);
                }
                Action::Drop(idx) => {
                    self.cancel(idx);
                    self.budget.release();
                    self.log(Step::TimedOut(self.addrs[idx]));
                }
                Action::Wait { until, in_line } => {
                    self.budget.wait(in_line);
                    self.timer = until;
                    let until = until.map(|t| t - self.start);
                    self.log(Step::Wait { until, in_line });
                    return None;
                }
                Action::Failed(error) => {
                    self.log(Step::RaceFailed);
                    return Some(Drive::Failed(error));
                }
            }
        }
    }

    /// The next thing that happens: when, and what. Of the things due at one instant, an
    /// attempt's outcome goes first, then DNS, then a permit, then the timer, as the
    /// driver looks at them; its wait, if it waits in line, is polled (and takes its place)
    /// only when no attempt and no DNS answer is due now.
    fn next(&mut self) -> Option<(Instant, Event)> {
        let attempt = self
            .scheduled
            .iter()
            .filter(|s| !matches!(s.what, What::TransportUp))
            .min_by_key(|s| (s.at, s.seq))
            .map(|s| (s.at, Event::Attempt(s.idx)));
        let dns = self.dns.first().map(|d| (d.at, Event::Dns));
        let due_now =
            |e: &Option<(Instant, Event)>| e.as_ref().is_some_and(|(at, _)| *at == self.now);
        if !due_now(&attempt) && !due_now(&dns) {
            self.budget.poll_wait();
        }
        let permit = self.budget.ready().then_some((self.now, Event::Permit));
        let probe = self.probe_ends.as_ref().map(|p| (p.0, Event::ProbeEnds));
        let timer = self.timer.map(|at| (at, Event::Timer));
        [attempt, dns, permit, probe, timer]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }

    /// Runs the race to its end.
    fn drive<K: Knowledge>(&mut self, machine: &mut Machine<'_, K>) -> Drive {
        loop {
            if let Some(end) = self.act(machine) {
                return end;
            }
            let Some((at, event)) = self.next() else {
                return Drive::Hung;
            };
            debug_assert!(at >= self.now, "time runs forward");
            self.now = at;
            self.report_transports(machine);
            match event {
                Event::Attempt(idx) => {
                    let pos = self
                        .scheduled
                        .iter()
                        .position(|s| s.idx == idx && !matches!(s.what, What::TransportUp))
                        .expect("the attempt's outcome");
                    let outcome = self.scheduled.remove(pos);
                    self.cancel(idx);
                    let addr = self.addrs[idx];
                    match outcome.what {
                        What::Connects => {
                            self.log(Step::Won(addr));
                            return Drive::Won(idx);
                        }
                        What::Fails(failure) => {
                            let error = failure.error();
                            self.log(Step::Failed(addr, error.kind()));
                            // The dial's permit goes back as it ends, before the race hears.
                            self.budget.release();
                            machine.failed(self.now, idx, error);
                        }
                        What::TransportUp => unreachable!("not an event"),
                    }
                }
                Event::Dns => {
                    let batch = self.dns.remove(0);
                    for answer in batch.answers {
                        self.log(Step::Answer(answer.family));
                        machine.answer(self.now, answer);
                    }
                    if batch.done {
                        self.log(Step::DnsDone);
                        machine.dns_done(self.now);
                    }
                }
                Event::Permit => {
                    self.budget.take_handed();
                    self.log(Step::Permit(true));
                    machine.permit(true);
                }
                Event::ProbeEnds => {
                    let (_, ProbeEnds { end, then, .. }) =
                        self.probe_ends.take().expect("a probe that ends");
                    then();
                    self.log(Step::ProbeEnded(end));
                    machine.probe_ended(self.now, end == ProbeEnd::Won);
                }
                Event::Timer => {}
            }
        }
    }

    /// Tells the machine of every transport that came up by now, oldest first.
    fn report_transports<K: Knowledge>(&mut self, machine: &mut Machine<'_, K>) {
        let mut up: Vec<Scheduled> = Vec::new();
        let now = self.now;
        self.scheduled.retain(|s| {
            let due = matches!(s.what, What::TransportUp) && s.at <= now;
            if due {
                up.push(*s);
            }
            !due
        });
        up.sort_by_key(|s| (s.at, s.seq));
        for s in up {
            self.log
                .push((s.at - self.start, Step::TransportUp(self.addrs[s.idx])));
            machine.transport_up(s.at, s.idx);
        }
    }
}
