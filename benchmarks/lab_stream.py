"""How live the lab is: frames a second, and the time from a changed knob to its first frame.

    python benchmarks/lab_stream.py [--rounds 5] [--seeds 1] [--no-browser]

A lab server runs in this process. Each round starts a long run (20,000 epochs of the blog's
network on the numpy engine, ``--seeds`` seeds stacked), and measures:

- frames/s: frames received in 2 s of training, by a plain stream client (http.client
  reading the Server-Sent Events) and by the page in headless Chromium (``window.labStats``,
  counted as they arrive), when playwright and /usr/bin/chromium are there;
- knob -> frame: from sending a changed setting (POST /api/apply) to the first frame of the
  new run arriving on the stream; in the page, from the request to the frame (a menu sends
  at once, a text box 350 ms after the last key, which is not counted).

Medians over the rounds are printed; the machine's other load shows in the spread.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time

from minifw.lab.web.browser import CHROMIUM, headless_chromium
from minifw.lab.web.server import LabServer


def post(server: LabServer, path: str, body: dict) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "POST",
        f"{path}?token={server.token}",
        json.dumps(body),
        {"Content-Type": "application/json"},
    )
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer


def stream_round(server: LabServer, seeds: int, activation: str) -> tuple[float, float]:
    """(frames a second over 2 s, seconds from a changed knob to the new run's first frame)."""
    # The numpy engine: with the compiled one a run may end before the 2 s are up.
    values = {"epochs": "20000", "activation": activation, "engine": "numpy"}
    session = post(server, "/api/session", {"values": values, "seeds": seeds})["session"]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", f"/api/stream?session={session}&token={server.token}")
    response = connection.getresponse()

    def next_frame() -> dict:
        while True:
            line = response.fp.readline()
            if line.startswith(b"data: "):
                return json.loads(line[6:])

    next_frame()
    began, count = time.perf_counter(), 0
    while time.perf_counter() - began < 2.0:
        next_frame()
        count += 1
    rate = count / (time.perf_counter() - began)
    generation = next_frame()["generation"]
    other = "tanh" if activation == "sigmoid" else "sigmoid"
    sent = time.perf_counter()
    post(
        server,
        "/api/apply",
        {"session": session, "values": {**values, "activation": other}, "seeds": seeds},
    )
    while next_frame()["generation"] == generation:
        pass
    latency = time.perf_counter() - sent
    connection.close()
    return rate, latency


def browser_rounds(server: LabServer, rounds: int, seeds: int) -> tuple[list[float], list[float]]:
    rates, latencies = [], []
    with headless_chromium() as browser:
        page = browser.new_page(bypass_csp=True)  # wait_for_function evaluates strings
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        page.fill('[name="seeds"]', str(seeds))
        page.select_option('[name="engine"]', "numpy")
        for i in range(rounds):
            page.fill('[name="epochs"]', str(20000 - i))  # a new run each round
            page.wait_for_function(
                f"document.querySelector('#epochs').textContent === '{20000 - i}'"
            )
            before = page.evaluate("window.labStats.frames")
            time.sleep(2.0)
            rates.append((page.evaluate("window.labStats.frames") - before) / 2.0)
            done = page.evaluate("window.labStats.knobToFrame.length")
            activation = "tanh" if i % 2 == 0 else "sigmoid"
            page.fill('[name="activation"]', activation)
            page.wait_for_function(f"window.labStats.knobToFrame.length > {done}")
            latencies.append(page.evaluate("window.labStats.knobToFrame.at(-1)") / 1000)
    return rates, latencies


def report(label: str, rates: list[float], latencies: list[float]) -> None:
    ms = [1000 * t for t in latencies]
    print(f"{label}:")
    print(
        f"  frames/s        median {statistics.median(rates):5.1f}"
        f"  (min {min(rates):.1f}, max {max(rates):.1f})"
    )
    print(f"  knob -> frame   median {statistics.median(ms):5.1f} ms  (max {max(ms):.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with LabServer(0, runs_dir="/tmp/minifw-lab-benchmark").running() as server:
        rates, latencies = [], []
        for i in range(args.rounds):
            rate, latency = stream_round(server, args.seeds, "sigmoid" if i % 2 else "tanh")
            rates.append(rate)
            latencies.append(latency)
        report(f"stream client, {args.seeds} seed(s), {args.rounds} rounds", rates, latencies)
        if not args.no_browser and CHROMIUM.exists():
            rates, latencies = browser_rounds(server, args.rounds, args.seeds)
            label = f"page in headless Chromium, {args.seeds} seed(s), {args.rounds} rounds"
            report(label, rates, latencies)


if __name__ == "__main__":
    main()
