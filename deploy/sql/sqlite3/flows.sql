-- The table of the embedded default (weir.db, table flows), as weir creates it.
CREATE TABLE IF NOT EXISTS flows (
    ip_src CHAR(45) NOT NULL DEFAULT '0.0.0.0',
    ip_dst CHAR(45) NOT NULL DEFAULT '0.0.0.0',
    port_src INT NOT NULL DEFAULT 0,
    port_dst INT NOT NULL DEFAULT 0,
    tcp_flags INT NOT NULL DEFAULT 0,
    ip_proto CHAR(6) NOT NULL DEFAULT '0',
    peer_ip_src CHAR(45) NOT NULL DEFAULT '0.0.0.0',
    packets BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    stamp_inserted DATETIME NOT NULL,
    stamp_updated DATETIME,
    PRIMARY KEY (ip_src, ip_dst, port_src, port_dst, ip_proto, peer_ip_src, stamp_inserted)
);
