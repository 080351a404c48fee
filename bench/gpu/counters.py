#!/usr/bin/env python3
"""Per load level, what each runner's step was made of: from the /api/ps snapshots run.sh logs after every level
(counters are cumulative per run, so each level is the difference from the one before it)."""
import json
import re
import sys

lines = open(sys.argv[1], encoding='utf-8', errors='replace').read().split('\n')
KEYS = ['steps', 'prompt_tokens', 'generated_tokens', 'decode_seconds', 'wait_seconds', 'sample_seconds',
        'step_seconds', 'forward_passes', 'gap_fillers', 'parked_fillers', 'id_moves', 'reused_prompt_tokens',
        'ahead_tokens']
previous = {}
print('| run at clients | replica | steps | gen/step | prompt/step | passes/step | fillers/step | parked/step | moves '
      '| ahead/step | decode ms | wait ms | sample ms | step ms | budget | max active | prompt tokens reused |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for i, line in enumerate(lines[:-1]):
    started = re.match(r'^\[[0-9:]+\] gantry (\S+): --', line)
    if started:  # a new process under this label: its counters start again
        previous = {k: v for k, v in previous.items() if k[0] != started.group(1)}
        continue
    if not line.startswith('ps after '):
        continue
    label = line[len('ps after '):].rstrip(':')
    run = label.split(' at ')[0]
    try:
        models = json.loads(lines[i + 1])['models']
    except (ValueError, KeyError):
        continue
    for m in models:
        for r in m.get('replicas', []):
            c = r.get('runner')
            if not c:
                continue
            key = (run, r['index'])
            before = previous.get(key, {})
            if c.get('steps', 0) < before.get('steps', 0):
                before = {}  # a new process under a label an earlier call used: its counters start again
            d = {k: c.get(k, 0) - before.get(k, 0) for k in KEYS}
            previous[key] = c
            steps = max(1, d['steps'])
            print(f"| {label} | {r['index']} | {d['steps']} | {d['generated_tokens'] / steps:.1f} "
                  f"| {d['prompt_tokens'] / steps:.1f} | {d['forward_passes'] / steps:.2f} "
                  f"| {d['gap_fillers'] / steps:.2f} | {d['parked_fillers'] / steps:.2f} | {d['id_moves']} "
                  f"| {d['ahead_tokens'] / steps:.1f} "
                  f"| {1000 * d['decode_seconds'] / steps:.2f} "
                  f"| {1000 * d['wait_seconds'] / steps:.2f} | {1000 * d['sample_seconds'] / steps:.2f} "
                  f"| {1000 * d['step_seconds'] / steps:.2f} | {c.get('prompt_budget')} | {c.get('max_active')} "
                  f"| {d['reused_prompt_tokens']} of {d['reused_prompt_tokens'] + d['prompt_tokens']} |")
