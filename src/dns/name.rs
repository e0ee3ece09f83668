//! A host name as hickory parses it, without its general parser for the names most hosts
//! have.
//!
//! connie parses names relaxed, as hickory's `Name::from_str_relaxed` does: IDNA first
//! (`Name::from_utf8`), and where IDNA refuses the name, plain ASCII (`Name::from_ascii`),
//! so that `my_host.example` is a name. That parser walks the name one character at a time
//! and runs IDNA on each label. For a name that IDNA leaves as it is, every label lower-case
//! ASCII letters, digits and hyphens ([`is_plain`]), both parsers make the labels as
//! written: [`parse`] reads them as they are, in one go, from their wire form, and leaves
//! the rest to hickory.

use hickory_resolver::proto::rr::Name;
use hickory_resolver::proto::serialize::binary::BinDecodable;
use hickory_resolver::proto::ProtoError;

/// The longest label DNS can carry (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// `host` as [`Name::from_str_relaxed`] parses it; `plain` if [`is_plain`] said so already.
pub(crate) fn parse(host: &str, plain: bool) -> Result<Name, ProtoError> {
    if !(plain || is_plain(host)) {
        return Name::from_str_relaxed(host);
    }
    let labels = host.strip_suffix('.').unwrap_or(host);
    // The wire form (RFC 1035 §3.1), each label after its length, then the root's 0:
    // hickory reads it into one name, where appending label by label moves the name at
    // each. The name is copied one byte in, and each dot, read from the end, becomes the
    // length of the label after it. A plain name's 253 bytes at most make 255 at most.
    debug_assert!(is_plain(host), "{host:?}");
    let end = labels.len() + 1;
    let mut wire = [0u8; 255];
    wire[1..end].copy_from_slice(labels.as_bytes());
    let mut label = 0u8;
    for b in wire[1..end].iter_mut().rev() {
        if *b == b'.' {
            (*b, label) = (label, 0);
        } else {
            label += 1;
        }
    }
    wire[0] = label;
    let mut name = Name::from_bytes(&wire[..=end])?;
    name.set_fqdn(labels.len() < host.len());
    Ok(name)
}

/// Whether `host` is a name [`Name::from_str_relaxed`] accepts and makes of its labels as
/// written: one or more labels of 1 to 63 lower-case ASCII letters, digits and hyphens,
/// none starting with a hyphen nor with IDNA's `xn--`, separated by dots, with or without
/// a final dot, 253 bytes at most without it.
///
/// IDNA maps such a label to itself (it maps only upper case, non-ASCII and `xn--`
/// labels, and checks hyphens only where told to, which hickory does not), and hickory
/// takes the label IDNA returns as its bytes when it starts with no hyphen.
pub(crate) fn is_plain(host: &str) -> bool {
    let labels = host.strip_suffix('.').unwrap_or(host).as_bytes();
    // A name of 253 bytes is 255 on the wire, hickory's limit.
    if labels.is_empty() || labels.len() > 253 {
        return false;
    }
    // One pass, a table lookup a byte; each label is checked as its dot is reached.
    let mut start = 0;
    for (i, &b) in labels.iter().enumerate() {
        if !PLAIN_OR_DOT[usize::from(b)] {
            return false;
        }
        if b == b'.' {
            if !is_plain_label(&labels[start..i]) {
                return false;
            }
            start = i + 1;
        }
    }
    is_plain_label(&labels[start..])
}

/// Whether a label of plain bytes is plain: 1 to 63 bytes, not starting with a hyphen nor
/// with IDNA's `xn--`.
fn is_plain_label(label: &[u8]) -> bool {
    match label {
        [] | [b'-', ..] => false,
        _ => label.len() <= MAX_LABEL_LEN && !is_idna(label),
    }
}

/// The bytes of a plain name: lower-case ASCII letters, digits, hyphens and dots.
static PLAIN_OR_DOT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < table.len() {
        table[b] = matches!(b as u8, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.');
        b += 1;
    }
    table
};

/// Whether `label` is IDNA's ASCII form of a name (`xn--` and its Punycode).
fn is_idna(label: &[u8]) -> bool {
    label.starts_with(b"xn--")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name is parsed as hickory's relaxed parser parses it, on the plain path or
    /// not: the same labels, the same final dot, the same case, or an error for both.
    #[test]
    fn parses_as_hickory_does() {
        let long_label = "a".repeat(63);
        let too_long_label = "a".repeat(64);
        let longest = [&long_label[..], &long_label, &long_label, &"b".repeat(61)].join(".");
        let too_long = format!("{longest}c");
        let names = [
            "example.com",
            "example.com.",
            "localhost.lab.test.",
            "a",
            "a.",
            "0-9.example",
            "a-.example",
            "a--b.example",
            "ab--cd.example",
            "123.example",
            &long_label,
            &too_long_label,
            &longest,
            &format!("{longest}."),
            &too_long,
            // Not plain: hickory decides.
            "Example.COM",
            "-a.example",
            "xn--bcher-kva.example",
            "xn--.example",
            "my_host.example",
            "_dmarc.example.com",
            "bücher.example",
            "a..b",
            ".a",
            "a.b..",
            ".",
            "",
            "*.example",
            "a b",
            "a\\.b",
        ];
        for host in names {
            let ours = parse(host, is_plain(host));
            let hickorys = Name::from_str_relaxed(host);
            match (&ours, &hickorys) {
                (Ok(a), Ok(b)) => {
                    assert!(a.eq_case(b), "{host:?}: {a:?} against {b:?}");
                    assert_eq!(a.is_fqdn(), b.is_fqdn(), "{host:?}");
                    assert_eq!(a.to_string(), b.to_string(), "{host:?}");
                    let (ours, theirs): (Vec<_>, Vec<_>) = (a.iter().collect(), b.iter().collect());
                    assert_eq!(ours, theirs, "{host:?}");
                }
                (Err(_), Err(_)) => {}
                _ => panic!("{host:?}: {ours:?} against {hickorys:?}"),
            }
        }
    }

    /// The plain path takes lower-case letter-digit-hyphen labels, not starting with a
    /// hyphen or `xn--`, of at most 63 bytes, 253 bytes in all; everything else is
    /// hickory's.
    #[test]
    fn what_is_plain() {
        for plain in ["example.com", "example.com.", "a", "a-b.c0", "a-", "a--b"] {
            assert!(is_plain(plain), "{plain:?}");
        }
        let longest = ["a"; 127].join(".");
        assert_eq!(longest.len(), 253);
        assert!(is_plain(&longest));
        assert!(is_plain(&format!("{longest}.")));
        for not in [
            "",
            ".",
            "Example.com",
            "-a",
            "xn--a",
            "a_b",
            "a..b",
            ".a",
            "a..",
            "bücher",
            "a b",
            &"a".repeat(64),
            &format!("{longest}a"),
        ] {
            assert!(!is_plain(not), "{not:?}");
        }
    }
}
