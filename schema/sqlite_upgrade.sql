-- sqlstore: upgrade in place a SQLite session table with the default names created by an earlier version
-- (token, data and expiry only): add the owner, created, updated and ended columns, then build the owner
-- index. sqlstore.New (with WithCreateTable(true), the default) and `sqlstore migrate` do the same on such a
-- table; run this file to upgrade it yourself (sqlite3 app.db < schema/sqlite_upgrade.sql) before the new
-- version starts.
-- It is online: SQLite's ALTER TABLE adds one column per statement, and ADD COLUMN only rewrites the
-- table's schema, not its rows, so each holds the write lock for a moment whatever the table's size.
-- CREATE INDEX reads the table once, holding the write lock meanwhile (readers go on in WAL mode).
-- SQLite has no ADD COLUMN IF NOT EXISTS: this file is for a table that has none of the four columns (an
-- ALTER fails with "duplicate column name" on one that has some; New and `sqlstore migrate` add only the
-- columns that are missing).
ALTER TABLE "sessions" ADD COLUMN "owner" TEXT;
ALTER TABLE "sessions" ADD COLUMN "created" INTEGER;
ALTER TABLE "sessions" ADD COLUMN "updated" INTEGER;
ALTER TABLE "sessions" ADD COLUMN "ended" INTEGER NOT NULL DEFAULT FALSE;
CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "sessions" ("owner") WHERE "owner" IS NOT NULL;
