//! The platform lists of the socket options, each written once, as `cfg_*!` macros in
//! tokio's style.
//!
//! `cfg_linux_like! { items }` compiles each item only on those systems, with the docs.rs
//! badge saying so. `cfg_linux_like! { { items } else { items } }` also compiles the
//! `else` items on every other system: a function and its stand-in, so that the caller
//! needs no `cfg` of its own.

/// The body of every `cfg_*!` macro: `#[cfg($pred)]` and its docs.rs badge on each item,
/// `#[cfg(not($pred))]` on each item of the `else` block.
macro_rules! cfg_os {
    ($pred:meta; { $($item:item)* } else { $($other:item)* }) => {
        $(
            #[cfg($pred)]
            #[cfg_attr(docsrs, doc(cfg($pred)))]
            $item
        )*
        $(
            #[cfg(not($pred))]
            $other
        )*
    };
    ($pred:meta; $($item:item)*) => {
        $(
            #[cfg($pred)]
            #[cfg_attr(docsrs, doc(cfg($pred)))]
            $item
        )*
    };
}

/// Android, Fuchsia and Linux, where socket2 has `SO_BINDTODEVICE`, `SO_MARK` and
/// `TCP_USER_TIMEOUT`.
macro_rules! cfg_linux_like {
    ($($body:tt)*) => {
        cfg_os! {
            any(target_os = "android", target_os = "fuchsia", target_os = "linux");
            $($body)*
        }
    };
}

/// The systems where socket2 binds a socket to an interface by its index (`IP_BOUND_IF`,
/// `IPV6_BOUND_IF`, `SO_BINDTOIFINDEX`).
macro_rules! cfg_interface_index {
    ($($body:tt)*) => {
        cfg_os! {
            any(
                target_os = "android",
                target_os = "illumos",
                target_os = "ios",
                target_os = "linux",
                target_os = "macos",
                target_os = "solaris",
                target_os = "tvos",
                target_os = "visionos",
                target_os = "watchos",
            );
            $($body)*
        }
    };
}

/// The systems where socket2 sets the time between keepalive probes and their count
/// (`TCP_KEEPINTVL`, `TCP_KEEPCNT`).
macro_rules! cfg_keepalive_probes {
    ($($body:tt)*) => {
        cfg_os! {
            any(
                target_os = "android",
                target_os = "dragonfly",
                target_os = "freebsd",
                target_os = "fuchsia",
                target_os = "illumos",
                target_os = "ios",
                target_os = "linux",
                target_os = "macos",
                target_os = "netbsd",
                target_os = "tvos",
                target_os = "visionos",
                target_os = "watchos",
                target_os = "windows",
            );
            $($body)*
        }
    };
}
