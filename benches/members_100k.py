#!/usr/bin/env python3
"""Members page of an organization with 100 000 members, on SQLite.

Starts the release binary on a fresh SQLite database, signs up an owner and
creates an organization through the real forms, inserts 100 000 members
directly (users + memberships), then times the members page: the first page,
a page deep in the list (cursor pagination), and searches by name and email.
Prints the median of several runs per request. Run from the repository root
after `cargo build --release`:  python3 benches/members_100k.py
"""

import http.cookiejar
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000"))
RUNS = 7
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "tenantry")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    data = tempfile.mkdtemp(prefix="tenantry-members-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, TENANTRY_BIND=f"127.0.0.1:{port}", TENANTRY_DATA_DIR=data,
               DATABASE_URL=f"sqlite://{data}/tenantry.db", RUST_LOG="warn",
               TENANTRY_CONFIG="/nonexistent.toml")
    server = subprocess.Popen([BINARY, "serve"], env=env, stderr=open(os.path.join(data, "log"), "w"))
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/readyz")
                break
            except Exception:
                time.sleep(0.1)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

        def get(path):
            try:
                return opener.open(base + path).read().decode()
            except urllib.error.HTTPError as e:
                return e.read().decode()

        def post(path, page, fields):
            html = get(page)
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)
            fields = dict(fields, csrf_token=token)
            try:
                opener.open(base + path, urllib.parse.urlencode(fields).encode())
            except urllib.error.HTTPError as e:
                if e.code != 303:
                    raise

        post("/signup", "/signup", {"name": "Owner", "email": "owner@example.com", "password": "violet staple orbit 42"})
        post("/organizations", "/organizations/new", {"name": "Big Corp", "slug": "big-corp"})

        db = sqlite3.connect(f"{data}/tenantry.db")
        workspace, = db.execute("SELECT id FROM workspaces WHERE slug = 'big-corp'").fetchone()
        role, = db.execute("SELECT id FROM roles WHERE workspace_id = ? AND system_key = 'member'", (workspace,)).fetchone()
        started = time.time()
        users, memberships = [], []
        for n in range(MEMBERS):
            user = str(uuid.uuid4())
            users.append((user, f"person{n}@example.com", f"Person {n}", "x", "active", "2026-01-01 00:00:00", "2026-01-01 00:00:00"))
            memberships.append((str(uuid.uuid4()), workspace, user, role, "active", "2026-01-01 00:00:00", "2026-01-01 00:00:00"))
        with db:
            db.executemany("INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?)", users)
            db.executemany("INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at) VALUES (?,?,?,?,?,?,?)", memberships)
        db.execute("ANALYZE")
        db.close()
        print(f"seeded {MEMBERS} members in {time.time() - started:.1f} s")

        first = get("/settings/members")
        assert first.count("<tr data-email=") == 50, "first page has 50 rows"
        deep_cursor = sorted(m[0] for m in memberships)[MEMBERS - 100]
        cases = [
            ("first page", "/settings/members"),
            ("deep page (cursor near the end)", f"/settings/members?after={deep_cursor}"),
            ("search by name fragment", "/settings/members?q=person%2099999"),
            ("search by email fragment", "/settings/members?q=person12345%40"),
        ]
        print(f"{'request':40} {'median ms':>10} {'min ms':>8}")
        for label, path in cases:
            times = []
            for _ in range(RUNS):
                t = time.perf_counter()
                body = get(path)
                times.append((time.perf_counter() - t) * 1000)
            assert "members-table" in body, f"{label}: not the members page"
            print(f"{label:40} {statistics.median(times):10.1f} {min(times):8.1f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
