-- Finished readings by rating, kept by triggers like the other tallies (migration 000700), so
-- the ratings chart of /stats reads at most twenty small rows instead of grouping every reading.
-- A rating belongs to the reading alone, so only the reading trigger keeps it; a book's deletion
-- cascades to its readings, whose trigger takes their part away. Takings-away only UPDATE, and
-- do nothing while the user is being deleted: the cascade takes the tally too.
CREATE TABLE reading_ratings (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating DOUBLE PRECISION NOT NULL,
    readings BIGINT NOT NULL,
    PRIMARY KEY (user_id, rating)
);

INSERT INTO reading_ratings (user_id, rating, readings)
SELECT user_id, rating, COUNT(*) FROM readings
WHERE status = 'finished' AND rating IS NOT NULL
GROUP BY 1, 2;

CREATE FUNCTION readings_rating_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- While a user is deleted, a row updated twice in the statement would be checked against
    -- the user, already gone: PostgreSQL refuses it (see tally_reading, migration 000700).
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'finished' AND OLD.rating IS NOT NULL
       AND EXISTS (SELECT 1 FROM users u WHERE u.id = OLD.user_id) THEN
        UPDATE reading_ratings AS t SET readings = t.readings - 1
        WHERE t.user_id = OLD.user_id AND t.rating = OLD.rating;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'finished' AND NEW.rating IS NOT NULL THEN
        INSERT INTO reading_ratings AS t (user_id, rating, readings) VALUES (NEW.user_id, NEW.rating, 1)
        ON CONFLICT (user_id, rating) DO UPDATE SET readings = t.readings + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER readings_rating_tally
AFTER INSERT OR DELETE OR UPDATE OF user_id, status, rating
ON readings FOR EACH ROW EXECUTE FUNCTION readings_rating_tally();
