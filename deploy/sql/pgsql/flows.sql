-- The table weir creates for the embedded default's key (aggregate: src_host, dst_host,
-- src_port, dst_port, proto, tcpflags, peer_src_ip; sql_optimize_clauses: true), for pgsql.
CREATE TABLE IF NOT EXISTS flows (
    ip_src inet NOT NULL DEFAULT '0.0.0.0',
    ip_dst inet NOT NULL DEFAULT '0.0.0.0',
    port_src INT NOT NULL DEFAULT 0,
    port_dst INT NOT NULL DEFAULT 0,
    tcp_flags INT NOT NULL DEFAULT 0,
    ip_proto SMALLINT NOT NULL DEFAULT 0,
    peer_ip_src inet NOT NULL DEFAULT '0.0.0.0',
    packets BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    stamp_inserted timestamp without time zone NOT NULL,
    stamp_updated timestamp without time zone,
    PRIMARY KEY (ip_src, ip_dst, port_src, port_dst, ip_proto, peer_ip_src, stamp_inserted)
);
