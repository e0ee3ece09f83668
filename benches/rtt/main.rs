//! How fast clients connect when every address has a real round-trip time: connie against
//! tokio, hyper-util and a direct connect, in the network-namespace lab
//! (`connie_lab::netns`, `connie-lab` with its `netns` feature).
//!
//! ```text
//! cargo bench --bench rtt              # full: median of 5 runs (about 1 minute)
//! cargo bench --bench rtt -- --quick   # 1 run per cell (about 10 s)
//! ```
//!
//! Run it as root, on Linux with `/dev/net/tun` and iproute2; elsewhere it prints
//! `skipped: <reason>` and exits successfully.
//!
//! Each [`Scenario`](connie_lab::netns::Scenario) is a lab of two network namespaces joined
//! by a userspace delay line that gives every host its round-trip time (a connect takes one
//! RTT) and serves `www.lab.test.` from the lab's DNS server (no delay, except a late `AAAA`
//! where the scenario says so). Every client runs inside the client namespace; the time to
//! a connected socket is taken, and the delay line counts the connection attempts started
//! (distinct SYN flows):
//!
//! - connie with `Schedule::race_all` and `Schedule::rfc8305` (no per-attempt timeout) and
//!   with `Schedule::sequential` and a 1 s per-attempt timeout, as in the `compare` bench,
//!   through the lab's DNS, each with a total timeout of 10 s (2 s in quick mode);
//! - connie with `Schedule::race_all` given the lab's addresses in DNS order without DNS
//!   (`ConnieConnector::new().connect(addrs)`, same total timeout): what connie's DNS costs;
//! - tokio's `TcpStream::connect` over the lab's addresses in DNS order;
//! - hyper-util's `HttpConnector` with its defaults and with `set_connect_timeout` equal to
//!   connie's total timeout (10 s, 2 s in quick mode: below the cap), with a resolver that
//!   answers the lab's addresses in DNS order (never the system resolver);
//! - the oracle: `TcpStream::connect` straight to the lowest-RTT alive host
//!   ([`Scenario::fastest_alive`](connie_lab::netns::Scenario::fastest_alive); the first in
//!   DNS order on a tie).
//!
//! tokio and hyper-util ask the lab's DNS for `A` and `AAAA` together and connect once both
//! answered, as `getaddrinfo` does; so DNS is part of every time but the oracle's and the
//! "addresses without DNS" row's.
//!
//! Every measurement is capped (20 s, 3 s in quick mode) and reported as a timeout. A cell
//! stops repeating after a failure or a timeout, or once its runs have taken 10 s. Each
//! scenario's lab is built once for all its measurements. The table (Markdown) goes to
//! stdout, progress to stderr, and the same results to `target/connie-bench/rtt.json`.
//!
//! Without `--bench` on the command line (as under `cargo test --all-features --benches`)
//! it is a smoke test: one run per client of the first scenario, failing if any client fails.

#[cfg(target_os = "linux")]
mod bench;
#[cfg(target_os = "linux")]
mod clients;
#[cfg(target_os = "linux")]
#[path = "../common/mod.rs"]
mod common;

#[cfg(target_os = "linux")]
fn main() -> Result<(), common::BoxError> {
    bench::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("skipped: the network-namespace lab needs Linux");
}
