//! The bytes under the reader: counted, capped and cancellable. quick-xml copies a whole event
//! (a tag with its attributes, a run of text) into its buffer before handing it over, so a
//! 100 MB attribute would be 100 MB in memory before the reader could look at it. The guard
//! refuses to hand quick-xml more than the cap of one event's bytes: the reader marks each
//! event's end ([`Guard::mark`]), and a `fill_buf` past the cap since the mark answers a
//! [`Stop`] instead of more bytes. It also counts what was read for the progress report, stops
//! at the input cap, and stops when the import is cancelled.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Limit, Limits};

/// The most handed to quick-xml in one piece.
const CHUNK: usize = 64 * 1024;

/// Why the guard stopped the stream: the reader turns it back into an [`super::EspiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Limit(Limit),
    Cancelled,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Limit(l) => write!(f, "{l}"),
            Stop::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for Stop {}

/// What an import is told while it reads and how it is stopped.
pub struct Watch<'a> {
    /// Called with the bytes read so far, about every [`Watch::every`] bytes and at the end.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Set from anywhere to stop the reading (the import stores nothing).
    pub cancel: &'a AtomicBool,
    /// Bytes between two progress reports.
    pub every: u64,
}

pub(super) struct Guard<'w, R> {
    inner: R,
    /// Bytes handed to quick-xml so far.
    read: u64,
    /// Where the event being read began.
    mark: u64,
    /// Whether the event being read is markup (it began with `<`): its cap is a tag's.
    markup: Option<bool>,
    limits: Limits,
    watch: Option<&'w Watch<'w>>,
    reported: u64,
}

impl<'w, R: BufRead> Guard<'w, R> {
    pub(super) fn new(inner: R, limits: Limits, watch: Option<&'w Watch<'w>>) -> Self {
        Guard {
            inner,
            read: 0,
            mark: 0,
            markup: None,
            limits,
            watch,
            reported: 0,
        }
    }

    /// The reader has taken one event: the next begins here.
    pub(super) fn mark(&mut self) {
        self.mark = self.read;
        self.markup = None;
    }

    /// Reports the bytes read (the end of the stream, whatever the step).
    pub(super) fn report(&mut self) {
        if let Some(w) = self.watch {
            (w.progress)(self.read);
            self.reported = self.read;
        }
    }

    fn stop(s: Stop) -> io::Error {
        io::Error::other(s)
    }
}

impl<R: BufRead> Read for Guard<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Guard<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Some(w) = self.watch {
            if w.cancel.load(Ordering::Relaxed) {
                return Err(Self::stop(Stop::Cancelled));
            }
        }
        if self.read > self.limits.input {
            return Err(Self::stop(Stop::Limit(Limit::Input(self.limits.input))));
        }
        let event = self.read - self.mark;
        match self.markup {
            Some(true) if event > self.limits.tag as u64 => {
                return Err(Self::stop(Stop::Limit(Limit::Tag(self.limits.tag))));
            }
            Some(false) if event > self.limits.text as u64 => {
                return Err(Self::stop(Stop::Limit(Limit::Text(self.limits.text))));
            }
            _ => {}
        }
        let buf = self.inner.fill_buf()?;
        if self.markup.is_none() {
            if let Some(&b) = buf.first() {
                self.markup = Some(b == b'<');
            }
        }
        // Never more than one past the event's cap at once (a reader over bytes in memory
        // hands over all of them), so the next call finds an event past its cap.
        let cap = match self.markup {
            Some(true) => self.limits.tag,
            Some(false) => self.limits.text,
            None => self.limits.tag.max(self.limits.text),
        } as u64;
        let allowed = (cap + 1).saturating_sub(event).clamp(1, CHUNK as u64) as usize;
        Ok(&buf[..buf.len().min(allowed)])
    }

    fn consume(&mut self, n: usize) {
        if self.markup.is_none() && n > 0 {
            // quick-xml may take the `<` it saw before the mark without asking again: the
            // bytes being taken are still at the front of the inner buffer (no I/O here).
            if let Ok(b) = self.inner.fill_buf() {
                self.markup = b.first().map(|&c| c == b'<');
            }
        }
        self.inner.consume(n);
        self.read += n as u64;
        if let Some(w) = self.watch {
            if self.read - self.reported >= w.every {
                (w.progress)(self.read);
                self.reported = self.read;
            }
        }
    }
}
