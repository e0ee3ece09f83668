//! A tokio runtime built without the time driver (`enable_io()` alone): connie says so with
//! a `ConnectError` of kind `NoTimeDriver` before any lookup or SYN, never with a panic,
//! and a DNS race dropped while a panic unwinds does not abort the process.
//!
//! The lab's hosts and DNS server run on a runtime of their own, with time. A runtime
//! without time has no timer to bound a wait with, so each client runs on a thread of its
//! own, waited for for at most [`PROMPT`].

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use connie::{ConnectError, ConnieConnector, ErrorKind, Schedule};
use connie_lab::{Lab, RecordType};
use futures_util::poll;
use support::{ip, PROMPT};
use tokio::runtime::{Builder, Runtime};

/// A runtime with IO and no time driver.
fn no_time() -> Runtime {
    Builder::new_current_thread().enable_io().build().unwrap()
}

/// A runtime with IO and time, for the lab's servers.
fn servers() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `f` on a thread of its own and returns what it returns; fails the test if that
/// takes longer than [`PROMPT`] (or `f` panics).
fn on_a_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(PROMPT)
        .expect("the client returned in time, without a panic")
}

/// Runs `client` on a runtime without time, on a thread of its own (see [`on_a_thread`]).
fn without_time<F, T>(client: impl FnOnce() -> F + Send + 'static) -> T
where
    F: Future<Output = T>,
    T: Send + 'static,
{
    on_a_thread(move || no_time().block_on(client()))
}

/// The error a connect gives on a runtime without time: the kind, no attempt made, and a
/// message that says what to do.
fn assert_no_time_driver(err: &ConnectError) {
    assert_eq!(err.kind(), ErrorKind::NoTimeDriver, "{err:?}");
    assert!(err.attempts().is_empty(), "{err:?}");
    assert!(err.dns_errors().is_empty(), "{err:?}");
    assert!(
        err.to_string().ends_with(
            "the tokio runtime has no time driver (build it with `enable_all()` or \
             `enable_time()`)"
        ),
        "{err}"
    );
}

/// A host the history knows (its first connects ran on a runtime with time) is raced
/// again without time, where the learned schedule would wait on a timer: each connect is
/// the clear error, every time. One address with no timeout needs no timer and connects;
/// with an attempt timeout it is the error too.
#[test]
fn repeated_connects_to_a_known_host_fail_clearly() {
    let servers = servers();
    let lab = servers
        .block_on(
            Lab::builder()
                .alive(ip("127.0.0.2"))
                .alive(ip("127.0.0.3"))
                .build(),
        )
        .unwrap();
    let addrs = lab.addrs();
    let connector = ConnieConnector::new();
    for _ in 0..2 {
        let (_, info) = servers.block_on(connector.connect(&addrs[..])).unwrap();
        assert!(info.remote_addr().ip().is_loopback());
    }

    let (known, many) = (connector.clone(), addrs.clone());
    let errors = without_time(move || async move {
        let mut errors = Vec::new();
        for schedule in [
            Schedule::learned(),
            Schedule::learned(),
            Schedule::race_all(),
        ] {
            let connector = known.clone().schedule(schedule);
            errors.push(connector.connect(&many[..]).await.unwrap_err());
        }
        errors.push(connie::race_connect(&many[..]).await.unwrap_err());
        errors
    });
    for err in &errors {
        assert_no_time_driver(err);
    }
    let io = std::io::Error::from(errors.into_iter().next().unwrap());
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);

    let one = addrs[0];
    let (alone, timed) = without_time(move || async move {
        let mut alone: Vec<SocketAddr> = Vec::new();
        for _ in 0..3 {
            let (stream, _) = connector.connect(one).await.unwrap();
            alone.push(stream.peer_addr().unwrap());
            let stream = connie::race_connect(one).await.unwrap();
            alone.push(stream.peer_addr().unwrap());
        }
        let timed = connector
            .attempt_timeout(Some(Duration::from_secs(1)))
            .connect(one)
            .await;
        (alone, timed.map(|_| ()).unwrap_err())
    });
    assert_eq!(alone, [one; 6]);
    assert_no_time_driver(&timed);
    drop(lab);
}

/// A name looked up with hickory, whose queries run on tokio timers: the clear error
/// before any query, every time.
#[test]
fn a_name_fails_clearly_before_any_query() {
    let servers = servers();
    let lab = servers
        .block_on(Lab::builder().alive(ip("127.0.0.2")).build())
        .unwrap();
    let dns = servers
        .block_on(
            lab.dns("www")
                .delay(RecordType::AAAA, Duration::from_secs(1))
                .start(),
        )
        .unwrap();
    let connector = ConnieConnector::new().resolver(dns.resolver());
    let name = ("www.lab.test.", lab.port());
    let errors = without_time(move || async move {
        let mut errors = Vec::new();
        for _ in 0..2 {
            errors.push(connector.connect(name).await.unwrap_err());
        }
        errors
    });
    for err in &errors {
        assert_no_time_driver(err);
        assert!(
            err.to_string().starts_with("connect to www.lab.test.:"),
            "{err}"
        );
    }
    drop((dns, lab));
}

/// A DNS race whose lookups are in flight (on a runtime with time), dropped while a panic
/// unwinds inside a runtime without time: the lookups' destructor makes no timer there
/// (a second panic, during unwinding, would abort the process), so the panic is the
/// caller's own, caught as any other, and the process goes on.
#[test]
fn a_dns_race_dropped_mid_lookup_while_unwinding_does_not_abort() {
    let servers = servers();
    let lab = servers
        .block_on(Lab::builder().alive(ip("127.0.0.2")).build())
        .unwrap();
    let hour = Duration::from_secs(3600);
    let dns = servers
        .block_on(
            lab.dns("www")
                .delay(RecordType::A, hour)
                .delay(RecordType::AAAA, hour)
                .start(),
        )
        .unwrap();
    let connector = ConnieConnector::new().resolver(dns.resolver());
    let port = lab.port();

    let unwound = on_a_thread(move || {
        let with_time = Builder::new_current_thread().enable_all().build().unwrap();
        let mut race = Box::pin(connector.connect(("www.lab.test.", port)));
        // Polled once on the runtime with time: both lookups are in flight, for an hour.
        let polled = with_time.block_on(async { poll!(race.as_mut()) });
        assert!(matches!(polled, Poll::Pending), "{polled:?}");

        let no_time = no_time();
        let unwound = {
            let _inside = no_time.enter();
            catch_unwind(AssertUnwindSafe(move || {
                let _race = race;
                panic!("the caller panicked mid-race");
            }))
        };
        drop(with_time);
        unwound.map_err(|panic| panic.downcast_ref::<&str>().map(|s| s.to_string()))
    });
    assert_eq!(
        unwound,
        Err(Some("the caller panicked mid-race".to_owned())),
        "the caller's own panic, caught"
    );
    drop((dns, lab));
}
