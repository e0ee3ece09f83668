//! What a race needs of its tokio runtime besides IO: timers.
//!
//! A race's schedule and timeouts, and hickory's lookups, run on tokio timers, which need
//! the runtime's time driver (`Builder::enable_time`, part of `enable_all`, and of what
//! `#[tokio::main]` and `#[tokio::test]` build). On a runtime without it tokio panics when
//! a timer is made, and has no way to ask first (tokio-rs/tokio#8361 asks for one). So a
//! race that may need a timer makes one before it dials or looks anything up, and turns
//! that panic into a [`ConnectError`] of kind [`NoTimeDriver`](crate::ErrorKind::NoTimeDriver).
//! Each thread remembers the last runtime it found timers on, so that a warm race asks
//! only for the runtime's id.

use std::any::Any;
use std::cell::Cell;
use std::panic;

use tokio::runtime::{Handle, Id};
use tokio::time::{sleep_until, Instant};

use crate::ConnectError;

/// Checks that the current runtime can make timers: makes one due now and drops it
/// unpolled, which registers nothing with the time driver; unless this thread found timers
/// on this runtime the last time it checked (then it reads no clock either).
///
/// Catching the panic is the only way tokio offers to find out, and it is seen by the
/// process's panic hook (the default hook prints it, with tokio's message); under
/// `panic = "abort"` it ends the process.
///
/// # Errors
///
/// [`NoTimeDriver`](crate::ErrorKind::NoTimeDriver), with tokio's message, if the runtime
/// has no time driver.
///
/// # Panics
///
/// Outside a tokio runtime, with tokio's own message, as tokio's sockets and timers do.
pub(crate) fn timers() -> Result<(), ConnectError> {
    let id = Handle::try_current().ok().map(|runtime| runtime.id());
    if id.is_some() && TIMED.get() == id {
        return Ok(());
    }
    match panic::catch_unwind(|| drop(sleep_until(Instant::now()))) {
        Ok(()) => {
            TIMED.set(id);
            Ok(())
        }
        Err(panic) if Handle::try_current().is_err() => panic::resume_unwind(panic),
        Err(panic) => Err(ConnectError::no_time_driver(message(&*panic))),
    }
}

thread_local! {
    /// The runtime this thread last found timers on. A runtime has its time driver for
    /// its whole life, and tokio draws ids from a process-wide counter (64 bits where the
    /// platform has 64-bit atomics), so an id is not seen again for another runtime.
    static TIMED: Cell<Option<Id>> = const { Cell::new(None) };
}

/// The message a panic was raised with.
fn message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(message), _) => (*message).to_owned(),
        (_, Some(message)) => message.clone(),
        (None, None) => "a panic without a message".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// Runs `f` inside a current-thread runtime with IO, and with time if `time`.
    fn on_runtime<T>(time: bool, f: impl FnOnce() -> T) -> T {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        builder.enable_io();
        if time {
            builder.enable_time();
        }
        let runtime = builder.build().unwrap();
        let _inside = runtime.enter();
        f()
    }

    #[test]
    fn a_runtime_with_time_has_timers() {
        on_runtime(true, timers).unwrap();
    }

    /// What a thread remembers of one runtime says nothing of the next: one without the
    /// time driver is still an error after one with it, and one with it after that.
    #[test]
    fn each_runtime_is_checked() {
        on_runtime(true, || {
            timers().unwrap();
            timers().unwrap();
        });
        let e = on_runtime(false, timers).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoTimeDriver);
        on_runtime(true, timers).unwrap();
        let e = on_runtime(false, timers).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoTimeDriver);
    }

    /// Without the time driver: the error, with tokio's message, and no panic.
    #[test]
    fn a_runtime_without_time_is_an_error() {
        let e = on_runtime(false, timers).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoTimeDriver);
        let debug = format!("{e:?}");
        assert!(debug.contains("timers are disabled"), "{debug}");
    }

    /// Outside any runtime tokio's own panic goes on: not a missing time driver.
    #[test]
    fn outside_a_runtime_it_panics_as_tokio_does() {
        let panic = panic::catch_unwind(timers).unwrap_err();
        let message = message(&*panic);
        assert!(message.contains("Tokio 1.x runtime"), "{message}");
    }

    #[test]
    fn a_panic_message_is_read_from_either_payload() {
        assert_eq!(message(&"static"), "static");
        assert_eq!(message(&String::from("owned")), "owned");
        assert_eq!(message(&42_u8), "a panic without a message");
    }
}
