//! Abandoning an overdue attempt while the attempt budget is spent, on the paused clock:
//! when a race moves past an attempt without waiting for the kernel, how a path slower
//! than its delay still connects, when an address is kept for good, and that the bound on
//! attempts in flight holds.

use super::*;
use crate::schedule::timing::abandon_after;

fn fixed(n: usize) -> Budget {
    Budget::new(AttemptBudget::Fixed(n))
}

/// A race of `addrs` (in that order) on `net` under `budget`, with `plan`.
async fn alone(
    net: &Net,
    plan: &Config,
    budget: &Budget,
    addrs: &[&str],
) -> Result<(Socket, ConnectInfo), ConnectError> {
    budgeted(&net.dialer(), plan, budget, literal(net.addrs(addrs))).await
}

fn outcomes(info: &ConnectInfo) -> Vec<Outcome> {
    info.attempts()
        .iter()
        .map(|a| a.outcome().clone())
        .collect()
}

/// The rule's numbers: the delay within 100 ms..=2 s, doubled for each earlier
/// abandonment of the address, and never abandoned once that passes 2 s.
#[test]
fn the_abandon_delay() {
    let table = [
        // (attempt delay, abandoned before, abandon after)
        (Some(ms(0)), 0, Some(ms(100))),
        (Some(ms(0)), 1, Some(ms(200))),
        (Some(ms(0)), 4, Some(ms(1600))),
        (Some(ms(0)), 5, None),
        (Some(ms(40)), 0, Some(ms(100))),
        (Some(ms(250)), 0, Some(ms(250))),
        (Some(ms(250)), 3, Some(ms(2000))),
        (Some(ms(250)), 4, None),
        (Some(ms(2000)), 0, Some(ms(2000))),
        (Some(ms(2000)), 1, None),
        (Some(Duration::from_secs(60)), 0, Some(ms(2000))),
        (Some(Duration::MAX), 0, Some(ms(2000))),
        // "Until it fails" (sequential) is given the longest delay.
        (None, 0, Some(ms(2000))),
        (None, 1, None),
        (Some(ms(0)), 31, None),
        (Some(ms(0)), u32::MAX, None),
    ];
    for (delay, abandoned, after) in table {
        assert_eq!(
            abandon_after(delay, abandoned),
            after,
            "delay {delay:?}, abandoned {abandoned} times before"
        );
    }
}

/// A race of [dead, dead, dead, alive] while another race's hanging attempt holds the
/// only place: each blackhole is abandoned after RFC 8305's 250 ms for the next address,
/// one attempt in flight at a time, and the race connects at 750 + 10 ms instead of
/// waiting for the kernel to give up on the first blackhole.
#[tokio::test(start_paused = true)]
async fn an_overdue_attempt_gives_its_place_to_the_next_address() {
    let net = Net::new(&[
        ("10.0.0.9:80", Host::Blackhole),
        ("10.0.0.1:80", Host::GivesUp(Duration::from_secs(127))),
        ("10.0.0.2:80", Host::GivesUp(Duration::from_secs(127))),
        ("10.0.0.3:80", Host::GivesUp(Duration::from_secs(127))),
        ("10.0.0.4:80", Host::Up(ms(10))),
    ]);
    let budget = fixed(1);
    let (dialer, race_all) = (net.dialer(), plan(Schedule::race_all()));
    let hung_addrs = literal(net.addrs(&["10.0.0.9:80"]));
    let hung = budgeted(&dialer, &race_all, &budget, hung_addrs);
    let p = plan(Schedule::rfc8305());
    let addrs = net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"]);
    let racing = budgeted(&dialer, &p, &budget, literal(addrs));
    let watch = async {
        // Between two abandonments: the hung attempt and one of the race's.
        sleep(ms(600)).await;
        (budget.usage().in_flight(), net.open())
    };
    tokio::select! {
        _ = hung => panic!("a blackhole with no timeout never ends"),
        (result, in_flight) = async { tokio::join!(racing, watch) } => {
            let (_, info) = result.unwrap();
            assert_eq!(in_flight, (2, 2), "one attempt per race, sockets and permits alike");
            assert_eq!(info.elapsed(), ms(760));
            assert_eq!(
                starts(&info),
                vec![
                    (addr("10.0.0.1:80"), ms(0)),
                    (addr("10.0.0.2:80"), ms(250)),
                    (addr("10.0.0.3:80"), ms(500)),
                    (addr("10.0.0.4:80"), ms(750)),
                ]
            );
            assert_eq!(durations(&info), vec![ms(250), ms(250), ms(250), ms(10)]);
            assert_eq!(
                outcomes(&info),
                vec![
                    Outcome::Abandoned,
                    Outcome::Abandoned,
                    Outcome::Abandoned,
                    Outcome::Connected,
                ]
            );
        }
    }
    assert_eq!((budget.usage().in_flight(), net.open()), (0, 0));
    assert_eq!(budget.usage().peak(), 2);
}

