//! A farm of alive hosts in a child process: one per race, so that every race has an
//! address of its own and no history can help, without their listeners taking descriptors
//! from the process whose races are measured.
//!
//! Each child is this example again, run as `stress --hosts <port> <from> <to>`: it binds
//! connie-lab `AliveHost`s on `127.1.x.y:<port>` for races `from..to`, prints one line
//! when all listen, and exits when its standard input closes (the parent dropped the farm,
//! or died). An `AliveHost` holds two descriptors (its listener and a duplicate to shut it
//! down with), so each child serves at most [`PER_CHILD`] races.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};

use connie_lab::AliveHost;

use crate::BoxError;

/// The loopback address of race `race`'s own host: `127.1.0.1` on, 250 per /24, so up to
/// 64,000 races.
pub(crate) fn own_ip(race: usize) -> IpAddr {
    let third = u8::try_from(race / 250).expect("at most 64,000 races");
    IpAddr::V4(Ipv4Addr::new(127, 1, third, (race % 250) as u8 + 1))
}

/// Races served by one child: two descriptors each, within a hard limit of 20,000.
pub(crate) const PER_CHILD: usize = 8_000;

/// The child processes serving one alive host per race.
pub(crate) struct Farm {
    /// Each child, and its standard input, held open: the child exits when it closes.
    children: Vec<(Child, Option<ChildStdin>)>,
}

impl Farm {
    /// Starts `n` alive hosts on `port` in child processes, and waits until they listen.
    pub(crate) fn spawn(port: u16, n: usize) -> Result<Farm, BoxError> {
        let mut farm = Farm {
            children: Vec::new(),
        };
        for from in (0..n).step_by(PER_CHILD) {
            let to = (from + PER_CHILD).min(n);
            let mut child = Command::new(std::env::current_exe()?)
                .args([
                    "--hosts",
                    &port.to_string(),
                    &from.to_string(),
                    &to.to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let stdin = child.stdin.take();
            let stdout = child.stdout.take();
            farm.children.push((child, stdin));
            let mut line = String::new();
            BufReader::new(stdout.ok_or("a farm child has no stdout")?).read_line(&mut line)?;
            if line.trim() != "ready" {
                return Err(format!("the host farm did not start: {line:?}").into());
            }
        }
        Ok(farm)
    }

    /// The address of race `race`'s own host.
    pub(crate) fn addr(port: u16, race: usize) -> SocketAddr {
        SocketAddr::new(own_ip(race), port)
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        for (child, stdin) in &mut self.children {
            drop(stdin.take());
            let _ = child.wait();
        }
    }
}

/// The child's side: binds the hosts of races `from..to`, says "ready", serves until
/// stdin closes.
pub(crate) fn serve(port: u16, from: usize, to: usize) -> Result<(), BoxError> {
    rlimit::increase_nofile_limit(u64::MAX)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut hosts = Vec::with_capacity(to.saturating_sub(from));
        for race in from..to {
            hosts.push(AliveHost::bind(Farm::addr(port, race)).await?);
        }
        println!("ready");
        // Blocks this thread only; the runtime's worker serves the hosts meanwhile.
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
        drop(hosts);
        Ok(())
    })
}
