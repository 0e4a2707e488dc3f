#!/usr/bin/env python3
"""sql_live.py - SQL write rate: weir's sinks on a 100 k-key bin (bench/sql_bench, offline), and
weir collect beside nfacctd's sqlite3/mysql/pgsql plugins fed the same ~100 k-key stream by weir
gen, each flush timed from the collectors' own logs (weir: "wrote N rows in M ms"; pmacct:
"Purging cache - END (... QN: N/N, ET: S)"). MariaDB and PostgreSQL are started here on loopback
(tests/integration/sqlservers.py) and removed afterwards."""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

from sqlservers import MariaDB, Postgres  # noqa: E402

AGG = 'src_host, dst_host, src_port, dst_port, proto, tcpflags'
TABLE = {
    'sqlite3': 'CREATE TABLE {t} (ip_src CHAR(45) NOT NULL, ip_dst CHAR(45) NOT NULL, port_src INT '
               'NOT NULL, port_dst INT NOT NULL, tcp_flags INT NOT NULL, ip_proto CHAR(6) NOT NULL, '
               'packets BIGINT NOT NULL, bytes BIGINT NOT NULL, stamp_inserted DATETIME NOT NULL, '
               'stamp_updated DATETIME, PRIMARY KEY (ip_src, ip_dst, port_src, port_dst, ip_proto, '
               'stamp_inserted))',
}
TABLE['mysql'] = TABLE['sqlite3'].replace('INT NOT', 'INT UNSIGNED NOT')
TABLE['pgsql'] = (TABLE['sqlite3'].replace('CHAR(45)', 'inet').replace('CHAR(6)', 'SMALLINT')
                  .replace('DATETIME', 'timestamp'))


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def db_lines(kind, srv, db_path):
    if kind == 'sqlite3':
        return [f'sql_db: {db_path}']
    return ['sql_host: 127.0.0.1', f'sql_port: {srv.port}', 'sql_user: flow',
            'sql_passwd: flowpw', 'sql_db: flows']


def create(kind, srv, db_path, table):
    sql = TABLE[kind].format(t=table)
    if kind == 'sqlite3':
        subprocess.run(['sqlite3', db_path, sql], check=True)
    elif kind == 'mysql':
        srv.root(sql, db='flows')
    else:
        srv.psql(sql, user='flow')


def offline(args, kind, srv, work):
    extra = ['sql_table=bench_off', 'sql_optimize_clauses=true', f'sql_backlog_file={work}/off.spool']
    if kind == 'sqlite3':
        extra.append(f'sql_db={work}/off.db')
    else:
        extra += [f'sql_port={srv.port}', 'sql_host=127.0.0.1', 'sql_user=flow',
                  'sql_passwd=flowpw', 'sql_db=flows']
    r = subprocess.run([args.tool, kind] + extra, capture_output=True, text=True, timeout=600)
    sys.stdout.write(r.stdout)
    if r.returncode:
        print(f'{kind}: sql_bench failed: {r.stderr.strip()}')


def live(args, who, kind, srv, work):
    """One collector, one 100 k-key burst, the first flush after it: (rows, seconds)."""
    port = free_udp_port()
    db_path = f'{work}/{who}-{kind}.db'
    table = f'live_{who}'
    create(kind, srv, db_path, table)
    log = f'{work}/{who}-{kind}.log'
    common = [f'aggregate: {AGG}', 'sql_optimize_clauses: true', f'sql_table: {table}',
              'sql_refresh_time: 20', 'sql_history: 1h', 'sql_cache_entries: 400009'] + \
        db_lines(kind, srv, db_path)
    if who == 'weir':
        conf = ['daemonize: false', 'nfacctd_ip: 127.0.0.1', f'nfacctd_port: {port}',
                f'logfile: {log}', 'http_listen: ', f'plugins: {kind}[b]',
                f'sql_backlog_file: {work}/live.spool', 'nfacctd_pipe_size: 16m'] + common
        cmd = [args.weir, 'collect', '-F', '-f']
    else:
        conf = ['daemonize: false', 'nfacctd_ip: 127.0.0.1', f'nfacctd_port: {port}',
                f'logfile: {log}', f'plugins: {kind}[b]', 'plugin_pipe_size: 102400000',
                'plugin_buffer_size: 102400', 'nfacctd_pipe_size: 16777216',
                'sql_multi_values: 4096000', 'sql_table_version: 9'] + common
        cmd = [shutil.which('nfacctd') or '/usr/sbin/nfacctd', '-f']
    path = f'{work}/{who}-{kind}.conf'
    with open(path, 'w') as f:
        f.write('\n'.join(conf) + '\n')
    proc = subprocess.Popen(cmd + [path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        subprocess.run([args.weir, 'gen', '-n', str(args.records), '-k', str(args.keys), '-r',
                        args.rate, f'127.0.0.1:{port}'], capture_output=True, timeout=600)
        deadline = time.monotonic() + 120
        pat = (r'wrote ([1-9]\d*) rows in (\d+) ms' if who == 'weir'
               else r'Purging cache - END \(PID: \d+, QN: (\d+)/\d+, ET: (\d+)\)')
        while time.monotonic() < deadline:
            text = open(log).read() if os.path.exists(log) else ''
            hits = [(int(a), int(b)) for a, b in re.findall(pat, text) if int(a) > 1000]
            if hits:
                rows, t = hits[0]
                return rows, (t / 1000.0 if who == 'weir' else float(t))
            time.sleep(0.5)
        return None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weir', required=True)
    ap.add_argument('--tool', required=True)
    ap.add_argument('--keys', type=int, default=100000)
    ap.add_argument('--records', type=int, default=400000)
    ap.add_argument('--rate', default='200k')
    ap.add_argument('--backends', default='sqlite3,mysql,pgsql')
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix='weir-sqlbench.')
    servers = {}
    try:
        kinds = args.backends.split(',')
        if 'mysql' in kinds:
            servers['mysql'] = MariaDB()
        if 'pgsql' in kinds:
            servers['pgsql'] = Postgres()
        print('-- offline: bench/sql_bench, 100 000 rows of one bin, 1024-row writes, one flush')
        for kind in kinds:
            offline(args, kind, servers.get(kind), work)
        print(f'\n-- live: weir gen -n {args.records} -k {args.keys} -> collector; the first '
              'flush of the bin, from the collector\'s log (pmacct logs whole seconds)')
        print('| backend | collector | rows | flush s | rows/s |')
        print('|---|---|---|---|---|')
        for kind in kinds:
            res = {}
            for who in ('weir', 'pmacct'):
                res[who] = live(args, who, kind, servers.get(kind), work)
                if res[who]:
                    rows, t = res[who]
                    rate = f'{rows / t:,.0f}' if t > 0 else f'> {rows:,}'
                    print(f'| {kind} | {who} | {rows:,} | {t:.3f} | {rate} |')
                else:
                    print(f'| {kind} | {who} | - | - | no flush seen |')
            sys.stdout.flush()
    finally:
        for s in servers.values():
            s.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
