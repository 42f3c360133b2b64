//! The importers' date parsers: `YYYY/MM/DD` and StoryGraph's `start-end` ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panicless::library::import::{parse_date, storygraph::date_range};

fuzz_target!(|text: &str| {
    if let Some(date) = parse_date(text) {
        // A date read back prints as it was read (modulo padding and spaces).
        assert_eq!(parse_date(&date.format("%Y/%m/%d").to_string()), Some(date));
    }
    // Only a range (`start-end`) has a start.
    let (start, _) = date_range(text);
    if start.is_some() {
        assert!(text.contains('-'), "{text:?}");
    }
});
