//! [`one`](crate::race::one): a single address dialed without the race machinery gives
//! exactly what the engine gives it, at exactly the same times.

use super::*;
use crate::race::one::{applies, one, Won};

/// What a test compares of a result: on success the full account, on failure what
/// [`error_seen`] shows.
fn seen<C>(result: Result<(C, Won), ConnectError>) -> String {
    match result {
        // The race ends as it returns, as the connector reads it.
        Ok((_, won)) => format!("{:?}", won.into_info()),
        Err(e) => error_seen(&e),
    }
}

#[tokio::test(start_paused = true)]
async fn one_address_alone_is_the_engine_on_one_address() {
    let hosts = [
        ("10.0.0.1:80", Host::Up(ms(7))),
        ("10.0.0.2:80", Host::Refused(ms(3))),
        ("10.0.0.3:80", Host::Blackhole),
    ];
    let net = Net::new(&hosts);
    let dialer = net.dialer();
    let budget = Budget::new(AttemptBudget::Unbounded);
    for (host, _) in hosts {
        for attempt_timeout in [None, Some(ms(5)), Some(ms(50))] {
            for schedule in [
                Schedule::learned(),
                Schedule::rfc8305(),
                Schedule::race_all(),
            ] {
                let plan = Config {
                    attempt_timeout,
                    partial_deadlines: true,
                    ..plan(schedule)
                };
                assert!(applies(&plan));
                let case = format!("{host} {attempt_timeout:?} {:?}", plan.schedule);
                let target = addr(host);
                if host == "10.0.0.3:80" && attempt_timeout.is_none() {
                    // Both hang, as a plain connect to a blackhole does.
                    let alone = tokio::time::timeout(
                        HUNG,
                        one(&dialer, &plan, &budget, Default::default(), target),
                    );
                    assert!(alone.await.is_err(), "{case}");
                    continue;
                }
                let start = Instant::now();
                let alone =
                    seen(guarded(one(&dialer, &plan, &budget, Default::default(), target)).await);
                let took = start.elapsed();
                let start = Instant::now();
                let history = crate::history::History::new(16);
                let memory = Ranking {
                    history: Some(&history),
                    ..Ranking::default()
                };
                let raced = remembering(&dialer, &plan, memory, literal(vec![target])).await;
                assert_eq!(start.elapsed(), took, "{case}");
                let raced = raced.map(|(conn, info)| (conn, Won::Raced(Box::new(info))));
                assert_eq!(alone, seen(raced), "{case}");
                // Nothing to learn from a race of one.
                assert_eq!(history.len(), 0, "{case}");
            }
        }
    }
    assert_eq!(net.open(), 0);
}

/// The plans the engine keeps: a policy can refuse the address, and a total timeout has
/// its own error.
#[test]
fn a_policy_or_a_total_timeout_goes_to_the_engine() {
    let base = plan(Schedule::learned());
    assert!(applies(&base));
    let policy = with_policy(Schedule::learned(), |_: SocketAddr| true);
    assert!(!applies(&policy));
    let total = Config {
        total_timeout: Some(ms(10)),
        ..base
    };
    assert!(!applies(&total));
}

/// The winner's local address and ALPN protocol join the account, whichever way the race
/// was won.
#[test]
fn the_local_address_and_alpn_join_the_account() {
    let remote = addr("192.0.2.1:443");
    let local = addr("192.0.2.9:50000");
    let start = std::time::Instant::now();
    let alone = Won::Alone {
        addr: remote,
        start,
        transport: None,
    };
    let raced = Won::Raced(Box::new(crate::race::report::Report::alone(
        remote, start, None, start,
    )));
    for won in [alone, raced] {
        let info = won
            .into_info()
            .with_connection(Some(local), Some(b"h2".to_vec()));
        assert_eq!(info.local_addr(), Some(local));
        assert_eq!(info.alpn(), Some(&b"h2"[..]));
    }
}
