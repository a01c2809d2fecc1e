//! How many threads the crate's matrix products and other large passes use.
//!
//! Large products (a training step's `x·W` at batch 100 on MNIST, a convolution's im2col
//! product) are split across threads by blocks of output rows or columns; so are the layers'
//! element-wise and pooling passes, the optimizers' passes over a large parameter and `fit`'s
//! gather of a large batch, in parts. Small ones stay on the calling thread, where splitting
//! costs more than it saves. Each output element is
//! computed by one thread, in the same order whatever the split, so **results are
//! bit-identical for every thread count**: the count changes speed, never numbers.
//!
//! The count is, in order of precedence:
//! 1. the last [`set`] in the program;
//! 2. the environment variable `BACKPROP_THREADS` (a whole number ≥ 1, read once, at the first
//!    product that could split; any other value is ignored);
//! 3. the machine's cores ([`std::thread::available_parallelism`]);
//!
//! and never more than [`max`] (four per core, at least 64).
//!
//! `1` runs every product on the calling thread and starts no thread. Otherwise the products
//! run on the crate's own [rayon](https://docs.rs/rayon) pool (not rayon's global pool, so it
//! does not compete with a program's own use of rayon for the count).
//!
//! [`Network::fit`](crate::Network::fit) runs its whole loop inside [`install`], so its steps
//! hand work between threads without allocating; a hand-written loop of
//! [`train_step`](crate::Network::train_step)s can do the same.
//!
//! ```
//! backprop::threads::set(1); // like torch.set_num_threads(1)
//! assert_eq!(backprop::threads::get(), 1);
//! backprop::threads::set(0); // back to BACKPROP_THREADS, else the machine's cores
//! ```

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// The count set by [`set`]; 0 when none is set.
static SET: AtomicUsize = AtomicUsize::new(0);

/// The count when none is set: `BACKPROP_THREADS`, else the machine's cores (read once).
static DEFAULT: OnceLock<usize> = OnceLock::new();

/// The pool for the current count (built at the first product that splits; rebuilt when the
/// count changes).
static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// The name of the environment variable that sets the thread count.
pub const ENV_VAR: &str = "BACKPROP_THREADS";

/// Sets how many threads the crate's matrix products use from now on, for the whole program;
/// `0` returns to the default (`BACKPROP_THREADS`, else the machine's cores).
///
/// Results do not depend on the count: it changes only speed. A count above the machine's cores
/// is allowed (the threads then share cores), up to [`max`]: a larger count is lowered to it
/// (thousands of threads took minutes to start, and could abort the program for their stacks).
pub fn set(threads: usize) {
    SET.store(threads, Ordering::Relaxed);
}

/// How many threads the crate's matrix products use (at least 1, at most [`max`]).
pub fn get() -> usize {
    let count = match SET.load(Ordering::Relaxed) {
        0 => *DEFAULT.get_or_init(default_count),
        n => n,
    };
    count.min(max())
}

/// The most threads the crate uses, whatever [`set`] or `BACKPROP_THREADS` ask: four per core,
/// and at least 64.
pub fn max() -> usize {
    cores().saturating_mul(4).max(64)
}

/// `BACKPROP_THREADS` if it is a whole number ≥ 1, else the machine's cores.
fn default_count() -> usize {
    std::env::var(ENV_VAR).ok().and_then(|v| parse_count(&v)).unwrap_or_else(cores)
}

/// The machine's cores, asked once: [`std::thread::available_parallelism`] reads the cgroup
/// files on Linux, allocating, and [`install`] must not allocate.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A thread count written as a whole number ≥ 1 (spaces around it allowed).
fn parse_count(text: &str) -> Option<usize> {
    text.trim().parse::<usize>().ok().filter(|&n| n >= 1)
}

/// Runs `op` on one of the crate's threads, and returns its result.
///
/// Products computed inside `op` split without handing work in from outside the pool — which
/// costs a wake-up per product, and an allocation inside rayon every few dozen products. Use it
/// around a loop of [`train_step`](crate::Network::train_step)s for allocation-free steps;
/// [`Network::fit`](crate::Network::fit) already does. With one thread, `op` runs on the
/// calling thread.
///
/// While `op` runs, the pool's other threads stay awake: a thread that took a part within the
/// last 2 ms waits for the next one spinning, as OpenMP's threads do, since waking a sleeping
/// thread takes about as long as a part of a product at batch 100. A thread that has had nothing
/// to do for longer naps in steps of 0.2 ms, so a network whose products never split does not
/// keep a core busy. With more threads than cores they never spin (a spinning thread could take
/// the core of a working one).
pub fn install<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    match pool() {
        // Already inside (a `fit` within an `install`): the helpers are awake or napping.
        Some(pool) if pool.current_thread_index().is_some() => op(),
        Some(pool) => pool.install(|| with_helpers_awake(op)),
        None => op(),
    }
}

