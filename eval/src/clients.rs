//! The clients the benches compare, and hyper-util's resolver for the lab.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use connie::hickory_resolver::TokioResolver;
use connie::ConnieConnector;
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::settings::Settings;

/// The per-attempt timeout of the "connie sequential" client.
pub const SEQUENTIAL_ATTEMPT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `ConnieConnector::new()` with its default schedule (and attempt timeout): only the lab
    /// resolver and the total timeout are set. Where one connector makes every connect of a
    /// cell (`compare`'s runs, `rtt --series`) it learns from the earlier ones; `rtt`'s
    /// one-shot table makes a fresh one per run, so it shows a first connect.
    Default,
    RaceAll,
    /// connie's race-all given the lab's address list, no DNS: in `compare`, the
    /// like-for-like comparison with tokio and hyper-util, which are given the list too; in
    /// `rtt`, what connie's DNS costs. Next to the row with DNS.
    RaceAllNoDns,
    Rfc8305,
    Sequential,
    Tokio,
    HyperDefault,
    HyperTimeout,
    Oracle,
}

pub const CLIENTS: [Client; 9] = [
    Client::Default,
    Client::RaceAll,
    Client::RaceAllNoDns,
    Client::Rfc8305,
    Client::Sequential,
    Client::Tokio,
    Client::HyperDefault,
    Client::HyperTimeout,
    Client::Oracle,
];

impl Client {
    /// The row's name. Timeouts in it are read from the values the client is configured
    /// with, so that the label cannot drift from the settings of the run.
    pub fn label(self, s: &Settings) -> String {
        match self {
            Client::Default => "connie default".to_owned(),
            Client::RaceAll => "connie race-all".to_owned(),
            Client::RaceAllNoDns => "connie race-all, addresses without DNS".to_owned(),
            Client::Rfc8305 => "connie rfc8305".to_owned(),
            Client::Sequential => format!(
                "connie sequential, {} per attempt",
                secs(SEQUENTIAL_ATTEMPT)
            ),
            Client::Tokio => "tokio TcpStream::connect".to_owned(),
            Client::HyperDefault => "hyper-util HttpConnector".to_owned(),
            Client::HyperTimeout => format!(
                "hyper-util, connect_timeout {}",
                secs(s.hyper_connect_timeout)
            ),
            Client::Oracle => "oracle (direct connect)".to_owned(),
        }
    }
}

/// `1 s`, `2.5 s`.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// hyper-util's resolver for the lab: answers the lab's name, and only it, with the lab's
/// addresses in the lab's (DNS) order, never asking the system resolver.
#[derive(Debug, Clone)]
pub struct LabResolver {
    /// The lab's name without the trailing dot, as hyper-util passes it.
    name: Arc<str>,
    addrs: Arc<[SocketAddr]>,
    delay: Duration,
    dns: Option<TokioResolver>,
}

impl LabResolver {
    /// Answers `name` (fully qualified) with `addrs`, in this order, after `delay`. With
    /// `dns` (the lab's resolver), it also asks for `A` and `AAAA` at once, answers when
    /// both are in (as `getaddrinfo` does), and only with the addresses they hold.
    pub fn new(
        name: &str,
        addrs: &[SocketAddr],
        delay: Duration,
        dns: Option<TokioResolver>,
    ) -> LabResolver {
        LabResolver {
            name: name.trim_end_matches('.').into(),
            addrs: addrs.into(),
            delay,
            dns,
        }
    }

    /// The lab's addresses, in the lab's order.
    pub async fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let Some(dns) = &self.dns else {
            return Ok(self.addrs.to_vec());
        };
        let name = format!("{}.", self.name);
        let (a, aaaa) = tokio::join!(dns.ipv4_lookup(&*name), dns.ipv6_lookup(&*name));
        let answered: Vec<IpAddr> = [a, aaaa]
            .into_iter()
            .flatten() // A name may lack `A` or `AAAA` records.
            .flat_map(|lookup| {
                let ips = lookup.answers().iter().filter_map(|r| r.data.ip_addr());
                ips.collect::<Vec<_>>()
            })
            .collect();
        let addrs: Vec<SocketAddr> = (self.addrs.iter())
            .filter(|addr| answered.contains(&addr.ip()))
            .copied()
            .collect();
        if addrs.is_empty() {
            let msg = format!("the lab's DNS has no address for {name}");
            return Err(io::Error::new(io::ErrorKind::NotFound, msg));
        }
        Ok(addrs)
    }
}

impl Service<Name> for LabResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move {
            if name.as_str() != &*resolver.name {
                let msg = format!("{name} is not a name of the lab");
                return Err(io::Error::new(io::ErrorKind::NotFound, msg));
            }
            Ok(resolver.resolve().await?.into_iter())
        })
    }
}

/// A client set up for one lab: its connector, resolver or address. Each bench sets it up
/// from its own lab (`Prepared::new` in its `clients.rs`). Clones share what the original
/// holds (connie's connector state, a hickory resolver and its cache), so connecting with
/// a clone is the same client connecting again.
#[derive(Clone)]
pub enum Prepared {
    Connie(ConnieConnector),
    /// connie given the addresses by `LabResolver`, as tokio is.
    ConnieNoDns(ConnieConnector, LabResolver),
    Tokio(LabResolver),
    Hyper(HttpConnector<LabResolver>, Uri),
    Oracle(SocketAddr),
}

impl Prepared {
    /// Connects once to `name` (fully qualified; the oracle: to its address): the stream
    /// and, for connie, the number of attempts it reports; or that number and the error.
    pub async fn connect(
        &mut self,
        name: &str,
        port: u16,
    ) -> Result<(TcpStream, Option<usize>), (Option<usize>, String)> {
        match self {
            Prepared::Connie(connector) => match connector.connect((name, port)).await {
                Ok((stream, info)) => Ok((stream, Some(info.attempts().len()))),
                Err(e) => Err((Some(e.attempts().len()), e.to_string())),
            },
            Prepared::ConnieNoDns(connector, resolver) => {
                let addrs = resolver.resolve().await.map_err(|e| (None, chain(&e)))?;
                match connector.connect(addrs).await {
                    Ok((stream, info)) => Ok((stream, Some(info.attempts().len()))),
                    Err(e) => Err((Some(e.attempts().len()), e.to_string())),
                }
            }
            Prepared::Tokio(resolver) => {
                let connected = async { TcpStream::connect(&resolver.resolve().await?[..]).await };
                match connected.await {
                    Ok(stream) => Ok((stream, None)),
                    Err(e) => Err((None, chain(&e))),
                }
            }
            Prepared::Hyper(connector, uri) => {
                let connected = async {
                    poll_fn(|cx| connector.poll_ready(cx)).await?;
                    connector.call(uri.clone()).await
                };
                match connected.await {
                    Ok(io) => Ok((io.into_inner(), None)),
                    Err(e) => Err((None, chain(&e))),
                }
            }
            Prepared::Oracle(addr) => match TcpStream::connect(*addr).await {
                Ok(stream) => Ok((stream, None)),
                Err(e) => Err((None, chain(&e))),
            },
        }
    }
}

/// `error: source: source…`
pub fn chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let _ = write!(out, ": {e}");
        source = e.source();
    }
    out
}
