"""How long a /metrics scrape takes with a big job table (target: well under 100 ms at 1 M records).

    .venv/bin/python bench/metrics_scrape.py [--records 1000000] [--active 1000] [--scrapes 20]

Fills the benchmark database with N finished job records and a few active ones (one INSERT … SELECT from
generate_series), then times `metrics_text()` — what the `/metrics` view returns — over repeated scrapes,
next to the peer a scrape used to be: a GROUP BY over every record by type and status, timed in the same
run. Prints the medians, the ratio and the target.
Uses DATABASE_URL (default: the `trenova_bench` PostgreSQL database) and REDIS_URL (default: db 13).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchenv import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=1_000)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from trenova_jobs.metrics import metrics_text
    from trenova_jobs.models import JobRecord

    JobRecord.objects.all().delete()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO trenova_jobs_jobrecord (id, job_type, queue, status, payload, error, traceback, attempts,
                max_retries, timeout, unique_key, history, created_at, started_at, finished_at)
            SELECT 'job_bench' || lpad(i::text, 17, '0'),
                   (ARRAY['pattern:analyze', 'shipment:status_update', 'system:noop'])[1 + i %% 3],
                   'default',
                   CASE WHEN i <= %s THEN (ARRAY['queued', 'running', 'retrying'])[1 + i %% 3]
                        WHEN i %% 10 = 0 THEN 'failed' ELSE 'succeeded' END,
                   '{}', '', '', 1, 0, 600, '', '[]', now(), now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [args.active, args.records],
        )
        cursor.execute("ANALYZE trenova_jobs_jobrecord")
    print(f"inserted {args.records} records ({args.active} active) in {time.perf_counter() - started:.1f} s")

    def timed(fn) -> float:
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1000

    def old_scrape() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT job_type, status, count(*) FROM trenova_jobs_jobrecord GROUP BY 1, 2")
            cursor.fetchall()

    metrics_text()  # warm up
    ours = [timed(metrics_text) for _ in range(args.scrapes)]
    peer = [timed(old_scrape) for _ in range(max(3, args.scrapes // 4))]
    JobRecord.objects.all().delete()
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    print(f"median  /metrics scrape              {ours_median:8.1f} ms   (target well under 100 ms)")
    print(f"median  GROUP BY over every record   {peer_median:8.1f} ms   (what issue 3's scrape ran twice)")
    print(f"ratio   scrape / full GROUP BY       {ours_median / peer_median:8.3f}")


if __name__ == "__main__":
    main()
