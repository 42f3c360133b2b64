//! One file per table: the row types and the queries over them. Every function takes the
//! connection and, where time matters, `now`, so tests can call them directly.

pub mod token;
pub mod user;

/// The current time, UTC, at microsecond precision (what both backends store).
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::SubsecRound::trunc_subsecs(now, 6)
}
