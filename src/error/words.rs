//! Errors in a few words: the short class a [`ConnectError`](super::ConnectError)'s summary
//! counts attempts by, and an attempt's reason as [`Outcome`](crate::Outcome) keeps it.

use std::borrow::Cow;
use std::io;

/// An attempt's error as a summary counts it, in a word or two: `refused`, `timed out`,
/// `reset`, `TLS handshake failed`, the OS's name for its error (`too many open files`), or
/// the kind's own words (`host unreachable`).
///
/// Never the error's own message: that is the cause, which the error chain prints.
pub(crate) fn class(e: &io::Error) -> Cow<'static, str> {
    match e.kind() {
        io::ErrorKind::TimedOut => return "timed out".into(),
        io::ErrorKind::ConnectionRefused => return "refused".into(),
        io::ErrorKind::ConnectionReset => return "reset".into(),
        _ => {}
    }
    if is_tls(e) {
        return "TLS handshake failed".into();
    }
    match os_words(e) {
        Some(words) => words.into(),
        None => e.kind().to_string().into(),
    }
}

/// An attempt's error in its own words: the message it carries
/// (`invalid peer certificate: UnknownIssuer`), the OS's name for its error (`connection
/// refused`, `too many open files`), or the kind's words.
pub(crate) fn reason(e: &io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        // An error std made with a message of its own (`failed to fill whole buffer`), or
        // of a kind alone, says it in its `Display`.
        None => os_words(e).unwrap_or_else(|| e.to_string()),
    }
}

/// The OS's message for an error with an OS code, first letter lowered and without the
/// `(os error N)` std appends: `too many open files`.
fn os_words(e: &io::Error) -> Option<String> {
    let code = e.raw_os_error()?;
    let message = e.to_string();
    let message = message
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&message);
    let mut chars = message.chars();
    let first = chars.next()?;
    Some(first.to_lowercase().chain(chars).collect())
}

/// Whether `e` is a failed TLS handshake: rustls's error inside the `io::Error`.
fn is_tls(e: &io::Error) -> bool {
    #[cfg(feature = "rustls")]
    return e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
    #[cfg(not(feature = "rustls"))]
    return {
        let _ = e;
        false
    };
}

/// Whether `e` says that the process or the system ran short of something, not that the
/// destination has no route: no descriptor left in the process (`EMFILE`) or the system
/// (`ENFILE`), no buffer space (`ENOBUFS`), no memory (`ENOMEM`). Such an answer holds
/// for this moment only, so it is never cached, nor taught to the address history.
pub(crate) fn short_of_resources(e: &io::Error) -> bool {
    #[cfg(unix)]
    return out_of_files(e) || matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::ENOMEM));
    #[cfg(not(unix))]
    return e.kind() == io::ErrorKind::OutOfMemory;
}

/// Whether `e` says that the process (`EMFILE`) or the system (`ENFILE`) has no file
/// descriptor left.
pub(crate) fn out_of_files(e: &io::Error) -> bool {
    #[cfg(unix)]
    return matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
    #[cfg(not(unix))]
    return {
        let _ = e;
        false
    };
}
