//! Timestamps on the hot read paths, read and written without chrono's format machinery.
//!
//! A page of 20 books holds 40 timestamps. diesel reads an SQLite timestamp by trying
//! `NaiveDateTime::parse_from_str` with a list of formats, and chrono's `Serialize` writes one
//! through `fmt`: together a fifth of the instructions of a `GET /api/books` (callgrind,
//! bench/README.md). Both are replaced here by direct digit work, with chrono's own code kept
//! for anything unusual, and tests that hold the output to chrono's byte for byte.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::{Date, Timestamp};
use diesel::sqlite::Sqlite;
use serde::{Serialize, Serializer};

/// A `TIMESTAMP` column read for display. On SQLite the stored text is parsed directly; any
/// other form (a zone suffix, a Julian day) goes through diesel's own parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
#[diesel(sql_type = Timestamp)]
pub struct StoredTime(pub NaiveDateTime);

impl StoredTime {
    pub fn and_utc(self) -> DateTime<Utc> {
        self.0.and_utc()
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = value.read_text();
        if let Some(at) = parse_stored(text) {
            return Ok(StoredTime(at));
        }
        [
            "%F %T%.f%:z",
            "%F %T%:z",
            "%FT%T%.f",
            "%FT%T%.f%:z",
            "%FT%T%.fZ",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(StoredTime)
        .ok_or_else(|| format!("invalid timestamp {text:?}").into())
    }
}

impl FromSql<Timestamp, Pg> for StoredTime {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(StoredTime)
    }
}

impl FromSql<Timestamp, super::MultiBackend> for StoredTime {
    fn from_sql(
        value: <super::MultiBackend as Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// A `DATE` column read in bulk (the statistics read thousands of days). On SQLite the stored
/// `YYYY-MM-DD` is parsed directly, anything else by diesel's parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
#[diesel(sql_type = Date)]
pub struct StoredDate(pub NaiveDate);

impl FromSql<Date, Sqlite> for StoredDate {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = value.read_text();
        match parse_date(text.as_bytes()) {
            Some(date) if text.len() == 10 => Ok(StoredDate(date)),
            // What diesel itself accepts: `%F`, which also allows other widths of year.
            _ => NaiveDate::parse_from_str(text, "%F")
                .map(StoredDate)
                .map_err(|_| format!("invalid date {text:?}").into()),
        }
    }
}

impl FromSql<Date, Pg> for StoredDate {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDate as FromSql<Date, Pg>>::from_sql(value).map(StoredDate)
    }
}

impl FromSql<Date, super::MultiBackend> for StoredDate {
    fn from_sql(
        value: <super::MultiBackend as Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Date>()
    }
}

/// Decimal digits as a number; `None` if any is not a digit.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// The `YYYY-MM-DD` that begins `b`.
fn parse_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)
}

/// `YYYY-MM-DD HH:MM:SS[.f]`, with one to nine fractional digits: what diesel writes and what
/// SQLite's `CURRENT_TIMESTAMP` gives.
fn parse_stored(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = parse_date(b)?;
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    date.and_hms_nano_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        nanos,
    )
}

/// Serialises a UTC time exactly as chrono does (RFC 3339, `Z`, fractional digits in groups
/// of three as needed), for `#[serde(serialize_with = "...")]`.
pub fn serialize_utc<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 32];
    match write_rfc3339(at, &mut buf) {
        Some(len) => match std::str::from_utf8(&buf[..len]) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => at.serialize(serializer),
        },
        // Years outside 0..=9999 and leap seconds: chrono's own form.
        None => at.serialize(serializer),
    }
}

fn write_rfc3339(at: &DateTime<Utc>, buf: &mut [u8; 32]) -> Option<usize> {
    // The naive time once: each accessor of a `DateTime<Utc>` adds the (zero) offset anew.
    let at = at.naive_utc();
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let (fraction, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    let two = |buf: &mut [u8; 32], at: usize, value: u32| {
        buf[at] = b'0' + (value / 10 % 10) as u8;
        buf[at + 1] = b'0' + (value % 10) as u8;
    };
    two(buf, 0, year / 100);
    two(buf, 2, year);
    buf[4] = b'-';
    two(buf, 5, at.month());
    buf[7] = b'-';
    two(buf, 8, at.day());
    buf[10] = b'T';
    two(buf, 11, at.hour());
    buf[13] = b':';
    two(buf, 14, at.minute());
    buf[16] = b':';
    two(buf, 17, at.second());
    let mut len = 19;
    if digits > 0 {
        buf[len] = b'.';
        let mut rest = fraction;
        for place in (len + 1..=len + digits).rev() {
            buf[place] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        len += digits + 1;
    }
    buf[len] = b'Z';
    Some(len + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ours(at: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        serialize_utc(at, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn serialises_byte_for_byte_like_chrono() {
        let base = Utc.with_ymd_and_hms(2026, 12, 1, 9, 5, 7).unwrap();
        let nanos = [
            0,
            1,
            999,
            1_000,
            120_000,
            878_272_000,
            5_000_000,
            999_999_999,
            100,
        ];
        let offsets = [0i64, 1, 59, 86_399, 31_536_000 * 30, -62_135_596_800 + 3];
        for nano in nanos {
            for offset in offsets {
                let at = base.with_nanosecond(nano).unwrap() + chrono::Duration::seconds(offset);
                assert_eq!(ours(&at), serde_json::to_string(&at).unwrap(), "{at:?}");
            }
        }
        let far = Utc.with_ymd_and_hms(12_345, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(ours(&far), serde_json::to_string(&far).unwrap());
    }

    #[test]
    fn dates_parse_like_chrono() {
        for text in ["2026-12-01", "0999-01-31", "2024-02-29"] {
            let chrono = NaiveDate::parse_from_str(text, "%F").ok();
            assert_eq!(parse_date(text.as_bytes()), chrono, "{text}");
        }
        for bad in [
            "",
            "2026-12-1",
            "2025-02-29",
            "2026-00-01",
            "2026/12/01",
            "20a6-12-01",
        ] {
            assert_eq!(parse_date(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn parses_what_diesel_writes_and_sqlite_defaults_to() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_nano_opt(15, 38, 35, 878_272_000)
            .unwrap();
        assert_eq!(parse_stored(&at.format("%F %T%.f").to_string()), Some(at));
        assert_eq!(parse_stored("2026-12-01 15:38:35.878272"), Some(at));
        assert_eq!(
            parse_stored("2026-12-01 15:38:35"),
            Some(at.with_nanosecond(0).unwrap())
        );
        assert_eq!(
            parse_stored("2026-12-01T15:38:35.8"),
            Some(at.with_nanosecond(800_000_000).unwrap())
        );
        for bad in [
            "",
            "2026-12-01",
            "2026-13-01 00:00:00",
            "2026-12-01 24:00:00",
            "2026-12-01 15:38:35.",
            "2026-12-01 15:38:35.1234567890",
            "2026-12-01 15:38:35+02:00",
            "2026-12-0a 15:38:35",
        ] {
            assert_eq!(parse_stored(bad), None, "{bad}");
        }
    }
}
