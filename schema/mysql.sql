-- sqlstore: the session table for MySQL 8 and MariaDB 10.5+, with the default names.
-- This is what sqlstore.New runs when the table is missing (`sqlstore schema -dialect mysql` prints it
-- for other names): the table with its expiry index (for Prune) and its owner index (for Sessions and
-- DeleteOwner). token holds the hex SHA-256 of the session id (WithHashedIDs(true), the default);
-- with WithHashedIDs(false) it is VARBINARY(255). expiry, created and updated hold UTC. owner is who the
-- session belongs to (SetOwned), NULL for nobody, compared as bytes like token; ended is set by Delete,
-- so that no Set revives the session before it expires.
-- A table created by an earlier version, without owner, created, updated and ended: see mysql_upgrade.sql.
CREATE TABLE IF NOT EXISTS `sessions` (`token` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, `data` LONGBLOB NOT NULL, `expiry` DATETIME(6) NOT NULL, `owner` VARBINARY(255) NULL, `created` DATETIME(6) NULL, `updated` DATETIME(6) NULL, `ended` BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (`token`), INDEX `sessions_expiry_idx` (`expiry`), INDEX `sessions_owner_idx` (`owner`)) ENGINE = InnoDB;

-- A user that only runs the store (no DDL at run time):
--   GRANT SELECT, INSERT, UPDATE, DELETE ON `app`.`sessions` TO 'app'@'%';
