//! [`open_fds`]: the process's open file descriptors, for leak checks.

use std::io;

/// How many file descriptors this process has open, read from `/proc/self/fd` (the
/// descriptor of the directory being read included, so compare two counts, not one with
/// an expected number).
///
/// A client that closes everything it opens brings the count back to where it was; a
/// check built on this fails loudly where the count cannot be read, rather than comparing
/// zeros.
///
/// # Errors
///
/// If `/proc/self/fd` cannot be read: not Linux, no `/proc`, or too many open files to
/// open the directory.
pub fn open_fds() -> io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        entry?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_descriptor_opened_and_closed() {
        let before = open_fds().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(open_fds().unwrap(), before + 1);
        drop(file);
        assert_eq!(open_fds().unwrap(), before);
    }
}
