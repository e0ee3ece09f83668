//! The attempt budget shared between races, on the paused clock: which attempts wait, for
//! how long, and in which order; that races still connect when hanging attempts hold every
//! permit; and that every permit comes back. (What one race does with the budget, as a
//! rule, is tested on the machine: `machine/tests/budget.rs`.)

use super::*;

/// A race of `addrs` under `budget`, starting `after` its first poll; it reports when it
/// ended, from its first poll (the test's start, for futures joined together), and its
/// result.
async fn at(
    after: Duration,
    net: &Net,
    plan: &Config,
    budget: &Budget,
    addrs: &[&str],
) -> (Duration, Result<ConnectInfo, ConnectError>) {
    let start = Instant::now();
    sleep(after).await;
    let dialer = net.dialer();
    let result = budgeted(&dialer, plan, budget, literal(net.addrs(addrs))).await;
    (start.elapsed(), result.map(|(_, info)| info))
}

fn fixed(n: usize) -> Budget {
    Budget::new(AttemptBudget::Fixed(n))
}

/// Races wait for permits first come, first served: Y asked before Z, so Y's second
/// attempt starts when A's race ends (20 ms), and Z's only when Y's does (30 ms).
#[tokio::test(start_paused = true)]
async fn permits_go_to_the_races_in_the_order_they_asked() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(20))),
        ("10.0.0.2:80", Host::Up(ms(20))),
        ("10.0.1.1:80", Host::Blackhole),
        ("10.0.1.2:80", Host::Up(ms(10))),
        ("10.0.2.1:80", Host::Blackhole),
        ("10.0.2.2:80", Host::Up(ms(10))),
    ]);
    let budget = fixed(3);
    let p = plan(Schedule::race_all());
    let a = at(ms(0), &net, &p, &budget, &["10.0.0.1:80", "10.0.0.2:80"]);
    let y = at(ms(1), &net, &p, &budget, &["10.0.1.1:80", "10.0.1.2:80"]);
    let z = at(ms(2), &net, &p, &budget, &["10.0.2.1:80", "10.0.2.2:80"]);
    let ((a_end, a), (y_end, y), (z_end, z)) = tokio::join!(a, y, z);
    assert_eq!(a.unwrap().elapsed(), ms(20));
    assert_eq!(a_end, ms(20));
    // Y: its first attempt at once, its second when A's two attempts end.
    let y = y.unwrap();
    assert_eq!(starts(&y)[1], (addr("10.0.1.2:80"), ms(19)));
    assert_eq!(y_end, ms(30));
    // Z asked after Y: its second attempt waits for Y's race to end.
    let z = z.unwrap();
    assert_eq!(starts(&z)[1], (addr("10.0.2.2:80"), ms(28)));
    assert_eq!(z_end, ms(40));
    assert_eq!(budget.usage().in_flight(), 0);
    assert_eq!(budget.usage().waiting(), 0);
    // Two of A's, Y's and Z's first attempts, then Y's second in A's place.
    assert_eq!(budget.usage().peak(), 4);
}

/// Every permit of a race held by hanging attempts, new races still connect: their first
/// attempt takes none, and a failure hands over without one.
///
/// One race's side of this (nothing running, or a failure: start without a permit) is
/// proven with exact times in `machine/tests/budget.rs`; this test stays for the shared
/// budget: races that take permits over the limit while another race holds them all.
#[tokio::test(start_paused = true)]
async fn races_still_connect_when_hanging_attempts_hold_every_permit() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Blackhole),
        ("10.0.0.3:80", Host::Blackhole),
        ("10.0.1.1:80", Host::Up(ms(5))),
        ("10.0.2.1:80", Host::Refused(ms(3))),
        ("10.0.2.2:80", Host::Up(ms(5))),
    ]);
    let budget = fixed(2);
    let p = plan(Schedule::race_all());
    let hung = at(
        ms(0),
        &net,
        &p,
        &budget,
        &["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"],
    );
    let one = at(ms(10), &net, &p, &budget, &["10.0.1.1:80"]);
    let two = at(ms(10), &net, &p, &budget, &["10.0.2.1:80", "10.0.2.2:80"]);
    let late = async { tokio::join!(one, two) };
    tokio::select! {
        _ = hung => panic!("blackholes with no timeout never end"),
        ((one_end, one), (two_end, two)) = late => {
            assert_eq!((one_end, one.unwrap().elapsed()), (ms(15), ms(5)));
            assert_eq!((two_end, two.unwrap().elapsed()), (ms(18), ms(8)));
        }
    }
    // The hung race's third attempt is still in line; its two others hold the permits.
    assert_eq!(budget.usage().in_flight(), 0, "dropped with the select");
}

