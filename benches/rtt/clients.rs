//! Each client connecting once inside the client namespace.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::time::Duration;

use connie::{ConnieConnector, Schedule};
use connie_lab::netns::ClientEnv;
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::common::clients::{chain, Client, LabResolver, SEQUENTIAL_ATTEMPT};
use crate::common::settings::Settings;

/// Connects `client` once to the lab's name (the oracle: to `oracle`); on the client thread.
pub(crate) async fn connect(
    client: Client,
    env: &ClientEnv,
    oracle: SocketAddr,
    s: &Settings,
) -> Result<TcpStream, String> {
    let connie = |schedule, attempt_timeout| {
        let connector = ConnieConnector::new()
            .resolver(env.resolver())
            .schedule(schedule)
            .attempt_timeout(attempt_timeout)
            .total_timeout(Some(s.total_timeout));
        async move {
            match connector.connect((env.name(), env.port())).await {
                Ok((stream, _info)) => Ok(stream),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let resolver = || {
        LabResolver::new(
            env.name(),
            env.addrs(),
            Duration::ZERO,
            Some(env.resolver()),
        )
    };
    let hyper = |connect_timeout| {
        let mut connector = HttpConnector::new_with_resolver(resolver());
        connector.set_connect_timeout(connect_timeout);
        let uri: Uri = format!(
            "http://{}:{}/",
            env.name().trim_end_matches('.'),
            env.port()
        )
        .parse()
        .expect("a valid URI");
        async move {
            poll_fn(|cx| connector.poll_ready(cx)).await?;
            connector.call(uri).await.map(|io| io.into_inner())
        }
    };
    match client {
        Client::RaceAll => connie(Schedule::race_all(), None).await,
        Client::RaceAllNoDns => {
            let connector = ConnieConnector::new().total_timeout(Some(s.total_timeout));
            match connector.connect(env.addrs()).await {
                Ok((stream, _info)) => Ok(stream),
                Err(e) => Err(e.to_string()),
            }
        }
        Client::Rfc8305 => connie(Schedule::rfc8305(), None).await,
        Client::Sequential => connie(Schedule::sequential(), Some(SEQUENTIAL_ATTEMPT)).await,
        Client::Tokio => {
            let connected = async { TcpStream::connect(&resolver().resolve().await?[..]).await };
            connected.await.map_err(|e| chain(&e))
        }
        Client::HyperDefault => hyper(None).await.map_err(|e| chain(&e)),
        Client::HyperTimeout => hyper(Some(s.hyper_connect_timeout))
            .await
            .map_err(|e| chain(&e)),
        Client::Oracle => TcpStream::connect(oracle).await.map_err(|e| chain(&e)),
    }
}
