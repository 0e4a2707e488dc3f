"""SQLite sink end to end: a corpus capture stored as the print plugin prints it, the embedded
default (weir collect --db, weir top), upserts adding a bin written twice, a table with a missing
column (clear error, rows kept in the backlog and written once the column exists), and a
database that cannot be opened (spool replayed after a restart)."""
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import free_udp_port, run
from sqlservers import COLS, SqlWeir, corpus_vs_print

WAIT_S = 60


def _fetch(db, table='acct', cols=COLS):
    with sqlite3.connect(db) as c:
        return c.execute(f'SELECT {cols} FROM {table}').fetchall()


@pytest.mark.parametrize('capture', ['softflowd_nf9', 'softflowd_ipfix'])
def test_corpus_rows_equal_print(weir_bin, corpus_dir, tmp_path, capture):
    db = str(tmp_path / 'w.db')
    want, got, log = corpus_vs_print(weir_bin, corpus_dir, tmp_path, 'sqlite3',
                                     [f'sql_db[s]: {db}', 'sql_table[s]: acct'],
                                     lambda: _fetch(db), capture)
    assert got == want, (set(want.items()) ^ set(got.items()))
    assert re.search(r'plugin sqlite3\[s\]: wrote \d+ rows', log)
    with sqlite3.connect(db) as c:
        assert c.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'


def _gen(weir_bin, port, n=3000, keys=200, seed=1):
    r = run([weir_bin, 'gen', '-n', str(n), '-k', str(keys), '-r', '20000', '--seed', str(seed),
             f'127.0.0.1:{port}'])
    assert r.returncode == 0, r.stderr
    m = re.search(r'(\d+) records (\d+) packets (\d+) bytes', r.stdout + r.stderr)
    return int(m.group(2)), int(m.group(3))


