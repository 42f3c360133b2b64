DROP TRIGGER readings_last_finished_delete;
DROP TRIGGER readings_last_finished_update;
DROP TRIGGER readings_last_finished_insert;
DROP INDEX books_user_authors;
DROP INDEX books_user_title;
DROP INDEX books_user_rating;
DROP INDEX books_user_last_finished;
ALTER TABLE books DROP COLUMN last_finished_on;
