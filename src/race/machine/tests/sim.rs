//! A simulated network that runs the [`Machine`] as the tokio driver (`race/driver.rs`)
//! does, with no runtime, no sockets and no timers: a discrete-event simulation.
//!
//! A [`Net`] holds hosts, each behaving as a [`Host`] says, and a clock. A race on it
//! polls the machine until it says to wait, then jumps to the earliest of the machine's
//! wake-up and the next thing that happens (an attempt's outcome, a DNS answer, a permit),
//! feeds that to the machine, and polls again, until the machine wins or fails:
//!
//! - `Start` dials the host: its outcome is scheduled at the attempt's start plus the
//!   host's time. Dialing an address with no host panics, so a test proves that an
//!   address is never dialed by leaving it off the network.
//! - `Drop` and `Abandon` cancel what that attempt had still to do.
//! - A transport up ([`Host::Tls`]) wakes nothing: it is told to the machine at the next
//!   wake-up, with its own time, as the driver does with its dialer's reports.
//! - Answers due at the same instant reach the machine together, and the end of DNS with
//!   the last of them, as the driver reads its stream of answers.
//! - Of the things due at the same instant, attempts' outcomes come first (in start
//!   order), then DNS, then a permit, then the machine's own wake-up, one per poll: the
//!   order the driver looks at them in.
//!
//! Every time is exact: the clock starts at one `Instant::now()` and moves only by the
//! times the hosts, the answers and the machine give. It goes on from race to race (and
//! with [`Net::advance`]), so that a history sees a series of races as the connector would.
//!
//! A race that waits for nothing that can happen hangs: [`Setup::run`] panics instead,
//! naming what the race did.
//!
//! ```text
//! let net = Net::new()
//!     .host("10.0.0.1:80", Blackhole)
//!     .host("10.0.0.2:80", Up(ms(10)));
//! let race = net.race(&config(Schedule::rfc8305()));
//! assert_eq!(race.took, ms(260));
//! assert_eq!(race.dials(), net.addrs());
//! ```
//!
//! `race/tests/same_as_sim.rs` proves that the tokio driver, on its paused clock, ends
//! random races exactly as this does. Where they part is on purpose: the driver's timer
//! counts whole milliseconds, where here the machine wakes at the very instant it asks for.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::dns::Answer;
use crate::error::DnsError;
use crate::order::Memory;
use crate::race::machine::{Action, Knowledge, Machine};
use crate::{ConnectError, ConnectInfo, Family};

/// How a host answers a dial.
#[derive(Debug, Clone, Copy)]
pub(in crate::race) enum Host {
    /// Accepts after this handshake time.
    Up(Duration),
    /// Refuses after this time.
    Refused(Duration),
    /// Never answers.
    Blackhole,
    /// Never answers, until the kernel gives up on its SYNs after this long (about 127 s
    /// on Linux): `TimedOut`.
    GivesUp(Duration),
    /// The process has no descriptor left for the attempt's socket: `EMFILE`, at once.
    #[cfg(unix)]
    OutOfFiles,
    /// Connects its transport after `tcp`, reports it, then finishes a handshake on top
    /// as `then` says: a two-stage dialer, as TCP plus TLS.
    Tls { tcp: Duration, then: Handshake },
}

/// How the handshake after a [`Host::Tls`]'s transport ends.
#[derive(Debug, Clone, Copy)]
pub(in crate::race) enum Handshake {
    /// Done after this long.
    Done(Duration),
    /// Fails after this long (a reset, a bad certificate): `InvalidData`.
    Fails(Duration),
    /// Never answers: a host that accepts TCP and then stays silent.
    Silent,
}

/// An address, written as a string or given as one.
pub(in crate::race) trait IntoAddr {
    fn into_addr(self) -> SocketAddr;
}

impl IntoAddr for &str {
    fn into_addr(self) -> SocketAddr {
        self.parse()
            .unwrap_or_else(|e| panic!("{self:?} is no socket address: {e}"))
    }
}

impl IntoAddr for SocketAddr {
    fn into_addr(self) -> SocketAddr {
        self
    }
}

/// The common lab: three dead hosts, then an alive one. On the network `a.b.c`, hosts
/// `.1`–`.3` behave as `dead` and `.4` as `alive`, all on port 80.
pub(in crate::race) fn dead_x3_alive(
    [a, b, c]: [u8; 3],
    dead: Host,
    alive: Host,
) -> [(SocketAddr, Host); 4] {
    let at = |d| SocketAddr::from(([a, b, c, d], 80));
    [(at(1), dead), (at(2), dead), (at(3), dead), (at(4), alive)]
}

