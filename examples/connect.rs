//! Race a connection and print how it went.
//!
//! ```text
//! cargo run --example connect                 # a built-in loopback scenario, no network needed
//! cargo run --example connect -- HOST:PORT    # a real connection with the default connector
//! ```
//!
//! The built-in scenario starts a loopback lab: one name, `www.lab.test.`, served by an
//! in-process DNS server, whose addresses are a blackholed `::1`, two blackholed and one
//! refused 127.0.0.x, and one alive 127.0.0.x. It connects to it with each schedule
//! (through that DNS server) and with tokio's own `TcpStream::connect` over the same
//! addresses (no DNS), prints how every attempt ended, and ends with a one-line summary.

use std::error::Error;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use connie::{ConnectInfo, ConnieConnector, Schedule};
use connie_lab::Lab;

/// How long tokio's sequential connect is given before we call it hung.
const TOKIO_PATIENCE: Duration = Duration::from_secs(5);
/// The per-attempt timeout of the sequential schedule. Without one it would wait on the
/// blackholed `::1` until the kernel gives up on its SYNs (about two minutes), like tokio.
const SEQUENTIAL_ATTEMPT: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> ExitCode {
    let run = match std::env::args().nth(1) {
        Some(target) => real(&target).await,
        None => lab().await,
    };
    run.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

/// One connie client: its label is made from the settings it connects with, so that the
/// label says what the client really was.
struct Racer {
    name: &'static str,
    schedule: Schedule,
    attempt_timeout: Option<Duration>,
    /// What it does while we wait, for the line printed before it starts.
    doing: String,
}

impl Racer {
    fn label(&self) -> String {
        match self.attempt_timeout {
            Some(t) => format!("connie {}, {} per attempt", self.name, ms(t)),
            None => format!("connie {}, no per-attempt timeout", self.name),
        }
    }

    fn connector(&self) -> ConnieConnector {
        ConnieConnector::new()
            .schedule(self.schedule.clone())
            .attempt_timeout(self.attempt_timeout)
    }
}

async fn real(target: &str) -> Result<ExitCode, Box<dyn Error>> {
    // `ConnieConnector::new()`'s own settings, spelled out for the label.
    let racer = Racer {
        name: "learned",
        schedule: Schedule::learned(),
        attempt_timeout: None,
        // A first connect: nothing known yet, so every address at once.
        doing: format!("connecting to {target}, every address it has at once"),
    };
    let raced = race(&racer, racer.connector(), target).await?;
    println!();
    Ok(match raced.remote {
        Some(remote) => {
            println!(
                "summary: connie {}: {} to {remote}",
                racer.name, raced.short
            );
            ExitCode::SUCCESS
        }
        None => {
            println!("summary: connie {}: {}", racer.name, raced.short);
            ExitCode::FAILURE
        }
    })
}

async fn lab() -> Result<ExitCode, Box<dyn Error>> {
    let ip = |s: &str| s.parse().expect("a valid loopback address");
    let lab = Lab::builder()
        .blackholed(ip("::1"))
        .blackholed(ip("127.0.0.2"))
        .blackholed(ip("127.0.0.3"))
        .refused(ip("127.0.0.4"))
        .alive(ip("127.0.0.5"))
        .build()
        .await?;
    let dns = lab.dns("www").start().await?;
    let name = "www.lab.test.";
    println!("{name} resolves to (in DNS order):");
    for addr in lab.addrs() {
        let kind = lab.kind_of(addr).expect("a host of the lab");
        println!("  {addr:<22} {kind}: {}", kind.behaviour());
    }

    let racers = [
        Racer {
            name: "race-all",
            schedule: Schedule::race_all(),
            attempt_timeout: None,
            doing: format!("resolving {name} and trying every address at once"),
        },
        Racer {
            name: "rfc8305",
            schedule: Schedule::rfc8305(),
            attempt_timeout: None,
            doing: format!(
                "resolving {name} and starting one more address every {}",
                ms(Schedule::RFC8305_ATTEMPT_DELAY)
            ),
        },
        Racer {
            name: "sequential",
            schedule: Schedule::sequential(),
            attempt_timeout: Some(SEQUENTIAL_ATTEMPT),
            doing: format!(
                "resolving {name} and trying one address at a time, the next when the previous fails or times out"
            ),
        },
    ];
    let mut summary = Vec::new();
    for racer in &racers {
        println!();
        let connector = racer.connector().resolver(dns.resolver());
        let result = race(racer, connector, (name, lab.port())).await?;
        summary.push(format!("{} {}", racer.name, result.short));
    }

    // tokio's TcpStream::connect tries the same addresses one after another, each until
    // the kernel gives up on it.
    println!();
    print!(
        "tokio TcpStream::connect: trying the addresses above one by one, no DNS (gives up after {})…",
        ms(TOKIO_PATIENCE)
    );
    io::stdout().flush()?;
    let addrs = lab.addrs();
    let start = Instant::now();
    let tokio =
        tokio::time::timeout(TOKIO_PATIENCE, tokio::net::TcpStream::connect(&addrs[..])).await;
    println!();
    let tokio = match tokio {
        Ok(Ok(s)) => {
            let elapsed = ms(start.elapsed());
            println!("  connected to {} in {elapsed}", s.peer_addr()?);
            elapsed
        }
        Ok(Err(e)) => {
            let elapsed = ms(start.elapsed());
            println!("  failed after {elapsed}: {e}");
            format!("failed after {elapsed}")
        }
        Err(_) => {
            let waited = ms(TOKIO_PATIENCE);
            println!("  still waiting after {waited} (gave up)");
            format!("still waiting after {waited}")
        }
    };
    println!();
    println!("summary: connie {}; tokio: {tokio}", summary.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// How one race ended, for the summary line.
struct Raced {
    /// The address connected to, if it connected.
    remote: Option<SocketAddr>,
    /// `0.855 ms` or `failed after 2000 ms`.
    short: String,
}

/// Says what the racer is about to do, connects, and prints how it went.
async fn race(
    racer: &Racer,
    connector: ConnieConnector,
    target: impl connie::IntoTarget,
) -> io::Result<Raced> {
    print!("{}: {}…", racer.label(), racer.doing);
    io::stdout().flush()?;
    let start = Instant::now();
    let result = connector.connect(target).await;
    println!();
    Ok(match result {
        Ok((_stream, info)) => {
            print_info(&info);
            Raced {
                remote: Some(info.remote_addr()),
                short: ms(info.elapsed()),
            }
        }
        Err(e) => {
            let elapsed = ms(start.elapsed());
            println!("  failed after {elapsed}: {e}");
            Raced {
                remote: None,
                short: format!("failed after {elapsed}"),
            }
        }
    })
}

fn print_info(info: &ConnectInfo) {
    println!(
        "  connected to {} in {}",
        info.remote_addr(),
        ms(info.elapsed())
    );
    match (info.dns_v4(), info.dns_v6()) {
        (Some(a), Some(aaaa)) => {
            println!("  DNS: A answered after {}, AAAA after {}", ms(a), ms(aaaa))
        }
        (Some(a), None) => println!("  DNS: A answered after {}", ms(a)),
        (None, Some(aaaa)) => println!("  DNS: AAAA answered after {}", ms(aaaa)),
        (None, None) => {}
    }
    for a in info.attempts() {
        println!(
            "  {:<22} started at {:>9}, ran {:>9}: {}",
            a.addr(),
            ms(a.started()),
            ms(a.duration()),
            a.outcome()
        );
    }
}

/// Every duration this example prints: milliseconds, three significant digits below
/// 100 ms and whole milliseconds above (`0.855 ms`, `1.48 ms`, `25.3 ms`, `755 ms`).
fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    let decimals = match ms {
        ms if ms < 1.0 => 3,
        ms if ms < 10.0 => 2,
        ms if ms < 100.0 => 1,
        _ => 0,
    };
    format!("{ms:.decimals$} ms")
}
