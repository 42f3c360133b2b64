DROP TRIGGER readings_rating_tally ON readings;
DROP FUNCTION readings_rating_tally();
DROP TABLE reading_ratings;
