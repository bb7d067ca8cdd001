"""1-D wave equation u_tt = c^2 u_xx on [0, length], fixed ends, leapfrog scheme (Python stdlib only).

Writes `frames` snapshots evenly over [0, endTime] to frames/frame-<index>.json ({index, t, x, u, energy})
and the count so far to frames/index.json, both atomically (temporary file + rename), prints
"PROGRESS <fraction>" after each frame, and summary.json at the end.
"""
import json
import math
import os
import sys
import time


def arg(name, cast):
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return cast(a.split("=", 1)[1])
    sys.exit(f"error: missing --{name}=")


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


length, c, nx = arg("length", float), arg("speed", float), arg("nx", int)
end_time, frames, pace = arg("endTime", float), arg("frames", int), arg("paceSeconds", float)
dx = length / (nx - 1)
x = [i * dx for i in range(nx)]
# A plucked string: a triangle peaking at 1/3 of the length, zero speed.
peak = length / 3
u = [xi / peak if xi <= peak else (length - xi) / (length - peak) for xi in x]
u[0] = u[-1] = 0.0
steps_per_frame = max(1, math.ceil((end_time / (frames - 1)) / (0.9 * dx / c)))
dt = end_time / ((frames - 1) * steps_per_frame)
r2 = (c * dt / dx) ** 2
prev = u[:]
# First step from zero initial velocity (Taylor): u1 = u0 + r2/2 * laplacian(u0).
cur = [0.0] + [u[i] + 0.5 * r2 * (u[i + 1] - 2 * u[i] + u[i - 1]) for i in range(1, nx - 1)] + [0.0]


def energy(a, b):
    kinetic = sum(((bi - ai) / dt) ** 2 for ai, bi in zip(a, b)) * 0.5 * dx
    potential = sum(((b[i + 1] - b[i]) / dx) ** 2 for i in range(nx - 1)) * 0.5 * c * c * dx
    return kinetic + potential


os.makedirs("frames", exist_ok=True)
started = time.monotonic()
step = 0
for k in range(frames):
    shown = u if k == 0 else cur
    write_json(f"frames/frame-{k}.json", {"index": k, "t": k * steps_per_frame * dt if k else 0.0, "x": x, "u": shown, "energy": energy(prev, cur)})
    write_json("frames/index.json", {"frames": k + 1})
    print(f"PROGRESS {(k + 1) / frames:.6f} frame {k + 1} of {frames}", flush=True)
    if k == frames - 1:
        break
    for _ in range(steps_per_frame if k else steps_per_frame - 1):
        nxt = [0.0] + [2 * cur[i] - prev[i] + r2 * (cur[i + 1] - 2 * cur[i] + cur[i - 1]) for i in range(1, nx - 1)] + [0.0]
        prev, cur = cur, nxt
        step += 1
    due = started + pace * (k + 1) / (frames - 1)
    if pace > 0 and time.monotonic() < due:
        time.sleep(due - time.monotonic())
write_json("summary.json", {"nx": nx, "dt": dt, "steps": step, "frames": frames, "python": sys.version.split()[0], "seconds": time.monotonic() - started})
print(f"done: {step} steps of dt = {dt:.3e} s in {time.monotonic() - started:.2f} s (Python {sys.version.split()[0]})")
