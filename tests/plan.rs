//! The events are read by one plan with one scan per file, whatever the number of candidates;
//! the plan only parses and checks rows (every aggregation happens on the stored events).

use nsm::ingest::columns::EventColumns;
use nsm::ingest::events::{activity_plan, EventOptions, EventSource};
use nsm::ingest::source::resolve;

#[test]
fn one_scan_of_the_events_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_events.csv");
    let files = resolve(&[path], "events").unwrap();
    let options = EventOptions {
        columns: EventColumns::default(),
        delimiter: b',',
        as_of: None,
        skip_bad_rows: false,
        timezone: None,
        format: None,
    };
    let plan = activity_plan(&EventSource::Files(files), &options).unwrap();
    let explained = plan.explain(true).unwrap();
    // Shown with `cargo test --test tests plan:: -- --nocapture`.
    println!("{explained}");
    assert_eq!(
        explained.matches("tiny_events.csv").count(),
        1,
        "{explained}"
    );
    assert_eq!(explained.matches("AGGREGATE").count(), 0, "{explained}");
}
