DROP INDEX IF EXISTS books_user_shown_rating;
DROP INDEX IF EXISTS books_user_added;
CREATE INDEX books_user_rating ON books (user_id, rating);
