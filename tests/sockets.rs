//! Races over real loopback sockets: alive, refused and blackholed hosts.
//!
//! Most tests run on a paused clock (current-thread runtime): time auto-advances while
//! loopback I/O is pending, so a blackholed attempt costs no real time and every time
//! asserted is exact.

mod support;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use connie::{ConnieConnector, ErrorKind, Outcome, Schedule};
use connie_lab::{HostKind, Lab};
use support::{bounded, ip, ms, PROMPT};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Notify};

#[tokio::test(start_paused = true)]
async fn dead_dead_dead_alive_connects_at_once() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.2"))
            .blackholed(ip("127.0.0.3"))
            .blackholed(ip("127.0.0.4"))
            .alive(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        let alive = lab.addrs_of(HostKind::Alive)[0];
        let (stream, info) = ConnieConnector::new().connect(lab.addrs()).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), alive);
        assert_eq!(info.remote_addr(), alive);
        assert_eq!(info.local_addr(), Some(stream.local_addr().unwrap()));
        assert_eq!(info.elapsed(), Duration::ZERO);
        assert_eq!(info.attempts().len(), 4);
        assert!(info
            .attempts()
            .iter()
            .all(|a| a.started() == Duration::ZERO));
        lab.alive(alive).unwrap().wait_accepted(1).await;
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn dead_v6_alive_v4_under_each_schedule() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("::1"))
            .alive(ip("127.0.0.2"))
            .build()
            .await
            .unwrap();
        let alive = lab.addrs_of(HostKind::Alive)[0];
        let cases = [
            (Schedule::race_all(), Duration::ZERO),
            (Schedule::rfc8305(), ms(250)),
            (Schedule::rfc8305().attempt_delay(ms(100)), ms(100)),
        ];
        for (schedule, want) in cases {
            let connector = ConnieConnector::new().schedule(schedule.clone());
            let (_stream, info) = connector.connect(lab.addrs()).await.unwrap();
            assert_eq!(info.remote_addr(), alive, "{schedule:?}");
            assert_eq!(info.elapsed(), want, "{schedule:?}");
            // IPv6 is tried first, and is still running when IPv4 wins.
            assert_eq!(info.attempts()[0].addr().ip(), ip("::1"));
            assert_eq!(info.attempts()[0].outcome().clone(), Outcome::Cancelled);
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn sequential_skips_refused_at_once_and_blackholes_at_the_attempt_timeout() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .blackholed(ip("127.0.0.3"))
            .blackholed(ip("127.0.0.4"))
            .alive(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        let connector = ConnieConnector::new()
            .schedule(Schedule::sequential())
            .attempt_timeout(Some(Duration::from_secs(1)));
        let (_stream, info) = connector.connect(lab.addrs()).await.unwrap();
        assert_eq!(info.elapsed(), Duration::from_secs(2));
        let outcomes: Vec<_> = info
            .attempts()
            .iter()
            .map(|a| a.outcome().clone())
            .collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Failed {
                    kind: io::ErrorKind::ConnectionRefused,
                    reason: "connection refused".into()
                },
                Outcome::TimedOut,
                Outcome::TimedOut,
                Outcome::Connected
            ]
        );
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn every_address_refused_reports_each_one() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .refused(ip("127.0.0.3"))
            .refused(ip("::1"))
            .build()
            .await
            .unwrap();
        let err = ConnieConnector::new()
            .connect(lab.addrs())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
        let mut tried: Vec<SocketAddr> = err.attempts().iter().map(|a| a.addr()).collect();
        tried.sort();
        let mut want = lab.addrs();
        want.sort();
        assert_eq!(tried, want);
        assert!(err
            .attempts()
            .iter()
            .all(|a| a.error().kind() == io::ErrorKind::ConnectionRefused));
        let io: io::Error = err.into();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn every_address_blackholed_fails_at_the_total_timeout() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.2"))
            .blackholed(ip("::1"))
            .build()
            .await
            .unwrap();
        let connector = ConnieConnector::new().total_timeout(Some(Duration::from_secs(3)));
        let start = tokio::time::Instant::now();
        let err = connector.connect(lab.addrs()).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert!(err.is_timeout());
        assert_eq!(err.attempts().len(), 2);
        assert_eq!(
            err.to_string(),
            "connect to 2 addresses timed out after 3s: 2 addresses tried: all timed out"
        );
        let tried: Vec<_> = err.attempts().iter().map(|a| a.addr()).collect();
        assert_eq!(tried, [lab.addrs()[1], lab.addrs()[0]]);
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::TimedOut);
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn race_connect_accepts_every_target_form() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.1"))
            .alive(ip("::1"))
            .build()
            .await
            .unwrap();
        let port = lab.port();
        let v4: SocketAddr = (ip("127.0.0.1"), port).into();
        let v6: SocketAddr = (ip("::1"), port).into();
        let peer = |s: TcpStream| s.peer_addr().unwrap();

        assert_eq!(peer(connie::race_connect(v4).await.unwrap()), v4);
        assert_eq!(
            peer(
                connie::race_connect(format!("127.0.0.1:{port}"))
                    .await
                    .unwrap()
            ),
            v4
        );
        assert_eq!(
            peer(
                connie::race_connect(format!("[::1]:{port}").as_str())
                    .await
                    .unwrap()
            ),
            v6
        );
        assert_eq!(peer(connie::race_connect(("::1", port)).await.unwrap()), v6);
        assert_eq!(peer(connie::race_connect(&[v4][..]).await.unwrap()), v4);
        assert_eq!(peer(connie::race_connect(vec![v6]).await.unwrap()), v6);
        // "localhost." is answered by the resolver itself (RFC 6761): no query leaves the host.
        let s = connie::race_connect(("localhost.", port)).await.unwrap();
        assert!(s.peer_addr().unwrap().ip().is_loopback());
    })
    .await
}

