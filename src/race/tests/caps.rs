//! The caps and huge settings: neither family can shut the other out of a race, however
//! many records one of them brings, and no duration makes the engine panic.

use super::*;

fn v4(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i / 256) as u8, (i % 256) as u8], 80))
}

fn v6(i: usize) -> SocketAddr {
    SocketAddr::new(format!("fd00::{:x}", i + 1).parse().unwrap(), 80)
}

/// `n` addresses made by `make`, each behaving as `host`.
fn hosts(n: usize, make: fn(usize) -> SocketAddr, host: Host) -> Vec<(SocketAddr, Host)> {
    (0..n).map(|i| (make(i), host)).collect()
}

fn dialed(net: &Net, family: Family) -> usize {
    let dials = net.dials.lock().unwrap();
    dials.iter().filter(|a| Family::of(a) == family).count()
}

/// 20 refused `A` records answer first and would fill the address cap on their own; the
/// alive `AAAA` arriving 10 ms later still gets its attempt and wins.
#[tokio::test(start_paused = true)]
async fn refused_a_records_first_cannot_shut_out_a_late_aaaa() {
    let mut all = hosts(20, v4, Host::Refused(ms(1)));
    all.push((v6(0), Host::Up(ms(5))));
    let net = Net::of(all);
    let answers = dns(vec![
        (ms(0), Family::V4, Ok((0..20).map(v4).collect())),
        (ms(10), Family::V6, Ok(vec![v6(0)])),
    ]);
    let t0 = Instant::now();
    let (conn, info) = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap();
    assert_eq!(conn.addr, v6(0));
    assert_eq!(t0.elapsed(), ms(15));
    assert_eq!(info.attempts().last().map(|a| a.started()), Some(ms(10)));
    // Half the cap waited for AAAA: 8 `A` records were dialed at once, and 7 of those held
    // back joined when AAAA answered with one address (16 in all, the cap).
    let early = info.attempts().iter().filter(|a| a.started() == ms(0));
    assert_eq!(early.count(), 8);
    assert_eq!(dialed(&net, Family::V4), 15);
}

/// 20 blackholed `AAAA` records at 0 ms and an alive `A` (5 ms handshake) at 10 ms, raced
/// on `p` with a long total timeout: the network and what the race returned.
async fn blackholed_aaaa_then_a_late_a(mut p: Config) -> (Net, Socket, crate::ConnectInfo) {
    let mut all = hosts(20, v6, Host::Blackhole);
    all.push((v4(0), Host::Up(ms(5))));
    let net = Net::of(all);
    let answers = dns(vec![
        (ms(0), Family::V6, Ok((0..20).map(v6).collect())),
        (ms(10), Family::V4, Ok(vec![v4(0)])),
    ]);
    p.total_timeout = Some(ms(60_000));
    let (conn, info) = race(&net.dialer(), &p, answers).await.unwrap();
    (net, conn, info)
}

/// The mirror case: 20 blackholed `AAAA` first, an alive `A` 10 ms later. Without room
/// kept for IPv4 the race would hang until its timeout.
#[tokio::test(start_paused = true)]
async fn blackholed_aaaa_records_first_cannot_shut_out_a_late_a() {
    let (net, conn, info) = blackholed_aaaa_then_a_late_a(plan(Schedule::race_all())).await;
    assert_eq!(conn.addr, v4(0));
    assert_eq!(info.elapsed(), ms(15));
    let early = info.attempts().iter().filter(|a| a.started() == ms(0));
    assert_eq!(early.count(), 8);
    assert_eq!(dialed(&net, Family::V6), 15);
    assert_eq!(net.open(), 1);
}

/// The concurrency cap kept full by one family's hanging attempts keeps a slot for the
/// other family until it has had an attempt.
#[tokio::test(start_paused = true)]
async fn hanging_attempts_of_one_family_leave_a_slot_for_the_other() {
    let mut p = plan(Schedule::race_all());
    p.max_concurrent = 4;
    p.max_addresses = 64;
    let (net, conn, info) = blackholed_aaaa_then_a_late_a(p).await;
    assert_eq!(conn.addr, v4(0));
    assert_eq!(info.elapsed(), ms(15));
    assert_eq!(dialed(&net, Family::V6), 3);
}

