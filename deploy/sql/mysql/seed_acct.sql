-- The table of the seed configuration, for MySQL/MariaDB:
--   aggregate: src_host, dst_host, src_port, dst_port, tcpflags, proto
--   sql_optimize_clauses: true
--   sql_table: acct
-- It has no key, so a bin written twice (a table that filled early, a restart) gives two rows:
-- sum with GROUP BY, or add the PRIMARY KEY below so that weir's upsert adds them up.
CREATE TABLE IF NOT EXISTS acct (
    ip_src CHAR(45),
    ip_dst CHAR(45),
    port_src INT(2) UNSIGNED,
    port_dst INT(2) UNSIGNED,
    tcp_flags INT(4) UNSIGNED,
    ip_proto CHAR(6),
    packets INT UNSIGNED,
    bytes BIGINT UNSIGNED,
    stamp_inserted DATETIME,
    stamp_updated DATETIME
);
-- Optional: one row per key and bin (the columns must then be NOT NULL, as weir writes them).
-- ALTER TABLE acct MODIFY ip_src CHAR(45) NOT NULL, MODIFY ip_dst CHAR(45) NOT NULL,
--   MODIFY port_src INT(2) UNSIGNED NOT NULL, MODIFY port_dst INT(2) UNSIGNED NOT NULL,
--   MODIFY ip_proto CHAR(6) NOT NULL, MODIFY stamp_inserted DATETIME NOT NULL,
--   ADD PRIMARY KEY (ip_src, ip_dst, port_src, port_dst, ip_proto, stamp_inserted);