def _wait_sum(db, table, packets, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as c:
                got = c.execute(f'SELECT SUM(packets) FROM {table}').fetchone()[0]
        except sqlite3.OperationalError:
            got = None
        if got == packets:
            return got
        time.sleep(0.2)
    return got


def test_embedded_default_and_top(weir_bin, tmp_path):
    """`weir collect --db PATH` with nothing else, `weir gen`, then `weir top`."""
    port = free_udp_port()
    db = str(tmp_path / 'flows.db')
    log = tmp_path / 'weir.log'
    proc = subprocess.Popen([weir_bin, 'collect', '-F', '--db', db, '-o', 'nfacctd_ip=127.0.0.1',
                             '-o', f'nfacctd_port={port}', '-o', 'sql_refresh_time=1',
                             '-o', f'logfile={log}', '-o', 'http_listen='],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and 'listening' not in (log.read_text() if log.exists() else ''):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        packets, nbytes = _gen(weir_bin, port)
        assert _wait_sum(db, 'flows', packets) == packets, log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, log.read_text()
    with sqlite3.connect(db) as c:
        cols = [r[1] for r in c.execute('PRAGMA table_info(flows)')]
        assert cols == ['ip_src', 'ip_dst', 'port_src', 'port_dst', 'tcp_flags', 'ip_proto',
                        'peer_ip_src', 'packets', 'bytes', 'stamp_inserted', 'stamp_updated']
        assert c.execute('SELECT SUM(bytes) FROM flows').fetchone()[0] == nbytes
        # 1-minute bins
        for (stamp,) in c.execute('SELECT DISTINCT stamp_inserted FROM flows'):
            assert stamp.endswith(':00'), stamp
        top_src = c.execute('SELECT ip_src, SUM(bytes) b FROM flows GROUP BY ip_src '
                            'ORDER BY b DESC LIMIT 1').fetchone()
    r = run([weir_bin, 'top', '--db', db, '-n', '3'])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert f'total: {nbytes} bytes, {packets} packets' in r.stdout, r.stdout
    first = [line for line in lines if line.strip().startswith('1 ')][0].split()
    assert first[1] == top_src[0] and int(first[2]) == top_src[1], r.stdout
    assert len([line for line in lines if re.match(r'\s+\d+\s', line)]) == 3
    r = run([weir_bin, 'top', '--db', db, '--by', 'proto', '--since', '2d'])
    assert r.returncode == 0 and 'udp' in r.stdout or 'tcp' in r.stdout, r.stdout
    r = run([weir_bin, 'top', '--db', db, '--by', 'as'])
    assert r.returncode == 1 and 'no column as_src' in r.stderr, r.stderr
    r = run([weir_bin, 'top', '--db', str(tmp_path / 'none.db')])
    assert r.returncode == 1


def _lines(db, extra=()):
    return ['plugins: sqlite3[s]', 'aggregate: src_host, dst_host, src_port, dst_port, proto',
            'sql_optimize_clauses: true', f'sql_db: {db}', 'sql_table: t', 'sql_refresh_time: 1',
            'sql_history: 1h', 'http_listen: '] + list(extra)


def test_bin_written_twice_adds_up(weir_bin, tmp_path):
    """Two flushes of the same 1-hour bin: the upsert adds; sql_dont_try_update inserts."""
    db = str(tmp_path / 'u.db')
    with SqlWeir(weir_bin, tmp_path, _lines(db, [f'sql_backlog_file: {tmp_path}/sp'])) as w:
        p1, b1 = _gen(weir_bin, w.port, n=2000, keys=50)
        assert _wait_sum(db, 't', p1) == p1
        p2, b2 = _gen(weir_bin, w.port, n=2000, keys=50)
        assert _wait_sum(db, 't', p1 + p2) == p1 + p2
        w.stop()
    with sqlite3.connect(db) as c:
        n, dist = c.execute('SELECT COUNT(*), COUNT(DISTINCT ip_src||ip_dst||port_src||port_dst'
                            '||ip_proto||stamp_inserted) FROM t').fetchone()
        assert n == dist  # one row per key and bin
        assert c.execute('SELECT SUM(bytes) FROM t').fetchone()[0] == b1 + b2


def test_missing_column_then_fixed(weir_bin, tmp_path):
    """A user table without port_dst: a clear error naming plugin, table and column; weir keeps
    running, the rows wait in the backlog and land once the column is added."""
    db = str(tmp_path / 'm.db')
    with sqlite3.connect(db) as c:
        c.execute('CREATE TABLE t (ip_src CHAR(45), ip_dst CHAR(45), port_src INT, ip_proto '
                  'CHAR(6), packets INT, bytes INT, stamp_inserted DATETIME, stamp_updated '
                  'DATETIME)')
    with SqlWeir(weir_bin, tmp_path, _lines(db, [f'sql_backlog_file: {tmp_path}/sp',
                                                 'sql_dont_try_update: true'])) as w:
        packets, _ = _gen(weir_bin, w.port, n=1000, keys=20)
        w.wait_log(r'plugin sqlite3\[s\]: table t: table t has no column named port_dst; '
                   r'rows kept in the backlog')
        w.wait_log(r'backlog [1-9]\d* batches')
        with sqlite3.connect(db) as c:
            c.execute('ALTER TABLE t ADD COLUMN port_dst INT')
        assert _wait_sum(db, 't', packets) == packets, w.log_text()
        w.stop()
    assert not os.path.exists(tmp_path / 'sp')  # never needed: memory held the batches


def test_unopenable_database_spools_and_replays(weir_bin, tmp_path):
    """sql_db in a directory that does not exist yet: rows go to the spool (also across a
    restart) and are written once the directory exists."""
    db = str(tmp_path / 'later' / 'x.db')
    spool = str(tmp_path / 'x.spool')
    conf = _lines(db, [f'sql_backlog_file: {spool}', 'sql_backlog_memory: 0'])
    with SqlWeir(weir_bin, tmp_path, conf) as w:
        p1, _ = _gen(weir_bin, w.port, n=1500, keys=30, seed=3)
        w.wait_log(r'sqlite3 \S+x\.db: unable to open database file; rows kept in the backlog')
        w.wait_log(r'backlog [1-9]\d* batches, spool [1-9]\d* bytes')
        w.stop()
    assert os.path.getsize(spool) > 24
    os.mkdir(tmp_path / 'later')
    with SqlWeir(weir_bin, tmp_path, conf) as w:
        p2, _ = _gen(weir_bin, w.port, n=1500, keys=30, seed=4)
        assert _wait_sum(db, 't', p1 + p2) == p1 + p2, w.log_text()
        w.stop()
    assert os.path.getsize(spool) == 24


def test_top_from_conf(weir_bin, tmp_path):
    """`weir top -f CONF` finds the sqlite3 plugin's sql_db and sql_table; a pattern table is
    the current bin's, explained when it is missing; the --since cutoff is a text compare."""
    db = str(tmp_path / 'c.db')
    with sqlite3.connect(db) as c:
        c.execute('CREATE TABLE t (ip_src CHAR(45), ip_dst CHAR(45), packets INT, bytes INT, '
                  'stamp_inserted DATETIME, stamp_updated DATETIME)')
        now = time.strftime('%Y-%m-%d %H:%M:00', time.gmtime())
        c.executemany('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)',
                      [('10.0.0.1', '10.9.0.1', 3, 300, now, now),
                       ('10.0.0.2', '10.9.0.1', 1, 100, now, now),
                       ('10.0.0.1', '10.9.0.2', 2, 50, now, now),
                       ('10.0.0.3', '10.9.0.3', 9, 900, '2000-01-01 00:00:00', now)])
    conf = tmp_path / 'w.conf'
    conf.write_text(f'plugins: print[p], sqlite3[s]\nsql_db[s]: {db}\nsql_table[s]: t\n')
    r = run([weir_bin, 'top', '-f', str(conf), '--by', 'dst_host'])
    assert r.returncode == 0, r.stderr
    assert 'total: 450 bytes, 6 packets, 3 rows' in r.stdout, r.stdout
    rows = [ln.split() for ln in r.stdout.splitlines() if re.match(r'\s+\d+\s', ln)]
    assert [x[1:5] for x in rows] == [['10.9.0.1', '400', '4', '2'], ['10.9.0.2', '50', '2', '1']]
    r = run([weir_bin, 'top', '-f', str(conf), '--plugin', 's', '--since', '0'])
    assert r.returncode == 0 and 'total: 1350 bytes, 15 packets, 4 rows' in r.stdout, r.stdout
    # the same through --db: the output does not depend on how the store was named
    r2 = run([weir_bin, 'top', '--db', db, '--table', 't', '--since', '0'])
    assert r2.stdout.splitlines()[1:] == r.stdout.splitlines()[1:]
    r = run([weir_bin, 'top', '-f', str(conf), '--plugin', 'p'])
    assert r.returncode == 2 and 'is no sqlite3, mysql or pgsql plugin' in r.stderr, r.stderr
    r = run([weir_bin, 'top', '-f', str(conf), '--db', db])
    assert r.returncode == 2 and 'exclude each other' in r.stderr, r.stderr
    conf.write_text(f'plugins: sqlite3[s]\nsql_db[s]: {db}\nsql_table[s]: t_%Y%m%d\n')
    before = 't_' + time.strftime('%Y%m%d', time.gmtime())
    r = run([weir_bin, 'top', '-f', str(conf)])
    after = 't_' + time.strftime('%Y%m%d', time.gmtime())  # the run may cross midnight
    assert r.returncode == 1 and 'is a pattern' in r.stderr, r.stderr
    assert f'has no table {before}' in r.stderr or f'has no table {after}' in r.stderr, r.stderr
    r = run([weir_bin, 'top', '-f', str(conf), '--table', 't', '--since', '0'])
    assert r.returncode == 0 and 'total: 1350 bytes' in r.stdout, r.stdout
    conf.write_text('plugins: print[p]\n')
    r = run([weir_bin, 'top', '-f', str(conf)])
    assert r.returncode == 2 and 'has no sqlite3, mysql or pgsql plugin' in r.stderr, r.stderr
