//! The race: addresses in, first connection out.
//!
//! - [`machine`]: every rule of a race as a state machine, with no I/O and no waiting;
//! - [`report`]: its account, which becomes the [`ConnectInfo`](crate::ConnectInfo) or the
//!   [`ConnectError`](crate::ConnectError);
//! - [`driver`](mod@driver): the machine on tokio, generic over the [`Dial`](crate::Dial) seam and the
//!   stream of DNS answers;
//! - [`one`](mod@one): one address, dialed as the machine would, without it;
//! - [`list`]: the machine's order without dialing, for a client that connects by itself;
//! - [`span`](mod@span): what a race's `tracing` span says of its end.
//!
//! The machine's rules are tested on a paused clock against a simulated network (see
//! `tests/mod.rs`).

mod attempt;
mod driver;
// Only the `reqwest` feature lists addresses instead of racing them.
#[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
pub(crate) mod list;
pub(crate) mod machine;
pub(crate) mod one;
mod report;
mod span;
#[cfg(test)]
mod tests;

pub(crate) use self::driver::race;
pub(crate) use self::one::{one_to, Won};
pub(crate) use self::span::{ended, span};

/// The machine, its account and the rules of time it asks are sans-IO: no runtime, no
/// socket, no resolver in the code of any of their files (their docs may name them).
#[cfg(test)]
#[test]
fn the_machine_imports_no_io() {
    let files = [
        ("machine/mod.rs", include_str!("machine/mod.rs")),
        ("machine/intake.rs", include_str!("machine/intake.rs")),
        ("machine/start.rs", include_str!("machine/start.rs")),
        ("machine/stop.rs", include_str!("machine/stop.rs")),
        ("machine/queue/mod.rs", include_str!("machine/queue/mod.rs")),
        (
            "machine/queue/line.rs",
            include_str!("machine/queue/line.rs"),
        ),
        ("report.rs", include_str!("report.rs")),
        (
            "../schedule/timing.rs",
            include_str!("../schedule/timing.rs"),
        ),
        ("../config.rs", include_str!("../config.rs")),
        ("../nanos.rs", include_str!("../nanos.rs")),
        ("../rare.rs", include_str!("../rare.rs")),
        ("../nat64.rs", include_str!("../nat64.rs")),
        (
            "../connectivity/mod.rs",
            include_str!("../connectivity/mod.rs"),
        ),
    ];
    let io = [
        "tokio",
        "hickory",
        "socket2",
        "TcpStream",
        "UdpSocket",
        "crate::dial",
        "crate::tcp",
        "crate::budget",
        "order::source",
    ];
    for (file, source) in files {
        let code = source.lines().filter(|l| !l.trim_start().starts_with("//"));
        for (n, line) in code.enumerate() {
            for word in io {
                assert!(
                    !line.contains(word),
                    "{file}: {word} in {line:?} (code line {n})"
                );
            }
        }
    }
}