#[tokio::test]
async fn bad_input_is_a_typed_error() {
    bounded(async {
        let err = connie::race_connect("no-port.example").await.unwrap_err();
        assert!(err.is_invalid_target(), "{err:?}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::InvalidInput);

        let err = connie::race_connect(Vec::<SocketAddr>::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoAddresses);

        // `.invalid.` never resolves (RFC 6761), and the resolver says so without a query.
        let err = connie::race_connect("nothing.invalid.:80")
            .await
            .unwrap_err();
        assert!(err.is_dns(), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Dns);
        assert_eq!(err.dns_errors().len(), 2);
        assert!(err.attempts().is_empty());
    })
    .await
}

/// A dialer over real sockets where one attempt's connection is established but held
/// back until another attempt wins: the held-back socket must be closed by the race.
#[tokio::test]
async fn a_loser_that_already_connected_is_closed() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.2"))
            .alive(ip("127.0.0.3"))
            .build()
            .await
            .unwrap();
        let (winner, loser) = (lab.addrs()[0], lab.addrs()[1]);
        let loser_connected = Arc::new(Notify::new());
        let dialer = {
            let loser_connected = loser_connected.clone();
            move |addr: SocketAddr| {
                let loser_connected = loser_connected.clone();
                async move {
                    if addr == loser {
                        let _stream = TcpStream::connect(addr).await?;
                        loser_connected.notify_one();
                        std::future::pending::<()>().await;
                        unreachable!("the losing attempt is never polled to completion");
                    } else {
                        loser_connected.notified().await;
                        TcpStream::connect(addr).await
                    }
                }
            }
        };
        let connector = ConnieConnector::new().with_dialer(dialer);
        let (stream, info) = tokio::time::timeout(PROMPT, connector.connect(vec![winner, loser]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.remote_addr(), winner);
        let loser_host = lab.alive(loser).unwrap();
        tokio::time::timeout(PROMPT, async {
            loser_host.wait_accepted(1).await;
            loser_host.wait_open(0).await;
        })
        .await
        .expect("the losing host sees its connection closed");
        assert_eq!(lab.alive(winner).unwrap().open(), 1);
        drop(stream);
        tokio::time::timeout(PROMPT, lab.alive(winner).unwrap().wait_open(0))
            .await
            .unwrap();
    })
    .await
}

/// Two attempts complete in the same instant: one wins, the other is closed, not leaked.
#[tokio::test]
async fn simultaneous_connections_leave_one_open() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.2"))
            .alive(ip("127.0.0.3"))
            .build()
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let dialer = {
            let barrier = barrier.clone();
            move |addr: SocketAddr| {
                let barrier = barrier.clone();
                async move {
                    let stream = TcpStream::connect(addr).await?;
                    barrier.wait().await;
                    Ok(stream)
                }
            }
        };
        let connector = ConnieConnector::new().with_dialer(dialer);
        let (stream, info) = tokio::time::timeout(PROMPT, connector.connect(lab.addrs()))
            .await
            .unwrap()
            .unwrap();
        let loser = *lab
            .addrs()
            .iter()
            .find(|a| **a != info.remote_addr())
            .unwrap();
        tokio::time::timeout(PROMPT, async {
            let host = lab.alive(loser).unwrap();
            host.wait_accepted(1).await;
            host.wait_open(0).await;
        })
        .await
        .expect("the second connection is closed");
        assert_eq!(lab.alive(info.remote_addr()).unwrap().open(), 1);
        drop(stream);
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn tcp_dialer_applies_its_socket_options() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.2"))
            .alive(ip("::1"))
            .build()
            .await
            .unwrap();
        let dialer = connie::TcpDialer::new()
            .keepalive(Some(Duration::from_secs(30)))
            .local_address_v4(Some("127.0.0.9".parse().unwrap()))
            .local_address_v6(Some("::1".parse().unwrap()));
        let connector = ConnieConnector::new().with_dialer(dialer);
        for target in lab.addrs() {
            let (stream, info) = connector.connect(target).await.unwrap();
            assert!(stream.nodelay().unwrap(), "TCP_NODELAY is on by default");
            assert!(socket2::SockRef::from(&stream).keepalive().unwrap());
            let local = stream.local_addr().unwrap();
            assert_eq!(info.local_addr(), Some(local));
            let want = if target.is_ipv4() {
                ip("127.0.0.9")
            } else {
                ip("::1")
            };
            assert_eq!(local.ip(), want);
        }
        let plain = ConnieConnector::new().with_dialer(connie::TcpDialer::new().nodelay(false));
        let (stream, _) = plain.connect(lab.addrs()[0]).await.unwrap();
        assert!(!stream.nodelay().unwrap());
    })
    .await
}

