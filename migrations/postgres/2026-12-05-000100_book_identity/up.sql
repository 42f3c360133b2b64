-- What a book keeps of its own so that an export comes back exactly (issue 21):
-- - uid: a stable identity of ours (a UUID), written by every export as "Panicless Id"; it can
--   never be taken for a Goodreads id, which is a number;
-- - goodreads_id: the Goodreads "Book Id" the book came from, when it came from Goodreads;
-- - binding: Goodreads' "Binding" (Paperback, Kindle Edition, ...);
-- - added_at: when the book entered the library ("Date Added" of an import, else its creation);
-- - reading_rating: the rating of its latest rated reading, kept by `library::readings` as
--   readings change; the book's `rating` as the API shows it is this, else the book's own.
ALTER TABLE books ADD COLUMN uid TEXT;
ALTER TABLE books ADD COLUMN goodreads_id TEXT;
ALTER TABLE books ADD COLUMN binding TEXT;
ALTER TABLE books ADD COLUMN added_at TIMESTAMP;
ALTER TABLE books ADD COLUMN reading_rating DOUBLE PRECISION;
UPDATE books SET
    uid = gen_random_uuid()::text,
    added_at = created_at,
    goodreads_id = CASE WHEN import_key ~ '^goodreads:[0-9]+$' THEN substr(import_key, 11) END,
    reading_rating = (
        SELECT r.rating FROM readings r
        WHERE r.book_id = books.id AND r.rating IS NOT NULL
        ORDER BY COALESCE(r.finished_on, r.started_on) IS NOT NULL DESC,
                 COALESCE(r.finished_on, r.started_on) DESC, r.id DESC
        LIMIT 1
    );
-- The server always writes both; a row inserted without them (by hand, by a script) still gets
-- an identity of its own and is added now.
ALTER TABLE books ALTER COLUMN uid SET NOT NULL;
ALTER TABLE books ALTER COLUMN uid SET DEFAULT gen_random_uuid()::text;
ALTER TABLE books ALTER COLUMN added_at SET NOT NULL;
ALTER TABLE books ALTER COLUMN added_at SET DEFAULT (now() AT TIME ZONE 'UTC');
CREATE UNIQUE INDEX books_user_uid ON books (user_id, uid);
CREATE INDEX books_user_goodreads_id ON books (user_id, goodreads_id);
