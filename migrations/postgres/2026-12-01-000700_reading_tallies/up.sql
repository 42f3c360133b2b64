-- Reading statistics kept up to date by writes. Computing them from the readings took ~130 ms
-- on SQLite (~600 ms here) for a library of 50,000 (seven passes joining each reading to its
-- book); read from these tallies they take a few milliseconds, whatever the library's size.
--
-- A finished reading counts in its month (`''` when it has no finish date), its book's author
-- and each of its book's tags; every reading counts on the days it started and finished.
-- Triggers add a reading's part when it appears and take it away when it goes; a change of a
-- book's pages, author or tags moves the parts of its finished readings.
--
-- Deleting a book cascades to its readings and tags after the book row is gone, so the book's
-- own BEFORE DELETE trigger takes its readings' parts away, and the reading and tag triggers do
-- nothing for a reading whose book no longer exists (days do not depend on the book, so the
-- reading triggers always keep those). Takings-away only UPDATE, and do nothing while the
-- user is being deleted: the cascade takes the tallies too.
CREATE TABLE reading_months (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    books BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    rating_sum DOUBLE PRECISION NOT NULL,
    rated BIGINT NOT NULL,
    days_sum BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    PRIMARY KEY (user_id, month)
);
CREATE TABLE reading_authors (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    books BIGINT NOT NULL,
    PRIMARY KEY (user_id, author)
);
CREATE TABLE reading_tags (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    books BIGINT NOT NULL,
    PRIMARY KEY (user_id, tag)
);
CREATE TABLE reading_days (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);
-- Longest and shortest book read: walk the books by length until one has a finished reading.
CREATE INDEX books_user_pages ON books (user_id, pages);

INSERT INTO reading_months (user_id, month, books, pages, rating_sum, rated, days_sum, timed)
SELECT r.user_id, COALESCE(to_char(r.finished_on, 'YYYY-MM'), ''), COUNT(*),
       SUM(COALESCE(b.pages, r.pages_read, 0)), SUM(COALESCE(r.rating, 0)), COUNT(r.rating),
       SUM(COALESCE(r.finished_on - r.started_on, 0)),
       COUNT(*) FILTER (WHERE r.started_on IS NOT NULL AND r.finished_on IS NOT NULL)
FROM readings r JOIN books b ON b.id = r.book_id
WHERE r.status = 'finished'
GROUP BY 1, 2;
INSERT INTO reading_authors (user_id, author, books)
SELECT r.user_id, b.primary_author, COUNT(*)
FROM readings r JOIN books b ON b.id = r.book_id
WHERE r.status = 'finished' AND b.primary_author <> ''
GROUP BY 1, 2;
INSERT INTO reading_tags (user_id, tag, books)
SELECT r.user_id, t.tag, COUNT(*)
FROM readings r JOIN book_tags t ON t.book_id = r.book_id
WHERE r.status = 'finished'
GROUP BY 1, 2;
INSERT INTO reading_days (user_id, day, events)
SELECT user_id, day, COUNT(*) FROM (
    SELECT user_id, finished_on AS day FROM readings WHERE finished_on IS NOT NULL
    UNION ALL
    SELECT user_id, started_on AS day FROM readings WHERE started_on IS NOT NULL
) AS events
GROUP BY 1, 2;

