//! Removes the test databases (`test_*`) and RabbitMQ vhosts (`test-*`) that earlier test runs
//! left behind, keeping those of test processes still running (see
//! `printflow_test_support::leftovers`). Run by `scripts/test.sh` before the tests; settings are
//! the tests' own `PRINTFLOW_TEST_*` variables. Best effort: a failure is reported, not fatal.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool run by scripts/test.sh; its lines are the report"
)]

use printflow_test_support::leftovers::{remove_leftover_databases, remove_leftover_vhosts};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    match remove_leftover_databases(|name| name.starts_with("test_")).await {
        Ok(dropped) => println!("==> removed {} leftover test databases", dropped.len()),
        Err(e) => eprintln!("WARNING: leftover test databases not removed: {e}"),
    }
    match remove_leftover_vhosts(|name| name.starts_with("test-")).await {
        Ok(deleted) => println!("==> removed {} leftover test vhosts", deleted.len()),
        Err(e) => eprintln!("WARNING: leftover test vhosts not removed: {e}"),
    }
}
