#!/usr/bin/env python3
"""Helpers for bench/run.sh, standard library only.

  mint        tokens through the real OAuth flow (registration, authorize, sign-in, consent,
              code exchange with PKCE), an MCP session, written as JSON
  logins      signs in at a fixed rate for a while (the bcrypt load beside the reads); counts
              the 503s of a full password queue apart from errors
  peers       the table of bench/run.sh --peers: ours against the peers, round by round
  import      times the import of a 3,000-row Goodreads export built from the real ones
  import-file writes that export to a file (bench/import_seed.sh)
  stats-cold  times the statistics right after each new reading (nothing memoised)
  table       prints the results table from the JSON the runner collected
"""
import argparse
import base64
import concurrent.futures
import csv
import hashlib
import http.client
import http.cookiejar
import io
import json
import os
import platform
import secrets
import shlex
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REDIRECT = "http://127.0.0.1:9/bench-callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def call(opener, method, url, data=None, headers=None):
    """Returns (status, headers, body) without following redirects or raising on 4xx."""
    body = None
    headers = dict(headers or {})
    if isinstance(data, dict):
        body = urllib.parse.urlencode(data).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif isinstance(data, (bytes, str)):
        body = data.encode() if isinstance(data, str) else data
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def hidden(page, name):
    marker = f'name="{name}" value="'
    start = page.index(marker) + len(marker)
    value = page[start : page.index('"', start)]
    return value.replace("&#38;", "&").replace("&amp;", "&").replace("&#34;", '"').replace("&quot;", '"')


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(base, opener, client_id, email, password, resource=None):
    """One authorization: sign-in and consent when needed, then the code exchange."""
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "state": secrets.token_urlsafe(8),
        "scope": "read write",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if resource:
        query["resource"] = resource
    url = f"{base}/oauth/authorize?{urllib.parse.urlencode(query)}"
    status, headers, page = call(opener, "GET", url)
    if status == 303 and headers["Location"].startswith("/login"):
        status, _, login = call(opener, "GET", base + headers["Location"])
        status, headers, _ = call(
            opener,
            "POST",
            f"{base}/login",
            {
                "csrf_token": hidden(login, "csrf_token"),
                "return_to": hidden(login, "return_to"),
                "email": email,
                "password": password,
            },
        )
        assert status == 303, f"sign-in failed: {status}"
        status, headers, page = call(opener, "GET", base + headers["Location"])
    if status == 200:  # the consent page
        form = {"decision": "approve"}
        for name in ["csrf_token", "response_type", "client_id", "redirect_uri", "scope", "state",
                     "code_challenge", "code_challenge_method", "resource"]:
            if f'name="{name}"' in page:
                form[name] = hidden(page, name)
        status, headers, page = call(opener, "POST", f"{base}/oauth/consent", form)
    assert status == 303, f"authorize: {status} {page[:300]}"
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
    status, _, body = call(
        opener,
        "POST",
        f"{base}/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    assert status == 200, f"token: {status} {body}"
    return json.loads(body)


def session_cookie(base, email, password):
    """Signs in through the login form, as a browser does; returns the session's Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    _, _, page = call(opener, "GET", f"{base}/login")
    status, _, body = call(opener, "POST", f"{base}/login", {
        "csrf_token": hidden(page, "csrf_token"), "email": email, "password": password})
    assert status == 303, f"sign-in: {status} {body}"
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def mint(args):
    base = args.base
    opener = browser()
    status, _, body = call(
        opener,
        "POST",
        f"{base}/oauth/register",
        json.dumps({"client_name": "Panicless bench", "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "none"}),
        {"Content-Type": "application/json"},
    )
    assert status == 201, f"registration: {status} {body}"
    client_id = json.loads(body)["client_id"]
    first = authorize(base, opener, client_id, args.email, args.password)
    refresh = [first["refresh_token"]]
    # Signed in now: each further grant is the consent page, its approval and the exchange
    # (a public client sees the consent page every time).
    for _ in range(args.refresh - 1):
        refresh.append(authorize(base, opener, client_id, args.email, args.password)["refresh_token"])
    mcp = authorize(base, opener, client_id, args.email, args.password, resource=f"{base}/mcp")
    headers = {
        "Authorization": f"Bearer {mcp['access_token']}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    status, response_headers, body = call(
        opener,
        "POST",
        f"{base}/mcp",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "panicless-bench", "version": "1"}}}),
        headers,
    )
    assert status == 200, f"mcp initialize: {status} {body}"
    session = response_headers["Mcp-Session-Id"]
    headers.update({"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    status, _, body = call(opener, "POST", f"{base}/mcp",
                           json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), headers)
    assert status in (200, 202), f"mcp initialized: {status} {body}"
    json.dump(
        {
            "client_id": client_id,
            "access_token": first["access_token"],
            "refresh_tokens": refresh[1:],
            "mcp_access_token": mcp["access_token"],
            "mcp_session": session,
            "session_cookie": session_cookie(base, args.email, args.password),
        },
        open(args.out, "w"),
    )
    with open(args.refresh_file, "w") as f:
        f.write("\n".join(refresh[1:]) + "\n")


def logins(args):
    """Signs in `rate` times a second for `duration` seconds. Offered faster than the server can
    hash, the sign-ins past its queue are answered 503 with Retry-After at once (issue 22): it
    reports those apart from errors, with their own latency."""
    url = urllib.parse.urlsplit(args.base)
    body = json.dumps({"email": args.email, "password": args.password})
    signed_in, busy, errors, lock = [], [], [0], threading.Lock()

    def one():
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        started = time.perf_counter()
        try:
            connection.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            status = response.status
            refused = status == 503 and (response.getheader("Retry-After") or "").isdigit()
        except OSError:
            status, refused = 0, False
        elapsed = time.perf_counter() - started
        with lock:
            if status == 200:
                signed_in.append(elapsed)
            elif refused:
                busy.append(elapsed)
            else:
                errors[0] += 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < args.duration:
            pool.submit(one)
            n += 1
            time.sleep(max(0.0, start + n / args.rate - time.perf_counter()))

    def pick(latencies, q):
        latencies = sorted(latencies)
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0

    json.dump({"requests": n, "rps": len(signed_in) / args.duration,
               "p50_ms": pick(signed_in, 0.50), "p99_ms": pick(signed_in, 0.99),
               "signed_in": len(signed_in), "busy": len(busy),
               "busy_p99_ms": pick(busy, 0.99), "errors": errors[0]}, sys.stdout)


def stats_cold(args):
    """Records a finished reading, then times GET /api/readings/stats: every answer is computed
    afresh, since a new reading changes the statistics and ends the memo of the last answer."""
    url = urllib.parse.urlsplit(args.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    auth = {"Authorization": f"Bearer {args.token}"}
    json_auth = {**auth, "Content-Type": "application/json"}

    def send(method, path, body=None):
        connection.request(method, path, json.dumps(body) if body is not None else None,
                           json_auth if body is not None else auth)
        response = connection.getresponse()
        return response.status, response.read()

    status, body = send("POST", "/api/books", {"title": "Cold statistics", "pages": 321})
    book = json.loads(body)["id"] if status == 201 else 0
    latencies, errors = [], 0
    for n in range(args.count):
        status, _ = send("POST", "/api/readings",
                         {"book_id": book, "finished_on": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"})
        errors += status != 201
        started = time.perf_counter()
        status, _ = send("GET", "/api/readings/stats")
        latencies.append(time.perf_counter() - started)
        errors += status != 200
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    json.dump({"requests": len(latencies), "rps": len(latencies) / sum(latencies),
               "p50_ms": pick(0.50), "p99_ms": pick(0.99), "errors": errors}, sys.stdout)


def import_file(imports):
    """A 3,000-row Goodreads export: the real exports' rows, cycled, with distinct titles."""
    rows, header = [], None
    for name in sorted(os.listdir(imports)):
        if not name.startswith("goodreads"):
            continue
        with open(os.path.join(imports, name), newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            file_header = next(reader)
            if header is None:
                header = file_header
            if file_header == header:
                rows.extend(reader)
    title, isbn, isbn13, book_id = (header.index(c) for c in ("Title", "ISBN", "ISBN13", "Book Id"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for n in range(3000):
        row = list(rows[n % len(rows)])
        if n >= len(rows):
            row[title] = f"{row[title]} (copy {n})"
            row[isbn] = row[isbn13] = '=""'
            row[book_id] = str(900000000 + n)
        writer.writerow(row)
    return out.getvalue().encode()


def import_write(args):
    """Writes the import's file, for `panicless import` (bench/import_seed.sh)."""
    with open(args.out, "wb") as f:
        f.write(import_file(args.imports))


def import_run(args):
    """Times the import of `import_file` through the API."""
    data = import_file(args.imports)
    url = urllib.parse.urlsplit(args.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    started = time.perf_counter()
    connection.request("POST", "/api/import/goodreads", data,
                       {"Content-Type": "text/csv", "Authorization": f"Bearer {args.token}"})
    response = connection.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    report = json.loads(answer) if response.status == 200 else {}
    json.dump({"status": response.status, "seconds": elapsed, "rows": 3000,
               "report": {k: v for k, v in report.items() if isinstance(v, int)}}, sys.stdout)


def env(args):
    """Shell exports of what `mint` wrote, for the wrk scripts: eval "$(bench.py env ...)"."""
    tokens = json.load(open(args.tokens))
    names = {
        "BENCH_TOKEN": tokens["access_token"],
        "BENCH_CLIENT_ID": tokens["client_id"],
        "BENCH_MCP_TOKEN": tokens["mcp_access_token"],
        "BENCH_MCP_SESSION": tokens["mcp_session"],
        "BENCH_COOKIE": tokens["session_cookie"],
        "BENCH_REFRESH_FILE": args.refresh_file,
    }
    for name, value in names.items():
        print(f"export {name}={shlex.quote(str(value))}")


def table(args):
    results = json.load(open(args.results))
    print(f"{results['date']}, {results['backend']}, {results['machine']}")
    print()
    print("| scenario | requests/s | p50 | p99 | errors | server CPU a request | peak RSS | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in results["scenarios"]:
        cpu = row.get("cpu_us_per_request")
        cpu = f"{cpu:,} µs" if cpu else ""
        print(f"| {row['name']} | {row['rps']:,.0f} | {row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms "
              f"| {row['errors']} | {cpu} | {row.get('rss_mb', 0):.0f} MB | {row.get('target', '')} |")
    print()
    for line in results.get("notes", []):
        print(f"- {line}")


def peers(args):
    """Ours against the peers: the runs of bench/run.sh --peers (one JSON line each, round by
    round) into one JSON file and one table. Each side's requests/s is the mean of its rounds;
    the ratio is ours / peer; errors count every non-2xx and socket error of all rounds."""
    runs = [json.loads(line) for line in open(args.runs) if line.strip()]
    scenarios = []
    for name in dict.fromkeys(run["scenario"] for run in runs):
        row = {"scenario": name}
        for side in ("ours", "peer"):
            mine = [run for run in runs if run["scenario"] == name and run["side"] == side]
            if not mine:
                continue
            row["peer_name"] = row.get("peer_name") or mine[0].get("peer_name", "")
            row[side] = {
                "rps": sum(run["rps"] for run in mine) / len(mine),
                "rounds_rps": [round(run["rps"]) for run in mine],
                "p99_ms": max(run["p99_ms"] for run in mine),
                "cpu_us_per_request": round(sum(run["cpu_us_per_request"] for run in mine) / len(mine)),
                "errors": sum(run["errors"] for run in mine),
                "rss_peak_mb": max(run["rss_mb"] for run in mine),
            }
        if "ours" in row and "peer" in row and row["peer"]["rps"]:
            row["ratio"] = row["ours"]["rps"] / row["peer"]["rps"]
        scenarios.append(row)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {args.settings}",
        "scenarios": scenarios,
        "runs": runs,
    }
    json.dump(results, open(args.out, "w"), indent=2)
    print(f"{results['date']}, {results['machine']}")
    print()
    print("| scenario | peer | peer req/s | ours req/s | ratio | errors (ours, peer) "
          "| p99 (ours, peer) | CPU a request (ours, peer) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in scenarios:
        ours, peer = row.get("ours", {}), row.get("peer", {})
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else ""
        print(f"| {row['scenario']} | {row.get('peer_name', '')} | {peer.get('rps', 0):,.0f} "
              f"| {ours.get('rps', 0):,.0f} | {ratio} | {ours.get('errors', 0)}, {peer.get('errors', 0)} "
              f"| {ours.get('p99_ms', 0):.1f} ms, {peer.get('p99_ms', 0):.1f} ms "
              f"| {ours.get('cpu_us_per_request', 0)} µs, {peer.get('cpu_us_per_request', 0)} µs |")
    print()
    print("Rounds, requests/s (ours; peer):")
    for row in scenarios:
        print(f"- {row['scenario']}: {row.get('ours', {}).get('rounds_rps')}; "
              f"{row.get('peer', {}).get('rounds_rps')}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mint")
    m.add_argument("--base", required=True)
    m.add_argument("--email", required=True)
    m.add_argument("--password", required=True)
    m.add_argument("--refresh", type=int, default=200)
    m.add_argument("--out", required=True)
    m.add_argument("--refresh-file", required=True)
    l = sub.add_parser("logins")
    l.add_argument("--base", required=True)
    l.add_argument("--email", required=True)
    l.add_argument("--password", required=True)
    l.add_argument("--rate", type=float, default=8)
    l.add_argument("--duration", type=float, default=10)
    c = sub.add_parser("stats-cold")
    c.add_argument("--base", required=True)
    c.add_argument("--token", required=True)
    c.add_argument("--count", type=int, default=30)
    i = sub.add_parser("import")
    i.add_argument("--base", required=True)
    i.add_argument("--token", required=True)
    i.add_argument("--imports", required=True)
    w = sub.add_parser("import-file")
    w.add_argument("--imports", required=True)
    w.add_argument("--out", required=True)
    e = sub.add_parser("env")
    e.add_argument("--tokens", required=True)
    e.add_argument("--refresh-file", required=True)
    t = sub.add_parser("table")
    t.add_argument("results")
    p = sub.add_parser("peers")
    p.add_argument("runs")
    p.add_argument("--out", required=True)
    p.add_argument("--settings", default="")
    args = parser.parse_args()
    {"mint": mint, "logins": logins, "import": import_run, "import-file": import_write,
     "stats-cold": stats_cold,
     "env": env, "table": table, "peers": peers}[args.command](args)


if __name__ == "__main__":
    main()
