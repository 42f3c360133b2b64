DROP INDEX books_user_goodreads_id;
DROP INDEX books_user_uid;
ALTER TABLE books DROP COLUMN reading_rating;
ALTER TABLE books DROP COLUMN added_at;
ALTER TABLE books DROP COLUMN binding;
ALTER TABLE books DROP COLUMN goodreads_id;
ALTER TABLE books DROP COLUMN uid;
