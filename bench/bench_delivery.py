"""Delivery benchmark (issue 4): throughput against Telegram's limits, latency, memory, crashes.

Runs the real daemon (``python -m forwarder.cli run``) as a process. Complaints arrive as rows
of a Gammu SMSD-format inbox (written with :mod:`forwarder.sources.gammu_schema`, the way
gammu-smsd writes them) and leave through the loopback fake Bot API of ``tests/fakes``, which
enforces Telegram's published flood limits (20 messages a minute per group, 1 a second per
chat, 30 a second per bot) and answers 429 when they are exceeded.

Figures:

* throughput: N complaints to G groups; the delivery rate as a share of what the binding limit
  allows (the fastest schedule that obeys every limit, computed for the same per-group counts),
  and the number of 429 answers;
* latency: complaints put into the inbox at R per second with a 1 s poll interval; time from the
  inbox row to the fake receiving ``sendMessage`` (p50, p95, max);
* memory: the daemon's peak resident set size (VmHWM) over both runs;
* crashes: the daemon killed with SIGKILL K times during a burst; complaints lost, delivered
  twice, and how many repeats were recorded as uncertain.

Usage: ``python bench/bench_delivery.py [--complaints 3000 --groups 30 --rate 5 --seconds 60
--kills 20]``; prints a Markdown table (paste it into bench/RESULTS-delivery.md).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from fakes.telegram_api import FakeTelegram  # noqa: E402
from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema  # noqa: E402

KECAMATAN = ["Dander", "Kapas"]
NUMBER = re.compile(r"nomor (\d+)")


def example_texts() -> dict[str, list[str]]:
    by_topic: dict[str, list[str]] = defaultdict(list)
    with open(REPO / "examples" / "complaints.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_topic[row["topic"]].append(row["text"])
    return by_topic


def write_config(tmp: Path, tg: FakeTelegram, groups: int, poll: float) -> tuple[Path, list[tuple[str, str]]]:
    topics = sorted(example_texts())
    pairs = [(t, k) for k in KECAMATAN for t in topics][:groups]
    config = {
        "version": 1,
        "database": str(tmp / "forwarder.db"),
        "model": str(REPO / "models" / "default"),
        "confidence_threshold": 0.0,
        "kabupaten": "Bojonegoro",
        "sources": {"sms": {"type": "gammu_smsd", "database": str(tmp / "smsd.db"),
                            "poll_interval_secs": poll, "timezone": "UTC", "batch_size": 500}},
        "sinks": {"tg": {"type": "telegram", "token": tg.token, "api_base_url": tg.base_url}},
        "groups": [{"name": f"{t}-{k}", "sink": "tg", "chat_id": str(-1001000000000 - i),
                    "topics": [t], "kecamatan": [k]} for i, (t, k) in enumerate(pairs)]
        + [{"name": "triase", "sink": "tg", "chat_id": "-1009999999999", "fallback": True}],
    }
    path = tmp / "bench.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    create_smsd_schema(tmp / "smsd.db")
    return path, pairs


def complaint_text(pairs: list[tuple[str, str]], texts: dict[str, list[str]], n: int) -> str:
    topic, kecamatan = pairs[n % len(pairs)]
    options = texts[topic]
    return f"{options[(n // len(pairs)) % len(options)]} kec. {kecamatan} nomor {n}"


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_PROXY="127.0.0.1")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(var, None)
    return subprocess.Popen([sys.executable, "-m", "forwarder.cli", "--log-level", "warning", "run",
                             "--config", str(config)], env=env, cwd=REPO,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


class RssSampler(threading.Thread):
    """Samples a process's VmHWM/VmRSS from /proc every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for line in open(f"/proc/{self.pid}/status"):
                    if line.startswith(("VmHWM:", "VmRSS:")):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.2)


def ideal_seconds(counts: list[int], per_minute: int = 20, per_second: float = 1.0,
                  overall: int = 30) -> float:
    """The shortest time to send ``counts[g]`` messages to each group under all three limits."""
    from forwarder.outbox import SlidingWindow

    chats = [SlidingWindow(per_minute, 60.0) for _ in counts]
    secs = [SlidingWindow(max(1, int(per_second)), 1.0) for _ in counts]
    bot = SlidingWindow(overall, 1.0)
    left = list(counts)
    now, step, last = 0.0, 0.01, 0.0
    while any(left):
        for g, remaining in enumerate(left):
            if remaining and chats[g].delay(now) <= 0 and secs[g].delay(now) <= 0 and bot.delay(now) <= 0:
                chats[g].record(now)
                secs[g].record(now)
                bot.record(now)
                left[g] -= 1
                last = now
        now += step
    return last


def throughput(n: int, groups: int) -> dict[str, float]:
    texts = example_texts()
    with tempfile.TemporaryDirectory() as tmpdir, FakeTelegram() as tg:
        tmp = Path(tmpdir)
        tg.enforce_limits(True)
        config, pairs = write_config(tmp, tg, groups, poll=1.0)
        when = datetime.now(timezone.utc)
        for i in range(n):
            add_inbox_sms(tmp / "smsd.db", f"+62812{i:08d}", complaint_text(pairs, texts, i), when,
                          timezone="UTC")
        process = start_daemon(config, tmp / "daemon.log")
        sampler = RssSampler(process.pid)
        sampler.start()
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if len(tg.messages()) >= n:
                break
            time.sleep(1)
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        sampler.stop.set()
        calls = [c for c in tg.calls("sendMessage")]
        accepted = [m for m in tg.messages()]
        per_chat = Counter(str(m.chat_id) for m in accepted)
        times = sorted(c.at for c in calls)
        elapsed = times[-1] - times[0] if len(times) > 1 else 0.0
        ideal = ideal_seconds(list(per_chat.values()))
        return {"complaints": n, "groups": len(per_chat), "delivered": len(accepted),
                "elapsed_s": elapsed, "ideal_s": ideal, "share": ideal / elapsed if elapsed else 0.0,
                "429s": tg.count_429(), "rss_mb": sampler.peak_kb / 1024}


