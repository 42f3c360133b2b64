DROP INDEX readings_book_user;
CREATE INDEX readings_book_id ON readings (book_id);
