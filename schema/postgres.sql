-- sqlstore: the session table for PostgreSQL, with the default names.
-- This is what sqlstore.New runs when the table is missing (`sqlstore schema -dialect postgres` prints it
-- for other names). token holds the hex SHA-256 of the session id (WithHashedIDs(true), the default);
-- with WithHashedIDs(false) it is varchar(255).
CREATE TABLE IF NOT EXISTS "sessions" ("token" char(64) PRIMARY KEY, "data" bytea NOT NULL, "expiry" timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" ("expiry");

-- A role that only runs the store (no DDL at run time):
--   GRANT SELECT, INSERT, UPDATE, DELETE ON "sessions" TO app;
