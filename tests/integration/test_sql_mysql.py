"""MySQL/MariaDB sink against a real MariaDB 10.11 the test starts: a corpus capture stored as the
print plugin prints it, the seed schema unchanged, the server SIGKILLed mid-stream and weir
restarted while it is down (per-key sums equal what was sent), and bad input (credentials,
database, missing column, a value that does not fit) logged with plugin, table and column while
weir keeps running; `weir top -f CONF` reading the plugin's table (same sums as the server's own
GROUP BY) and its errors (one line, exit 1)."""
import re
import subprocess

import pytest

from sqlservers import (COLS, MariaDB, SqlWeir, corpus_vs_print, fault_lines, free_tcp_port, gen,
                        key_sums, table_rows, wait_equal)

SEED = '''CREATE TABLE acct (ip_src CHAR(45), ip_dst CHAR(45), port_src INT(2) UNSIGNED,
  port_dst INT(2) UNSIGNED, tcp_flags INT(4) UNSIGNED, ip_proto CHAR(6), packets INT UNSIGNED,
  bytes BIGINT UNSIGNED, stamp_inserted DATETIME, stamp_updated DATETIME)'''


@pytest.fixture(scope='module')
def mdb():
    m = MariaDB()
    yield m
    m.close()


def _fetch(mdb, table):
    return lambda: mdb.root(f'SELECT {COLS} FROM {table}', db='flows')


def test_corpus_rows_equal_print(weir_bin, corpus_dir, tmp_path, mdb):
    want, got, log = corpus_vs_print(weir_bin, corpus_dir, tmp_path, 'mysql',
                                     mdb.conf('s', 'corpus'), _fetch(mdb, 'corpus'))
    assert got == want, log
    assert re.search(r'plugin mysql\[s\]: wrote \d+ rows', log)
    # weir created the table with a primary key: one row per key and bin
    n, = mdb.root('SELECT COUNT(*) FROM corpus', db='flows')[0]
    assert int(n) == len(got)


def test_seed_schema_unchanged(weir_bin, corpus_dir, tmp_path, mdb):
    """The issue's table (no primary key) with aggregate src_host, dst_host, src_port, dst_port,
    tcpflags, proto and sql_optimize_clauses: true."""
    mdb.root(SEED, db='flows')
    want, got, _ = corpus_vs_print(weir_bin, corpus_dir, tmp_path, 'mysql',
                                   mdb.conf('s', 'acct'), _fetch(mdb, 'acct'), 'softflowd_ipfix')
    assert got == want, set(want.items()) ^ set(got.items())


def _print_sums(w):
    return key_sums(w.rows('out'))


def test_server_killed_mid_stream(weir_bin, tmp_path, mdb):
    with SqlWeir(weir_bin, tmp_path, fault_lines('mysql', tmp_path, mdb, 'killed')) as w:
        fetch = _fetch_sums(mdb, 'killed')
        gen(weir_bin, w.port, 3000, seed=11)
        w.wait_log(r'plugin mysql\[s\]: wrote [1-9]\d* rows')
        mdb.kill()
        gen(weir_bin, w.port, 3000, seed=12)
        w.wait_log(r'plugin mysql\[s\]: .*(Lost connection|server has gone away)')
        gen(weir_bin, w.port, 3000, seed=13)
        w.wait_log(r"plugin mysql\[s\]: mysql .*: Can't connect to server")
        w.wait_log(r'backlog [1-9]\d* batches, spool [1-9]\d* bytes')
        mdb.start()
        gen(weir_bin, w.port, 3000, seed=14)
        want, got = wait_equal(lambda: _print_sums(w), fetch)
        assert got == want, set(want.items()) ^ set(got.items())
        w.wait_log(r'connected again')
        w.stop()


def _fetch_sums(mdb, table):
    def f():
        try:
            return key_sums(table_rows(mdb.root(f'SELECT {COLS} FROM {table}', db='flows')))
        except AssertionError:
            return None
    return f


