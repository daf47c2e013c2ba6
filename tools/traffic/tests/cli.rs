//! The built binary's command line: settings come from `TRAFFIC_*` variables as well as flags,
//! and bad input stops it with exit code 2 before it contacts anything.

use std::process::{Command, Output};

fn traffic(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_printflow-traffic"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

#[test]
fn a_bad_variable_is_refused_with_exit_code_2() {
    let out = traffic(&["--once"], &[("TRAFFIC_RATE", "fast")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fast") && stderr.contains("--rate"),
        "{stderr}"
    );
}

#[test]
fn help_shows_flags_variables_and_defaults() {
    let out = traffic(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in ["--once", "--shop-url", "TRAFFIC_SHOP_URL", "[default: 2.0]"] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
}

#[test]
fn an_unknown_flag_is_refused_with_exit_code_2() {
    let out = traffic(&["--onse"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--onse"));
}
