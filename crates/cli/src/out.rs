//! Standard output that a closed reader does not break: `onramp customer list | head` ends
//! quietly. Rust ignores SIGPIPE, so a write to a closed pipe fails with `BrokenPipe`, and
//! `println!` turns that into a panic. Here the first `BrokenPipe` closes the output and the
//! command carries on (a refresh it is running still lands and is written to the store); what it
//! would have printed goes nowhere, as it would with any shell tool whose reader left. Other
//! write errors are said once on standard error.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to standard output, unless a reader has gone.
pub fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != ErrorKind::BrokenPipe {
            eprintln!("warning: cannot write to standard output ({e}); the command goes on");
        }
    }
}

/// `println!` that ends quietly when the reader has gone.
macro_rules! out {
    () => { $crate::out::write(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*), true) };
}

/// `print!` that ends quietly when the reader has gone.
macro_rules! out_part {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*), false) };
}