-- A reading's part: added with sign 1, taken away with sign -1.
CREATE FUNCTION tally_reading(r readings, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    -- Named apart from the tables' columns, which plpgsql would otherwise confuse with them.
    book_pages INTEGER;
    book_author TEXT;
    r_month TEXT := COALESCE(to_char(r.finished_on, 'YYYY-MM'), '');
    r_pages BIGINT;
    r_days BIGINT := COALESCE(r.finished_on - r.started_on, 0);
    r_timed BIGINT := CASE WHEN r.started_on IS NOT NULL AND r.finished_on IS NOT NULL THEN 1 ELSE 0 END;
    r_rated BIGINT := CASE WHEN r.rating IS NOT NULL THEN 1 ELSE 0 END;
    r_day DATE;
BEGIN
    -- While a user is deleted, a row updated twice in the statement would be checked against
    -- the user, already gone: PostgreSQL refuses it. Nothing of theirs needs keeping then.
    IF sign < 0 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id) THEN
        RETURN;
    END IF;
    FOREACH r_day IN ARRAY ARRAY[r.finished_on, r.started_on] LOOP
        CONTINUE WHEN r_day IS NULL;
        IF sign > 0 THEN
            INSERT INTO reading_days AS t (user_id, day, events) VALUES (r.user_id, r_day, 1)
            ON CONFLICT (user_id, day) DO UPDATE SET events = t.events + 1;
        ELSE
            UPDATE reading_days AS t SET events = t.events - 1
            WHERE t.user_id = r.user_id AND t.day = r_day;
        END IF;
    END LOOP;

    IF r.status <> 'finished' THEN
        RETURN;
    END IF;
    SELECT b.pages, b.primary_author INTO book_pages, book_author FROM books b WHERE b.id = r.book_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    r_pages := COALESCE(book_pages, r.pages_read, 0);
    IF sign > 0 THEN
        INSERT INTO reading_months AS t (user_id, month, books, pages, rating_sum, rated, days_sum, timed)
        VALUES (r.user_id, r_month, 1, r_pages, COALESCE(r.rating, 0), r_rated, r_days, r_timed)
        ON CONFLICT (user_id, month) DO UPDATE SET
            books = t.books + 1, pages = t.pages + EXCLUDED.pages,
            rating_sum = t.rating_sum + EXCLUDED.rating_sum, rated = t.rated + EXCLUDED.rated,
            days_sum = t.days_sum + EXCLUDED.days_sum, timed = t.timed + EXCLUDED.timed;
        IF book_author <> '' THEN
            INSERT INTO reading_authors AS t (user_id, author, books) VALUES (r.user_id, book_author, 1)
            ON CONFLICT (user_id, author) DO UPDATE SET books = t.books + 1;
        END IF;
        INSERT INTO reading_tags AS t (user_id, tag, books)
        SELECT r.user_id, bt.tag, 1 FROM book_tags bt WHERE bt.book_id = r.book_id
        ON CONFLICT (user_id, tag) DO UPDATE SET books = t.books + 1;
    ELSE
        UPDATE reading_months AS t SET
            books = t.books - 1, pages = t.pages - r_pages,
            rating_sum = t.rating_sum - COALESCE(r.rating, 0), rated = t.rated - r_rated,
            days_sum = t.days_sum - r_days, timed = t.timed - r_timed
        WHERE t.user_id = r.user_id AND t.month = r_month;
        UPDATE reading_authors AS t SET books = t.books - 1
        WHERE t.user_id = r.user_id AND t.author = book_author;
        UPDATE reading_tags AS t SET books = t.books - 1
        WHERE t.user_id = r.user_id AND t.tag IN (SELECT bt.tag FROM book_tags bt WHERE bt.book_id = r.book_id);
    END IF;
END
$$;