/// Broken IPv6 under `Fixed(0)`, every race on its own: the AAAA blackhole goes first,
/// and `race_all`'s zero delay is raised to 100 ms before it is abandoned for IPv4.
#[tokio::test(start_paused = true)]
async fn race_all_abandons_after_100_ms() {
    let net = Net::new(&[
        ("[fd00::1]:80", Host::Blackhole),
        ("10.0.0.1:80", Host::Up(ms(5))),
    ]);
    let budget = fixed(0);
    let p = plan(Schedule::race_all());
    let addrs = ["[fd00::1]:80", "10.0.0.1:80"];
    let (_, info) = alone(&net, &p, &budget, &addrs).await.unwrap();
    assert_eq!(info.elapsed(), ms(105));
    assert_eq!(
        starts(&info),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(100))
        ]
    );
    assert_eq!(budget.usage().peak(), 1);
}

/// A path 150 ms away, slower than its 100 ms: abandoned once, then, every address tried,
/// retried with the delay doubled to 200 ms, and it connects.
#[tokio::test(start_paused = true)]
async fn a_path_slower_than_its_delay_connects_on_a_later_try() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Up(ms(150))),
        ("10.0.0.2:80", Host::Blackhole),
    ]);
    let budget = fixed(0);
    let p = plan(Schedule::race_all());
    let (conn, info) = alone(&net, &p, &budget, &["10.0.0.1:80", "10.0.0.2:80"])
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("10.0.0.1:80"));
    assert_eq!(
        starts(&info),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("10.0.0.2:80"), ms(100)),
            (addr("10.0.0.1:80"), ms(200)),
        ]
    );
    assert_eq!(
        outcomes(&info),
        vec![Outcome::Abandoned, Outcome::Abandoned, Outcome::Connected]
    );
    assert_eq!(info.elapsed(), ms(350));
}

/// Every address dead, under a 2 s delay: each is abandoned once, and its second try,
/// which would be given 4 s, is kept until it fails, as a plain client keeps its attempt.
/// The error lists every attempt, the abandoned ones as timeouts of their own.
#[tokio::test(start_paused = true)]
async fn an_address_is_kept_once_its_doubled_delay_passes_2_s() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::GivesUp(Duration::from_secs(10))),
        ("10.0.0.2:80", Host::GivesUp(Duration::from_secs(10))),
    ]);
    let budget = fixed(0);
    let p = plan(Schedule::rfc8305().attempt_delay(Duration::from_secs(2)));
    let t0 = Instant::now();
    let error = alone(&net, &p, &budget, &["10.0.0.1:80", "10.0.0.2:80"])
        .await
        .unwrap_err();
    // 0–2 s and 2–4 s abandoned; then 4–14 s and 14–24 s, until the kernel gives up.
    assert_eq!(t0.elapsed(), Duration::from_secs(24));
    assert_eq!(error.kind(), ErrorKind::AllAttemptsFailed);
    assert!(
        error.is_timeout(),
        "every attempt ended in a timeout: {error}"
    );
    let tried: Vec<_> = error.attempts().iter().map(|a| a.addr()).collect();
    assert_eq!(
        tried,
        net.addrs(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80", "10.0.0.2:80"])
    );
    let abandoned = error.attempts()[0].error().to_string();
    assert!(abandoned.contains("abandoned"), "{abandoned}");
    assert_eq!(budget.usage().peak(), 1);
}

/// While its handshake runs, an attempt is overdue its delay after its transport
/// connected: a host that accepts TCP and stays silent is abandoned 100 ms after its TCP
/// came up, not 100 ms after it started.
#[tokio::test(start_paused = true)]
async fn a_silent_handshake_is_abandoned_its_delay_after_its_transport() {
    let net = Net::new(&[
        (
            "10.0.0.1:80",
            Host::Tls {
                tcp: ms(30),
                then: Handshake::Silent,
            },
        ),
        (
            "10.0.0.2:80",
            Host::Tls {
                tcp: ms(30),
                then: Handshake::Done(ms(30)),
            },
        ),
    ]);
    let budget = fixed(0);
    let p = plan(Schedule::race_all());
    let (conn, info) = alone(&net, &p, &budget, &["10.0.0.1:80", "10.0.0.2:80"])
        .await
        .unwrap();
    assert_eq!(conn.addr, addr("10.0.0.2:80"));
    assert_eq!(starts(&info)[1], (addr("10.0.0.2:80"), ms(130)));
    assert_eq!(info.elapsed(), ms(190));
}

