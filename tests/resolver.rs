//! The resolver seam, `connie::dns::Resolve`, with real sockets on loopback: hyper-util's
//! `GaiResolver` and a `tower_service::Service<Name>` of the test's own through
//! `ServiceResolver`, `StaticResolver` with and without a fallback, and a `Resolve` of the
//! test's own whose families answer apart. The address policy, the cap and the history
//! apply to any resolver's addresses.
//!
//! Names are resolved by `/etc/hosts` (`localhost`), by the lab's DNS server, or by the
//! tests' own tables; nothing goes beyond loopback. Each test has its own lab and its own
//! connector: no history is shared between them.

mod support;

use std::collections::HashMap;
use std::future::{pending, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use connie::dns::{Answer, Answers, Query, Resolve, ServiceResolver, StaticResolver};
use connie::{ConnieConnector, Family, Outcome, PublicOnly, Schedule};
use connie_lab::Lab;
use futures_util::stream;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use support::{bounded, ip, PROMPT};
use tokio::net::TcpListener;
use tower_service::Service;

/// hyper-util's own `GaiResolver`, unchanged: `localhost` resolves through `/etc/hosts` to
/// one answer for both families, and the race connects to the IPv4 listener (`[::1]`, if
/// `localhost` has it, is refused: nothing listens there on that port).
#[tokio::test]
async fn hyper_utils_gai_resolver_races_through_connie() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connector = ConnieConnector::new().resolver(ServiceResolver::new(GaiResolver::new()));
        let (stream, info) = connector.connect(("localhost", port)).await.unwrap();

        let v4 = SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(info.remote_addr(), v4);
        assert_eq!(stream.peer_addr().unwrap(), v4);
        for attempt in info.attempts() {
            let expected = [v4, SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port))];
            assert!(expected.contains(&attempt.addr()), "{}", attempt.addr());
        }
        // One answer for both families: neither family's lookup is timed on its own.
        assert_eq!((info.dns_v4(), info.dns_v6()), (None, None));
        assert!(info.elapsed() < PROMPT, "{:?}", info.elapsed());
    })
    .await
}

/// A service-discovery resolver as a hyper-util user writes one: a `Service<Name>` that
/// answers from its table, with port 0, and remembers what it was asked.
#[derive(Clone)]
struct Discovery {
    table: Arc<HashMap<&'static str, Vec<IpAddr>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

type Lookup = Pin<Box<dyn Future<Output = io::Result<std::vec::IntoIter<SocketAddr>>> + Send>>;

impl Service<Name> for Discovery {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Lookup;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Lookup {
        self.asked.lock().unwrap().push(name.as_str().to_owned());
        let found = self.table.get(name.as_str()).cloned();
        Box::pin(async move {
            let ips = found.ok_or_else(|| io::Error::other("no such service"))?;
            Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect::<Vec<_>>()
                .into_iter())
        })
    }
}

/// A custom `Service<Name>` resolver races: its answer (a blackholed address first, then an
/// alive one) is dialed on the target's port, and the alive host wins at once. A name it
/// does not know is a DNS error that carries the service's own error.
#[tokio::test]
async fn a_custom_service_resolver_races_past_a_blackholed_address() {
    bounded(async {
        let (blackholed, alive) = (ip("127.0.0.91"), ip("127.0.0.92"));
        let lab = Lab::builder()
            .blackholed(blackholed)
            .alive(alive)
            .build()
            .await
            .unwrap();
        let discovery = Discovery {
            table: Arc::new(HashMap::from([("api.discovery", vec![blackholed, alive])])),
            asked: Arc::default(),
        };
        let connector = ConnieConnector::new().resolver(ServiceResolver::new(discovery.clone()));
        let (_stream, info) = connector
            .connect(("api.discovery", lab.port()))
            .await
            .unwrap();

        assert_eq!(info.remote_addr(), SocketAddr::new(alive, lab.port()));
        let tried: Vec<_> = info.attempts().iter().map(|a| a.addr()).collect();
        assert_eq!(tried.len(), 2, "{tried:?}");
        assert!(tried.contains(&SocketAddr::new(blackholed, lab.port())));
        assert!(info.elapsed() < PROMPT, "{:?}", info.elapsed());

        let e = connector
            .connect(("missing.discovery", lab.port()))
            .await
            .unwrap_err();
        assert!(e.is_dns(), "{e:?}");
        assert_eq!(e.dns_errors().len(), 1);
        assert_eq!(e.dns_errors()[0].error().to_string(), "no such service");
        assert_eq!(
            *discovery.asked.lock().unwrap(),
            ["api.discovery", "missing.discovery"]
        );
    })
    .await
}

