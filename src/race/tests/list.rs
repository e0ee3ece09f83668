//! [`list::addresses`]: the race's cap, policy and order applied to whole answers, with
//! nothing dialed.

use super::*;
use crate::race::list;

/// [`list::addresses`], [`guarded`].
async fn addresses<S>(plan: &Config, answers: S) -> Result<Vec<SocketAddr>, ConnectError>
where
    S: Stream<Item = Answer> + Unpin,
{
    guarded(list::addresses(plan, Ranking::default(), answers)).await
}

fn v4(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i as u8], 0))
}

fn v6(i: usize) -> SocketAddr {
    SocketAddr::new(format!("fd00::{:x}", i).parse().unwrap(), 0)
}

/// Waits for both families, however late the first one is, then interleaves them as the
/// schedule says: preferred family first, `first_family_count` of it, then alternating;
/// each family in DNS order.
#[tokio::test(start_paused = true)]
async fn waits_for_both_families_then_interleaves_them() {
    let answers = || {
        dns(vec![
            (ms(0), Family::V4, Ok(vec![v4(1), v4(2), v4(3)])),
            (ms(200), Family::V6, Ok(vec![v6(1), v6(2), v6(3)])),
        ])
    };
    let t0 = Instant::now();
    let listed = addresses(&plan(Schedule::race_all()), answers())
        .await
        .unwrap();
    assert_eq!(t0.elapsed(), ms(200));
    assert_eq!(listed, [v6(1), v4(1), v6(2), v4(2), v6(3), v4(3)]);

    let two_v4_first = Schedule::rfc8305()
        .preferred_family(Family::V4)
        .first_family_count(2);
    let listed = addresses(&plan(two_v4_first), answers()).await.unwrap();
    assert_eq!(listed, [v4(1), v4(2), v6(1), v4(3), v6(2), v6(3)]);
}

/// 20 `A` records and 3 `AAAA` under a cap of 8: `AAAA` keeps its share, the rest of the
/// cap goes to `A`, and duplicates count once.
#[tokio::test(start_paused = true)]
async fn the_cap_is_shared_fairly_between_the_families() {
    let mut p = plan(Schedule::race_all());
    p.max_addresses = 8;
    let mut a: Vec<_> = (1..=20).map(v4).collect();
    a.insert(1, v4(1));
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(a)),
        (ms(10), Family::V6, Ok(vec![v6(1), v6(2), v6(3)])),
    ]);
    let listed = addresses(&p, answers).await.unwrap();
    assert_eq!(
        listed,
        [v6(1), v4(1), v6(2), v4(2), v6(3), v4(3), v4(4), v4(5)]
    );
}

#[tokio::test(start_paused = true)]
async fn refused_addresses_are_left_out() {
    let p = with_policy(Schedule::race_all(), |a: SocketAddr| {
        a != v4(2) && a != v6(1)
    });
    let answers = dns(vec![
        (ms(0), Family::V6, Ok(vec![v6(1), v6(2)])),
        (ms(0), Family::V4, Ok(vec![v4(1), v4(2), v4(3)])),
    ]);
    let listed = addresses(&p, answers).await.unwrap();
    assert_eq!(listed, [v6(2), v4(1), v4(3)]);
}

/// Every address refused: the error a race would give, with each refused address.
#[tokio::test(start_paused = true)]
async fn every_address_refused_is_a_policy_error() {
    let p = with_policy(Schedule::race_all(), crate::PublicOnly);
    let answers = dns(vec![
        (ms(0), Family::V6, Ok(vec![v6(1)])),
        (ms(0), Family::V4, Ok(vec![v4(1), v4(2)])),
    ]);
    let err = addresses(&p, answers).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RefusedByPolicy);
    assert_eq!(err.refused_by_policy(), [v6(1), v4(1), v4(2)]);
    assert!(err.attempts().is_empty());
}

/// One failed lookup does not matter while the other family has addresses; both failed is
/// a DNS error with both causes; no record at all is "no addresses".
#[tokio::test(start_paused = true)]
async fn failed_and_empty_lookups() {
    let p = plan(Schedule::race_all());
    let answers = dns(vec![
        (ms(0), Family::V6, Err("refused")),
        (ms(0), Family::V4, Ok(vec![v4(1)])),
    ]);
    assert_eq!(addresses(&p, answers).await.unwrap(), [v4(1)]);

    let answers = dns(vec![
        (ms(0), Family::V6, Err("refused")),
        (ms(0), Family::V4, Err("timed out")),
    ]);
    let err = addresses(&p, answers).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dns);
    assert!(err.is_dns());
    assert_eq!(err.dns_errors().len(), 2);

    let answers = dns(vec![
        (ms(0), Family::V6, Ok(vec![])),
        (ms(0), Family::V4, Ok(vec![])),
    ]);
    let err = addresses(&p, answers).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoAddresses);
    assert!(err.is_dns(), "the name has no addresses: {err:?}");
}

/// The total timeout bounds the wait for a family that never answers: what has answered by
/// then is listed; nothing answered is a timeout.
#[tokio::test(start_paused = true)]
async fn the_total_timeout_bounds_the_wait() {
    let mut p = plan(Schedule::race_all());
    p.total_timeout = Some(ms(100));
    let a_only = || dns(vec![(ms(0), Family::V4, Ok(vec![v4(1), v4(2)]))]).chain(stream::pending());
    let t0 = Instant::now();
    let listed = addresses(&p, a_only()).await.unwrap();
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(listed, [v4(1), v4(2)]);

    let t0 = Instant::now();
    let err = addresses(&p, stream::pending()).await.unwrap_err();
    assert_eq!(t0.elapsed(), ms(100));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(err.is_timeout());

    // Without a total timeout, and with one too long for the clock, it waits for DNS.
    for total in [None, Some(Duration::MAX)] {
        p.total_timeout = total;
        let late = dns(vec![
            (ms(0), Family::V4, Ok(vec![v4(1)])),
            (ms(900), Family::V6, Ok(vec![v6(1)])),
        ]);
        let t0 = Instant::now();
        let listed = addresses(&p, late).await.unwrap();
        assert_eq!(t0.elapsed(), ms(900), "{total:?}");
        assert_eq!(listed, [v6(1), v4(1)]);
    }
}