/// Socket options set through `ConnieConnector::tcp` are on the socket of a raced
/// connection as the kernel reports it: the interface, the local address and `SO_MARK`
/// here, and one of the rest. (`tcp::socket::tests` checks each option's value on a dial.)
#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn http_connector_socket_options_reach_the_socket() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.0.2")).build().await.unwrap();
        let target = lab.addrs()[0];
        let connector = ConnieConnector::new().tcp(|tcp| {
            tcp.keepalive(Some(Duration::from_secs(61)))
                .interface(Some("lo"))
                .local_address(Some(ip("127.0.0.9")))
        });
        let (stream, _) = connector.connect(target).await.unwrap();
        let sock = socket2::SockRef::from(&stream);
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(61));
        assert_eq!(sock.device().unwrap().as_deref(), Some(&b"lo"[..]));
        assert_eq!(stream.local_addr().unwrap().ip(), ip("127.0.0.9"));

        // `SO_MARK` needs CAP_NET_ADMIN: set as root, otherwise the attempt's error names it.
        let marked = ConnieConnector::new().tcp(|tcp| tcp.mark(Some(0x2a)));
        match marked.connect(target).await {
            Ok((stream, _)) => assert_eq!(socket2::SockRef::from(&stream).mark().unwrap(), 0x2a),
            Err(e) => {
                let error = e.attempts()[0].error();
                assert_eq!(error.kind(), io::ErrorKind::PermissionDenied, "{e:?}");
                assert!(error.to_string().starts_with("SO_MARK: "), "{error}");
            }
        }

        // An interface that does not exist fails the attempt, saying which option.
        let nowhere = ConnieConnector::new().tcp(|tcp| tcp.interface(Some("connie-none0")));
        let e = nowhere.connect(target).await.unwrap_err();
        let error = e.attempts()[0].error().to_string();
        assert!(error.starts_with("SO_BINDTODEVICE: "), "{error}");
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn public_only_policy_never_dials_loopback() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.2"))
            .alive(ip("::1"))
            .build()
            .await
            .unwrap();
        let connector = ConnieConnector::new().address_policy(connie::PublicOnly);
        let err = connector.connect(lab.addrs()).await.unwrap_err();
        assert!(err.is_refused_by_policy(), "{err:?}");
        assert_eq!(err.refused_by_policy(), lab.addrs());
        // Give an accept loop every chance to see a connection that should not exist.
        tokio::task::yield_now().await;
        assert!(lab.alive_hosts().all(|h| h.accepted() == 0));

        // A policy that allows them connects as usual.
        let connector = ConnieConnector::new().address_policy(|a: SocketAddr| a.ip().is_loopback());
        assert!(connector.connect(lab.addrs()).await.is_ok());
    })
    .await
}

/// A string target keeps its IPv6 scope id all the way to the dialer (it was rebuilt from
/// the bare IP, so `[fe80::1%7]` dialed scope 0, another interface or none).
#[tokio::test]
async fn a_string_target_keeps_its_ipv6_scope_id() {
    bounded(async {
        let dialed = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&dialed);
        let connector = ConnieConnector::new().with_dialer(move |addr: SocketAddr| {
            seen.lock().unwrap().push(addr);
            async { Err::<TcpStream, _>(io::Error::from(io::ErrorKind::ConnectionRefused)) }
        });
        let error = connector.connect("[fe80::1%7]:80").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AllAttemptsFailed);
        let error = connector.connect(("fe80::1%7", 80)).await.unwrap_err();
        assert_eq!(error.attempts()[0].addr().to_string(), "[fe80::1%7]:80");
        let scopes: Vec<u32> = dialed
            .lock()
            .unwrap()
            .iter()
            .map(|a| match a {
                SocketAddr::V6(v6) => v6.scope_id(),
                SocketAddr::V4(_) => panic!("{a} is not IPv6"),
            })
            .collect();
        assert_eq!(scopes, [7, 7]);
    })
    .await
}
