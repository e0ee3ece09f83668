//! The attempt budget, as one race sees it: a race with nothing running never waits for a
//! permit, a failure starts the next attempt without one, and a race with nothing to start
//! holds no place in line. (The budget's line, shared between races, is tested on tokio in
//! `race/tests/budget.rs`.)

use super::*;

/// Under `Fixed(0)` every race dials one address at a time, as a plain client does: the
/// first attempt never waits, and the next starts when it fails (here, when it times out).
#[test]
fn a_race_with_nothing_running_never_waits() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Refused(ms(5)))
        .host("10.0.0.3:80", Up(ms(10)));
    let c = Config {
        attempt_timeout: Some(ms(100)),
        ..config(Schedule::race_all())
    };
    let race = net.with(&c).budget(Budget::fixed(0)).run();
    assert_eq!(race.took, ms(115));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("10.0.0.2:80"), ms(100)),
            (addr("10.0.0.3:80"), ms(105)),
        ]
    );
    assert_eq!(race.peak, 1);
}

/// A race waiting for a permit still fails over at once: when its only running attempt
/// fails, the next starts without a permit, though the budget is spent by a race that
/// hangs.
#[test]
fn a_failure_starts_the_next_attempt_while_the_budget_is_spent() {
    let net = Net::new()
        .host("10.0.1.1:80", Refused(ms(10)))
        .host("10.0.1.2:80", Up(ms(5)));
    let c = config(Schedule::race_all());
    let race = net
        .with(&c)
        .budget(Budget::fixed(1).held_by_others(1))
        .run();
    assert_eq!(race.took, ms(15));
    assert_eq!(starts(race.info())[1], (addr("10.0.1.2:80"), ms(10)));
}

/// A race that no longer needs its place in line gives it up: here a failure lets its next
/// attempt start without a permit (80 ms), and the race then waits for its next step
/// (130 ms) out of line, where the tokio test (`race/tests/budget.rs`) shows the permit
/// handed to its place going back.
#[test]
fn a_race_with_nothing_to_start_leaves_the_line() {
    let net = Net::new()
        .host("10.0.0.1:80", Refused(ms(80)))
        .host("10.0.0.2:80", Up(ms(90)))
        .host("10.0.0.3:80", Up(ms(1000)));
    let c = config(Schedule::rfc8305().attempt_delay(ms(50)));
    let race = net.with(&c).budget(Budget::fixed(1)).run();
    assert_eq!(
        starts(race.info()),
        vec![(addr("10.0.0.1:80"), ms(0)), (addr("10.0.0.2:80"), ms(80))]
    );
    assert_eq!(race.took, ms(170));
    let waits: Vec<_> = race
        .log
        .iter()
        .filter_map(|(at, step)| match step {
            Step::Wait { in_line, .. } => Some((*at, *in_line)),
            _ => None,
        })
        .collect();
    // In line from 50 ms (the delay is over, the budget spent) until 80 ms, when the
    // second attempt has started and the next may start only at 130 ms; in line again
    // from then on.
    assert_eq!(
        waits,
        vec![
            (ms(0), false),
            (ms(0), false),
            (ms(50), true),
            (ms(80), false),
            (ms(130), true),
        ]
    );
}