CREATE FUNCTION readings_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM tally_reading(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM tally_reading(NEW, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER readings_tally
AFTER INSERT OR DELETE OR UPDATE OF user_id, book_id, status, started_on, finished_on, pages_read, rating
ON readings FOR EACH ROW EXECUTE FUNCTION readings_tally();

-- A book about to go takes its finished readings' parts with it (see above).
CREATE FUNCTION books_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.user_id) THEN
        RETURN OLD;
    END IF;
    UPDATE reading_months AS t SET
        books = t.books - d.n, pages = t.pages - d.pages, rating_sum = t.rating_sum - d.rating_sum,
        rated = t.rated - d.rated, days_sum = t.days_sum - d.days_sum, timed = t.timed - d.timed
    FROM (
        SELECT r.user_id, COALESCE(to_char(r.finished_on, 'YYYY-MM'), '') AS month, COUNT(*) AS n,
               SUM(COALESCE(OLD.pages, r.pages_read, 0)) AS pages,
               SUM(COALESCE(r.rating, 0)) AS rating_sum, COUNT(r.rating) AS rated,
               SUM(COALESCE(r.finished_on - r.started_on, 0)) AS days_sum,
               COUNT(*) FILTER (WHERE r.started_on IS NOT NULL AND r.finished_on IS NOT NULL) AS timed
        FROM readings r WHERE r.book_id = OLD.id AND r.status = 'finished' GROUP BY 1, 2
    ) AS d
    WHERE t.user_id = d.user_id AND t.month = d.month;
    UPDATE reading_authors AS t SET books = t.books - d.n
    FROM (SELECT r.user_id, COUNT(*) AS n FROM readings r
          WHERE r.book_id = OLD.id AND r.status = 'finished' GROUP BY 1) AS d
    WHERE t.user_id = d.user_id AND t.author = OLD.primary_author;
    UPDATE reading_tags AS t SET books = t.books - d.n
    FROM (SELECT r.user_id, COUNT(*) AS n FROM readings r
          WHERE r.book_id = OLD.id AND r.status = 'finished' GROUP BY 1) AS d
    WHERE t.user_id = d.user_id AND t.tag IN (SELECT bt.tag FROM book_tags bt WHERE bt.book_id = OLD.id);
    RETURN OLD;
END
$$;
CREATE TRIGGER books_tally_delete BEFORE DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION books_tally_delete();

CREATE FUNCTION books_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.pages IS DISTINCT FROM NEW.pages THEN
        UPDATE reading_months AS t SET pages = t.pages + d.delta
        FROM (
            SELECT r.user_id, COALESCE(to_char(r.finished_on, 'YYYY-MM'), '') AS month,
                   SUM(COALESCE(NEW.pages, r.pages_read, 0) - COALESCE(OLD.pages, r.pages_read, 0)) AS delta
            FROM readings r WHERE r.book_id = NEW.id AND r.status = 'finished' GROUP BY 1, 2
        ) AS d
        WHERE t.user_id = d.user_id AND t.month = d.month;
    END IF;
    IF OLD.primary_author <> NEW.primary_author THEN
        UPDATE reading_authors AS t SET books = t.books - d.n
        FROM (SELECT r.user_id, COUNT(*) AS n FROM readings r
              WHERE r.book_id = OLD.id AND r.status = 'finished' GROUP BY 1) AS d
        WHERE t.user_id = d.user_id AND t.author = OLD.primary_author;
        IF NEW.primary_author <> '' THEN
            INSERT INTO reading_authors AS t (user_id, author, books)
            SELECT r.user_id, NEW.primary_author, COUNT(*) FROM readings r
            WHERE r.book_id = NEW.id AND r.status = 'finished' GROUP BY 1
            ON CONFLICT (user_id, author) DO UPDATE SET books = t.books + EXCLUDED.books;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER books_tally_update AFTER UPDATE OF pages, primary_author ON books
    FOR EACH ROW EXECUTE FUNCTION books_tally_update();

CREATE FUNCTION book_tags_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reading_tags AS t (user_id, tag, books)
        SELECT r.user_id, NEW.tag, COUNT(*) FROM readings r
        WHERE r.book_id = NEW.book_id AND r.status = 'finished' GROUP BY 1
        ON CONFLICT (user_id, tag) DO UPDATE SET books = t.books + EXCLUDED.books;
    ELSIF EXISTS (SELECT 1 FROM books b WHERE b.id = OLD.book_id)
          AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.user_id) THEN
        UPDATE reading_tags AS t SET books = t.books - d.n
        FROM (SELECT r.user_id, COUNT(*) AS n FROM readings r
              WHERE r.book_id = OLD.book_id AND r.status = 'finished' GROUP BY 1) AS d
        WHERE t.user_id = d.user_id AND t.tag = OLD.tag;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER book_tags_tally AFTER INSERT OR DELETE ON book_tags
    FOR EACH ROW EXECUTE FUNCTION book_tags_tally();
