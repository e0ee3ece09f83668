//! `TIME_WAIT` left by sequential connects to a dual-stack name (`A` 127.0.0.1, `AAAA` ::1).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use connie::{ConnieConnector, Schedule};
use connie_lab::DnsServer;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use crate::clients::{Client, Clients};
use crate::servers::Sink;
use crate::table::{self, dec1, int};
use crate::{BoxError, Settings};

/// The name, relative to the lab zone, and fully qualified.
const HOST: &str = "both";
const NAME: &str = "both.lab.test.";
/// How long the last closes get to settle before `/proc/net/tcp*` is read.
const SETTLE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy)]
enum Who {
    ConnieDefault,
    ConnieRaceAll,
    /// `race_all` given both addresses at once, without DNS, as hyper-util is.
    ConnieRaceAllNoDns,
    Hyper,
}

pub(crate) fn run(s: &Settings, client_rt: &Runtime, lab_rt: &Runtime) -> Result<(), BoxError> {
    let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let dns = lab_rt.block_on(DnsServer::builder().host(HOST, [v4, v6]).start())?;
    let mut rows = Vec::new();
    let clients = [
        Who::ConnieDefault,
        Who::ConnieRaceAll,
        Who::ConnieRaceAllNoDns,
        Who::Hyper,
    ];
    for who in clients {
        // A server of its own per client (its own port), so that counts do not mix.
        let sink = Sink::start(&[v4, v6], 1)?;
        let port = sink.port();
        let (attempts, client_tw, server_tw) = client_rt.block_on(async {
            let mut attempts = 0usize;
            let connector = ConnieConnector::new().resolver(dns.resolver());
            let connector = match who {
                Who::ConnieRaceAll | Who::ConnieRaceAllNoDns => {
                    connector.schedule(Schedule::race_all())
                }
                Who::ConnieDefault | Who::Hyper => connector,
            };
            // hyper-util's resolver answers as getaddrinfo would sort them: ::1 first.
            let both = [sink.addr(v6), sink.addr(v4)];
            let hyper = Clients::new(&both, ConnieConnector::new());
            for _ in 0..s.time_wait_connects {
                let mut stream = match who {
                    Who::Hyper => hyper.connect(Client::Hyper).await?,
                    Who::ConnieRaceAllNoDns => {
                        let (stream, info) = connector.connect(both).await?;
                        attempts += info.attempts().len();
                        stream
                    }
                    Who::ConnieDefault | Who::ConnieRaceAll => {
                        let (stream, info) = connector.connect((NAME, port)).await?;
                        attempts += info.attempts().len();
                        stream
                    }
                };
                // The server closes first: wait for its FIN, so that this end (which closes
                // second) leaves no `TIME_WAIT`.
                let mut buf = [0u8; 64];
                while stream.read(&mut buf).await? > 0 {}
                drop::<TcpStream>(stream);
            }
            tokio::time::sleep(SETTLE).await;
            let (client_tw, server_tw) = time_wait(port)?;
            Ok::<_, BoxError>((attempts, client_tw, server_tw))
        })?;
        let n = s.time_wait_connects as f64;
        rows.push(vec![
            match who {
                Who::ConnieDefault => "connie ConnieConnector::new() (learned)".to_owned(),
                Who::ConnieRaceAll => "connie Schedule::race_all()".to_owned(),
                Who::ConnieRaceAllNoDns => {
                    "connie Schedule::race_all(), [::1, 127.0.0.1] without DNS".to_owned()
                }
                Who::Hyper => "hyper-util HttpConnector (resolver: ::1, 127.0.0.1)".to_owned(),
            },
            int(client_tw as f64),
            dec1(client_tw as f64 * 1000.0 / n),
            int(server_tw as f64),
            match who {
                Who::Hyper => "n/a".to_owned(),
                _ => format!("{:.2}", attempts as f64 / n),
            },
        ]);
        drop(sink);
    }
    drop(dns);
    table::print(
        &format!(
            "## TIME_WAIT after {} sequential connects to {NAME} (A 127.0.0.1, AAAA ::1; the server closes first)",
            int(s.time_wait_connects as f64)
        ),
        &[
            "client",
            "client TIME_WAIT",
            "per 1,000 connects",
            "server TIME_WAIT",
            "attempts per connect",
        ],
        &rows,
    );
    println!();
    println!("client TIME_WAIT: sockets in state 06 in /proc/net/tcp and tcp6 whose remote port is the server's; server TIME_WAIT: whose local port is. The server closes each accepted connection at once and the client waits for that FIN before closing, so a winner's TIME_WAIT is the server's: the client's are losers connie closed first. connie resolves through a lab DNS server (cache off), so a race often has one address only: when the first answer's address connects (inside the connect call, on loopback) before the other answer arrives, attempts per connect stay near 1 and vary from run to run; the row without DNS races both every time. hyper-util's resolver returns both addresses without DNS.");
    Ok(())
}

/// Sockets in `TIME_WAIT` whose remote port is `port` (this machine as the client), and
/// whose local port is (as the server).
fn time_wait(port: u16) -> std::io::Result<(usize, usize)> {
    let (mut client, mut server) = (0, 0);
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)?.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port_of = |field: Option<&&str>| {
                field
                    .and_then(|f| f.rsplit_once(':'))
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            };
            if fields.get(3) != Some(&"06") {
                continue;
            }
            if port_of(fields.get(2)) == Some(port) {
                client += 1;
            }
            if port_of(fields.get(1)) == Some(port) {
                server += 1;
            }
        }
    }
    Ok((client, server))
}
