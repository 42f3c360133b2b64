//! What the import targets share.

use chrono::NaiveDate;
use panicless::library::import::{self, Source};
use panicless::library::{books, readings};

/// A fixed "now", so a finding replays the same way on another day.
pub fn now() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 6, 15)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .unwrap_or_default()
}

pub fn import(source: Source, data: &[u8]) {
    let now = now();
    let Ok(rows) = import::parse(source, data, now) else {
        return;
    };
    for (_, row) in rows {
        let import::ParsedRow::Book(book) = row else {
            continue;
        };
        let Ok((checked, _)) = import::check(*book, now) else {
            continue;
        };
        // What is written must be what the API would accept, unchanged.
        assert!(
            books::validate(checked.data.clone(), now).is_ok(),
            "book written unvalidated: {:?}",
            checked.data
        );
        for reading in &checked.readings {
            assert!(
                readings::validate(reading.data.clone(), now.date()).is_ok(),
                "reading written unvalidated: {:?}",
                reading.data
            );
        }
    }
}
