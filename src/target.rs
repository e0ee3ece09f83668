//! [`Target`]: what to connect to, a host name and port or a list of addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::str::FromStr;

use hickory_resolver::proto::rr::Name;

use crate::ConnectError;

/// What a race connects to: a host name with a port, or addresses known already.
///
/// Anything that implements [`IntoTarget`] can be passed where a target is expected: what
/// tokio's `ToSocketAddrs` takes (`"host:port"`, `("host", port)` with a `&str` or
/// `String`, `(IpAddr, port)` and its v4/v6 forms, [`SocketAddr`] and its v4/v6 forms,
/// slices, arrays and `Vec`s of addresses), and with the `hyper` feature an `http::Uri`.
/// IP literals (`"127.0.0.1:80"`, `"[::1]:80"`, `("::1", 80)`, `"[fe80::1%2]:80"` with its
/// scope) become addresses at once and never touch DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Repr {
    Addrs(Vec<SocketAddr>),
    Host { host: String, port: u16 },
}

/// The longest host name DNS can carry (RFC 1035 §2.3.4), without a trailing dot.
const MAX_HOST_LEN: usize = 253;

impl Target {
    /// A host name (or IP literal, bracketed or not) and a port.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTarget`](crate::ErrorKind::InvalidTarget) if the port is 0, the
    /// host is empty, longer than 253 bytes, has an empty or over-long (64+ bytes) label,
    /// or contains characters no host name can (`/`, `:` outside an IPv6 literal,
    /// whitespace…): the same rules the resolver applies, checked before any lookup.
    pub fn host(host: &str, port: u16) -> Result<Target, ConnectError> {
        if port == 0 {
            return Err(ConnectError::invalid_target("port 0"));
        }
        let unbracketed = unbracketed(host);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Target::addrs([SocketAddr::new(ip, port)]));
        }
        if let Some((ip, scope)) = unbracketed.split_once('%') {
            if let Ok(ip) = ip.parse::<Ipv6Addr>() {
                let Ok(scope) = scope.parse::<u32>() else {
                    return Err(ConnectError::invalid_target(format!(
                        "{host:?}: the zone of an IPv6 address must be an interface index \
                         (such as %2), not a name"
                    )));
                };
                return Ok(Target::addrs(
                    [SocketAddrV6::new(ip, port, 0, scope).into()],
                ));
            }
        }
        if host.is_empty() {
            return Err(ConnectError::invalid_target("empty host"));
        }
        if host.trim_end_matches('.').len() > MAX_HOST_LEN {
            return Err(ConnectError::invalid_target(format!(
                "host name longer than {MAX_HOST_LEN} bytes"
            )));
        }
        if let Some(c) = host
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "/:[]@?#%\\".contains(*c))
        {
            return Err(ConnectError::invalid_target(format!(
                "host {host:?} contains {c:?}"
            )));
        }
        // Relaxed, as the resolver's lookup is: `my_host.example` is a name getaddrinfo,
        // Go and hickory itself resolve, though IDNA forbids `_`.
        if let Err(e) = Name::from_str_relaxed(host) {
            return Err(ConnectError::invalid_target(format!(
                "host {host:?} is not a valid name: {e}"
            )));
        }
        Ok(Target {
            repr: Repr::Host {
                host: host.to_owned(),
                port,
            },
        })
    }

    /// Addresses to race, in the order given (the schedule still interleaves families).
    pub fn addrs(addrs: impl IntoIterator<Item = SocketAddr>) -> Target {
        Target {
            repr: Repr::Addrs(addrs.into_iter().collect()),
        }
    }

    /// The host name, if this target needs DNS.
    pub fn host_name(&self) -> Option<&str> {
        match &self.repr {
            Repr::Host { host, .. } => Some(host),
            Repr::Addrs(_) => None,
        }
    }

    pub(crate) fn into_repr(self) -> Repr {
        self.repr
    }
}