/// The simulated network: its hosts, in the order given, and its clock.
#[derive(Debug)]
pub(in crate::race) struct Net {
    hosts: RefCell<Vec<(SocketAddr, Host)>>,
    now: Cell<Instant>,
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

impl Net {
    /// A network with no hosts, its clock at `Instant::now()`.
    pub(in crate::race) fn new() -> Net {
        Net {
            hosts: RefCell::default(),
            now: Cell::new(Instant::now()),
        }
    }

    /// The common lab, [`dead_x3_alive`] at `10.0.0.1`–`.4`.
    pub(in crate::race) fn dead_x3_alive(dead: Host, alive: Host) -> Net {
        Net::new().hosts(dead_x3_alive([10, 0, 0], dead, alive))
    }

    /// Adds a host at `at` (or changes how the one there behaves).
    pub(in crate::race) fn host(self, at: impl IntoAddr, host: Host) -> Net {
        self.set(at, host);
        self
    }

    /// Adds every host of `hosts`.
    pub(in crate::race) fn hosts(self, hosts: impl IntoIterator<Item = (SocketAddr, Host)>) -> Net {
        for (at, host) in hosts {
            self.set(at, host);
        }
        self
    }

    /// Changes how the host at `at` behaves from now on (or adds it, last).
    pub(in crate::race) fn set(&self, at: impl IntoAddr, host: Host) {
        let at = at.into_addr();
        let mut hosts = self.hosts.borrow_mut();
        match hosts.iter_mut().find(|(a, _)| *a == at) {
            Some(entry) => entry.1 = host,
            None => hosts.push((at, host)),
        }
    }

    /// Every host's address, in the order given.
    pub(in crate::race) fn addrs(&self) -> Vec<SocketAddr> {
        self.hosts.borrow().iter().map(|(a, _)| *a).collect()
    }

    /// Every address of `family`, in the order given.
    fn addrs_of(&self, family: Family) -> Vec<SocketAddr> {
        let all = self.addrs().into_iter();
        all.filter(|a| Family::of(a) == family).collect()
    }

    fn behaviour(&self, at: SocketAddr) -> Host {
        let hosts = self.hosts.borrow();
        match hosts.iter().find(|(a, _)| *a == at) {
            Some((_, host)) => *host,
            None => panic!("dialed {at}, which is not on the simulated network"),
        }
    }

    /// The time now: where the last race ended, or later.
    pub(in crate::race) fn now(&self) -> Instant {
        self.now.get()
    }

    /// Moves the clock on by `by`, between races.
    pub(in crate::race) fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    /// A race of every host, given as literal addresses in the order given, with no
    /// history, no RFC 6724 sort and no attempt budget.
    pub(in crate::race) fn race(&self, config: &Config) -> Race {
        self.with(config).run()
    }

    /// A race of what `dns` answers, with no history, no RFC 6724 sort and no attempt
    /// budget.
    pub(in crate::race) fn race_dns(&self, config: &Config, dns: Dns) -> Race {
        self.with(config).dns(dns).run()
    }

    /// A race to set up further: as [`race`](Self::race) until told otherwise.
    pub(in crate::race) fn with<'n>(&'n self, config: &'n Config) -> Setup<'n, Memory<'static>> {
        Setup {
            net: self,
            config,
            knowledge: Memory::default(),
            answers: Answers::Literal(None),
            budget: Budget::unbounded(),
        }
    }
}

/// What the machine hears from DNS.
#[derive(Debug, Clone)]
enum Answers {
    /// Literal addresses, at the race's start, with no lookup: the given ones, or every
    /// host's.
    Literal(Option<Vec<SocketAddr>>),
    Dns(Dns),
}

/// DNS answers, each at its offset from the race's start (given in time order). DNS ends
/// with the last answer, unless it is [`endless`](Self::endless).
#[derive(Debug, Clone, Default)]
pub(in crate::race) struct Dns {
    answers: Vec<DnsAnswer>,
    endless: bool,
}

#[derive(Debug, Clone)]
struct DnsAnswer {
    at: Duration,
    family: Family,
    records: Records,
    sorted: bool,
}

#[derive(Debug, Clone)]
enum Records {
    /// Every host of the answer's family, in the order given.
    Hosts,
    These(Vec<SocketAddr>),
    Fails(&'static str),
}

impl Dns {
    pub(in crate::race) fn new() -> Dns {
        Dns::default()
    }

