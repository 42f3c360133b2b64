-- A yearly reading goal: how many books a user means to finish in a year (issue 20). One row per
-- user and year; the progress is counted from the reading tallies, never stored here.
CREATE TABLE reading_goals (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    year INTEGER NOT NULL,
    books INTEGER NOT NULL CHECK (books BETWEEN 1 AND 1000),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, year)
);
