//! The repeat-purchase kinds, `returning_entities` and `repeat_within`, over
//! tests/data/repeat_events.csv (orders of six users in three accounts, January to May 2024;
//! the last event is on 31 May). Every expected value is worked out by hand below.

use crate::common::{data, evaluate_json, input_error_of, series};

fn run(extra: &[&str]) -> serde_json::Value {
    evaluate_json(
        &data("repeat_events.csv"),
        &data("repeat_revenue.csv"),
        &data("repeat_nsm.toml"),
        extra,
    )
}

#[test]
fn returning_entities_count_those_seen_in_an_earlier_period() {
    let json = run(&[]);
    // Months with an order: u1 Jan, Mar; u2 Jan, Apr; u3 Feb, Mar, May; u4 Mar; u5 Apr, May.
    // Back after any earlier month: March u1, u3; April u2; May u3, u5.
    assert_eq!(series(&json, "returning_buyers"), [0.0, 0.0, 2.0, 1.0, 2.0]);
    // Back from the month just before: March u3 (February); May u5 (April).
    assert_eq!(
        series(&json, "buyers_back_next_month"),
        [0.0, 0.0, 1.0, 0.0, 1.0]
    );
    // Accounts: a1 Jan, Mar, Apr; a2 Feb, Mar, May; a3 Apr, May.
    assert_eq!(
        series(&json, "returning_accounts"),
        [0.0, 0.0, 2.0, 1.0, 2.0]
    );
}

#[test]
fn repeat_within_counts_in_the_period_the_days_end_and_censors_the_rest() {
    let json = run(&[]);
    // First orders and the day their 60 days end (2024 is a leap year):
    //   u1 5 Jan -> 5 Mar, 2nd order 20 Jan: a repeat, counted in March;
    //   u2 25 Jan -> 25 Mar, 2nd order 2 Apr: too late, no repeat (cohort of March);
    //   u3 10 Feb -> 10 Apr, 2nd order 1 Mar: a repeat, counted in April;
    //   u4 15 Mar -> 14 May, no 2nd order: no repeat (cohort of May);
    //   u5 20 Apr -> 19 Jun, after the last event (31 May): not counted at all, though its
    //      2nd order came on 10 May: its 60 days are not over.
    assert_eq!(series(&json, "second_order_60d"), [0.0, 0.0, 1.0, 1.0, 0.0]);
    assert_eq!(series(&json, "first_order_60d"), [0.0, 0.0, 2.0, 1.0, 1.0]);
    // The rate: March 1 of 2, April 1 of 1, May 0 of 1 (a ratio is 0 where its denominator is).
    assert_eq!(
        series(&json, "second_order_rate_60d"),
        [0.0, 0.0, 0.5, 1.0, 0.0]
    );
    // Accounts' 3rd order within 30 days: a1 (5 Jan, 20 Jan, 25 Jan; the days end 4 Feb);
    // a2's 3rd (15 Mar) is after its 30 days (11 Mar); a3 has two orders.
    assert_eq!(
        series(&json, "accounts_third_order_30d"),
        [0.0, 1.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn the_kinds_describe_themselves() {
    let json = run(&[]);
    let describe = |name: &str| {
        json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["description"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        describe("buyers_back_next_month"),
        "users with order that had it in the period before too"
    );
    assert_eq!(
        describe("second_order_60d"),
        "users with a 2nd order within 60 days of their first, counted in the period the 60 days end"
    );
}

#[test]
fn bad_repeat_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "kind = \"repeat_within\"\nentity = \"user\"\nnth = 2\n",
            "missing field 'within_days'",
        ),
        (
            "kind = \"repeat_within\"\nentity = \"user\"\nnth = 0\nwithin_days = 60\n",
            "nth must be from 1 to 1000",
        ),
        (
            "kind = \"returning_entities\"\nentity = \"user\"\nwithin_periods = 0\n",
            "within_periods must be at least 1",
        ),
        (
            "kind = \"event_count\"\nwithin_days = 60\n",
            "field 'nth/within_days' does not apply to kind 'event_count'",
        ),
        (
            "kind = \"returning_entities\"\nentity = \"user\"\nwindow = \"week\"\n",
            "field 'window/rollup' does not apply",
        ),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let config = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&config, format!("[[candidate]]\nname = \"x\"\n{body}")).unwrap();
        let stderr = input_error_of(
            &data("repeat_events.csv"),
            &data("repeat_revenue.csv"),
            Some(&config),
            &[],
        );
        assert!(stderr.contains(expected), "{body}: {stderr}");
        assert!(stderr.contains("candidate 'x'"), "{stderr}");
    }
}
