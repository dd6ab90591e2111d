//! The account-level lead test on planted companies: 1,000 accounts over 22 months (too short
//! for the aggregate lead test), each written as CSV and evaluated through the binary.
//!
//! Planted, account by account: `tasks` (the work the product is for) moves with the account's
//! use, on which its churn hazard depends three months later; `page_views` come mostly from
//! accounts that have decided to leave; `reports` are done more by big accounts, whose churn
//! hazard is lower, but say nothing about churn once revenue is known. The null company has
//! the same metrics and no link between use and churn.

use std::fmt::Write as _;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{json_of, normal, poisson};

const MONTHS: usize = 22;
const ACCOUNTS: usize = 1000;

const CONFIG: &str = r#"
[[candidate]]
name = "tasks"
kind = "event_count"
event = "task_done"

[[candidate]]
name = "page_views"
kind = "event_count"
event = "page_viewed"

[[candidate]]
name = "reports"
kind = "event_count"
event = "report_run"
"#;

/// Write a planted company into `dir`; `linked` is whether use and churn are linked (and
/// leaving accounts thrash around the help pages).
fn company(dir: &Path, seed: u64, linked: bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut events = String::from("timestamp,user_id,account_id,event\n");
    let mut revenue = String::from("date,customer_id,amount\n");
    for a in 0..ACCOUNTS {
        let size = (0.6 * normal(&mut rng)).exp();
        let mrr = 40.0 * size;
        let mut log_use = 0.7 * normal(&mut rng);
        let mut history = vec![log_use];
        let mut decided: Option<usize> = None;
        for t in 0..MONTHS {
            if decided.is_some_and(|d| t >= d) {
                break;
            }
            let month = format!("{}-{:02}", 2023 + t / 12, t % 12 + 1);
            let _ = writeln!(revenue, "{month}-01,a{a},{mrr:.2}");
            let leaving = decided.is_some();
            let mut emit = |name: &str, rate: f64, rng: &mut ChaCha8Rng| {
                for _ in 0..poisson(rng, rate) {
                    let day = rng.random_range(1..=28);
                    let _ = writeln!(events, "{month}-{day:02}T12:00:00Z,a{a}-u1,a{a},{name}");
                }
            };
            emit("task_done", 3.0 * log_use.exp(), &mut rng);
            let views = if linked && leaving { 4.0 } else { 0.6 };
            emit("page_viewed", views, &mut rng);
            emit("report_run", 1.0 * size, &mut rng);
            // Churn: bigger accounts stay longer; with the link, use three months ago matters.
            let earlier = history[history.len().saturating_sub(4)];
            let effect = if linked { 0.8 * earlier / 0.7 } else { 0.0 };
            let logit = -3.6 - 0.6 * size.ln() - effect;
            if decided.is_none() && rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()) {
                // Leaves after a notice of two months.
                decided = Some(t + 3);
            }
            log_use = 0.7 * log_use + 0.5 * normal(&mut rng);
            history.push(log_use);
        }
    }
    std::fs::write(dir.join("events.csv"), events).unwrap();
    std::fs::write(dir.join("revenue.csv"), revenue).unwrap();
    std::fs::write(dir.join("nsm.toml"), CONFIG).unwrap();
}

/// Evaluated with enough null draws for adjusted p-values well below 0.05.
fn evaluate(dir: &Path) -> serde_json::Value {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    json_of(&[
        "evaluate",
        "--format",
        "json",
        "--surrogates",
        "999",
        "--events",
        &path("events.csv"),
        "--revenue",
        &path("revenue.csv"),
        "--config",
        &path("nsm.toml"),
    ])
}

fn candidate<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[test]
fn accounts_carry_the_lead_when_the_history_is_short() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 7, true);
    let json = evaluate(dir.path());
    let tasks = candidate(&json, "tasks");
    // Too short for the aggregate test, which says so.
    assert!(tasks["lead"]["needs_more_periods"].as_u64().unwrap() > 0);
    // The account line finds the planted lead and carries the verdict.
    let accounts = &tasks["accounts"];
    assert_eq!(accounts["verdict"], "pass", "{accounts}");
    assert_eq!(tasks["lead"]["verdict"], "pass");
    assert!(
        accounts["retention_z"].as_f64().unwrap() > 4.0,
        "{accounts}"
    );
    assert!(accounts["retention_p_adjusted"].as_f64().unwrap() <= 0.05);
    let top = accounts["retention_top"].as_f64().unwrap();
    let bottom = accounts["retention_bottom"].as_f64().unwrap();
    assert!(top > bottom, "{top} {bottom}");
    let [low, _] = [0, 1].map(|i| accounts["retention_ratio_ci"][i].as_f64().unwrap());
    assert!(low > 1.0);
    assert_eq!(json["recommended"], "tasks");
    assert!(tasks["explanation"]
        .as_str()
        .unwrap()
        .contains("still paid"));
    // Page views come from accounts on their way out: their accounts say the opposite.
    let views = candidate(&json, "page_views");
    assert_eq!(views["lead"]["verdict"], "fail");
    assert_eq!(views["accounts"]["verdict"], "fail");
    assert!(views["accounts"]["retention_z"].as_f64().unwrap() < -2.0);
    assert!(views["explanation"]
        .as_str()
        .unwrap()
        .contains("churn more"));
    // Reports follow account size, which the models adjust for: no lead.
    let reports = candidate(&json, "reports");
    assert_ne!(
        reports["lead"]["verdict"], "pass",
        "{}",
        reports["accounts"]
    );
    assert!(reports["accounts"]["retention_z"].as_f64().unwrap().abs() < 3.0);
}

#[test]
fn no_link_between_use_and_churn_recommends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    company(dir.path(), 8, false);
    let json = evaluate(dir.path());
    assert!(json["recommended"].is_null(), "{}", json["recommendation"]);
    for name in ["tasks", "page_views", "reports"] {
        let c = candidate(&json, name);
        assert_ne!(c["lead"]["verdict"], "pass", "{name}: {}", c["accounts"]);
    }
}
