//! A test bench for TCP and TLS clients: hosts that are alive, refuse, blackhole, stay
//! silent, reset or speak TLS, a DNS server naming them, and a lab with real round-trip
//! times.
//!
//! `connie-lab` is to [`connie`](https://docs.rs/connie) what `tokio-test` is to tokio: the
//! kit its tests, benchmarks and examples run on, kept out of the connector. It needs
//! nothing from connie, so any client (tokio's `TcpStream::connect`, hyper-util's
//! `HttpConnector`, reqwest, your own) can be tested against dead addresses with it.
//! Nothing in it sends traffic beyond loopback (`127.0.0.0/8` and `::1`), or beyond the
//! two network namespaces of the `netns` lab.
//!
//! - [`AliveHost`]: a listener with an accept loop, counting accepted and still-open
//!   connections (so a test can see a losing attempt being closed). It reads and discards
//!   what it is sent and never answers.
//! - [`RefusedHost`]: a socket bound but not listening; a SYN gets a RST at once.
//! - [`BlackholedHost`]: a listener with backlog 0 whose accept queue is already full; the
//!   kernel drops further SYNs, so a connect hangs until the client gives up.
//! - [`SilentHost`]: a listener that accepts, reads and discards, and never answers nor
//!   closes: a TLS client's handshake hangs until it gives up.
//! - [`ResetHost`]: a listener that reads the client's first bytes (a TLS `ClientHello`)
//!   and closes with a RST, so the client's handshake fails with `ConnectionReset`.
//! - [`TlsHost`]: a listener that completes a TLS handshake (tokio-rustls) with the server
//!   configuration it is given, then reads and discards; it counts accepted connections,
//!   completed and failed handshakes.
//! - [`TlsIdentity`]: a CA and a server certificate made at test time (rcgen) for
//!   `lab.test`, `*.lab.test`, `localhost`, `127.0.0.x` and `::1`, with rustls client
//!   configurations trusting only that CA and server configurations presenting the
//!   certificate, each with the ALPN protocols asked for ([`LAB_ALPN`]: `h2`, `http/1.1`).
//! - [`Lab`]: several such hosts on different loopback addresses sharing one port, like the
//!   addresses of one real name; [`Lab::dns`] names them all. Its TLS hosts present the
//!   certificate of [`Lab::tls_identity`] ([`HostKind::Tls`]) or one signed by a CA nobody
//!   trusts ([`HostKind::BadTls`]).
//! - [`DnsServer`]: an authoritative DNS server on loopback (UDP and TCP) serving names over
//!   those addresses, and [`Https`] records (RFC 9460: aliases, service endpoints with
//!   their port, ALPN, address hints and ECH configuration), with optional per-record-type
//!   delays ("`AAAA` answers 200 ms late").
//! - [`open_fds`]: how many file descriptors the process has open, to check that a client
//!   closes what it opens.
//! - `netns` (feature `netns`, Linux, root): the same kinds of hosts in a network
//!   namespace behind a delay line, for real round-trip times.
//!
//! Add it as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! connie-lab = "0.1"
//! ```
//!
//! ```no_run
//! # async fn doc() -> std::io::Result<()> {
//! use connie_lab::Lab;
//!
//! let lab = Lab::builder()
//!     .blackholed("127.0.0.2".parse().unwrap())
//!     .refused("127.0.0.3".parse().unwrap())
//!     .alive("127.0.0.4".parse().unwrap())
//!     .build()
//!     .await?;
//! // `www.lab.test.` resolves to the three addresses, in that order.
//! let dns = lab.dns("www").start().await?;
//! let answer = dns.resolver().ipv4_lookup("www.lab.test.").await;
//!
//! // A client that tries the first address alone hangs on the blackhole:
//! let first = lab.addrs()[0];
//! let hung = tokio::time::timeout(
//!     std::time::Duration::from_secs(1),
//!     tokio::net::TcpStream::connect(first),
//! )
//! .await;
//! assert!(hung.is_err());
//! # Ok(()) }
//! ```
//!
//! The hosts need a Tokio runtime with IO and time enabled, as `#[tokio::test]` provides,
//! and work under a paused clock (`#[tokio::test(start_paused = true)]`): loopback
//! handshakes complete inside the `connect` system call, so no virtual time passes while
//! binding or connecting to an alive or refused host, and a connect to a blackholed host
//! (or a TLS handshake with a silent one) stays pending until the caller's own timer
//! fires.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod dns;
#[cfg(feature = "ech")]
mod ech;
#[cfg(not(feature = "ech"))]
mod ech_off;
mod fds;
mod host;
mod lab;
#[cfg(all(feature = "netns", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "netns", target_os = "linux"))))]
pub mod netns;
#[cfg(test)]
mod testing;
mod tls;

pub use self::dns::{DnsServer, DnsServerBuilder, Https, RecordType};
#[cfg(feature = "ech")]
#[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
pub use self::ech::EchKey;
#[cfg(not(feature = "ech"))]
#[doc(hidden)]
pub use self::ech_off::{EchHost, EchKey};
pub use self::fds::open_fds;
#[cfg(feature = "ech")]
#[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
pub use self::host::EchHost;
pub use self::host::{
    AliveHost, BlackholedHost, HostKind, RefusedHost, ResetHost, SilentHost, TlsHost,
};
pub use self::lab::{Lab, LabBuilder};
pub use self::tls::{TlsIdentity, LAB_ALPN};

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