/// A permit comes back however its attempt ends: it failed, timed out, won, lost, or its
/// race hit the total timeout or was dropped.
#[tokio::test(start_paused = true)]
async fn every_outcome_gives_the_permit_back() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Refused(ms(5))),
        ("10.0.0.2:80", Host::Blackhole),
        ("10.0.0.3:80", Host::Up(ms(10))),
        ("10.0.0.4:80", Host::Up(ms(20))),
    ]);
    let budget = fixed(16);
    let all = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"];
    let race_all = plan(Schedule::race_all());
    let timing_out = Config {
        attempt_timeout: Some(ms(8)),
        ..plan(Schedule::race_all())
    };
    let total = Config {
        total_timeout: Some(ms(8)),
        ..plan(Schedule::race_all())
    };
    // Failed, won, lost (the blackhole and the slower host are dropped at 10 ms).
    let (end, info) = at(ms(0), &net, &race_all, &budget, &all).await;
    assert_eq!((end, info.is_ok()), (ms(10), true));
    assert_eq!(budget.usage().in_flight(), 0);
    // Timed out, each of them.
    let (_, info) = at(ms(0), &net, &timing_out, &budget, &all).await;
    assert_eq!(info.unwrap_err().kind(), ErrorKind::AllAttemptsFailed);
    assert_eq!(budget.usage().in_flight(), 0);
    // The total timeout.
    let (_, info) = at(ms(0), &net, &total, &budget, &all).await;
    assert!(info.unwrap_err().is_timeout());
    assert_eq!(budget.usage().in_flight(), 0);
    // Dropped by its caller while attempts run.
    let dropped = at(ms(0), &net, &race_all, &budget, &all[1..2]);
    assert!(tokio::time::timeout(ms(50), dropped).await.is_err());
    assert_eq!(budget.usage().in_flight(), 0);
    assert_eq!(budget.usage().peak(), 4);
    assert_eq!(net.open(), 0);
}

/// A race that no longer needs its place in line gives it up: here a failure lets its next
/// attempt start without a permit (80 ms), and the permit granted at that same moment goes
/// back instead of being held, idle, until the schedule's next step (130 ms), which then
/// has to wait its turn.
///
/// The machine's side (it waits out of line at 80 ms) is proven in
/// `machine/tests/budget.rs`; this test stays for the driver's: the permit handed to the
/// place it left goes back to the budget.
#[tokio::test(start_paused = true)]
async fn a_permit_granted_when_no_longer_needed_goes_back() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Refused(ms(80))),
        ("10.0.0.2:80", Host::Up(ms(90))),
        ("10.0.0.3:80", Host::Up(ms(1000))),
    ]);
    let budget = fixed(1);
    let p = plan(Schedule::rfc8305().attempt_delay(ms(50)));
    let addrs = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"];
    let racing = at(ms(0), &net, &p, &budget, &addrs);
    let watch = async {
        sleep(ms(60)).await;
        let in_line = budget.usage();
        sleep(ms(40)).await;
        (in_line, budget.usage())
    };
    let ((end, info), (in_line, after)) = tokio::join!(racing, watch);
    assert_eq!((in_line.in_flight(), in_line.waiting()), (1, 1));
    assert_eq!((after.in_flight(), after.waiting()), (1, 0));
    let info = info.unwrap();
    assert_eq!(
        starts(&info),
        vec![(addr("10.0.0.1:80"), ms(0)), (addr("10.0.0.2:80"), ms(80))]
    );
    assert_eq!(end, ms(170));
}
