//! Revenue with a `currency` column: never summed across currencies; one kept, or all
//! converted. Expected revenue worked out by hand from tests/data/tiny_revenue_currencies.csv:
//! a1 pays 1200 USD for 12 months from January (100 a month), a2 50 EUR in January and in
//! February, a3 80 USD in March.

use std::path::Path;

use crate::common::{data, evaluate_json, input_error_of, series};

fn revenue() -> std::path::PathBuf {
    data("tiny_revenue_currencies.csv")
}

fn run(extra: &[&str]) -> serde_json::Value {
    evaluate_json(
        &data("tiny_events.csv"),
        &revenue(),
        &data("tiny_nsm.toml"),
        extra,
    )
}

fn assert_close(got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-9, "got {got:?}, expected {expected:?}");
    }
}

fn notes(json: &serde_json::Value) -> String {
    json["data"]["notes"].to_string()
}

#[test]
fn two_currencies_without_a_choice_are_refused() {
    let stderr = input_error_of(&data("tiny_events.csv"), &revenue(), None, &[]);
    assert!(stderr.contains("tiny_revenue_currencies.csv"), "{stderr}");
    assert!(stderr.contains("EUR (2 rows), USD (2 rows)"), "{stderr}");
    assert!(
        stderr.contains("--currency") && stderr.contains("--fx"),
        "{stderr}"
    );
}

#[test]
fn one_currency_kept_and_the_others_counted() {
    let json = run(&["--currency", "usd"]);
    // a1's 100 a month; a3's 80 in March; a2's euros left out.
    assert_close(&series(&json, "revenue"), &[100.0, 100.0, 180.0]);
    assert!(
        notes(&json).contains("left out EUR (2 rows)"),
        "{}",
        notes(&json)
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn every_currency_converted_at_one_rate_or_a_rate_per_month() {
    let dir = tempfile::tempdir().unwrap();
    let flat = write(dir.path(), "fx.csv", "currency,rate\nUSD,1\nEUR,1.1\n");
    let json = run(&["--fx", &flat]);
    // January and February: 100 + 50 × 1.1; March: 80 + 100.
    assert_close(&series(&json, "revenue"), &[155.0, 155.0, 180.0]);
    assert!(notes(&json).contains("converted"), "{}", notes(&json));

    let monthly = write(
        dir.path(),
        "fx_monthly.csv",
        "month,currency,rate\n2024-01,USD,1\n2024-02,USD,1\n2024-03,USD,1\n2024-01,EUR,1.1\n2024-02,EUR,1.2\n",
    );
    let json = run(&["--fx", &monthly]);
    // a1's annual 1200 USD at January's rate (1): 100 a month; a2's 50 EUR at 1.1, then 1.2.
    assert_close(&series(&json, "revenue"), &[155.0, 160.0, 180.0]);
}

#[test]
fn a_missing_rate_names_the_currency_and_month() {
    let dir = tempfile::tempdir().unwrap();
    // Every USD row starts in January or March: the rates it needs are all there.
    let fx = write(
        dir.path(),
        "fx.csv",
        "month,currency,rate\n2024-01,USD,1\n2024-03,USD,1\n2024-01,EUR,1.1\n2024-02,EUR,1.2\n",
    );
    run(&["--fx", &fx]);
    let events = data("tiny_events.csv");
    let fx = write(dir.path(), "fx2.csv", "currency,rate\nUSD,1\n");
    let stderr = input_error_of(&events, &revenue(), None, &["--fx", &fx]);
    assert!(stderr.contains("no rate for EUR in 2024-01"), "{stderr}");
    let bad = write(dir.path(), "fx3.csv", "currency,rate\nUSD,1\nEUR,-2\n");
    let stderr = input_error_of(&events, &revenue(), None, &["--fx", &bad]);
    assert!(
        stderr.contains("line 3") && stderr.contains("-2"),
        "{stderr}"
    );
}

#[test]
fn a_single_currency_is_named_in_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(revenue())
        .unwrap()
        .replace("EUR", "USD")
        .replace("eur", "USD");
    let single = dir.path().join("usd.csv");
    std::fs::write(&single, text).unwrap();
    let json = evaluate_json(
        &data("tiny_events.csv"),
        &single,
        &data("tiny_nsm.toml"),
        &[],
    );
    assert_close(&series(&json, "revenue"), &[150.0, 150.0, 180.0]);
    assert!(notes(&json).contains("revenue in USD"), "{}", notes(&json));
}
