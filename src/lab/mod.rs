//! A loopback lab: hosts that are alive, refuse, or blackhole, and a DNS server naming them.
//!
//! Enabled by the `lab` feature; meant for tests, benchmarks and examples — connie's own and
//! yours, to see how a client copes with dead addresses without touching any network but
//! loopback (127.0.0.0/8 and `::1`).
//!
//! - [`AliveHost`]: a listener with an accept loop, counting accepted and still-open
//!   connections (so a test can see a losing attempt being closed).
//! - [`RefusedHost`]: a socket bound but not listening; a SYN gets a RST at once.
//! - [`BlackholedHost`]: a listener with backlog 0 whose accept queue is already full; the
//!   kernel drops further SYNs, so a connect hangs until the client gives up.
//! - [`Lab`]: several such hosts on different loopback addresses sharing one port, like the
//!   addresses of one real name.
//! - [`DnsServer`]: an authoritative DNS server on loopback (UDP and TCP) serving names over
//!   those addresses, with optional per-record-type delays ("`AAAA` answers 200 ms late").
//!
//! ```no_run
//! # async fn doc() -> std::io::Result<()> {
//! use connie::lab::{DnsServer, Lab};
//!
//! let lab = Lab::builder()
//!     .blackholed("127.0.0.2".parse().unwrap())
//!     .refused("127.0.0.3".parse().unwrap())
//!     .alive("127.0.0.4".parse().unwrap())
//!     .build()
//!     .await?;
//! let dns = DnsServer::builder()
//!     .host("www", lab.addrs().iter().map(|a| a.ip()))
//!     .start()
//!     .await?;
//! let connector = connie::ConnieConnector::new().resolver(dns.resolver());
//! let (_stream, info) = connector.connect(("www.lab.test.", lab.port())).await.unwrap();
//! assert_eq!(info.remote_addr().ip().to_string(), "127.0.0.4");
//! # Ok(()) }
//! ```

mod dns;
mod hosts;
#[cfg(all(feature = "netlab", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "netlab", target_os = "linux"))))]
pub mod netns;

pub use self::dns::{DnsServer, DnsServerBuilder, RecordType};
pub use self::hosts::{AliveHost, BlackholedHost, HostKind, Lab, LabBuilder, RefusedHost};
