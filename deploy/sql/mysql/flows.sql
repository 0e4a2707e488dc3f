-- The table weir creates for the embedded default's key (aggregate: src_host, dst_host,
-- src_port, dst_port, proto, tcpflags, peer_src_ip; sql_optimize_clauses: true), for MySQL.
CREATE TABLE IF NOT EXISTS flows (
    ip_src CHAR(45) NOT NULL DEFAULT '0.0.0.0',
    ip_dst CHAR(45) NOT NULL DEFAULT '0.0.0.0',
    port_src INT UNSIGNED NOT NULL DEFAULT 0,
    port_dst INT UNSIGNED NOT NULL DEFAULT 0,
    tcp_flags INT UNSIGNED NOT NULL DEFAULT 0,
    ip_proto CHAR(6) NOT NULL DEFAULT '0',
    peer_ip_src CHAR(45) NOT NULL DEFAULT '0.0.0.0',
    packets BIGINT UNSIGNED NOT NULL DEFAULT 0,
    bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
    stamp_inserted DATETIME NOT NULL,
    stamp_updated DATETIME,
    PRIMARY KEY (ip_src, ip_dst, port_src, port_dst, ip_proto, peer_ip_src, stamp_inserted)
);