/// Runs `op` on one of the crate's threads, as [`install`] does but without keeping the others
/// awake: for the crate's own passes split in parts, which hand their parts to rayon directly.
pub(crate) fn on_pool<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(op),
        None => op(),
    }
}

/// How long a helper thread of [`install`] spins after its last part before napping.
const SPIN: Duration = Duration::from_millis(2);

/// A napping helper thread's sleep between looks for work.
const NAP: Duration = Duration::from_micros(200);

/// Runs `op` on this pool thread while each other thread of the pool runs [`helper`] until `op`
/// is done. The helpers are `rayon::join` jobs, which live on the stack: no allocation.
fn with_helpers_awake<R: Send>(op: impl FnOnce() -> R + Send) -> R {
    let helpers = rayon::current_num_threads().saturating_sub(1);
    if helpers == 0 || helpers >= cores() {
        return op();
    }
    let done = AtomicBool::new(false);
    let me = rayon::current_thread_index();
    let (result, ()) = rayon::join(
        || {
            // Set when `op` returns or unwinds: a panic in `op` must not leave a helper
            // spinning while the join waits for it.
            let _done = SetOnDrop(&done);
            op()
        },
        || start_helpers(helpers, &done, me),
    );
    result
}

/// Runs [`helper`] on `count` threads of the pool (other than thread `me`, which runs `op`: it
/// may pick a helper's job up while it waits for a part, and must not spin on itself then).
fn start_helpers(count: usize, done: &AtomicBool, me: Option<usize>) {
    let this = || {
        if rayon::current_thread_index() != me {
            helper(done);
        }
    };
    match count {
        0 => {}
        1 => this(),
        _ => {
            rayon::join(this, || start_helpers(count - 1, done, me));
        }
    }
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Takes the pool's parts as they come until `done`: spinning for [`SPIN`] after each part, then
/// napping.
fn helper(done: &AtomicBool) {
    let mut last_part = Instant::now();
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => last_part = Instant::now(),
            _ if last_part.elapsed() < SPIN => std::hint::spin_loop(),
            _ => std::thread::sleep(NAP),
        }
    }
}

/// Runs `part(0)`, …, `part(parts − 1)`, on the pool's threads when there is more than one.
pub(crate) fn run_parts(parts: usize, part: &(dyn Fn(usize) + Sync)) {
    match pool() {
        Some(pool) if parts > 1 => pool.install(|| split(0, parts, part)),
        _ => (0..parts).for_each(part),
    }
}

/// Runs parts `from..to`, halving the range with `rayon::join` (whose jobs live on the stack:
/// no allocation inside the pool).
fn split(from: usize, to: usize, part: &(dyn Fn(usize) + Sync)) {
    if to - from == 1 {
        part(from);
        return;
    }
    let mid = from + (to - from) / 2;
    rayon::join(|| split(from, mid, part), || split(mid, to, part));
}

/// The pool for the current count, or `None` for one thread.
fn pool() -> Option<Arc<ThreadPool>> {
    let threads = get();
    if threads == 1 {
        return None;
    }
    if let Some(pool) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        if pool.current_num_threads() == threads {
            return Some(Arc::clone(pool));
        }
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some(pool) if pool.current_num_threads() == threads => Some(Arc::clone(pool)),
        _ => {
            let built = ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("backprop-{i}"))
                .build()
                // Without a pool (the system refused a thread), products run on the caller.
                .ok()
                .map(Arc::new);
            slot.clone_from(&built);
            built
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_as_whole_numbers_from_one() {
        assert_eq!(parse_count("2"), Some(2));
        assert_eq!(parse_count(" 16\n"), Some(16));
        for bad in ["0", "", "two", "-1", "1.5", "2 threads"] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
    }

    /// A panic inside `install` reaches the caller instead of leaving a helper spinning (on a
    /// machine with more cores than helpers, where they spin).
    #[test]
    fn a_panic_inside_install_ends_the_helpers() {
        set(2);
        let caught = std::panic::catch_unwind(|| install(|| panic!("inside install")));
        set(0);
        assert!(caught.is_err());
    }

    /// Parts run once each, on one thread or many.
    #[test]
    fn every_part_runs_once() {
        for parts in [1, 2, 3, 8] {
            let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            run_parts(parts, &|i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1), "{parts} parts");
        }
    }
}
