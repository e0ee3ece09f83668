//! [`ConnectError`]'s one-line message: what failed, for which target, and a summary.

use std::fmt;
use std::net::SocketAddr;

use super::words::{self, out_of_files};
use super::{AttemptError, ConnectError, ErrorKind};
use crate::dns::DnsError;

impl fmt::Display for ConnectError {
    /// `connect to example.com:443 failed: 3 addresses tried: 2 refused, 1 timed out`, and
    /// the like: what was connected to, and a summary of why it failed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let host = inner.host.as_deref();
        match inner.kind {
            ErrorKind::InvalidTarget => match &inner.detail {
                Some(d) => write!(f, "invalid connect target: {d}"),
                None => f.write_str("invalid connect target"),
            },
            ErrorKind::TimedOut => {
                self.write_subject(f)?;
                match inner.timeout {
                    Some(t) => write!(f, "timed out after {t:?}")?,
                    None => f.write_str("timed out")?,
                }
                if inner.attempts.is_empty() {
                    f.write_str(" before any connection attempt")?;
                    if !inner.dns.is_empty() {
                        f.write_str("; ")?;
                        write_dns(f, host, &inner.dns)?;
                    }
                } else {
                    f.write_str(": ")?;
                    write_attempts(f, &inner.attempts)?;
                }
                self.write_not_attempted(f)
            }
            ErrorKind::Dns => {
                self.write_failed(f)?;
                write_dns(f, host, &inner.dns)
            }
            ErrorKind::NoAddresses => {
                self.write_failed(f)?;
                match host {
                    Some(host) => write!(f, "{host} has no addresses")?,
                    None => f.write_str("no addresses to connect to")?,
                }
                self.write_skipped(f)
            }
            ErrorKind::RefusedByPolicy => {
                self.write_failed(f)?;
                write!(
                    f,
                    "{} refused by the address policy",
                    Addresses(inner.refused.len())
                )?;
                self.write_left_out(f)
            }
            ErrorKind::AllAttemptsFailed => {
                self.write_failed(f)?;
                write_attempts(f, &inner.attempts)?;
                self.write_not_attempted(f)
            }
            ErrorKind::NoTimeDriver => {
                self.write_failed(f)?;
                f.write_str(
                    "the tokio runtime has no time driver (build it with `enable_all()` \
                     or `enable_time()`)",
                )
            }
        }
    }
}

impl ConnectError {
    /// `connect to example.com:443 `, or `connect ` when the target is not known.
    fn write_subject(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.target {
            Some(target) => write!(f, "connect to {target} "),
            None => f.write_str("connect "),
        }
    }

    /// `connect to example.com:443 failed: `.
    fn write_failed(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_subject(f)?;
        f.write_str("failed: ")
    }

    /// `; 2 addresses refused by the address policy; 184 left out by max_addresses (16)`,
    /// as far as either happened.
    fn write_not_attempted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refused = self.inner.refused.len();
        if refused > 0 {
            write!(f, "; {} refused by the address policy", Addresses(refused))?;
        }
        self.write_skipped(f)?;
        self.write_left_out(f)
    }

    /// `; 2 addresses skipped by ip_family (V4Only)`, if it skipped any.
    fn write_skipped(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        if inner.skipped == 0 {
            return Ok(());
        }
        write!(
            f,
            "; {} skipped by ip_family ({:?})",
            Addresses(inner.skipped),
            inner.ip_family
        )
    }

    /// `; 184 left out by max_addresses (16)`, if the cap left any out.
    fn write_left_out(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        if inner.left_out == 0 {
            return Ok(());
        }
        write!(
            f,
            "; {} left out by max_addresses ({})",
            inner.left_out, inner.max_addresses
        )
    }
}

/// `3 addresses tried: 2 refused, 1 timed out`, `1 address tried: refused`, or with an
/// address tried twice, `2 addresses tried in 3 attempts: …`; and when the process ran
/// out of file descriptors, what bounds connie's share of them.
fn write_attempts(f: &mut fmt::Formatter<'_>, attempts: &[AttemptError]) -> fmt::Result {
    let mut addrs: Vec<SocketAddr> = attempts.iter().map(|a| a.addr).collect();
    addrs.sort_unstable();
    addrs.dedup();
    write!(f, "{} tried", Addresses(addrs.len()))?;
    if addrs.len() != attempts.len() {
        write!(f, " in {} attempts", attempts.len())?;
    }
    f.write_str(": ")?;
    // Each class with its count, in the order the classes first appear.
    let mut classes: Vec<(std::borrow::Cow<'static, str>, usize)> = Vec::new();
    for a in attempts {
        let class = words::class(&a.error);
        match classes.iter_mut().find(|(c, _)| *c == class) {
            Some((_, n)) => *n += 1,
            None => classes.push((class, 1)),
        }
    }
    match classes.as_slice() {
        [(class, _)] if attempts.len() == 1 => f.write_str(class)?,
        [(class, _)] => write!(f, "all {class}")?,
        _ => {
            for (i, (class, n)) in classes.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{n} {class}")?;
            }
        }
    }
    if attempts.iter().any(|a| out_of_files(&a.error)) {
        f.write_str(
            " (the process ran out of file descriptors: an AttemptBudget bounds how many \
             connie's races hold)",
        )?;
    }
    Ok(())
}

/// `1 address`, `3 addresses`.
struct Addresses(usize);

impl fmt::Display for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 address"),
            n => write!(f, "{n} addresses"),
        }
    }
}

/// `could not resolve example.com: no such name (A, AAAA)`, or per family when the
/// lookups failed differently.
fn write_dns(f: &mut fmt::Formatter<'_>, host: Option<&str>, dns: &[DnsError]) -> fmt::Result {
    match host {
        Some(host) => write!(f, "could not resolve {host}")?,
        None => f.write_str("could not resolve the name")?,
    }
    let words: Vec<String> = dns.iter().map(DnsError::summary).collect();
    if words.is_empty() {
        return Ok(());
    }
    f.write_str(": ")?;
    if words.iter().all(|w| *w == words[0]) {
        f.write_str(&words[0])?;
        let mut families: Vec<&str> = dns.iter().filter_map(|d| d.record_type()).collect();
        families.sort_unstable();
        if !families.is_empty() {
            write!(f, " ({})", families.join(", "))?;
        }
        return Ok(());
    }
    for (i, (d, w)) in dns.iter().zip(&words).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        match d.record_type() {
            Some(rtype) => write!(f, "{rtype}: {w}")?,
            None => f.write_str(w)?,
        }
    }
    Ok(())
}
