#!/usr/bin/env python3
"""Rerank checks for bench/gpu/run.sh's rerank phase (standard library only).

  rerank_check.py agree GPU_URL CPU_URL MODEL   the same request's scores from two servers: max difference
  rerank_check.py load URL MODEL CLIENTS SECONDS   CLIENTS threads sending requests of 16 documents for SECONDS:
                                                   requests, failures, documents a second
"""
import json
import sys
import threading
import time
import urllib.request

WORDS = ("cat mat sleeps warm river stone bread honey market night city light paper garden storm music "
         "window winter summer engine coffee").split()


def post(url, body, timeout=60):
    req = urllib.request.Request(url + "/v1/rerank", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def docs(seed, n=16):
    out = []
    for i in range(n):
        k = (seed * 31 + i * 7) % len(WORDS)
        out.append(" ".join(WORDS[(k + j * 3) % len(WORDS)] for j in range(5 + (seed + i) % 40)))
    return out


def agree(gpu, cpu, model):
    documents = docs(1) + docs(1)[:4]  # the first four twice: the same pair, the same score
    body = {"model": model, "query": "where does the cat sleep", "documents": documents}
    a, b = post(gpu, body), post(cpu, body)
    sa = {r["index"]: r["relevance_score"] for r in a["results"]}
    sb = {r["index"]: r["relevance_score"] for r in b["results"]}
    diff = max(abs(sa[i] - sb[i]) for i in sa)
    dup = max(abs(sa[i] - sa[i + 16]) for i in range(4))
    spread = max(sa.values()) - min(sa.values())
    print("rerank agreement, GPU against CPU: %d documents, max |difference| %.6f (scores spread %.4f), "
          "duplicates on the GPU differ by at most %.6f, order %s" % (len(sa), diff, spread, dup,
          "same" if [r["index"] for r in a["results"]] == [r["index"] for r in b["results"]] else "differs"))


def load(url, model, clients, seconds):
    stop = time.time() + seconds
    counts = {"ok": 0, "failed": 0, "docs": 0}
    errors = {}
    lock = threading.Lock()

    def client(c):
        n = 0
        while time.time() < stop:
            n += 1
            try:
                r = post(url, {"model": model, "query": "a question %d" % n, "documents": docs(c * 1000 + n)})
                ok = len(r["results"]) == 16
            except Exception as e:  # noqa: BLE001 - counted and named
                ok = False
                with lock:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            with lock:
                counts["ok" if ok else "failed"] += 1
                counts["docs"] += 16 if ok else 0

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - t0
    print(json.dumps({"label": "rerank-load", "clients": clients, "seconds": round(took, 1), "ok": counts["ok"],
                      "failed": counts["failed"], "documents_per_second": round(counts["docs"] / took, 1),
                      "errors": errors}))


if __name__ == "__main__":
    if sys.argv[1] == "agree":
        agree(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        load(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
