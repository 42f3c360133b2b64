-- Reading statistics kept up to date by writes. Computing them from the readings took ~130 ms
-- for a library of 50,000 (seven passes joining each reading to its book); read from these
-- tallies they take a few milliseconds, whatever the library's size.
--
-- A finished reading counts in its month (`''` when it has no finish date), its book's author
-- and each of its book's tags; every reading counts on the days it started and finished.
-- Triggers add a reading's part when it appears and take it away when it goes; a change of a
-- book's pages, author or tags moves the parts of its finished readings.
--
-- Deleting a book cascades to its readings and tags after the book row is gone, so the book's
-- own BEFORE DELETE trigger takes its readings' parts away, and the reading and tag triggers do
-- nothing for a reading whose book no longer exists (days do not depend on the book, so the
-- reading triggers always keep those). Takings-away only UPDATE: while a user is deleted, rows
-- may already be gone, and nothing must be inserted for them.
CREATE TABLE reading_months (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    books BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    rating_sum DOUBLE NOT NULL,
    rated BIGINT NOT NULL,
    days_sum BIGINT NOT NULL,
    timed BIGINT NOT NULL,
    PRIMARY KEY (user_id, month)
) WITHOUT ROWID;
CREATE TABLE reading_authors (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    books BIGINT NOT NULL,
    PRIMARY KEY (user_id, author)
) WITHOUT ROWID;
CREATE TABLE reading_tags (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    books BIGINT NOT NULL,
    PRIMARY KEY (user_id, tag)
) WITHOUT ROWID;
CREATE TABLE reading_days (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;
-- Longest and shortest book read: walk the books by length until one has a finished reading.
CREATE INDEX books_user_pages ON books (user_id, pages);

INSERT INTO reading_months (user_id, month, books, pages, rating_sum, rated, days_sum, timed)
SELECT r.user_id, COALESCE(substr(r.finished_on, 1, 7), ''), COUNT(*),
       SUM(COALESCE(b.pages, r.pages_read, 0)), SUM(COALESCE(r.rating, 0)), COUNT(r.rating),
       SUM(COALESCE(CAST(julianday(r.finished_on) - julianday(r.started_on) AS INTEGER), 0)),
       SUM(r.started_on IS NOT NULL AND r.finished_on IS NOT NULL)
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
)
GROUP BY 1, 2;

-- A reading's part, added (NEW) and taken away (OLD).
CREATE TRIGGER readings_tally_insert AFTER INSERT ON readings BEGIN
    INSERT INTO reading_months (user_id, month, books, pages, rating_sum, rated, days_sum, timed)
    SELECT NEW.user_id, COALESCE(substr(NEW.finished_on, 1, 7), ''), 1,
           COALESCE(b.pages, NEW.pages_read, 0), COALESCE(NEW.rating, 0), NEW.rating IS NOT NULL,
           COALESCE(CAST(julianday(NEW.finished_on) - julianday(NEW.started_on) AS INTEGER), 0),
           NEW.started_on IS NOT NULL AND NEW.finished_on IS NOT NULL
    FROM books b WHERE b.id = NEW.book_id AND NEW.status = 'finished'
    ON CONFLICT (user_id, month) DO UPDATE SET
        books = books + excluded.books, pages = pages + excluded.pages,
        rating_sum = rating_sum + excluded.rating_sum, rated = rated + excluded.rated,
        days_sum = days_sum + excluded.days_sum, timed = timed + excluded.timed;
    INSERT INTO reading_authors (user_id, author, books)
    SELECT NEW.user_id, b.primary_author, 1
    FROM books b WHERE b.id = NEW.book_id AND NEW.status = 'finished' AND b.primary_author <> ''
    ON CONFLICT (user_id, author) DO UPDATE SET books = books + 1;
    INSERT INTO reading_tags (user_id, tag, books)
    SELECT NEW.user_id, t.tag, 1
    FROM book_tags t WHERE t.book_id = NEW.book_id AND NEW.status = 'finished'
    ON CONFLICT (user_id, tag) DO UPDATE SET books = books + 1;
    INSERT INTO reading_days (user_id, day, events)
    SELECT NEW.user_id, day, 1 FROM (SELECT NEW.finished_on AS day UNION ALL SELECT NEW.started_on)
    WHERE day IS NOT NULL
    ON CONFLICT (user_id, day) DO UPDATE SET events = events + 1;
END;

