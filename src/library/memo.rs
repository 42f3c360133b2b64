//! Figures that are costly to compute and change only when the user's library changes: list
//! totals and reading statistics. Each is kept with the library version it was computed at (the
//! `library_versions` row, which triggers bump on every write to the user's books, tags and
//! readings) and served only while that version is current, so a write on any instance makes it
//! stale on every instance at once.
//!
//! The version is read *before* the figure is computed: a figure is never older than the version
//! it is filed under (it may be newer, which is harmless).

use super::stats::ReadingStats;
use crate::db::schema::library_versions;
use crate::db::DbConn;
use crate::error::AppResult;
use chrono::NaiveDate;
use diesel::prelude::*;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Each figure is kept as (library version, value).
type Entries<K, V> = Mutex<HashMap<K, (i64, V)>>;

/// Past this many entries a map starts afresh: a bound on memory, not an eviction policy.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct Memo {
    counts: Entries<(i64, String), i64>,
    /// How many books each shelf holds (`shelf`, count), per user.
    shelves: Entries<i64, Vec<(String, i64)>>,
    stats: Entries<(i64, i32, NaiveDate), ReadingStats>,
    /// One computation at a time per user: sixty-four requests for statistics arriving together
    /// wait for the first instead of each computing them (and holding their memory) at once.
    flights: Mutex<HashMap<i64, Arc<Mutex<()>>>>,
}

/// The current version of a user's library (0 before its first write).
pub fn version(conn: &mut DbConn, user_id: i64) -> AppResult<i64> {
    Ok(crate::db::on_backend!(conn, c => library_versions::table
        .find(user_id)
        .select(library_versions::version)
        .first(c)
        .optional())?
    .unwrap_or(0))
}

fn remember<K: Hash + Eq, V: Clone>(
    map: &Entries<K, V>,
    key: K,
    version: i64,
    compute: impl FnOnce() -> AppResult<V>,
) -> AppResult<V> {
    if let Ok(entries) = map.lock() {
        if let Some((at, value)) = entries.get(&key) {
            if *at == version {
                return Ok(value.clone());
            }
        }
    }
    // Computed without the map's lock held: other users' requests do not wait for this one.
    let value = compute()?;
    if let Ok(mut entries) = map.lock() {
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (version, value.clone()));
    }
    Ok(value)
}

impl Memo {
    /// The user's flight lock. Held while the version is read, the entry looked up and, on a
    /// miss, the figure computed; so an entry is never replaced by one of an older version.
    fn flight(&self, user_id: i64) -> Option<Arc<Mutex<()>>> {
        let mut flights = self.flights.lock().ok()?;
        if flights.len() >= MAX_ENTRIES {
            flights.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Some(flights.entry(user_id).or_default().clone())
    }

    /// The number of the user's books matching a filter, described by `filter`.
    pub fn count(
        &self,
        conn: &mut DbConn,
        user_id: i64,
        filter: String,
        compute: impl FnOnce(&mut DbConn) -> AppResult<i64>,
    ) -> AppResult<i64> {
        self.memoised(&self.counts, conn, user_id, (user_id, filter), compute)
    }

    /// How many of the user's books each shelf holds: one figure, one version read.
    pub fn shelves(
        &self,
        conn: &mut DbConn,
        user_id: i64,
        compute: impl FnOnce(&mut DbConn) -> AppResult<Vec<(String, i64)>>,
    ) -> AppResult<Vec<(String, i64)>> {
        self.memoised(&self.shelves, conn, user_id, user_id, compute)
    }

    /// Statistics of `year` as of `today` (streaks depend on the day).
    pub fn stats(
        &self,
        conn: &mut DbConn,
        user_id: i64,
        year: Option<i32>,
        today: NaiveDate,
        compute: impl FnOnce(&mut DbConn) -> AppResult<ReadingStats>,
    ) -> AppResult<ReadingStats> {
        let year_key = year.unwrap_or(i32::MIN);
        self.memoised(
            &self.stats,
            conn,
            user_id,
            (user_id, year_key, today),
            compute,
        )
    }

    /// `key`'s figure in `map` under the user's flight lock and current library version,
    /// computed on a miss.
    fn memoised<K: Hash + Eq, V: Clone>(
        &self,
        map: &Entries<K, V>,
        conn: &mut DbConn,
        user_id: i64,
        key: K,
        compute: impl FnOnce(&mut DbConn) -> AppResult<V>,
    ) -> AppResult<V> {
        let flight = self.flight(user_id);
        let _flight = flight.as_ref().and_then(|f| match f.try_lock() {
            Ok(guard) => Some(guard),
            // Another request of this user is computing (statistics from cold take long): wait
            // for it off the CPU turn, so that other users' requests run meanwhile.
            Err(std::sync::TryLockError::WouldBlock) => {
                crate::db::turns::off_turn(|| f.lock().ok())
            }
            Err(std::sync::TryLockError::Poisoned(_)) => None,
        });
        let version = version(conn, user_id)?;
        remember(map, key, version, || compute(conn))
    }
}
