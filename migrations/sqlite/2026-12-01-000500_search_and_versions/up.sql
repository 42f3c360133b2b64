-- A version number per library, bumped by every write to a user's books, tags or readings.
-- Costly figures (list totals, statistics) are kept in memory under the version they were
-- computed at, so any instance sees at once that they are out of date.
CREATE TABLE library_versions (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

CREATE TRIGGER books_version_insert AFTER INSERT ON books BEGIN
    INSERT INTO library_versions (user_id, version) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER books_version_update AFTER UPDATE ON books BEGIN
    INSERT INTO library_versions (user_id, version) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER books_version_delete AFTER DELETE ON books BEGIN
    UPDATE library_versions SET version = version + 1 WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER readings_version_insert AFTER INSERT ON readings BEGIN
    INSERT INTO library_versions (user_id, version) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER readings_version_update AFTER UPDATE ON readings BEGIN
    INSERT INTO library_versions (user_id, version) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER readings_version_delete AFTER DELETE ON readings BEGIN
    UPDATE library_versions SET version = version + 1 WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER book_tags_version_insert AFTER INSERT ON book_tags BEGIN
    INSERT INTO library_versions (user_id, version) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER book_tags_version_delete AFTER DELETE ON book_tags BEGIN
    UPDATE library_versions SET version = version + 1 WHERE user_id = OLD.user_id;
END;

-- Substring search over the folded text of books (title, authors, description, tags) without
-- reading every row: an FTS5 trigram index kept in step by triggers. Terms shorter than three
-- characters still use LIKE.
CREATE VIRTUAL TABLE books_fts USING fts5(
    search_text, content = 'books', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO books_fts (books_fts) VALUES ('rebuild');
CREATE TRIGGER books_fts_insert AFTER INSERT ON books BEGIN
    INSERT INTO books_fts (rowid, search_text) VALUES (NEW.id, NEW.search_text);
END;
CREATE TRIGGER books_fts_delete AFTER DELETE ON books BEGIN
    INSERT INTO books_fts (books_fts, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
END;
CREATE TRIGGER books_fts_update AFTER UPDATE OF search_text ON books BEGIN
    INSERT INTO books_fts (books_fts, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
    INSERT INTO books_fts (rowid, search_text) VALUES (NEW.id, NEW.search_text);
END;

-- Statistics read finished readings with their book: a covering index serves them in order.
CREATE INDEX readings_user_status_book ON readings (user_id, status, book_id, finished_on, started_on, rating, pages_read);
