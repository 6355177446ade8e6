-- sqlstore: the session table for SQLite 3.24+, with the default names.
-- This is what sqlstore.New runs when the table is missing (`sqlstore schema -dialect sqlite` prints it
-- for other names). token holds the hex SHA-256 of the session id (WithHashedIDs(true), the default).
-- expiry is Unix milliseconds: exact, compact and ordered, unlike the text drivers write for time.Time.
CREATE TABLE IF NOT EXISTS "sessions" ("token" TEXT NOT NULL PRIMARY KEY, "data" BLOB NOT NULL, "expiry" INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" ("expiry");
