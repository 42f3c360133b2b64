-- Library details: authors as a list, a display author for grouping, folded text for
-- accent-insensitive filters, series, a book-level rating, and import keys for idempotent imports.
ALTER TABLE books ADD COLUMN primary_author TEXT NOT NULL DEFAULT '';
ALTER TABLE books ADD COLUMN authors_folded TEXT NOT NULL DEFAULT '';
ALTER TABLE books ADD COLUMN series TEXT;
ALTER TABLE books ADD COLUMN rating DOUBLE PRECISION;
ALTER TABLE books ADD COLUMN import_key TEXT;
ALTER TABLE readings ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX books_user_import_key ON books (user_id, import_key);
CREATE UNIQUE INDEX readings_user_import_key ON readings (user_id, import_key);
CREATE INDEX books_user_author ON books (user_id, primary_author);
CREATE INDEX readings_user_finished ON readings (user_id, finished_on);
