//! [`Target`]: what to connect to, a host name and port or a list of addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::str::FromStr;

use hickory_resolver::proto::rr::Name;

use crate::dns::name;
use crate::ConnectError;

/// What a race connects to: a host name with a port, or addresses known already.
///
/// Anything that implements [`IntoTarget`] can be passed where a target is expected: what
/// tokio's `ToSocketAddrs` takes (`"host:port"`, `("host", port)` with a `&str` or
/// `String`, `(IpAddr, port)` and its v4/v6 forms, [`SocketAddr`] and its v4/v6 forms,
/// slices, arrays and `Vec`s of addresses, and a reference to any of them), and with the
/// `hyper` feature an `http::Uri`.
/// IP literals (`"127.0.0.1:80"`, `"[::1]:80"`, `("::1", 80)`, `"[fe80::1%2]:80"` with its
/// scope) become addresses at once and never touch DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Repr {
    /// One address: the common case, kept out of a `Vec` (no allocation).
    Addr(SocketAddr),
    /// Any other number of addresses, none included.
    Addrs(Vec<SocketAddr>),
    Host {
        host: String,
        port: u16,
        /// Whether `host` is plain ([`name::is_plain`]), as the lookup asks again.
        plain: bool,
    },
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
    ///
    /// Also refused, each with an error saying why, are names that are not a host's: the
    /// root `"."`, wildcards such as `"*.example"`, and names whose last label is a number
    /// (`"127.1"`, `"2130706433"`, `"10.0.0.1.5"`, `"example.0x1f"`). No DNS name ends in a
    /// number (RFC 3696 §2), and `inet_aton`, browsers and curl read `"127.1"` as the IPv4
    /// address 127.0.0.1 where a resolver would send it to DNS: write an IPv4 address in
    /// full (`"127.0.0.1"`). `_` in labels (`"_dmarc.example.com"`), a trailing dot
    /// (`"example.com."`) and internationalized names are accepted.
    pub fn host(host: &str, port: u16) -> Result<Target, ConnectError> {
        if port == 0 {
            return Err(port_zero());
        }
        let unbracketed = unbracketed(host);
        // Only hex digits, dots and colons spell an IP address: a name is not parsed as one,
        // and only such a start makes a scoped IPv6 address before a `%`. Where the first
        // other byte is tells both, most names at their first byte.
        let other = unbracketed
            .bytes()
            .position(|b| !(b.is_ascii_hexdigit() || b == b'.' || b == b':'));
        if other.is_none() {
            if let Ok(ip) = unbracketed.parse::<IpAddr>() {
                return Ok(Target::addrs([SocketAddr::new(ip, port)]));
            }
        }
        let scoped = other
            .filter(|&at| unbracketed.as_bytes()[at] == b'%')
            .map(|at| (&unbracketed[..at], &unbracketed[at + 1..]));
        if let Some((ip, scope)) = scoped {
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
        // A plain name (`name::is_plain`: lower-case letters, digits and hyphens) passes
        // every check here but the one of its last label.
        let plain = name::is_plain(host);
        if !plain {
            check_characters(host)?;
        }
        if ends_in_a_number(host) {
            return Err(ConnectError::invalid_target(format!(
                "host {host:?} ends in a number, which no DNS name does (RFC 3696 §2), and \
                 other programs would read it as an IPv4 address: write the address in \
                 full, as in 127.0.0.1"
            )));
        }
        // Relaxed, as the resolver's lookup is: `my_host.example` is a name getaddrinfo,
        // Go and hickory itself resolve, though IDNA forbids `_`.
        if !plain {
            if let Err(e) = Name::from_str_relaxed(host) {
                return Err(ConnectError::invalid_target(format!(
                    "host {host:?} is not a valid name: {e}"
                )));
            }
        }
        Ok(Target {
            repr: Repr::Host {
                host: host.to_owned(),
                port,
                plain,
            },
        })
    }

    /// Addresses to race, in the order given (the schedule still interleaves families).
    ///
    /// An address with port 0 fails the race before any SYN, with the error `"host:0"`
    /// gets: [`ErrorKind::InvalidTarget`](crate::ErrorKind::InvalidTarget).
    pub fn addrs(addrs: impl IntoIterator<Item = SocketAddr>) -> Target {
        let mut addrs = addrs.into_iter();
        let repr = match (addrs.next(), addrs.next()) {
            (Some(one), None) => Repr::Addr(one),
            (first, second) => Repr::Addrs(first.into_iter().chain(second).chain(addrs).collect()),
        };
        Target { repr }
    }

    /// The host name, if this target needs DNS.
    pub fn host_name(&self) -> Option<&str> {
        match &self.repr {
            Repr::Host { host, .. } => Some(host),
            Repr::Addr(_) | Repr::Addrs(_) => None,
        }
    }

    pub(crate) fn into_repr(self) -> Repr {
        self.repr
    }

    /// `self`, unless an address has port 0: then the same error as `"host:0"`, before any
    /// SYN. Every [`IntoTarget`] conversion ends here, so no race is given port 0.
    pub(crate) fn checked(self) -> Result<Target, ConnectError> {
        let has_port_zero = match &self.repr {
            Repr::Addr(addr) => addr.port() == 0,
            Repr::Addrs(addrs) => addrs.iter().any(|a| a.port() == 0),
            Repr::Host { port, .. } => *port == 0,
        };
        if has_port_zero {
            return Err(port_zero());
        }
        Ok(self)
    }
}

