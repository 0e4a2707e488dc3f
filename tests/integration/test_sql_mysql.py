"""MySQL/MariaDB sink against a real MariaDB 10.11 the test starts: a corpus capture stored as the
print plugin prints it, the seed schema unchanged, the server SIGKILLed mid-stream and weir
restarted while it is down (per-key sums equal what was sent), and bad input (credentials,
database, missing column, a value that does not fit) logged with plugin, table and column while
weir keeps running."""
import re

import pytest

from sqlservers import (COLS, MariaDB, SqlWeir, corpus_vs_print, fault_lines, gen, key_sums,
                        table_rows, wait_equal)

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
