//! Measurements, and how they are reported: a Markdown table on stdout and JSON under
//! `target/connie-bench/`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::baseline::system;
use crate::clients::Client;
use crate::goal::{self, Goal};
use crate::settings::Settings;
use crate::BoxError;

/// A cell stops repeating once its runs have taken this long.
pub const CELL_BUDGET: Duration = Duration::from_secs(10);
/// Runs of the oracle in a quick run, where every other client runs once: its fastest is
/// what the "× oracle" column divides by.
pub const QUICK_ORACLE_RUNS: usize = 5;

/// One measurement.
pub enum Run {
    Ok {
        secs: f64,
        attempts: Option<usize>,
        /// The address connected to, where the bench reports it.
        remote: Option<SocketAddr>,
    },
    Failed {
        secs: f64,
        attempts: Option<usize>,
        error: String,
    },
    /// Hit the cap.
    Timeout { attempts: Option<usize> },
    /// Gave up at quick mode's budget (connie's total timeout, hyper-util's connect
    /// timeout), where an alive address would have connected with more time: quick mode
    /// cut it short, and a full run measures it. Never made in full runs.
    Cut { attempts: Option<usize> },
}

impl Run {
    /// How long it took, if it ended (connected or failed) before the cap.
    pub fn secs(&self) -> Option<f64> {
        match self {
            Run::Ok { secs, .. } | Run::Failed { secs, .. } => Some(*secs),
            Run::Timeout { .. } | Run::Cut { .. } => None,
        }
    }

    /// The attempts it started, if counted.
    pub fn attempts(&self) -> Option<usize> {
        match self {
            Run::Ok { attempts, .. } | Run::Failed { attempts, .. } => *attempts,
            Run::Timeout { attempts } | Run::Cut { attempts } => *attempts,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Failed,
    Timeout,
    /// Cut short by quick mode ([`Run::Cut`]).
    Cut,
    NotApplicable,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Cut => "cut",
            Status::NotApplicable => "n/a",
        }
    }
}

/// A row of a table: a client, named for the run's settings.
pub trait Row: Copy + PartialEq {
    /// The row's name ([`Client::label`]).
    fn label(self, s: &Settings) -> String;
    /// Whether it is the oracle, which the "× oracle" column divides by.
    fn is_oracle(self) -> bool;
}

impl Row for Client {
    fn label(self, s: &Settings) -> String {
        Client::label(self, s)
    }

    fn is_oracle(self) -> bool {
        self == Client::Oracle
    }
}

/// The runs of one client in one scenario.
pub struct Cell<C = Client> {
    pub scenario: &'static str,
    pub client: C,
    /// Whether the bench counts this client's attempts ("?" in the table when unknown).
    pub counted: bool,
    pub runs: Vec<Run>,
}

impl<C: Row> Cell<C> {
    pub fn status(&self) -> Status {
        if self.runs.is_empty() {
            Status::NotApplicable
        } else if self.runs.iter().any(|r| matches!(r, Run::Timeout { .. })) {
            Status::Timeout
        } else if self.runs.iter().any(|r| matches!(r, Run::Cut { .. })) {
            Status::Cut
        } else if self.runs.iter().any(|r| matches!(r, Run::Failed { .. })) {
            Status::Failed
        } else {
            Status::Ok
        }
    }

    /// The median time of the runs that ended (connected or failed).
    pub fn median(&self) -> Option<f64> {
        let mut secs: Vec<f64> = self.runs.iter().filter_map(Run::secs).collect();
        if secs.is_empty() {
            return None;
        }
        secs.sort_by(f64::total_cmp);
        let mid = secs.len() / 2;
        Some(if secs.len() % 2 == 1 {
            secs[mid]
        } else {
            (secs[mid - 1] + secs[mid]) / 2.0
        })
    }

    /// The fewest and most attempts started in a run.
    fn attempts(&self) -> Option<(usize, usize)> {
        let counts = self.runs.iter().filter_map(Run::attempts);
        let min = counts.clone().min()?;
        Some((min, counts.max()?))
    }

    fn note(&self) -> String {
        let error = self.runs.iter().find_map(|r| match r {
            Run::Failed { error, .. } => Some(error.clone()),
            _ => None,
        });
        let ok = self
            .runs
            .iter()
            .filter(|r| matches!(r, Run::Ok { .. }))
            .count();
        let mut notes = Vec::new();
        notes.extend(remotes(&self.runs));
        if ok > 0 && ok < self.runs.len() {
            notes.push(format!("{ok} of {} runs connected", self.runs.len()));
        }
        notes.extend(error);
        if self.status() == Status::NotApplicable {
            notes.push("no alive address".to_owned());
        }
        notes.join("; ")
    }
}