/// The checks of a host name's characters and length [`Target::host`] makes first: not
/// empty, at most [`MAX_HOST_LEN`] bytes, no character no host name has, not the root,
/// no wildcard.
fn check_characters(host: &str) -> Result<(), ConnectError> {
    if host.is_empty() {
        return Err(ConnectError::invalid_target("empty host"));
    }
    if host.trim_end_matches('.').len() > MAX_HOST_LEN {
        return Err(ConnectError::invalid_target(format!(
            "host name longer than {MAX_HOST_LEN} bytes"
        )));
    }
    // Not shown: what comes with an `@`, `/` or `?` may be a password or a token.
    if let Some(c) = host.chars().find(|&c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '/' | ':' | '[' | ']' | '@' | '?' | '#' | '%' | '\\')
    }) {
        return Err(ConnectError::invalid_target(format!(
            "the host contains {c:?}"
        )));
    }
    if host == "." {
        return Err(ConnectError::invalid_target(
            "\".\" is the DNS root, not a host name",
        ));
    }
    if host.contains('*') {
        return Err(ConnectError::invalid_target(format!(
            "host {host:?} contains '*': a wildcard is not a host name"
        )));
    }
    Ok(())
}

/// Whether the last label of `host` is a number: decimal digits, or `0x` and hex digits.
/// `inet_aton` and the WHATWG URL standard (browsers, curl) parse such a host as an IPv4
/// address (`127.1`, `2130706433`, `0x7f.1`), while DNS can have no such name.
fn ends_in_a_number(host: &str) -> bool {
    // In bytes: a connect by name asks this every time, and `str`'s searches cost more.
    let mut labels = host.as_bytes();
    while let [rest @ .., b'.'] = labels {
        labels = rest;
    }
    let last = labels.rsplit(|&b| b == b'.').next().unwrap_or_default();
    let hex = last
        .strip_prefix(b"0x")
        .or_else(|| last.strip_prefix(b"0X"))
        .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit));
    hex || (!last.is_empty() && last.iter().all(u8::is_ascii_digit))
}

/// A port as `host:port` writes it: ASCII digits only, no sign, at most 65535.
pub(crate) fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

/// Whether a URI `scheme` is one of the web's secure ones (`https`, `wss`: `Some(true)`),
/// plain ones (`http`, `ws`: `Some(false)`), or neither (`None`); case-insensitive.
pub(crate) fn is_secure_scheme(scheme: &str) -> Option<bool> {
    let is = |name: &str| scheme.eq_ignore_ascii_case(name);
    if is("https") || is("wss") {
        Some(true)
    } else if is("http") || is("ws") {
        Some(false)
    } else {
        None
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
            Repr::Host { host, port, .. } => write!(f, "{host}:{port}"),
            Repr::Addr(addr) => write!(f, "{addr}"),
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
    ///
    /// A message about a bad string shows it only once it is known to hold no user info,
    /// path, query or fragment, and at most 80 characters of it.
    fn from_str(s: &str) -> Result<Target, ConnectError> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            // Kept whole: rebuilding it from its IP would lose an IPv6 scope id.
            return Target::addrs([addr]).checked();
        }
        if let Some((scheme, _)) = s.split_once("://") {
            let scheme = if is_scheme(scheme) { scheme } else { "?" };
            return Err(ConnectError::invalid_target(format!(
                "a {scheme}:// URI is not a host:port: pass an http::Uri (feature `hyper`) \
                 or \"host:port\""
            )));
        }
        if let Some(c) = s.chars().find(|c| "@/?#".contains(*c)) {
            let part = match c {
                '@' => "user info",
                '/' => "path",
                '?' => "query",
                _ => "fragment",
            };
            return Err(ConnectError::invalid_target(format!(
                "a host:port target has no {part} (found {c:?})"
            )));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(ConnectError::invalid_target(format!(
                "{} has no port (expected host:port)",
                Shown(s)
            )));
        };
        if host.contains(':') && !host.starts_with('[') {
            return Err(ConnectError::invalid_target(format!(
                "{}: an IPv6 address needs brackets, as in [::1]:80",
                Shown(s)
            )));
        }
        // Not `u16::from_str`, which takes a leading `+`.
        let port = parse_port(port).ok_or_else(|| {
            ConnectError::invalid_target(format!(
                "{} has an invalid port (expected 1 to 65535, in ASCII digits)",
                Shown(s)
            ))
        })?;
        Target::host(host, port)
    }
}

