//! A one-line progress display on stderr (`[webhook-timeout] 12/36 runs  33%  point 4 seed 2
//! 41s, ~82s left`), redrawn in place, only when stderr is a terminal: a log file or CI gets
//! nothing. A plain line rather than `indicatif`, which would bring four crates for this.
//!
//! It reads the real clock, for the elapsed and remaining time only; nothing it reads reaches
//! the reports, which stay byte-identical from run to run.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Whether to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Off,
    /// On stderr, whatever it is.
    Stderr,
}

impl Progress {
    /// [`Progress::Stderr`] when stderr is a terminal, else [`Progress::Off`].
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::Stderr
        } else {
            Progress::Off
        }
    }

    pub(super) fn start(self, name: &str, runs: usize) -> Bar {
        Bar {
            on: self == Progress::Stderr,
            name: name.to_string(),
            runs,
            done: 0,
            started: Instant::now(),
        }
    }
}

/// The display of one experiment.
pub(super) struct Bar {
    on: bool,
    name: String,
    runs: usize,
    done: usize,
    started: Instant,
}

impl Bar {
    /// Called before each run.
    pub(super) fn step(&mut self, point: usize, seed: u64) {
        if self.on {
            self.draw(&format!("point {point} seed {seed}"));
        }
        self.done += 1;
    }

    pub(super) fn finish(&mut self) {
        if self.on {
            self.draw("done");
            eprintln!();
        }
    }

    fn draw(&self, what: &str) {
        let done = self.done.min(self.runs);
        let elapsed_s = self.started.elapsed().as_secs();
        let left = if done == 0 {
            String::new()
        } else {
            let left_s = elapsed_s * (self.runs - done) as u64 / done as u64;
            format!(", ~{left_s}s left")
        };
        let percent = (done * 100).checked_div(self.runs).unwrap_or(100);
        let mut stderr = std::io::stderr().lock();
        // `\x1b[K` clears what a longer previous line left.
        let _ = write!(
            stderr,
            "\r[{}] {done}/{} runs {percent:>3}%  {what}  {elapsed_s}s{left}\x1b[K",
            self.name, self.runs
        );
        let _ = stderr.flush();
    }
}
