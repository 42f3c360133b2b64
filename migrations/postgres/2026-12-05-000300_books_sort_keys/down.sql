DROP TRIGGER readings_last_finished ON readings;
DROP FUNCTION books_last_finished();
DROP INDEX books_user_rating;
DROP INDEX books_user_last_finished;
ALTER TABLE books DROP COLUMN last_finished_on;
