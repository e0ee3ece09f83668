//! How a run measures, from the command line and the environment.

use std::time::Duration;

/// How this run measures, from the command line and the environment.
#[derive(Clone, Copy)]
pub struct Settings {
    /// How to run the full benchmark (`cargo bench -p connie-eval --bench compare`), for messages.
    pub command: &'static str,
    pub quick: bool,
    pub runs: usize,
    pub cap: Duration,
    pub total_timeout: Duration,
    /// hyper-util's `set_connect_timeout` in its "connect_timeout" row: connie's total
    /// timeout, so both get the same budget, and below the cap, so that a hyper-util
    /// connect that gives up is reported as hyper-util's failure, not as the cap's timeout.
    pub hyper_connect_timeout: Duration,
    /// Run the scenarios at the same time (quick mode, if the bench allows it).
    pub parallel: bool,
    /// No `--bench` flag: one tiny scenario, no JSON, fail on any failure.
    pub smoke: bool,
}

impl Settings {
    /// Full mode with `--bench` (as `cargo bench` passes it): a median of 5 runs, each
    /// capped at 20 s, connie's total timeout and hyper-util's connect timeout 10 s. Quick
    /// mode with `--quick` or `CONNIE_BENCH_QUICK=1`, and smoke-test mode without `--bench`
    /// (as under `cargo test`): one run, a 3 s cap, both timeouts 2 s. `parallel_quick`:
    /// whether quick mode runs the scenarios concurrently.
    pub fn from_env(command: &'static str, parallel_quick: bool) -> Settings {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let flag = |name: &str| args.iter().any(|a| a == name);
        let quick = flag("--quick")
            || std::env::var("CONNIE_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let smoke = !flag("--bench");
        if smoke || quick {
            Settings {
                command,
                quick,
                runs: 1,
                cap: Duration::from_secs(3),
                total_timeout: Duration::from_secs(2),
                hyper_connect_timeout: Duration::from_secs(2),
                parallel: quick && parallel_quick,
                smoke,
            }
        } else {
            Settings {
                command,
                quick,
                runs: 5,
                cap: Duration::from_secs(20),
                total_timeout: Duration::from_secs(10),
                hyper_connect_timeout: Duration::from_secs(10),
                parallel: false,
                smoke,
            }
        }
    }

    /// Whether this is a full run: `--bench` without `--quick`.
    pub fn full(&self) -> bool {
        !self.smoke && !self.quick
    }

    /// `full`, `quick`, or the smoke test and how to run the real thing.
    pub fn mode(&self) -> String {
        match (self.smoke, self.quick) {
            (true, _) => format!("smoke test (no --bench flag; run `{}`)", self.command),
            (false, true) => "quick".to_owned(),
            (false, false) => "full".to_owned(),
        }
    }
}
