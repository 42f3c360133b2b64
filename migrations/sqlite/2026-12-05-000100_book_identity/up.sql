-- What a book keeps of its own so that an export comes back exactly (issue 21):
-- - uid: a stable identity of ours (a UUID), written by every export as "Panicless Id"; it can
--   never be taken for a Goodreads id, which is a number;
-- - goodreads_id: the Goodreads "Book Id" the book came from, when it came from Goodreads;
-- - binding: Goodreads' "Binding" (Paperback, Kindle Edition, ...);
-- - added_at: when the book entered the library ("Date Added" of an import, else its creation);
-- - reading_rating: the rating of its latest rated reading, kept by `library::readings` as
--   readings change; the book's `rating` as the API shows it is this, else the book's own.
ALTER TABLE books ADD COLUMN uid TEXT NOT NULL DEFAULT '';
ALTER TABLE books ADD COLUMN goodreads_id TEXT;
ALTER TABLE books ADD COLUMN binding TEXT;
ALTER TABLE books ADD COLUMN added_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE books ADD COLUMN reading_rating DOUBLE;
UPDATE books SET
    uid = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
          || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
          || '-' || hex(randomblob(6))),
    added_at = created_at,
    goodreads_id = CASE WHEN import_key GLOB 'goodreads:[0-9]*' AND NOT import_key GLOB 'goodreads:*[^0-9]*'
                        THEN substr(import_key, 11) END,
    reading_rating = (
        SELECT r.rating FROM readings r
        WHERE r.book_id = books.id AND r.rating IS NOT NULL
        ORDER BY COALESCE(r.finished_on, r.started_on) IS NOT NULL DESC,
                 COALESCE(r.finished_on, r.started_on) DESC, r.id DESC
        LIMIT 1
    );
CREATE UNIQUE INDEX books_user_uid ON books (user_id, uid);
-- The server always writes both; a row inserted without them (by hand, by a script) still gets
-- an identity of its own and is added when it was created. (SQLite's ADD COLUMN takes no
-- default that is not a constant, hence a trigger.)
CREATE TRIGGER books_identity_defaults AFTER INSERT ON books WHEN NEW.uid = '' BEGIN
    UPDATE books SET
        uid = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
              || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
              || '-' || hex(randomblob(6))),
        added_at = CASE WHEN NEW.added_at = '1970-01-01 00:00:00' THEN NEW.created_at ELSE NEW.added_at END
    WHERE id = NEW.id;
END;
CREATE INDEX books_user_goodreads_id ON books (user_id, goodreads_id);
