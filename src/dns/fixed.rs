//! [`StaticResolver`]: a fixed map of names, for tests and overrides.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::{Answer, Answers, Query, Resolve};
use crate::Family;

/// A resolver that answers from a fixed map of names: for tests that must not touch DNS,
/// and for overrides, as reqwest's `ClientBuilder::resolve` offers.
///
/// A name in the map is answered at once, both families in one answer. Names match
/// without regard to ASCII case or a final dot. Any other name goes to the
/// [`fallback`](Self::fallback) resolver, or, without one, fails as a name that does not
/// exist. The race applies its address policy, cap, order and history to these addresses
/// as to any resolver's.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use connie::dns::{StaticResolver, SystemResolver};
/// use connie::ConnieConnector;
///
/// let api: IpAddr = Ipv4Addr::new(192, 0, 2, 10).into();
/// let resolver = StaticResolver::new()
///     .host("api.internal", [api])
///     .fallback(SystemResolver::new());
/// let connector = ConnieConnector::new().resolver(resolver);
/// # drop(connector);
/// ```
#[derive(Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, Arc<[SocketAddr]>>,
    fallback: Option<Arc<dyn Resolve>>,
}

impl StaticResolver {
    /// A resolver that knows no name and has no fallback.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Answers `name` with `addrs`, in this order, replacing what it answered before. An
    /// empty list answers that the name has no address.
    pub fn host(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> StaticResolver {
        let addrs = addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
        self.names.insert(key(name), addrs);
        self
    }

    /// Resolves every name not in the map with `resolver`.
    ///
    /// Default is none: a name not in the map fails.
    pub fn fallback(mut self, resolver: impl Resolve) -> StaticResolver {
        self.fallback = Some(Arc::new(resolver));
        self
    }
}

/// `name` as the map keeps it: lower case, without a final dot.
fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl Resolve for StaticResolver {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        let name = query.name();
        let found = if name.bytes().any(|b| b.is_ascii_uppercase()) || name.ends_with('.') {
            self.names.get(&key(name))
        } else {
            self.names.get(name)
        };
        match (found, &self.fallback) {
            (Some(addrs), _) => {
                let wanted = addrs.iter().filter(|a| query.wants(Family::of(a)));
                Answers::ready(Answer::new(None, wanted.copied()))
            }
            (None, Some(fallback)) => fallback.resolve(query),
            (None, None) => Answers::ready(Answer::failed(None, NotInMap)),
        }
    }
}

impl fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticResolver")
            .field("names", &self.names)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// A name a [`StaticResolver`] without a fallback does not know.
#[derive(Debug)]
struct NotInMap;

impl fmt::Display for NotInMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such name in the static resolver")
    }
}

impl Error for NotInMap {}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    async fn answers(resolver: &StaticResolver, name: &str) -> Vec<Answer> {
        resolver.resolve(&Query::new(name)).collect().await
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A known name is one answer for both families, in the order given; case and a final
    /// dot do not matter; an unknown name fails, and a later `host` replaces an earlier.
    #[tokio::test]
    async fn names_are_answered_from_the_map() {
        let resolver = StaticResolver::new()
            .host("Api.Example", [ip("192.0.2.1")])
            .host("api.example", [ip("2001:db8::1"), ip("192.0.2.2")]);
        for name in ["api.example", "API.example.", "api.example."] {
            let answers = answers(&resolver, name).await;
            assert_eq!(answers.len(), 1, "{name}");
            assert_eq!(answers[0].family(), None);
            let addrs = answers[0].result().unwrap();
            assert_eq!(
                addrs,
                [
                    "[2001:db8::1]:0".parse().unwrap(),
                    "192.0.2.2:0".parse().unwrap()
                ]
            );
        }

        let unknown = answers(&resolver, "other.example").await;
        assert_eq!(unknown.len(), 1);
        let error = unknown[0].result().unwrap_err();
        assert_eq!(error.family(), None);
        assert_eq!(
            error.error().to_string(),
            "no such name in the static resolver"
        );
    }

    /// A name not in the map goes to the fallback, which may be another map.
    #[tokio::test]
    async fn other_names_go_to_the_fallback() {
        let inner = StaticResolver::new().host("db.example", [ip("192.0.2.9")]);
        let resolver = StaticResolver::new()
            .host("api.example", [ip("192.0.2.1")])
            .fallback(inner);
        let answers = answers(&resolver, "db.example").await;
        assert_eq!(
            answers[0].result().unwrap(),
            ["192.0.2.9:0".parse().unwrap()]
        );
    }
}
