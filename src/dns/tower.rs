//! [`ServiceResolver`]: hyper-util's resolvers, any `tower_service::Service<Name>`, behind
//! [`Resolve`].

use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::net::SocketAddr;

use hyper_util::client::legacy::connect::dns::Name;
use tower_service::Service;

use super::{Answer, Answers, Query, Resolve};

/// A resolver as hyper-util's `HttpConnector::new_with_resolver` takes one: any
/// `tower_service::Service<Name>` whose response is an iterator of `SocketAddr`s, such as
/// hyper-util's `GaiResolver`, a static override, service discovery or DNS over HTTPS.
///
/// Its answer is one for both families at once, when the service's future returns: the
/// race starts when the whole list is there. The service is cloned for each lookup, made
/// ready, and called, as hyper-util does. A race dials the target's port on every address:
/// where hyper-util keeps a non-zero port the resolver gives for a URI without a port of
/// its own, connie does not.
///
/// # Examples
///
/// ```
/// use hyper_util::client::legacy::connect::dns::GaiResolver;
/// use connie::dns::ServiceResolver;
/// use connie::ConnieConnector;
///
/// let connector = ConnieConnector::new().resolver(ServiceResolver::new(GaiResolver::new()));
/// # drop(connector);
/// ```
#[derive(Clone)]
pub struct ServiceResolver<S> {
    service: S,
}

impl<S> ServiceResolver<S> {
    /// Resolves names with `service`.
    pub fn new(service: S) -> ServiceResolver<S> {
        ServiceResolver { service }
    }
}

impl<S, A> Resolve for ServiceResolver<S>
where
    S: Service<Name, Response = A> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn Error + Send + Sync>>,
    A: Iterator<Item = SocketAddr>,
{
    fn resolve(&self, query: &Query<'_>) -> Answers {
        let mut service = self.service.clone();
        let name = query.name().parse::<Name>();
        Answers::from_future(async move {
            let name = match name {
                Ok(name) => name,
                Err(e) => return Answer::failed(None, e),
            };
            if let Err(e) = poll_fn(|cx| service.poll_ready(cx)).await {
                return Answer::failed(None, e);
            }
            match service.call(name).await {
                Ok(addrs) => Answer::new(None, addrs),
                Err(e) => Answer::failed(None, e),
            }
        })
    }
}

impl<S> fmt::Debug for ServiceResolver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceResolver")
            .field("service", &std::any::type_name::<S>())
            .finish()
    }
}