/// Where `runs` connected to, if reported: `to A` or `to A ×3, B ×2`.
pub fn remotes<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Option<String> {
    let mut seen: Vec<(SocketAddr, usize)> = Vec::new();
    for run in runs {
        if let Run::Ok {
            remote: Some(addr), ..
        } = run
        {
            match seen.iter_mut().find(|(a, _)| a == addr) {
                Some((_, n)) => *n += 1,
                None => seen.push((*addr, 1)),
            }
        }
    }
    let ip = |a: &SocketAddr| a.ip().to_string();
    match &seen[..] {
        [] => None,
        [(addr, _)] => Some(format!("to {}", ip(addr))),
        many => {
            let each: Vec<String> = many
                .iter()
                .map(|(a, n)| format!("{} ×{n}", ip(a)))
                .collect();
            Some(format!("to {}", each.join(", ")))
        }
    }
}

/// The title, date, system and mode lines above the table.
pub fn header(title: &str, s: &Settings, date: &str) -> String {
    let runs = format!("median of up to {} run(s) per cell", s.runs);
    header_for(title, s, date, &runs)
}

/// [`header`] for a bench that measures otherwise: `measures` says how
/// (`median of up to 5 run(s) per cell`).
pub fn header_for(title: &str, s: &Settings, date: &str, measures: &str) -> String {
    let mut out = format!("\n## {title}\n\n- date: {date}\n- system: {}\n", system());
    let _ = writeln!(
        out,
        "- mode: {} — {measures}, each capped at {} s; connie total timeout {} s{}",
        s.mode(),
        s.cap.as_secs(),
        s.total_timeout.as_secs(),
        if s.parallel {
            "; scenarios run concurrently (sub-millisecond times are noisier: use full mode to publish)"
        } else {
            ""
        }
    );
    out
}

/// `scenario / client` of each cell that did not connect every time.
pub fn failures<C: Row>(cells: &[Cell<C>], s: &Settings) -> Vec<String> {
    (cells.iter())
        .filter(|c| c.status() != Status::Ok)
        .map(|c| format!("{} / {}", c.scenario, c.client.label(s)))
        .collect()
}

/// After the tables and their keys: the goals' lines ([`goal::lines`]) and the wall time;
/// then in a smoke test a failure if `failed` names anything ([`failures`]), otherwise
/// `json()` written to `target/connie-bench/<bench>.json`; then a failure if a goal the run
/// asserts was missed ([`goal::missed`]).
pub fn finish(
    bench: &str,
    failed: &[String],
    goals: &[Goal],
    json: impl FnOnce() -> String,
    s: &Settings,
    wall: Duration,
) -> Result<(), BoxError> {
    println!();
    print!("{}", goal::lines(goals, s.full()));
    println!("total wall time: {} s", fmt_secs(wall.as_secs_f64()));
    if s.smoke && !failed.is_empty() {
        return Err(format!("smoke test failed: {}", failed.join(", ")).into());
    }
    if !s.smoke {
        let path = json_path(bench);
        std::fs::create_dir_all(path.parent().expect("a file in a directory"))?;
        std::fs::write(&path, json())?;
        println!("JSON: {}", path.display());
    }
    let missed = goal::missed(goals, s.full());
    if !missed.is_empty() {
        return Err(format!("goal missed: {}", missed.join("; ")).into());
    }
    if s.smoke {
        println!("(smoke test only: run `{}` for every scenario)", s.command);
    }
    Ok(())
}

/// Seconds with 4 significant digits (at most 7 decimals).
fn fmt_secs(secs: f64) -> String {
    let decimals = if secs > 0.0 {
        (3 - secs.log10().floor() as i32).clamp(0, 7) as usize
    } else {
        1
    };
    format!("{secs:.decimals$}")
}

/// `1.05×`, `12.3×`, `480×`.
pub fn fmt_ratio(ratio: f64) -> String {
    if ratio >= 100.0 {
        format!("{ratio:.0}×")
    } else if ratio >= 10.0 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.2}×")
    }
}

/// The "seconds" column, also the progress line on stderr.
pub fn seconds_cell<C: Row>(cell: &Cell<C>, s: &Settings) -> String {
    match (cell.status(), cell.median()) {
        (Status::Ok, Some(m)) => fmt_secs(m),
        (Status::Failed, Some(m)) => format!("FAIL {}", fmt_secs(m)),
        (Status::Timeout, _) => format!("TIMEOUT >{}", s.cap.as_secs()),
        (Status::Cut, _) => format!("CUT >{}", s.total_timeout.as_secs()),
        _ => "n/a".to_owned(),
    }
}

/// The cell's median ÷ the oracle's median in its scenario, if both connected; in quick
/// mode ÷ the oracle's fastest run ([`QUICK_ORACLE_RUNS`] of them), since one
/// sub-millisecond run among concurrent scenarios is too noisy to divide by.
fn ratio<C: Row>(cell: &Cell<C>, cells: &[Cell<C>], s: &Settings) -> Option<f64> {
    let oracle = cells
        .iter()
        .find(|c| c.scenario == cell.scenario && c.client.is_oracle())?;
    if cell.status() != Status::Ok || oracle.status() != Status::Ok {
        return None;
    }
    let oracle = if s.full() {
        oracle.median()?
    } else {
        oracle
            .runs
            .iter()
            .filter_map(Run::secs)
            .min_by(f64::total_cmp)?
    };
    Some(cell.median()? / oracle)
}

