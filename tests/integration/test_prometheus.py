"""test_prometheus.py - the prometheus plugin scraped by a real Prometheus 2.42: PromQL sums,
topk and rate match what weir gen sent; max_series folds the rest into `other`."""
import subprocess

from tsutil import Collector, Prometheus, gen, need, samples, wait_until


def test_prometheus_scrapes_flow_counters(weir_bin, tmp_path):
    c = Collector(weir_bin, tmp_path, ['plugins=prometheus[as]', 'aggregate=dst_as',
                                       'print_refresh_time=1'])
    prom = None
    try:
        first = gen(weir_bin, c.udp, 2000, keys=300)
        # the plugin's counters show every byte once the interval is flushed
        wait_until(lambda: sum(samples(c.metrics(), 'weir_flow_bytes_total').values()) ==
                   first['bytes'], 'weir_flow_bytes_total to reach the bytes sent')
        prom = Prometheus(tmp_path, f'127.0.0.1:{c.http}')
        q = 'sum(weir_flow_bytes_total{plugin="as"})'
        wait_until(lambda: prom.query(q) and float(prom.query(q)[0]['value'][1]) ==
                   first['bytes'], 'prometheus to scrape the totals')
        second = gen(weir_bin, c.udp, 1000, keys=300)
        total = first['bytes'] + second['bytes']
        wait_until(lambda: prom.query(q) and float(prom.query(q)[0]['value'][1]) == total,
                   'prometheus to see the second batch (counters only grow)')
        text = c.metrics()
        exposed = samples(text, 'weir_flow_bytes_total')
        top = sorted(exposed.values(), reverse=True)[:3]
        got = sorted((float(r['value'][1]) for r in
                      prom.query('topk(3, weir_flow_bytes_total{plugin="as"})')), reverse=True)
        assert got == top
        rate = prom.query('sum(rate(weir_flow_bytes_total{plugin="as"}[1m]))')
        assert rate and float(rate[0]['value'][1]) > 0
        pkts = prom.query('sum(weir_flow_packets_total{plugin="as"})')
        assert float(pkts[0]['value'][1]) == first['packets'] + second['packets']
        chk = subprocess.run([need('promtool'), 'check', 'metrics'], input=text,
                             capture_output=True, text=True, timeout=60)
        assert chk.returncode == 0, chk.stdout + chk.stderr
    finally:
        if prom:
            prom.stop()
        assert c.stop() == 0


def test_max_series_folds_into_other(weir_bin, tmp_path):
    c = Collector(weir_bin, tmp_path, ['plugins=prometheus[as]', 'aggregate=dst_as',
                                       'print_refresh_time=1', 'prometheus_max_series=10'])
    try:
        tot = gen(weir_bin, c.udp, 2000, keys=300)
        wait_until(lambda: sum(samples(c.metrics(), 'weir_flow_bytes_total').values()) ==
                   tot['bytes'], 'all bytes on /metrics')
        text = c.metrics()
        exposed = samples(text, 'weir_flow_bytes_total')
        assert len(exposed) == 11
        assert exposed['{plugin="as",as_dst="other"}'] > 0
        assert samples(text, 'weir_prometheus_folded_total')['{plugin="as"}'] > 0
        # the series kept are the biggest keys of the first interval
        others = [v for k, v in exposed.items() if 'other' not in k]
        assert len(others) == 10
    finally:
        assert c.stop() == 0