/// `host` without the brackets of an IPv6 literal (`[::1]` → `::1`), else as it is.
pub(crate) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Host { host, port } => write!(f, "{host}:{port}"),
            Repr::Addrs(addrs) if addrs.len() == 1 => write!(f, "{}", addrs[0]),
            Repr::Addrs(addrs) => {
                f.write_str("[")?;
                for (i, a) in addrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl FromStr for Target {
    type Err = ConnectError;

    /// Parses `"host:port"`, `"1.2.3.4:port"` or `"[v6]:port"`.
    fn from_str(s: &str) -> Result<Target, ConnectError> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            // Kept whole: rebuilding it from its IP would lose an IPv6 scope id.
            if addr.port() == 0 {
                return Err(ConnectError::invalid_target("port 0"));
            }
            return Ok(Target::addrs([addr]));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(ConnectError::invalid_target(format!(
                "{s:?} is a URI with scheme {scheme:?}: pass an http::Uri (feature `hyper`) \
                 or \"host:port\""
            )));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(ConnectError::invalid_target(format!(
                "{s:?} has no port (expected host:port)"
            )));
        };
        if host.contains(':') && !host.starts_with('[') {
            return Err(ConnectError::invalid_target(format!(
                "{s:?}: an IPv6 address needs brackets, as in [::1]:80"
            )));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| ConnectError::invalid_target(format!("{s:?} has an invalid port")))?;
        Target::host(host, port)
    }
}

/// Conversion into a [`Target`]; implemented for every way connie accepts a target.
pub trait IntoTarget {
    /// Converts `self`, or says why it is not a valid target.
    fn into_target(self) -> Result<Target, ConnectError>;
}

impl IntoTarget for Target {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(self)
    }
}

impl IntoTarget for &Target {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(self.clone())
    }
}

impl IntoTarget for &str {
    fn into_target(self) -> Result<Target, ConnectError> {
        self.parse()
    }
}

impl IntoTarget for String {
    fn into_target(self) -> Result<Target, ConnectError> {
        self.parse()
    }
}

impl IntoTarget for &String {
    fn into_target(self) -> Result<Target, ConnectError> {
        self.parse()
    }
}

impl IntoTarget for (&str, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::host(self.0, self.1)
    }
}

impl IntoTarget for (String, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::host(&self.0, self.1)
    }
}

impl IntoTarget for (IpAddr, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs([SocketAddr::from(self)]))
    }
}

impl IntoTarget for (Ipv4Addr, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs([SocketAddr::from(self)]))
    }
}

impl IntoTarget for (Ipv6Addr, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs([SocketAddr::from(self)]))
    }
}

impl IntoTarget for SocketAddrV4 {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs([SocketAddr::V4(self)]))
    }
}

impl IntoTarget for SocketAddrV6 {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs([SocketAddr::V6(self)]))
    }
}

impl IntoTarget for SocketAddr {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs([self]))
    }
}

impl IntoTarget for &[SocketAddr] {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs(self.iter().copied()))
    }
}

impl<const N: usize> IntoTarget for [SocketAddr; N] {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs(self))
    }
}

impl<const N: usize> IntoTarget for &[SocketAddr; N] {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs(self.iter().copied()))
    }
}

impl IntoTarget for &Vec<SocketAddr> {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::addrs(self.iter().copied()))
    }
}

impl IntoTarget for Vec<SocketAddr> {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target {
            repr: Repr::Addrs(self),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(t: &Target) -> Vec<SocketAddr> {
        match t.clone().into_repr() {
            Repr::Addrs(a) => a,
            Repr::Host { .. } => panic!("expected addresses, got {t:?}"),
        }
    }

    #[test]
    fn ip_literals_never_need_dns() {
        for (input, want) in [("127.0.0.1:80", "127.0.0.1:80"), ("[::1]:443", "[::1]:443")] {
            let t = input.into_target().unwrap();
            assert_eq!(addrs(&t), vec![want.parse::<SocketAddr>().unwrap()]);
        }
        let t = ("::1", 8080).into_target().unwrap();
        assert_eq!(addrs(&t), vec!["[::1]:8080".parse().unwrap()]);
        let t = ("[::1]", 8080).into_target().unwrap();
        assert_eq!(addrs(&t), vec!["[::1]:8080".parse().unwrap()]);
    }

