-- PostgreSQL only: its bulk-insert triggers, trigram search and title/author order indexes.
-- SQLite has what they give already: its triggers update rows in place (no versions piling up
-- within a transaction), books_fts (2026-12-01-000500) and books_user_title/books_user_authors
-- (2026-12-05-000500).
SELECT 1;