@pytest.mark.parametrize('how', ['sigterm', 'sigkill'])
def test_weir_restarted_while_server_down(weir_bin, tmp_path, mdb, how):
    """weir stopped (SIGTERM: memory backlog spooled at exit) or killed (SIGKILL, with
    sql_backlog_memory: 0 so that every refused flush is on disk) while MariaDB is down, then
    started again: the spool is replayed once the server is back."""
    table = f'restarted_{how}'
    lines = fault_lines('mysql', tmp_path, mdb, table)
    if how == 'sigkill':
        lines.append('sql_backlog_memory[s]: 0')
    with SqlWeir(weir_bin, tmp_path, lines) as w:
        p1, _ = gen(weir_bin, w.port, 2000, seed=21)
        w.wait_log(r'plugin mysql\[s\]: wrote [1-9]\d* rows')
        mdb.kill()
        p2, _ = gen(weir_bin, w.port, 2000, seed=22)
        # every record sent is flushed by print[p]; the next flush of s parks the same interval
        total = lambda: sum(v[0] for v in _print_sums(w).values())  # noqa: E731
        wait_equal(lambda: p1 + p2, total)
        assert total() == p1 + p2
        mark = len(w.log_text())
        w.wait_log(r'(?s)^.{%d}.*plugin mysql\[s\]: wrote 0 rows .*backlog [1-9]' % mark)
        if how == 'sigterm':
            w.stop()
        else:
            w.proc.kill()
            w.proc.wait()
        first = _print_sums(w)
    with SqlWeir(weir_bin, tmp_path, lines) as w:
        w.wait_log(r'holds [1-9]\d* batches from before')
        gen(weir_bin, w.port, 2000, seed=23)
        w.wait_log(r'backlog [1-9]\d* batches')
        mdb.start()
        fetch = _fetch_sums(mdb, table)
        want, got = wait_equal(lambda: _print_sums(w), fetch)
        assert got == want, set(want.items()) ^ set(got.items())
        assert first.keys() <= want.keys()
        w.stop()


@pytest.mark.parametrize('case', ['credentials', 'database', 'column', 'range'])
def test_bad_input_is_named_and_kept(weir_bin, tmp_path, mdb, case):
    table = f'bad_{case}'
    user, passwd, db = 'flow', 'flowpw', 'flows'
    if case == 'credentials':
        passwd = 'wrong'
        want = r"plugin mysql\[s\]: mysql flow@127\.0\.0\.1:\d+/flows: Access denied for user"
    elif case == 'database':
        db = 'nope'
        want = r"plugin mysql\[s\]: mysql .*/nope: (Unknown database|Access denied .* to database) 'nope'"
    elif case == 'column':
        mdb.root(f'CREATE TABLE {table} (ip_src CHAR(45), ip_dst CHAR(45), port_src INT, '
                 'ip_proto CHAR(6), tcp_flags INT, packets INT, bytes BIGINT, '
                 'stamp_inserted DATETIME, stamp_updated DATETIME)', db='flows')
        want = rf"plugin mysql\[s\]: table {table}: mysql: Unknown column 'port_dst'"
    else:
        mdb.root(f'CREATE TABLE {table} (ip_src CHAR(45), ip_dst CHAR(45), port_src INT, '
                 'port_dst INT, ip_proto CHAR(6), tcp_flags INT, packets TINYINT UNSIGNED, '
                 'bytes BIGINT, stamp_inserted DATETIME, stamp_updated DATETIME)', db='flows')
        want = rf"plugin mysql\[s\]: table {table}: mysql: Out of range value for column 'packets'"
    lines = fault_lines('mysql', tmp_path, mdb, table)
    lines = [ln for ln in lines if not ln.startswith(('sql_user', 'sql_passwd', 'sql_db'))]
    lines += [f'sql_user[s]: {user}', f'sql_passwd[s]: {passwd}', f'sql_db[s]: {db}']
    with SqlWeir(weir_bin, tmp_path, lines) as w:
        gen(weir_bin, w.port, 3000, keys=5, seed=31)
        w.wait_log(want + r'.*rows kept in the backlog')
        m = w.wait_log(r'plugin mysql\[s\]: wrote 0 rows .*backlog [1-9]\d* batches.* errors '
                       r'[1-9]')
        assert m
        # still collecting: the print plugin keeps writing
        assert w.wait_records(3000, 'p') == 3000
        w.stop()


# --- weir top -f CONF reads the mysql plugin's table ---

TOP_ROW = re.compile(r'^\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+%$')
OLD = ("('192.0.2.1', '198.51.100.250', 1, 2, 'tcp', 0, 7, 7000, '2000-01-01 00:00:00', "
       "'2000-01-01 00:00:00')")


def _top(weir_bin, *args):
    r = subprocess.run([weir_bin, 'top', *args], capture_output=True, text=True, timeout=120)
    rows = {m.group(2): (int(m.group(3)), int(m.group(4)), int(m.group(5)))
            for m in map(TOP_ROW.match, r.stdout.splitlines()) if m}
    return r, rows


