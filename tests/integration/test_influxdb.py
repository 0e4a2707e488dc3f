"""test_influxdb.py - the influxdb plugin against a real InfluxDB 1.6: InfluxQL sums match what
weir gen sent; a down InfluxDB loses nothing (backlog replayed when it is back)."""
import time

from tsutil import Collector, Influx, gen, wait_until


def total(influx, db, field='bytes'):
    rows = influx.series(f'SELECT sum({field}) FROM flows', db)
    return int(rows[0]['sum']) if rows else 0


def test_influxdb_sums_match(weir_bin, tmp_path):
    influx = Influx(tmp_path)
    c = None
    try:
        influx.create('weir')
        c = Collector(weir_bin, tmp_path, ['plugins=influxdb[as]', 'aggregate=dst_as, proto',
                                           'print_refresh_time=1',
                                           f'influxdb_url={influx.url()}',
                                           'influxdb_database=weir', 'influxdb_batch_lines=50'])
        tot = gen(weir_bin, c.udp, 3000, keys=300)
        wait_until(lambda: total(influx, 'weir') == tot['bytes'], 'InfluxDB sum(bytes)')
        assert total(influx, 'weir', 'packets') == tot['packets']
        tags = influx.series('SHOW TAG KEYS FROM flows', 'weir')
        assert {t['tagKey'] for t in tags} == {'as_dst', 'ip_proto'}
        by_as = influx.series('SELECT sum(bytes) FROM flows GROUP BY as_dst', 'weir')
        assert len(by_as) > 10 and sum(int(r['sum']) for r in by_as) == tot['bytes']
        text = c.metrics()
        assert 'weir_sink_write_seconds_bucket{plugin="as",le="+Inf"}' in text
    finally:
        if c:
            assert c.stop() == 0
        influx.stop()


def test_influxdb_down_loses_nothing(weir_bin, tmp_path):
    influx = Influx(tmp_path)
    port = influx.port
    influx.create('weir')
    influx.stop()  # down while weir flushes: batches go to the backlog
    c = Collector(weir_bin, tmp_path, ['plugins=influxdb[as]', 'aggregate=dst_as',
                                       'print_refresh_time=1', f'influxdb_url=http://127.0.0.1:{port}',
                                       'influxdb_database=weir', 'influxdb_retries=0',
                                       'influxdb_timeout=500'])
    try:
        tot = gen(weir_bin, c.udp, 2000, keys=100)
        wait_until(lambda: 'weir_sink_errors_total{plugin="as",kind="network"} 0' not in
                   c.metrics(), 'a failed write')
        time.sleep(1.5)
        influx2 = Influx.__new__(Influx)
        restart(influx2, influx, port)
        try:
            wait_until(lambda: total(influx2, 'weir') == tot['bytes'], 'the backlog replayed')
        finally:
            influx2.stop()
    finally:
        assert c.stop() == 0


def restart(new, old, port):
    """Starts InfluxDB again on the same port and data directory."""
    import subprocess
    from tsutil import http_get
    new.dir, new.port = old.dir, port
    new.log = open(old.dir + '/influxd2.log', 'w')
    new.proc = subprocess.Popen(['/usr/bin/influxd', 'run', '-config', old.dir + '/influxdb.conf'],
                                stdout=new.log, stderr=subprocess.STDOUT)
    wait_until(lambda: http_get(new.url('/ping'))[0] == 204, 'influxd restart', proc=new.proc)
