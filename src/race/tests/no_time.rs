//! On a runtime without tokio's time driver: the engine, which may always need a timer,
//! fails at once with [`ErrorKind::NoTimeDriver`]; one address dialed alone, and a list
//! of answers, need one only with a timeout.
//!
//! Every future here is done at its first poll (the dialer is ready at once), so nothing
//! here needs a timer to bound it.

use futures_util::FutureExt;

use super::*;
use crate::race::{list, one};

/// Polls `future` once inside a current-thread runtime with IO and no time driver.
fn without_time<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    future.now_or_never().expect("done at its first poll")
}

/// Connects at once, to anything.
fn ready(_: SocketAddr) -> std::future::Ready<io::Result<()>> {
    std::future::ready(Ok(()))
}

fn assert_no_time_driver<T>(result: Result<T, ConnectError>) {
    match result {
        Ok(_) => panic!("connected without a time driver"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::NoTimeDriver, "{e:?}"),
    }
}

#[test]
fn the_engine_needs_timers() {
    let budget = Budget::new(AttemptBudget::Unbounded);
    let addrs = vec![addr("10.0.0.1:80"), addr("10.0.0.2:80")];
    for schedule in [Schedule::race_all(), Schedule::learned()] {
        let plan = plan(schedule);
        let race = super::super::race(
            &ready,
            &plan,
            Ranking::default(),
            &budget,
            Origin::default(),
            literal(addrs.clone()),
            None,
        );
        assert_no_time_driver(without_time(race));
    }
}

#[test]
fn one_address_needs_timers_only_with_a_timeout() {
    let budget = Budget::new(AttemptBudget::Unbounded);
    let target = addr("10.0.0.1:80");
    let untimed = plan(Schedule::learned());
    let alone = one::one(&ready, &untimed, &budget, Origin::default(), target);
    assert!(without_time(alone).is_ok());

    let timed = Config {
        attempt_timeout: Some(ms(100)),
        ..plan(Schedule::learned())
    };
    let alone = one::one(&ready, &timed, &budget, Origin::default(), target);
    assert_no_time_driver(without_time(alone));
}

#[test]
fn a_list_needs_timers_only_with_a_total_timeout() {
    let addrs = vec![addr("10.0.0.1:0"), addr("10.0.0.2:0")];
    let untimed = plan(Schedule::race_all());
    let listed = list::addresses(&untimed, Ranking::default(), literal(addrs.clone()));
    assert_eq!(without_time(listed).unwrap(), addrs);

    let timed = Config {
        total_timeout: Some(ms(100)),
        ..plan(Schedule::race_all())
    };
    let listed = list::addresses(&timed, Ranking::default(), literal(addrs));
    assert_no_time_driver(without_time(listed));
}
