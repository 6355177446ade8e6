-- sqlstore: the session table for SQLite 3.24+, with the default names.
-- This is what sqlstore.New runs when the table is missing (`sqlstore schema -dialect sqlite` prints it
-- for other names): the table, its expiry index (for Prune) and its owner index (for Sessions and DeleteOwner;
-- partial: only sessions with an owner, so an anonymous session adds no entry).
-- token holds the hex SHA-256 of the session id (WithHashedIDs(true), the default).
-- expiry, created and updated are Unix milliseconds: exact, compact and ordered, unlike the text drivers
-- write for time.Time. owner is who the session belongs to (SetOwned), NULL for nobody; ended (0 or 1) is
-- set by Delete, so that no Set revives the session before it expires.
-- A table created by an earlier version, without owner, created, updated and ended: see sqlite_upgrade.sql.
CREATE TABLE IF NOT EXISTS "sessions" ("token" TEXT NOT NULL PRIMARY KEY, "data" BLOB NOT NULL, "expiry" INTEGER NOT NULL, "owner" TEXT, "created" INTEGER, "updated" INTEGER, "ended" INTEGER NOT NULL DEFAULT FALSE);
CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" ("expiry");
CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "sessions" ("owner") WHERE "owner" IS NOT NULL;
