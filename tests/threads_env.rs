//! `BACKPROP_THREADS` sets the thread count when the program sets none (its own test binary:
//! the variable is read once, at the first use).

use backprop::threads;

#[test]
fn the_environment_variable_sets_the_default_count() {
    // Before any product or any `threads::get`: the variable is read at the first one.
    std::env::set_var(threads::ENV_VAR, " 3 ");
    assert_eq!(threads::get(), 3);
    threads::set(1);
    assert_eq!(threads::get(), 1, "the program's own setting wins");
    threads::set(0);
    assert_eq!(threads::get(), 3, "0 returns to the variable's count");
}
