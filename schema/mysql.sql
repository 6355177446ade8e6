-- sqlstore: the session table for MySQL 8 and MariaDB 10.5+, with the default names.
-- This is what sqlstore.New runs when the table is missing (`sqlstore schema -dialect mysql` prints it
-- for other names). token holds the hex SHA-256 of the session id (WithHashedIDs(true), the default);
-- with WithHashedIDs(false) it is VARBINARY(255). expiry holds UTC.
CREATE TABLE IF NOT EXISTS `sessions` (`token` CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, `data` LONGBLOB NOT NULL, `expiry` DATETIME(6) NOT NULL, PRIMARY KEY (`token`), INDEX `sessions_expiry_idx` (`expiry`)) ENGINE = InnoDB;

-- A user that only runs the store (no DDL at run time):
--   GRANT SELECT, INSERT, UPDATE, DELETE ON `app`.`sessions` TO 'app'@'%';