CREATE TRIGGER readings_tally_delete AFTER DELETE ON readings BEGIN
    UPDATE reading_months SET
        books = books - 1,
        pages = pages - (SELECT COALESCE(b.pages, OLD.pages_read, 0) FROM books b WHERE b.id = OLD.book_id),
        rating_sum = rating_sum - COALESCE(OLD.rating, 0), rated = rated - (OLD.rating IS NOT NULL),
        days_sum = days_sum - COALESCE(CAST(julianday(OLD.finished_on) - julianday(OLD.started_on) AS INTEGER), 0),
        timed = timed - (OLD.started_on IS NOT NULL AND OLD.finished_on IS NOT NULL)
    WHERE OLD.status = 'finished' AND user_id = OLD.user_id
      AND month = COALESCE(substr(OLD.finished_on, 1, 7), '')
      AND EXISTS (SELECT 1 FROM books WHERE id = OLD.book_id);
    UPDATE reading_authors SET books = books - 1
    WHERE OLD.status = 'finished' AND user_id = OLD.user_id
      AND author = (SELECT primary_author FROM books WHERE id = OLD.book_id);
    UPDATE reading_tags SET books = books - 1
    WHERE OLD.status = 'finished' AND user_id = OLD.user_id
      AND tag IN (SELECT tag FROM book_tags WHERE book_id = OLD.book_id)
      AND EXISTS (SELECT 1 FROM books WHERE id = OLD.book_id);
    UPDATE reading_days SET events = events - 1
    WHERE user_id = OLD.user_id AND day = OLD.finished_on;
    UPDATE reading_days SET events = events - 1
    WHERE user_id = OLD.user_id AND day = OLD.started_on;
END;

-- An update is the old part taken away, then the new part added: the two triggers' bodies.
CREATE TRIGGER readings_tally_update
AFTER UPDATE OF user_id, book_id, status, started_on, finished_on, pages_read, rating ON readings BEGIN
    UPDATE reading_months SET
        books = books - 1,
        pages = pages - (SELECT COALESCE(b.pages, OLD.pages_read, 0) FROM books b WHERE b.id = OLD.book_id),
        rating_sum = rating_sum - COALESCE(OLD.rating, 0), rated = rated - (OLD.rating IS NOT NULL),
        days_sum = days_sum - COALESCE(CAST(julianday(OLD.finished_on) - julianday(OLD.started_on) AS INTEGER), 0),
        timed = timed - (OLD.started_on IS NOT NULL AND OLD.finished_on IS NOT NULL)
    WHERE OLD.status = 'finished' AND user_id = OLD.user_id
      AND month = COALESCE(substr(OLD.finished_on, 1, 7), '')
      AND EXISTS (SELECT 1 FROM books WHERE id = OLD.book_id);
    UPDATE reading_authors SET books = books - 1
    WHERE OLD.status = 'finished' AND user_id = OLD.user_id
      AND author = (SELECT primary_author FROM books WHERE id = OLD.book_id);
    UPDATE reading_tags SET books = books - 1
    WHERE OLD.status = 'finished' AND user_id = OLD.user_id
      AND tag IN (SELECT tag FROM book_tags WHERE book_id = OLD.book_id)
      AND EXISTS (SELECT 1 FROM books WHERE id = OLD.book_id);
    UPDATE reading_days SET events = events - 1
    WHERE user_id = OLD.user_id AND day = OLD.finished_on;
    UPDATE reading_days SET events = events - 1
    WHERE user_id = OLD.user_id AND day = OLD.started_on;

    INSERT INTO reading_months (user_id, month, books, pages, rating_sum, rated, days_sum, timed)
    SELECT NEW.user_id, COALESCE(substr(NEW.finished_on, 1, 7), ''), 1,
           COALESCE(b.pages, NEW.pages_read, 0), COALESCE(NEW.rating, 0), NEW.rating IS NOT NULL,
           COALESCE(CAST(julianday(NEW.finished_on) - julianday(NEW.started_on) AS INTEGER), 0),
           NEW.started_on IS NOT NULL AND NEW.finished_on IS NOT NULL
    FROM books b WHERE b.id = NEW.book_id AND NEW.status = 'finished'
    ON CONFLICT (user_id, month) DO UPDATE SET
        books = books + excluded.books, pages = pages + excluded.pages,
        rating_sum = rating_sum + excluded.rating_sum, rated = rated + excluded.rated,
        days_sum = days_sum + excluded.days_sum, timed = timed + excluded.timed;
    INSERT INTO reading_authors (user_id, author, books)
    SELECT NEW.user_id, b.primary_author, 1
    FROM books b WHERE b.id = NEW.book_id AND NEW.status = 'finished' AND b.primary_author <> ''
    ON CONFLICT (user_id, author) DO UPDATE SET books = books + 1;
    INSERT INTO reading_tags (user_id, tag, books)
    SELECT NEW.user_id, t.tag, 1
    FROM book_tags t WHERE t.book_id = NEW.book_id AND NEW.status = 'finished'
    ON CONFLICT (user_id, tag) DO UPDATE SET books = books + 1;
    INSERT INTO reading_days (user_id, day, events)
    SELECT NEW.user_id, day, 1 FROM (SELECT NEW.finished_on AS day UNION ALL SELECT NEW.started_on)
    WHERE day IS NOT NULL
    ON CONFLICT (user_id, day) DO UPDATE SET events = events + 1;
