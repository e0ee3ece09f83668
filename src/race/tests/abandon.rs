//! Abandoning an overdue attempt while the attempt budget is spent, on the driver: the
//! abandoned dial's socket closes and its permit goes to the next attempt, and under a
//! burst of races no stall is left behind. (The rule itself, its delays and when an
//! address is kept, is tested on the machine: `machine/tests/abandon.rs`.)

use super::*;
use crate::race::machine::tests::sim::dead_x3_alive;

fn fixed(n: usize) -> Budget {
    Budget::new(AttemptBudget::Fixed(n))
}

fn outcomes(info: &ConnectInfo) -> Vec<Outcome> {
    info.attempts()
        .iter()
        .map(|a| a.outcome().clone())
        .collect()
}

/// A race of [dead, dead, dead, alive] while another race's hanging attempt holds the
/// only place: each blackhole is abandoned after RFC 8305's 250 ms for the next address,
/// one attempt in flight at a time, and the race connects at 750 + 10 ms instead of
/// waiting for the kernel to give up on the first blackhole.
///
/// Its times are the machine's, and `machine/tests/abandon.rs` proves them as well; this
/// test stays for what only the driver does: at 600 ms, between two abandonments, exactly
/// two sockets and two permits are held (the hung race's and one of this race's), so an
/// abandoned dial's socket is closed and its permit handed on.
#[tokio::test(start_paused = true)]
async fn an_overdue_attempt_gives_its_place_to_the_next_address() {
    let dead = Host::GivesUp(Duration::from_secs(127));
    let lab = dead_x3_alive([10, 0, 0], dead, Host::Up(ms(10)));
    let hanging = (addr("10.0.0.9:80"), Host::Blackhole);
    let net = Net::of(lab.into_iter().chain([hanging]));
    let budget = fixed(1);
    let (dialer, race_all) = (net.dialer(), plan(Schedule::race_all()));
    let hung_addrs = literal(net.addrs(&["10.0.0.9:80"]));
    let hung = budgeted(&dialer, &race_all, &budget, hung_addrs);
    let p = plan(Schedule::rfc8305());
    let racing = budgeted(&dialer, &p, &budget, literal(lab.map(|(a, _)| a).to_vec()));
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
    let lab = |race: usize| {
        let [hi, lo] = u16::try_from(race).unwrap().to_be_bytes();
        dead_x3_alive(
            [10, hi, lo],
            Host::GivesUp(Duration::from_secs(127)),
            Host::Up(ms(50)),
        )
    };
    let own = |race: usize| -> Vec<SocketAddr> { lab(race).map(|(a, _)| a).to_vec() };
    let net = Net::of((0..BURST + LATER).flat_map(lab));
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
