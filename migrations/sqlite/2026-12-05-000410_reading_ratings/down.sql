DROP TRIGGER readings_rating_update;
DROP TRIGGER readings_rating_delete;
DROP TRIGGER readings_rating_insert;
DROP TABLE reading_ratings;
