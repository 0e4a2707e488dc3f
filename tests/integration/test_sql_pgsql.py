"""PostgreSQL sink against a real PostgreSQL 15 the test starts: a corpus capture stored as the
print plugin prints it (inet, numeric ip_proto), the server SIGKILLed mid-stream (per-key sums
equal what was sent), and bad input (credentials, database, missing column, a value that does not
fit) logged with plugin and table while weir keeps running; `weir top -f CONF` reading the
plugin's table (same sums as the server's own GROUP BY) and its errors (one line, exit 1)."""
import re
import subprocess

import pytest

from sqlservers import (COLS, Postgres, SqlWeir, corpus_vs_print, fault_lines, free_tcp_port, gen,
                        key_sums, table_rows, wait_equal)


@pytest.fixture(scope='module')
def pg():
    p = Postgres()
    yield p
    p.close()


def _fetch(pg, table):
    return lambda: pg.psql(f'SELECT {COLS} FROM {table}')


def _fetch_sums(pg, table):
    def f():
        try:
            return key_sums(table_rows(pg.psql(f'SELECT {COLS} FROM {table}')))
        except AssertionError:
            return None
    return f


def test_corpus_rows_equal_print(weir_bin, corpus_dir, tmp_path, pg):
    want, got, log = corpus_vs_print(weir_bin, corpus_dir, tmp_path, 'pgsql',
                                     pg.conf('s', 'corpus'), _fetch(pg, 'corpus'))
    assert got == want, log
    assert re.search(r'plugin pgsql\[s\]: wrote \d+ rows', log)
    n, = pg.psql('SELECT COUNT(*) FROM corpus')[0]
    assert int(n) == len(got)
    types = dict(pg.psql("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = 'corpus'"))
    assert types['ip_src'] == 'inet' and types['ip_proto'] == 'smallint'


def test_pmacct_v9_table(weir_bin, corpus_dir, tmp_path, pg):
    """pmacct's own acct_v9 schema (deploy/sql/pgsql/acct_v9.sql) without sql_optimize_clauses:
    every v9 column written, absent primitives as zeros, upserts on its primary key."""
    import os
    schema = os.path.join(os.path.dirname(__file__), '..', '..', 'deploy', 'sql', 'pgsql',
                          'acct_v9.sql')
    with open(schema) as f:
        pg.psql(f.read(), user='flow')
    want, got, log = corpus_vs_print(weir_bin, corpus_dir, tmp_path, 'pgsql',
                                   pg.conf('s', 'acct_v9') + ['sql_optimize_clauses[s]: false'],
                                   _fetch(pg, 'acct_v9'), 'softflowd_ipfix')
    assert got == want, log


def test_server_killed_mid_stream(weir_bin, tmp_path, pg):
    with SqlWeir(weir_bin, tmp_path, fault_lines('pgsql', tmp_path, pg, 'killed')) as w:
        gen(weir_bin, w.port, 3000, seed=11)
        w.wait_log(r'plugin pgsql\[s\]: wrote [1-9]\d* rows')
        pg.kill()
        gen(weir_bin, w.port, 3000, seed=12)
        w.wait_log(r'plugin pgsql\[s\]: pgsql .*: connection to server .* failed')
        gen(weir_bin, w.port, 3000, seed=13)
        w.wait_log(r'backlog [1-9]\d* batches, spool [1-9]\d* bytes')
        pg.start()
        gen(weir_bin, w.port, 3000, seed=14)
        want, got = wait_equal(lambda: key_sums(w.rows('out')), _fetch_sums(pg, 'killed'))
        assert got == want, set(want.items()) ^ set(got.items())
        w.wait_log(r'connected again')
        w.stop()


