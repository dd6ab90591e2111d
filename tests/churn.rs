//! Every churn figure against hand calculations on tests/data/churn_*.csv.
//!
//! Five customers, Jan–Aug 2024, one user each:
//! - c1: annual contract 2023-03 renewed 2024-03: pays every month;
//! - c2: annual contract 2023-06, not renewed: pays through May, churns in June;
//! - c3: monthly, pays Jan–Feb, gone Mar–Apr, back in May (a reactivation);
//! - c4: monthly, pays every month, but its events stop after April;
//! - c5: monthly, pays Jan–Jul, churns in August.
//!
//! Paying customers: 5 5 4 4 5 4 4 3; they fell in March, June and August.
//! Customers in their last three months before churning: c3 in Jan–Feb, c2 in Mar–May, c5 in
//! May–Jul. The last three months (Jun–Aug) are censored for the churner weight.

use crate::common::{data, evaluate_json, series};

fn evaluate() -> serde_json::Value {
    evaluate_json(
        &data("churn_events.csv"),
        &data("churn_revenue.csv"),
        &data("churn_nsm.toml"),
        &[],
    )
}

fn churn<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["churn"]
}

fn approx(value: &serde_json::Value, want: f64) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("a number, got {value}"));
    assert!((got - want).abs() < 1e-6, "got {got}, want {want}");
}

#[test]
fn customers_revenue_and_statuses() {
    let json = evaluate();
    assert_eq!(json["data"]["churn_source"], "revenue");
    let customers = json["data"]["customers"].as_array().unwrap();
    let column = |field: &str| -> Vec<f64> {
        customers
            .iter()
            .map(|c| c[field].as_f64().unwrap())
            .collect()
    };
    assert_eq!(column("paying"), [5.0, 5.0, 4.0, 4.0, 5.0, 4.0, 4.0, 3.0]);
    assert_eq!(column("churned"), [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    assert_eq!(
        column("reactivated"),
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );
    // c3, c4 and c5 first pay in January; c1 and c2 were paying before.
    assert_eq!(column("new"), [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    // c1 100 a month (1200 / 12, renewed), c2 50 through May (600 / 12), c3 100, c4 50, c5 70.
    assert_eq!(
        series(&json, "revenue"),
        [370.0, 370.0, 270.0, 270.0, 370.0, 320.0, 320.0, 250.0]
    );
}

#[test]
fn a_usage_metric_that_falls_before_churn_passes() {
    let json = evaluate();
    // Uses: c1 10 a month; c2 10, 10, then 2 a month until it leaves; c3 3, 3, 0, 0, then 5;
    // c4 4 a month until April; c5 6 a month, then 1 in its last three months.
    assert_eq!(
        series(&json, "uses"),
        [33.0, 33.0, 22.0, 22.0, 18.0, 16.0, 16.0, 15.0]
    );
    let c = churn(&json, "uses");
    // It fell in all three months when paying customers fell.
    assert_eq!(c["churn_periods"], 3);
    assert_eq!(c["rose_in"], 0);
    approx(&c["divergence_rate"], 0.0);
    approx(&c["divergence_p"], 1.0);
    // Jan–May: churners produced 3 + 3 + 2 + 2 + (2 + 1) = 13 of 13 + 115 uses by paying
    // customers, and were 6 of 23 paying customer-months: (13/128) / (6/23) = 299/768.
    approx(&c["churner_weight"], 299.0 / 768.0);
    // Its bootstrap interval over the five customers holds it, and is seeded.
    let interval: Vec<f64> = c["churner_weight_ci"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        interval[0] <= 299.0 / 768.0 + 1e-6 && 299.0 / 768.0 - 1e-6 <= interval[1],
        "{interval:?}"
    );
    assert_eq!(
        churn(&evaluate(), "uses")["churner_weight_ci"],
        c["churner_weight_ci"]
    );
    // Five accounts are too few to judge concentration.
    assert!(c["top1_share"].is_null());
    approx(&c["residual"], 0.0);
    assert_eq!(c["monotone"], false);
    // Growth ln(33/33), ln(22/33), ... against churn rates 0, 1/5, 0, 0, 1/5, 0, 1/4
    // (numpy.corrcoef).
    approx(&c["churn_corr"], -0.45358860547512553);
    assert_eq!(c["verdict"], "pass");
}

#[test]
fn views_concentrated_in_leaving_customers_fail() {
    let json = evaluate();
    let c = churn(&json, "views");
    // Jan–May: churners 20 + 20 + 20 + 20 + 40 = 120 of 138 views by paying customers, being
    // 6 of 23 paying customer-months: (120/138) / (6/23) = 10/3.
    approx(&c["churner_weight"], 10.0 / 3.0);
    assert_eq!(c["verdict"], "fail");
    let candidate = json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "views")
        .unwrap();
    assert!(candidate["labels"]
        .as_array()
        .unwrap()
        .contains(&"vanity".into()));
    assert!(candidate["explanation"]
        .as_str()
        .unwrap()
        .contains("3.33× their share"));
}

#[test]
fn cumulative_users_keep_counting_the_gone() {
    let json = evaluate();
    assert_eq!(series(&json, "registered_users"), [5.0; 8]);
    let c = churn(&json, "registered_users");
    // Users of churned accounts still counted: c3 in Mar and Apr, c2 in Jun–Aug, c5 in Aug:
    // 6 of 40 user-months.
    approx(&c["residual"], 6.0 / 40.0);
    assert_eq!(c["monotone"], true);
    assert_eq!(c["verdict"], "fail");
}
