//! The goals a report checks: each a measured value against its limit, printed under the
//! tables. A missed goal fails the run if the run asserts it ([`Assert`]).

use std::fmt::Write as _;

/// Which runs fail when a goal is missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assert {
    /// Every run, the smoke test too: a small unoptimized run measures it as a full one does
    /// (a count, a connection made or not, a margin that debug builds keep).
    Always,
    /// Full runs only (`--bench` without `--quick`: an optimized build, every run or
    /// connect); smoke tests and quick runs print it only, as an unoptimized build or a
    /// few connects measure otherwise.
    Full,
    /// No run: printed only, for the reason given (a target not met yet, or a noisy measure
    /// that the recorded run meets at its limit).
    Never(&'static str),
}

/// One goal, as measured by this run.
#[derive(Debug, Clone)]
pub struct Goal {
    /// What is measured and its limit: `alive TLS: connie's TLS racing within 2 ms of the
    /// oracle`.
    pub what: String,
    /// What this run measured: `+0.25 ms`, `did not connect`.
    pub measured: String,
    /// Whether the measure is within the limit.
    pub met: bool,
    /// Which runs fail when it is missed.
    pub assert: Assert,
}

impl Goal {
    /// A goal `what`, measured as `measured`, `met` or not.
    pub fn new(
        what: impl Into<String>,
        measured: impl Into<String>,
        met: bool,
        assert: Assert,
    ) -> Goal {
        Goal {
            what: what.into(),
            measured: measured.into(),
            met,
            assert,
        }
    }

    /// Whether a miss fails this run (`full`: a full run).
    pub fn asserted(&self, full: bool) -> bool {
        match self.assert {
            Assert::Always => true,
            Assert::Full => full,
            Assert::Never(_) => false,
        }
    }
}

/// One line per goal: `goal: what: measured, met` (or `MISSED`), and when the run does not
/// assert it, why.
pub fn lines(goals: &[Goal], full: bool) -> String {
    let mut out = String::new();
    for goal in goals {
        let status = if goal.met { "met" } else { "MISSED" };
        let _ = write!(out, "goal: {}: {}, {status}", goal.what, goal.measured);
        match goal.assert {
            Assert::Full if !full => out.push_str(" (asserted in full runs only)"),
            Assert::Never(why) => {
                let _ = write!(out, " (not asserted: {why})");
            }
            Assert::Always | Assert::Full => {}
        }
        out.push('\n');
    }
    out
}

/// The goals missed that fail this run, as `what: measured`.
pub fn missed(goals: &[Goal], full: bool) -> Vec<String> {
    (goals.iter())
        .filter(|goal| !goal.met && goal.asserted(full))
        .map(|goal| format!("{}: {}", goal.what, goal.measured))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(met: bool, assert: Assert) -> Goal {
        Goal::new("x within 2 ms", "+3.00 ms", met, assert)
    }

    #[test]
    fn a_missed_goal_fails_the_runs_that_assert_it() {
        let goals = [
            goal(false, Assert::Always),
            goal(false, Assert::Full),
            goal(false, Assert::Never("a target")),
            goal(true, Assert::Always),
        ];
        assert_eq!(missed(&goals, true).len(), 2);
        assert_eq!(missed(&goals, false), ["x within 2 ms: +3.00 ms"]);
    }

    #[test]
    fn each_line_says_whether_the_run_asserts_it() {
        let goals = [
            goal(true, Assert::Always),
            goal(false, Assert::Full),
            goal(false, Assert::Never("a target")),
        ];
        assert_eq!(
            lines(&goals, false),
            "goal: x within 2 ms: +3.00 ms, met\n\
             goal: x within 2 ms: +3.00 ms, MISSED (asserted in full runs only)\n\
             goal: x within 2 ms: +3.00 ms, MISSED (not asserted: a target)\n"
        );
        assert!(!lines(&goals, true).contains("full runs only"));
    }
}
