DROP INDEX readings_user_status_book;
DROP TRIGGER book_tags_library_version ON book_tags;
DROP TRIGGER readings_library_version ON readings;
DROP TRIGGER books_library_version ON books;
DROP FUNCTION bump_library_version();
DROP TABLE library_versions;
