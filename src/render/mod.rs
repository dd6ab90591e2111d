//! Output formats, one module each behind [`Render`]: adding a format touches one file. The
//! evaluation's formats are here ([`table`], [`json`], [`csv`], [`markdown`]); the gate's
//! under [`gate`], the review document's under [`report`].

pub(crate) mod csv;
pub(crate) mod discover;
pub(crate) mod format;
pub(crate) mod gate;
pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod report;
pub(crate) mod table;

use anyhow::Result;

/// Turns a result (an evaluation, a gate report, a review) into the text of one output format.
pub(crate) trait Render<T: ?Sized> {
    fn render(&self, value: &T) -> Result<String>;
}

/// Fixed formatting shared by the text formats: `-` for a missing figure.
pub(crate) fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

pub(crate) fn p_value(value: Option<f64>) -> String {
    match value {
        Some(p) if p < 0.001 => "<0.001".to_string(),
        other => fixed(other, 3),
    }
}

pub(crate) fn labels(names: &[crate::stats::score::Label]) -> String {
    names.iter().map(|l| l.name()).collect::<Vec<_>>().join(",")
}

/// The ranking columns every text format shows, in order; a missing figure is `-`.
pub(crate) const RANKING_COLUMNS: [&str; 11] = [
    "#",
    "candidate",
    "score",
    "verdict",
    "lag",
    "r",
    "p adj",
    "accts",
    "rose",
    "weight",
    "labels",
];

/// Which of [`RANKING_COLUMNS`] hold numbers (right-aligned).
pub(crate) const RANKING_NUMERIC: [usize; 8] = [0, 2, 4, 5, 6, 7, 8, 9];

/// One ranked candidate's cells under [`RANKING_COLUMNS`], as plain text.
pub(crate) fn ranking_cells(c: &crate::evaluation::CandidateOut) -> [String; 11] {
    let lead = c.lead.as_ref();
    let churn = c.churn.as_ref();
    [
        c.rank.map(|r| r.to_string()).unwrap_or_default(),
        c.name.clone(),
        fixed(c.score, 1),
        c.verdict.name().to_string(),
        lead.and_then(|l| l.best_lag)
            .map_or_else(|| "-".into(), |k| k.to_string()),
        fixed(lead.and_then(|l| l.r), 2),
        p_value(lead.and_then(|l| l.p_adjusted.or(l.p_value))),
        accounts_cell(c.accounts.as_ref()),
        rose_cell(churn),
        fixed(churn.and_then(|ch| ch.churner_weight), 2),
        labels(&c.labels),
    ]
}

/// The account line in a cell: the top quarter's retention over the bottom quarter's (`1.39×`),
/// `-` without an account line.
pub(crate) fn accounts_cell(accounts: Option<&crate::evaluation::AccountsOut>) -> String {
    accounts
        .and_then(|a| a.retention_ratio)
        .map_or_else(|| "-".to_string(), |r| format!("{r:.2}×"))
}

/// "rose in / churn periods", or `-` when there were none.
pub(crate) fn rose_cell(churn: Option<&crate::evaluation::ChurnOut>) -> String {
    churn.filter(|ch| ch.churn_periods > 0).map_or_else(
        || "-".to_string(),
        |ch| format!("{}/{}", ch.rose_in, ch.churn_periods),
    )
}

/// Escape text for XML attributes and content.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}