    #[test]
    fn an_ipv6_scope_id_is_kept() {
        let scoped = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 80, 0, 7));
        for t in [
            "[fe80::1%7]:80".into_target(),
            ("fe80::1%7", 80).into_target(),
            ("[fe80::1%7]", 80).into_target(),
            scoped.into_target(),
        ] {
            let t = t.unwrap();
            assert_eq!(addrs(&t), vec![scoped], "{t:?}");
        }
        let e = ("fe80::1%eth0", 80).into_target().unwrap_err();
        assert!(e.to_string().contains("interface index"), "{e}");
        assert!("[fe80::1%7]:0"
            .into_target()
            .unwrap_err()
            .is_invalid_target());
    }

    #[test]
    fn everything_tokio_to_socket_addrs_takes() {
        let v4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80);
        let v6 = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 0, 0);
        let (a4, a6) = (SocketAddr::V4(v4), SocketAddr::V6(v6));
        let list = vec![a6, a4];
        for (t, want) in [
            ((Ipv4Addr::LOCALHOST, 80).into_target(), vec![a4]),
            ((Ipv6Addr::LOCALHOST, 80).into_target(), vec![a6]),
            (
                (IpAddr::from(Ipv4Addr::LOCALHOST), 80).into_target(),
                vec![a4],
            ),
            (v4.into_target(), vec![a4]),
            (v6.into_target(), vec![a6]),
            ([a6, a4].into_target(), list.clone()),
            ((&[a6, a4]).into_target(), list.clone()),
            ((&list).into_target(), list.clone()),
            (list[..].into_target(), list.clone()),
            (list.clone().into_target(), list.clone()),
        ] {
            assert_eq!(addrs(&t.unwrap()), want);
        }
        let host = String::from("example.com:80");
        assert_eq!((&host).into_target().unwrap().to_string(), "example.com:80");
        assert_eq!(host.into_target().unwrap().to_string(), "example.com:80");
    }

    #[test]
    fn a_uri_string_gets_a_hint_not_an_ipv6_one() {
        for uri in ["http://example.com", "https://example.com:443/x"] {
            let e = uri.into_target().unwrap_err().to_string();
            assert!(e.contains("http::Uri") && e.contains("host:port"), "{e}");
            assert!(!e.contains("bracket"), "{e}");
        }
    }

    #[test]
    fn host_and_port() {
        let t = "example.com:443".into_target().unwrap();
        assert_eq!(t.host_name(), Some("example.com"));
        assert_eq!(t.to_string(), "example.com:443");
        let t = ("example.com".to_string(), 80).into_target().unwrap();
        assert_eq!(t.to_string(), "example.com:80");
    }

    #[test]
    fn bad_targets_are_typed_errors() {
        let long = format!("{}.com:80", "a".repeat(260));
        for bad in [
            "example.com",
            "example.com:",
            "example.com:99999",
            ":80",
            "::1:80",
            "exa mple.com:80",
            "a/b:80",
            "example.com:0",
            "127.0.0.1:0",
            "www..example.com:80",
            ".example.com:80",
            "example.com..:80",
            "-bad-.example.com:80",
            long.as_str(),
        ] {
            let e = bad.into_target().unwrap_err();
            assert!(e.is_invalid_target(), "{bad:?} gave {e:?}");
        }
        assert!(("", 80).into_target().unwrap_err().is_invalid_target());
        let label64 = format!("{}.example.com", "a".repeat(64));
        assert!((label64.as_str(), 80)
            .into_target()
            .unwrap_err()
            .is_invalid_target());
        let label63 = format!("{}.example.com.", "a".repeat(63));
        assert!((label63.as_str(), 80).into_target().is_ok());
        assert!(("bücher.example", 80).into_target().is_ok());
        for underscored in ["my_host.example", "_dmarc.example.com", "a_b_:80"] {
            let t = Target::host(underscored.trim_end_matches(":80"), 80);
            assert!(t.is_ok(), "{underscored:?}: {t:?}");
        }
        assert!("my_host.example:443".into_target().is_ok());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the input, parsing a target returns a value or a typed error.
        #[test]
        fn any_string_parses_or_errs(s in any::<String>()) {
            if let Err(e) = s.as_str().into_target() {
                prop_assert!(e.is_invalid_target());
            }
        }

        #[test]
        fn host_like_strings_parse_or_err(s in "[a-z0-9:\\[\\]./@%_ -]{0,300}") {
            if let Err(e) = s.as_str().into_target() {
                prop_assert!(e.is_invalid_target());
            }
            if let Err(e) = Target::host(&s, 443) {
                prop_assert!(e.is_invalid_target());
            }
        }
    }
}
