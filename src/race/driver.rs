//! The race on tokio: a thin loop around the [`Machine`], which owns the dials, one
//! timer, the DNS answers and the budget's permits, and feeds what happens to the machine.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;

use futures_util::stream::{Stream, StreamExt};
use futures_util::FutureExt;
use tokio::time::{sleep_until, Instant, Sleep};

use super::attempt::{Attempting, Dials};
use super::machine::{Action, Knowledge, Machine};
use crate::budget::{Budget, Permit, Wait};
use crate::burst::{Ended, HostShare, Joinable, Side};
use crate::config::Config;
use crate::dial::{Destination, Origin, Progress};
use crate::dns::Answer;
use crate::metrics;
use crate::{ConnectError, ConnectInfo, Dial};

/// What woke the race.
enum Event<'a, C> {
    Attempt(usize, std::io::Result<C>),
    Dns(Option<Answer>),
    /// The permit this race waited for.
    Permit(Permit<'a>),
    /// The probe this race follows ended.
    Probe(Ended),
    /// The destination's cap gave a permit.
    HostPermit,
    Timer,
}

/// Runs one race: dials addresses as `answers` delivers them, on the schedule of `config`,
/// and returns the first connection to complete, with an account that has no local
/// address (read by the caller that wants one). Every other attempt is dropped before
/// this returns.
///
/// It fails with [`ErrorKind::NoTimeDriver`](crate::ErrorKind::NoTimeDriver) before
/// anything else if the runtime cannot make timers.
///
/// Every attempt holds a permit of `budget` while it runs. The first attempt, and any
/// attempt while none runs, takes one without waiting (over the limit if need be); the
/// others wait their turn in the budget's line when it is spent, and the race's own rules
/// go on meanwhile: a failure that leaves nothing running starts the next attempt at once,
/// and a running attempt past its abandon delay gives its place to the next address (see
/// [`AttemptBudget`](crate::AttemptBudget)).
///
/// A race by name has a `burst`: its destination among the connector's others. It joins
/// the burst to it when it would start cold, and takes its host's cap if one is set (see
/// `crate::burst`).
// An `async fn` would copy its arguments into its future twice (see below).
#[expect(clippy::manual_async_fn)]
pub(crate) fn race<'a, D, K, S>(
    dialer: &'a D,
    config: &'a Config,
    knowledge: K,
    budget: &'a Budget,
    origin: Origin<'a>,
    mut answers: S,
    burst: Option<Joinable<'a>>,
) -> impl Future<Output = Result<(D::Connection, ConnectInfo), ConnectError>> + 'a
where
    D: Dial,
    K: Knowledge + 'a,
    S: Stream<Item = Answer> + Unpin + 'a,
{
    // An `async` block and not an `async fn`: the block keeps each argument where it
    // captured it, where an `async fn`'s future holds a second copy of every one.
    async move {
        let start = Instant::now();
        // Records the race as it returns, or as `cancelled` if its caller drops it.
        let mut tally = metrics::Race::start(start);
        // Its schedule and timeouts run on tokio timers.
        crate::runtime::timers().inspect_err(|e| tally.failed(start, e, false))?;
        let mut machine = Machine::new(config, knowledge, start.into_std());
        if burst.is_some_and(|b| b.follow) {
            machine.coordinated();
        }
        let progress = Progress::default();
        let mut running = pin!(Dials::new());
        let mut dns_open = true;
        // This race's place in the budget's line, while the schedule is ready and every
        // permit is taken; and the permit it got, until its attempt starts.
        let mut waiting: Option<Wait<'_>> = None;
        let mut granted: Option<Permit<'_>> = None;
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        // Its side of the bursts to its destination: its share of the host's cap, and its
        // part once it joins one (the probe it is, or the end of the probe it follows).
        let mut side = Side {
            share: HostShare::new(burst, origin.host, config.attempts_per_host),
            part: None,
        };
        // A debug build counts the wake-ups at one instant (see `most_actions`).
        #[cfg(debug_assertions)]
        let (mut last, mut at_once) = (start, 0usize);
        // The time, read once per event: the machine acts on the event, then polls.
        let mut now = start;
        loop {
            // Whether the race's timer is set for this wait.
            let timed = {
                #[cfg(debug_assertions)]
                {
                    at_once = if now == last { at_once + 1 } else { 0 };
                    last = now;
                    debug_assert!(
                        at_once <= most_actions(config),
                        "the race spins at one instant: {machine:?}"
                    );
                }
                let mut actions = 0usize;
                loop {
                    actions += 1;
                    debug_assert!(
                        actions <= most_actions(config),
                        "the machine does not wait: {machine:?}"
                    );
                    match machine.poll(now.into_std()) {
                        Action::Start {
                            idx,
                            addr,
                            endpoint,
                        } => {
                            // A race with nothing running takes a permit without waiting.
                            let permit = granted.take().unwrap_or_else(|| budget.free());
                            side.share.started(idx);
                            let to = Destination::new(addr, origin, &progress, idx, endpoint);
                            let attempt = Attempting::new(idx, dialer.dial(to), permit);
                            running.as_mut().push(attempt);
                        }
                        Action::TryPermit => {
                            // The destination's cap first: a race waits in one line at once.
                            granted = side.share.try_take().then(|| budget.try_take()).flatten();
                            machine.permit(granted.is_some());
                        }
                        Action::Join => {
                            let follows = side.join(burst, origin.host);
                            machine.joined(now.into_std(), follows);
                        }
                        Action::Abandon(idx) => {
                            granted = running.as_mut().stop(idx);
                            side.share.abandoned(idx);
                            machine.permit(granted.is_some());
                        }
                        Action::Drop(idx) => {
                            drop(running.as_mut().stop(idx));
                            side.share.ended(idx);
                        }
                        Action::Wait { until, in_line } => {
                            // Something is still to come: an answer, an attempt's end, a
                            // permit from the line, or the timer. Waiting for none of them
                            // would hang the race for good.
                            debug_assert!(
                                dns_open || !running.is_empty() || in_line || until.is_some(),
                                "the race waits for nothing that can happen: {machine:?}"
                            );
                            if in_line && side.share.spent() {
                                side.share.wait();
                            } else if in_line {
                                waiting.get_or_insert_with(|| budget.wait());
                            } else {
                                waiting = None;
                                granted = None;
                                side.share.leave();
                            }
                            // One timer for the whole race, made the first time the race
                            // has to wake itself (a race of attempts all started at once
                            // never does), and moved after that.
                            if let Some(at) = until.map(Instant::from_std) {
                                match &mut timer {
                                    Some(timer) => timer.as_mut().reset(at),
                                    None => timer = Some(Box::pin(sleep_until(at))),
                                }
                            }
                            break until.is_some();
                        }
                        Action::Failed(error) => {
                            tally.failed(now, &error, machine.used_history());
                            if let Some(part) = side.part.take() {
                                part.race_ended(false);
                            }
                            return Err(error);
                        }
                    }
                }
            };
            // The wait holds what it polls by reference, and copies the rest: the race's
            // future keeps nothing of this turn of the loop but the wait.
            let event = {
                let (running, answers, waiting) = (&mut running, &mut answers, &mut waiting);
                let side = &mut side;
                let mut timer = timer.as_mut().filter(|_| timed);
                poll_fn(move |cx| {
                    if let Poll::Ready((idx, result)) = running.as_mut().poll_next(cx) {
                        return Poll::Ready(Event::Attempt(idx, result));
                    }
                    if dns_open {
                        if let Poll::Ready(answer) = answers.poll_next_unpin(cx) {
                            return Poll::Ready(Event::Dns(answer));
                        }
                    }
                    if let Some(Poll::Ready(permit)) = waiting.as_mut().map(|w| w.poll_unpin(cx)) {
                        return Poll::Ready(Event::Permit(permit));
                    }
                    if side.share.poll_wait(cx).is_ready() {
                        return Poll::Ready(Event::HostPermit);
                    }
                    if let Some(Poll::Ready(ended)) = side.part.as_mut().map(|p| p.poll_end(cx)) {
                        side.part = None;
                        return Poll::Ready(Event::Probe(ended));
                    }
                    match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                        Some(Poll::Ready(())) => Poll::Ready(Event::Timer),
                        _ => Poll::Pending,
                    }
                })
                .await
            };

            now = Instant::now();
            let now = now.into_std();
            for (idx, at) in progress.take() {
                machine.transport_up(at.into_std(), idx);
            }
            match event {
                Event::Attempt(idx, Ok(conn)) => {
                    // Closes every losing socket, including any that also connected.
                    running.set(Dials::new());
                    let info = machine.won(now, idx);
                    #[cfg(feature = "ech")]
                    let info = info.with_ech(progress.ech_of(idx));
                    if let Some(part) = side.part.take() {
                        part.race_ended(true);
                    }
                    tally.won(Instant::from_std(now), info.used_history);
                    return Ok((conn, info));
                }
                Event::Attempt(idx, Err(error)) => {
                    side.share.ended(idx);
                    machine.failed(now, idx, error);
                }
                Event::Dns(mut answer) => {
                    // Answers that are ready together (both families from a cache) join the
                    // race together, so the first attempt goes to the best of all of them.
                    loop {
                        match answer {
                            Some(answer) => {
                                // The metrics count the name's own lookups.
                                if answer.https.is_none() {
                                    let error = answer.result.as_ref().err();
                                    let start = start.into_std();
                                    metrics::dns_answered(answer.family, error, start, now);
                                }
                                machine.answer(now, answer);
                            }
                            None => {
                                dns_open = false;
                                machine.dns_done(now);
                                break;
                            }
                        }
                        match answers.next().now_or_never() {
                            Some(next) => answer = next,
                            None => break,
                        }
                    }
                }
                Event::Permit(permit) => {
                    waiting = None;
                    granted = Some(permit);
                    machine.permit(true);
                }
                Event::Probe(Ended::Looking) if machine.follows_a_probe() => {
                    // Dropped by its caller: the next race probes, and the others follow it.
                    if !side.join(burst, origin.host) {
                        machine.probe_ended(now, false);
                    }
                }
                Event::Probe(ended) => machine.probe_ended(now, ended == Ended::Won),
                // The next poll asks for the budget's permit, with the cap's in hand.
                Event::HostPermit => {}
                Event::Timer => {}
            }
        }
    }
}

/// What the machine can ask for at one instant: a start, a permit and an abandonment per
/// address, and a timeout per running attempt; and what can happen at one instant, an
/// event per action at most. More is a machine that never waits, which would spin the
/// driver inside one poll, where no test's clock could end it: a debug build fails then.
fn most_actions(config: &Config) -> usize {
    config
        .max_addresses
        .saturating_add(config.max_concurrent)
        .saturating_mul(4)
        .saturating_add(4)
}
