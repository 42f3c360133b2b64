//! Readings: a reading session or a read-through of a book. Finishing one moves the book to
//! the `read` shelf.

use super::{
    integer, nullable, nullable_integer, optional_integer, page_window, validate_rating, Db, Page,
    ReadingStatus, Shelf,
};
use crate::db::schema::{books, readings};
use crate::db::time::{serialize_utc, StoredTime};
use crate::db::{write_transaction, DbConn, Writer};
use crate::error::{AppError, AppResult, FieldError};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = readings)]
pub struct ReadingRow {
    pub id: i64,
    pub book_id: i64,
    pub status: String,
    pub started_on: Option<NaiveDate>,
    pub finished_on: Option<NaiveDate>,
    pub pages_read: Option<i32>,
    pub progress: Option<f64>,
    pub rating: Option<f64>,
    pub review: Option<String>,
    pub notes: Option<String>,
    pub created_at: StoredTime,
    pub updated_at: StoredTime,
    pub import_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Reading {
    pub id: i64,
    pub book_id: i64,
    /// The book's title, for convenience.
    pub book_title: String,
    pub status: ReadingStatus,
    pub started_on: Option<NaiveDate>,
    pub finished_on: Option<NaiveDate>,
    pub pages_read: Option<i32>,
    /// Percent, 0 to 100.
    pub progress: Option<f64>,
    /// 0.25 to 5, in quarter steps.
    pub rating: Option<f64>,
    pub review: Option<String>,
    pub notes: Option<String>,
    #[serde(serialize_with = "serialize_utc")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_utc")]
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn view_of(row: ReadingRow, book_title: String) -> Reading {
    Reading {
        id: row.id,
        book_id: row.book_id,
        book_title,
        status: ReadingStatus::parse(&row.status).unwrap_or(ReadingStatus::Reading),
        started_on: row.started_on,
        finished_on: row.finished_on,
        pages_read: row.pages_read,
        progress: row.progress,
        rating: row.rating,
        review: row.review,
        notes: row.notes,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// A new reading. Dates are at most one day after today (UTC), which the document's `pattern`
/// for them states as of the day it is served; `finished_on` is not before `started_on`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReading {
    /// One of your books.
    #[serde(deserialize_with = "integer")]
    pub book_id: i64,
    /// Defaults to `finished` when `finished_on` is given, else `reading`.
    #[serde(default)]
    pub status: Option<ReadingStatus>,
    #[serde(default)]
    pub started_on: Option<NaiveDate>,
    #[serde(default)]
    pub finished_on: Option<NaiveDate>,
    #[serde(default, deserialize_with = "optional_integer")]
    #[schema(minimum = 0, maximum = 100_000)]
    pub pages_read: Option<i32>,
    /// A percentage.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<f64>,
    /// 0.25 to 5, in steps of 0.25.
    #[serde(default)]
    #[schema(minimum = 0.25, maximum = 5, multiple_of = 0.25)]
    pub rating: Option<f64>,
    #[serde(default)]
    #[schema(max_length = 50_000)]
    pub review: Option<String>,
    #[serde(default)]
    #[schema(max_length = 50_000)]
    pub notes: Option<String>,
}

/// Changes to a reading: absent fields stay as they are; `null` clears a field. The rules are
/// those of [`NewReading`], `finished_on` compared with the reading's `started_on` after the
/// change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingPatch {
    pub status: Option<ReadingStatus>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub started_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub finished_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable_integer")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 100_000)]
    pub pages_read: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 100)]
    pub progress: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>, minimum = 0.25, maximum = 5, multiple_of = 0.25)]
    pub rating: Option<Option<f64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 50_000)]
    pub review: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 50_000)]
    pub notes: Option<Option<String>>,
}

/// A reading's fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingData {
    pub status: ReadingStatus,
    pub started_on: Option<NaiveDate>,
    pub finished_on: Option<NaiveDate>,
    pub pages_read: Option<i32>,
    pub progress: Option<f64>,
    pub rating: Option<f64>,
    pub review: Option<String>,
    pub notes: Option<String>,
}

/// The latest date a reading may carry: tomorrow, for a reader ahead of UTC.
pub fn latest_date(today: NaiveDate) -> NaiveDate {
    today + chrono::Duration::days(1)
}