/// Once the other family has answered with nothing, the held-back addresses use the whole
/// cap: reserving room never costs attempts.
#[tokio::test(start_paused = true)]
async fn held_back_addresses_use_the_room_the_other_family_left() {
    let net = Net::of(hosts(20, v4, Host::Refused(ms(1))));
    let answers = dns(vec![
        (ms(0), Family::V4, Ok((0..20).map(v4).collect())),
        (ms(10), Family::V6, Ok(vec![])),
    ]);
    let err = race(&net.dialer(), &plan(Schedule::race_all()), answers)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
    let dials = net.dials.lock().unwrap().clone();
    assert_eq!(dials, (0..16).map(v4).collect::<Vec<_>>());
}

/// A literal list of one family followed by one address of the other: the other family
/// is still attempted, second, as interleaving wants.
#[tokio::test(start_paused = true)]
async fn a_long_literal_list_still_reaches_the_other_family() {
    let mut all = hosts(30, v4, Host::Blackhole);
    all.push((v6(0), Host::Up(ms(5))));
    let net = Net::of(all);
    let mut addrs: Vec<_> = (0..30).map(v4).collect();
    addrs.push(v6(0));
    let (conn, info) = race(&net.dialer(), &plan(Schedule::rfc8305()), literal(addrs))
        .await
        .unwrap();
    assert_eq!(conn.addr, v6(0));
    assert_eq!(starts(&info), vec![(v6(0), ms(0))]);
}

/// A hostile answer of hundreds of records in each family, the refused `AAAA` flood first:
/// each family gets half the cap, so the alive `A` among the first of its family is still
/// reached, and no more than the cap is ever dialed.
#[tokio::test(start_paused = true)]
async fn hundreds_of_records_stay_within_the_caps() {
    let mut all = hosts(400, v4, Host::Blackhole);
    all.extend(hosts(400, v6, Host::Refused(ms(1))));
    all[3].1 = Host::Up(ms(20));
    let net = Net::of(all);
    let answers = dns(vec![
        (ms(0), Family::V6, Ok((0..400).map(v6).collect())),
        (ms(30), Family::V4, Ok((0..400).map(v4).collect())),
    ]);
    let mut p = plan(Schedule::race_all());
    p.total_timeout = Some(ms(60_000));
    let (conn, info) = race(&net.dialer(), &p, answers).await.unwrap();
    assert_eq!(conn.addr, v4(3));
    assert_eq!(info.elapsed(), ms(50));
    assert_eq!(dialed(&net, Family::V6), 8);
    assert_eq!(dialed(&net, Family::V4), 8);
    assert!(info.attempts().len() <= 16);
}

#[tokio::test(start_paused = true)]
async fn a_total_timeout_of_duration_max_is_no_deadline() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Up(ms(10))),
    ]);
    let mut p = plan(Schedule::sequential());
    p.total_timeout = Some(Duration::MAX);
    p.attempt_timeout = Some(Duration::MAX);
    let addrs = net.addrs(&["10.0.0.2:80"]);
    let (_conn, info) = race(&net.dialer(), &p, literal(addrs)).await.unwrap();
    assert_eq!(info.elapsed(), ms(10));

    // Nothing ever answers: still no panic, only a wait no clock can end. The one race
    // here expected to hang, so it runs unguarded, bounded by the test itself.
    let dialer = net.dialer();
    let budget = Budget::new(AttemptBudget::Unbounded);
    let never = crate::race::race(
        &dialer,
        &p,
        Memory::default(),
        &budget,
        Default::default(),
        literal(net.addrs(&["10.0.0.1:80"])),
    );
    let waited = tokio::time::timeout(ms(3_600_000), never).await;
    assert!(waited.is_err(), "a blackhole with no deadline waits");
}

#[tokio::test(start_paused = true)]
async fn a_resolution_delay_of_duration_max_waits_for_aaaa_and_no_longer() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(10))),
        ("[fd00::1]:80", Host::Up(ms(10))),
    ]);
    let schedule = Schedule::rfc8305().resolution_delay(Duration::MAX);
    // A at 0, AAAA fails at 700 ms: the IPv4 attempt starts then, not before.
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(700), Family::V6, Err("no records")),
    ]);
    let (_conn, info) = race(&net.dialer(), &plan(schedule.clone()), answers)
        .await
        .unwrap();
    assert_eq!(starts(&info), vec![(addr("10.0.0.1:80"), ms(700))]);

    // AAAA arrives at 300 ms: it goes first.
    let answers = dns(vec![
        (ms(0), Family::V4, Ok(net.addrs(&["10.0.0.1:80"]))),
        (ms(300), Family::V6, Ok(net.addrs(&["[fd00::1]:80"]))),
    ]);
    let (conn, _) = race(&net.dialer(), &plan(schedule), answers).await.unwrap();
    assert_eq!(conn.addr, addr("[fd00::1]:80"));
}
