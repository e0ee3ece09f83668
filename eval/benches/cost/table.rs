//! Markdown tables and medians.

/// Prints a Markdown table: a title line, the header, the rows.
pub(crate) fn print(title: &str, header: &[&str], rows: &[Vec<String>]) {
    println!();
    println!("{title}");
    println!();
    println!("| {} |", header.join(" | "));
    let rule: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i == 0 { "---" } else { "---:" })
        .collect();
    println!("| {} |", rule.join(" | "));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

/// The median (the upper one of an even count); `NaN` for none.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `1,234` (rounded).
pub(crate) fn int(x: f64) -> String {
    if x.is_nan() {
        return "n/a".to_owned();
    }
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `1.23×`, or `n/a`.
pub(crate) fn ratio(x: f64, base: f64) -> String {
    if x.is_nan() || base.is_nan() || base == 0.0 {
        "n/a".to_owned()
    } else {
        format!("{:.2}×", x / base)
    }
}

/// `12.3` with one decimal, or `n/a`.
pub(crate) fn dec1(x: f64) -> String {
    if x.is_nan() {
        "n/a".to_owned()
    } else {
        format!("{x:.1}")
    }
}
