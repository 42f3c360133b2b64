-- The library's "date added" and "rating" orders follow what a book shows: its added date
-- (an import's "Date Added", not the order rows were written in) and the rating of its latest
-- rated reading, else its own.
CREATE INDEX books_user_added ON books (user_id, added_at, id);
DROP INDEX IF EXISTS books_user_rating;
CREATE INDEX books_user_shown_rating ON books (user_id, COALESCE(reading_rating, rating));
