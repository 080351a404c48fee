#!/usr/bin/env python3
"""Prompt scoring checks for bench/gpu/run.sh's score phase (standard library only): OpenAI's /v1/completions
with echo, logprobs and max_tokens 0, as lm-evaluation-harness's local-completions asks for a text's likelihood.

  score_check.py agree GPU_URL CPU_URL MODEL      one prompt of token ids scored by two servers, alone and (on the
                                                  first) beside other scoring and generating requests: differences
  score_check.py load URL MODEL CLIENTS SECONDS TOKENS [mc]   CLIENTS threads scoring prompts of TOKENS ids for
                                                  SECONDS: requests, failures, prompt tokens scored a second; with mc
                                                  as a multiple-choice evaluation sends them: a context of TOKENS - 32
                                                  ids with each of four answers of 32, one after the other
  score_check.py text FILE WORDS                  a text of WORDS words for llama-perplexity
"""
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.request


def post(url, body, timeout=300):
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def ids(seed, n):
    r = random.Random(seed)
    return [128000] + [r.randrange(1000, 100000) for _ in range(n - 1)]  # Llama 3's BOS, then ordinary tokens


def score(url, model, prompt, top=1):
    r = post(url, {"model": model, "prompt": prompt, "echo": True, "max_tokens": 0, "logprobs": top})
    lp = r["choices"][0]["logprobs"]["token_logprobs"]
    assert len(lp) == len(prompt) and lp[0] is None, "%d entries for %d tokens" % (len(lp), len(prompt))
    return lp[1:]


def diffs(a, b):
    d = [abs(x - y) for x, y in zip(a, b)]
    return max(d), statistics.mean(d)


def agree(gpu, cpu, model):
    prompt = ids(7, 300)
    alone = score(gpu, model, prompt)
    # the same prompt while others are scored and generated beside it (other batch shapes, other chunks)
    out = {}

    def busy(k):
        if k % 2:
            post(gpu, {"model": model, "prompt": ids(100 + k, 40), "max_tokens": 64, "temperature": 0})
        else:
            score(gpu, model, ids(200 + k, 200 + 37 * k))

    threads = [threading.Thread(target=busy, args=(k,)) for k in range(7)]
    for t in threads:
        t.start()
    out["crowd"] = score(gpu, model, prompt)
    for t in threads:
        t.join()
    out["cpu"] = score(cpu, model, prompt)
    spread = max(alone) - min(alone)
    m1, a1 = diffs(alone, out["crowd"])
    m2, a2 = diffs(alone, out["cpu"])
    print("score agreement: %d positions (log probabilities from %.3f to %.3f); GPU alone against GPU beside 7 "
          "others: max |difference| %.6f, mean %.6f; GPU against CPU: max %.6f, mean %.6f"
          % (len(alone), min(alone), max(alone), m1, a1, m2, a2))
    assert spread >= 0


def load(url, model, clients, seconds, tokens, mc=False):
    stop = time.time() + seconds
    counts = {"ok": 0, "failed": 0, "tokens": 0}
    latencies = []
    errors = {}
    lock = threading.Lock()

    def client(c):
        n = 0
        context = None
        while time.time() < stop:
            n += 1
            if mc:
                if n % 4 == 1:
                    context = ids(c * 100000 + n, tokens - 32)
                prompt = context + ids(c * 100000 + n + 50000, 33)[1:]
            else:
                prompt = ids(c * 100000 + n, tokens)
            t0 = time.time()
            try:
                lp = score(url, model, prompt)
                ok = len(lp) == tokens - 1
            except Exception as e:  # noqa: BLE001 - counted and named
                ok = False
                with lock:
                    errors[str(e)[:120]] = errors.get(str(e)[:120], 0) + 1
            with lock:
                if ok:
                    counts["ok"] += 1
                    counts["tokens"] += tokens
                    latencies.append(time.time() - t0)
                else:
                    counts["failed"] += 1

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - t0
    tag = os.environ.get("BENCH_TAG")
    print(json.dumps({"label": "score-%s%d%s" % ("mc-" if mc else "", clients, "-" + tag if tag else ""),
                      "clients": clients,
                      "prompt_tokens": tokens,
                      "requests": counts["ok"], "failed": counts["failed"],
                      "scored_tokens_per_second": round(counts["tokens"] / took, 1),
                      "latency_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
                      "errors": errors}))


def text(path, words):
    r = random.Random(3)
    vocab = ("the a of and to in is was for on that with as by at from it his her they which be this are or "
             "river stone bread honey market night city light paper garden storm music window winter summer "
             "engine coffee mountain village teacher letter morning station evening harbor forest").split()
    with open(path, "w") as f:
        line = []
        for i in range(words):
            line.append(r.choice(vocab))
            if len(line) == 14:
                f.write(" ".join(line).capitalize() + ".\n")
                line = []


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "agree":
        agree(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "load":
        load(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]),
             len(sys.argv) > 7 and sys.argv[7] == "mc")
    elif cmd == "text":
        text(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
