//! A small timing harness shared by the bench files (`mod harness;`), so `cargo bench` needs no
//! benchmarking crate.
//!
//! Each case runs a few untimed warm-up iterations, then `runs` timed ones, and prints one line:
//!
//! ```text
//! bench: name=<case> median_ms=<x> min_ms=<x> max_ms=<x>
//! ```
//!
//! Command-line words not starting with `-` filter the cases by substring (cargo passes
//! `--bench`, which is ignored): `cargo bench -- xor` runs only the cases whose name contains
//! `xor`.

// Each bench file is its own crate and uses only part of the harness.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How many untimed and timed iterations a case gets.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    /// Untimed iterations first (caches, branch predictors, allocations settle).
    pub warmup: usize,
    /// Timed iterations; the median, minimum and maximum are reported.
    pub timed: usize,
}

/// The cases selected on the command line, and the running of them.
#[derive(Debug)]
pub struct Harness {
    filters: Vec<String>,
}

impl Harness {
    /// Reads the name filters from the process arguments.
    pub fn from_args() -> Self {
        let filters = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
        Harness { filters }
    }

    /// Whether case `name` is selected (every case is when no filter was given).
    pub fn selected(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Times `routine` on a fresh input from `setup` each iteration; only `routine` is timed.
    ///
    /// The input and the result go through [`black_box`], so neither the setup nor the work
    /// can be optimized away.
    pub fn bench_with_setup<I, O>(
        &self,
        name: &str,
        runs: Runs,
        mut setup: impl FnMut() -> I,
        mut routine: impl FnMut(I) -> O,
    ) {
        if !self.selected(name) {
            return;
        }
        for _ in 0..runs.warmup {
            black_box(routine(black_box(setup())));
        }
        let mut times = Vec::with_capacity(runs.timed.max(1));
        for _ in 0..runs.timed.max(1) {
            let input = black_box(setup());
            let start = Instant::now();
            let output = routine(input);
            times.push(start.elapsed());
            drop(black_box(output));
        }
        report(name, &mut times);
    }

    /// Times `routine`, which must do the same work on every call (e.g. on reused buffers).
    pub fn bench<O>(&self, name: &str, runs: Runs, mut routine: impl FnMut() -> O) {
        self.bench_with_setup(name, runs, || (), |()| routine());
    }
}

/// Prints the bench line for `times` (sorted in place).
fn report(name: &str, times: &mut [Duration]) {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let n = times.len();
    let median = if n % 2 == 1 { ms(times[n / 2]) } else { (ms(times[n / 2 - 1]) + ms(times[n / 2])) / 2.0 };
    println!("bench: name={name} median_ms={median:.3} min_ms={:.3} max_ms={:.3}", ms(times[0]), ms(times[n - 1]));
}
