//! reqwest integration: [`ConnieConnector`] as a `reqwest::dns::Resolve`.
//!
//! reqwest connects with its own connector, which connie cannot replace; what it lets a
//! user change is name resolution. So this gives reqwest connie's lookups, policy, cap and
//! order, and nothing of the race.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tracing::Instrument;

use crate::dns::{Answer, Answers};
use crate::order::Ranking;
use crate::race::list;
use crate::ConnieConnector;

/// Resolves names for reqwest the way connie does: `A` and `AAAA` in parallel, the
/// [address policy](ConnieConnector::address_policy), the
/// [address cap](ConnieConnector::max_addresses), and connie's order.
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use std::error::Error;
/// use std::sync::Arc;
/// use connie::{ConnectError, ConnieConnector, PublicOnly};
///
/// let client = reqwest::Client::builder()
///     .dns_resolver(Arc::new(ConnieConnector::new().address_policy(PublicOnly)))
///     .no_proxy() // through a proxy, the policy would see only the proxy's addresses
///     .build()?;
/// match client.get("http://internal.example/").send().await {
///     Ok(res) => println!("{}", res.status()),
///     Err(e) => {
///         // connie's error is in the source chain.
///         let connie = std::iter::successors(Some(&e as &dyn Error), |&e| e.source())
///             .find_map(|e| e.downcast_ref::<ConnectError>());
///         match connie {
///             Some(c) if c.is_refused_by_policy() => println!("refused: {c}"),
///             _ => println!("failed: {e}"),
///         }
///     }
/// }
/// # Ok(()) }
/// ```
///
/// What a request gets:
///
/// - **Parallel lookups**: `A` and `AAAA` are looked up at once with the connector's
///   [resolver](ConnieConnector::resolver) (or [`getaddrinfo`](ConnieConnector::getaddrinfo),
///   one call per family). reqwest takes a whole list, so both answers are
///   awaited; the [total timeout](ConnieConnector::total_timeout), if set, bounds that
///   wait, and when it elapses the addresses already answered are returned (none: a timeout
///   error).
/// - **The address policy** as an SSRF guard: refused addresses are removed; if every one
///   is refused, resolution fails with
///   [`ErrorKind::RefusedByPolicy`](crate::ErrorKind::RefusedByPolicy) and reqwest fails
///   the request without connecting. The policy sees port 0, since reqwest gives a
///   resolver no port.
/// - **The address cap**, shared fairly between the families as in a race.
/// - **connie's order**: each family sorted by RFC 6724 (not by the address history:
///   reqwest connects by itself, so connie learns nothing), the leading family first
///   (`first_family_count` of it; the [`Schedule`](crate::Schedule)'s preferred family if
///   set, else the family of the best address), then the families alternating.
///   Addresses have port 0, which reqwest replaces with the URL's port.
///
/// Errors are [`ConnectError`](crate::ConnectError)s, boxed: reachable through the reqwest
/// error's `source()` chain, and told in words (`could not resolve …: no such name (A,
/// AAAA)`).
///
/// What it does not give: reqwest's own connector (hyper-util's `HttpConnector`) still
/// connects. It groups the list by family and tries the first address's family one address
/// at a time, then the other family (one at a time too) when the first has failed or
/// 300 ms later; nothing is raced, so a blackholed address holds the request up until
/// reqwest's connect timeout (without one, until the kernel gives up). connie's order
/// decides which family goes first and the order within each family, but none of the
/// schedule's delays, connie's attempt and total timeouts (for connecting), the
/// concurrency cap, the [`Dial`](crate::Dial)er and its socket options, nor
/// [`ConnectInfo`](crate::ConnectInfo) apply; for those use connie with hyper-util's
/// client (feature `hyper`).
///
/// What the policy cannot see: a URL whose host is an IP literal (`http://127.0.0.1/`,
/// also as a redirect's target) never reaches a resolver, nor does a name given to
/// `ClientBuilder::resolve`, nor, behind a proxy, the target's addresses. For a guard,
/// build the client with `no_proxy()` and check IP-literal hosts yourself (with
/// [`is_public`](crate::is_public)), in a `redirect::Policy::custom` as well.
impl<D> Resolve for ConnieConnector<D>
where
    D: Send + Sync + 'static,
{
    fn resolve(&self, name: Name) -> Resolving {
        let config = Arc::clone(&self.config);
        let resolver = self.resolver.clone();
        let families = self.families();
        let host = name.as_str().to_owned();
        let span = tracing::debug_span!("resolve", %host);
        Box::pin(
            async move {
                // reqwest hands IP literals to no resolver; should one come, it is one
                // address, still subject to the policy.
                let (answers, shown): (Result<Answers, _>, _) = match ip_literal(&host) {
                    Some(ip) => {
                        let addrs = vec![SocketAddr::new(ip, 0)];
                        (Ok(Answers::ready(Answer::literal(addrs))), None)
                    }
                    None => (
                        resolver.lookup(&host, false, 0, families, None),
                        Some(host.clone()),
                    ),
                };
                let addrs = match answers {
                    Ok(answers) => list::addresses(&config, Ranking::sorted(), answers).await,
                    Err(e) => Err(e),
                };
                let addrs = addrs.map_err(|e| e.with_target(host, shown))?;
                Ok(Box::new(addrs.into_iter()) as Addrs)
            }
            .instrument(span),
        )
    }
}

/// The address `host` spells, bracketed or not.
fn ip_literal(host: &str) -> Option<IpAddr> {
    crate::target::unbracketed(host).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(connector: &ConnieConnector, name: &str) -> Resolving {
        Resolve::resolve(connector, name.parse().expect("a valid name"))
    }

    /// An IP literal skips DNS and still meets the policy.
    #[tokio::test]
    async fn an_ip_literal_is_one_address_under_the_policy() {
        let open = ConnieConnector::new();
        for (literal, ip) in [("192.0.2.7", "192.0.2.7"), ("::1", "::1"), ("[::1]", "::1")] {
            let addrs: Vec<_> = resolve(&open, literal).await.unwrap().collect();
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(addrs, [SocketAddr::new(ip, 0)], "{literal}");
        }

        let guarded = ConnieConnector::new().address_policy(crate::PublicOnly);
        let err = match resolve(&guarded, "127.0.0.1").await {
            Ok(addrs) => panic!("allowed: {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let err = err.downcast::<crate::ConnectError>().unwrap();
        assert!(err.is_refused_by_policy(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "connect to 127.0.0.1 failed: 1 address refused by the address policy"
        );
    }

    #[test]
    fn a_resolver_is_send_sync_and_static() {
        fn resolver(_: impl Resolve + 'static) {}
        resolver(ConnieConnector::new());
        resolver(
            ConnieConnector::new().with_dialer(|_addr: SocketAddr| async {
                tokio::net::TcpStream::connect("127.0.0.1:1").await
            }),
        );
    }
}