@pytest.mark.parametrize('case', ['credentials', 'database', 'column', 'range'])
def test_bad_input_is_named_and_kept(weir_bin, tmp_path, pg, case):
    table = f'bad_{case}'
    user, passwd, db = 'flow', 'flowpw', 'flows'
    if case == 'credentials':
        user = 'nobody'
        want = r'plugin pgsql\[s\]: pgsql nobody@127\.0\.0\.1:\d+/flows: .*role "nobody" does not exist'
    elif case == 'database':
        db = 'nope'
        want = r'plugin pgsql\[s\]: pgsql .*/nope: .*database "nope" does not exist'
    elif case == 'column':
        pg.psql(f'CREATE TABLE {table} (ip_src inet, ip_dst inet, port_src INT, ip_proto SMALLINT, '
                'tcp_flags INT, packets BIGINT, bytes BIGINT, stamp_inserted timestamp, '
                'stamp_updated timestamp)', user='flow')
        want = rf'plugin pgsql\[s\]: table {table}: pgsql: column "port_dst" of relation "{table}" does not exist'
    else:
        pg.psql(f'CREATE TABLE {table} (ip_src inet, ip_dst inet, port_src INT, port_dst INT, '
                'ip_proto SMALLINT, tcp_flags INT, packets BIGINT, bytes SMALLINT, '
                'stamp_inserted timestamp, stamp_updated timestamp)', user='flow')
        want = rf'plugin pgsql\[s\]: table {table}: pgsql: value "\d+" is out of range for type smallint.*column bytes'
    lines = fault_lines('pgsql', tmp_path, pg, table)
    lines = [ln for ln in lines if not ln.startswith(('sql_user', 'sql_passwd', 'sql_db'))]
    lines += [f'sql_user[s]: {user}', f'sql_passwd[s]: {passwd}', f'sql_db[s]: {db}']
    with SqlWeir(weir_bin, tmp_path, lines) as w:
        gen(weir_bin, w.port, 3000, keys=5, seed=31)
        w.wait_log(want + r'.*rows kept in the backlog')
        w.wait_log(r'plugin pgsql\[s\]: wrote 0 rows .*backlog [1-9]\d* batches.* errors [1-9]')
        assert w.wait_records(3000, 'p') == 3000
        w.stop()


# --- weir top -f CONF reads the pgsql plugin's table ---

TOP_ROW = re.compile(r'^\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+%$')
OLD = ("('192.0.2.1', '198.51.100.250', 1, 2, 6, 0, 7, 7000, '2000-01-01 00:00:00', "
       "'2000-01-01 00:00:00')")


def _top(weir_bin, *args):
    r = subprocess.run([weir_bin, 'top', *args], capture_output=True, text=True, timeout=120)
    rows = {m.group(2): (int(m.group(3)), int(m.group(4)), int(m.group(5)))
            for m in map(TOP_ROW.match, r.stdout.splitlines()) if m}
    return r, rows


def _direct(pg, table, where):
    """Per ip_dst (bytes, packets, rows) and the totals, straight from the server."""
    rows = {k: (int(b), int(p), int(n)) for k, b, p, n in pg.psql(
        f'SELECT ip_dst, SUM(bytes), SUM(packets), COUNT(*) FROM {table} WHERE {where} '
        'GROUP BY ip_dst')}
    return rows, tuple(sum(v[i] for v in rows.values()) for i in range(3))


