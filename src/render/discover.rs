//! The formats of `nsm discover` (`--format table|json|markdown`): the same sections, laid out
//! for a terminal or for a pull request or wiki page.

use anyhow::Result;
use comfy_table::{CellAlignment, ContentArrangement};

use super::markdown::cell;
use super::table::wrap;
use super::{fixed, p_value, Render};
use crate::discovery::model::{Discovery, EffectOut, ThresholdsOut};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DiscoverFormat {
    /// Tables for the terminal, with the sentences below them.
    Table,
    /// The whole result (see the README).
    Json,
    /// Tables and sentences for a pull request or wiki page.
    Markdown,
}

pub(crate) fn renderer(format: DiscoverFormat, width: usize) -> Box<dyn Render<Discovery>> {
    match format {
        DiscoverFormat::Table => Box::new(Text { width }),
        DiscoverFormat::Json => Box::new(Json),
        DiscoverFormat::Markdown => Box::new(Markdown),
    }
}

/// One section: a title, sentences, a table (header, rows, which columns are numbers) and
/// sentences after it.
struct Section {
    title: String,
    before: Vec<String>,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    numeric: Vec<usize>,
    after: Vec<String>,
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{:.0}%", 100.0 * v))
}

fn percent_ci(value: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (value, ci) {
        (Some(v), Some([lo, hi])) => {
            format!("{:.0}% [{:.0}–{:.0}]", 100.0 * v, 100.0 * lo, 100.0 * hi)
        }
        (v, _) => percent(v),
    }
}

fn ratio_ci(e: Option<&EffectOut>) -> String {
    match e.map(|e| (e.retention_ratio, e.retention_ratio_ci)) {
        Some((Some(r), Some([lo, hi]))) => format!("{r:.2} [{lo:.2}–{hi:.2}]"),
        Some((Some(r), None)) => format!("{r:.2}"),
        _ => "-".to_string(),
    }
}