pub fn validate(mut data: ReadingData, today: NaiveDate) -> AppResult<ReadingData> {
    let mut errors = Vec::new();
    if let (Some(start), Some(end)) = (data.started_on, data.finished_on) {
        if end < start {
            errors.push(FieldError::new("finished_on", "is before started_on"));
        }
    }
    for (field, date) in [
        ("started_on", data.started_on),
        ("finished_on", data.finished_on),
    ] {
        if date.is_some_and(|d| d > latest_date(today)) {
            errors.push(FieldError::new(field, "is in the future"));
        }
    }
    if data.pages_read.is_some_and(|p| !(0..=100_000).contains(&p)) {
        errors.push(FieldError::new(
            "pages_read",
            "must be between 0 and 100000",
        ));
    }
    if data.progress.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
        errors.push(FieldError::new("progress", "is a percentage, 0 to 100"));
    }
    if let Some(rating) = data.rating {
        match validate_rating(rating) {
            Ok(r) => data.rating = Some(r),
            Err(message) => errors.push(FieldError::new("rating", message)),
        }
    }
    for (field, text) in [("review", &mut data.review), ("notes", &mut data.notes)] {
        // Counted as sent, before trimming (see `books::sent_length`).
        if text
            .as_deref()
            .is_some_and(|t| crate::library::books::sent_length(t) > 50_000)
        {
            errors.push(FieldError::new(field, "must be at most 50000 characters"));
        }
        *text = text
            .take()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
    }
    if data.status == ReadingStatus::Finished && data.progress.is_none() {
        data.progress = Some(100.0);
    }
    if errors.is_empty() {
        Ok(data)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Every problem with a new reading, with `found` (fields a form could not read at all).
pub fn problems(
    input: NewReading,
    mut found: Vec<FieldError>,
    now: NaiveDateTime,
) -> Vec<FieldError> {
    if let Err(AppError::Validation(more)) = validate(input.data(), now.date()) {
        found.extend(more);
    }
    found
}

impl NewReading {
    fn data(&self) -> ReadingData {
        ReadingData {
            status: self.status.unwrap_or(if self.finished_on.is_some() {
                ReadingStatus::Finished
            } else {
                ReadingStatus::Reading
            }),
            started_on: self.started_on,
            finished_on: self.finished_on,
            pages_read: self.pages_read,
            progress: self.progress,
            rating: self.rating,
            review: self.review.clone(),
            notes: self.notes.clone(),
        }
    }
}

impl ReadingPatch {
    fn apply(self, mut data: ReadingData) -> ReadingData {
        if let Some(v) = self.status {
            data.status = v;
        }
        if let Some(v) = self.started_on {
            data.started_on = v;
        }
        if let Some(v) = self.finished_on {
            data.finished_on = v;
        }
        if let Some(v) = self.pages_read {
            data.pages_read = v;
        }
        if let Some(v) = self.progress {
            data.progress = v;
        }
        if let Some(v) = self.rating {
            data.rating = v;
        }
        if let Some(v) = self.review {
            data.review = v;
        }
        if let Some(v) = self.notes {
            data.notes = v;
        }
        data
    }
}

pub(crate) fn row_data(row: &ReadingRow) -> ReadingData {
    ReadingData {
        status: ReadingStatus::parse(&row.status).unwrap_or(ReadingStatus::Reading),
        started_on: row.started_on,
        finished_on: row.finished_on,
        pages_read: row.pages_read,
        progress: row.progress,
        rating: row.rating,
        review: row.review.clone(),
        notes: row.notes.clone(),
    }
}

fn book_title(conn: &mut DbConn, user_id: i64, book_id: i64) -> AppResult<String> {
    books::table
        .filter(books::id.eq(book_id))
        .filter(books::user_id.eq(user_id))
        .select(books::title)
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

pub fn get(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<Reading> {
    let row: ReadingRow = readings::table
        .filter(readings::id.eq(id))
        .filter(readings::user_id.eq(user_id))
        .select(ReadingRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    let title = book_title(conn, user_id, row.book_id)?;
    Ok(view_of(row, title))
}

/// A new reading's row, for one insert or many. A missing value is bound as NULL, not left
/// to DEFAULT, so every row has the same columns and a multi-row INSERT stays one statement.
#[derive(Insertable)]
#[diesel(table_name = readings, treat_none_as_default_value = false)]
struct ReadingColumns<'a> {
    user_id: i64,
    book_id: i64,
    status: &'a str,
    started_on: Option<NaiveDate>,
    finished_on: Option<NaiveDate>,
    pages_read: Option<i32>,
    progress: Option<f64>,
    rating: Option<f64>,
    review: Option<&'a str>,
    notes: Option<&'a str>,
    import_key: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl<'a> ReadingColumns<'a> {
    fn of(
        user_id: i64,
        book_id: i64,
        data: &'a ReadingData,
        import_key: Option<&'a str>,
        now: NaiveDateTime,
    ) -> Self {
        ReadingColumns {
            user_id,
            book_id,
            status: data.status.as_str(),
            started_on: data.started_on,
            finished_on: data.finished_on,
            pages_read: data.pages_read,
            progress: data.progress,
            rating: data.rating,
            review: data.review.as_deref(),
            notes: data.notes.as_deref(),
            import_key,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Inserts validated reading data (the book must be the user's); moves the book's shelf.
pub fn insert(
    conn: &mut Writer<'_>,
    user_id: i64,
    book_id: i64,
    data: &ReadingData,
    import_key: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let id = diesel::insert_into(readings::table)
        .values(ReadingColumns::of(user_id, book_id, data, import_key, now))
        .returning(readings::id)
        .get_result(&mut **conn)?;
    if data.rating.is_some() {
        refresh_rating(conn, user_id, book_id)?;
    }
    Ok(id)
}

/// Sets the book's `reading_rating` to the rating of its latest rated reading (the latest by
/// finish date, else start date; a dated reading is later than an undated one; the last
/// written breaks ties), or none. Called wherever a reading's rating or dates change.
pub fn refresh_rating(conn: &mut Writer<'_>, user_id: i64, book_id: i64) -> AppResult<()> {
    /// Id, finished, started and rating of a rated reading.
    type Rated = (i64, Option<NaiveDate>, Option<NaiveDate>, Option<f64>);
    let rated: Vec<Rated> = readings::table
        .filter(readings::user_id.eq(user_id))
        .filter(readings::book_id.eq(book_id))
        .filter(readings::rating.is_not_null())
        .select((
            readings::id,
            readings::finished_on,
            readings::started_on,
            readings::rating,
        ))
        .load(&mut **conn)?;
    let latest = latest_rating(rated);
    diesel::update(
        books::table
            .filter(books::id.eq(book_id))
            .filter(books::user_id.eq(user_id)),
    )
    .set(books::reading_rating.eq(latest))
    .execute(&mut **conn)?;
    Ok(())
}

/// The rating of the latest of a book's rated readings, given as (order written, finished,
/// started, rating): the rule of [`refresh_rating`], for callers that know the readings they
/// are about to write.
pub fn latest_rating(
    rated: impl IntoIterator<Item = (i64, Option<NaiveDate>, Option<NaiveDate>, Option<f64>)>,
) -> Option<f64> {
    rated
        .into_iter()
        .filter(|(_, _, _, rating)| rating.is_some())
        .max_by_key(|(id, finished, started, _)| {
            let date = finished.or(*started);
            (date.is_some(), date, *id)
        })
        .and_then(|(_, _, _, rating)| rating)
}

/// Readings per INSERT of [`insert_many`]: 13 values each, within SQLite's 32,766 bound
/// parameters (and PostgreSQL's 65,535).
const READINGS_PER_INSERT: usize = 2_000;

/// Inserts validated readings of the user's books in multi-row statements, in the order given
/// (a later one gets a larger id). Unlike [`insert`], the books' `reading_rating` is left as it
/// is: the caller writes it ([`latest_rating`]).
pub fn insert_many(
    conn: &mut Writer<'_>,
    user_id: i64,
    rows: &[(i64, &ReadingData, Option<&str>)],
    now: NaiveDateTime,
) -> AppResult<()> {
    for chunk in rows.chunks(READINGS_PER_INSERT) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(book_id, data, import_key)| {
                ReadingColumns::of(user_id, *book_id, data, *import_key, now)
            })
            .collect();
        crate::db::on_backend!(&mut **conn, c => diesel::insert_into(readings::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

/// The shelf a book belongs on after its readings change: `read` once any reading is finished,
/// else `reading` while one is in progress, else `abandoned` if one was abandoned.
pub fn reshelve(
    conn: &mut Writer<'_>,
    user_id: i64,
    book_id: i64,
    now: NaiveDateTime,
) -> AppResult<()> {
    // Naming every status lets the lookup use all three leading columns of the index on
    // (user_id, status, book_id). Without it SQLite chose that index for user_id alone and read
    // every reading of the user for each book: an import of 3,000 rows into a library of 50,000
    // readings spent most of its 10 s here.
    let all = ReadingStatus::ALL.map(ReadingStatus::as_str);
    let statuses: Vec<String> = readings::table
        .filter(readings::user_id.eq(user_id))
        .filter(readings::status.eq_any(all))
        .filter(readings::book_id.eq(book_id))
        .select(readings::status)
        .distinct()
        .load(&mut **conn)?;
    let has = |s: ReadingStatus| statuses.iter().any(|x| x == s.as_str());
    let shelf = if has(ReadingStatus::Finished) {
        Shelf::Read
    } else if has(ReadingStatus::Reading) {
        Shelf::Reading
    } else if has(ReadingStatus::Abandoned) {
        Shelf::Abandoned
    } else {
        return Ok(());
    };
    diesel::update(
        books::table
            .filter(books::id.eq(book_id))
            .filter(books::user_id.eq(user_id)),
    )
    .set((books::shelf.eq(shelf.as_str()), books::updated_at.eq(now)))
    .execute(&mut **conn)?;
    Ok(())
}

pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    input: NewReading,
    now: NaiveDateTime,
) -> AppResult<Reading> {
    let data = validate(input.data(), now.date())?;
    write_transaction(conn, |conn| {
        // Another user's book is as unknown as a book that does not exist.
        book_title(conn, user_id, input.book_id).map_err(|_| {
            AppError::Validation(vec![FieldError::new(
                "book_id",
                "no such book in your library",
            )])
        })?;
        let id = insert(conn, user_id, input.book_id, &data, None, now)?;
        reshelve(conn, user_id, input.book_id, now)?;
        get(conn, user_id, id)
    })
}

pub fn update(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    patch: ReadingPatch,
    now: NaiveDateTime,
) -> AppResult<Reading> {
    write_transaction(conn, |conn| {
        let row: ReadingRow = readings::table
            .filter(readings::id.eq(id))
            .filter(readings::user_id.eq(user_id))
            .select(ReadingRow::as_select())
            .first(&mut **conn)
            .optional()?
            .ok_or(AppError::NotFound)?;
        let data = validate(patch.apply(row_data(&row)), now.date())?;
        diesel::update(readings::table.find(id))
            .set((
                readings::status.eq(data.status.as_str()),
                readings::started_on.eq(data.started_on),
                readings::finished_on.eq(data.finished_on),
                readings::pages_read.eq(data.pages_read),
                readings::progress.eq(data.progress),
                readings::rating.eq(data.rating),
                readings::review.eq(&data.review),
                readings::notes.eq(&data.notes),
                readings::updated_at.eq(now),
            ))
            .execute(&mut **conn)?;
        reshelve(conn, user_id, row.book_id, now)?;
        refresh_rating(conn, user_id, row.book_id)?;
        get(conn, user_id, id)
    })
}

pub fn delete(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let book_id: i64 = diesel::delete(
            readings::table
                .filter(readings::id.eq(id))
                .filter(readings::user_id.eq(user_id)),
        )
        .returning(readings::book_id)
        .get_result(&mut **conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
        refresh_rating(conn, user_id, book_id)
    })
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct ReadingQuery {
    pub book_id: Option<i64>,
    pub status: Option<ReadingStatus>,
    /// Readings finished (or, unfinished, started) on or after this date.
    pub from: Option<NaiveDate>,
    /// ... and on or before this date.
    pub to: Option<NaiveDate>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn filtered(user_id: i64, query: &ReadingQuery) -> readings::BoxedQuery<'static, Db> {
    let mut q = readings::table
        .filter(readings::user_id.eq(user_id))
        .into_boxed::<Db>();
    if let Some(book_id) = query.book_id {
        q = q.filter(readings::book_id.eq(book_id));
    }
    if let Some(status) = query.status {
        q = q.filter(readings::status.eq(status.as_str()));
    }
    if let Some(from) = query.from {
        q = q.filter(
            readings::finished_on.ge(from).or(readings::finished_on
                .is_null()
                .and(readings::started_on.ge(from))),
        );
    }
    if let Some(to) = query.to {
        q = q.filter(
            readings::finished_on.le(to).or(readings::finished_on
                .is_null()
                .and(readings::started_on.le(to))),
        );
    }
    q
}

/// Readings, most recent first (by finish, then start, then creation).
pub fn list(conn: &mut DbConn, user_id: i64, query: &ReadingQuery) -> AppResult<Page<Reading>> {
    let (limit, offset) = page_window(query.limit, query.offset, query.cursor.as_deref())
        .map_err(|e| AppError::Validation(vec![e]))?;
    let total: i64 = filtered(user_id, query).count().get_result(conn)?;
    let rows: Vec<(ReadingRow, String)> = filtered(user_id, query)
        .inner_join(books::table)
        .order((
            readings::finished_on.desc(),
            readings::started_on.desc(),
            readings::id.desc(),
        ))
        .select((ReadingRow::as_select(), books::title))
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(row, title)| view_of(row, title))
        .collect();
    Ok(Page::new(items, total, limit, offset))
}
