"""PostgreSQL sink against a real PostgreSQL 15 the test starts: a corpus capture stored as the
print plugin prints it (inet, numeric ip_proto), the server SIGKILLed mid-stream (per-key sums
equal what was sent), and bad input (credentials, database, missing column, a value that does not
fit) logged with plugin and table while weir keeps running."""
import re

import pytest

from sqlservers import (COLS, Postgres, SqlWeir, corpus_vs_print, fault_lines, gen, key_sums,
                        table_rows, wait_equal)


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
