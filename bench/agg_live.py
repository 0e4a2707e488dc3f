#!/usr/bin/env python3
"""agg_live.py - live aggregation: `weir gen` -> weir collect (1 and 2 workers) and nfacctd,
both aggregating by the 5-tuple into print files every second.

Reuses live.py's stepping (bounded sends to 127.0.0.1, drain, CPU from /proc, medians). A
record counts as accounted only once it is in a written row: the packets of every row of every
output file are summed (gen sends one packet per record), for weir and nfacctd alike.
"""
import argparse
import glob
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live as L  # noqa: E402

FIVE_TUPLE = 'src_host, dst_host, src_port, dst_port, proto'


def sum_packets(pattern):
    total = 0
    for path in glob.glob(pattern):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    total += int(json.loads(line)['packets'])
    return total


class WeirAgg(L.Collector):
    workers = 2
    refresh_wait = 1.5

    def start(self, port):
        self.out = os.path.join(self.work, f'{self.name}-out')
        shutil.rmtree(self.out, ignore_errors=True)
        conf = os.path.join(self.work, f'{self.name}.conf')
        with open(conf, 'w') as f:
            f.write('daemonize: false\n'
                    'nfacctd_ip: 127.0.0.1\n'
                    f'nfacctd_port: {port}\n'
                    f'nfacctd_pipe_size: {self.args.rcvbuf}\n'
                    f'workers: {self.workers}\n'
                    'plugins: print[p]\n'
                    f'aggregate[p]: {FIVE_TUPLE}\n'
                    'print_output[p]: json\n'
                    f'print_output_file[p]: {self.out}/%s.json\n'
                    'print_refresh_time[p]: 1\n')
        return [self.args.weir, 'collect', '-f', conf]

    def accounted(self, out, err):
        return sum_packets(os.path.join(self.out, '*.json'))


class Weir2(WeirAgg):
    name = 'weir'


class Weir1(WeirAgg):
    name = 'weir-1w'
    workers = 1


class NfacctdAgg(L.Nfacctd):
    def start(self, port):
        cmd = super().start(port)
        conf = cmd[-1]
        with open(conf) as f:
            text = f.read().replace('aggregate[p]: peer_src_ip', f'aggregate[p]: {FIVE_TUPLE}')
        with open(conf, 'w') as f:
            f.write(text)  # default print_cache_entries: larger caches make nfacctd lose more
        return cmd


COLLECTORS = {'weir': Weir2, 'weir-1w': Weir1, 'nfacctd': NfacctdAgg}


def with_exporters(gen_bin, exporters, work):
    """live.run_step runs `GEN gen ...`: a wrapper adds `-e N` so that N exporters (sources
    127.0.0.1..N) spread over the collector's SO_REUSEPORT workers."""
    path = os.path.join(work, 'gen-wrapper')
    with open(path, 'w') as f:
        f.write(f'#!/bin/sh\nsub=$1\nshift\nexec {gen_bin} "$sub" -e {exporters} "$@"\n')
    os.chmod(path, 0o755)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--weir', required=True)
    p.add_argument('--nfacctd', default=shutil.which('nfacctd') or '/usr/sbin/nfacctd')
    p.add_argument('--collectors', default='weir,weir-1w,nfacctd')
    p.add_argument('--rates', default='250k,500k,1M,2M,4M,max')
    p.add_argument('--secs', type=float, default=2.0)
    p.add_argument('--reps', type=int, default=2)
    p.add_argument('--proto', default='ipfix')
    p.add_argument('--keys', type=int, default=10000)
    p.add_argument('--rcvbuf', type=int, default=4 << 20)
    p.add_argument('--exporters', type=int, default=4, help='gen -e: sources spread on workers')
    a = p.parse_args()
    a.gen_bin = a.weir
    rates = [L.parse_rate(r) for r in a.rates.split(',')]
    work = f'/dev/shm/weir-aggbench.{os.getpid()}'
    os.makedirs(work)
    a.gen_bin = with_exporters(os.path.abspath(a.weir), a.exporters, work)
    names = [n for n in a.collectors.split(',')
             if os.access(a.nfacctd if n == 'nfacctd' else a.weir, os.X_OK)]
    results = {}
    L.log(f'agg_live: {a.proto}, {a.keys} keys, {a.exporters} exporters, 5-tuple aggregation, '
          f'{a.secs:g} s per step, '
          f'{a.reps} reps, collectors {",".join(names)}')
    try:
        for n in names:
            col = COLLECTORS[n](a, work)
            results[n] = {}
            lost_in_row = 0
            for rate in rates:
                if rate and lost_in_row >= 2:
                    continue
                m = L.median_step([L.run_step(col, rate, a) for _ in range(a.reps)])
                results[n][rate] = m
                lost_in_row = lost_in_row + 1 if m['lossless_reps'] < m['reps'] else 0
                L.log(f'agg_live: {n:8} {L.fmt_rate(rate) if rate else "max":>6}: gen '
                      f'{m["gen_rate"]:.0f} rec/s, loss {m["loss_pct"]:.2f}%, '
                      f'{m["cpu_s_per_m"]:.3f} cpu s/M')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    L.print_steps(results, rates, names)
    L.print_summary(results, rates, names)


if __name__ == '__main__':
    main()
