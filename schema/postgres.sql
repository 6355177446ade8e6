-- sqlstore: the session table for PostgreSQL, with the default names.
-- This is what sqlstore.New runs when the table is missing (`sqlstore schema -dialect postgres` prints it
-- for other names): the table, its expiry index (for Prune) and its owner index (for Sessions and DeleteOwner;
-- partial: only sessions with an owner, so an anonymous session adds no entry).
-- token holds the hex SHA-256 of the session id (WithHashedIDs(true), the default); with WithHashedIDs(false)
-- it is varchar(255). owner is who the session belongs to (SetOwned), NULL for nobody; created is the session's
-- first Set, updated its last Set or Touch; ended is set by Delete, so that no Set revives the session before it expires.
-- A table created by an earlier version, without owner, created, updated and ended: see postgres_upgrade.sql.
CREATE TABLE IF NOT EXISTS "sessions" ("token" char(64) PRIMARY KEY, "data" bytea NOT NULL, "expiry" timestamptz NOT NULL, "owner" varchar(255), "created" timestamptz, "updated" timestamptz, "ended" boolean NOT NULL DEFAULT FALSE);
CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" ("expiry");
CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "sessions" ("owner") WHERE "owner" IS NOT NULL;

-- A role that only runs the store (no DDL at run time):
--   GRANT SELECT, INSERT, UPDATE, DELETE ON "sessions" TO app;
