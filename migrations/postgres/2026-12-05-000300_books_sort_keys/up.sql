-- The library page sorts by the day a book was last finished and by its rating. Computing the
-- day per book for 10,000 books took 11 ms a page; kept on the book by triggers, and both
-- indexed, a page reads 20 index entries. The indexes keep NULL first, so that read backwards
-- they give the pages' order: latest or best first, never-read or unrated last.
ALTER TABLE books ADD COLUMN last_finished_on DATE;
UPDATE books SET last_finished_on =
    (SELECT MAX(finished_on) FROM readings WHERE readings.book_id = books.id);
CREATE INDEX books_user_last_finished ON books (user_id, last_finished_on NULLS FIRST, id);
CREATE INDEX books_user_rating ON books (user_id, rating NULLS FIRST, id);

CREATE FUNCTION books_last_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.finished_on IS NOT NULL THEN
            UPDATE books SET last_finished_on = NEW.finished_on
            WHERE id = NEW.book_id
              AND (last_finished_on IS NULL OR last_finished_on < NEW.finished_on);
        END IF;
        RETURN NULL;
    END IF;
    -- Only while the user exists: deleting a user cascades to its books and readings, and an
    -- update of a book then would write the library version of a user that is gone.
    IF TG_OP = 'DELETE' AND (OLD.finished_on IS NULL
                             OR NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)) THEN
        RETURN NULL;
    END IF;
    UPDATE books SET last_finished_on =
        (SELECT MAX(finished_on) FROM readings WHERE readings.book_id = books.id)
    WHERE id = OLD.book_id
      AND last_finished_on IS DISTINCT FROM
          (SELECT MAX(finished_on) FROM readings WHERE readings.book_id = books.id);
    IF TG_OP = 'UPDATE' AND NEW.book_id <> OLD.book_id THEN
        UPDATE books SET last_finished_on =
            (SELECT MAX(finished_on) FROM readings WHERE readings.book_id = books.id)
        WHERE id = NEW.book_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER readings_last_finished AFTER INSERT OR DELETE OR UPDATE OF finished_on, book_id
    ON readings FOR EACH ROW EXECUTE FUNCTION books_last_finished();
