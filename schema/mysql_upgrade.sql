-- sqlstore: upgrade in place, online, a MySQL 8 or MariaDB 10.5+ session table with the default names
-- created by an earlier version (token, data and expiry only): add the owner, created, updated and ended
-- columns, then build the owner index. sqlstore.New (with WithCreateTable(true), the default) and
-- `sqlstore migrate` do the same on such a table; run this file to upgrade it yourself, as a user that may
-- ALTER it, before the new version starts, and the app's user needs no more than SELECT, INSERT, UPDATE
-- and DELETE.
-- It is online: ALGORITHM=INSTANT adds the columns without copying the table (MySQL 8.0.12+, MariaDB
-- 10.3+), and ALGORITHM=INPLACE, LOCK=NONE builds the index while reads and writes go on. Each statement
-- still takes a metadata lock for a moment, which waits for transactions using the table and queues the
-- queries behind it: New sets lock_wait_timeout = 5 and retries, and you may SET SESSION lock_wait_timeout
-- before running the file. A server that cannot do either refuses the statement rather than copying or
-- locking the table.
-- MySQL 8 has no ADD COLUMN IF NOT EXISTS: this file is for a table that has none of the four columns (the
-- ALTER fails with "Duplicate column name" on one that has some; New and `sqlstore migrate` add only the
-- columns that are missing).
ALTER TABLE `sessions` ADD COLUMN `owner` VARBINARY(255) NULL, ADD COLUMN `created` DATETIME(6) NULL, ADD COLUMN `updated` DATETIME(6) NULL, ADD COLUMN `ended` BOOLEAN NOT NULL DEFAULT FALSE, ALGORITHM=INSTANT;
ALTER TABLE `sessions` ADD INDEX `sessions_owner_idx` (`owner`), ALGORITHM=INPLACE, LOCK=NONE;