/// At most this many characters of a bad target are shown in its error.
const SHOWN_CHARS: usize = 80;

/// A string from the caller in an error message: quoted and escaped, and cut at
/// [`SHOWN_CHARS`] characters.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(SHOWN_CHARS) {
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// Whether `s` is a URI scheme (RFC 3986 §3.1: a letter, then letters, digits, `+`, `-`
/// or `.`), which an error may show.
pub(crate) fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && s.len() <= 32
}

/// The error for port 0, whatever the target's form: no connection can be made to it.
fn port_zero() -> ConnectError {
    ConnectError::invalid_target("port 0 (expected 1 to 65535)")
}

/// Conversion into a [`Target`]; implemented for every way connie accepts a target.
pub trait IntoTarget {
    /// Converts `self`, or says why it is not a valid target.
    fn into_target(self) -> Result<Target, ConnectError>;
}

impl IntoTarget for Target {
    fn into_target(self) -> Result<Target, ConnectError> {
        self.checked()
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
        Target::addrs([SocketAddr::from(self)]).checked()
    }
}

impl IntoTarget for (Ipv4Addr, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::addrs([SocketAddr::from(self)]).checked()
    }
}

impl IntoTarget for (Ipv6Addr, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::addrs([SocketAddr::from(self)]).checked()
    }
}

impl IntoTarget for SocketAddrV4 {
    fn into_target(self) -> Result<Target, ConnectError> {
        SocketAddr::V4(self).into_target()
    }
}

impl IntoTarget for SocketAddrV6 {
    fn into_target(self) -> Result<Target, ConnectError> {
        SocketAddr::V6(self).into_target()
    }
}

impl IntoTarget for SocketAddr {
    /// One address, the case of `race_connect(addr)`: made in place, with its port
    /// checked, and no list built.
    #[inline]
    fn into_target(self) -> Result<Target, ConnectError> {
        if self.port() == 0 {
            return Err(port_zero());
        }
        Ok(Target {
            repr: Repr::Addr(self),
        })
    }
}

impl IntoTarget for &[SocketAddr] {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::addrs(self.iter().copied()).checked()
    }
}

impl<const N: usize> IntoTarget for [SocketAddr; N] {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::addrs(self).checked()
    }
}

impl<const N: usize> IntoTarget for &[SocketAddr; N] {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::addrs(self.iter().copied()).checked()
    }
}

impl IntoTarget for &Vec<SocketAddr> {
    fn into_target(self) -> Result<Target, ConnectError> {
        Target::addrs(self.iter().copied()).checked()
    }
}

impl IntoTarget for Vec<SocketAddr> {
    fn into_target(self) -> Result<Target, ConnectError> {
        let repr = match self[..] {
            [one] => Repr::Addr(one),
            _ => Repr::Addrs(self),
        };
        Target { repr }.checked()
    }
}

/// References, as tokio's `ToSocketAddrs` takes them: `race_connect(&addr)`,
/// `connect(&("example.com", 443))`. Each converts a copy of what it refers to.
macro_rules! by_reference {
    ($($target:ty),* $(,)?) => {$(
        impl IntoTarget for &$target {
            fn into_target(self) -> Result<Target, ConnectError> {
                self.clone().into_target()
            }
        }
    )*};
}

