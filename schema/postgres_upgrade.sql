-- sqlstore: upgrade in place, online, a PostgreSQL session table with the default names created by an
-- earlier version (token, data and expiry only): add the owner, created, updated and ended columns, then
-- build the owner index. sqlstore.New (with WithCreateTable(true), the default) and `sqlstore migrate` do
-- the same on such a table; run this file to upgrade it yourself, as the table's owner, before the new
-- version starts, and the app's role needs no more than SELECT, INSERT, UPDATE and DELETE.
-- It is online: ADD COLUMN of a nullable column, or of one with a constant default, rewrites no row and
-- holds its lock only for a moment; CREATE INDEX CONCURRENTLY builds the index while reads and writes go
-- on. The ALTER TABLE still waits for transactions using the table, and queues the queries behind it:
-- New sets lock_timeout = '5s' and retries, and you may SET lock_timeout before running the file.
-- CREATE INDEX CONCURRENTLY must not run inside a transaction block: run the file with psql in autocommit,
--   psql -v ON_ERROR_STOP=1 -f schema/postgres_upgrade.sql
-- (not with -1 or --single-transaction). Both statements skip what exists, so the file can be run again.
-- A failed concurrent build leaves an invalid index that IF NOT EXISTS skips: DROP INDEX CONCURRENTLY
-- "sessions_owner_idx" and run the file again, or let New rebuild it.
ALTER TABLE "sessions" ADD COLUMN IF NOT EXISTS "owner" varchar(255), ADD COLUMN IF NOT EXISTS "created" timestamptz, ADD COLUMN IF NOT EXISTS "updated" timestamptz, ADD COLUMN IF NOT EXISTS "ended" boolean NOT NULL DEFAULT FALSE;
CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_owner_idx" ON "sessions" ("owner") WHERE "owner" IS NOT NULL;