def _direct(mdb, table, where):
    """Per ip_dst (bytes, packets, rows) and the totals, straight from the server."""
    rows = {k: (int(b), int(p), int(n)) for k, b, p, n in mdb.root(
        f'SELECT ip_dst, SUM(bytes), SUM(packets), COUNT(*) FROM {table} WHERE {where} '
        'GROUP BY ip_dst', db='flows')}
    return rows, tuple(sum(v[i] for v in rows.values()) for i in range(3))


def test_top_reads_the_plugin(weir_bin, tmp_path, mdb):
    """weir gen into mysql[s], then `weir top -f conf --by dst_host` equals the server's own
    GROUP BY; --since is a DATETIME predicate (a row of 2000 counts only with --since 0)."""
    table = 'top_t'
    with SqlWeir(weir_bin, tmp_path, fault_lines('mysql', tmp_path, mdb, table)) as w:
        packets, nbytes = gen(weir_bin, w.port, 3000, keys=100, seed=41)
        sums = lambda: mdb.root(f'SELECT SUM(packets) FROM {table}', db='flows')  # noqa: E731
        wait_equal(lambda: [[str(packets)]], _fetch_or_none(sums))
        w.stop()
    mdb.root(f'INSERT INTO {table} ({COLS}, stamp_inserted, stamp_updated) VALUES {OLD}',
             db='flows')
    want, (wb, wp, wn) = recent = _direct(mdb, table, "stamp_inserted >= '2001-01-01'")
    assert (wb, wp) == (nbytes, packets)
    r, got = _top(weir_bin, '-f', w.conf, '--by', 'dst_host', '--since', '1d', '-n', '1000')
    assert r.returncode == 0, r.stderr
    assert f'weir top: mysql flow@127.0.0.1:{mdb.port}/flows table {table}, by dst_host' \
        in r.stdout, r.stdout
    assert f'total: {wb} bytes, {wp} packets, {wn} rows;' in r.stdout, r.stdout
    assert got == want
    want, (wb, wp, wn) = _direct(mdb, table, '1')
    r, got = _top(weir_bin, '-f', w.conf, '--plugin', 's', '--by', 'dst_host', '--since', '0',
                  '-n', '1000')
    assert r.returncode == 0, r.stderr
    assert f'total: {wb} bytes, {wp} packets, {wn} rows; bins 2000-01-01 00:00:00 ..' \
        in r.stdout, r.stdout
    assert got == want and got['198.51.100.250'] == (7000, 7, 1)
    # -n and the order: the largest ip_dst first
    r, got = _top(weir_bin, '-f', w.conf, '--by', 'dst_host', '-n', '3')
    assert r.returncode == 0 and len(got) == 3, r.stdout
    first = [ln for ln in r.stdout.splitlines() if TOP_ROW.match(ln)][0].split()
    assert int(first[2]) == max(b for b, _, _ in recent[0].values())


def _fetch_or_none(f):
    def g():
        try:
            return f()
        except AssertionError:
            return None
    return g


@pytest.mark.parametrize('case', ['password', 'unreachable', 'table', 'column'])
def test_top_errors(weir_bin, tmp_path, mdb, case):
    """One line on stderr naming the server or the table, exit 1."""
    user, passwd, port, table = 'flow', 'flowpw', mdb.port, 'top_err'
    if case == 'password':
        passwd = 'wrong'
        want = r"^weir top: mysql flow@127\.0\.0\.1:\d+/flows: Access denied for user 'flow'"
    elif case == 'unreachable':
        port = free_tcp_port()
        want = r"^weir top: mysql flow@127\.0\.0\.1:\d+/flows: Can't connect to server"
    elif case == 'table':
        want = r'^weir top: mysql .*/flows has no table top_err \(has the collector flushed'
    else:
        mdb.root('CREATE TABLE IF NOT EXISTS top_col (ip_src CHAR(45), packets INT, '
                 'bytes BIGINT, stamp_inserted DATETIME)', db='flows')
        table = 'top_col'
        want = r'^weir top: table top_col has no column ip_dst: add dst_host to the plugin'
    conf = tmp_path / 'top.conf'
    conf.write_text('\n'.join(['plugins: mysql[s]'] + mdb.conf('s', table, passwd=passwd) +
                              [f'sql_port[s]: {port}', f'sql_user[s]: {user}']) + '\n')
    r, _ = _top(weir_bin, '-f', str(conf), '--by', 'dst_host')
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(r.stderr.splitlines()) == 1 and re.search(want, r.stderr), r.stderr