    fn push(mut self, at: Duration, family: Family, records: Records) -> Dns {
        if let Some(last) = self.answers.last() {
            assert!(last.at <= at, "answers go in time order");
        }
        self.answers.push(DnsAnswer {
            at,
            family,
            records,
            sorted: false,
        });
        self
    }

    /// `A` at `at`, with every IPv4 host of the network.
    pub(in crate::race) fn a(self, at: Duration) -> Dns {
        self.push(at, Family::V4, Records::Hosts)
    }

    /// `AAAA` at `at`, with every IPv6 host of the network.
    pub(in crate::race) fn aaaa(self, at: Duration) -> Dns {
        self.push(at, Family::V6, Records::Hosts)
    }

    /// An answer of `family` at `at` with these addresses (none: no record).
    pub(in crate::race) fn answer(
        self,
        at: Duration,
        family: Family,
        addrs: Vec<SocketAddr>,
    ) -> Dns {
        self.push(at, family, Records::These(addrs))
    }

    /// `family`'s lookup fails at `at`, saying `why`.
    pub(in crate::race) fn fails(self, at: Duration, family: Family, why: &'static str) -> Dns {
        self.push(at, family, Records::Fails(why))
    }

    /// The last answer comes sorted by the resolver (see [`Answer::sorted`]).
    pub(in crate::race) fn sorted(mut self) -> Dns {
        self.answers.last_mut().expect("an answer to mark").sorted = true;
        self
    }

    /// DNS never ends: after the last answer (if any), nothing more comes.
    pub(in crate::race) fn endless(mut self) -> Dns {
        self.endless = true;
        self
    }
}

/// The attempt budget the race draws its permits from, as the driver uses it: every
/// running attempt holds a permit; a race with nothing running takes one even over the
/// limit; a place in line is handed a permit given back while fewer than the limit are
/// in flight.
#[derive(Debug, Clone, Copy)]
pub(in crate::race) struct Budget {
    /// `None`: unbounded.
    limit: Option<usize>,
    /// Permits held by other races' attempts, which never end.
    others: usize,
}

impl Budget {
    pub(in crate::race) fn unbounded() -> Budget {
        Budget {
            limit: None,
            others: 0,
        }
    }

    /// `limit` permits, none in use.
    pub(in crate::race) fn fixed(limit: usize) -> Budget {
        Budget {
            limit: Some(limit),
            others: 0,
        }
    }

    /// `n` of its permits are held for good by other races (hanging attempts).
    pub(in crate::race) fn held_by_others(self, n: usize) -> Budget {
        Budget { others: n, ..self }
    }
}

/// One step of a race, for its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::race) enum Step {
    /// The machine started an attempt: the host is dialed.
    Dial(SocketAddr),
    /// An attempt's transport came up (told to the machine at the next wake-up).
    TransportUp(SocketAddr),
    /// An attempt failed, as its host said.
    Failed(SocketAddr, io::ErrorKind),
    /// An attempt connected: the race is won.
    Won(SocketAddr),
    /// The machine abandoned an attempt for the next address.
    Abandoned(SocketAddr),
    /// The machine dropped an attempt that timed out.
    TimedOut(SocketAddr),
    /// DNS answered, for this family (`None`: literal addresses).
    Answer(Option<Family>),
    /// DNS is over.
    DnsDone,
    /// The budget's reply to the machine: a permit or not.
    Permit(bool),
    /// The machine waits, until this offset (`None`: an event), in the budget's line or not.
    Wait {
        until: Option<Duration>,
        in_line: bool,
    },
    /// The machine failed the race.
    RaceFailed,
}

/// What a race did, and how it ended.
pub(in crate::race) struct Race {
    pub(in crate::race) result: Result<ConnectInfo, ConnectError>,
    /// From its start to its end.
    pub(in crate::race) took: Duration,
    /// Every step, with its offset from the race's start, in the order the machine heard
    /// of it (a transport up, with the time it came up, at the next wake-up).
    pub(in crate::race) log: Vec<(Duration, Step)>,
    /// The most permits of its budget in flight at once, other races' included.
    pub(in crate::race) peak: usize,
}

impl fmt::Debug for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "race of {:?}: {:?}", self.took, self.result)?;
        for (at, step) in &self.log {
            writeln!(f, "  {at:>12?}  {step:?}")?;
        }
        Ok(())
    }
}