def test_top_reads_the_plugin(weir_bin, tmp_path, pg):
    """weir gen into pgsql[s], then `weir top -f conf --by dst_host` equals the server's own
    GROUP BY; --since is a timestamp predicate (a row of 2000 counts only with --since 0)."""
    table = 'top_t'
    with SqlWeir(weir_bin, tmp_path, fault_lines('pgsql', tmp_path, pg, table)) as w:
        packets, nbytes = gen(weir_bin, w.port, 3000, keys=100, seed=41)
        sums = _fetch_or_none(lambda: pg.psql(f'SELECT SUM(packets) FROM {table}'))
        wait_equal(lambda: [[str(packets)]], sums)
        w.stop()
    pg.psql(f'INSERT INTO {table} ({COLS}, stamp_inserted, stamp_updated) VALUES {OLD}')
    want, (wb, wp, wn) = recent = _direct(pg, table, "stamp_inserted >= '2001-01-01'")
    assert (wb, wp) == (nbytes, packets)
    r, got = _top(weir_bin, '-f', w.conf, '--by', 'dst_host', '--since', '1d', '-n', '1000')
    assert r.returncode == 0, r.stderr
    assert f'weir top: pgsql flow@127.0.0.1:{pg.port}/flows table {table}, by dst_host' \
        in r.stdout, r.stdout
    assert f'total: {wb} bytes, {wp} packets, {wn} rows;' in r.stdout, r.stdout
    assert got == want
    want, (wb, wp, wn) = _direct(pg, table, 'true')
    r, got = _top(weir_bin, '-f', w.conf, '--plugin', 's', '--by', 'dst_host', '--since', '0',
                  '-n', '1000')
    assert r.returncode == 0, r.stderr
    assert f'total: {wb} bytes, {wp} packets, {wn} rows; bins 2000-01-01 00:00:00 ..' \
        in r.stdout, r.stdout
    assert got == want and got['198.51.100.250'] == (7000, 7, 1)
    r, got = _top(weir_bin, '-f', w.conf, '--by', 'dst_host', '-n', '3')
    assert r.returncode == 0 and len(got) == 3, r.stdout
    first = [ln for ln in r.stdout.splitlines() if TOP_ROW.match(ln)][0].split()
    assert int(first[2]) == max(b for b, _, _ in recent[0].values())
    # ip_proto is a number in pgsql: printed by name as the other backends store it
    r, got = _top(weir_bin, '-f', w.conf, '--by', 'proto')
    assert r.returncode == 0 and set(got) <= {'tcp', 'udp', 'icmp'} and got, r.stdout


def _fetch_or_none(f):
    def g():
        try:
            return f()
        except AssertionError:
            return None
    return g


@pytest.fixture
def pw_role(pg):
    """A role that must give its password (the fixture's server trusts everyone else)."""
    hba = f'{pg.dir}/data/pg_hba.conf'
    with open(hba) as f:
        text = f.read()
    if 'topuser' not in text:
        with open(hba, 'w') as f:
            f.write('host all topuser 127.0.0.1/32 scram-sha-256\n' + text)
        pg.psql("CREATE ROLE topuser LOGIN PASSWORD 'toppw'", db='postgres')
        pg.psql('SELECT pg_reload_conf()', db='postgres')
    return 'topuser'


@pytest.mark.parametrize('case', ['password', 'role', 'unreachable', 'table', 'column'])
def test_top_errors(weir_bin, tmp_path, pg, pw_role, case):
    """One line on stderr naming the server or the table, exit 1."""
    user, passwd, port, table = 'flow', 'flowpw', pg.port, 'top_err'
    if case == 'password':
        user, passwd = pw_role, 'wrong'
        want = r'^weir top: pgsql topuser@127\.0\.0\.1:\d+/flows: .*password authentication ' \
            r'failed for user "topuser"'
    elif case == 'role':
        user = 'nobody'
        want = r'^weir top: pgsql nobody@127\.0\.0\.1:\d+/flows: .*role "nobody" does not exist'
    elif case == 'unreachable':
        port = free_tcp_port()
        want = r'^weir top: pgsql flow@127\.0\.0\.1:\d+/flows: connection to server .* failed'
    elif case == 'table':
        want = r'^weir top: pgsql .*/flows has no table top_err \(has the collector flushed'
    else:
        pg.psql('CREATE TABLE IF NOT EXISTS top_col (ip_src inet, packets BIGINT, bytes BIGINT, '
                'stamp_inserted timestamp)', user='flow')
        table = 'top_col'
        want = r'^weir top: table top_col has no column ip_dst: add dst_host to the plugin'
    conf = tmp_path / 'top.conf'
    conf.write_text('\n'.join(['plugins: pgsql[s]'] + pg.conf('s', table, passwd=passwd) +
                              [f'sql_port[s]: {port}', f'sql_user[s]: {user}']) + '\n')
    r, _ = _top(weir_bin, '-f', str(conf), '--by', 'dst_host')
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(r.stderr.splitlines()) == 1 and re.search(want, r.stderr), r.stderr
