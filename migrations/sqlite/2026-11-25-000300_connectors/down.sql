DROP INDEX connectors_user_label;
DROP TABLE encryption_keys;
