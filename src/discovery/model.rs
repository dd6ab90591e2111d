//! The JSON model of `nsm discover` (`schema_version` 1 of its own document): field names are
//! the contract, every text format renders from it.

use serde::Serialize;

use crate::evaluation::{Point, Tool};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Discovery {
    pub(crate) schema_version: u32,
    pub(crate) tool: Tool,
    pub(crate) settings: SettingsOut,
    pub(crate) data: DataOut,
    /// `None` with `--tree-only`.
    pub(crate) thresholds: Option<ThresholdsOut>,
    pub(crate) tree: Option<TreeOut>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SettingsOut {
    pub(crate) period: String,
    pub(crate) alpha: f64,
    pub(crate) seed: u64,
    /// Null draws of the search's family-wise p (and surrogates of the inputs' lead test).
    pub(crate) draws: usize,
    pub(crate) lag_min: u32,
    pub(crate) lag_max: u32,
    /// How the accounts are split: chosen on one half, confirmed on the other.
    pub(crate) split: String,
    /// The retention horizon, in periods.
    pub(crate) horizon: usize,
    pub(crate) as_of: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DataOut {
    pub(crate) events_rows: u64,
    pub(crate) revenue_rows: u64,
    pub(crate) first_period: String,
    pub(crate) last_period: String,
    pub(crate) n_periods: usize,
    pub(crate) accounts_discovery: usize,
    pub(crate) accounts_confirmation: usize,
    pub(crate) notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ThresholdsOut {
    /// Cells in the grid, and those with a retention test on the discovery half.
    pub(crate) cells: usize,
    pub(crate) tested: usize,
    /// The events searched.
    pub(crate) events: Vec<String>,
    /// The smallest adjusted p over the grid on the discovery half (max statistic).
    pub(crate) family_p: Option<f64>,
    /// The best confirmed cell, if any.
    pub(crate) found: Option<String>,
    pub(crate) summary: String,
    /// The best cell of each of the top families, best first.
    pub(crate) top: Vec<CellOut>,
    /// Every rung of the found cell's family (else the top family's).
    pub(crate) dose_response: Option<DoseOut>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CellOut {
    pub(crate) rank: usize,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) event: String,
    /// `count`, `value` or `members`.
    pub(crate) measure: String,
    pub(crate) entity: String,
    pub(crate) window: String,
    pub(crate) threshold: f64,
    /// `confirmed`, `not_confirmed` (in-sample only) or `not_significant`.
    pub(crate) verdict: String,
    pub(crate) explanation: String,
    /// Share of the accounts paying in the last period that are at or above the threshold.
    pub(crate) reach: Option<f64>,
    pub(crate) in_sample: Option<SampleOut>,
    pub(crate) out_of_sample: Option<SampleOut>,
    pub(crate) effect: Option<EffectOut>,
    pub(crate) aggregate: AggregateOut,
}

/// The retention test on one half of the accounts.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SampleOut {
    pub(crate) z: f64,
    pub(crate) p_value: Option<f64>,
    /// In sample: adjusted over the whole grid; out of sample: Holm over the shown cells.
    pub(crate) p_adjusted: Option<f64>,
    /// Log-odds of still paying per SD of the within-period score (logit, cluster-robust).
    pub(crate) coefficient: Option<f64>,
    pub(crate) standard_error: Option<f64>,
    pub(crate) n_accounts: usize,
    pub(crate) n_account_periods: usize,
    /// The expansion test on the same half (log revenue change of the accounts still paying):
    /// shown beside retention, not part of the search or its adjustment.
    pub(crate) expansion_z: Option<f64>,
    pub(crate) expansion_p: Option<f64>,
}

/// Accounts at or above the threshold against those below, all accounts (descriptive).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct EffectOut {
    pub(crate) retention_above: Option<f64>,
    pub(crate) retention_above_ci: Option<[f64; 2]>,
    pub(crate) retention_below: Option<f64>,
    pub(crate) retention_below_ci: Option<[f64; 2]>,
    pub(crate) retention_ratio: Option<f64>,
    pub(crate) retention_ratio_ci: Option<[f64; 2]>,
    pub(crate) nrr_above: Option<f64>,
    pub(crate) nrr_above_ci: Option<[f64; 2]>,
    pub(crate) nrr_below: Option<f64>,
    pub(crate) nrr_below_ci: Option<[f64; 2]>,
}

/// The aggregate lead test of a cell's series, adjusted over the grid.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AggregateOut {
    pub(crate) best_lag: Option<usize>,
    pub(crate) r: Option<f64>,
    pub(crate) p_adjusted: Option<f64>,
    pub(crate) needs_more_periods: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DoseOut {
    pub(crate) family: String,
    pub(crate) rows: Vec<DoseRow>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DoseRow {
    pub(crate) threshold: f64,
    pub(crate) name: String,
    pub(crate) reach: Option<f64>,
    pub(crate) z_in_sample: Option<f64>,
    pub(crate) p_adjusted: Option<f64>,
    pub(crate) effect: Option<EffectOut>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TreeOut {
    pub(crate) star: String,
    pub(crate) description: String,
    /// `declared` ([north_star]), `given` (--star) or `found` (the confirmed threshold).
    pub(crate) source: String,
    /// `star = a × b × c`, or `None` without a decomposition.
    pub(crate) identity: Option<String>,
    pub(crate) note: Option<String>,
    pub(crate) method: String,
    pub(crate) max_relative_error: Option<f64>,
    pub(crate) drivers: Vec<DriverOut>,
    pub(crate) changes: Vec<ChangeOut>,
    pub(crate) inputs: Vec<InputOut>,
    pub(crate) inputs_note: String,
    pub(crate) series: Vec<Point>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DriverOut {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) role: String,
    pub(crate) last: Option<f64>,
    pub(crate) series: Vec<Point>,
}

/// The star's change over one span and each driver's part of it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangeOut {
    /// `quarter` or `year`.
    pub(crate) span: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) star_from: f64,
    pub(crate) star_to: f64,
    pub(crate) change: f64,
    pub(crate) parts: Vec<PartOut>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PartOut {
    pub(crate) driver: String,
    pub(crate) log_change: Option<f64>,
    pub(crate) contribution: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct InputOut {
    pub(crate) name: String,
    pub(crate) description: String,
    /// `leads`, `no_lead` or `inconclusive`.
    pub(crate) verdict: String,
    pub(crate) best_lag: Option<usize>,
    pub(crate) r: Option<f64>,
    pub(crate) p_value: Option<f64>,
    pub(crate) p_adjusted: Option<f64>,
    pub(crate) needs_more_periods: Option<usize>,
}
