ALTER TABLE connectors DROP COLUMN refresh_lease_until;
DROP TABLE connector_attempts;
DROP INDEX connectors_user_label;
DROP TABLE encryption_keys;