def latency(rate: float, seconds: float, groups: int) -> dict[str, float]:
    texts = example_texts()
    with tempfile.TemporaryDirectory() as tmpdir, FakeTelegram() as tg:
        tmp = Path(tmpdir)
        tg.enforce_limits(True)
        config, pairs = write_config(tmp, tg, groups, poll=1.0)
        process = start_daemon(config, tmp / "daemon.log")
        sampler = RssSampler(process.pid)
        sampler.start()
        # wait for the daemon to be up (it polls an empty inbox) before the clock starts
        time.sleep(6)
        inserted: dict[int, float] = {}
        total = int(rate * seconds)
        start = time.monotonic()
        for i in range(total):
            target = start + i / rate
            time.sleep(max(0.0, target - time.monotonic()))
            add_inbox_sms(tmp / "smsd.db", f"+62813{i:08d}", complaint_text(pairs, texts, i),
                          datetime.now(timezone.utc), timezone="UTC")
            inserted[i] = time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(tg.messages()) < total:
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        sampler.stop.set()
        seen: dict[int, float] = {}
        for call in tg.calls("sendMessage"):
            match = NUMBER.search(str(call.params.get("text", "")))
            if match and int(match.group(1)) in inserted:
                seen.setdefault(int(match.group(1)), call.at)
        lat = sorted(seen[i] - inserted[i] for i in seen)
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
        return {"sent": total, "received": len(seen), "p50_s": statistics.median(lat), "p95_s": q[94],
                "max_s": lat[-1], "429s": tg.count_429(), "rss_mb": sampler.peak_kb / 1024}


def crashes(n: int, kills: int, groups: int) -> dict[str, float]:
    texts = example_texts()
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as tmpdir, FakeTelegram() as tg:
        tmp = Path(tmpdir)
        config, pairs = write_config(tmp, tg, groups, poll=0.5)
        when = datetime.now(timezone.utc)
        for i in range(n):
            add_inbox_sms(tmp / "smsd.db", f"+62814{i:08d}", complaint_text(pairs, texts, i), when,
                          timezone="UTC")
        for _ in range(kills):
            process = start_daemon(config, tmp / "daemon.log")
            time.sleep(rng.uniform(2.0, 6.0))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        process = start_daemon(config, tmp / "daemon.log")
        db = sqlite3.connect(tmp / "forwarder.db", timeout=30)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            time.sleep(2)
            open_count = db.execute("select count(*) from deliveries where state != 'sent'").fetchone()[0]
            stored = db.execute("select count(*) from complaints").fetchone()[0]
            if stored >= n and open_count == 0:
                break
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        rows = db.execute("select d.chat_id, d.uncertain, c.text from deliveries d "
                          "join complaints c on c.id = d.complaint_id").fetchall()
        got = Counter()
        for m in tg.messages():
            match = NUMBER.search(m.visible)
            if match:
                got[(str(m.chat_id), match.group(1))] += 1
        lost = dup = dup_uncertain = 0
        for chat_id, uncertain, text in rows:
            count = got[(chat_id, NUMBER.search(text).group(1))]
            lost += count == 0
            if count > 1:
                dup += 1
                dup_uncertain += bool(uncertain)
        stored = db.execute("select count(*) from complaints").fetchone()[0]
        return {"complaints": n, "stored": stored, "kills": kills, "lost": lost + (n - stored),
                "duplicated": dup, "duplicates_recorded_uncertain": dup_uncertain,
                "marked_uncertain": sum(1 for r in rows if r[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complaints", type=int, default=3000)
    parser.add_argument("--groups", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--crash-complaints", type=int, default=600)
    parser.add_argument("--skip", action="append", default=[], choices=["throughput", "latency", "crashes"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    if "throughput" not in args.skip:
        t = throughput(args.complaints, args.groups)
        print(f"| throughput: {t['complaints']} complaints to {t['groups']} groups | delivered {t['delivered']} "
              f"in {t['elapsed_s']:.0f} s; ideal under the limits {t['ideal_s']:.0f} s | "
              f"share of binding limit {t['share']:.1%} | 429s {t['429s']} | peak RSS {t['rss_mb']:.0f} MB |")
    if "latency" not in args.skip:
        lt = latency(args.rate, args.seconds, args.groups)
        print(f"| latency at {args.rate:g}/s for {args.seconds:g} s | {lt['received']}/{lt['sent']} received | "
              f"p50 {lt['p50_s']:.2f} s, p95 {lt['p95_s']:.2f} s, max {lt['max_s']:.2f} s | 429s {lt['429s']} | "
              f"peak RSS {lt['rss_mb']:.0f} MB |")
    if "crashes" not in args.skip:
        c = crashes(args.crash_complaints, args.kills, args.groups)
        print(f"| {c['kills']} SIGKILLs during a burst of {c['complaints']} | stored {c['stored']} | lost {c['lost']} | "
              f"duplicated {c['duplicated']} (recorded uncertain: {c['duplicates_recorded_uncertain']}) | "
              f"marked uncertain {c['marked_uncertain']} |")


if __name__ == "__main__":
    main()