/// `StaticResolver` answers its own names and hands every other to its fallback, here the
/// lab's DNS server through a hickory resolver; without a fallback, another name fails.
#[tokio::test]
async fn a_static_resolver_overrides_names_and_falls_back() {
    bounded(async {
        let (in_dns, pinned) = (ip("127.0.0.93"), ip("127.0.0.94"));
        let lab = Lab::builder()
            .alive(in_dns)
            .alive(pinned)
            .build()
            .await
            .unwrap();
        let dns = lab.dns("www").start().await.unwrap();
        let overrides = StaticResolver::new().host("www.lab.test", [pinned]);
        let connector = ConnieConnector::new().resolver(overrides.clone().fallback(dns.resolver()));

        let (_, info) = connector.connect(("www.lab.test", lab.port())).await.unwrap();
        assert_eq!(info.remote_addr().ip(), pinned, "the override wins over DNS");
        let (_, info) = connector.connect(("WWW.lab.test.", lab.port())).await.unwrap();
        assert_eq!(info.remote_addr().ip(), pinned, "case and a final dot aside");

        let other = StaticResolver::new().fallback(dns.resolver());
        let (_, info) = ConnieConnector::new()
            .resolver(other)
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        let ips: Vec<IpAddr> = info.attempts().iter().map(|a| a.addr().ip()).collect();
        assert!(ips.contains(&in_dns), "the fallback's answer: {ips:?}");

        let e = ConnieConnector::new()
            .resolver(overrides)
            .connect(("other.lab.test", lab.port()))
            .await
            .unwrap_err();
        assert!(e.is_dns(), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "connect to other.lab.test:{} failed: could not resolve other.lab.test: lookup failed",
                lab.port()
            )
        );
    })
    .await
}

/// A resolver of its own whose `A` lookup answers at once and whose `AAAA` lookup never
/// does: the race connects on the `A` answer, without waiting for the other family.
#[tokio::test]
async fn each_family_of_a_custom_resolver_joins_as_it_answers() {
    struct HalfDead(IpAddr);

    impl Resolve for HalfDead {
        fn resolve(&self, _query: &Query<'_>) -> Answers {
            let v4 = Answer::new(Some(Family::V4), [SocketAddr::new(self.0, 0)]);
            let never = async { pending::<Answer>().await };
            Answers::new(stream::select(
                stream::iter([v4]),
                stream::once(Box::pin(never)),
            ))
        }
    }

    bounded(async {
        let alive = ip("127.0.0.95");
        let lab = Lab::builder().alive(alive).build().await.unwrap();
        let connector = ConnieConnector::new().resolver(HalfDead(alive));
        let (_, info) = connector
            .connect(("half.example", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr(), SocketAddr::new(alive, lab.port()));
        assert!(info.dns_v4().is_some());
        assert_eq!(info.dns_v6(), None, "the AAAA lookup never answered");
    })
    .await
}

/// Whatever the resolver, the race applies the address policy, the address cap and the
/// history to its addresses.
#[tokio::test]
async fn the_policy_the_cap_and_the_history_apply_to_any_resolver() {
    bounded(async {
        let (refused, alive) = (ip("127.0.0.96"), ip("127.0.0.97"));
        let lab = Lab::builder()
            .refused(refused)
            .alive(alive)
            .build()
            .await
            .unwrap();
        let table = || StaticResolver::new().host("svc.example", [refused, alive]);
        let target = ("svc.example", lab.port());

        let e = ConnieConnector::new()
            .resolver(table())
            .address_policy(PublicOnly)
            .connect(target)
            .await
            .unwrap_err();
        assert!(e.is_refused_by_policy(), "{e:?}");
        assert_eq!(e.refused_by_policy().len(), 2);

        let e = ConnieConnector::new()
            .resolver(table())
            .max_addresses(1)
            .connect(target)
            .await
            .unwrap_err();
        assert_eq!(e.left_out(), 1, "{e:?}");
        assert_eq!(e.attempts()[0].addr().ip(), refused);

        let connector = ConnieConnector::new()
            .resolver(table())
            .schedule(Schedule::learned());
        let (_, first) = connector.connect(target).await.unwrap();
        assert!(!first.used_history());
        assert_eq!(first.attempts().len(), 2);
        let (_, second) = connector.connect(target).await.unwrap();
        assert!(second.used_history(), "the history knows the alive host");
        assert_eq!(second.attempts().len(), 1, "{:?}", second.attempts());
        assert_eq!(second.attempts()[0].addr().ip(), alive);
        assert!(matches!(second.attempts()[0].outcome(), Outcome::Connected));
    })
    .await
}