/// A race with a place to spare never abandons: under an unspent budget the schedule runs
/// as ever, and the blackhole is cancelled, not abandoned, when the race is won.
#[tokio::test(start_paused = true)]
async fn a_race_with_places_to_spare_abandons_nothing() {
    let net = Net::new(&[
        ("10.0.0.1:80", Host::Blackhole),
        ("10.0.0.2:80", Host::Up(ms(400))),
    ]);
    let budget = fixed(2);
    let p = plan(Schedule::rfc8305());
    let (_, info) = alone(&net, &p, &budget, &["10.0.0.1:80", "10.0.0.2:80"])
        .await
        .unwrap();
    assert_eq!(
        outcomes(&info),
        vec![Outcome::Cancelled, Outcome::Connected]
    );
    assert_eq!(info.elapsed(), ms(650));
}

/// The steady load of issue 20, each race with its own addresses so that no history
/// could help: on a budget of 256, a burst of 400 cold races of [dead, dead, dead, alive]
/// (blackholes the kernel gives up on after 127 s, the alive host 50 ms away), then 5
/// cold races a second for 10 minutes. Without abandonment the burst's blackholes hold
/// the budget, and every later race waits about 127 s for a place; here every race ends
/// within its own addresses' delays (three abandonments of 100 ms, plus 50 ms).
///
/// Sampled every 10 ms: the permits in flight never pass the limit plus the races in
/// flight, and every permit holds exactly one socket (an abandoned attempt keeps
/// neither).
#[tokio::test(start_paused = true)]
async fn a_burst_leaves_no_stall_behind() {
    const BURST: usize = 400;
    const LATER: usize = 5 * 600;
    const LIMIT: usize = 256;
    let own = |race: usize| -> Vec<SocketAddr> {
        let [hi, lo] = u16::try_from(race).unwrap().to_be_bytes();
        (1..=4)
            .map(|k| SocketAddr::from(([10, k, hi, lo], 80)))
            .collect()
    };
    let dead = Host::GivesUp(Duration::from_secs(127));
    let net = Net::of((0..BURST + LATER).flat_map(|race| {
        let addrs = own(race);
        [
            (addrs[0], dead),
            (addrs[1], dead),
            (addrs[2], dead),
            (addrs[3], Host::Up(ms(50))),
        ]
    }));
    let budget = fixed(LIMIT);
    let p = plan(Schedule::race_all());
    let in_flight_races = AtomicUsize::new(0);
    let races = (0..BURST + LATER).map(|race| {
        let starts_at = if race < BURST {
            Duration::ZERO
        } else {
            ms(200 * (race - BURST) as u64 + 200)
        };
        let (net, budget, p, in_flight_races) = (&net, &budget, &p, &in_flight_races);
        async move {
            sleep(starts_at).await;
            in_flight_races.fetch_add(1, Ordering::SeqCst);
            let dialer = net.dialer();
            let result = budgeted(&dialer, p, budget, literal(own(race))).await;
            in_flight_races.fetch_sub(1, Ordering::SeqCst);
            result.map(|(_, info)| info.elapsed())
        }
    });
    let done = std::sync::atomic::AtomicBool::new(false);
    let sampler = async {
        let mut samples = 0;
        while !done.load(Ordering::SeqCst) {
            let races = in_flight_races.load(Ordering::SeqCst);
            let in_flight = budget.usage().in_flight();
            assert!(
                in_flight <= LIMIT + races,
                "{in_flight} in flight, {races} races"
            );
            assert_eq!(net.open(), in_flight, "a socket per permit");
            samples += 1;
            sleep(ms(10)).await;
        }
        samples
    };
    let all = async {
        let times: Vec<_> = futures_util::future::join_all(races).await;
        done.store(true, Ordering::SeqCst);
        times
    };
    let (times, samples) = tokio::join!(all, sampler);
    assert!(samples > 60_000, "{samples} samples");
    let times: Vec<Duration> = times.into_iter().map(|t| t.unwrap()).collect();
    let slowest = times.iter().max().unwrap();
    assert!(*slowest <= ms(350), "{slowest:?}");
    // From the second second on, a race finds the budget free: all four at once, and
    // the alive host wins.
    let settled = times[BURST + 5..].iter().max().unwrap();
    assert_eq!(*settled, ms(50));
    assert!(budget.usage().peak() <= LIMIT + BURST);
    assert_eq!((budget.usage().in_flight(), net.open()), (0, 0));
}
