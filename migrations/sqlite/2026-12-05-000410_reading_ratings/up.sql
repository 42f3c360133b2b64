-- Finished readings by rating, kept by triggers like the other tallies (migration 000700), so
-- the ratings chart of /stats reads at most twenty small rows instead of grouping every reading
-- (~40 ms for a library of 50,000). A rating belongs to the reading alone, so only the reading
-- triggers keep it; a book's deletion cascades to its readings, whose delete trigger takes
-- their part away. Takings-away only UPDATE: while a user is deleted, rows may already be gone.
CREATE TABLE reading_ratings (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating DOUBLE NOT NULL,
    readings BIGINT NOT NULL,
    PRIMARY KEY (user_id, rating)
) WITHOUT ROWID;

INSERT INTO reading_ratings (user_id, rating, readings)
SELECT user_id, rating, COUNT(*) FROM readings
WHERE status = 'finished' AND rating IS NOT NULL
GROUP BY 1, 2;

CREATE TRIGGER readings_rating_insert AFTER INSERT ON readings
WHEN NEW.status = 'finished' AND NEW.rating IS NOT NULL BEGIN
    INSERT INTO reading_ratings (user_id, rating, readings) VALUES (NEW.user_id, NEW.rating, 1)
    ON CONFLICT (user_id, rating) DO UPDATE SET readings = readings + 1;
END;

CREATE TRIGGER readings_rating_delete AFTER DELETE ON readings
WHEN OLD.status = 'finished' AND OLD.rating IS NOT NULL BEGIN
    UPDATE reading_ratings SET readings = readings - 1
    WHERE user_id = OLD.user_id AND rating = OLD.rating;
END;

CREATE TRIGGER readings_rating_update AFTER UPDATE OF user_id, status, rating ON readings BEGIN
    UPDATE reading_ratings SET readings = readings - 1
    WHERE OLD.status = 'finished' AND OLD.rating IS NOT NULL
      AND user_id = OLD.user_id AND rating = OLD.rating;
    INSERT INTO reading_ratings (user_id, rating, readings)
    SELECT NEW.user_id, NEW.rating, 1 WHERE NEW.status = 'finished' AND NEW.rating IS NOT NULL
    ON CONFLICT (user_id, rating) DO UPDATE SET readings = readings + 1;
END;
