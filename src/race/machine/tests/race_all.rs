//! `Schedule::race_all`: every address starts at once, and each that arrives later starts
//! the moment it arrives; the first to connect wins.

use super::*;

#[test]
fn race_all_starts_everything_at_once_interleaved_v6_first() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("10.0.0.2:80", Refused(ms(5)))
        .host("10.0.0.3:80", Up(ms(30)))
        .host("[fd00::1]:80", Blackhole)
        .host("[fd00::2]:80", Up(ms(10)));
    let race = net.race(&config(Schedule::race_all()));
    assert_eq!(race.took, ms(10));
    assert_eq!(race.winner(), addr("[fd00::2]:80"));
    let info = race.info();
    assert_eq!(info.remote_addr(), addr("[fd00::2]:80"));
    assert_eq!(info.elapsed(), ms(10));
    assert_eq!(
        starts(info),
        vec![
            (addr("[fd00::1]:80"), ms(0)),
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::2]:80"), ms(0)),
            (addr("10.0.0.2:80"), ms(0)),
            (addr("10.0.0.3:80"), ms(0)),
        ]
    );
    assert_eq!(
        outcomes(info),
        vec![
            Outcome::Cancelled,
            Outcome::Cancelled,
            Outcome::Connected,
            Outcome::Failed {
                kind: io::ErrorKind::ConnectionRefused,
                reason: "connection refused".into()
            },
            Outcome::Cancelled,
        ]
    );
    assert_eq!(info.attempts()[3].duration(), ms(5));
    assert_eq!(info.attempts()[0].duration(), ms(10));
}

/// An `AAAA` answer 200 ms into a race of one blackholed IPv4 address: its address starts
/// when it arrives, and wins 10 ms later.
#[test]
fn a_late_aaaa_joins_a_running_race() {
    let net = Net::new()
        .host("10.0.0.1:80", Blackhole)
        .host("[fd00::1]:80", Up(ms(10)));
    let dns = Dns::new().a(ms(0)).aaaa(ms(200));
    let race = net.race_dns(&config(Schedule::race_all()), dns);
    assert_eq!(race.winner(), addr("[fd00::1]:80"));
    assert_eq!(
        starts(race.info()),
        vec![
            (addr("10.0.0.1:80"), ms(0)),
            (addr("[fd00::1]:80"), ms(200))
        ]
    );
    assert_eq!(race.info().elapsed(), ms(210));
}
