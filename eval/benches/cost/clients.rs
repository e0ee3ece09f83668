//! The clients measured, each connecting to a list of addresses.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use connie::ConnieConnector;
use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tower_service::Service;

pub(crate) use connie_eval::baseline::{close, ideal};

/// A client, as one row of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    /// `TcpStream::connect(addr)` (the first address only).
    Raw,
    /// A `FuturesUnordered` of one `TcpStream::connect` per address, first `Ok` wins.
    Ideal,
    /// hyper-util's `HttpConnector` as a tower `Service`: `http://IP:PORT/` for one
    /// address, else a name its resolver answers with the list.
    Hyper,
    /// `connie::race_connect(SocketAddr)` (the first address only).
    RaceAddr,
    /// `connie::race_connect(&addrs[..])`.
    RaceSlice,
    /// `ConnieConnector::new().connect(&addrs[..])` (a connector made once and reused).
    Connector,
}

impl Client {
    pub(crate) fn label(self, n: usize) -> String {
        let (s, es) = if n == 1 { ("", "") } else { ("s", "es") };
        match self {
            Client::Raw => "tokio TcpStream::connect(addr)".to_owned(),
            Client::Ideal => format!("FuturesUnordered of {n} connect{s} (ideal racer)"),
            Client::Hyper => format!("hyper-util HttpConnector, {n} address{es}"),
            Client::RaceAddr => "connie::race_connect(SocketAddr)".to_owned(),
            Client::RaceSlice => format!("connie::race_connect(&[{n} addr{s}][..])"),
            Client::Connector => format!("ConnieConnector::connect, {n} address{es}"),
        }
    }
}

/// What the clients need to connect to one list of addresses.
#[derive(Clone)]
pub(crate) struct Clients {
    addrs: Arc<[SocketAddr]>,
    hyper: HttpConnector<Fixed>,
    uri: Uri,
    connector: ConnieConnector,
}

impl Clients {
    /// Clients of `addrs` (all on one port); `connector` for [`Client::Connector`].
    pub(crate) fn new(addrs: &[SocketAddr], connector: ConnieConnector) -> Clients {
        let uri = match addrs {
            [one] => format!("http://{one}/"),
            _ => format!("http://cost.lab.test:{}/", addrs[0].port()),
        };
        Clients {
            addrs: addrs.into(),
            hyper: HttpConnector::new_with_resolver(Fixed(addrs.into())),
            uri: uri.parse().expect("a valid URI"),
            connector,
        }
    }

    /// One connect by `client`, as a future that owns what it needs.
    pub(crate) fn connect(
        &self,
        client: Client,
    ) -> impl Future<Output = io::Result<TcpStream>> + Send + 'static {
        let this = self.clone();
        async move {
            let first = this.addrs[0];
            match client {
                Client::Raw => TcpStream::connect(first).await,
                Client::Ideal => ideal(&this.addrs).await,
                Client::Hyper => {
                    let mut hyper = this.hyper;
                    poll_fn(|cx| hyper.poll_ready(cx))
                        .await
                        .map_err(io::Error::other)?;
                    let io = hyper.call(this.uri).await.map_err(io::Error::other)?;
                    Ok(io.into_inner())
                }
                Client::RaceAddr => connie::race_connect(first).await.map_err(io::Error::from),
                Client::RaceSlice => connie::race_connect(&this.addrs[..])
                    .await
                    .map_err(io::Error::from),
                Client::Connector => match this.connector.connect(&this.addrs[..]).await {
                    Ok((stream, _info)) => Ok(stream),
                    Err(e) => Err(e.into()),
                },
            }
        }
    }
}

/// hyper-util's resolver here: every name is the list it was given, in order.
#[derive(Debug, Clone)]
pub(crate) struct Fixed(pub(crate) Arc<[SocketAddr]>);

impl Service<Name> for Fixed {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        let addrs = self.0.to_vec();
        Box::pin(async move { Ok(addrs.into_iter()) })
    }
}
