#!/usr/bin/env python3
"""sflow_live.py - `weir gen -P sflow` at stepped rates into weir collect and pmacct's sfacctd;
then pcap metering from a savefile, flat out, weir collect beside pmacctd.

The live part reuses live.py's steps (same collector start, drain, CPU and drop readings);
sfacctd accounts the sum of `packets` of its print plugin (1 per flow sample, not renormalized).
The metering part replicates the corpus traffic pcap into a larger file (timestamps shifted,
so every copy makes new flows) and runs each collector over it once per repetition.
"""
import argparse
import os
import shutil
import statistics
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live  # noqa: E402


class Sfacctd(live.Nfacctd):
    name = 'sfacctd'

    def start(self, port):
        cmd = super().start(port)
        conf = cmd[-1]
        text = open(conf).read().replace('nfacctd_', 'sfacctd_')
        with open(conf, 'w') as f:
            f.write(text)
        return [self.args.sfacctd, '-f', conf]


class WeirSflow(live.Weir):
    def start(self, port):
        cmd = super().start(port)
        with open(cmd[-1], 'a') as f:
            f.write('sfacctd_port:\n')  # only the benchmark's port
        return cmd


def live_part(a):
    rates = [live.parse_rate(r) for r in a.rates.split(',')]
    work = f'/dev/shm/weir-sflow-bench.{os.getpid()}'
    os.makedirs(work)
    cols = [('weir', WeirSflow)]
    if os.access(a.sfacctd, os.X_OK):
        cols.append(('sfacctd', Sfacctd))
    else:
        live.log('sflow: sfacctd not installed, left out')
    results = {}
    try:
        for name, cls in cols:
            col = cls(a, work)
            col.name = name
            results[name] = {}
            lost = 0
            for rate in rates:
                if rate and lost >= 2:
                    continue
                m = live.median_step([live.run_step(col, rate, a) for _ in range(a.reps)])
                results[name][rate] = m
                lost = lost + 1 if m['lossless_reps'] < m['reps'] else 0
                live.log(f'sflow: {name:8} {live.fmt_rate(rate) if rate else "max":>6}: '
                         f'{m["gen_rate"]:.0f} samples/s, loss {m["loss_pct"]:.2f}%, '
                         f'{m["cpu_s_per_m"]:.3f} cpu s/M')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    names = [n for n, _ in cols]
    live.print_steps(results, rates, names)
    # print_summary compares weir with nfacctd; here the pair is weir and sfacctd
    results_pair = {('nfacctd' if n == 'sfacctd' else n): v for n, v in results.items()}
    live.print_summary(results_pair, rates, ['weir', 'nfacctd'] if 'sfacctd' in results
                       else ['weir'])
    print('(in the summary, "nfacctd" is sfacctd)')


def replicate(src, dst, copies):
    """src pcap (classic, microseconds) copied `copies` times, each an hour later."""
    data = open(src, 'rb').read()
    hdr, body = data[:24], data[24:]
    recs, off = [], 0
    while off + 16 <= len(body):
        sec, usec, incl, orig = struct.unpack('<IIII', body[off:off + 16])
        recs.append((sec, usec, body[off + 16:off + 16 + incl], incl, orig))
        off += 16 + incl
    with open(dst, 'wb') as f:
        f.write(hdr)
        for c in range(copies):
            for sec, usec, frame, incl, orig in recs:
                f.write(struct.pack('<IIII', sec + c * 3600, usec, incl, orig) + frame)
    return len(recs) * copies


def cpu_of(cmd, cwd):
    """Runs cmd to its exit; utime+stime of it and its children (RUSAGE_CHILDREN delta)."""
    before = os.times()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    after = os.times()
    if r.returncode:
        raise RuntimeError(f'{cmd[0]}: exit {r.returncode}: {r.stderr[-1000:]}')
    return (after.children_user - before.children_user) + \
        (after.children_system - before.children_system), r


def metering_part(a):
    work = f'/dev/shm/weir-meter-bench.{os.getpid()}'
    os.makedirs(work)
    try:
        big = os.path.join(work, 'traffic.pcap')
        n = replicate(a.pcap, big, a.copies)
        weir_conf = os.path.join(work, 'weir.conf')
        with open(weir_conf, 'w') as f:
            f.write('daemonize: false\nnfacctd_ip: 127.0.0.1\n'
                    f'nfacctd_port: {live.free_port()}\nsfacctd_port:\nworkers: 1\n'
                    f'pcap_savefile: {big}\nplugins: print[p]\n'
                    'aggregate[p]: src_host, dst_host, src_port, dst_port, proto\n'
                    'print_output[p]: json\nprint_output_file[p]: /dev/null\n'
                    'print_refresh_time[p]: 60\n')
        pm_conf = os.path.join(work, 'pmacctd.conf')
        with open(pm_conf, 'w') as f:
            f.write(f'daemonize: false\npcap_savefile: {big}\nplugins: print[p]\n'
                    'aggregate[p]: src_host, dst_host, src_port, dst_port, proto\n'
                    'print_output[p]: json\nprint_output_file[p]: /dev/null\n'
                    'print_refresh_time[p]: 60\n')
        runs = {'weir': [a.weir, 'collect', '-F', '-f', weir_conf]}
        if os.access(a.pmacctd, os.X_OK):
            runs['pmacctd'] = [a.pmacctd, '-f', pm_conf]
        res = {}
        for name, cmd in runs.items():
            cpu = []
            for _ in range(a.reps):
                c, _ = cpu_of(cmd, work)
                cpu.append(c)
            res[name] = statistics.median(cpu)
            live.log(f'meter: {name}: {n} packets, {res[name]:.2f} cpu s (median)')
        print(f'{"collector":9} {"packets":>9} {"cpu s":>7} {"packets/cpu s":>14} '
              f'{"weir speedup":>12}')
        for name, c in res.items():
            speed = f'{res[name] / res["weir"]:.1f}x' if name != 'weir' else '-'
            print(f'{name:9} {n:>9} {c:>7.2f} {n / c:>14.0f} {speed:>12}')
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--weir', required=True)
    p.add_argument('--sfacctd', default=shutil.which('sfacctd') or '/usr/sbin/sfacctd')
    p.add_argument('--pmacctd', default=shutil.which('pmacctd') or '/usr/sbin/pmacctd')
    p.add_argument('--pcap', required=True, help='traffic pcap to meter (corpus source)')
    p.add_argument('--copies', type=int, default=100)
    p.add_argument('--rates', default='250k,500k,1M,2M,max')
    p.add_argument('--secs', type=float, default=2.0)
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--keys', type=int, default=10000)
    p.add_argument('--rcvbuf', type=int, default=4 << 20)
    p.add_argument('--part', choices=('live', 'meter', 'both'), default='both')
    a = p.parse_args()
    a.weir = os.path.abspath(a.weir)
    a.gen_bin, a.proto, a.nfacctd = a.weir, 'sflow', a.sfacctd
    if a.part in ('live', 'both'):
        live_part(a)
    if a.part in ('meter', 'both'):
        print()
        metering_part(a)


if __name__ == '__main__':
    main()
