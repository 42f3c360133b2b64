DROP TABLE reading_goals;