impl Race {
    /// The account of a race that was won.
    #[track_caller]
    pub(in crate::race) fn info(&self) -> &ConnectInfo {
        match &self.result {
            Ok(info) => info,
            Err(_) => panic!("the race failed: {self:?}"),
        }
    }

    /// The error of a race that failed.
    #[track_caller]
    pub(in crate::race) fn error(&self) -> &ConnectError {
        match &self.result {
            Err(error) => error,
            Ok(_) => panic!("the race was won: {self:?}"),
        }
    }

    /// The address that won.
    #[track_caller]
    pub(in crate::race) fn winner(&self) -> SocketAddr {
        self.info().remote_addr()
    }

    /// Every address dialed, in the order dialed.
    pub(in crate::race) fn dials(&self) -> Vec<SocketAddr> {
        let dials = self.log.iter().filter_map(|(_, step)| match step {
            Step::Dial(a) => Some(*a),
            _ => None,
        });
        dials.collect()
    }
}

/// A race about to run: its network, configuration, knowledge, answers and budget.
pub(in crate::race) struct Setup<'n, K> {
    net: &'n Net,
    config: &'n Config,
    knowledge: K,
    answers: Answers,
    budget: Budget,
}

impl<'n, K: Knowledge> Setup<'n, K> {
    /// These literal addresses, in this order, instead of every host's.
    pub(in crate::race) fn list<A: IntoAddr>(mut self, addrs: impl IntoIterator<Item = A>) -> Self {
        let addrs = addrs.into_iter().map(IntoAddr::into_addr).collect();
        self.answers = Answers::Literal(Some(addrs));
        self
    }

    /// What `dns` answers, instead of literal addresses.
    pub(in crate::race) fn dns(mut self, dns: Dns) -> Self {
        self.answers = Answers::Dns(dns);
        self
    }

    /// Ranks and learns with `knowledge` (an `order::Memory`: a history, RFC 6724 sources).
    pub(in crate::race) fn knowing<K2: Knowledge>(self, knowledge: K2) -> Setup<'n, K2> {
        Setup {
            net: self.net,
            config: self.config,
            knowledge,
            answers: self.answers,
            budget: self.budget,
        }
    }

    /// Draws permits from `budget`.
    pub(in crate::race) fn budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Runs the race to its end; panics if it hangs.
    #[track_caller]
    pub(in crate::race) fn run(self) -> Race {
        match self.simulate() {
            Ok(race) => race,
            Err(hung) => panic!(
                "the race hangs: it waits for nothing that can happen \
                 (did a failure not start the next attempt, or the last one not end it?)\n{hung:?}"
            ),
        }
    }

    /// Whether the race hangs: it comes to wait for nothing that can happen (as a
    /// blackhole with no timeout).
    pub(in crate::race) fn hangs(self) -> bool {
        self.simulate().is_err()
    }

    fn simulate(self) -> Result<Race, Hung> {
        let start = self.net.now();
        let mut sim = Sim {
            net: self.net,
            start,
            now: start,
            scheduled: Vec::new(),
            seq: 0,
            addrs: Vec::new(),
            dns: self.dns_events(start),
            budget: BudgetState::new(self.budget),
            timer: None,
            log: Vec::new(),
        };
        let mut machine = Machine::new(self.config, self.knowledge, start);
        let end = sim.drive(&mut machine);
        self.net.now.set(sim.now);
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
        })
    }

    /// The answers as the driver's stream gives them: the batches due at each instant
    /// (answers due together join), the last one with the end of DNS.
    fn dns_events(&self, start: Instant) -> Vec<DnsEvent> {
        let dns = match &self.answers {
            Answers::Literal(given) => {
                let addrs = given.clone().unwrap_or_else(|| self.net.addrs());
                return vec![DnsEvent {
                    at: start,
                    answers: vec![Answer::literal(addrs)],
                    done: true,
                }];
            }
            Answers::Dns(dns) => dns,
        };
        let mut events: Vec<DnsEvent> = Vec::new();
        for a in &dns.answers {
            let result = match &a.records {
                Records::Hosts => Ok(self.net.addrs_of(a.family)),
                Records::These(addrs) => Ok(addrs.clone()),
                Records::Fails(why) => Err(DnsError::new(Some(a.family), *why)),
            };
            let answer = Answer {
                family: Some(a.family),
                result,
                sorted: a.sorted,
            };
            let at = start + a.at;
            match events.last_mut() {
                Some(last) if last.at == at => last.answers.push(answer),
                _ => events.push(DnsEvent {
                    at,
                    answers: vec![answer],
                    done: false,
                }),
            }
        }
        if !dns.endless {
            match events.last_mut() {
                Some(last) => last.done = true,
                None => events.push(DnsEvent {
                    at: start,
                    answers: Vec::new(),
                    done: true,
                }),
            }
        }
        events
    }
}

