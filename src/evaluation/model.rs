//! The JSON model of an evaluation: field names are the contract (SPEC "JSON output",
//! `schema_version` 1). Written by every output format and read back, typed, by `check
//! --baseline` and `report --compare`.

use serde::{Deserialize, Serialize};

use crate::candidates::KindName;
use crate::error::InputError;
use crate::ingest::bad_row::BadRow;
use crate::stats::score::{Label, Verdict};

pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Only the version of a saved file, read before the rest.
#[derive(Deserialize)]
struct Version {
    schema_version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tool {
    pub(crate) name: String,
    pub(crate) version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SettingsOut {
    pub(crate) period: String,
    pub(crate) lag_min: u32,
    pub(crate) lag_max: u32,
    pub(crate) alpha: f64,
    pub(crate) seed: u64,
    pub(crate) surrogates: usize,
    pub(crate) seasonal: bool,
    pub(crate) as_of: Option<String>,
}

/// Customer counts of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CustomersOut {
    pub(crate) period: String,
    pub(crate) paying: f64,
    pub(crate) new: f64,
    pub(crate) reactivated: f64,
    pub(crate) churned: f64,
    pub(crate) churn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataOut {
    pub(crate) events_rows: u64,
    pub(crate) revenue_rows: u64,
    pub(crate) first_period: String,
    pub(crate) last_period: String,
    pub(crate) n_periods: usize,
    pub(crate) churn_source: String,
    pub(crate) skipped_rows: u64,
    pub(crate) skipped_examples: Vec<BadRow>,
    pub(crate) notes: Vec<String>,
    /// Paying customers per period (or active accounts, when churn comes from activity).
    pub(crate) customers: Vec<CustomersOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LeadOut {
    /// On the family-wise adjusted p: the verdict the ranking and the recommendation use.
    pub(crate) verdict: Verdict,
    /// On this candidate's own p, as one pre-specified hypothesis (`nsm check`'s star).
    #[serde(default)]
    pub(crate) verdict_alone: Option<Verdict>,
    /// The lead test's part of the candidate's explanation.
    pub(crate) explanation: String,
    pub(crate) best_lag: Option<usize>,
    pub(crate) r: Option<f64>,
    pub(crate) p_value: Option<f64>,
    /// `p_value` adjusted over every test of the run (Westfall–Young step-down minP).
    #[serde(default)]
    pub(crate) p_adjusted: Option<f64>,
    /// How many candidates the adjustment is over.
    #[serde(default)]
    pub(crate) family_size: Option<usize>,
    /// The candidate's own tests (this line and its account line) adjusted among themselves:
    /// what `verdict_alone` rests on.
    #[serde(default)]
    pub(crate) p_alone: Option<f64>,
    /// The correlation the best lag must exceed for `p_adjusted <= alpha` (the family-wise
    /// band, at the best lag).
    pub(crate) null_r: Option<f64>,
    /// The best lag's r less the median best-of-range r of unrelated series.
    #[serde(default)]
    pub(crate) excess_r: Option<f64>,
    pub(crate) reverse_best_lag: Option<usize>,
    pub(crate) reverse_r: Option<f64>,
    pub(crate) reverse_p_value: Option<f64>,
    pub(crate) same_period_r: Option<f64>,
    pub(crate) granger_f: Option<f64>,
    pub(crate) granger_p: Option<f64>,
    pub(crate) granger_lags: Option<usize>,
    pub(crate) reverse_granger_f: Option<f64>,
    pub(crate) reverse_granger_p: Option<f64>,
    pub(crate) n_periods: usize,
    pub(crate) needs_more_periods: Option<usize>,
    pub(crate) seasonally_adjusted: bool,
    /// Correlation at the best lag in the latest 24 months, and before them.
    pub(crate) recent_r: Option<f64>,
    pub(crate) earlier_r: Option<f64>,
    /// Cross-correlation by lag, metric leading: `[lag, r]` pairs.
    pub(crate) by_lag: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChurnOut {
    pub(crate) verdict: Verdict,
    /// The churn test's part of the candidate's explanation.
    pub(crate) explanation: String,
    pub(crate) divergence_rate: Option<f64>,
    pub(crate) divergence_p: Option<f64>,
    /// `churn_spiked`, or `churn_above_median` with too few such periods.
    #[serde(default)]
    pub(crate) divergence_basis: Option<String>,
    pub(crate) churn_periods: usize,
    pub(crate) rose_in: usize,
    /// The other periods, and those in which the metric rose (the divergence's baseline).
    #[serde(default)]
    pub(crate) other_periods: Option<usize>,
    #[serde(default)]
    pub(crate) rose_in_other: Option<usize>,
    pub(crate) churn_corr: Option<f64>,
    pub(crate) churner_weight: Option<f64>,
    /// 95% bootstrap interval over customers.
    pub(crate) churner_weight_ci: Option<[f64; 2]>,
    pub(crate) churner_weight_note: Option<String>,
    pub(crate) residual: Option<f64>,
    pub(crate) monotone: bool,
    /// Share of the metric from the top 1% of accounts (with at least 100 contributing).
    pub(crate) top1_share: Option<f64>,
}

/// The account-level lead test of one candidate (README "How to read the verdicts").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccountsOut {
    pub(crate) verdict: Verdict,
    /// Why there is no test, when there is none.
    pub(crate) note: Option<String>,
    /// The horizon of the plain-words effect, in periods.
    pub(crate) horizon: Option<usize>,
    /// Share of landmarks still paying `horizon` periods later: top and bottom quarter.
    pub(crate) retention_top: Option<f64>,
    pub(crate) retention_bottom: Option<f64>,
    pub(crate) retention_top_ci: Option<[f64; 2]>,
    pub(crate) retention_bottom_ci: Option<[f64; 2]>,
    pub(crate) retention_ratio: Option<f64>,
    pub(crate) retention_ratio_ci: Option<[f64; 2]>,
    /// Net revenue retention over the horizon: revenue then over revenue now, churned ones at 0.
    pub(crate) nrr_top: Option<f64>,
    pub(crate) nrr_bottom: Option<f64>,
    pub(crate) nrr_top_ci: Option<[f64; 2]>,
    pub(crate) nrr_bottom_ci: Option<[f64; 2]>,
    /// `quarters`, or `extremes` when ties leave a quarter empty (most and least of it).
    pub(crate) groups: Option<String>,
    /// Each outcome's best horizon (smallest adjusted p): its robust score statistic, raw
    /// one-sided and adjusted p-values.
    pub(crate) retention_horizon: Option<usize>,
    pub(crate) retention_z: Option<f64>,
    pub(crate) retention_p: Option<f64>,
    pub(crate) retention_p_adjusted: Option<f64>,
    pub(crate) expansion_horizon: Option<usize>,
    pub(crate) expansion_z: Option<f64>,
    pub(crate) expansion_p: Option<f64>,
    pub(crate) expansion_p_adjusted: Option<f64>,
    /// The smaller of the two adjusted p-values.
    pub(crate) p_adjusted: Option<f64>,
    pub(crate) n_accounts: usize,
    pub(crate) n_account_periods: usize,
    pub(crate) by_horizon: Vec<AccountHorizonOut>,
}

/// One outcome at one horizon: its score statistic and, at the display horizon, the metric's
/// coefficient per standard deviation of its within-period score with its cluster-robust error
/// (the logit's for retention, the OLS one for the log revenue change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AccountHorizonOut {
    pub(crate) outcome: String,
    pub(crate) horizon: usize,
    pub(crate) z: f64,
    /// Degrees of freedom of the robust variance: `z` is referred to Student's t with them.
    #[serde(default)]
    pub(crate) df: Option<f64>,
    /// One-sided p-value and its family-wise adjustment (absent when too few accounts).
    pub(crate) p_value: Option<f64>,
    pub(crate) p_adjusted: Option<f64>,
    pub(crate) coefficient: Option<f64>,
    pub(crate) standard_error: Option<f64>,
    pub(crate) landmarks: usize,
    pub(crate) accounts: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point {
    pub(crate) period: String,
    pub(crate) value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CandidateOut {
    pub(crate) name: String,
    pub(crate) kind: KindName,
    pub(crate) description: String,
    pub(crate) rank: Option<usize>,
    pub(crate) score: Option<f64>,
    pub(crate) verdict: Verdict,
    pub(crate) labels: Vec<Label>,
    pub(crate) explanation: String,
    pub(crate) actionability: Option<f64>,
    pub(crate) lead: Option<LeadOut>,
    pub(crate) churn: Option<ChurnOut>,
    /// The lead test from every account.
    #[serde(default)]
    pub(crate) accounts: Option<AccountsOut>,
    pub(crate) series: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Evaluation {
    pub(crate) schema_version: u32,
    pub(crate) tool: Tool,
    pub(crate) settings: SettingsOut,
    pub(crate) data: DataOut,
    pub(crate) recommended: Option<String>,
    pub(crate) recommendation: String,
    pub(crate) north_star: Option<String>,
    pub(crate) candidates: Vec<CandidateOut>,
}

impl Evaluation {
    pub(crate) fn candidate(&self, name: &str) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.name == name)
    }

    /// Candidates in rank order, without the revenue reference row.
    pub(crate) fn ranked(&self) -> impl Iterator<Item = &CandidateOut> {
        self.candidates.iter().filter(|c| c.rank.is_some())
    }

    /// The revenue reference row: revenue per period, the series every candidate is tested
    /// against.
    pub(crate) fn revenue(&self) -> Option<&CandidateOut> {
        self.candidates.iter().find(|c| c.kind == KindName::Revenue)
    }

    /// Read a saved `nsm evaluate --format json` back into the model it was written from.
    ///
    /// `role` names the file in messages ("baseline", "--compare").
    pub(crate) fn read_saved(
        text: &str,
        role: &str,
        source: &str,
    ) -> Result<Evaluation, InputError> {
        let not_json = |e: serde_json::Error| {
            InputError::at(
                &format!("{role} {source}"),
                Some(e.line() as u64),
                None,
                None,
                format!("not JSON: {e}"),
            )
        };
        let not_ours = || {
            InputError::new(format!(
                "{role} {source}: not an nsm evaluation (schema_version {SCHEMA_VERSION}); save one with `nsm evaluate --format json --output {source}`"
            ))
        };
        // The version first: a file of another kind or version gets that message, not a
        // complaint about its first unexpected field.
        let version: Version = serde_json::from_str(text).map_err(not_json)?;
        if version.schema_version != Some(SCHEMA_VERSION) {
            return Err(not_ours());
        }
        serde_json::from_str(text).map_err(|e| {
            InputError::at(
                &format!("{role} {source}"),
                Some(e.line() as u64),
                None,
                None,
                format!("not an nsm evaluation: {e}"),
            )
        })
    }
}
