-- The extension stays: other schemas of the database may use it.
DROP INDEX IF EXISTS books_search_trgm;
DROP INDEX IF EXISTS books_user_title_prefix;
DROP INDEX IF EXISTS books_user_authors_prefix;

DROP TRIGGER book_tags_inserted ON book_tags;
DROP FUNCTION book_tags_inserted();
DROP TRIGGER book_tags_tally ON book_tags;
CREATE TRIGGER book_tags_tally AFTER INSERT OR DELETE ON book_tags
    FOR EACH ROW EXECUTE FUNCTION book_tags_tally();

DROP TRIGGER readings_inserted ON readings;
DROP FUNCTION readings_inserted();
DROP TRIGGER readings_last_finished ON readings;
CREATE TRIGGER readings_last_finished AFTER INSERT OR DELETE OR UPDATE OF finished_on, book_id
    ON readings FOR EACH ROW EXECUTE FUNCTION books_last_finished();
DROP TRIGGER readings_rating_tally ON readings;
CREATE TRIGGER readings_rating_tally
AFTER INSERT OR DELETE OR UPDATE OF user_id, status, rating
ON readings FOR EACH ROW EXECUTE FUNCTION readings_rating_tally();
DROP TRIGGER readings_tally ON readings;
CREATE TRIGGER readings_tally
AFTER INSERT OR DELETE OR UPDATE OF user_id, book_id, status, started_on, finished_on, pages_read, rating
ON readings FOR EACH ROW EXECUTE FUNCTION readings_tally();

DROP TRIGGER books_version_insert ON books;
DROP TRIGGER books_version_update ON books;
DROP TRIGGER books_version_delete ON books;
DROP TRIGGER readings_version_insert ON readings;
DROP TRIGGER readings_version_update ON readings;
DROP TRIGGER readings_version_delete ON readings;
DROP TRIGGER book_tags_version_insert ON book_tags;
DROP TRIGGER book_tags_version_delete ON book_tags;
DROP FUNCTION bump_library_versions();
CREATE TRIGGER books_library_version AFTER INSERT OR UPDATE OR DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION bump_library_version();
CREATE TRIGGER readings_library_version AFTER INSERT OR UPDATE OR DELETE ON readings
    FOR EACH ROW EXECUTE FUNCTION bump_library_version();
CREATE TRIGGER book_tags_library_version AFTER INSERT OR DELETE ON book_tags
    FOR EACH ROW EXECUTE FUNCTION bump_library_version();