END;

-- A book about to go takes its finished readings' parts with it (see above).
CREATE TRIGGER books_tally_delete BEFORE DELETE ON books BEGIN
    UPDATE reading_months SET
        books = reading_months.books - d.n, pages = reading_months.pages - d.pages,
        rating_sum = reading_months.rating_sum - d.rating_sum, rated = reading_months.rated - d.rated,
        days_sum = reading_months.days_sum - d.days_sum, timed = reading_months.timed - d.timed
    FROM (
        SELECT user_id, COALESCE(substr(finished_on, 1, 7), '') AS month, COUNT(*) AS n,
               SUM(COALESCE(OLD.pages, pages_read, 0)) AS pages,
               SUM(COALESCE(rating, 0)) AS rating_sum, COUNT(rating) AS rated,
               SUM(COALESCE(CAST(julianday(finished_on) - julianday(started_on) AS INTEGER), 0)) AS days_sum,
               SUM(started_on IS NOT NULL AND finished_on IS NOT NULL) AS timed
        FROM readings WHERE book_id = OLD.id AND status = 'finished' GROUP BY 1, 2
    ) AS d
    WHERE reading_months.user_id = d.user_id AND reading_months.month = d.month;
    UPDATE reading_authors SET books = reading_authors.books - d.n
    FROM (SELECT user_id, COUNT(*) AS n FROM readings WHERE book_id = OLD.id AND status = 'finished' GROUP BY 1) AS d
    WHERE reading_authors.user_id = d.user_id AND reading_authors.author = OLD.primary_author;
    UPDATE reading_tags SET books = reading_tags.books - d.n
    FROM (SELECT user_id, COUNT(*) AS n FROM readings WHERE book_id = OLD.id AND status = 'finished' GROUP BY 1) AS d
    WHERE reading_tags.user_id = d.user_id
      AND reading_tags.tag IN (SELECT tag FROM book_tags WHERE book_id = OLD.id);
END;

CREATE TRIGGER books_tally_pages AFTER UPDATE OF pages ON books
WHEN OLD.pages IS NOT NEW.pages BEGIN
    UPDATE reading_months SET pages = reading_months.pages + d.delta
    FROM (
        SELECT user_id, COALESCE(substr(finished_on, 1, 7), '') AS month,
               SUM(COALESCE(NEW.pages, pages_read, 0) - COALESCE(OLD.pages, pages_read, 0)) AS delta
        FROM readings WHERE book_id = NEW.id AND status = 'finished' GROUP BY 1, 2
    ) AS d
    WHERE reading_months.user_id = d.user_id AND reading_months.month = d.month;
END;

CREATE TRIGGER books_tally_author AFTER UPDATE OF primary_author ON books
WHEN OLD.primary_author <> NEW.primary_author BEGIN
    UPDATE reading_authors SET books = reading_authors.books - d.n
    FROM (SELECT user_id, COUNT(*) AS n FROM readings WHERE book_id = OLD.id AND status = 'finished' GROUP BY 1) AS d
    WHERE reading_authors.user_id = d.user_id AND reading_authors.author = OLD.primary_author;
    INSERT INTO reading_authors (user_id, author, books)
    SELECT user_id, NEW.primary_author, COUNT(*)
    FROM readings WHERE book_id = NEW.id AND status = 'finished' AND NEW.primary_author <> ''
    GROUP BY 1
    ON CONFLICT (user_id, author) DO UPDATE SET books = books + excluded.books;
END;

CREATE TRIGGER book_tags_tally_insert AFTER INSERT ON book_tags BEGIN
    INSERT INTO reading_tags (user_id, tag, books)
    SELECT user_id, NEW.tag, COUNT(*)
    FROM readings WHERE book_id = NEW.book_id AND status = 'finished'
    GROUP BY 1
    ON CONFLICT (user_id, tag) DO UPDATE SET books = books + excluded.books;
END;

CREATE TRIGGER book_tags_tally_delete AFTER DELETE ON book_tags BEGIN
    UPDATE reading_tags SET books = reading_tags.books - d.n
    FROM (SELECT user_id, COUNT(*) AS n FROM readings WHERE book_id = OLD.book_id AND status = 'finished' GROUP BY 1) AS d
    WHERE reading_tags.user_id = d.user_id AND reading_tags.tag = OLD.tag
      AND EXISTS (SELECT 1 FROM books WHERE id = OLD.book_id);
END;
