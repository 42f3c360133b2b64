-- `q` search through trigram indexes (pg_trgm): each term is `search_text LIKE '%term%'`, which
-- a GIN index with gin_trgm_ops answers without reading every book of the user (SQLite has its
-- own trigram index, books_fts). pg_trgm ships with PostgreSQL and is a trusted extension, but
-- a role may still lack the right to create it, or a build may lack contrib: then no index is
-- made, the search reads the user's books as before, and the server says so once at start
-- (`db::note_search_index`).
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NULL THEN
        BEGIN
            -- An extension belongs to the whole database: created in `public` when it can be,
            -- it stays when the schema that ran this migration is dropped (as each test's is).
            IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
                IF has_schema_privilege('public', 'CREATE') THEN
                    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
                END IF;
            END IF;
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_trgm is not available (%): q search reads every book', SQLERRM;
        END;
        SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    END IF;
    IF trgm_schema IS NOT NULL THEN
        -- Named with its schema: the extension may live outside this one's search path.
        EXECUTE format(
            'CREATE INDEX books_search_trgm ON books USING gin (search_text %I.gin_trgm_ops)',
            trgm_schema);
    END IF;
END
$$;

-- Title and author orders (`sort=title`, `sort=author`): the whole folded text cannot be a
-- B-tree key here (entries over 2.7 kB are refused, and a description folded into the search
-- text passes that), so the index holds its first 200 characters and the list orders by them
-- first, then by the whole text: read from the index, and sorted only among books whose first
-- 200 characters tie. In a C collation (C.UTF-8 here, and SQLite's) that is the order of the
-- whole text; a linguistic one, which skips spaces at first, could differ only for two books
-- alike over their first 200 characters. Sorting all 10,000 books took a page 746 ms at p99.
CREATE INDEX books_user_title_prefix ON books (user_id, left(search_text, 200), id);
CREATE INDEX books_user_authors_prefix ON books (user_id, left(authors_folded, 200), id);

-- Inserts are tallied once a statement, from the rows it inserted (a transition table), where
-- they were tallied row by row. A transaction that updates one row many times leaves a version
-- of it each time, and every later update walks them all: a library's version row bumped for
-- each of the seed's 70,000 rows, and each tag's tally for each finished reading, made the seed
-- take 97 s and a 2,000-row INSERT 16 s. The sums are the row triggers' own, added up per key.
-- Updates and deletes, one book or reading at a time, keep their row triggers.

-- Library versions: once a statement for each user whose books, tags or readings it wrote.
CREATE FUNCTION bump_library_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE library_versions SET version = version + 1
        WHERE user_id IN (SELECT DISTINCT user_id FROM old_rows);
    ELSE
        INSERT INTO library_versions AS v (user_id, version)
        SELECT DISTINCT user_id, 1 FROM new_rows
        ON CONFLICT (user_id) DO UPDATE SET version = v.version + 1;
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER books_library_version ON books;
DROP TRIGGER readings_library_version ON readings;
DROP TRIGGER book_tags_library_version ON book_tags;
CREATE TRIGGER books_version_insert AFTER INSERT ON books REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER books_version_update AFTER UPDATE ON books REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER books_version_delete AFTER DELETE ON books REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER readings_version_insert AFTER INSERT ON readings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER readings_version_update AFTER UPDATE ON readings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER readings_version_delete AFTER DELETE ON readings REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER book_tags_version_insert AFTER INSERT ON book_tags REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();
CREATE TRIGGER book_tags_version_delete AFTER DELETE ON book_tags REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_library_versions();

-- New readings: their days, months, authors, tags and ratings (tally_reading with sign 1,
-- migrations 000700 and 000410), and their books' last finish day (migration 000300).
CREATE FUNCTION readings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reading_days AS t (user_id, day, events)
    SELECT user_id, day, COUNT(*) FROM (
        SELECT user_id, finished_on AS day FROM new_rows WHERE finished_on IS NOT NULL
        UNION ALL
        SELECT user_id, started_on AS day FROM new_rows WHERE started_on IS NOT NULL
    ) AS events
    GROUP BY 1, 2
    ON CONFLICT (user_id, day) DO UPDATE SET events = t.events + EXCLUDED.events;

    INSERT INTO reading_months AS t (user_id, month, books, pages, rating_sum, rated, days_sum, timed)
    SELECT r.user_id, COALESCE(to_char(r.finished_on, 'YYYY-MM'), ''), COUNT(*),
           SUM(COALESCE(b.pages, r.pages_read, 0)), SUM(COALESCE(r.rating, 0)), COUNT(r.rating),
           SUM(COALESCE(r.finished_on - r.started_on, 0)),
           COUNT(*) FILTER (WHERE r.started_on IS NOT NULL AND r.finished_on IS NOT NULL)
    FROM new_rows r JOIN books b ON b.id = r.book_id
    WHERE r.status = 'finished'
    GROUP BY 1, 2
    ON CONFLICT (user_id, month) DO UPDATE SET
        books = t.books + EXCLUDED.books, pages = t.pages + EXCLUDED.pages,
        rating_sum = t.rating_sum + EXCLUDED.rating_sum, rated = t.rated + EXCLUDED.rated,
        days_sum = t.days_sum + EXCLUDED.days_sum, timed = t.timed + EXCLUDED.timed;

    INSERT INTO reading_authors AS t (user_id, author, books)
    SELECT r.user_id, b.primary_author, COUNT(*)
    FROM new_rows r JOIN books b ON b.id = r.book_id
    WHERE r.status = 'finished' AND b.primary_author <> ''
    GROUP BY 1, 2
    ON CONFLICT (user_id, author) DO UPDATE SET books = t.books + EXCLUDED.books;

    INSERT INTO reading_tags AS t (user_id, tag, books)
    SELECT r.user_id, bt.tag, COUNT(*)
    FROM new_rows r JOIN book_tags bt ON bt.book_id = r.book_id
    WHERE r.status = 'finished'
    GROUP BY 1, 2
    ON CONFLICT (user_id, tag) DO UPDATE SET books = t.books + EXCLUDED.books;

    INSERT INTO reading_ratings AS t (user_id, rating, readings)
    SELECT user_id, rating, COUNT(*) FROM new_rows
    WHERE status = 'finished' AND rating IS NOT NULL
    GROUP BY 1, 2
    ON CONFLICT (user_id, rating) DO UPDATE SET readings = t.readings + EXCLUDED.readings;

    UPDATE books SET last_finished_on = latest.day
    FROM (SELECT book_id, MAX(finished_on) AS day FROM new_rows
          WHERE finished_on IS NOT NULL GROUP BY book_id) AS latest
    WHERE books.id = latest.book_id
      AND (books.last_finished_on IS NULL OR books.last_finished_on < latest.day);
    RETURN NULL;
END
$$;
DROP TRIGGER readings_tally ON readings;
CREATE TRIGGER readings_tally
AFTER DELETE OR UPDATE OF user_id, book_id, status, started_on, finished_on, pages_read, rating
ON readings FOR EACH ROW EXECUTE FUNCTION readings_tally();
DROP TRIGGER readings_rating_tally ON readings;
CREATE TRIGGER readings_rating_tally
AFTER DELETE OR UPDATE OF user_id, status, rating
ON readings FOR EACH ROW EXECUTE FUNCTION readings_rating_tally();
DROP TRIGGER readings_last_finished ON readings;
CREATE TRIGGER readings_last_finished AFTER DELETE OR UPDATE OF finished_on, book_id
    ON readings FOR EACH ROW EXECUTE FUNCTION books_last_finished();
CREATE TRIGGER readings_inserted AFTER INSERT ON readings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION readings_inserted();

-- New tags of books: the finished readings of those books count under them (book_tags_tally).
CREATE FUNCTION book_tags_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reading_tags AS t (user_id, tag, books)
    SELECT r.user_id, n.tag, COUNT(*)
    FROM new_rows n JOIN readings r ON r.book_id = n.book_id
    WHERE r.status = 'finished'
    GROUP BY 1, 2
    ON CONFLICT (user_id, tag) DO UPDATE SET books = t.books + EXCLUDED.books;
    RETURN NULL;
END
$$;
DROP TRIGGER book_tags_tally ON book_tags;
CREATE TRIGGER book_tags_tally AFTER DELETE ON book_tags
    FOR EACH ROW EXECUTE FUNCTION book_tags_tally();
CREATE TRIGGER book_tags_inserted AFTER INSERT ON book_tags REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION book_tags_inserted();