/// A race that came to wait for nothing that can happen.
struct Hung {
    at: Duration,
    log: Vec<(Duration, Step)>,
}

impl fmt::Debug for Hung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "waiting forever from {:?}, after:", self.at)?;
        for (at, step) in &self.log {
            writeln!(f, "  {at:>12?}  {step:?}")?;
        }
        Ok(())
    }
}

/// Answers due at one instant, and whether DNS ends with them.
struct DnsEvent {
    at: Instant,
    answers: Vec<Answer>,
    done: bool,
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

/// The budget as the race sees it, with the driver's two permits: the one granted for the
/// next start, and the one handed to its place in line.
///
/// As in the driver, the race's place in line is taken only when its wait is first polled,
/// after the attempts and DNS: a permit given back by an attempt that ends at the very
/// instant the race comes to wait finds nobody in line.
struct BudgetState {
    limit: Option<usize>,
    others: usize,
    /// Permits held by this race's running attempts.
    own: usize,
    /// The driver holds a permit for the next start.
    granted: bool,
    /// The race waits in line (the driver holds a `Wait`).
    in_line: bool,
    /// Its place in line is taken (the `Wait` was polled).
    queued: bool,
    /// A permit was handed to that place, not yet taken.
    handed: bool,
    peak: usize,
}

impl BudgetState {
    fn new(budget: Budget) -> Self {
        let mut state = BudgetState {
            limit: budget.limit,
            others: budget.others,
            own: 0,
            granted: false,
            in_line: false,
            queued: false,
            handed: false,
            peak: 0,
        };
        state.record();
        state
    }

    fn in_flight(&self) -> usize {
        self.others + self.own + usize::from(self.granted) + usize::from(self.handed)
    }

    fn below_limit(&self) -> bool {
        self.limit.is_none_or(|limit| self.in_flight() < limit)
    }

    fn record(&mut self) {
        self.peak = self.peak.max(self.in_flight());
    }

    /// A permit without waiting if one is free and nobody waits (this race's own place in
    /// line included).
    fn try_take(&mut self) -> bool {
        let free = self.limit.is_none() || (!self.queued && self.below_limit());
        self.granted |= free;
        self.record();
        free
    }

    /// An attempt starts, with the permit granted for it or with one taken over the limit.
    fn start(&mut self) {
        self.granted = false;
        self.own += 1;
        self.record();
    }

    /// A running attempt gives its permit back: to this race's place in line if it has
    /// one, and fewer than the limit are in flight.
    fn release(&mut self) {
        self.own -= 1;
        if self.queued && !self.handed && self.below_limit() {
            self.handed = true;
        }
    }

    /// A running attempt hands its permit to the next start.
    fn hand_over(&mut self) {
        self.own -= 1;
        self.granted = true;
    }

    /// The machine waits, in line (keeping any place it has) or not (giving up its place
    /// and any permit it holds).
    fn wait(&mut self, in_line: bool) {
        if in_line {
            self.in_line = true;
        } else {
            self.in_line = false;
            self.queued = false;
            self.handed = false;
            self.granted = false;
        }
    }

    /// The race's wait is polled: it takes its place in line, if it has none yet, and is
    /// handed a permit at once if one is free.
    fn poll_wait(&mut self) {
        if self.in_line && !self.queued {
            self.queued = true;
            self.handed = self.below_limit();
            self.record();
        }
    }

    /// Whether a permit is handed to the race's place, for it to take.
    fn ready(&self) -> bool {
        self.queued && self.handed
    }

    /// The permit handed to the place in line, taken.
    fn take_handed(&mut self) {
        self.in_line = false;
        self.queued = false;
        self.handed = false;
        self.granted = true;
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
    Timer,
}

/// A race being run.
struct Sim<'n> {
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
}

/// More steps than any test needs: a race past it spins.
const MAX_STEPS: usize = 100_000;

impl Sim<'_> {
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
                Action::Start { idx, addr } => {
                    self.budget.start();
                    self.dial(idx, addr);
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
        let timer = self.timer.map(|at| (at, Event::Timer));
        [attempt, dns, permit, timer]
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