/// The Markdown table: one row per cell, the scenario named on its first row.
pub fn table<C: Row>(cells: &[Cell<C>], s: &Settings) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "scenario".into(),
        "client".into(),
        "seconds".into(),
        "× oracle".into(),
        "attempts".into(),
        "runs".into(),
        "notes".into(),
    ]];
    for (i, cell) in cells.iter().enumerate() {
        let first = i == 0 || cells[i - 1].scenario != cell.scenario;
        let attempts = match cell.attempts() {
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}–{b}"),
            None if cell.counted => "?".to_owned(),
            None => String::new(),
        };
        rows.push([
            if first {
                cell.scenario.to_owned()
            } else {
                String::new()
            },
            cell.client.label(s),
            seconds_cell(cell, s),
            ratio(cell, cells, s)
                .map(fmt_ratio)
                .unwrap_or_else(|| "—".into()),
            attempts,
            cell.runs.len().to_string(),
            cell.note(),
        ]);
    }
    markdown(&rows, |col| (2..=5).contains(&col))
}

/// A Markdown table of `rows` (the first is the header), its columns padded to one width,
/// the `numeric` ones right-aligned.
pub fn markdown<const N: usize>(rows: &[[String; N]], numeric: impl Fn(usize) -> bool) -> String {
    let width = |col: usize| {
        rows.iter()
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..N).map(width).collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cols: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(col, (text, &w))| {
                let pad = " ".repeat(w - text.chars().count());
                if numeric(col) && i > 0 {
                    format!("{pad}{text}")
                } else {
                    format!("{text}{pad}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cols.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(col, &w)| {
                    if numeric(col) {
                        format!("{}:", "-".repeat(w - 1))
                    } else {
                        "-".repeat(w)
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
    out
}

fn json_path(bench: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        // The workspace's target directory: this crate's parent holds it.
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("connie-bench")
        .join(format!("{bench}.json"))
}

/// `s` as a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `x` as a JSON number, or `null`.
pub fn json_num(x: Option<f64>) -> String {
    x.map_or_else(|| "null".to_owned(), |x| format!("{x}"))
}

/// The results ([`json_results`]) as JSON, with the run's settings.
pub fn json(results: &[String], s: &Settings, date: &str, wall: Duration) -> String {
    let runs = ("runs_per_cell", s.runs.to_string());
    json_document(s, date, wall, &[runs], results)
}

/// Each cell as a JSON object, for [`json_document`].
pub fn json_results<C: Row>(cells: &[Cell<C>], s: &Settings) -> Vec<String> {
    (cells.iter())
        .map(|cell| {
            let secs: Vec<String> = cell.runs.iter().map(|r| json_num(r.secs())).collect();
            let attempts: Vec<String> = cell.runs.iter().map(|r| json_count(r.attempts())).collect();
            let note = cell.note();
            format!(
                "{{\"scenario\": {}, \"client\": {}, \"status\": {}, \"median_s\": {}, \"ratio_vs_oracle\": {}, \"runs_s\": [{}], \"attempts\": {}, \"note\": {}}}",
                json_str(cell.scenario),
                json_str(&cell.client.label(s)),
                json_str(cell.status().as_str()),
                json_num(cell.median()),
                json_num(ratio(cell, cells, s)),
                secs.join(", "),
                if cell.counted { format!("[{}]", attempts.join(", ")) } else { "null".to_owned() },
                if note.is_empty() { "null".to_owned() } else { json_str(&note) },
            )
        })
        .collect()
}

/// A bench's JSON: the date, the system, the mode, `fields` (names and JSON values), the
/// cap, connie's total timeout, the wall time, and `results` (JSON objects).
pub fn json_document(
    s: &Settings,
    date: &str,
    wall: Duration,
    fields: &[(&str, String)],
    results: &[String],
) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"date\": {},", json_str(date));
    let _ = writeln!(out, "  \"system\": {},", json_str(&system()));
    let _ = writeln!(out, "  \"mode\": {},", json_str(&s.mode()));
    for (name, value) in fields {
        let _ = writeln!(out, "  {}: {value},", json_str(name));
    }
    let _ = writeln!(out, "  \"cap_s\": {},", s.cap.as_secs_f64());
    let _ = writeln!(
        out,
        "  \"connie_total_timeout_s\": {},",
        s.total_timeout.as_secs_f64()
    );
    let _ = writeln!(out, "  \"total_wall_s\": {},", wall.as_secs_f64());
    let _ = writeln!(
        out,
        "  \"results\": [\n    {}\n  ]\n}}",
        results.join(",\n    ")
    );
    out
}

/// A count as JSON, or `null`.
pub fn json_count(n: Option<usize>) -> String {
    n.map_or_else(|| "null".to_owned(), |n| n.to_string())
}

/// Now as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, no date crate needed).
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