by_reference!(
    Target,
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
    (&str, u16),
    (String, u16),
    &str,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form tokio's `ToSocketAddrs` takes by reference is a target too, the same as
    /// the value it refers to.
    #[test]
    fn references_are_targets_as_their_values_are() {
        fn same<T>(value: T)
        where
            T: IntoTarget,
            for<'a> &'a T: IntoTarget,
        {
            let by_ref = (&value).into_target().map_err(|e| e.to_string());
            assert_eq!(by_ref, value.into_target().map_err(|e| e.to_string()));
        }
        let v4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80);
        let v6 = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 443, 0, 0);
        same(SocketAddr::V4(v4));
        same(v4);
        same(v6);
        same((IpAddr::V4(Ipv4Addr::LOCALHOST), 80));
        same((Ipv4Addr::LOCALHOST, 80));
        same((Ipv6Addr::LOCALHOST, 80));
        same(("example.com", 443));
        same(("example.com".to_owned(), 443));
        same("example.com:443");
        same("127.0.0.1:443".to_owned());
        same(Target::host("example.com", 443).expect("a host"));
        same(vec![SocketAddr::V4(v4), SocketAddr::V6(v6)]);
        same([SocketAddr::V4(v4)]);
        // Errors too: port 0 is refused whichever way it comes.
        same(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)));
        same(("example.com", 0));
    }

    fn addrs(t: &Target) -> Vec<SocketAddr> {
        match t.clone().into_repr() {
            Repr::Addr(a) => vec![a],
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

    /// Characters no host name has are named in the error.
    #[test]
    fn a_bad_character_is_named() {
        for (host, c) in [
            ("exa mple.com", "' '"),
            ("a\u{7}b.example", "'\\u{7}'"),
            ("a/b.example", "'/'"),
            ("user@example.com", "'@'"),
            ("a\\b.example", "'\\\\'"),
        ] {
            let e = Target::host(host, 80).unwrap_err().to_string();
            assert!(e.contains(&format!("contains {c}")), "{host:?}: {e}");
        }
    }

    /// One address is shown as it is; several (or none) as a list.
    #[test]
    fn display_of_addresses() {
        let a: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let b: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(Target::addrs([a]).to_string(), "10.0.0.1:80");
        assert_eq!(
            Target::addrs([a, b]).to_string(),
            "[10.0.0.1:80, [::1]:443]"
        );
        assert_eq!(
            Target::addrs([a, b, a]).to_string(),
            "[10.0.0.1:80, [::1]:443, 10.0.0.1:80]"
        );
        assert_eq!(Target::addrs([]).to_string(), "[]");
    }

    /// `Target::host` and `"host:port"` alike: refused with an error saying why.
    fn refused_because(host: &str, why: &str) {
        for e in [
            Target::host(host, 80).unwrap_err(),
            format!("{host}:80").into_target().unwrap_err(),
        ] {
            assert!(e.is_invalid_target(), "{host:?} gave {e:?}");
            assert!(e.to_string().contains(why), "{host:?}: {e}");
        }
    }

    /// Names a resolver would send to DNS but that name no host: the root, wildcards, and
    /// numeric last labels that other programs read as (legacy forms of) IPv4 addresses.
    #[test]
    fn the_root_wildcards_and_numeric_names_are_refused() {
        refused_because(".", "the DNS root");
        for wildcard in ["*", "*.example", "a.*.example", "*example.com"] {
            refused_because(wildcard, "wildcard");
        }
        for numeric in [
            "127.1",
            "127.1.",
            "2130706433",
            "0x7f.1",
            "0x7f000001",
            "10.0.0.1.5",
            "127.0.0.1.",
            "example.123",
            "example.0x1F",
        ] {
            refused_because(numeric, "ends in a number");
        }
        // A number anywhere but last is fine, as are `_`, a trailing dot and IDNA names.
        for fine in [
            "123.example",
            "1password.com",
            "example.com1",
            "0x7f.example",
            "_dmarc.example.com",
            "_sip._tcp.example.com.",
            "example.com.",
            "localhost",
            "bücher.example",
        ] {
            let t = Target::host(fine, 80).unwrap();
            assert_eq!(t.host_name(), Some(fine));
            assert_eq!(format!("{fine}:80").into_target().unwrap(), t);
        }
    }

    /// A port is 1 to 65535 in ASCII digits: no sign, no space, nothing else.
    #[test]
    fn a_port_is_ascii_digits_only() {
        for bad in [
            "example.com:+80",
            ":+80",
            "example.com:-80",
            "example.com: 80",
            "example.com:80 ",
            "example.com:0x50",
            "example.com:８０",
            "example.com:65536",
            "127.0.0.1:+80",
            "[::1]:+80",
        ] {
            let e = bad.into_target().unwrap_err();
            assert!(e.is_invalid_target(), "{bad:?} gave {e:?}");
        }
        let e = "example.com:+80".into_target().unwrap_err();
        assert!(e.to_string().contains("invalid port"), "{e}");
        for (good, port) in [
            ("example.com:1", 1),
            ("example.com:080", 80),
            ("example.com:65535", 65535),
            ("[::1]:65535", 65535),
        ] {
            let t = good.into_target().unwrap();
            assert!(t.to_string().ends_with(&format!(":{port}")), "{t}");
        }
    }

    /// 253 bytes is the longest name (RFC 1035 §2.3.4), a trailing dot not counted; 63 the
    /// longest label.
    #[test]
    fn the_length_limits_are_253_and_63() {
        let name = |last: usize| {
            let label = |c: &str, n: usize| c.repeat(n);
            format!(
                "{}.{}.{}.{}",
                label("a", 63),
                label("b", 63),
                label("c", 63),
                label("d", last)
            )
        };
        let (longest, over) = (name(61), name(62));
        assert_eq!((longest.len(), over.len()), (253, 254));
        for host in [longest.clone(), format!("{longest}.")] {
            let t = Target::host(&host, 80).unwrap();
            assert_eq!(t.host_name(), Some(host.as_str()));
        }
        for host in [over.clone(), format!("{over}.")] {
            let e = Target::host(&host, 80).unwrap_err();
            assert!(e.is_invalid_target(), "{e:?}");
            assert!(e.to_string().contains("longer than 253 bytes"), "{e}");
        }

        let label63 = format!("{}.example", "a".repeat(63));
        assert!(Target::host(&label63, 80).is_ok());
        let label64 = format!("{}.example", "a".repeat(64));
        let e = Target::host(&label64, 80).unwrap_err();
        assert!(e.to_string().contains("is not a valid name"), "{e}");
    }

    /// A message about a bad string target shows none of what may be a secret: user info,
    /// a path, a query, a fragment; and no more than `SHOWN_CHARS` of the rest.
    #[test]
    fn a_bad_string_target_shows_no_secret() {
        for bad in [
            "alice:s3cret@host:80",
            "alice:s3cret@example.com",
            "example.com:80/private?token=s3cret",
            "example.com:80?token=s3cret",
            "example.com:80#s3cret",
            "http://alice:s3cret@example.com/private?token=s3cret",
            "alice:s3cret@host://x",
        ] {
            let e = bad.into_target().unwrap_err();
            assert!(e.is_invalid_target(), "{bad}");
            let shown = format!("{e} {e:?}");
            for secret in ["s3cret", "alice", "private", "token"] {
                assert!(!shown.contains(secret), "{bad} gave {shown}");
            }
        }
        let e = "a@b:80".into_target().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid connect target: a host:port target has no user info (found '@')"
        );
        let e = "http://alice:s3cret@example.com/"
            .into_target()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid connect target: a http:// URI is not a host:port: pass an http::Uri \
             (feature `hyper`) or \"host:port\""
        );
        let e = ("alice@example.com", 80).into_target().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid connect target: the host contains '@'"
        );
        let long = format!("{}:x", "a".repeat(200));
        let e = long.into_target().unwrap_err().to_string();
        assert!(e.contains(&format!("\"{}\"…", "a".repeat(80))), "{e}");
        assert!(e.len() < 200, "{e}");
    }

    /// Port 0 is refused the same way in every form a target takes, before any SYN.
    #[test]
    fn port_zero_is_refused_in_every_form() {
        let v4 = SocketAddr::from(([127, 0, 0, 1], 0));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 0));
        let fine = SocketAddr::from(([127, 0, 0, 1], 80));
        let SocketAddr::V4(v4_only) = v4 else {
            unreachable!()
        };
        let SocketAddr::V6(v6_only) = v6 else {
            unreachable!()
        };
        let ip = v4.ip();
        let results = [
            "localhost:0".into_target(),
            "127.0.0.1:0".into_target(),
            "[::1]:0".into_target(),
            ("localhost", 0).into_target(),
            ("127.0.0.1", 0).into_target(),
            (ip, 0).into_target(),
            (Ipv4Addr::LOCALHOST, 0).into_target(),
            (Ipv6Addr::LOCALHOST, 0).into_target(),
            v4.into_target(),
            v4_only.into_target(),
            v6_only.into_target(),
            [fine, v6].into_target(),
            (&[fine, v6][..]).into_target(),
            vec![fine, v6].into_target(),
            (&vec![v4]).into_target(),
            Target::addrs([fine, v4]).into_target(),
            (&Target::addrs([v6])).into_target(),
        ];
        for (i, result) in results.into_iter().enumerate() {
            let e = result.unwrap_err();
            assert_eq!(
                e.to_string(),
                "invalid connect target: port 0 (expected 1 to 65535)",
                "form {i}"
            );
        }
        assert!(Target::addrs([fine]).into_target().is_ok());
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