fn threshold(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

fn sections(d: &Discovery) -> Vec<Section> {
    let mut out = Vec::new();
    let data = &d.data;
    if let Some(t) = &d.thresholds {
        threshold_sections(d, t, &mut out);
    }
    tree_sections(d, &mut out);
    if !data.notes.is_empty() {
        out.push(Section {
            title: "Notes".into(),
            before: data.notes.clone(),
            header: Vec::new(),
            rows: Vec::new(),
            numeric: Vec::new(),
            after: Vec::new(),
        });
    }
    out
}

fn threshold_sections(d: &Discovery, t: &ThresholdsOut, out: &mut Vec<Section>) {
    let data = &d.data;
    out.push(Section {
        title: "Thresholds".into(),
        before: vec![
            format!(
                "{} thresholds of {} over {} to {} ({} {}s); chosen on {} accounts, confirmed on {} held out; retention {} {}s later.",
                t.cells,
                t.events.join(", "),
                data.first_period,
                data.last_period,
                data.n_periods,
                d.settings.period,
                data.accounts_discovery,
                data.accounts_confirmation,
                d.settings.horizon,
                d.settings.period
            ),
            t.summary.clone(),
        ],
        header: vec![
            "#", "threshold", "reach", "z in", "p in", "p out", "exp z out", "retained", "ratio [95% CI]", "verdict",
        ],
        rows: t
            .top
            .iter()
            .map(|c| {
                let e = c.effect.as_ref();
                vec![
                    c.rank.to_string(),
                    c.name.clone(),
                    percent(c.reach),
                    fixed(c.in_sample.as_ref().map(|s| s.z), 2),
                    p_value(c.in_sample.as_ref().and_then(|s| s.p_adjusted)),
                    p_value(c.out_of_sample.as_ref().and_then(|s| s.p_adjusted)),
                    fixed(c.out_of_sample.as_ref().and_then(|s| s.expansion_z), 2),
                    format!(
                        "{} / {}",
                        percent(e.and_then(|e| e.retention_above)),
                        percent(e.and_then(|e| e.retention_below))
                    ),
                    ratio_ci(e),
                    c.verdict.clone(),
                ]
            })
            .collect(),
        numeric: vec![0, 2, 3, 4, 5, 6],
        after: [
            "reach: paying accounts at or above it in the last month; z in, p in: the retention test on the discovery half (p adjusted over the grid); p out: on the held-out half (Holm over these rows); exp z out: the expansion test (revenue change of the accounts still paying) on the held-out half, shown, not searched; retained: still paying later, at or above / below (all accounts); ratio: the two retention rates' ratio.".to_string(),
        ]
        .into_iter()
        .chain(t.top.iter().map(|c| format!("{} {}: {}", c.rank, c.name, c.explanation)))
        .collect(),
    });
    if let Some(dose) = &t.dose_response {
        out.push(Section {
            title: format!("Dose-response: {}", dose.family),
            before: vec![format!(
                "Retention {} {}s later at or above each threshold and below it (all accounts, 95% intervals by account); z and p adj on the discovery half.",
                d.settings.horizon, d.settings.period
            )],
            header: vec!["N", "reach", "z in", "p adj", "retained at N+", "below N", "NRR at N+", "NRR below"],
            rows: dose
                .rows
                .iter()
                .map(|r| {
                    let e = r.effect.as_ref();
                    vec![
                        threshold(r.threshold),
                        percent(r.reach),
                        fixed(r.z_in_sample, 2),
                        p_value(r.p_adjusted),
                        percent_ci(e.and_then(|e| e.retention_above), e.and_then(|e| e.retention_above_ci)),
                        percent_ci(e.and_then(|e| e.retention_below), e.and_then(|e| e.retention_below_ci)),
                        percent(e.and_then(|e| e.nrr_above)),
                        percent(e.and_then(|e| e.nrr_below)),
                    ]
                })
                .collect(),
            numeric: vec![0, 1, 2, 3],
            after: Vec::new(),
        });
    }
}

fn tree_sections(d: &Discovery, out: &mut Vec<Section>) {
    if let Some(tree) = &d.tree {
        let mut before = vec![format!(
            "{} ({}): {}",
            tree.star, tree.source, tree.description
        )];
        match (&tree.identity, &tree.note) {
            (Some(identity), _) => before.push(format!(
                "{identity} (exact: largest relative difference {:.1e}).",
                tree.max_relative_error.unwrap_or(0.0)
            )),
            (None, Some(note)) => before.push(format!("No decomposition: {note}.")),
            _ => {}
        }
        for change in &tree.changes {
            before.push(format!(
                "Last {}: {} → {} ({} to {}, {:+.2}).",
                change.span,
                fixed(Some(change.star_from), 2),
                fixed(Some(change.star_to), 2),
                change.from,
                change.to,
                change.change
            ));
        }
        let part = |span: &str, driver: &str| {
            tree.changes
                .iter()
                .find(|c| c.span == span)
                .and_then(|c| c.parts.iter().find(|p| p.driver == driver))
        };
        out.push(Section {
            title: format!("Input tree of {}", tree.star),
            before,
            header: vec![
                "driver",
                "role",
                "last",
                "quarter log",
                "quarter part",
                "year log",
                "year part",
            ],
            rows: tree
                .drivers
                .iter()
                .map(|dr| {
                    let q = part("quarter", &dr.name);
                    let y = part("year", &dr.name);
                    vec![
                        dr.name.clone(),
                        dr.role.clone(),
                        fixed(dr.last, 3),
                        fixed(q.and_then(|p| p.log_change), 3),
                        fixed(q.and_then(|p| p.contribution), 2),
                        fixed(y.and_then(|p| p.log_change), 3),
                        fixed(y.and_then(|p| p.contribution), 2),
                    ]
                })
                .collect(),
            numeric: vec![2, 3, 4, 5, 6],
            after: tree
                .drivers
                .iter()
                .map(|dr| format!("{}: {}.", dr.name, dr.description))
                .chain([format!("Parts of the change: {}.", tree.method)])
                .collect(),
        });
        out.push(Section {
            title: format!("Candidates that lead {}", tree.star),
            before: vec![tree.inputs_note.clone()],
            header: vec!["candidate", "verdict", "lag", "r", "p adj"],
            rows: tree
                .inputs
                .iter()
                .map(|i| {
                    vec![
                        i.name.clone(),
                        i.verdict.clone(),
                        i.best_lag.map_or("-".into(), |l| l.to_string()),
                        fixed(i.r, 2),
                        p_value(i.p_adjusted),
                    ]
                })
                .collect(),
            numeric: vec![2, 3, 4],
            after: Vec::new(),
        });
    } else {
        out.push(Section {
            title: "Input tree".into(),
            before: vec!["No star to decompose: declare [north_star] in the config, pass --star NAME, or let a threshold be confirmed.".into()],
            header: Vec::new(),
            rows: Vec::new(),
            numeric: Vec::new(),
            after: Vec::new(),
        });
    }
}

/// Rules above and below the table and under the header (as the evaluation's table).
const STYLE: &str = "  ── ──      ──    ";

struct Text {
    width: usize,
}

impl Render<Discovery> for Text {
    fn render(&self, d: &Discovery) -> Result<String> {
        let mut out = String::from("nsm discover\n");
        for s in sections(d) {
            out.push('\n');
            out.push_str(&s.title);
            out.push('\n');
            for line in &s.before {
                out.push_str(&wrap(line, self.width, "  ", "  "));
            }
            if !s.header.is_empty() && !s.rows.is_empty() {
                let mut table = comfy_table::Table::new();
                table
                    .load_preset(STYLE)
                    .set_content_arrangement(ContentArrangement::Disabled)
                    .set_header(s.header.clone());
                for row in &s.rows {
                    table.add_row(row.clone());
                }
                for (i, column) in table.column_iter_mut().enumerate() {
                    column.set_padding((0, 1));
                    if s.numeric.contains(&i) {
                        column.set_cell_alignment(CellAlignment::Right);
                    }
                }
                out.push('\n');
                for line in table.to_string().lines() {
                    out.push_str("  ");
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
            if !s.after.is_empty() {
                out.push('\n');
            }
            for line in &s.after {
                out.push_str(&wrap(line, self.width, "  ", "     "));
            }
        }
        Ok(out)
    }
}

struct Markdown;

impl Render<Discovery> for Markdown {
    fn render(&self, d: &Discovery) -> Result<String> {
        let mut out = String::from("# nsm discover\n");
        for s in sections(d) {
            out.push_str(&format!("\n## {}\n\n", cell(&s.title)));
            for line in &s.before {
                out.push_str(&format!("{}\n\n", cell(line)));
            }
            if !s.header.is_empty() && !s.rows.is_empty() {
                out.push_str(&format!("| {} |\n|", s.header.join(" | ")));
                for i in 0..s.header.len() {
                    out.push_str(if s.numeric.contains(&i) {
                        "--:|"
                    } else {
                        "---|"
                    });
                }
                out.push('\n');
                for row in &s.rows {
                    let cells: Vec<String> = row.iter().map(|t| cell(t)).collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
                out.push('\n');
            }
            for line in &s.after {
                out.push_str(&format!("- {}\n", cell(line)));
            }
        }
        Ok(out)
    }
}

struct Json;

impl Render<Discovery> for Json {
    fn render(&self, d: &Discovery) -> Result<String> {
        let mut text = serde_json::to_string_pretty(d)?;
        text.push('\n');
        Ok(text)
    }
}
