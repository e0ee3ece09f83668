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
//! This file is what a test writes and reads: the hosts, the answers, the budget, the race
//! and its log. [`run`] is the loop; [`budget`] is the attempt budget as the driver uses
//! it.
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
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::run::DnsEvent;
use crate::config::Config;
use crate::dns::https::HttpsPart;
use crate::dns::{Answer, DnsError, ServiceEndpoint};
use crate::order::Ranking;
use crate::race::machine::Knowledge;
use crate::{ConnectError, ConnectInfo, Family};

mod budget;
mod run;

pub(in crate::race) use self::budget::Budget;

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
    pub(in crate::race) fn with<'n>(&'n self, config: &'n Config) -> Setup<'n, Ranking<'static>> {
        Setup {
            net: self,
            config,
            knowledge: Ranking::default(),
            answers: Answers::Literal(None),
            budget: Budget::unbounded(),
            burst: None,
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
    /// Part of the race's HTTPS query; the family is ignored for a word on the query.
    https: Option<HttpsPart>,
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
            https: None,
        });
        self
    }

    /// The race asks for HTTPS records: it says so first, at the race's start, as
    /// `dns::https::WithHttps` does.
    pub(in crate::race) fn https_asked(self) -> Dns {
        self.https(Duration::ZERO, HttpsPart::Asked, Family::V6, Vec::new())
    }

    /// The HTTPS records answer at `at`.
    pub(in crate::race) fn https_answered(self, at: Duration) -> Dns {
        self.https(at, HttpsPart::Answered, Family::V6, Vec::new())
    }

    /// `family`'s addresses of `endpoint` at `at`: its hints, or its target's.
    pub(in crate::race) fn endpoint(
        self,
        at: Duration,
        family: Family,
        addrs: Vec<SocketAddr>,
        endpoint: &Arc<ServiceEndpoint>,
        hint: bool,
    ) -> Dns {
        let part = HttpsPart::Endpoint {
            endpoint: Arc::clone(endpoint),
            hint,
        };
        self.https(at, part, family, addrs)
    }

    fn https(
        mut self,
        at: Duration,
        part: HttpsPart,
        family: Family,
        addrs: Vec<SocketAddr>,
    ) -> Dns {
        self = self.push(at, family, Records::These(addrs));
        self.answers.last_mut().expect("just pushed").https = Some(part);
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
    /// The race joined the burst to its destination: it follows a probe, or probes.
    Joined { follows: bool },
    /// The probe the race follows ended.
    ProbeEnded(ProbeEnd),
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
    /// Whether the race started its best known address alone, as the machine tells the
    /// driver's metrics at its end, won or failed.
    pub(in crate::race) used_history: bool,
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
    burst: Option<Part<'n>>,
}

/// A race's part in a burst of cold races to its destination, as the driver would join
/// it (see `burst`).
pub(in crate::race) enum Part<'n> {
    /// No other cold race is in flight: it probes.
    Probe,
    /// It follows a probe that ends `at` (from the race's start) as `end` says, after
    /// `then` ran: what the probe's race taught the history. `None`: the probe never ends.
    Follow(Option<ProbeEnds<'n>>),
}

pub(in crate::race) struct ProbeEnds<'n> {
    pub(in crate::race) at: Duration,
    pub(in crate::race) end: ProbeEnd,
    pub(in crate::race) then: Box<dyn FnOnce() + 'n>,
}

/// How the probe a race follows ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::race) enum ProbeEnd {
    Won,
    Failed,
    /// Its caller dropped it, and this race probes in its place.
    Dropped,
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

    /// Ranks and learns with `knowledge` (an `order::Ranking`: a history, RFC 6724 sources).
    pub(in crate::race) fn knowing<K2: Knowledge>(self, knowledge: K2) -> Setup<'n, K2> {
        Setup {
            net: self.net,
            config: self.config,
            knowledge,
            answers: self.answers,
            budget: self.budget,
            burst: self.burst,
        }
    }

    /// Takes `part` in a burst to its destination if it starts cold.
    pub(in crate::race) fn burst(mut self, part: Part<'n>) -> Self {
        self.burst = Some(part);
        self
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
        let dns = self.dns_events(self.net.now());
        run::simulate(
            self.net,
            self.config,
            self.knowledge,
            dns,
            self.budget,
            self.burst,
        )
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
            let word = matches!(a.https, Some(HttpsPart::Asked | HttpsPart::Answered));
            let answer = Answer {
                family: (!word).then_some(a.family),
                result,
                sorted: a.sorted,
                https: a.https.clone().map(Box::new),
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
