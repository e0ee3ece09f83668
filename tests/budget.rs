//! The attempt budget on real sockets: far more races than the process has descriptors
//! for four attempts each, all racing at once, and none fails for want of a descriptor or
//! waits on a blackhole for want of a place.
//! Its own test binary, because it lowers the process's descriptor limit.

mod support;

use connie::{AttemptBudget, ConnieConnector, Outcome};
use connie_lab::{HostKind, Lab};
use futures_util::future::join_all;
use rlimit::Resource;
use support::{bounded, ip, open_fds, PROMPT};

const RACES: usize = 300;
const EMFILE: i32 = 24;

/// Held by each test while it lowers the process's descriptor limit: the tests of this
/// binary run on threads of one process, and share that limit.
static LIMIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What `RACES` concurrent races of [refused, refused, refused, alive] through
/// `connector` came to: races that connected, and attempts that failed other than by a
/// refusal (with their OS error where the race failed).
async fn run(connector: &ConnieConnector, lab: &Lab) -> (usize, Vec<String>) {
    let races = (0..RACES).map(|_| connector.connect(lab.addrs()));
    let mut connected = 0;
    let mut odd = Vec::new();
    for result in join_all(races).await {
        match result {
            Ok((stream, info)) => {
                connected += 1;
                drop(stream);
                for a in info.attempts() {
                    if let Outcome::Failed { kind, .. } = a.outcome() {
                        if *kind != std::io::ErrorKind::ConnectionRefused {
                            odd.push(format!("{a:?}"));
                        }
                    }
                }
            }
            Err(e) => {
                for a in e.attempts() {
                    if a.error().kind() != std::io::ErrorKind::ConnectionRefused {
                        odd.push(format!("{}: {}", a.addr(), a.error()));
                    }
                }
            }
        }
    }
    (connected, odd)
}

#[tokio::test]
async fn more_races_than_descriptors_allow_all_connect_under_the_default_budget() {
    bounded(async {
        let _limit = LIMIT.lock().await;
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .refused(ip("127.0.0.3"))
            .refused(ip("127.0.0.4"))
            .alive(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        assert_eq!(lab.addrs()[3], lab.addrs_of(HostKind::Alive)[0]);
        // Every address raced, in the order given: the refused ones first.
        let plain = ConnieConnector::new().history(0).keep_given_order(true);
        let budgeted = plain.clone();
        let unbounded = plain.clone().attempt_budget(AttemptBudget::Unbounded);

        // Room for every race's first attempt and both ends of its connection, and 200
        // more: not for four attempts per race (1,200 sockets) at once.
        let (soft, hard) = Resource::NOFILE.get().unwrap();
        let limit = (open_fds() + 3 * RACES + 200) as u64;
        Resource::NOFILE.set(limit, hard).unwrap();
        // The default budget is read at the first attempt: a quarter of the lowered limit.
        let with_budget = run(&budgeted, &lab).await;
        let without = run(&unbounded, &lab).await;
        Resource::NOFILE.set(soft, hard).unwrap();

        let usage = budgeted.budget_use();
        assert_eq!(usage.limit(), Some(limit as usize / 4));
        assert_eq!(with_budget, (RACES, vec![]));
        // Below the limit plus one per race, as documented; more than one attempt per race.
        assert!(usage.peak() < RACES + limit as usize / 4, "{usage:?}");
        assert!(usage.peak() > RACES, "{usage:?}");
        assert_eq!((usage.in_flight(), usage.waiting()), (0, 0));
        // The control: the same races with no budget run out of descriptors.
        let (_, odd) = without;
        assert!(
            odd.iter()
                .any(|a| a.contains(&format!("os error {EMFILE}"))
                    || a.contains("Too many open files")),
            "no attempt ran out of descriptors without a budget: {odd:?}"
        );
    })
    .await
}

/// 200 concurrent races of [dead, dead, dead, alive], each with an alive host of its own so
/// that the history cannot help, on a budget of 100 attempts, under a descriptor limit
/// with room for one attempt per race, the budget's, and both ends of each connection.
/// Every race's first attempt hangs on a blackhole, and those alone spend the budget:
/// each race abandons its blackholes in turn, as each runs past its 100 ms, and connects
/// to its own host. None waits for the kernel to give up on a blackhole (about 130 s),
/// none runs out of descriptors.
#[tokio::test]
async fn races_behind_blackholes_move_on_when_the_budget_is_spent() {
    const OWN: usize = 200;
    const BUDGET: usize = 100;
    bounded(async {
        let _limit = LIMIT.lock().await;
        let mut lab = Lab::builder()
            .blackholed(ip("127.0.0.2"))
            .blackholed(ip("127.0.0.3"))
            .blackholed(ip("127.0.0.4"));
        for i in 0..OWN {
            let [hi, lo] = u16::try_from(i).unwrap().to_be_bytes();
            lab = lab.alive(std::net::IpAddr::from([127, 1, hi, lo + 1]));
        }
        let lab = lab.build().await.unwrap();
        let dead = lab.addrs_of(HostKind::Blackholed);
        let alive = lab.addrs_of(HostKind::Alive);
        let connector = ConnieConnector::new()
            .keep_given_order(true)
            .attempt_budget(AttemptBudget::Fixed(BUDGET));

        let (soft, hard) = Resource::NOFILE.get().unwrap();
        let limit = (open_fds() + OWN + BUDGET + OWN + 50) as u64;
        Resource::NOFILE.set(limit, hard).unwrap();
        let races = alive.iter().map(|&own| {
            let connector = connector.clone();
            let addrs = vec![dead[0], dead[1], dead[2], own];
            async move {
                // Far less than the kernel's SYN timeout: a race that waits for it fails.
                let race = tokio::time::timeout(PROMPT, connector.connect(addrs));
                let (stream, info) = race.await.expect("waited on a blackhole").unwrap();
                drop(stream);
                info
            }
        });
        let infos = join_all(races).await;
        Resource::NOFILE.set(soft, hard).unwrap();

        for (info, own) in infos.iter().zip(&alive) {
            assert_eq!(info.remote_addr(), *own);
            assert!(!info.used_history());
        }
        let abandoned = infos
            .iter()
            .flat_map(|i| i.attempts())
            .filter(|a| *a.outcome() == Outcome::Abandoned)
            .count();
        assert!(abandoned >= OWN - BUDGET, "{abandoned} abandoned attempts");
        // Below the limit plus one per race, as documented.
        let usage = connector.budget_use();
        assert!(usage.peak() < OWN + BUDGET, "{usage:?}");
        assert_eq!((usage.in_flight(), usage.waiting()), (0, 0));
    })
    .await
}
