-- A version number per library, bumped by every write to a user's books, tags or readings.
-- Costly figures (list totals, statistics) are kept in memory under the version they were
-- computed at, so any instance sees at once that they are out of date.
CREATE TABLE library_versions (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

CREATE FUNCTION bump_library_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE library_versions SET version = version + 1 WHERE user_id = OLD.user_id;
        RETURN OLD;
    END IF;
    INSERT INTO library_versions (user_id, version) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET version = library_versions.version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER books_library_version AFTER INSERT OR UPDATE OR DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION bump_library_version();
CREATE TRIGGER readings_library_version AFTER INSERT OR UPDATE OR DELETE ON readings
    FOR EACH ROW EXECUTE FUNCTION bump_library_version();
CREATE TRIGGER book_tags_library_version AFTER INSERT OR DELETE ON book_tags
    FOR EACH ROW EXECUTE FUNCTION bump_library_version();

-- Statistics read finished readings with their book: a covering index serves them in order.
CREATE INDEX readings_user_status_book ON readings (user_id, status, book_id)
    INCLUDE (finished_on, started_on, rating, pages_read);
